//! The tar reader: scans the headers of an uncompressed tar file in place, seeking past every
//! member's content, and records where each member's bytes are. Nothing is extracted. Extension
//! headers (PAX, GNU long names), which the tar reader holds in memory whole, are refused past
//! [`MAX_EXTENSION`] before a byte of them is read ([`HeaderGuard`]). An archive of plain
//! headers only (no extension, no sparse file, no fault) in a file that can be mapped is read
//! where its headers lie, on every core; the `tar` crate's reader reads every other, and the
//! two agree (tests here, and the `tar_scan` fuzz target).

use super::members::{self, Members, Pending};
use super::paths;
use super::{Member, MemberKind};
use crate::error::{Error, Result};
use rayon::prelude::*;
use std::borrow::Cow;
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
        Ok(map) => match in_place(&map) {
            Some(members) => finish(members, None, name),
            None => scan_from(HeaderGuard::new(io::Cursor::new(&map[..])), len, name),
        },
        // Empty files and files that cannot be mapped.
        Err(_) => scan_with_reader(file, name),
    }
}

/// As [`scan`], with the tar reader alone (reads and seeks, no map): what `scan` does with a
/// file it cannot map, and what its reading of plain headers in place must agree with.
pub fn scan_with_reader(file: &File, name: &str) -> Result<Members> {
    let len = file.metadata().map_err(|e| Error::io(name, e))?.len();
    scan_from(HeaderGuard::new(file), len, name)
}

/// The members of a tar held in `bytes`, read from its headers where they lie (the tar reader
/// copies each 512-byte header out first), the headers found on one core and read on every
/// core: 97,500 members took 90 ms on one. Only plain headers are read here: `None` at the
/// first extension header (PAX, GNU long names), sparse file, bad checksum, field that does
/// not parse, header cut short, fault or empty archive, and the tar reader reads the whole
/// archive again, as the one that applies extensions and says what is wrong.
fn in_place(bytes: &[u8]) -> Option<members::Builder> {
    let headers = header_offsets(bytes)?;
    let fault = AtomicBool::new(headers.is_empty());
    // One list, filled in place, then emptied of the root in place: a list of another type
    // would be 10 MB more to fault in and copy.
    let read: Vec<Option<Pending>> = headers
        .par_iter()
        .enumerate()
        .map(|(seq, &at)| {
            read_plain(bytes, at, seq).unwrap_or_else(|| {
                fault.store(true, Ordering::Relaxed);
                None
            })
        })
        .collect();
    if fault.into_inner() {
        return None;
    }
    // `filter_map` is collected in place; `flatten`, which clippy prefers, was copied into a
    // list of its own (14 ms).
    #[allow(clippy::filter_map_identity)]
    let pending = read.into_iter().filter_map(|p| p).collect();
    Some(members::Builder::from_pending(pending))
}

/// Where each header of the tar in `bytes` starts, up to the end of the archive: an all-zero
/// block, or the end of `bytes` (a member other than a file may say it runs past it). `None`
/// when a part of a header ends `bytes` or a size does not parse.
fn header_offsets(bytes: &[u8]) -> Option<Vec<usize>> {
    let mut headers = Vec::new();
    let mut at = 0usize;
    while let Some(block) = bytes.get(at..at.checked_add(BLOCK)?) {
        if block.iter().all(|b| *b == 0) {
            return Some(headers);
        }
        let size = tar::Header::from_byte_slice(block).entry_size().ok()?;
        headers.push(at);
        let next = (at as u64 + BLOCK as u64)
            .checked_add(size.checked_add(BLOCK as u64 - 1)? & !(BLOCK as u64 - 1))?;
        at = usize::try_from(next).ok()?;
    }
    (at >= bytes.len()).then_some(headers)
}

/// The member whose plain header is at `at` in `bytes`, the `seq`th: `Some(None)` for the
/// archive's root (`./`), `None` when the header is not plain or the member is at fault.
fn read_plain(bytes: &[u8], at: usize, seq: usize) -> Option<Option<Pending>> {
    let block = bytes.get(at..at + BLOCK)?;
    let header = tar::Header::from_byte_slice(block);
    if !is_plain(header, block) {
        return None;
    }
    let size = header.entry_size().ok()?;
    let offset = (at + BLOCK) as u64;
    let path = header.path().ok()?;
    let raw = path.to_string_lossy();
    let name = paths::normalize(&raw, &raw).ok()?;
    let kind = kind_of(header.entry_type(), &raw, header.link_name()).ok()?;
    if kind == MemberKind::File && offset.checked_add(size)? > bytes.len() as u64 {
        return None;
    }
    let member = Member { kind, size, offset };
    Some((!name.is_empty()).then(|| Pending::new(&name, &raw, member, seq)))
}

