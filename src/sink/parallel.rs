//! The fast path of every verb that writes a tar file: copying the kept blobs of uncompressed
//! input files (one or several) into an uncompressed output file, verifying their digests on the
//! way, on every core.
//!
//! The output's layout is known before a byte is written, so every blob is cut into 1 MiB
//! pieces with known output offsets, and the work is of two kinds: writing pieces, in any order
//! and by any thread, and hashing streams — a blob's bytes to check its digest, or the whole
//! output for its sha256 — each of which is sequential. Streams are dealt to the threads
//! largest first (a thread out of streams takes one not yet started from the busiest other),
//! and each thread hashes two streams at once where it can ([`Hasher::update_pair`], 1.5× the
//! throughput of one). Writes fill the rest: a thread writes a piece (preferably one it just
//! hashed, still in its cache) whenever its own hashing left is less than its share of all the
//! work left, costed with the hashing and writing speeds measured so far. So the threads finish
//! together, however many blobs of whatever sizes, and no thread waits on another. Bytes are
//! taken from the input's memory map when there is one (hashing and writing read the page cache
//! directly, no copy into a buffer), else read into per-thread buffers. The output is
//! preallocated first.
//!
//! Why not `copy_file_range` for everything: the tar layout puts a blob's bytes at a different
//! offset modulo the page size in the output than in the input almost always, and the kernel's
//! copy then touches every output page twice (measured: 1.5× the time of a page-aligned copy),
//! while a positioned write from a user buffer fills each output page once. The in-kernel copy
//! is still used where it wins: blobs that need no hashing and whose offsets agree modulo the
//! page size (for example when re-filtering an output of ocislim).

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};
use crate::source::map_range;
use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// Bytes hashed or written at a time: small enough to stay in a core's L2 cache.
const CHUNK: u64 = 1 << 20;
/// The page size that decides whether an in-kernel copy is aligned.
const PAGE: u64 = 4096;
/// Zeros, for gaps in the output that nothing is written to (the output's digest hashes them).
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// A piece's state, bit by bit.
const CLAIMED: u8 = 1;
const WRITTEN: u8 = 2;
const HASHED: u8 = 4;
const OUT_HASHED: u8 = 8;

/// One blob to copy: `len` bytes at `in_off` of `input` go to `out_off` of the output.
pub struct Job<'a> {
    /// The input file that holds it (jobs may come from several inputs).
    pub input: &'a File,
    /// The member name, for errors.
    pub member: &'a str,
    pub in_off: u64,
    pub out_off: u64,
    pub len: u64,
    /// The digest the bytes must have; `None` copies without hashing.
    pub expect: Option<&'a Digest>,
}

/// Bytes made in memory (tar headers, padding, rewritten documents) and where they go.
pub struct Fixed<'a> {
    pub out_off: u64,
    pub bytes: &'a [u8],
}

/// Copy `jobs` (each from its input) to `out` and write `fixed`, verifying every job that has an
/// expected digest, and return the sha256 of the whole output when `digest_output`. Bytes are
/// taken from `map` (the input mapped) when given, and every mapped piece is passed to `release`
/// once nothing more needs it. `progress` is called with each number of blob bytes written. On
/// error the output holds garbage: the caller throws it away.
#[allow(clippy::too_many_arguments)]
pub fn copy_all(
    map: Option<&[u8]>,
    out: &File,
    fixed: &[Fixed<'_>],
    mut jobs: Vec<Job<'_>>,
    digest_output: bool,
    progress: &(dyn Fn(u64) + Sync),
    release: &(dyn Fn(&[u8]) + Sync),
) -> Result<Option<Digest>> {
    let total = fixed
        .iter()
        .map(|f| f.out_off.saturating_add(f.bytes.len() as u64))
        .chain(jobs.iter().map(|j| j.out_off.saturating_add(j.len)))
        .max()
        .unwrap_or(0);
    preallocate(out, total).map_err(|e| Error::io("output", e))?;
    for f in fixed {
        out.write_all_at(f.bytes, f.out_off)
            .map_err(|e| Error::io("output", e))?;
    }
    jobs.sort_by_key(|j| j.out_off);
    // No more threads than pieces to write or streams to hash.
    let pieces: u64 = jobs.iter().map(|j| j.len.div_ceil(CHUNK)).sum();
    let streams = jobs.iter().filter(|j| j.expect.is_some()).count() + usize::from(digest_output);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
        .min(
            usize::try_from(pieces)
                .unwrap_or(usize::MAX)
                .max(streams)
                .max(1),
        );
    let work = Work::new(map, out, fixed, &jobs, digest_output, threads, total);
    let ctx = Ctx {
        work: &work,
        progress,
        release,
    };
    let copied = std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let ctx = &ctx;
                s.spawn(move || {
                    let r = ctx.run(t);
                    if r.is_err() {
                        ctx.work.abort.store(true, Ordering::Relaxed);
                    }
                    r
                })
            })
            .collect();
        let mut first = Ok(());
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(Error::format("output", "copy thread failed")));
            if first.is_ok() {
                first = r;
            }
        }
        first
    });
    ctx.release_pending();
    copied?;
    Ok(work
        .out_digest
        .into_inner()
        .unwrap_or_else(|e| e.into_inner()))
}

