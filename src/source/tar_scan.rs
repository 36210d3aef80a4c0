//! The tar reader: scans the headers of an uncompressed tar file in place, seeking past every
//! member's content, and records where each member's bytes are. Nothing is extracted. Extension
//! headers (PAX, GNU long names), which the tar reader holds in memory whole, are refused past
//! [`MAX_EXTENSION`] before a byte of them is read ([`HeaderGuard`]).

use super::members::{self, Members};
use super::paths;
use super::{Member, MemberKind};
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{self, Read, Seek};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The largest tar extension header (PAX `x`/`g`, GNU `L`/`K`) accepted: real ones hold a
/// long name or a few attributes, and the tar reader keeps each in memory whole.
pub const MAX_EXTENSION: u64 = 1 << 20;

/// Scan the tar headers of `file` and return its members by normalised name.
///
/// Refuses names that leave the archive, duplicate regular files, and members whose content
/// runs past the end of the file (a truncated tar).
pub fn scan(file: &File, name: &str) -> Result<Members> {
    let len = file.metadata().map_err(|e| Error::io(name, e))?.len();
    // Headers are read from a memory map where the file can be mapped: reading them with a
    // read and a seek per member cost two system calls each (99,000 members: 0.3 s of `ls`).
    // SAFETY: the map is only read, within the file's length, while this function runs; as with
    // the copy, another process truncating the input meanwhile raises SIGBUS, which `signals`
    // turns into "the input changed while being read".
    match unsafe { memmap2::Mmap::map(file) } {
        Ok(map) => scan_from(HeaderGuard::new(io::Cursor::new(&map[..])), len, name),
        // Empty files and files that cannot be mapped.
        Err(_) => scan_from(HeaderGuard::new(file), len, name),
    }
}

/// The members of the tar `input` (of `len` bytes). A name given twice before the first other
/// fault is the error, as it would have been had the table been checked member by member.
fn scan_from<R: std::io::Read + std::io::Seek>(input: R, len: u64, name: &str) -> Result<Members> {
    let mut members = members::Builder::default();
    let fault = add_entries(input, len, name, &mut members).err();
    let members = members
        .finish()
        .map_err(|raw| Error::Tar(format!("{name}: duplicate member {raw}")))?;
    match fault {
        Some(e) => Err(e),
        None => Ok(members),
    }
}

/// Add the members of the tar `input` to `members`, up to the first fault.
fn add_entries<R: std::io::Read + std::io::Seek>(
    input: R,
    len: u64,
    name: &str,
    members: &mut members::Builder,
) -> Result<()> {
    let mut archive = tar::Archive::new(input);
    let entries = archive
        .entries_with_seek()
        .map_err(|e| Error::Tar(format!("{name}: {e}")))?;
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
        members.push(member_name, &raw, Member { kind, size, offset });
    }
    if count == 0 {
        return Err(not_a_tar(name));
    }
    Ok(())
}

/// Sits between a tar stream and the tar reader and looks at every header the reader asks for
/// (a 512-byte read outside member data): an extension header declaring more than
/// [`MAX_EXTENSION`] bytes is an error there, before the reader allocates for it. Member data
/// read by the caller is marked with [`HeaderGuard::data_flag`] and passes unexamined.
pub struct HeaderGuard<R> {
    inner: R,
    in_data: Arc<AtomicBool>,
}

impl<R> HeaderGuard<R> {
    pub fn new(inner: R) -> HeaderGuard<R> {
        HeaderGuard {
            inner,
            in_data: Arc::default(),
        }
    }

    /// Set while the caller reads member data through the tar reader.
    pub fn data_flag(&self) -> Arc<AtomicBool> {
        self.in_data.clone()
    }
}

impl<R: Read> Read for HeaderGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.len() != BLOCK || self.in_data.load(Ordering::Relaxed) {
            return self.inner.read(buf);
        }
        // A header: read it whole (a decoder may hand out less), then look at it.
        let mut n = 0;
        while n < BLOCK {
            match self.inner.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(r) => n += r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if n == BLOCK {
            check_extension(buf)?;
        }
        Ok(n)
    }
}

impl<R: Seek> Seek for HeaderGuard<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// The size of a tar block (and header).
const BLOCK: usize = 512;

/// Refuse a valid extension header that declares more than [`MAX_EXTENSION`] bytes.
fn check_extension(block: &[u8]) -> io::Result<()> {
    let h = tar::Header::from_byte_slice(block);
    let t = h.entry_type();
    let extension = t.is_pax_local_extensions()
        || t.is_pax_global_extensions()
        || t.is_gnu_longname()
        || t.is_gnu_longlink();
    if !extension {
        return Ok(());
    }
    let sum = block[..148]
        .iter()
        .chain(&block[156..])
        .fold(8 * 32u32, |a, b| a + u32::from(*b));
    match (h.cksum(), h.entry_size()) {
        (Ok(c), Ok(size)) if c == sum && size > MAX_EXTENSION => {
            Err(io::Error::other(ExtensionTooBig(format!(
                "extension header (type {}) of {size} bytes, over the {MAX_EXTENSION}-byte limit",
                char::from(t.as_byte())
            ))))
        }
        _ => Ok(()),
    }
}

/// The error [`HeaderGuard`] gives, told apart from the tar reader's own.
#[derive(Debug)]
struct ExtensionTooBig(String);

impl std::fmt::Display for ExtensionTooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExtensionTooBig {}

/// The error for a tar entry that cannot be read: before the first member, the input is not a
/// tar at all, which says more than the tar reader's complaint about a header field.
pub(super) fn entry_error(name: &str, count: usize, e: std::io::Error) -> Error {
    let guarded = e.get_ref().is_some_and(|x| x.is::<ExtensionTooBig>());
    if count == 0 && !guarded {
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
    let link = || -> Result<Box<str>> {
        match entry.link_name() {
            Ok(Some(l)) => Ok(l.to_string_lossy().into()),
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

    /// Extension headers up to the bound pass; one byte over is refused, whichever the type,
    /// and a member's own size is never limited.
    #[test]
    fn extension_headers_are_bounded() {
        let header = |t: u8, size: u64| {
            let mut h = tar::Header::new_ustar();
            h.set_path("x").unwrap();
            h.set_size(size);
            h.set_entry_type(tar::EntryType::new(t));
            h.set_cksum();
            h.as_bytes().to_vec()
        };
        for t in [b'x', b'g', b'L', b'K'] {
            assert!(check_extension(&header(t, MAX_EXTENSION)).is_ok());
            let e = check_extension(&header(t, MAX_EXTENSION + 1)).unwrap_err();
            assert!(e.to_string().contains("over the 1048576-byte limit"), "{e}");
        }
        assert!(check_extension(&header(b'0', u64::MAX >> 8)).is_ok());
        // A bad checksum is left to the tar reader to report.
        let mut h = header(b'x', MAX_EXTENSION + 1);
        h[0] = b'y';
        assert!(check_extension(&h).is_ok());
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
        let view = |m: &Members| {
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
