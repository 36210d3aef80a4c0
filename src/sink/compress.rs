//! Output compression on every core: zstd with its own worker threads, and gzip as a series of
//! independently compressed members made in parallel (standard gunzip and Go read them as one
//! stream, the way pigz-compatible tools do).

use crate::error::{Error, Result};
use rayon::prelude::*;
use std::io::{self, Write};
use std::ops::RangeInclusive;

/// The compression of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutCompression {
    None,
    Gzip(u32),
    Zstd(i32),
}

/// gzip's `--level` range.
pub const GZIP_LEVELS: RangeInclusive<i32> = 1..=9;
/// zstd's `--level` range: its regular levels. The "ultra" levels 20-22 are left out, as the
/// zstd CLI leaves them out without `--ultra`: they want windows of 32-128 MiB that every
/// reader (docker load, containerd) must then allocate, for a gain of a few per cent.
pub const ZSTD_LEVELS: RangeInclusive<i32> = 1..=19;
const GZIP_DEFAULT: i32 = 6;
const ZSTD_DEFAULT: i32 = 3;

impl OutCompression {
    /// Choose from the output name (`auto`): `.tar.gz`/`.tgz` gzip, `.tar.zst`/`.tzst` zstd.
    pub fn from_name(name: &str, level: Option<i32>) -> Result<OutCompression> {
        let n = name.to_ascii_lowercase();
        if n.ends_with(".gz") || n.ends_with(".tgz") {
            OutCompression::gzip(level)
        } else if n.ends_with(".zst") || n.ends_with(".tzst") || n.ends_with(".zstd") {
            OutCompression::zstd(level)
        } else {
            OutCompression::none(level)
        }
    }

    /// gzip at `level` (default 6); a level outside 1-9 is a usage error.
    pub fn gzip(level: Option<i32>) -> Result<OutCompression> {
        let l = checked("gzip", level, GZIP_DEFAULT, GZIP_LEVELS)?;
        Ok(OutCompression::Gzip(l.unsigned_abs()))
    }

    /// zstd at `level` (default 3); a level outside [`ZSTD_LEVELS`] is a usage error.
    pub fn zstd(level: Option<i32>) -> Result<OutCompression> {
        checked("zstd", level, ZSTD_DEFAULT, ZSTD_LEVELS).map(OutCompression::Zstd)
    }

    /// No compression: a `level` is then refused, not ignored.
    pub fn none(level: Option<i32>) -> Result<OutCompression> {
        match level {
            None => Ok(OutCompression::None),
            Some(l) => Err(Error::Usage(format!(
                "--level {l} given, but the output is not compressed: add --compress gzip|zstd, \
                 or name the output .tar.gz or .tar.zst"
            ))),
        }
    }
}

/// `level`, or `default` when none was given; a level outside `range` is a usage error.
fn checked(
    codec: &str,
    level: Option<i32>,
    default: i32,
    range: RangeInclusive<i32>,
) -> Result<i32> {
    match level {
        None => Ok(default),
        Some(l) if range.contains(&l) => Ok(l),
        Some(l) => Err(Error::Usage(format!(
            "--level {l} is out of range: {codec} levels are {}-{}",
            range.start(),
            range.end()
        ))),
    }
}

/// Wrap `out` in the chosen compressor.
pub fn wrap<'a, W: Write + 'a>(out: W, c: OutCompression) -> io::Result<Box<dyn Finish + 'a>> {
    Ok(match c {
        OutCompression::None => Box::new(Plain(out)),
        OutCompression::Gzip(level) => Box::new(ParGz::new(out, level)),
        OutCompression::Zstd(level) => {
            let mut e = zstd::stream::write::Encoder::new(out, level)?;
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
            e.multithread(threads.max(1))?;
            Box::new(ZstdOut(Some(e)))
        }
    })
}

/// A writer that must be finished to write its trailer.
pub trait Finish: Write {
    fn finish(self: Box<Self>) -> io::Result<()>;
}

struct Plain<W: Write>(W);
impl<W: Write> Write for Plain<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
impl<W: Write> Finish for Plain<W> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.0.flush()
    }
}