/// A unit of writing: `len` bytes at `off` into job `job`.
struct Piece {
    job: usize,
    off: u64,
    len: u64,
    /// The release group it belongs to.
    group: usize,
}

/// Consecutive pieces of a job whose mapped bytes are released together, once all of them are
/// done with: one `madvise` (and one TLB flush on every core) per 8 MiB rather than per piece.
struct Group {
    off: u64,
    len: u64,
    pieces: usize,
    done: AtomicUsize,
}

/// Pieces per release group.
const GROUP: u64 = 8;
/// Released ranges this close together are released as one.
const RELEASE_GAP: u64 = 64 << 10;

/// What a hash stream covers.
#[derive(Clone, Copy)]
enum Stream {
    /// A blob, to check its digest.
    Blob(usize),
    /// The whole output, in order, for its sha256.
    Output,
}

/// A stretch of the output, for the output's digest.
enum Seg<'a> {
    Fixed(&'a [u8]),
    Job(usize),
    Zeros(u64),
}

/// The work shared by the threads.
struct Work<'a> {
    out: &'a File,
    map: Option<&'a [u8]>,
    jobs: &'a [Job<'a>],
    pieces: Vec<Piece>,
    groups: Vec<Group>,
    /// Job `j`'s pieces are `first_piece[j]..first_piece[j + 1]`.
    first_piece: Vec<usize>,
    flags: Vec<AtomicU8>,
    /// The output in order, when its digest is wanted.
    segs: Vec<Seg<'a>>,
    streams: Vec<(Stream, u64)>,
    /// Streams not yet started, per thread, largest first.
    queues: Vec<Mutex<VecDeque<usize>>>,
    /// Bytes each thread has left to hash (its queue and its streams under way).
    hash_left: Vec<AtomicU64>,
    /// Bytes not yet claimed for writing.
    write_left: AtomicU64,
    /// Every piece before this one is claimed.
    next_write: AtomicUsize,
    /// Pieces hashed and perhaps not yet written, the last hashed last.
    hashed: Mutex<Vec<usize>>,
    /// Held while writing (see [`Ctx::run`]).
    writing: Mutex<()>,
    /// Whether copy_file_range works between these files (cleared at its first refusal).
    kernel_ok: AtomicBool,
    digest_output: bool,
    /// Each thread's hashing speed (two streams at once hash faster than one).
    hash_rate: Vec<Rate>,
    write_rate: Rate,
    abort: AtomicBool,
    out_digest: Mutex<Option<Digest>>,
    /// Input bytes done with but not yet released (see [`Ctx::release_range`]).
    pending: Mutex<(Vec<(u64, u64)>, u64)>,
}

impl<'a> Work<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        map: Option<&'a [u8]>,
        out: &'a File,
        fixed: &'a [Fixed<'a>],
        jobs: &'a [Job<'a>],
        digest_output: bool,
        threads: usize,
        total: u64,
    ) -> Work<'a> {
        let mut pieces = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut first_piece = Vec::with_capacity(jobs.len() + 1);
        for (j, job) in jobs.iter().enumerate() {
            first_piece.push(pieces.len());
            let mut off = 0;
            while off < job.len {
                let len = (job.len - off).min(CHUNK);
                if off % (GROUP * CHUNK) == 0 {
                    groups.push(Group {
                        off,
                        len: 0,
                        pieces: 0,
                        done: AtomicUsize::new(0),
                    });
                }
                let group = groups.len() - 1;
                groups[group].len += len;
                groups[group].pieces += 1;
                pieces.push(Piece {
                    job: j,
                    off,
                    len,
                    group,
                });
                off += len;
            }
        }
        first_piece.push(pieces.len());
        let mut streams: Vec<(Stream, u64)> = jobs
            .iter()
            .enumerate()
            .filter(|(_, j)| j.expect.is_some())
            .map(|(i, j)| (Stream::Blob(i), j.len))
            .collect();
        let mut segs = Vec::new();
        if digest_output {
            streams.push((Stream::Output, total));
            segs = output_segs(fixed, jobs, total);
        }
        // Deal the streams largest first, each to the thread with the least so far.
        streams.sort_by_key(|s| std::cmp::Reverse(s.1));
        let mut queues = vec![VecDeque::new(); threads];
        let mut load = vec![0u64; threads];
        for (i, (_, len)) in streams.iter().enumerate() {
            let t = (0..threads).min_by_key(|&t| (load[t], t)).unwrap_or(0);
            queues[t].push_back(i);
            load[t] += len;
        }
        let write_left = jobs.iter().map(|j| j.len).sum();
        Work {
            out,
            map,
            jobs,
            flags: pieces.iter().map(|_| AtomicU8::new(0)).collect(),
            pieces,
            groups,
            first_piece,
            segs,
            streams,
            queues: queues.into_iter().map(Mutex::new).collect(),
            hash_left: load.into_iter().map(AtomicU64::new).collect(),
            write_left: AtomicU64::new(write_left),
            next_write: AtomicUsize::new(0),
            hashed: Mutex::new(Vec::new()),
            writing: Mutex::new(()),
            kernel_ok: AtomicBool::new(true),
            digest_output,
            // 0.4 ns a byte hashing (two streams at once), 0.15 writing.
            hash_rate: (0..threads).map(|_| Rate::new(400)).collect(),
            write_rate: Rate::new(150),
            abort: AtomicBool::new(false),
            out_digest: Mutex::new(None),
            pending: Mutex::new((Vec::new(), 0)),
        }
    }
}

