//! Compression detection by magic bytes (never by name) and the one-pass decompression of
//! gzip, zstd or piped input into a temporary spool file in `$TMPDIR`.

use crate::error::{Error, Result};
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};

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

    /// Recognise the magic bytes at the start of a stream.
    pub fn from_magic(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
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
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
    })
}

/// Decompress (if needed) `input` into a temporary file, in one pass.
pub fn spool<R: Read + Send + 'static>(
    input: R,
    name: &str,
) -> Result<(tempfile::NamedTempFile, Compression)> {
    let mut input = Prefetch::new(input);
    let compression = peek(&mut input).map_err(|e| Error::io(name, e))?;
    let spool = tempfile::NamedTempFile::new().map_err(|e| Error::io("$TMPDIR", e))?;
    let copied = decoder(input, compression).and_then(|d| pipelined(d, spool.as_file()));
    copied.map_err(|e| match e.kind() {
        io::ErrorKind::Other if e.to_string().starts_with("spool: ") => Error::io("$TMPDIR", e),
        _ => Error::NotAnArchive(format!(
            "{name}: cannot decompress {} stream: {e}",
            compression.name()
        )),
    })?;
    Ok((spool, compression))
}

const CHUNK: usize = 4 << 20;

/// Copy `input` into `out` with the decompression on this thread and the writing on another,
/// so both cores work (at most four 4 MiB chunks in flight).
fn pipelined<R: Read>(mut input: R, out: &std::fs::File) -> io::Result<()> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(3);
    // Buffers come back to be reused: no allocation or page faults per chunk.
    let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    std::thread::scope(|s| {
        let writer = s.spawn(move || -> io::Result<()> {
            let mut out = out;
            for (buf, n) in rx {
                out.write_all(&buf[..n])
                    .map_err(|e| io::Error::other(format!("spool: {e}")))?;
                let _ = back_tx.try_send(buf);
            }
            Ok(())
        });
        let result = loop {
            let mut buf = back_rx.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
            let (n, r) = fill(&mut input, &mut buf);
            if r.is_err() || n == 0 {
                break r;
            }
            if tx.send((buf, n)).is_err() {
                break Ok(()); // the writer failed; its error is reported below
            }
        };
        drop(tx);
        let w = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("spool: writer thread failed")));
        result.and(w)
    })
}

/// Read until `buf` is full or the input ends: how many bytes were read, and the error that
/// stopped it early, if any.
fn fill<R: Read>(input: &mut R, buf: &mut [u8]) -> (usize, io::Result<()>) {
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

/// Reads its input on a separate thread, a few chunks ahead, so the reading system calls
/// overlap the decompression (what `zstd -dc` does with its I/O thread). Chunks are full (1 MiB,
/// or what is left at the end) and their buffers come back to the reading thread to be reused.
/// As a [`BufRead`] it lends its chunks to the decoder: no copy.
pub struct Prefetch {
    rx: std::sync::mpsc::Receiver<io::Result<(Vec<u8>, usize)>>,
    back: std::sync::mpsc::SyncSender<Vec<u8>>,
    current: Vec<u8>,
    len: usize,
    pos: usize,
    done: bool,
}

impl Prefetch {
    pub fn new<R: Read + Send + 'static>(mut input: R) -> Prefetch {
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<(Vec<u8>, usize)>>(4);
        let (back, back_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(6);
        std::thread::spawn(move || loop {
            let mut buf = back_rx
                .try_recv()
                .unwrap_or_else(|_| vec![0u8; PREFETCH_CHUNK]);
            let (n, r) = fill(&mut input, &mut buf);
            if n > 0 && tx.send(Ok((buf, n))).is_err() {
                break;
            }
            if let Err(e) = r {
                let _ = tx.send(Err(e));
                break;
            }
            if n < PREFETCH_CHUNK {
                break;
            }
        });
        Prefetch {
            rx,
            back,
            current: Vec::new(),
            len: 0,
            pos: 0,
            done: false,
        }
    }
}

impl BufRead for Prefetch {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.len && !self.done {
            match self.rx.recv() {
                Ok(Ok((buf, n))) => {
                    let old = std::mem::replace(&mut self.current, buf);
                    if !old.is_empty() {
                        let _ = self.back.try_send(old);
                    }
                    self.len = n;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        Ok(&self.current[self.pos..self.len])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.len);
    }
}

impl Read for Prefetch {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = out.len().min(avail.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
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
