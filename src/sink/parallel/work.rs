//! The work the copy threads share: the blobs cut into 1 MiB pieces with their state bits,
//! release groups, the hash streams dealt to the threads, and the output's segments for its
//! digest.

use super::rate::Rate;
use super::*;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize};
use std::sync::Mutex;

/// A unit of writing: `len` bytes at `off` into job `job`.
pub(super) struct Piece {
    pub(super) job: usize,
    pub(super) off: u64,
    pub(super) len: u64,
    /// The release group it belongs to.
    pub(super) group: usize,
}

/// Consecutive pieces of a job whose mapped bytes are released together, once all of them are
/// done with: one `madvise` (and one TLB flush on every core) per 8 MiB rather than per piece.
pub(super) struct Group {
    pub(super) off: u64,
    pub(super) len: u64,
    pub(super) pieces: usize,
    pub(super) done: AtomicUsize,
}

/// Pieces per release group.
pub(super) const GROUP: u64 = 8;
/// The cost model's first guess of hashing, in ns a KiB (0.4 ns a byte, two streams at once).
const HASH_NS_PER_KIB: u64 = 400;
/// The cost model's first guess of writing, in ns a KiB (0.15 ns a byte).
const WRITE_NS_PER_KIB: u64 = 150;

/// What a hash stream covers.
#[derive(Clone, Copy)]
pub(super) enum Stream {
    /// A blob, to check its digest.
    Blob(usize),
    /// The whole output, in order, for its sha256.
    Output,
}

/// A stretch of the output, for the output's digest.
pub(super) enum Seg<'a> {
    Fixed(&'a [u8]),
    Job(usize),
    Zeros(u64),
}

/// The work shared by the threads.
pub(super) struct Work<'a> {
    pub(super) out: &'a File,
    pub(super) map: Option<&'a [u8]>,
    pub(super) jobs: &'a [Job<'a>],
    pub(super) pieces: Vec<Piece>,
    pub(super) groups: Vec<Group>,
    /// Job `j`'s pieces are `first_piece[j]..first_piece[j + 1]`.
    pub(super) first_piece: Vec<usize>,
    pub(super) flags: Vec<AtomicU8>,
    /// The output in order, when its digest is wanted.
    pub(super) segs: Vec<Seg<'a>>,
    pub(super) streams: Vec<(Stream, u64)>,
    /// Streams not yet started, per thread, largest first.
    pub(super) queues: Vec<Mutex<VecDeque<usize>>>,
    /// Bytes each thread has left to hash (its queue and its streams under way).
    pub(super) hash_left: Vec<AtomicU64>,
    /// Bytes not yet claimed for writing.
    pub(super) write_left: AtomicU64,
    /// Every piece before this one is claimed.
    pub(super) next_write: AtomicUsize,
    /// Pieces hashed and perhaps not yet written, the last hashed last.
    pub(super) hashed: Mutex<Vec<usize>>,
    /// Held while writing (see [`Ctx::run`]).
    pub(super) writing: Mutex<()>,
    /// Whether copy_file_range works between these files (cleared at its first refusal).
    pub(super) kernel_ok: AtomicBool,
    pub(super) digest_output: bool,
    /// Each thread's hashing speed (two streams at once hash faster than one).
    pub(super) hash_rate: Vec<Rate>,
    pub(super) write_rate: Rate,
    pub(super) abort: AtomicBool,
    pub(super) out_digest: Mutex<Option<Digest>>,
    /// Input bytes done with but not yet released (see [`Ctx::release_range`]).
    pub(super) pending: Mutex<(Vec<(u64, u64)>, u64)>,
}

impl<'a> Work<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
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
            hash_rate: (0..threads).map(|_| Rate::new(HASH_NS_PER_KIB)).collect(),
            write_rate: Rate::new(WRITE_NS_PER_KIB),
            abort: AtomicBool::new(false),
            out_digest: Mutex::new(None),
            pending: Mutex::new((Vec::new(), 0)),
        }
    }
}

/// The output from 0 to `total` as fixed bytes, blobs and the gaps between them.
pub(super) fn output_segs<'a>(
    fixed: &'a [Fixed<'a>],
    jobs: &[Job<'_>],
    total: u64,
) -> Vec<Seg<'a>> {
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