/// The output from 0 to `total` as fixed bytes, blobs and the gaps between them.
fn output_segs<'a>(fixed: &'a [Fixed<'a>], jobs: &[Job<'_>], total: u64) -> Vec<Seg<'a>> {
    let mut parts: Vec<(u64, u64, Seg<'a>)> = fixed
        .iter()
        .filter(|f| !f.bytes.is_empty())
        .map(|f| (f.out_off, f.bytes.len() as u64, Seg::Fixed(f.bytes)))
        .chain(
            jobs.iter()
                .enumerate()
                .filter(|(_, j)| j.len > 0)
                .map(|(i, j)| (j.out_off, j.len, Seg::Job(i))),
        )
        .collect();
    parts.sort_by_key(|p| p.0);
    let mut segs = Vec::with_capacity(parts.len());
    let mut at = 0;
    for (off, len, seg) in parts {
        if off > at {
            segs.push(Seg::Zeros(off - at));
        }
        segs.push(seg);
        at = at.max(off + len);
    }
    if total > at {
        segs.push(Seg::Zeros(total - at));
    }
    segs
}

/// Nanoseconds per byte of some kind of work, measured as the copy goes (starting from a rough
/// figure), to cost the work left.
struct Rate {
    ns: AtomicU64,
    bytes: AtomicU64,
}

impl Rate {
    /// A start of `ns_per_kib` nanoseconds a KiB, weighing as much as 4 MiB measured.
    fn new(ns_per_kib: u64) -> Rate {
        Rate {
            ns: AtomicU64::new(4096 * ns_per_kib),
            bytes: AtomicU64::new(4 * CHUNK),
        }
    }

    fn add(&self, since: Instant, n: u64) {
        self.ns
            .fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    fn per_byte(&self) -> f64 {
        self.ns.load(Ordering::Relaxed) as f64 / self.bytes.load(Ordering::Relaxed).max(1) as f64
    }
}

/// A stream being hashed by a thread.
struct Active {
    stream: usize,
    hasher: Hasher,
    /// For a blob, the bytes hashed; for the output, within the current segment.
    pos: u64,
    /// For the output: the current segment.
    seg: usize,
}

/// Where a thread hashes: up to two streams, and a buffer each for when nothing is mapped.
#[derive(Default)]
struct Slot {
    active: Option<Active>,
    buf: Vec<u8>,
}

/// The next bytes of a stream, and the piece they complete (with the bit to set), if any.
struct Next<'b> {
    bytes: &'b [u8],
    piece: Option<(usize, u8)>,
}

/// The shared work and the caller's callbacks.
struct Ctx<'a> {
    work: &'a Work<'a>,
    progress: &'a (dyn Fn(u64) + Sync),
    release: &'a (dyn Fn(&[u8]) + Sync),
}

impl<'a> Ctx<'a> {
    /// Thread `t`: hash and write until nothing is left. `Ok` also when stopped because another
    /// thread failed.
    fn run(&self, t: usize) -> Result<()> {
        let w = self.work;
        let mut slots = [Slot::default(), Slot::default()];
        let mut buf = Vec::new();
        loop {
            if w.abort.load(Ordering::Relaxed) {
                return Ok(());
            }
            for slot in &mut slots {
                if slot.active.is_none() {
                    slot.active = self.take_stream(t, false);
                }
            }
            // Out of streams of its own, a thread takes one from another thread, but not to pair
            // it with one it has: pairing slows each of the two, and the stream it has may be
            // the one all wait for (the output's digest, say).
            if slots.iter().all(|s| s.active.is_none()) {
                slots[0].active = self.take_stream(t, true);
            }
            let hashing = slots.iter().any(|s| s.active.is_some());
            if !hashing || self.should_write(t) {
                // One writer at a time: concurrent writes to one file only queue on its inode
                // lock (spinning, measured: a fifth of all CPU time). A thread with hashing to
                // do does that rather than wait its turn; one without reads the bytes first and
                // then waits (taking the turn first would let it take it again and again while
                // the other thread waits, and no reading would overlap a write).
                let turn = match hashing.then(|| w.writing.try_lock()) {
                    Some(Ok(g)) => Some(g),
                    Some(Err(std::sync::TryLockError::Poisoned(e))) => Some(e.into_inner()),
                    Some(Err(std::sync::TryLockError::WouldBlock)) | None => None,
                };
                if turn.is_some() || !hashing {
                    if let Some(p) = self.claim(!hashing) {
                        self.write(p, &mut buf, turn)?;
                        continue;
                    }
                    if !hashing {
                        return Ok(());
                    }
                }
            }
            self.hash_step(t, &mut slots)?;
        }
    }

