//! Parallel gzip output: the stream is cut into fixed blocks, each compressed by libdeflate as
//! its own gzip member on a pool of its own while the caller goes on feeding, and the members
//! are written in order. Fixed blocks make the bytes the same whatever the number of cores; gzip
//! readers (gzip -d, Go's compress/gzip, Python) read the members as one stream, as they read
//! pigz's output.

use libdeflater::{CompressionLvl, Compressor};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, TryRecvError};

/// Uncompressed bytes in one gzip member: small enough that the feeder and the workers overlap
/// well, large enough that the window each member starts anew costs well under 0.1 %.
pub const BLOCK: usize = 1 << 20;
/// Blocks queued or compressing per worker before the feeder waits for the oldest.
const IN_FLIGHT_PER_WORKER: usize = 2;

/// A member being compressed: its bytes arrive here when done.
type Pending = Receiver<io::Result<Vec<u8>>>;

/// A writer that gzips what it is given on every core; [`ParGz::finish`] writes the last member.
pub struct ParGz<W: Write> {
    out: W,
    level: CompressionLvl,
    pool: rayon::ThreadPool,
    current: Vec<u8>,
    in_flight: VecDeque<Pending>,
    max_in_flight: usize,
    members: u64,
}

impl<W: Write> ParGz<W> {
    /// Compress at gzip `level` (1-9, the same scale in libdeflate) into `out`.
    pub fn new(out: W, level: u32) -> io::Result<Self> {
        let level = i32::try_from(level)
            .ok()
            .and_then(|l| CompressionLvl::new(l).ok())
            .ok_or_else(|| io::Error::other(format!("gzip level {level} is not supported")))?;
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        // A pool of its own: the feeder waits on its members, which must not wait for the
        // feeder's own pool to be free.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("ocislim-gzip-{i}"))
            .build()
            .map_err(io::Error::other)?;
        Ok(ParGz {
            out,
            level,
            pool,
            current: Vec::with_capacity(BLOCK),
            in_flight: VecDeque::new(),
            max_in_flight: IN_FLIGHT_PER_WORKER * workers,
            members: 0,
        })
    }

    /// Hand the current block to the pool, then write the members already done (waiting for
    /// the oldest while too many are in flight).
    fn submit(&mut self) -> io::Result<()> {
        let block = std::mem::replace(&mut self.current, Vec::with_capacity(BLOCK));
        let (tx, rx) = mpsc::sync_channel(1);
        let level = self.level;
        self.pool.spawn(move || {
            // The receiver is gone only when the stream was abandoned.
            let _ = tx.send(member(&block, level));
        });
        self.in_flight.push_back(rx);
        self.members += 1;
        self.write_done(self.max_in_flight)
    }

    /// Write the finished members in order, waiting while more than `keep` are in flight.
    fn write_done(&mut self, keep: usize) -> io::Result<()> {
        while let Some(front) = self.in_flight.front() {
            let done = if self.in_flight.len() > keep {
                front.recv().map_err(|_| stopped())?
            } else {
                match front.try_recv() {
                    Ok(done) => done,
                    Err(TryRecvError::Empty) => return Ok(()),
                    Err(TryRecvError::Disconnected) => return Err(stopped()),
                }
            };
            self.in_flight.pop_front();
            self.out.write_all(&done?)?;
        }
        Ok(())
    }

    /// Write the last member (one, empty, if nothing was written) and flush.
    pub fn finish(mut self) -> io::Result<()> {
        if !self.current.is_empty() || self.members == 0 {
            self.submit()?;
        }
        self.write_done(0)?;
        self.out.flush()
    }
}

/// A compression worker ended without an answer.
fn stopped() -> io::Error {
    io::Error::other("a gzip worker stopped")
}

/// `block` as one gzip member (mtime 0, OS unknown: the same bytes on every machine).
fn member(block: &[u8], level: CompressionLvl) -> io::Result<Vec<u8>> {
    let mut c = Compressor::new(level);
    let mut out = vec![0u8; c.gzip_compress_bound(block.len())];
    let n = c.gzip_compress(block, &mut out).map_err(io::Error::other)?;
    out.truncate(n);
    Ok(out)
}

impl<W: Write> Write for ParGz<W> {
    fn write(&mut self, mut b: &[u8]) -> io::Result<usize> {
        let n = b.len();
        while !b.is_empty() {
            let take = (BLOCK - self.current.len()).min(b.len());
            self.current.extend_from_slice(&b[..take]);
            b = &b[take..];
            if self.current.len() == BLOCK {
                self.submit()?;
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gz(data: &[u8], level: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = ParGz::new(&mut out, level).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap();
        out
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(gz)
            .read_to_end(&mut back)
            .unwrap();
        back
    }

    #[test]
    fn members_read_back_as_one_stream_in_order() {
        let data: Vec<u8> = (0..(BLOCK * 5 + 1234)).map(|i| (i % 251) as u8).collect();
        let out = gz(&data, 1);
        assert_eq!(gunzip(&out), data);
        // One member per block: each starts with the gzip magic at its own offset.
        let magics = out.windows(3).filter(|w| w == &[0x1f, 0x8b, 8]).count();
        assert!(magics >= 6, "{magics} members");
    }

    #[test]
    fn empty_input_is_one_empty_member_and_levels_differ() {
        assert_eq!(gunzip(&gz(&[], 6)), Vec::<u8>::new());
        let text: Vec<u8> = b"ocislim gzip ".repeat(200_000);
        let (fast, best) = (gz(&text, 1), gz(&text, 9));
        assert_eq!(gunzip(&best), text);
        assert!(best.len() < fast.len(), "{} vs {}", best.len(), fast.len());
    }

    #[test]
    fn the_header_is_the_same_on_every_machine() {
        let out = gz(b"abc", 6);
        // ID1 ID2 CM FLG, MTIME 0, XFL, OS 255 (unknown).
        assert_eq!(&out[..8], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
        assert_eq!(out[9], 255);
    }
}
