//! Compression detection by magic bytes (never by name) and the one-pass decompression of
//! gzip, zstd or piped input into a temporary spool file in `$TMPDIR`.

use crate::error::{Error, Result};
use std::io::{self, Read, Seek, SeekFrom, Write};

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

/// Decompress (if needed) `input` into a temporary file, in one pass.
pub fn spool<R: Read>(mut input: R, name: &str) -> Result<(tempfile::NamedTempFile, Compression)> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        let r = input.read(&mut head[n..]).map_err(|e| Error::io(name, e))?;
        if r == 0 {
            break;
        }
        n += r;
    }
    let compression = Compression::from_magic(&head[..n]);
    let chained = io::Cursor::new(head[..n].to_vec()).chain(input);
    let spool = tempfile::NamedTempFile::new().map_err(|e| Error::io("$TMPDIR", e))?;
    let copied = match compression {
        Compression::None => pipelined(chained, spool.as_file()),
        Compression::Gzip => pipelined(flate2::read::MultiGzDecoder::new(chained), spool.as_file()),
        Compression::Zstd => match zstd::stream::read::Decoder::new(chained) {
            Ok(d) => pipelined(d, spool.as_file()),
            Err(e) => Err(e),
        },
    };
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
        let mut result = Ok(());
        loop {
            let mut buf = back_rx.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
            let mut n = 0;
            while n < CHUNK {
                match input.read(&mut buf[n..]) {
                    Ok(0) => break,
                    Ok(r) => n += r,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            if result.is_err() || n == 0 {
                break;
            }
            if tx.send((buf, n)).is_err() {
                break; // the writer failed; its error is reported below
            }
        }
        drop(tx);
        let w = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("spool: writer thread failed")));
        result.and(w)
    })
}

/// Reads its input on a separate thread, a few chunks ahead, so the reading system calls
/// overlap the decompression (what `zstd -dc` does with its I/O thread).
pub struct Prefetch {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Prefetch {
    pub fn new<R: Read + Send + 'static>(mut input: R) -> Prefetch {
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(4);
        std::thread::spawn(move || loop {
            let mut buf = vec![0u8; 1 << 20];
            match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(Ok(buf)).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        });
        Prefetch {
            rx,
            current: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl Read for Prefetch {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(buf)) => {
                    self.current = buf;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