    /// The next stream for thread `t`: its own, or else, if `steal`, one not yet started from
    /// the thread with the most hashing left.
    fn take_stream(&self, t: usize, steal: bool) -> Option<Active> {
        let w = self.work;
        let own = lock(&w.queues[t]).pop_front();
        let id = match own {
            Some(id) => id,
            None if !steal => return None,
            None => {
                let victim = (0..w.queues.len())
                    .filter(|&v| v != t && !lock(&w.queues[v]).is_empty())
                    .max_by_key(|&v| w.hash_left[v].load(Ordering::Relaxed))?;
                let id = lock(&w.queues[victim]).pop_back()?;
                let len = w.streams[id].1;
                w.hash_left[victim].fetch_sub(len, Ordering::Relaxed);
                w.hash_left[t].fetch_add(len, Ordering::Relaxed);
                id
            }
        };
        let algorithm = match w.streams[id].0 {
            Stream::Blob(j) => w.jobs[j]
                .expect
                .map_or(Algorithm::Sha256, |d| d.algorithm()),
            Stream::Output => Algorithm::Sha256,
        };
        Some(Active {
            stream: id,
            hasher: Hasher::new(algorithm),
            pos: 0,
            seg: 0,
        })
    }

    /// Whether thread `t` should write now: its hashing left is less than its share of all the
    /// work left.
    fn should_write(&self, t: usize) -> bool {
        let w = self.work;
        let cost =
            |u: usize| w.hash_left[u].load(Ordering::Relaxed) as f64 * w.hash_rate[u].per_byte();
        let all = (0..w.queues.len()).map(cost).sum::<f64>()
            + w.write_left.load(Ordering::Relaxed) as f64 * w.write_rate.per_byte();
        cost(t) * (w.queues.len() as f64) < all
    }

    /// A piece to write: the one hashed last that is still unclaimed (its bytes are likely
    /// still in a cache: writing from memory costs half as much again), else, if `cold`, the
    /// first unclaimed piece in output order.
    fn claim(&self, cold: bool) -> Option<usize> {
        let w = self.work;
        let try_claim = |p: usize| w.flags[p].fetch_or(CLAIMED, Ordering::AcqRel) & CLAIMED == 0;
        {
            let mut hashed = lock(&w.hashed);
            while let Some(p) = hashed.pop() {
                if !self.verified(p) && try_claim(p) {
                    return Some(p);
                }
            }
        }
        if !cold {
            return None;
        }
        let mut p = w.next_write.load(Ordering::Relaxed);
        while p < w.pieces.len() {
            if w.flags[p].load(Ordering::Relaxed) & CLAIMED == 0
                && !self.verified(p)
                && try_claim(p)
            {
                w.next_write.fetch_max(p + 1, Ordering::Relaxed);
                return Some(p);
            }
            p += 1;
        }
        w.next_write.fetch_max(p, Ordering::Relaxed);
        None
    }

    /// Write piece `p` at its offset, in this thread's `turn` to write, or waiting for it once
    /// the bytes are at hand.
    fn write(&self, p: usize, buf: &mut Vec<u8>, turn: Option<MutexGuard<'_, ()>>) -> Result<()> {
        let w = self.work;
        let start = Instant::now();
        let piece = &w.pieces[p];
        let job = &w.jobs[piece.job];
        w.write_left.fetch_sub(piece.len, Ordering::Relaxed);
        let (_, at) = self.piece_at(piece.job, piece.off);
        let kernel = job.expect.is_none()
            && at.in_off % PAGE == at.out_off % PAGE
            && w.kernel_ok.load(Ordering::Relaxed);
        let mut turn = turn;
        let copied = kernel && {
            let _turn = turn.take().unwrap_or_else(|| lock(&w.writing));
            self.kernel_copy(&at)?
        };
        if !copied {
            let bytes = self.bytes(&at, buf)?;
            self.put(bytes, at.out_off, turn)?;
        }
        self.written(p, piece.len, start);
        Ok(())
    }

    /// Write `bytes` at `off` of the output, in this thread's `turn` or waiting for it.
    fn put(&self, bytes: &[u8], off: u64, turn: Option<MutexGuard<'_, ()>>) -> Result<()> {
        let _turn = turn.unwrap_or_else(|| lock(&self.work.writing));
        self.work
            .out
            .write_all_at(bytes, off)
            .map_err(|e| Error::io("output", e))
    }

    /// Piece `p`, `len` bytes whose writing began at `start`, is written.
    fn written(&self, p: usize, len: u64, start: Instant) {
        self.work.write_rate.add(start, len);
        (self.progress)(len);
        self.mark(p, WRITTEN);
    }

    /// Whether piece `p` belongs to a blob whose digest is checked: such a piece is written only
    /// by the thread that hashed it, from the very buffer it hashed (see [`Ctx::write_hashed`]).
    fn verified(&self, p: usize) -> bool {
        self.work.jobs[self.work.pieces[p].job].expect.is_some()
    }

