//! Copying a blob of an input into an output stream (compressed output, standard output, a
//! layout directory's file) through one buffer: the bytes hashed are exactly the bytes written,
//! and the last buffer of a blob is held back until its digest is checked, so a blob whose bytes
//! do not match (or changed while being read) is never written whole. A blob of more than one
//! buffer is read and hashed on a thread of its own, which hands each buffer over once hashed,
//! so neither the reading nor the hashing holds up the compressor the stream feeds.
//! Uncompressed file output goes through [`super::parallel`] instead.

use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::source::{Archive, Loc};
use std::io::{Read, Write};
use std::sync::{mpsc, Mutex};

/// Bytes read (or decoded), hashed and written at a time.
const BUF: usize = crate::source::IO_BUF;
/// Buffers read and hashed ahead of the writer before the reading thread waits for it.
const HASH_QUEUE: usize = 4;

/// Copies blobs one after another, keeping the buffers of one for the next: a buffer freed is
/// given back to the system at once (see `main.rs`), and faulting it in again costs more than
/// the copy.
#[derive(Default)]
pub struct Copier {
    spare: Mutex<Vec<Vec<u8>>>,
}

impl Copier {
    /// Copy the bytes at `loc` of `archive` into `out` (named `out_name` in errors), checking
    /// them against `want` when given.
    pub fn copy_checked(
        &self,
        archive: &Archive,
        loc: &Loc,
        want: Option<&Digest>,
        out: &mut dyn Write,
        out_name: &str,
    ) -> Result<()> {
        match want {
            Some(d) if loc.size > BUF as u64 => {
                copy_hashed_beside(self, archive, loc, d, out, out_name)
            }
            _ => copy_hashed_inline(self, archive, loc, want, out, out_name),
        }
    }

    /// A buffer of [`BUF`] bytes: a spare one, or a new one.
    fn take(&self) -> Vec<u8> {
        let mut buf = self
            .spare
            .lock()
            .ok()
            .and_then(|mut s| s.pop())
            .unwrap_or_default();
        buf.resize(BUF, 0);
        buf
    }

    /// Keep `buf` for a later read.
    fn give_back(&self, buf: Vec<u8>) {
        if let Ok(mut s) = self.spare.lock() {
            s.push(buf);
        }
    }
}

/// [`Copier::copy_checked`] on one thread: each buffer hashed, then written.
fn copy_hashed_inline(
    copier: &Copier,
    archive: &Archive,
    loc: &Loc,
    want: Option<&Digest>,
    out: &mut dyn Write,
    out_name: &str,
) -> Result<()> {
    let mut r = archive.reader(loc)?;
    let mut h = want.map(|d| Hasher::new(d.algorithm()));
    let mut buf = copier.take();
    let mut done = 0u64;
    while done < loc.size {
        let n = read_some(&mut r, &mut buf, loc)?;
        if n == 0 {
            return Err(changed(loc, done));
        }
        done += n as u64;
        if let Some(h) = h.as_mut() {
            h.update(&buf[..n]);
        }
        if done == loc.size {
            if let (Some(d), Some(h)) = (want, h.take()) {
                crate::digest::check::compare(d, h.finish())?;
            }
        }
        out.write_all(&buf[..n])
            .map_err(|e| Error::io(out_name, e))?;
    }
    copier.give_back(buf);
    // An empty blob has no buffer to check with.
    if let (Some(d), Some(h)) = (want, h) {
        crate::digest::check::compare(d, h.finish())?;
    }
    Ok(())
}

/// [`Copier::copy_checked`] of a blob of several buffers: a thread of its own reads each buffer and
/// hashes it, then hands it over to be written here, all but the last, which it hands over
/// only once the digest matches. Reading there keeps the kernel's copy of `pread` off the
/// thread that feeds the compressor.
fn copy_hashed_beside(
    copier: &Copier,
    archive: &Archive,
    loc: &Loc,
    want: &Digest,
    out: &mut dyn Write,
    out_name: &str,
) -> Result<()> {
    std::thread::scope(|s| {
        let (hand_over, hashed) = mpsc::sync_channel::<Result<Vec<u8>>>(HASH_QUEUE);
        std::thread::Builder::new()
            .name("ocislim-hash".into())
            .spawn_scoped(s, move || {
                // The writer is gone only when it stopped with an error of its own.
                if let Err(e) = read_hashed(copier, archive, loc, want, &hand_over) {
                    let _ = hand_over.send(Err(e));
                }
            })
            .map_err(|e| Error::io(&*loc.member, e))?;
        let mut done = 0u64;
        for buf in hashed {
            let buf = buf?;
            out.write_all(&buf).map_err(|e| Error::io(out_name, e))?;
            done += buf.len() as u64;
            copier.give_back(buf);
        }
        match done == loc.size {
            true => Ok(()),
            false => Err(hashing_stopped(loc)),
        }
    })
}

/// Read the bytes of `loc` a buffer at a time (into `copier`'s buffers), hash each and hand it
/// over, the last only after the digest matched `want`. Stops early, without an error, when
/// nobody takes the buffers any more.
fn read_hashed(
    copier: &Copier,
    archive: &Archive,
    loc: &Loc,
    want: &Digest,
    hand_over: &mpsc::SyncSender<Result<Vec<u8>>>,
) -> Result<()> {
    let mut r = archive.reader(loc)?;
    let mut h = Hasher::new(want.algorithm());
    let mut done = 0u64;
    loop {
        let mut buf = copier.take();
        let n = read_some(&mut r, &mut buf, loc)?;
        if n == 0 {
            return Err(changed(loc, done));
        }
        done += n as u64;
        buf.truncate(n);
        h.update(&buf);
        if done == loc.size {
            crate::digest::check::compare(want, h.finish())?;
            let _ = hand_over.send(Ok(buf));
            return Ok(());
        }
        if hand_over.send(Ok(buf)).is_err() {
            return Ok(());
        }
    }
}

/// The hashing thread ended without a digest.
fn hashing_stopped(loc: &Loc) -> Error {
    Error::format(&*loc.member, "the hashing thread stopped")
}

/// One read into `buf`, retried when interrupted.
fn read_some(r: &mut dyn Read, buf: &mut [u8], loc: &Loc) -> Result<usize> {
    loop {
        match r.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(&*loc.member, e)),
        }
    }
}

/// The input ended before the blob did.
fn changed(loc: &Loc, done: u64) -> Error {
    Error::format(
        &*loc.member,
        format!(
            "the input changed while being read: {done} of {} bytes",
            loc.size
        ),
    )
}
