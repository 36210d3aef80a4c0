//! Compression detection by magic bytes (never by name) and the one-pass decompression of
//! gzip, zstd or piped input into a temporary spool file in `$TMPDIR`, bounded as it grows
//! ([`max_spool`]). Streams read as `gzip -d` and `zstd -d` read them: zstd that starts with a
//! skippable frame (pzstd), gzip members followed by zero padding.

use crate::error::{Error, Result};
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How an archive's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// Recognise the magic bytes at the start of a stream: a zstd frame, or a zstd skippable
    /// frame (magic `0x184D2A5?`, what pzstd writes first).
    pub fn from_magic(head: &[u8]) -> Compression {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [0x50..=0x5f, 0x2a, 0x4d, 0x18, ..] => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// What a compressed input may always expand to in the spool (the `--max-spool` default).
pub const SPOOL_FLOOR: u64 = 1 << 30;
/// Past the floor, the spool may hold this many times the compressed bytes read so far: real
/// archives expand a few times; a bomb expands a thousand times or more.
pub const SPOOL_RATIO: u64 = 100;

static MAX_SPOOL: AtomicU64 = AtomicU64::new(SPOOL_FLOOR);

/// Raise (or lower) the spool's floor for this process (`--max-spool SIZE`).
pub fn set_max_spool(bytes: u64) {
    MAX_SPOOL.store(bytes, Ordering::Relaxed);
}

/// How many bytes the spool may hold once `read` compressed bytes were read: the larger of the
/// floor ([`set_max_spool`], default [`SPOOL_FLOOR`]) and [`SPOOL_RATIO`] times `read`.
pub fn max_spool(read: u64) -> u64 {
    MAX_SPOOL
        .load(Ordering::Relaxed)
        .max(read.saturating_mul(SPOOL_RATIO))
}

/// Peek at the first bytes of a file and rewind it.
pub fn sniff(file: &mut std::fs::File) -> io::Result<Compression> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        let r = file.read(&mut head[n..])?;
        if r == 0 {
            break;
        }
        n += r;
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(Compression::from_magic(&head[..n]))
}

/// Recognise the compression of a buffered stream without consuming anything.
pub fn peek<R: BufRead>(input: &mut R) -> io::Result<Compression> {
    Ok(Compression::from_magic(input.fill_buf()?))
}

/// The decoded bytes of a buffered stream compressed with `compression` (the decoders read the
/// caller's buffer in place: no second buffer, no copy).
pub fn decoder<'a, R: BufRead + 'a>(
    input: R,
    compression: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(GzMembers::new(input)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
    })
}

/// [`decoder`] for decoding a file again whose first decoding went to the end, checking zstd's
/// frame checksums (XXH64 of the content, a sixth of the decoding thread's time on noise): they
/// are not computed again. Whatever the second decoding is used for is checked otherwise: the
/// tar's structure against the first's, each kept blob against its digest. gzip's CRC-32 is kept
/// (it costs little).
pub fn decoder_again<'a, R: BufRead + 'a>(
    input: R,
    compression: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    match compression {
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(input)?;
            d.set_parameter(zstd::zstd_safe::DParameter::ForceIgnoreChecksum(true))?;
            Ok(Box::new(d))
        }
        other => decoder(input, other),
    }
}

/// The members of a gzip stream one after the other (as `MultiGzDecoder`), and, like
/// `gzip -d`, zero bytes after the last member ignored (tape-block padding); anything else after
/// a member must be another member.
struct GzMembers<R: BufRead> {
    member: Option<flate2::bufread::GzDecoder<R>>,
}

impl<R: BufRead> GzMembers<R> {
    fn new(input: R) -> Self {
        GzMembers {
            member: Some(flate2::bufread::GzDecoder::new(input)),
        }
    }
}