    /// Write piece `p`, just hashed from `bytes`, from those same bytes: what is written is what
    /// was hashed, whatever happens to the input meanwhile.
    fn write_hashed(&self, p: usize, bytes: &[u8]) -> Result<()> {
        let w = self.work;
        w.flags[p].fetch_or(CLAIMED, Ordering::AcqRel);
        let start = Instant::now();
        let (_, at) = self.piece_at(w.pieces[p].job, w.pieces[p].off);
        w.write_left.fetch_sub(at.len, Ordering::Relaxed);
        self.put(bytes, at.out_off, None)?;
        self.written(p, at.len, start);
        Ok(())
    }

    /// [`kernel_copy`], remembering a refusal so that nobody asks again.
    fn kernel_copy(&self, at: &Job<'_>) -> Result<bool> {
        let copied = kernel_copy(at.input, self.work.out, at)?;
        if !copied {
            self.work.kernel_ok.store(false, Ordering::Relaxed);
        }
        Ok(copied)
    }

    /// The input bytes of `at`: mapped, or read into `buf`.
    fn bytes<'b>(&self, at: &Job<'_>, buf: &'b mut Vec<u8>) -> Result<&'b [u8]>
    where
        'a: 'b,
    {
        if let Some(map) = self.work.map {
            return map_range(map, at.member, at.in_off, at.len);
        }
        buf.resize(at.len as usize, 0);
        at.input
            .read_exact_at(buf, at.in_off)
            .map_err(|e| Error::io(at.member, e))?;
        Ok(buf)
    }

    /// The input bytes of `at` read into `buf`, which nothing else can change: a shared mapping
    /// shows any change another process makes to the file, so bytes hashed from it and then
    /// written from it could differ. (A positioned read costs the same as copying out of the
    /// map, and faults in no pages: measured side by side, the verified copy takes 1.02× the
    /// time it took hashing and writing straight from the map.)
    fn private_bytes<'b>(&self, at: &Job<'_>, buf: &'b mut Vec<u8>) -> Result<&'b [u8]> {
        buf.resize(at.len as usize, 0);
        at.input
            .read_exact_at(buf, at.in_off)
            .map_err(|e| Error::io(at.member, e))?;
        Ok(buf)
    }

    /// Set `bit` on piece `p`; whoever completes what the last piece of a group needs releases
    /// the group's bytes.
    fn mark(&self, p: usize, bit: u8) {
        let w = self.work;
        let Some(map) = w.map else {
            return;
        };
        let piece = &w.pieces[p];
        let job = &w.jobs[piece.job];
        let mut need = WRITTEN;
        if job.expect.is_some() {
            need |= HASHED;
        }
        if w.digest_output {
            need |= OUT_HASHED;
        }
        let before = w.flags[p].fetch_or(bit, Ordering::AcqRel);
        if before & need == need || (before | bit) & need != need {
            return;
        }
        let g = &w.groups[piece.group];
        if g.done.fetch_add(1, Ordering::AcqRel) + 1 == g.pieces {
            let start = job.in_off + g.off;
            self.release_range(map, start, start + g.len);
        }
    }

    /// Release input bytes `start..end` of the map. Small ranges wait until 8 MiB of them have
    /// gathered and are then released sorted, neighbours together: blobs of a few KiB would
    /// otherwise cost a `madvise` (and a TLB flush on every core) each. Releasing a little more
    /// than was used (the tar headers between two blobs) costs nothing: bytes released and read
    /// again are simply mapped again.
    fn release_range(&self, map: &[u8], start: u64, end: u64) {
        if end - start >= CHUNK {
            self.release_now(map, start, end);
            return;
        }
        let ranges = {
            let mut pending = lock(&self.work.pending);
            pending.0.push((start, end));
            pending.1 += end - start;
            if pending.1 < GROUP * CHUNK {
                return;
            }
            pending.1 = 0;
            std::mem::take(&mut pending.0)
        };
        self.release_sorted(map, ranges);
    }

