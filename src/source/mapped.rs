//! A file read once from start to end through a memory map, for the zstd decoder of a second
//! pass ([`super::replay`]): its bytes are lent to the decoder in place, with no copy into a
//! buffer (the copy [`super::Prefetch`]'s reads make took a third of the other core there),
//! while a thread of its own maps the pages up to [`AHEAD`] bytes ahead of the reader, so that
//! the decoder takes no page faults, and drops the mapping of those behind it, so that the page
//! tables stay small however large the file. The page cache keeps the bytes either way.
//!
//! A file that shrinks meanwhile raises SIGBUS, which `signals` turns into "the input changed
//! while being read" (what was cut off reads as zeros).

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// How far ahead of the reader its pages are mapped.
const AHEAD: usize = 32 << 20;
/// Once [`AHEAD`] is mapped, the mapping thread sleeps until the reader used this much of it,
/// so it is woken once per `WAKE` bytes read: waking a sleeping thread costs the waker tens of
/// microseconds on a virtual machine. Pages behind the reader are dropped by as much at a time.
const WAKE: usize = 16 << 20;
const _: () = assert!(WAKE < AHEAD, "the reader would catch up with the mapping");
/// Bytes lent to the decoder at a time.
const LEND: usize = 1 << 20;

/// What the reader and the mapping thread share.
struct Shared {
    map: memmap2::Mmap,
    /// Bytes the reader consumed.
    read: AtomicUsize,
    /// How far the reader must get before it wakes the mapping thread (`usize::MAX` while
    /// that thread does not sleep).
    wake_at: AtomicUsize,
    /// The reader was dropped: the mapping thread stops.
    closed: AtomicBool,
}

/// A [`BufRead`] over a mapped file, its pages mapped ahead by a thread of its own.
pub struct MapAhead {
    shared: Arc<Shared>,
    pos: usize,
    mapper: std::thread::Thread,
}

impl MapAhead {
    /// Map `file` (an error when it cannot be mapped).
    pub fn new(file: &File) -> io::Result<MapAhead> {
        // SAFETY: the map is only read. Another process truncating the file while it is read
        // raises SIGBUS, which `signals` turns into "the input changed while being read".
        let map = unsafe { memmap2::Mmap::map(file)? };
        let shared = Arc::new(Shared {
            map,
            read: AtomicUsize::new(0),
            wake_at: AtomicUsize::new(usize::MAX),
            closed: AtomicBool::new(false),
        });
        let s = shared.clone();
        let mapper = std::thread::Builder::new()
            .name("ocislim-map".into())
            .spawn(move || s.map_ahead())?
            .thread()
            .clone();
        Ok(MapAhead {
            shared,
            pos: 0,
            mapper,
        })
    }
}

impl Shared {
    /// The mapping thread: map the pages ahead of the reader, drop those behind it, sleep
    /// between.
    fn map_ahead(&self) {
        let len = self.map.len();
        let (mut mapped, mut dropped) = (0, 0);
        while mapped < len && !self.closed.load(SeqCst) {
            let read = self.read.load(SeqCst);
            let behind = read / WAKE * WAKE;
            if behind > dropped {
                self.drop_range(dropped, behind);
                dropped = behind;
            }
            let until = len.min(read + AHEAD);
            if until > mapped {
                // Without MADV_POPULATE_READ (Linux before 5.14) the reader maps them itself.
                let _ =
                    self.map
                        .advise_range(memmap2::Advice::PopulateRead, mapped, until - mapped);
                mapped = until;
                continue;
            }
            self.wake_at.store(mapped + WAKE - AHEAD, SeqCst);
            if self.read.load(SeqCst) < mapped + WAKE - AHEAD && !self.closed.load(SeqCst) {
                std::thread::park();
            }
            self.wake_at.store(usize::MAX, SeqCst);
        }
    }

    fn drop_range(&self, start: usize, end: usize) {
        // SAFETY: a read-only shared mapping of a file: MADV_DONTNEED only drops page table
        // entries; the file's bytes are what any later access sees.
        let _ = unsafe {
            self.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        };
    }
}

impl Drop for MapAhead {
    fn drop(&mut self) {
        self.shared.closed.store(true, SeqCst);
        self.mapper.unpark();
    }
}

impl BufRead for MapAhead {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let end = self.shared.map.len().min(self.pos + LEND);
        Ok(&self.shared.map[self.pos..end])
    }

    fn consume(&mut self, n: usize) {
        self.pos = self.shared.map.len().min(self.pos + n);
        self.shared.read.store(self.pos, SeqCst);
        if self.pos >= self.shared.wake_at.load(SeqCst) {
            self.mapper.unpark();
        }
    }
}

impl Read for MapAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        super::compress::read_lent(self, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::{Duration, Instant};

    /// A file of `len` bytes that differ from their neighbours.
    fn file(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let data: Vec<u8> = (0..len)
            .map(|i| (i % 251) as u8 ^ (i >> 20) as u8)
            .collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        (f, data)
    }

    #[test]
    fn gives_the_files_bytes_whatever_the_read_sizes() {
        let (f, data) = file(AHEAD + 3 * WAKE + 12345);
        for step in [LEND, 4096 * 3 + 1, 10 << 20] {
            let mut m = MapAhead::new(f.as_file()).unwrap();
            let mut got = Vec::new();
            let mut buf = vec![0u8; step];
            loop {
                let n = m.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert!(got == data, "read {step} at a time");
        }
    }

    #[test]
    fn dropping_it_part_way_ends_its_mapping_thread() {
        let (f, _) = file(AHEAD + 2 * WAKE);
        let mut m = MapAhead::new(f.as_file()).unwrap();
        m.consume(LEND);
        let shared = Arc::downgrade(&m.shared);
        std::thread::sleep(Duration::from_millis(100)); // it maps AHEAD, then sleeps
        drop(m);
        let start = Instant::now();
        while shared.upgrade().is_some() {
            assert!(start.elapsed() < Duration::from_secs(60), "still running");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn an_empty_file_gives_nothing() {
        let (f, _) = file(0);
        if let Ok(mut m) = MapAhead::new(f.as_file()) {
            assert_eq!(m.fill_buf().unwrap(), b"");
        }
    }
}
