//! Copying a blob of an input into an output stream (compressed output, standard output, a
//! layout directory's file) through one buffer: the bytes hashed are exactly the bytes written,
//! and the last buffer of a blob is held back until its digest is checked, so a blob whose bytes
//! do not match (or changed while being read) is never written whole. A blob of more than one
//! buffer is hashed on a thread of its own while the buffers (shared, never changed) are
//! written, so the hashing does not hold up the compressor the stream feeds. Uncompressed file
//! output goes through [`super::parallel`] instead.

use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::source::{Archive, Loc};
use std::io::{Read, Write};
use std::sync::{mpsc, Arc};

/// Bytes read, hashed and written at a time.
const BUF: usize = 1 << 20;
/// Buffers read ahead of the hashing thread before the reader waits for it.
const HASH_QUEUE: usize = 4;

/// Copy the bytes at `loc` of `archive` into `out` (named `out_name` in errors), checking them
/// against `want` when given.
pub fn copy_checked(
    archive: &Archive,
    loc: &Loc,
    want: Option<&Digest>,
    out: &mut dyn Write,
    out_name: &str,
) -> Result<()> {
    match want {
        Some(d) if loc.size > BUF as u64 => copy_hashed_beside(archive, loc, d, out, out_name),
        _ => copy_hashed_inline(archive, loc, want, out, out_name),
    }
}

/// [`copy_checked`] on one thread: each buffer hashed, then written.
fn copy_hashed_inline(
    archive: &Archive,
    loc: &Loc,
    want: Option<&Digest>,
    out: &mut dyn Write,
    out_name: &str,
) -> Result<()> {
    let mut r = archive.reader(loc)?;
    let mut h = want.map(|d| Hasher::new(d.algorithm()));
    let mut buf = vec![0u8; BUF.min(loc.size as usize).max(1)];
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
    // An empty blob has no buffer to check with.
    if let (Some(d), Some(h)) = (want, h) {
        crate::digest::check::compare(d, h.finish())?;
    }
    Ok(())
}

/// [`copy_checked`] of a blob of several buffers: each buffer read is handed to a hashing thread
/// and written meanwhile, all but the last, which is written once the digest matches.
fn copy_hashed_beside(
    archive: &Archive,
    loc: &Loc,
    want: &Digest,
    out: &mut dyn Write,
    out_name: &str,
) -> Result<()> {
    let mut r = archive.reader(loc)?;
    std::thread::scope(|s| {
        let (to_hash, chunks) = mpsc::sync_channel::<Arc<Vec<u8>>>(HASH_QUEUE);
        let (give_back, spare) = mpsc::channel::<Arc<Vec<u8>>>();
        let algorithm = want.algorithm();
        let hashing = std::thread::Builder::new()
            .name("ocislim-hash".into())
            .spawn_scoped(s, move || {
                let mut h = Hasher::new(algorithm);
                for c in chunks {
                    h.update(&c);
                    // The copier is gone only when it stopped with an error.
                    let _ = give_back.send(c);
                }
                h.finish()
            })
            .map_err(|e| Error::io(&*loc.member, e))?;
        let mut done = 0u64;
        let last = loop {
            let mut buf = reuse(&spare);
            let n = read_some(&mut r, &mut buf, loc)?;
            if n == 0 {
                return Err(changed(loc, done));
            }
            done += n as u64;
            buf.truncate(n);
            let chunk = Arc::new(buf);
            to_hash
                .send(Arc::clone(&chunk))
                .map_err(|_| hashing_stopped(loc))?;
            if done >= loc.size {
                break chunk;
            }
            out.write_all(&chunk).map_err(|e| Error::io(out_name, e))?;
        };
        drop(to_hash);
        let got = hashing.join().map_err(|_| hashing_stopped(loc))?;
        crate::digest::check::compare(want, got)?;
        out.write_all(&last).map_err(|e| Error::io(out_name, e))
    })
}

/// A buffer of [`BUF`] bytes: one the hashing thread is done with, or a new one.
fn reuse(spare: &mpsc::Receiver<Arc<Vec<u8>>>) -> Vec<u8> {
    let mut buf = spare
        .try_iter()
        .find_map(|c| Arc::try_unwrap(c).ok())
        .unwrap_or_default();
    buf.resize(BUF, 0);
    buf
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