    /// Release `ranges`, those within [`RELEASE_GAP`] of each other as one.
    fn release_sorted(&self, map: &[u8], mut ranges: Vec<(u64, u64)>) {
        ranges.sort_unstable();
        let mut run: Option<(u64, u64)> = None;
        for (s, e) in ranges {
            run = match run {
                Some((rs, re)) if s <= re + RELEASE_GAP => Some((rs, re.max(e))),
                Some((rs, re)) => {
                    self.release_now(map, rs, re);
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        if let Some((rs, re)) = run {
            self.release_now(map, rs, re);
        }
    }

    fn release_now(&self, map: &[u8], start: u64, end: u64) {
        if let Some(bytes) = map.get(start as usize..end as usize) {
            (self.release)(bytes);
        }
    }

    /// Release what [`Ctx::release_range`] still holds back.
    fn release_pending(&self) {
        let ranges = std::mem::take(&mut lock(&self.work.pending).0);
        if let Some(map) = self.work.map {
            self.release_sorted(map, ranges);
        }
    }

    /// The piece of job `j` at `pos`, as the input range to read.
    fn piece_at(&self, j: usize, pos: u64) -> (usize, Job<'a>) {
        let job = &self.work.jobs[j];
        let p = self.work.first_piece[j] + (pos / CHUNK) as usize;
        let at = Job {
            input: job.input,
            member: job.member,
            in_off: job.in_off + pos,
            out_off: job.out_off + pos,
            len: (job.len - pos).min(CHUNK),
            expect: None,
        };
        (p, at)
    }

    /// The next bytes of stream `a`, or `None` at its end.
    fn next<'b>(&self, a: &Active, buf: &'b mut Vec<u8>) -> Result<Option<Next<'b>>>
    where
        'a: 'b,
    {
        let w = self.work;
        match w.streams[a.stream].0 {
            Stream::Blob(j) => {
                if a.pos >= w.jobs[j].len {
                    return Ok(None);
                }
                let (p, at) = self.piece_at(j, a.pos);
                Ok(Some(Next {
                    bytes: self.private_bytes(&at, buf)?,
                    piece: Some((p, HASHED)),
                }))
            }
            Stream::Output => {
                let Some(seg) = w.segs.get(a.seg) else {
                    return Ok(None);
                };
                Ok(Some(match seg {
                    Seg::Fixed(b) => Next {
                        bytes: b,
                        piece: None,
                    },
                    Seg::Zeros(n) => Next {
                        bytes: &ZEROS[..(n - a.pos).min(ZEROS.len() as u64) as usize],
                        piece: None,
                    },
                    Seg::Job(j) => {
                        let (p, at) = self.piece_at(*j, a.pos);
                        Next {
                            bytes: self.bytes(&at, buf)?,
                            piece: Some((p, OUT_HASHED)),
                        }
                    }
                }))
            }
        }
    }

    /// Stream `a` has hashed `n` more bytes (all of what [`Ctx::next`] gave).
    fn advance(&self, a: &mut Active, n: u64) {
        a.pos += n;
        if let Stream::Output = self.work.streams[a.stream].0 {
            let seg_len = match &self.work.segs[a.seg] {
                Seg::Fixed(b) => b.len() as u64,
                Seg::Zeros(n) => *n,
                Seg::Job(j) => self.work.jobs[*j].len,
            };
            if a.pos >= seg_len {
                a.seg += 1;
                a.pos = 0;
            }
        }
    }

    /// A stream has ended: check the blob's digest, or keep the output's.
    fn finish(&self, a: Active) -> Result<()> {
        let w = self.work;
        let actual = a.hasher.finish();
        match w.streams[a.stream].0 {
            Stream::Blob(j) => match w.jobs[j].expect {
                Some(expect) => crate::digest::check::compare(expect, actual),
                None => Ok(()),
            },
            Stream::Output => {
                *lock(&w.out_digest) = Some(actual);
                Ok(())
            }
        }
    }

    /// Hash the next bytes of this thread's streams, two at once when there are two.
    fn hash_step(&self, t: usize, slots: &mut [Slot; 2]) -> Result<()> {
        let w = self.work;
        let start = Instant::now();
        let [s0, s1] = slots;
        let n0 = match &s0.active {
            Some(a) => self.next(a, &mut s0.buf)?,
            None => None,
        };
        let n1 = match &s1.active {
            Some(a) => self.next(a, &mut s1.buf)?,
            None => None,
        };
        let mut done = 0u64;
        match (&n0, &n1, &mut s0.active, &mut s1.active) {
            (Some(x), Some(y), Some(a), Some(b)) => {
                Hasher::update_pair(&mut a.hasher, x.bytes, &mut b.hasher, y.bytes);
            }
            (Some(x), _, Some(a), _) => a.hasher.update(x.bytes),
            (_, Some(y), _, Some(b)) => b.hasher.update(y.bytes),
            _ => {}
        }
        for (next, slot) in [(n0, &mut s0.active), (n1, &mut s1.active)] {
            match next {
                Some(next) => {
                    let n = next.bytes.len() as u64;
                    done += n;
                    if let Some(a) = slot.as_mut() {
                        self.advance(a, n);
                    }
                    if let Some((p, bit)) = next.piece {
                        if bit == HASHED {
                            self.write_hashed(p, next.bytes)?;
                        }
                        self.mark(p, bit);
                        if w.flags[p].load(Ordering::Relaxed) & CLAIMED == 0 {
                            lock(&w.hashed).push(p);
                        }
                    }
                }
                None => {
                    if let Some(a) = slot.take() {
                        self.finish(a)?;
                    }
                }
            }
        }
        let _ = w.hash_left[t].fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(v.saturating_sub(done))
        });
        w.hash_rate[t].add(start, done);
        Ok(())
    }
}

/// Lock `m`; a poisoned lock only means another thread panicked, and what it guards is intact.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Copy a job in the kernel at explicit offsets. `Ok(false)` when the kernel cannot (another
/// file system, an old kernel): the caller copies through user space.
fn kernel_copy(input: &File, out: &File, job: &Job<'_>) -> Result<bool> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        let mut done = 0u64;
        while done < job.len {
            let mut off_in = (job.in_off + done) as libc::loff_t;
            let mut off_out = (job.out_off + done) as libc::loff_t;
            let want = (job.len - done).min(1 << 30) as usize;
            // SAFETY: both descriptors are open files borrowed for the call; the offsets are
            // valid pointers to locals.
            let n = unsafe {
                libc::copy_file_range(
                    input.as_raw_fd(),
                    &mut off_in,
                    out.as_raw_fd(),
                    &mut off_out,
                    want,
                    0,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ENOSYS)
                    | Some(libc::EXDEV)
                    | Some(libc::EINVAL)
                    | Some(libc::EOPNOTSUPP)
                    | Some(libc::EBADF)
                        if done == 0 =>
                    {
                        return Ok(false)
                    }
                    _ => return Err(Error::io(job.member, e)),
                }
            }
            if n == 0 {
                return Err(Error::io(
                    job.member,
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "input ended inside a member",
                    ),
                ));
            }
            done += n as u64;
        }
        Ok(true)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (input, out, job);
        Ok(false)
    }
}

