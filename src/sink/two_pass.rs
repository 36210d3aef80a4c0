//! Writing a plan whose blobs are in a gzip or zstd input FILE without spooling it: the output's
//! layout is known before a byte is written (as for [`super::parallel`]), so the bytes made here
//! go to their offsets first; then the input is decoded a second time ([`Replay`]) and each kept
//! blob, in input order, is written at its output offsets (a blob whose digest or length is
//! wrong is an error, and the caller publishes nothing).
//!
//! Decoding and writing run on the calling thread; hashing on another, which reads each blob
//! back from the output, where it was written, a little behind: hashing the bytes of the file that
//! will be published, it checks what is written, and the decoding thread runs on through the
//! members it drops while the kept ones are hashed (at most [`HASH_LAG`] ahead: the bytes between
//! are in the page cache). The output's sha256 is hashed as its checked prefix grows (all of it
//! when the input holds the blobs in output order); the rest is read back at the end.

use super::parallel::preallocate;
use super::write::{place, Placed, Placement, Span, WriteOptions, Written};
use crate::digest::check::compare;
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};
use crate::source::compress::fill;
use crate::source::replay::{changed, Replay};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Bytes read (or decoded), written, and read back to be hashed at a time.
const BUF: usize = crate::source::IO_BUF;
/// How many bytes of blobs the decoding thread may have written that the hashing thread has not
/// hashed yet. They are read back from the page cache, so the bound keeps them there (and not
/// in memory of our own) while letting the decoder go on through the members it drops.
const HASH_LAG: u64 = 128 << 20;
/// A waiting thread is woken once this many bytes can be hashed (or written) again, not for each
/// buffer: waking a sleeping thread costs the waker tens of microseconds on a virtual machine.
const WAKE_AFTER: u64 = 4 << 20;
const _: () = assert!(WAKE_AFTER < HASH_LAG, "the decoder would never be woken");

/// An input member the output needs, and where it goes.
struct Blob<'a> {
    member: &'a str,
    size: u64,
    /// Its output offsets (one, unless several output members hold the same input member).
    outs: Vec<u64>,
    /// The digests it must have (none with `--no-verify`).
    checks: Vec<&'a Digest>,
}

/// Write `pieces` into `out`, the input ranges decoded again from `replay` (the input `name`).
pub(super) fn write(
    name: &str,
    replay: &Replay,
    pieces: &[Span<'_>],
    out: &File,
    opts: &WriteOptions,
    pb: &indicatif::ProgressBar,
) -> Result<Written> {
    let Placement {
        fixed,
        blobs: placed,
        len: total,
    } = place(pieces);
    let (blobs, index) = blobs(&placed, opts.verify);
    let werr = |e| Error::io("output", e);
    preallocate(out, total).map_err(werr)?;
    for (off, bytes) in &fixed {
        out.write_all_at(bytes, *off).map_err(werr)?;
    }
    let mut out_hash = opts.digest_output.then(|| OutHash::new(&fixed));
    let handoff = Handoff::default();
    let (read, hashed) = std::thread::scope(|s| {
        let (blobs, hash, handoff) = (&blobs, out_hash.as_mut(), &handoff);
        let hasher = s.spawn(move || hash_blobs(handoff, blobs, out, hash));
        let wanted = |m: &str| index.contains_key(m);
        let mut buf = Vec::new();
        let read = {
            let _ended = handoff.ender();
            replay.replay(name, &wanted, &mut |m, _, r| match index.get(m) {
                Some(&i) => write_blob(handoff, (i, &blobs[i]), r, out, &mut buf, pb),
                None => Ok(()),
            })
        };
        let hashed = hasher.join().unwrap_or_else(|_| Err(stopped()));
        (read, hashed)
    });
    let seen = hashed?;
    read?;
    if let Some(b) = blobs.iter().zip(&seen).find(|(_, &seen)| !seen) {
        return Err(changed(name, format!("{} is gone", b.0.member)));
    }
    let sha256 = match out_hash {
        Some(h) => Some(h.finish(out, total)?),
        None => None,
    };
    Ok(Written {
        bytes: total,
        sha256,
    })
}
/// The input members of the output, each once, and their index by member name.
fn blobs<'a>(placed: &[Placed<'a>], verify: bool) -> (Vec<Blob<'a>>, HashMap<&'a str, usize>) {
    let mut blobs: Vec<Blob<'a>> = Vec::new();
    let mut index: HashMap<&'a str, usize> = HashMap::new();
    for p in placed {
        let i = *index.entry(&p.loc.member).or_insert_with(|| {
            blobs.push(Blob {
                member: &p.loc.member,
                size: p.loc.size,
                outs: Vec::new(),
                checks: Vec::new(),
            });
            blobs.len() - 1
        });
        let b = &mut blobs[i];
        b.outs.push(p.out_off);
        if let Some(d) = p.digest.filter(|d| verify && !b.checks.contains(d)) {
            b.checks.push(d);
        }
    }
    (blobs, index)
}