impl<R: BufRead> Read for GzMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(member) = &mut self.member {
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let Some(mut input) = self.member.take().map(|m| m.into_inner()) else {
                break;
            };
            match input.fill_buf()?.first() {
                None => {}
                Some(0) => skip_zeros(&mut input)?,
                Some(_) => self.member = Some(flate2::bufread::GzDecoder::new(input)),
            }
        }
        Ok(0)
    }
}

/// Consume the rest of `input`, which must be zero bytes.
fn skip_zeros<R: BufRead>(input: &mut R) -> io::Result<()> {
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        if chunk.iter().any(|&b| b != 0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bytes other than zero padding after the last gzip member",
            ));
        }
        let n = chunk.len();
        input.consume(n);
    }
}

/// Decompress (if needed) `input` into a temporary file, in one pass.
pub fn spool<R: Read + Send + 'static>(input: R, name: &str) -> Result<(Spool, Compression)> {
    let mut input = Prefetch::new(input);
    let compression = peek(&mut input).map_err(|e| Error::io(name, e))?;
    let spool = crate::signals::create(tempfile::NamedTempFile::new, |t| t.path().to_path_buf())
        .map_err(|e| Error::io("$TMPDIR", e))?;
    let read = input.read_count();
    let copied = decoder(input, compression)
        .and_then(|d| pipelined(d, spool.0.as_file(), || read.load(Ordering::Relaxed)));
    copied.map_err(
        |e| match e.get_ref().and_then(|x| x.downcast_ref::<SpoolError>()) {
            Some(SpoolError::Write(_)) => Error::io("$TMPDIR", e),
            Some(SpoolError::Bound { read, bound }) => Error::format(
                name,
                format!(
                    "decompresses to more than {bound} bytes after {read} compressed bytes (the \
                 bound is the larger of --max-spool, default 1 GiB, and {SPOOL_RATIO}x the \
                 compressed bytes read); raise it with --max-spool SIZE if the archive is real"
                ),
            ),
            None => Error::NotAnArchive(format!(
                "{name}: cannot decompress {} stream: {e}",
                compression.name()
            )),
        },
    )?;
    Ok((spool, compression))
}

/// The spool file in `$TMPDIR` (removed when dropped), registered for removal on a signal.
pub type Spool = (tempfile::NamedTempFile, crate::signals::Registered);

/// Why the spool stopped, told apart from the decoder's errors.
#[derive(Debug)]
enum SpoolError {
    /// Writing the spool failed.
    Write(io::Error),
    /// The decoded bytes went past [`max_spool`].
    Bound { read: u64, bound: u64 },
}

impl std::fmt::Display for SpoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpoolError::Write(e) => write!(f, "spool: {e}"),
            SpoolError::Bound { bound, .. } => write!(f, "spool over its bound of {bound} bytes"),
        }
    }
}

impl std::error::Error for SpoolError {}

const CHUNK: usize = 4 << 20;

/// Copy `input` into `out` with the decompression on this thread and the writing on another,
/// so both cores work (at most four 4 MiB chunks in flight). Stops once the bytes decoded pass
/// [`max_spool`] of the compressed bytes `read` so far.
fn pipelined<R: Read>(mut input: R, out: &std::fs::File, read: impl Fn() -> u64) -> io::Result<()> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(3);
    // Buffers come back to be reused: no allocation or page faults per chunk.
    let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    std::thread::scope(|s| {
        let writer = s.spawn(move || -> io::Result<()> {
            let mut out = out;
            for (buf, n) in rx {
                out.write_all(&buf[..n])
                    .map_err(|e| io::Error::other(SpoolError::Write(e)))?;
                let _ = back_tx.try_send(buf);
            }
            Ok(())
        });
        let mut decoded = 0u64;
        let result = loop {
            let mut buf = back_rx.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
            let (n, r) = fill(&mut input, &mut buf);
            if r.is_err() || n == 0 {
                break r;
            }
            decoded += n as u64;
            let so_far = read();
            let bound = max_spool(so_far);
            if decoded > bound {
                let e = SpoolError::Bound {
                    read: so_far,
                    bound,
                };
                break Err(io::Error::other(e));
            }
            if tx.send((buf, n)).is_err() {
                break Ok(()); // the writer failed; its error is reported below
            }
        };
        drop(tx);
        let w = writer.join().unwrap_or_else(|_| {
            let e = io::Error::other("writer thread failed");
            Err(io::Error::other(SpoolError::Write(e)))
        });
        result.and(w)
    })
}

