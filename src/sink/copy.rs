//! Copying a blob of an input into an output stream (compressed output, standard output, a
//! layout directory's file) through one buffer: the bytes hashed are exactly the bytes written,
//! and the last buffer of a blob is held back until its digest is checked, so a blob whose bytes
//! do not match (or changed while being read) is never written whole. Uncompressed file output
//! goes through [`super::parallel`] instead.

use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::source::{Archive, Loc};
use std::io::{Read, Write};

/// Bytes read, hashed and written at a time.
const BUF: usize = 1 << 20;

/// Copy the bytes at `loc` of `archive` into `out` (named `out_name` in errors), checking them
/// against `want` when given.
pub fn copy_checked(
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

/// One read into `buf`, retried when interrupted.
fn read_some(r: &mut dyn Read, buf: &mut [u8], loc: &Loc) -> Result<usize> {
    loop {
        match r.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(&loc.member, e)),
        }
    }
}

/// The input ended before the blob did.
fn changed(loc: &Loc, done: u64) -> Error {
    Error::format(
        &loc.member,
        format!(
            "the input changed while being read: {done} of {} bytes",
            loc.size
        ),
    )
}