/// Reserve the output's blocks before writing it: buffered writes into allocated blocks cost the
/// file system less than delayed allocation does (measured: 20 % less time writing 0.45 GB on
/// ext4), and a disk too small fails at once. File systems that cannot are left alone.
fn preallocate(out: &File, len: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        if len == 0 {
            return Ok(());
        }
        let Ok(len) = libc::off_t::try_from(len) else {
            return Ok(());
        };
        // SAFETY: a plain system call on a descriptor borrowed for its duration.
        let r = unsafe { libc::fallocate(out.as_raw_fd(), 0, 0, len) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOSPC) | Some(libc::EFBIG) | Some(libc::EIO) => Err(e),
                _ => Ok(()),
            };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (out, len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn map_file(f: &File) -> memmap2::Mmap {
        // SAFETY: a test's own temporary file, not changed while mapped.
        unsafe { memmap2::Mmap::map(f) }.unwrap()
    }

    /// Deterministic bytes.
    fn bytes(n: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    struct Case {
        input: tempfile::NamedTempFile,
        data: Vec<u8>,
        /// (in_off, out_off, len, digest)
        blobs: Vec<(u64, u64, u64, Digest)>,
        header: Vec<u8>,
        total: u64,
    }

    /// Blobs of awkward sizes (empty, one byte, a chunk and a bit, several chunks) at input
    /// offsets that are and are not congruent with their output offsets modulo the page size.
    fn case(shift: u64) -> Case {
        let sizes = [
            0usize,
            1,
            511,
            4096,
            CHUNK as usize + 7,
            3 * CHUNK as usize,
            70_000,
        ];
        let mut data = bytes(1000, 99);
        let mut blobs = Vec::new();
        let mut out = 512u64;
        for (i, n) in sizes.iter().enumerate() {
            let b = bytes(*n, i as u32 + 1);
            let in_off = data.len() as u64;
            data.extend_from_slice(&b);
            data.extend_from_slice(&bytes(333, 7));
            blobs.push((in_off, out + shift, *n as u64, Digest::sha256_of(&b)));
            out += shift + *n as u64;
        }
        let mut input = tempfile::NamedTempFile::new().unwrap();
        input.write_all(&data).unwrap();
        Case {
            input,
            data,
            blobs,
            header: bytes(512, 5),
            total: out + shift + 3,
        }
    }

    fn run(c: &Case, verify: bool, map: bool, corrupt: Option<usize>) -> Result<Vec<u8>> {
        let (got, digest) = run_digest(c, verify, map, corrupt, false)?;
        assert!(digest.is_none());
        Ok(got)
    }

    /// Copy `c` as told and read the output back, with the output's digest if asked for.
    fn run_digest(
        c: &Case,
        verify: bool,
        map: bool,
        corrupt: Option<usize>,
        digest_output: bool,
    ) -> Result<(Vec<u8>, Option<Digest>)> {
        let out = tempfile::tempfile().unwrap();
        let mut digests: Vec<Digest> = c.blobs.iter().map(|b| b.3.clone()).collect();
        if let Some(i) = corrupt {
            digests[i] = Digest::sha256_of(b"something else");
        }
        let jobs = c
            .blobs
            .iter()
            .zip(&digests)
            .map(|(b, d)| Job {
                input: c.input.as_file(),
                member: "blob",
                in_off: b.0,
                out_off: b.1,
                len: b.2,
                expect: verify.then_some(d),
            })
            .collect();
        let tail = [0u8; 3];
        let fixed = [
            Fixed {
                out_off: 0,
                bytes: &c.header,
            },
            Fixed {
                out_off: c.total - 3,
                bytes: &tail,
            },
        ];
        let m = map.then(|| map_file(c.input.as_file()));
        let counted = AtomicUsize::new(0);
        let base = m.as_deref().map_or(0, |m| m.as_ptr() as usize);
        let released = std::sync::Mutex::new(vec![false; c.data.len()]);
        let digest = copy_all(
            m.as_deref(),
            &out,
            &fixed,
            jobs,
            digest_output,
            &|n| {
                counted.fetch_add(n as usize, Ordering::Relaxed);
            },
            &|b| {
                let start = b.as_ptr() as usize - base;
                released.lock().unwrap()[start..start + b.len()].fill(true);
            },
        )?;
        let want: u64 = c.blobs.iter().map(|b| b.2).sum();
        assert_eq!(counted.load(Ordering::Relaxed) as u64, want);
        // Every mapped byte of every blob is released (with neighbours), and nothing unmapped.
        let released = released.into_inner().unwrap();
        for (i, _, n, _) in &c.blobs {
            let (i, n) = (*i as usize, *n as usize);
            assert!(released[i..i + n].iter().all(|r| *r == map), "blob at {i}");
        }
        assert!(map || !released.contains(&true));
        let mut got = vec![0u8; c.total as usize];
        out.read_exact_at(&mut got, 0).unwrap();
        Ok((got, digest))
    }

    fn expected(c: &Case) -> Vec<u8> {
        let mut e = vec![0u8; c.total as usize];
        e[..512].copy_from_slice(&c.header);
        for (i, o, n, _) in &c.blobs {
            let (i, o, n) = (*i as usize, *o as usize, *n as usize);
            e[o..o + n].copy_from_slice(&c.data[i..i + n]);
        }
        e
    }

    #[test]
    fn every_way_of_copying_writes_the_same_bytes_and_digest() {
        for shift in [0, 512, 1000] {
            let c = case(shift);
            let want = expected(&c);
            let sha = Digest::sha256_of(&want);
            for (verify, map, out) in [true, false]
                .into_iter()
                .flat_map(|v| [(v, true), (v, false)])
                .flat_map(|(v, m)| [(v, m, true), (v, m, false)])
            {
                let (got, digest) = run_digest(&c, verify, map, None, out).unwrap();
                assert!(
                    got == want,
                    "shift {shift} verify {verify} map {map} out {out}"
                );
                assert_eq!(digest, out.then(|| sha.clone()), "shift {shift}");
            }
        }
    }

    #[test]
    fn the_output_digest_covers_fixed_bytes_and_gaps() {
        // No blobs at all: the fixed bytes alone (and the zeros between them).
        let c = Case {
            blobs: Vec::new(),
            ..case(0)
        };
        let (got, digest) = run_digest(&c, true, false, None, true).unwrap();
        assert_eq!(digest, Some(Digest::sha256_of(&got)));
        assert_eq!(got, expected(&c));
    }

    #[test]
    fn congruent_offsets_are_copied_in_the_kernel_correctly() {
        // Output offsets equal to the input offsets: every unverified job takes kernel_copy.
        let mut c = case(0);
        for b in &mut c.blobs {
            b.1 = b.0 + 4096;
        }
        c.total = c.data.len() as u64 + 4096 + 3;
        let want = expected(&c);
        assert!(run(&c, false, false, None).unwrap() == want);
        let job = Job {
            input: c.input.as_file(),
            member: "m",
            in_off: c.blobs[5].0,
            out_off: c.blobs[5].1,
            len: c.blobs[5].2,
            expect: None,
        };
        let out = tempfile::tempfile().unwrap();
        assert!(kernel_copy(c.input.as_file(), &out, &job).unwrap());
    }

    #[test]
    fn a_wrong_digest_is_an_error_naming_it() {
        let c = case(512);
        for corrupt in [1, 4, 5] {
            for map in [true, false] {
                let e = run(&c, true, map, Some(corrupt)).unwrap_err();
                match e {
                    Error::DigestMismatch { digest, actual } => {
                        assert_eq!(digest, Digest::sha256_of(b"something else").to_string());
                        assert_eq!(actual, c.blobs[corrupt].3.to_string());
                    }
                    e => panic!("unexpected error {e}"),
                }
            }
        }
        // Without verification the same plan copies.
        assert!(run(&c, false, false, Some(4)).is_ok());
    }

    /// sha512 blobs cannot be hashed two at a time: they are hashed alone, beside sha256 ones.
    #[test]
    fn sha512_blobs_are_verified_beside_sha256_ones() {
        let sha512 = |b: &[u8]| {
            let mut h = Hasher::new(Algorithm::Sha512);
            h.update(b);
            h.finish()
        };
        let mut c = case(512);
        for i in [2, 5] {
            let (o, n) = (c.blobs[i].0 as usize, c.blobs[i].2 as usize);
            c.blobs[i].3 = sha512(&c.data[o..o + n]);
        }
        let want = expected(&c);
        for map in [true, false] {
            assert!(run(&c, true, map, None).unwrap() == want, "map {map}");
        }
        let wrong = sha512(b"something else");
        c.blobs[5].3 = wrong.clone();
        match run(&c, true, true, None) {
            Err(Error::DigestMismatch { digest, .. }) => assert_eq!(digest, wrong.to_string()),
            r => panic!("unexpected {:?}", r.map(|b| b.len())),
        }
    }

    #[test]
    fn a_range_past_the_end_of_the_input_is_an_error() {
        let c = case(0);
        let len = c.data.len() as u64;
        let out = tempfile::tempfile().unwrap();
        let d = Digest::sha256_of(b"");
        for (expect, map) in [(Some(&d), true), (Some(&d), false), (None, false)] {
            let m = map.then(|| map_file(c.input.as_file()));
            let job = Job {
                input: c.input.as_file(),
                member: "blobs/sha256/x",
                in_off: len - 10,
                out_off: 0,
                len: 2 * CHUNK,
                expect,
            };
            let e =
                copy_all(m.as_deref(), &out, &[], vec![job], true, &|_| {}, &|_| {}).unwrap_err();
            assert!(e.to_string().contains("blobs/sha256/x"), "{e}");
        }
    }
}
