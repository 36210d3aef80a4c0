//! One copy thread: the scheduler loop that takes hash streams, hashes two at once, writes
//! each verified piece from the buffer it hashed, and writes other pieces when its own hashing
//! left is less than its share of the work.

use super::work::{Seg, Stream, Work};
use super::*;
use std::os::unix::fs::FileExt;
use std::sync::MutexGuard;
use std::time::Instant;

/// A stream being hashed by a thread.
pub(super) struct Active {
    pub(super) stream: usize,
    pub(super) hasher: Hasher,
    /// For a blob, the bytes hashed; for the output, within the current segment.
    pub(super) pos: u64,
    /// For the output: the current segment.
    pub(super) seg: usize,
}

/// Where a thread hashes: up to two streams, and a buffer each for when nothing is mapped.
#[derive(Default)]
pub(super) struct Slot {
    pub(super) active: Option<Active>,
    pub(super) buf: Vec<u8>,
}

/// The next bytes of a stream, and the piece they complete (with the bit to set), if any.
pub(super) struct Next<'b> {
    pub(super) bytes: &'b [u8],
    pub(super) piece: Option<(usize, u8)>,
}

/// The shared work and the caller's callbacks.
pub(super) struct Ctx<'a> {
    pub(super) work: &'a Work<'a>,
    pub(super) progress: &'a (dyn Fn(u64) + Sync),
    pub(super) release: &'a (dyn Fn(&[u8]) + Sync),
}

impl<'a> Ctx<'a> {
    /// Thread `t`: hash and write until nothing is left. `Ok` also when stopped because another
    /// thread failed.
    pub(super) fn run(&self, t: usize) -> Result<()> {
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
    pub(super) fn take_stream(&self, t: usize, steal: bool) -> Option<Active> {
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
    pub(super) fn should_write(&self, t: usize) -> bool {
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
    pub(super) fn claim(&self, cold: bool) -> Option<usize> {
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
    pub(super) fn write(
        &self,
        p: usize,
        buf: &mut Vec<u8>,
        turn: Option<MutexGuard<'_, ()>>,
    ) -> Result<()> {
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
    pub(super) fn put(
        &self,
        bytes: &[u8],
        off: u64,
        turn: Option<MutexGuard<'_, ()>>,
    ) -> Result<()> {
        let _turn = turn.unwrap_or_else(|| lock(&self.work.writing));
        self.work
            .out
            .write_all_at(bytes, off)
            .map_err(|e| Error::io("output", e))
    }

    /// Piece `p`, `len` bytes whose writing began at `start`, is written.
    pub(super) fn written(&self, p: usize, len: u64, start: Instant) {
        self.work.write_rate.add(start, len);
        (self.progress)(len);
        self.mark(p, WRITTEN);
    }

    /// Whether piece `p` belongs to a blob whose digest is checked: such a piece is written only
    /// by the thread that hashed it, from the very buffer it hashed (see [`Ctx::write_hashed`]).
    pub(super) fn verified(&self, p: usize) -> bool {
        self.work.jobs[self.work.pieces[p].job].expect.is_some()
    }

    /// Write piece `p`, just hashed from `bytes`, from those same bytes: what is written is what
    /// was hashed, whatever happens to the input meanwhile.
    pub(super) fn write_hashed(&self, p: usize, bytes: &[u8]) -> Result<()> {
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
    pub(super) fn kernel_copy(&self, at: &Job<'_>) -> Result<bool> {
        let copied = kernel_copy(at.input, self.work.out, at)?;
        if !copied {
            self.work.kernel_ok.store(false, Ordering::Relaxed);
        }
        Ok(copied)
    }

    /// The input bytes of `at`: mapped, or read into `buf`.
    pub(super) fn bytes<'b>(&self, at: &Job<'_>, buf: &'b mut Vec<u8>) -> Result<&'b [u8]>
    where
        'a: 'b,
    {
        if let Some(map) = self.work.map {
            return map_range(map, at.member, at.in_off, at.len);
        }
        read_piece(at, buf)
    }

    /// The input bytes of `at` read into `buf`, which nothing else can change: a shared mapping
    /// shows any change another process makes to the file, so bytes hashed from it and then
    /// written from it could differ. (A positioned read costs the same as copying out of the
    /// map, and faults in no pages: measured side by side, the verified copy takes 1.02× the
    /// time it took hashing and writing straight from the map.)
    pub(super) fn private_bytes<'b>(&self, at: &Job<'_>, buf: &'b mut Vec<u8>) -> Result<&'b [u8]> {
        read_piece(at, buf)
    }

    /// The piece of job `j` at `pos`, as the input range to read.
    pub(super) fn piece_at(&self, j: usize, pos: u64) -> (usize, Job<'a>) {
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
    pub(super) fn next<'b>(&self, a: &Active, buf: &'b mut Vec<u8>) -> Result<Option<Next<'b>>>
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
    pub(super) fn advance(&self, a: &mut Active, n: u64) {
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
    pub(super) fn finish(&self, a: Active) -> Result<()> {
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
    pub(super) fn hash_step(&self, t: usize, slots: &mut [Slot; 2]) -> Result<()> {
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

/// Read the input range of `at` into `buf`. The member table says the range exists, so a read
/// that ends early means the input shrank since it was scanned.
fn read_piece<'b>(at: &Job<'_>, buf: &'b mut Vec<u8>) -> Result<&'b [u8]> {
    buf.resize(at.len as usize, 0);
    match at.input.read_exact_at(buf, at.in_off) {
        Ok(()) => Ok(buf),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Error::format(
            at.member,
            "the input changed while being read: it ends inside this member",
        )),
        Err(e) => Err(Error::io(at.member, e)),
    }
}
