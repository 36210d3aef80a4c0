//! Writing a plan whose blobs are in a gzip or zstd input FILE without spooling it: the output's
//! layout is known before a byte is written (as for [`super::parallel`]), so the bytes made here
//! go to their offsets first; then the input is decoded a second time ([`Replay`]) and each kept
//! blob, in input order, is written at its output offsets from the buffer it was hashed in
//! (a blob whose digest or length is wrong is an error, and the caller publishes nothing).
//! Decoding runs on the calling thread, hashing and writing on another. The output's sha256 is
//! hashed as its written prefix grows (all of it when the input holds the blobs in output order);
//! the rest is read back at the end.

use super::parallel::preallocate;
use super::write::{place, Placed, Placement, Span, WriteOptions, Written};
use crate::digest::check::compare;
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};
use crate::source::compress::fill;
use crate::source::replay::{changed, Replay};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Bytes read (or decoded), hashed and written at a time.
const BUF: usize = crate::source::IO_BUF;
/// Buffers on their way from the decoding thread to the writing one.
const IN_FLIGHT: usize = 4;

/// An input member the output needs, and where it goes.
struct Blob<'a> {
    member: &'a str,
    size: u64,
    /// Its output offsets (one, unless several output members hold the same input member).
    outs: Vec<u64>,
    /// The digests it must have (none with `--no-verify`).
    checks: Vec<&'a Digest>,
    seen: bool,
}

/// What the decoding thread tells the writing one.
enum Msg {
    /// The next bytes are those of this blob.
    Start(usize),
    Chunk(Vec<u8>, usize),
    /// The blob's last bytes were sent.
    End,
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
    let (mut blobs, index) = blobs(&placed, opts.verify);
    let werr = |e| Error::io("output", e);
    preallocate(out, total).map_err(werr)?;
    for (off, bytes) in &fixed {
        out.write_all_at(bytes, *off).map_err(werr)?;
    }
    let mut out_hash = opts.digest_output.then(|| OutHash::new(&fixed));
    let (tx, rx) = sync_channel::<Msg>(IN_FLIGHT);
    let (back_tx, back_rx) = sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
    let (read, written) = std::thread::scope(|s| {
        let (blobs, hash) = (&mut blobs, out_hash.as_mut());
        let writer = s.spawn(move || write_blobs(rx, back_tx, blobs, out, hash, pb));
        let wanted = |m: &str| index.contains_key(m);
        let read = replay.replay(name, &wanted, &mut |m, size, r| match index.get(m) {
            Some(&i) => send_blob(&tx, &back_rx, (i, m), size, r),
            None => Ok(()),
        });
        drop(tx);
        let written = writer.join().unwrap_or_else(|_| Err(stopped()));
        (read, written)
    });
    written?;
    read?;
    if let Some(b) = blobs.iter().find(|b| !b.seen) {
        return Err(changed(name, format!("{} is gone", b.member)));
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
                seen: false,
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

/// The writing thread stopped (its error is the one reported).
fn stopped() -> Error {
    Error::io("output", io::Error::other("the writing thread stopped"))
}

/// Send the bytes of blob `i` (input member `member`) from `r` to the writing thread, in
/// buffers it hands back.
fn send_blob(
    tx: &SyncSender<Msg>,
    back: &Receiver<Vec<u8>>,
    (i, member): (usize, &str),
    size: u64,
    r: &mut dyn Read,
) -> Result<()> {
    tx.send(Msg::Start(i)).map_err(|_| stopped())?;
    let mut left = size;
    while left > 0 {
        let mut buf = back.try_recv().unwrap_or_else(|_| vec![0u8; BUF]);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let (n, read) = fill(r, &mut buf[..want]);
        read.map_err(|e| changed(member, e))?;
        if n == 0 {
            break; // the writer finds the blob short
        }
        left -= n as u64;
        tx.send(Msg::Chunk(buf, n)).map_err(|_| stopped())?;
    }
    tx.send(Msg::End).map_err(|_| stopped())
}

/// The writing thread: hash each blob's buffers, write them at the blob's offsets, check it.
fn write_blobs(
    rx: Receiver<Msg>,
    back: SyncSender<Vec<u8>>,
    blobs: &mut [Blob<'_>],
    out: &File,
    mut out_hash: Option<&mut OutHash<'_>>,
    pb: &indicatif::ProgressBar,
) -> Result<()> {
    let mut cur: Option<Current> = None;
    for msg in rx {
        match (msg, cur.as_mut()) {
            (Msg::Start(i), _) => cur = blobs.get(i).map(|b| Current::new(i, b)),
            (Msg::Chunk(buf, n), Some(c)) => {
                c.write(&buf[..n], &blobs[c.i], out, out_hash.as_deref_mut())?;
                pb.inc(n as u64);
                let _ = back.try_send(buf);
            }
            (Msg::End, Some(c)) => {
                c.check(&blobs[c.i])?;
                blobs[c.i].seen = true;
                if let Some(h) = out_hash.as_deref_mut() {
                    h.written(&blobs[c.i], out)?;
                }
                cur = None;
            }
            (_, None) => return Err(Error::format("output", "blob bytes out of place")),
        }
    }
    Ok(())
}

/// The blob being written: how far, and its digests so far.
struct Current {
    i: usize,
    pos: u64,
    hashers: Vec<Hasher>,
}

impl Current {
    fn new(i: usize, b: &Blob<'_>) -> Current {
        let hashers = b
            .checks
            .iter()
            .map(|d| Hasher::new(d.algorithm()))
            .collect();
        Current { i, pos: 0, hashers }
    }

    /// Hash `bytes` (with the output's digest too when they extend its hashed prefix, two
    /// messages at once on this core) and write them at each of the blob's offsets.
    fn write(
        &mut self,
        bytes: &[u8],
        b: &Blob<'_>,
        out: &File,
        out_hash: Option<&mut OutHash<'_>>,
    ) -> Result<()> {
        let n = bytes.len() as u64;
        if self.pos + n > b.size {
            return Err(changed(b.member, "the member grew"));
        }
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
        for o in &b.outs {
            out.write_all_at(bytes, o + self.pos)
                .map_err(|e| Error::io("output", e))?;
        }
        self.pos += n;
        Ok(())
    }

    /// All of the blob was written: check its length and digests.
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
