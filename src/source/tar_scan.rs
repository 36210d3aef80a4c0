//! The tar reader: scans the headers of an uncompressed tar file in place, seeking past every
//! member's content, and records where each member's bytes are. Nothing is extracted.

use super::paths;
use super::{Member, MemberKind};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fs::File;

/// Scan the tar headers of `file` and return its members by normalised name.
///
/// Refuses names that leave the archive, duplicate regular files, and members whose content
/// runs past the end of the file (a truncated tar).
pub fn scan(file: &File, name: &str) -> Result<BTreeMap<String, Member>> {
    let len = file.metadata().map_err(|e| Error::io(name, e))?.len();
    // Headers are read from a memory map where the file can be mapped: reading them with a
    // read and a seek per member cost two system calls each (99,000 members: 0.3 s of `ls`).
    // SAFETY: the map is only read, within the file's length, while this function runs; as with
    // the copy, another process truncating the input meanwhile would stop us with SIGBUS.
    match unsafe { memmap2::Mmap::map(file) } {
        Ok(map) => scan_from(std::io::Cursor::new(&map[..]), len, name),
        // Empty files and files that cannot be mapped.
        Err(_) => scan_from(file, len, name),
    }
}

fn scan_from<R: std::io::Read + std::io::Seek>(
    input: R,
    len: u64,
    name: &str,
) -> Result<BTreeMap<String, Member>> {
    let mut archive = tar::Archive::new(input);
    let entries = archive
        .entries_with_seek()
        .map_err(|e| Error::Tar(format!("{name}: {e}")))?;
    let mut members = BTreeMap::new();
    let mut count = 0usize;
    for entry in entries {
        let entry = entry.map_err(|e| entry_error(name, count, e))?;
        count += 1;
        let (raw, member_name, kind) = describe(&entry, name)?;
        let size = entry.size();
        let offset = entry.raw_file_position();
        if kind == MemberKind::File && offset.checked_add(size).is_none_or(|end| end > len) {
            return Err(Error::Tar(format!(
                "{name}: truncated: member {raw} needs {size} bytes at offset {offset}, file has {len}"
            )));
        }
        if member_name.is_empty() {
            continue; // "./" itself
        }
        let member = Member { kind, size, offset };
        if let Some(prev) = members.insert(member_name.clone(), member) {
            if !(prev.kind == MemberKind::Dir && members[&member_name].kind == MemberKind::Dir) {
                return Err(Error::Tar(format!("{name}: duplicate member {raw}")));
            }
        }
    }
    if count == 0 {
        return Err(not_a_tar(name));
    }
    Ok(members)
}

/// The error for a tar entry that cannot be read: before the first member, the input is not a
/// tar at all, which says more than the tar reader's complaint about a header field.
pub(super) fn entry_error(name: &str, count: usize, e: std::io::Error) -> Error {
    if count == 0 {
        not_a_tar(name)
    } else {
        Error::Tar(format!("{name}: {e}"))
    }
}

pub(super) fn not_a_tar(name: &str) -> Error {
    Error::NotAnArchive(format!(
        "{name}: not an image archive (empty, or not a tar file, nor a gzip or zstd one)"
    ))
}

/// A member's name as written, its normalised name, and its kind (with a link's target):
/// shared by the in-place scan and the streaming reader.
pub(super) fn describe<R: std::io::Read>(
    entry: &tar::Entry<'_, R>,
    name: &str,
) -> Result<(String, String, MemberKind)> {
    let raw = entry
        .path()
        .map_err(|e| Error::Tar(format!("{name}: member name: {e}")))?
        .to_string_lossy()
        .into_owned();
    let member_name = paths::normalize(&raw, &raw)?;
    let et = entry.header().entry_type();
    let link = || -> Result<String> {
        match entry.link_name() {
            Ok(Some(l)) => Ok(l.to_string_lossy().into_owned()),
            Ok(None) => Err(Error::Tar(format!("{raw}: link without a target"))),
            Err(e) => Err(Error::Tar(format!("{raw}: link target: {e}"))),
        }
    };
    let kind = if et.is_file() || et.is_contiguous() {
        MemberKind::File
    } else if et.is_dir() {
        MemberKind::Dir
    } else if et.is_symlink() {
        MemberKind::Symlink(link()?)
    } else if et.is_hard_link() {
        MemberKind::HardLink(link()?)
    } else {
        MemberKind::Other
    };
    Ok((raw, member_name, kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, Write};

    fn rewound(mut f: &File) -> &File {
        f.rewind().unwrap();
        f
    }

    /// Scanning from the map and with reads and seeks (files that cannot be mapped) agree, and
    /// both refuse a truncated tar.
    #[test]
    fn mapped_and_read_scans_agree() {
        let mut b = tar::Builder::new(Vec::new());
        for (i, n) in [0usize, 1, 512, 70_000].into_iter().enumerate() {
            let mut h = tar::Header::new_gnu();
            h.set_size(n as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, format!("d/m{i}"), &vec![7u8; n][..])
                .unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&bytes).unwrap();
        let len = bytes.len() as u64;
        let mapped = scan(f.as_file(), "a.tar").unwrap();
        let read = scan_from(rewound(f.as_file()), len, "a.tar").unwrap();
        let view = |m: &BTreeMap<String, Member>| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.kind.clone(), v.offset, v.size))
                .collect::<Vec<_>>()
        };
        assert_eq!(view(&mapped), view(&read));
        assert_eq!(mapped.len(), 4, "{:?}", view(&mapped));
        // Cut inside the last member's content.
        f.as_file().set_len(len - 1024 - 600).unwrap();
        for r in [
            scan(f.as_file(), "a.tar"),
            scan_from(rewound(f.as_file()), len - 1624, "a.tar"),
        ] {
            let e = r.unwrap_err().to_string();
            assert!(e.contains("a.tar: truncated: member d/m3"), "{e}");
        }
    }
}