struct ZstdOut<W: Write>(Option<zstd::stream::write::Encoder<'static, W>>);
impl<W: Write> Write for ZstdOut<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Some(e) => e.write(b),
            None => Err(io::Error::other("finished")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Some(e) => e.flush(),
            None => Ok(()),
        }
    }
}
impl<W: Write> Finish for ZstdOut<W> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        match self.0.take() {
            Some(e) => e.finish()?.flush(),
            None => Ok(()),
        }
    }
}

const GZ_BLOCK: usize = 4 << 20;

/// Parallel gzip: the input is cut into fixed blocks, each compressed as its own gzip member.
struct ParGz<W: Write> {
    out: W,
    level: u32,
    pending: Vec<Vec<u8>>,
    current: Vec<u8>,
}

impl<W: Write> ParGz<W> {
    fn new(out: W, level: u32) -> Self {
        ParGz {
            out,
            level,
            pending: Vec::new(),
            current: Vec::with_capacity(GZ_BLOCK),
        }
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        let level = self.level;
        let compressed: Vec<io::Result<Vec<u8>>> = self
            .pending
            .par_iter()
            .map(|block| {
                let mut e = flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(255)
                    .write(
                        Vec::with_capacity(block.len() / 2),
                        flate2::Compression::new(level),
                    );
                e.write_all(block)?;
                e.finish()
            })
            .collect();
        self.pending.clear();
        for c in compressed {
            self.out.write_all(&c?)?;
        }
        Ok(())
    }
}

impl<W: Write> Write for ParGz<W> {
    fn write(&mut self, mut b: &[u8]) -> io::Result<usize> {
        let n = b.len();
        while !b.is_empty() {
            let room = GZ_BLOCK - self.current.len();
            let take = room.min(b.len());
            self.current.extend_from_slice(&b[..take]);
            b = &b[take..];
            if self.current.len() == GZ_BLOCK {
                let full = std::mem::replace(&mut self.current, Vec::with_capacity(GZ_BLOCK));
                self.pending.push(full);
                if self.pending.len() >= 2 * rayon::current_num_threads() {
                    self.flush_pending()?;
                }
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Finish for ParGz<W> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        if !self.current.is_empty() || self.pending.is_empty() {
            let last = std::mem::take(&mut self.current);
            self.pending.push(last);
        }
        self.flush_pending()?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn parallel_gzip_reads_back_as_one_stream() {
        let data: Vec<u8> = (0..(GZ_BLOCK * 2 + 1234))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut out = Vec::new();
        {
            let mut w = wrap(&mut out, OutCompression::Gzip(1)).unwrap();
            w.write_all(&data).unwrap();
            w.finish().unwrap();
        }
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&out[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn names_choose_compression() {
        let name = |n, l| OutCompression::from_name(n, l).ok();
        assert_eq!(name("a.tar.gz", None), Some(OutCompression::Gzip(6)));
        assert_eq!(name("a.TGZ", Some(9)), Some(OutCompression::Gzip(9)));
        assert_eq!(name("a.tar.zst", None), Some(OutCompression::Zstd(3)));
        assert_eq!(name("a.tar.zst", Some(19)), Some(OutCompression::Zstd(19)));
        assert_eq!(name("a.tar", None), Some(OutCompression::None));
    }

    #[test]
    fn levels_outside_the_range_or_without_compression_are_refused() {
        for (c, msg) in [
            (OutCompression::gzip(Some(0)), "gzip levels are 1-9"),
            (OutCompression::gzip(Some(30)), "gzip levels are 1-9"),
            (OutCompression::zstd(Some(20)), "zstd levels are 1-19"),
            (OutCompression::zstd(Some(-1)), "zstd levels are 1-19"),
            (
                OutCompression::from_name("a.tar", Some(3)),
                "not compressed",
            ),
            (OutCompression::none(Some(6)), "not compressed"),
        ] {
            match c {
                Err(e @ Error::Usage(_)) => assert!(e.to_string().contains(msg), "{e}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