/// The hashing thread stopped (its error is the one reported).
fn stopped() -> Error {
    Error::io("output", io::Error::other("the hashing thread stopped"))
}

/// What the decoding thread and the hashing one share: the blobs written and not yet all
/// hashed, and who waits for whom. Each side wakes the other only when it waits, and only
/// once [`WAKE_AFTER`] bytes (or a blob's end) are there for it.
#[derive(Default)]
struct Handoff {
    state: Mutex<Progress>,
    /// Signalled to the hashing thread: more was written, or the decoding ended.
    written: Condvar,
    /// Signalled to the decoding thread: the lag shrank, or the hashing thread stopped.
    hashed: Condvar,
}

#[derive(Default)]
struct Progress {
    /// Blobs written or being written, not yet all hashed, in input order: the blob, how many
    /// of its bytes were written, and whether that is all of them.
    blobs: VecDeque<(usize, u64, bool)>,
    /// Bytes written, not yet hashed.
    lag: u64,
    /// The decoding thread is done (all written, or it stopped on an error it reports).
    ended: bool,
    /// The hashing thread stopped on an error.
    stopped: bool,
    hasher_waits: bool,
    decoder_waits: bool,
}

/// Sets [`Progress::ended`] when the decoding thread leaves, however it leaves.
struct Ender<'a>(&'a Handoff);

impl Drop for Ender<'_> {
    fn drop(&mut self) {
        self.0.lock().ended = true;
        self.0.written.notify_one();
    }
}

impl Handoff {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ender(&self) -> Ender<'_> {
        Ender(self)
    }

    /// The decoding thread: blob `i` starts.
    fn start(&self, i: usize) -> Result<()> {
        let mut p = self.lock();
        if p.stopped {
            return Err(stopped());
        }
        p.blobs.push_back((i, 0, false));
        Ok(())
    }

    /// The decoding thread: `n` more bytes of the last blob started were written (`all` of it
    /// if `done`). Waits while the hashing thread is more than [`HASH_LAG`] behind.
    fn wrote(&self, n: u64, done: bool) -> Result<()> {
        let mut p = self.lock();
        p.lag += n;
        if let Some(last) = p.blobs.back_mut() {
            (last.1, last.2) = (last.1 + n, done);
        }
        if p.hasher_waits && (done || p.lag >= WAKE_AFTER) {
            self.written.notify_one();
        }
        while p.lag > HASH_LAG && !p.stopped {
            p.decoder_waits = true;
            p = self.hashed.wait(p).unwrap_or_else(|e| e.into_inner());
        }
        p.decoder_waits = false;
        match p.stopped {
            true => Err(stopped()),
            false => Ok(()),
        }
    }

    /// The hashing thread: the oldest blob not all hashed, how much of it is written and whether
    /// that is all, once more than `hashed` of it is written or it is all written; `None` once
    /// the decoding ended with nothing more to hash.
    fn next(&self, hashed: u64) -> Option<(usize, u64, bool)> {
        let mut p = self.lock();
        loop {
            match p.blobs.front() {
                Some(&(i, len, done)) if len > hashed || done => return Some((i, len, done)),
                _ if p.ended => return None,
                _ => {}
            }
            p.hasher_waits = true;
            p = self.written.wait(p).unwrap_or_else(|e| e.into_inner());
            p.hasher_waits = false;
        }
    }

    /// The hashing thread: `n` more bytes were hashed (and the oldest blob is all hashed if
    /// `done`).
    fn hashed(&self, n: u64, done: bool) {
        let mut p = self.lock();
        p.lag -= n;
        if done {
            p.blobs.pop_front();
        }
        if p.decoder_waits && p.lag + WAKE_AFTER <= HASH_LAG {
            self.hashed.notify_one();
        }
    }

    /// The hashing thread stopped on an error: the decoding thread stops too.
    fn stop(&self) {
        self.lock().stopped = true;
        self.hashed.notify_one();
    }
}