/// Read until `buf` is full or the input ends: how many bytes were read, and the error that
/// stopped it early, if any.
pub fn fill<R: Read + ?Sized>(input: &mut R, buf: &mut [u8]) -> (usize, io::Result<()>) {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(r) => n += r,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Err(e)),
        }
    }
    (n, Ok(()))
}

/// Size of the chunks [`Prefetch`] reads.
const PREFETCH_CHUNK: usize = 1 << 20;

/// Chunks [`Prefetch`]'s reading thread may hold filled, waiting for the decoder.
const PREFETCH_CHUNKS_AHEAD: usize = 4;
/// How many of those must have been taken before the reading thread, once it waits, is woken to
/// fill them again: waking a sleeping thread costs the decoding thread more than reading a chunk
/// (tens of microseconds on a virtual machine), so it is done once per few chunks.
const PREFETCH_WAKE_AFTER: usize = 3;
const _: () = assert!(
    PREFETCH_WAKE_AFTER <= PREFETCH_CHUNKS_AHEAD,
    "the reader would never be woken"
);

/// Reads its input on a separate thread, a few chunks ahead, so the reading system calls
/// overlap the decompression (what `zstd -dc` does with its I/O thread). Chunks are full (1 MiB,
/// or what is left at the end) and their buffers come back to the reading thread to be reused.
/// As a [`BufRead`] it lends its chunks to the decoder: no copy.
pub struct Prefetch {
    shared: Arc<Shared>,
    current: Vec<u8>,
    len: usize,
    pos: usize,
    done: bool,
    /// Bytes handed to the reader so far.
    consumed: Arc<AtomicU64>,
}

/// What the reading thread and the [`Prefetch`] share: the chunks filled and the buffers free.
#[derive(Default)]
struct Shared {
    ring: std::sync::Mutex<Ring>,
    /// Signalled to the reading thread when buffers are free again or the reader is gone.
    freed: std::sync::Condvar,
    /// Signalled to the decoder when a chunk is filled or the input ended.
    filled: std::sync::Condvar,
}

/// The chunks filled (in order, an error last), the buffers given back, and who sleeps: each
/// side signals the other only when it waits.
#[derive(Default)]
struct Ring {
    full: std::collections::VecDeque<io::Result<(Vec<u8>, usize)>>,
    free: Vec<Vec<u8>>,
    /// The input was read to its end (or to an error): nothing more will come.
    ended: bool,
    /// The [`Prefetch`] was dropped: the reading thread stops.
    closed: bool,
    reader_waits: bool,
    decoder_waits: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The reading thread: fill chunks while fewer than [`PREFETCH_CHUNKS_AHEAD`] wait.
    fn read_ahead(&self, mut input: impl Read) {
        loop {
            let mut buf = {
                let mut r = self.lock();
                while r.full.len() >= PREFETCH_CHUNKS_AHEAD && !r.closed {
                    r.reader_waits = true;
                    r = self.freed.wait(r).unwrap_or_else(|e| e.into_inner());
                }
                r.reader_waits = false;
                if r.closed {
                    return;
                }
                r.free.pop().unwrap_or_else(|| vec![0u8; PREFETCH_CHUNK])
            };
            let (n, res) = fill(&mut input, &mut buf);
            let mut r = self.lock();
            if n > 0 {
                r.full.push_back(Ok((buf, n)));
            }
            r.ended = res.is_err() || n < PREFETCH_CHUNK;
            if let Err(e) = res {
                r.full.push_back(Err(e));
            }
            if r.decoder_waits {
                self.filled.notify_one();
            }
            if r.ended {
                return;
            }
        }
    }

