//! Reading compressed or piped input for `ls` and `verify` without a spool: the tar stream is
//! decoded once, JSON-looking members (the documents) are kept in a bounded in-memory arena, and
//! every other member is skipped — or, for `verify`, hashed on the fly — so the time is that of
//! the decompression and nothing is written to `$TMPDIR`.

use super::{Member, MemberKind};
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::Error;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Largest member kept in memory (documents are far smaller).
pub const KEEP_MAX: u64 = 8 << 20;
/// Largest total kept in memory; past it the caller falls back to spooling.
pub const ARENA_MAX: usize = 48 << 20;

/// The outcome of a streaming scan.
pub struct Streamed {
    pub members: BTreeMap<Arc<str>, Member>,
    /// Kept members' bytes; `Member::offset` indexes into it.
    pub arena: Vec<u8>,
    /// Members whose bytes were not kept.
    pub skipped: std::collections::HashSet<String>,
    /// Digests computed while streaming (when asked), by member name and algorithm.
    pub digests: HashMap<(String, Algorithm), Digest>,
}

/// Why a streaming scan gave up.
pub enum StreamError {
    /// The documents do not fit the arena: spool instead.
    TooBig,
    Failed(Error),
}

impl From<Error> for StreamError {
    fn from(e: Error) -> Self {
        StreamError::Failed(e)
    }
}

/// Scan a tar stream. With `hash`, every regular file's sha256 (and sha512 under
/// `blobs/sha512/`) is computed on the way.
pub fn scan<R: Read>(
    input: R,
    name: &str,
    hash: bool,
) -> std::result::Result<Streamed, StreamError> {
    let terr = |e: std::io::Error| StreamError::Failed(Error::Tar(format!("{name}: {e}")));
    let guard = super::tar_scan::HeaderGuard::new(input);
    let in_data = guard.data_flag();
    let mut archive = tar::Archive::new(guard);
    let mut out = Streamed {
        members: BTreeMap::new(),
        arena: Vec::new(),
        skipped: Default::default(),
        digests: HashMap::new(),
    };
    let mut count = 0usize;
    let mut buf = vec![0u8; super::IO_BUF];
    for entry in archive.entries().map_err(terr)? {
        let mut entry =
            entry.map_err(|e| StreamError::Failed(super::tar_scan::entry_error(name, count, e)))?;
        count += 1;
        let (raw, member_name, kind) = super::tar_scan::describe(&entry, name)?;
        let size = entry.size();
        let mut offset = 0u64;
        if kind == MemberKind::File {
            let start = out.arena.len();
            let mut keep = size <= KEEP_MAX;
            let mut first = true;
            let mut h256 = hash.then(|| Hasher::new(Algorithm::Sha256));
            let mut h512 = (hash && member_name.starts_with("blobs/sha512/"))
                .then(|| Hasher::new(Algorithm::Sha512));
            let mut got = 0u64;
            loop {
                in_data.store(true, Ordering::Relaxed);
                let n = entry.read(&mut buf);
                in_data.store(false, Ordering::Relaxed);
                let n = n.map_err(terr)?;
                if n == 0 {
                    break;
                }
                got += n as u64;
                let chunk = &buf[..n];
                if first {
                    first = false;
                    // Documents are JSON; layers are not worth keeping.
                    let lead = chunk.iter().find(|b| !b.is_ascii_whitespace());
                    let json = matches!(lead, Some(b'{') | Some(b'['));
                    if json && size > KEEP_MAX && size <= super::MAX_JSON {
                        // A document too big to keep but within the documents' cap (a very
                        // wide index): spool instead, as `open` would, rather than fail.
                        return Err(StreamError::TooBig);
                    }
                    keep &= json;
                }
                if keep {
                    if out.arena.len() + n > ARENA_MAX {
                        return Err(StreamError::TooBig);
                    }
                    out.arena.extend_from_slice(chunk);
                }
                if let Some(h) = &mut h256 {
                    h.update(chunk);
                }
                if let Some(h) = &mut h512 {
                    h.update(chunk);
                }
            }
            if got != size {
                return Err(StreamError::Failed(Error::Tar(format!(
                    "{name}: truncated: member {raw} has {got} of {size} bytes"
                ))));
            }
            if keep || size == 0 {
                offset = start as u64;
            } else {
                out.skipped.insert(member_name.clone());
            }
            if let Some(h) = h256 {
                out.digests
                    .insert((member_name.clone(), Algorithm::Sha256), h.finish());
            }
            if let Some(h) = h512 {
                out.digests
                    .insert((member_name.clone(), Algorithm::Sha512), h.finish());
            }
        }
        if member_name.is_empty() {
            continue;
        }
        let is_dir = kind == MemberKind::Dir;
        if let Some(prev) = out
            .members
            .insert(Arc::from(member_name), Member { kind, size, offset })
        {
            if !(prev.kind == MemberKind::Dir && is_dir) {
                return Err(StreamError::Failed(Error::Tar(format!(
                    "{name}: duplicate member {raw}"
                ))));
            }
        }
    }
    // Decode to the end, so a damaged or truncated compressed stream after the tar's end
    // marker is still an error (as a spool would have found).
    let mut rest = archive.into_inner();
    in_data.store(true, Ordering::Relaxed);
    loop {
        match rest.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(terr(e)),
        }
    }
    if count == 0 {
        return Err(StreamError::Failed(super::tar_scan::not_a_tar(name)));
    }
    Ok(out)
}
