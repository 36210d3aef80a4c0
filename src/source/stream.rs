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
    /// The tar's structure ([`Structure`]), for a second pass to compare against.
    pub structure: Digest,
}

/// A digest of a tar stream's structure: every entry's header and data positions, name, type
/// and size, in order. Two passes over one input that agree on it saw the same members at the
/// same uncompressed offsets.
pub struct Structure(Hasher);

impl Structure {
    pub fn new() -> Structure {
        Structure(Hasher::new(Algorithm::Sha256))
    }

    /// Add one entry.
    pub fn add<R: Read>(&mut self, entry: &tar::Entry<'_, R>) {
        let path = entry.path_bytes();
        for n in [
            entry.raw_header_position(),
            entry.raw_file_position(),
            entry.size(),
            u64::from(entry.header().entry_type().as_byte()),
            path.len() as u64,
        ] {
            self.0.update(&n.to_le_bytes());
        }
        self.0.update(&path);
    }

    pub fn finish(self) -> Digest {
        self.0.finish()
    }
}

impl Default for Structure {
    fn default() -> Self {
        Structure::new()
    }
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
        structure: Structure::new().finish(),
    };
    let mut structure = Structure::new();
    let mut count = 0usize;
    let mut buf = vec![0u8; super::IO_BUF];
    for entry in archive.entries().map_err(terr)? {
        let mut entry =
            entry.map_err(|e| StreamError::Failed(super::tar_scan::entry_error(name, count, e)))?;
        count += 1;
        structure.add(&entry);
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
    out.structure = structure.finish();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar of `(name, bytes)` members, in order.
    fn tar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn structure(members: &[(&str, &[u8])]) -> Digest {
        match scan(&tar(members)[..], "t", false) {
            Ok(s) => s.structure,
            Err(_) => panic!("scan failed"),
        }
    }

    #[test]
    fn the_structure_changes_with_names_order_and_sizes_but_not_contents() {
        let base = structure(&[("a", b"{}"), ("b", b"xyz")]);
        assert_eq!(base, structure(&[("a", b"[]"), ("b", b"XYZ")]));
        for other in [
            structure(&[("b", b"xyz"), ("a", b"{}")]),
            structure(&[("a", b"{}"), ("c", b"xyz")]),
            structure(&[("a", b"{} "), ("b", b"xyz")]),
            structure(&[("a", b"{}"), ("b", b"xyz"), ("c", b"")]),
        ] {
            assert_ne!(base, other);
        }
    }
}