    /// The next chunk (giving `old`'s buffer back), or `None` once the input ended.
    fn next(&self, old: Vec<u8>) -> Option<io::Result<(Vec<u8>, usize)>> {
        let mut r = self.lock();
        if !old.is_empty() {
            r.free.push(old);
        }
        loop {
            if let Some(chunk) = r.full.pop_front() {
                if r.reader_waits && r.full.len() + PREFETCH_WAKE_AFTER <= PREFETCH_CHUNKS_AHEAD {
                    self.freed.notify_one();
                }
                return Some(chunk);
            }
            if r.ended {
                return None;
            }
            r.decoder_waits = true;
            r = self.filled.wait(r).unwrap_or_else(|e| e.into_inner());
            r.decoder_waits = false;
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.freed.notify_one();
    }
}

impl Prefetch {
    pub fn new<R: Read + Send + 'static>(input: R) -> Prefetch {
        let shared = Arc::new(Shared::default());
        let reader = shared.clone();
        std::thread::spawn(move || reader.read_ahead(input));
        Prefetch {
            shared,
            current: Vec::new(),
            len: 0,
            pos: 0,
            done: false,
            consumed: Arc::default(),
        }
    }

    /// The count of bytes handed out so far, as it grows.
    pub fn read_count(&self) -> Arc<AtomicU64> {
        self.consumed.clone()
    }
}

impl BufRead for Prefetch {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.len && !self.done {
            match self.shared.next(std::mem::take(&mut self.current)) {
                Some(Ok((buf, n))) => {
                    self.current = buf;
                    self.len = n;
                    self.pos = 0;
                }
                Some(Err(e)) => {
                    (self.done, self.len, self.pos) = (true, 0, 0);
                    return Err(e);
                }
                None => (self.done, self.len, self.pos) = (true, 0, 0),
            }
        }
        Ok(&self.current[self.pos..self.len])
    }

    fn consume(&mut self, n: usize) {
        let pos = (self.pos + n).min(self.len);
        self.consumed
            .fetch_add((pos - self.pos) as u64, Ordering::Relaxed);
        self.pos = pos;
    }
}

impl Read for Prefetch {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_lent(self, out)
    }
}

