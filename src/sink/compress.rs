//! Output compression on every core: the choice of codec and level, zstd with its own worker
//! threads, and gzip as independently compressed members made in parallel ([`super::gzip`]).

use super::gzip::ParGz;
use crate::error::{Error, Result};
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
        OutCompression::Gzip(level) => Box::new(ParGz::new(out, level)?),
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

impl<W: Write> Finish for ParGz<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        ParGz::finish(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