/// A header the tar reader gives as it is: its checksum holds and it is neither an extension
/// header nor a sparse file's.
fn is_plain(header: &tar::Header, block: &[u8]) -> bool {
    let t = header.entry_type();
    let special = t.is_gnu_longname()
        || t.is_gnu_longlink()
        || t.is_pax_local_extensions()
        || t.is_pax_global_extensions()
        || t.is_gnu_sparse();
    !special && header.cksum().ok() == Some(checksum(block))
}

/// The checksum of a header block: its bytes summed, the checksum field counted as spaces.
fn checksum(block: &[u8]) -> u32 {
    // Two sums rather than one over a chain of both: each is summed 32 bytes at a time.
    let sum = |bytes: &[u8]| bytes.iter().map(|b| u32::from(*b)).sum::<u32>();
    8 * 32 + sum(&block[..148]) + sum(&block[156..])
}

/// The members of the tar `input` (of `len` bytes). A name given twice before the first other
/// fault is the error, as it would have been had the table been checked member by member.
fn scan_from<R: std::io::Read + std::io::Seek>(input: R, len: u64, name: &str) -> Result<Members> {
    let mut members = members::Builder::default();
    let fault = add_entries(input, len, name, &mut members).err();
    finish(members, fault, name)
}

/// The sorted table of `members`, or the first of a repeated name and `fault`.
fn finish(members: members::Builder, fault: Option<Error>, name: &str) -> Result<Members> {
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
        members.push(&member_name, &raw, Member { kind, size, offset });
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
    match (h.cksum(), h.entry_size()) {
        (Ok(c), Ok(size)) if c == checksum(block) && size > MAX_EXTENSION => {
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
/// shared by the tar reader's scan and the streaming reader.
pub(super) fn describe<R: std::io::Read>(
    entry: &tar::Entry<'_, R>,
    name: &str,
) -> Result<(String, String, MemberKind)> {
    let raw = entry
        .path()
        .map_err(|e| Error::Tar(format!("{name}: member name: {e}")))?
        .to_string_lossy()
        .into_owned();
    let member_name = paths::normalize(&raw, &raw)?.into_owned();
    let kind = kind_of(entry.header().entry_type(), &raw, entry.link_name())?;
    Ok((raw, member_name, kind))
}

/// The kind of a member of type `et` named `raw`, with `link`, its link target (needed only by
/// links).
fn kind_of(
    et: tar::EntryType,
    raw: &str,
    link: io::Result<Option<Cow<'_, std::path::Path>>>,
) -> Result<MemberKind> {
    let link = || -> Result<Box<str>> {
        match link {
            Ok(Some(l)) => Ok(l.to_string_lossy().into()),
            Ok(None) => Err(Error::Tar(format!("{raw}: link without a target"))),
            Err(e) => Err(Error::Tar(format!("{raw}: link target: {e}"))),
        }
    };
    Ok(if et.is_file() || et.is_contiguous() {
        MemberKind::File
    } else if et.is_dir() {
        MemberKind::Dir
    } else if et.is_symlink() {
        MemberKind::Symlink(link()?)
    } else if et.is_hard_link() {
        MemberKind::HardLink(link()?)
    } else {
        MemberKind::Other
    })
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

    /// A member table as comparable rows.
    fn rows(m: &Members) -> Vec<(Arc<str>, MemberKind, u64, u64)> {
        m.iter()
            .map(|(k, v)| (k.clone(), v.kind.clone(), v.offset, v.size))
            .collect()
    }

    /// What `scan` (headers read in place where they are plain) and the tar reader alone make
    /// of `bytes`: the same members, or the same error.
    fn both(bytes: &[u8]) -> (Result<Vec<impl std::fmt::Debug + PartialEq>, String>, bool) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        let fast = scan(f.as_file(), "a.tar").map(|m| rows(&m));
        let slow = scan_with_reader(rewound(f.as_file()), "a.tar").map(|m| rows(&m));
        let (fast, slow) = (
            fast.map_err(|e| e.to_string()),
            slow.map_err(|e| e.to_string()),
        );
        assert_eq!(fast, slow);
        (fast, in_place(bytes).is_some())
    }

    /// The archives real tools wrote are read in place, as the tar reader reads them.
    #[test]
    fn real_archives_are_read_in_place_as_the_tar_reader_reads_them() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");
        for name in [
            "ctr-full.tar",
            "ctr-shallow.tar",
            "docker-legacy.tar",
            "docker-list.tar",
        ]
        .iter()
        .chain(&["oci-index.tar", "skopeo-docker-archive.tar"])
        {
            let bytes = std::fs::read(format!("{dir}/{name}")).unwrap();
            let (members, in_place) = both(&bytes);
            assert!(members.is_ok_and(|m| m.len() > 3), "{name}");
            assert!(in_place, "{name} was not read in place");
        }
    }

    /// Extension headers, links, the root, bad checksums, an early end, a cut header, a
    /// truncated member, a name that leaves the archive and a repeated name: read in place or
    /// handed to the tar reader, the result is the tar reader's.
    #[test]
    fn odd_archives_give_what_the_tar_reader_gives() {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &str, t: tar::EntryType, data: &[u8], link: Option<&str>| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(t);
            h.set_size(data.len() as u64);
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            b.append_data(&mut h, name, data).unwrap();
        };
        add("./", tar::EntryType::Directory, b"", None);
        add("./blobs/x", tar::EntryType::Regular, b"abc", None);
        add("l", tar::EntryType::Symlink, b"", Some("blobs/x"));
        add("h", tar::EntryType::Link, b"", Some("blobs/x"));
        add("dir/", tar::EntryType::Directory, b"", None);
        add("dir", tar::EntryType::Directory, b"", None);
        let plain = b.into_inner().unwrap();
        let (members, in_place) = both(&plain);
        assert_eq!(members.map(|m| m.len()).ok(), Some(4)); // one "dir", no root
        assert!(in_place);

        let mut long = tar::Builder::new(Vec::new());
        let name = format!("{}/m", "d".repeat(150));
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        long.append_data(&mut h, &name, &b"x"[..]).unwrap(); // a GNU long name
        let mut pax = tar::Builder::new(Vec::new());
        pax.append_pax_extensions([("path", &b"p/q"[..])]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        pax.append_data(&mut h, "short", &b"x"[..]).unwrap();
        for odd in [long.into_inner().unwrap(), pax.into_inner().unwrap()] {
            let (members, in_place) = both(&odd);
            assert_eq!(members.map(|m| m.len()).ok(), Some(1));
            assert!(!in_place);
        }

        let at = |i: usize| i * 512; // headers of `plain`: 0 root, 1 file, 3 l, 4 h
        let mut bad_sum = plain.clone();
        bad_sum[at(3) + 10] ^= 1;
        let mut end_early = plain.clone();
        end_early[at(3)..at(4)].fill(0);
        let cut_header = plain[..at(3) + 100].to_vec();
        let truncated = plain[..at(2) + 1].to_vec(); // in the content of blobs/x
        let mut escapes = plain.clone();
        escapes[at(3)..at(3) + 3].copy_from_slice(b"../");
        let mut h = tar::Header::from_byte_slice(&escapes[at(3)..at(4)]).clone();
        h.set_cksum();
        escapes[at(3)..at(4)].copy_from_slice(h.as_bytes());
        let mut repeated = plain.clone();
        repeated[at(4)] = b'l';
        let mut h = tar::Header::from_byte_slice(&repeated[at(4)..at(5)]).clone();
        h.set_cksum();
        repeated[at(4)..at(5)].copy_from_slice(h.as_bytes());
        // (what, bytes, read without an error, read in place)
        for (what, odd, ok, read_in_place) in [
            ("bad checksum", bad_sum, false, false),
            ("end early", end_early, true, true),
            ("cut header", cut_header, false, false),
            ("truncated", truncated, false, false),
            ("escapes", escapes, false, false),
            ("repeated", repeated, false, true),
            ("empty", vec![0; 1024], false, false),
        ] {
            let (members, in_place) = both(&odd);
            assert_eq!(members.is_ok(), ok, "{what}: {members:?}");
            assert_eq!(in_place, read_in_place, "{what}");
        }
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
