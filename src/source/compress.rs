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
    let mut out = io::BufWriter::with_capacity(1 << 20, spool.as_file());
    let copied = match compression {
        Compression::None => io::copy(&mut { chained }, &mut out),
        Compression::Gzip => io::copy(&mut flate2::read::MultiGzDecoder::new(chained), &mut out),
        Compression::Zstd => match zstd::stream::read::Decoder::new(chained) {
            Ok(mut d) => io::copy(&mut d, &mut out),
            Err(e) => Err(e),
        },
    };
    copied.map_err(|e| {
        Error::NotAnArchive(format!(
            "{name}: cannot decompress {} stream: {e}",
            compression.name()
        ))
    })?;
    out.flush().map_err(|e| Error::io("$TMPDIR", e))?;
    drop(out);
    Ok((spool, compression))
}