/// [`Read::read`] for a [`BufRead`] that lends its bytes: copy what it lends now.
pub(super) fn read_lent(r: &mut impl BufRead, out: &mut [u8]) -> io::Result<usize> {
    let lent = r.fill_buf()?;
    let n = out.len().min(lent.len());
    out[..n].copy_from_slice(&lent[..n]);
    r.consume(n);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per call, like a slow pipe.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = out.len().min(self.step).min(self.data.len() - self.pos);
            out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn trickle(data: &[u8], step: usize) -> Prefetch {
        Prefetch::new(Trickle {
            data: data.to_vec(),
            pos: 0,
            step,
        })
    }

    #[test]
    fn the_spool_bound_is_the_larger_of_the_floor_and_100x_what_was_read() {
        assert_eq!(max_spool(0), 1 << 30);
        assert_eq!(max_spool(10 << 20), 1 << 30);
        assert_eq!(max_spool(20 << 20), 2000 << 20);
        assert_eq!(max_spool(u64::MAX), u64::MAX);
    }

    #[test]
    fn skippable_frames_are_zstd() {
        for m in 0x50..=0x5fu8 {
            assert_eq!(
                Compression::from_magic(&[m, 0x2a, 0x4d, 0x18]),
                Compression::Zstd
            );
        }
        assert_eq!(
            Compression::from_magic(&[0x60, 0x2a, 0x4d, 0x18]),
            Compression::None
        );
    }

    #[test]
    fn prefetch_gives_back_every_byte_in_order_and_peeks_through_tiny_reads() {
        let data: Vec<u8> = (0..(2 * PREFETCH_CHUNK + 12345))
            .map(|i| (i * 7 + i / 999) as u8)
            .collect();
        for step in [1usize, 3, 4096, 1 << 22] {
            let mut p = trickle(&data[..if step == 1 { 200_000 } else { data.len() }], step);
            let want = &data[..if step == 1 { 200_000 } else { data.len() }];
            assert_eq!(&p.fill_buf().unwrap()[..4], &want[..4], "step {step}");
            let mut got = Vec::new();
            p.read_to_end(&mut got).unwrap();
            assert!(got == want, "step {step}");
        }
    }

    /// An endless input that says when the reading thread dropped it.
    struct Endless(Arc<std::sync::atomic::AtomicBool>);

    impl Read for Endless {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            out.fill(7);
            Ok(out.len())
        }
    }

    impl Drop for Endless {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn dropping_a_prefetch_stops_its_reading_thread_though_the_input_goes_on() {
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut p = Prefetch::new(Endless(dropped.clone()));
        let mut head = vec![0u8; 3 * PREFETCH_CHUNK];
        p.read_exact(&mut head).unwrap();
        assert!(head.iter().all(|b| *b == 7));
        drop(p);
        // Liveness, not speed: the thread is woken at once; a minute means it never was.
        let start = std::time::Instant::now();
        while !dropped.load(Ordering::SeqCst) {
            assert!(
                start.elapsed().as_secs() < 60,
                "the reading thread never stopped"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Gives `data`, then fails.
    struct FailsAfter(io::Cursor<Vec<u8>>);

    impl Read for FailsAfter {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            match self.0.read(out)? {
                0 => Err(io::Error::other("disk gone")),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn a_read_error_comes_after_every_byte_read_before_it() {
        let data: Vec<u8> = (0..PREFETCH_CHUNK * 5 + 99).map(|i| i as u8).collect();
        let mut p = Prefetch::new(FailsAfter(io::Cursor::new(data.clone())));
        let mut got = vec![0u8; data.len()];
        p.read_exact(&mut got).unwrap();
        assert!(got == data);
        let err = p.read(&mut [0u8; 1]).unwrap_err();
        assert_eq!(err.to_string(), "disk gone");
        assert_eq!(
            p.read(&mut [0u8; 1]).unwrap(),
            0,
            "after the error, the end"
        );
    }

    /// `data` as one zstd frame with its content checksum, the checksum then spoiled.
    fn zstd_with_a_wrong_checksum(data: &[u8]) -> Vec<u8> {
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        e.include_checksum(true).unwrap();
        e.write_all(data).unwrap();
        let mut zst = e.finish().unwrap();
        let last = zst.len() - 1;
        zst[last] ^= 1;
        zst
    }

    #[test]
    fn only_a_second_decoding_skips_zstds_checksums() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        let zst = zstd_with_a_wrong_checksum(&data);
        let mut out = Vec::new();
        let first = decoder(&zst[..], Compression::Zstd).unwrap();
        let err = first.take(u64::MAX).read_to_end(&mut out).unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        out.clear();
        let mut again = decoder_again(&zst[..], Compression::Zstd).unwrap();
        again.read_to_end(&mut out).unwrap();
        assert!(out == data);
    }

    #[test]
    fn compressed_streams_decode_through_prefetch_whatever_the_read_sizes() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&data[..], 3).unwrap();
        for (bytes, want) in [(&gz, Compression::Gzip), (&zst, Compression::Zstd)] {
            for step in [1usize, 2, 1000] {
                let mut p = trickle(bytes, step);
                assert_eq!(peek(&mut p).unwrap(), want);
                let mut out = Vec::new();
                decoder(p, want).unwrap().read_to_end(&mut out).unwrap();
                assert!(out == data, "{want:?} step {step}");
            }
        }
        // Fewer than four bytes in all: not compressed, and nothing lost.
        let mut p = trickle(b"\x1f", 1);
        assert_eq!(peek(&mut p).unwrap(), Compression::None);
        let mut out = Vec::new();
        p.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"\x1f");
    }
}