/// The decoding thread: write the bytes of blob `i` from `r` at each of its output offsets, and
/// tell the hashing thread as they are.
fn write_blob(
    handoff: &Handoff,
    (i, b): (usize, &Blob<'_>),
    r: &mut dyn Read,
    out: &File,
    buf: &mut Vec<u8>,
    pb: &indicatif::ProgressBar,
) -> Result<()> {
    handoff.start(i)?;
    buf.resize(BUF, 0);
    let mut pos = 0;
    while pos < b.size {
        let want = BUF.min(usize::try_from(b.size - pos).unwrap_or(BUF));
        let (n, read) = fill(r, &mut buf[..want]);
        read.map_err(|e| changed(b.member, e))?;
        if n == 0 {
            let why = format!("{} has {} of {} bytes", b.member, pos, b.size);
            return Err(changed(b.member, why));
        }
        for o in &b.outs {
            out.write_all_at(&buf[..n], o + pos)
                .map_err(|e| Error::io("output", e))?;
        }
        pos += n as u64;
        pb.inc(n as u64);
        handoff.wrote(n as u64, pos == b.size)?;
    }
    if b.size == 0 {
        handoff.wrote(0, true)?;
    }
    Ok(())
}

/// The hashing thread: read each blob back from the output as it is written, hash it and check
/// it; which blobs were all written and found right.
fn hash_blobs(
    handoff: &Handoff,
    blobs: &[Blob<'_>],
    out: &File,
    out_hash: Option<&mut OutHash<'_>>,
) -> Result<Vec<bool>> {
    let hashed = hash_each(handoff, blobs, out, out_hash);
    if hashed.is_err() {
        handoff.stop();
    }
    hashed
}

fn hash_each(
    handoff: &Handoff,
    blobs: &[Blob<'_>],
    out: &File,
    mut out_hash: Option<&mut OutHash<'_>>,
) -> Result<Vec<bool>> {
    let mut seen = vec![false; blobs.len()];
    let mut buf = vec![0u8; BUF];
    let mut cur: Option<Current> = None;
    while let Some((i, len, done)) = handoff.next(cur.as_ref().map_or(0, |c| c.pos)) {
        let (b, c) = (
            &blobs[i],
            cur.get_or_insert_with(|| Current::new(&blobs[i])),
        );
        while c.pos < len {
            let want = BUF.min(usize::try_from(len - c.pos).unwrap_or(BUF));
            let bytes = &mut buf[..want];
            out.read_exact_at(bytes, b.outs[0] + c.pos)
                .map_err(|e| Error::io("output", e))?;
            c.hash(bytes, b, out_hash.as_deref_mut());
            handoff.hashed(want as u64, false);
        }
        if done {
            c.check(b)?;
            seen[i] = true;
            if let Some(h) = out_hash.as_deref_mut() {
                h.written(b, out)?;
            }
            cur = None;
            handoff.hashed(0, true);
        }
    }
    Ok(seen)
}

/// The blob being hashed: how far, and its digests so far.
struct Current {
    pos: u64,
    hashers: Vec<Hasher>,
}

impl Current {
    fn new(b: &Blob<'_>) -> Current {
        let hashers = b
            .checks
            .iter()
            .map(|d| Hasher::new(d.algorithm()))
            .collect();
        Current { pos: 0, hashers }
    }

    /// Hash `bytes`, the next of the blob (with the output's digest too when they extend its
    /// hashed prefix, two messages at once on this core).
    fn hash(&mut self, bytes: &[u8], b: &Blob<'_>, out_hash: Option<&mut OutHash<'_>>) {
        let n = bytes.len() as u64;
        let at = out_hash.filter(|h| b.outs.iter().any(|o| h.at == o + self.pos));
        match (at, self.hashers.split_first_mut()) {
            (Some(h), Some((first, rest))) => {
                Hasher::update_pair(first, bytes, &mut h.hasher, bytes);
                rest.iter_mut().for_each(|r| r.update(bytes));
                h.advance(n);
            }
            (Some(h), None) => {
                h.hasher.update(bytes);
                h.advance(n);
            }
            (None, _) => self.hashers.iter_mut().for_each(|h| h.update(bytes)),
        }
        self.pos += n;
    }

    /// All of the blob was hashed: check its digests.
    fn check(&mut self, b: &Blob<'_>) -> Result<()> {
        if self.pos != b.size {
            let why = format!("{} has {} of {} bytes", b.member, self.pos, b.size);
            return Err(changed(b.member, why));
        }
        for (d, h) in b.checks.iter().zip(std::mem::take(&mut self.hashers)) {
            compare(d, h.finish())?;
        }
        Ok(())
    }
}

/// The output's sha256 over its prefix written so far, in order: the bytes made here (`fixed`,
/// in output order) are hashed as the prefix reaches them, a blob's buffers as they are written
/// when they extend the prefix, and blobs written out of order are read back from the output
/// (still in the page cache) once the prefix reaches them, while the other thread decodes.
struct OutHash<'a> {
    hasher: Hasher,
    /// The length of the prefix hashed.
    at: u64,
    fixed: &'a [(u64, Vec<u8>)],
    next: usize,
    /// Blobs written past the prefix, not hashed yet: output offset and length.
    ahead: BTreeMap<u64, u64>,
    buf: Vec<u8>,
}

impl<'a> OutHash<'a> {
    fn new(fixed: &'a [(u64, Vec<u8>)]) -> OutHash<'a> {
        let mut h = OutHash {
            hasher: Hasher::new(Algorithm::Sha256),
            at: 0,
            fixed,
            next: 0,
            ahead: BTreeMap::new(),
            buf: Vec::new(),
        };
        h.advance(0);
        h
    }

    /// `n` more bytes were hashed; hash the made bytes that follow them.
    fn advance(&mut self, n: u64) {
        self.at += n;
        while let Some((off, bytes)) = self.fixed.get(self.next).filter(|f| f.0 == self.at) {
            self.hasher.update(bytes);
            self.at = off + bytes.len() as u64;
            self.next += 1;
        }
    }

    /// Blob `b` is all written: note where it lies past the prefix, and hash what the prefix
    /// can now reach.
    fn written(&mut self, b: &Blob<'_>, out: &File) -> Result<()> {
        for &o in b.outs.iter().filter(|&&o| o >= self.at) {
            self.ahead.insert(o, b.size);
        }
        while let Some(len) = self.ahead.remove(&self.at) {
            self.read_back(out, self.at + len)?;
        }
        Ok(())
    }

    /// Hash the output from the prefix up to `end` by reading it back.
    fn read_back(&mut self, out: &File, end: u64) -> Result<()> {
        self.buf.resize(BUF, 0);
        while self.at < end {
            let want = BUF.min(usize::try_from(end - self.at).unwrap_or(BUF));
            out.read_exact_at(&mut self.buf[..want], self.at)
                .map_err(|e| Error::io("output", e))?;
            self.hasher.update(&self.buf[..want]);
            self.advance(want as u64);
        }
        Ok(())
    }

    /// Hash the rest of the output (what follows the last blob) and give the digest.
    fn finish(mut self, out: &File, total: u64) -> Result<Digest> {
        self.read_back(out, total)?;
        Ok(self.hasher.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// Whether `f`, run on its own thread, is still running after a while; then `then` runs and
    /// `f`'s result is returned.
    fn blocks<T: Send>(f: impl FnOnce() -> T + Send, then: impl FnOnce()) -> (bool, T) {
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let t = s.spawn(|| {
                let r = f();
                done.store(true, Ordering::SeqCst);
                r
            });
            std::thread::sleep(Duration::from_millis(200));
            let blocked = !done.load(Ordering::SeqCst);
            then();
            (blocked, t.join().expect("the thread ran"))
        })
    }

    #[test]
    fn the_decoder_waits_once_the_hasher_is_hash_lag_behind_and_goes_on_once_it_caught_up() {
        let h = Handoff::default();
        h.start(0).expect("not stopped");
        h.wrote(HASH_LAG, false).expect("at the bound: no wait");
        let (blocked, r) = blocks(|| h.wrote(1, false), || h.hashed(WAKE_AFTER + 1, false));
        assert!(blocked, "the decoder went on {} bytes ahead", HASH_LAG + 1);
        assert!(r.is_ok());
        assert_eq!(h.lock().lag, HASH_LAG - WAKE_AFTER);
    }

    #[test]
    fn a_waiting_decoder_stops_when_the_hasher_stops() {
        let h = Handoff::default();
        h.start(0).expect("not stopped");
        let (blocked, r) = blocks(|| h.wrote(HASH_LAG + 1, false), || h.stop());
        assert!(blocked && r.is_err());
        assert!(h.start(1).is_err(), "a stopped hasher takes no more blobs");
    }

    #[test]
    fn the_hasher_waits_for_bytes_and_ends_when_the_decoder_leaves() {
        let h = Handoff::default();
        h.start(3).expect("not stopped");
        h.wrote(5, false).expect("no wait");
        assert_eq!(h.next(0), Some((3, 5, false)));
        let (blocked, next) = blocks(|| h.next(5), || h.wrote(0, true).expect("no wait"));
        assert!(blocked, "nothing new was written");
        assert_eq!(next, Some((3, 5, true)));
        h.hashed(5, true);
        let (blocked, next) = blocks(|| h.next(0), || drop(h.ender()));
        assert!(blocked && next.is_none());
    }
}
