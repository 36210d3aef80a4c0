//! Output compression on every core: the choice of codec and level, zstd with its own worker
//! threads, and gzip as independently compressed members made in parallel ([`super::gzip`]).

use super::gzip::ParGz;
use crate::error::{Error, Result};
use std::io::{self, Write};
use std::ops::RangeInclusive;
use zstd::zstd_safe::{zstd_sys::ZSTD_EndDirective, CCtx, CParameter, InBuffer, OutBuffer};

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
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            Box::new(ZstdOut::new(out, level, cores)?)
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

/// zstd driven through its streaming call with an output buffer of our own, written out whole
/// when full: the writer below gets one large write per [`ZSTD_OUT_BUF`] bytes instead of a copy
/// of many small ones into its own buffer.
struct ZstdOut<W: Write> {
    cctx: CCtx<'static>,
    out: W,
    /// Compressed bytes not written yet (its capacity is [`ZSTD_OUT_BUF`]).
    buf: Vec<u8>,
}

/// The compressed bytes gathered before they are written.
const ZSTD_OUT_BUF: usize = crate::source::IO_BUF;

impl<W: Write> ZstdOut<W> {
    /// A frame at `level` compressed by `workers` of zstd's worker threads. zstd's
    /// multithreaded output is the same whatever the number of workers (one or more), so the
    /// bytes do not depend on the machine.
    fn new(out: W, level: i32, workers: usize) -> io::Result<ZstdOut<W>> {
        let mut cctx = CCtx::try_create().ok_or_else(|| io::Error::other("zstd: out of memory"))?;
        for p in [
            CParameter::CompressionLevel(level),
            CParameter::NbWorkers(u32::try_from(workers).unwrap_or(1).max(1)),
        ] {
            cctx.set_parameter(p).map_err(zstd_error)?;
        }
        Ok(ZstdOut {
            cctx,
            out,
            buf: Vec::with_capacity(ZSTD_OUT_BUF),
        })
    }

    /// One call of zstd's streaming compression (`end` to flush or end the frame), then the
    /// buffer written out if it is full; returns what zstd says is left to flush.
    fn step(&mut self, input: &mut InBuffer<'_>, end: ZSTD_EndDirective) -> io::Result<usize> {
        let pos = self.buf.len();
        let mut o = OutBuffer::around_pos(&mut self.buf, pos);
        let left = self
            .cctx
            .compress_stream2(&mut o, input, end)
            .map_err(zstd_error)?;
        if self.buf.len() == self.buf.capacity() {
            self.write_out()?;
        }
        Ok(left)
    }

    /// Write what the buffer holds.
    fn write_out(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Flush (or, with `ZSTD_e_end`, end) the frame, and write out every byte made so far.
    fn drain(&mut self, end: ZSTD_EndDirective) -> io::Result<()> {
        let mut none = InBuffer::around(&[]);
        while self.step(&mut none, end)? > 0 {}
        self.write_out()?;
        self.out.flush()
    }
}

/// A zstd error code as an I/O error.
fn zstd_error(code: usize) -> io::Error {
    io::Error::other(format!("zstd: {}", zstd::zstd_safe::get_error_name(code)))
}

impl<W: Write> Write for ZstdOut<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let mut input = InBuffer::around(b);
        while input.pos() < b.len() {
            self.step(&mut input, ZSTD_EndDirective::ZSTD_e_continue)?;
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.drain(ZSTD_EndDirective::ZSTD_e_flush)
    }
}
impl<W: Write> Finish for ZstdOut<W> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.drain(ZSTD_EndDirective::ZSTD_e_end)
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

    fn zstd(data: &[u8], workers: usize, flush_at: Option<usize>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut z = Box::new(ZstdOut::new(&mut out, 1, workers).unwrap());
        for (i, piece) in data.chunks(100_000).enumerate() {
            if flush_at == Some(i) {
                z.flush().unwrap();
            }
            z.write_all(piece).unwrap();
        }
        z.finish().unwrap();
        out
    }

    #[test]
    fn zstd_output_reads_back_and_is_the_same_for_any_number_of_workers() {
        // Compressible, and several of level 1's jobs and output buffers long.
        let data: Vec<u8> = (0..(9 << 20) as u32)
            .map(|i| (i.wrapping_mul(i >> 7) >> 5) as u8)
            .collect();
        let one = zstd(&data, 1, None);
        assert!(one.len() < data.len() * 2 / 3, "{} bytes", one.len());
        assert!(one.len() > ZSTD_OUT_BUF, "{} bytes", one.len());
        assert_eq!(zstd::decode_all(&one[..]).unwrap(), data);
        assert_eq!(zstd(&data, 3, None), one);
        let flushed = zstd(&data, 2, Some(7));
        assert_ne!(flushed, one);
        assert_eq!(zstd::decode_all(&flushed[..]).unwrap(), data);
        assert_eq!(zstd::decode_all(&zstd(&[], 2, None)[..]).unwrap(), b"");
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
