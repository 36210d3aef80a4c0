//! Getting bytes out of an image archive without extracting it: the member table of a tar file
//! scanned in place, a decompressed spool for gzip/zstd/stdin input, the documents of a decoded
//! stream kept in memory (with, for a compressed file, a second pass over it: [`replay`]), or an
//! OCI layout directory. Everything above this module sees members by name and reads byte ranges.

pub mod compress;
pub mod dir;
pub mod mapped;
pub mod members;
pub mod paths;
pub mod replay;
pub mod stream;
pub mod tar_scan;

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use compress::{Compression, Prefetch};
pub use members::Members;

/// What a member of the archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKind {
    /// A regular file whose bytes are at `offset` in the backing tar, or in `path` for a directory.
    File,
    /// A symbolic link, target as written (boxed, as the member table holds 100,000s of kinds).
    Symlink(Box<str>),
    /// A tar hard link to another member (target as written).
    HardLink(Box<str>),
    /// A directory.
    Dir,
    /// Devices, fifos and the like: ignored.
    Other,
}

/// One member of the archive.
#[derive(Debug, Clone)]
pub struct Member {
    pub kind: MemberKind,
    pub size: u64,
    /// Byte offset of the content in the tar file (0 for a directory layout).
    pub offset: u64,
}

/// Where a regular file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    /// The (normalised) member name that holds the bytes, after following links: shared with
    /// the member table, as a graph holds a `Loc` for every blob.
    pub member: Arc<str>,
    pub offset: u64,
    pub size: u64,
    /// Which input of a union holds it (see `Graph::inputs`); 0 for a single archive.
    pub input: usize,
}

/// The bytes behind the members.
#[derive(Debug)]
enum Backing {
    Tar(Arc<File>),
    Dir(PathBuf),
    /// A decoded stream: only the documents are kept (see [`stream`]).
    Memory {
        arena: Vec<u8>,
        skipped: std::collections::HashSet<String>,
        digests:
            std::collections::HashMap<(String, crate::digest::Algorithm), crate::digest::Digest>,
        size: u64,
        /// How to decode the input again, when it is a file ([`Archive::open_two_pass`]).
        replay: Option<replay::Replay>,
    },
}

/// Counts the bytes that pass.
struct Counting<R> {
    inner: R,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// An opened archive: its member table and a way to read members' bytes.
#[derive(Debug)]
pub struct Archive {
    /// The name the user gave (`-` for stdin).
    pub name: String,
    pub compression: Compression,
    backing: Backing,
    members: Members,
    /// Keeps a decompression spool alive as long as the archive.
    _spool: Option<compress::Spool>,
    /// The tar file mapped into memory, made on first use (see [`Archive::map`]).
    map: std::sync::OnceLock<Option<memmap2::Mmap>>,
}

/// The largest JSON document we read into memory.
pub const MAX_JSON: u64 = 64 << 20;

/// The size of the buffers members' bytes are read (and archives written) through.
pub const IO_BUF: usize = 1 << 20;

/// How much of a mapped member is hashed before its pages are released.
const HASH_WINDOW: usize = 8 << 20;

/// The smallest member hashed from the map: a smaller one is read into a buffer of its size.
/// Releasing a member's pages from the map interrupts every other core running this process to
/// flush its address cache; for the 97,500 members of an archive of 1,500 images, one release
/// each was most of `verify`'s time, while reading a few kilobytes costs one system call.
const MAP_MIN: u64 = 128 << 10;

/// The most links [`Archive::resolve`] follows from one name before calling it a loop (as
/// Linux's `MAXSYMLINKS`).
pub const MAX_LINK_DEPTH: usize = 40;

impl Archive {
    /// Open `path` (a tar file, gzip or zstd tar, an OCI layout directory, or `-` for stdin;
    /// a pipe such as `<(…)` or a FIFO is read like stdin).
    pub fn open(path: &str) -> Result<Archive> {
        if path == "-" {
            let stdin = io::stdin();
            let (spool, compression) = compress::spool(stdin, "-")?;
            return Self::from_spool(path, spool, compression);
        }
        let p = Path::new(path);
        let meta = std::fs::metadata(p).map_err(|e| Error::io(path, e))?;
        if !meta.is_dir() && !meta.is_file() {
            let pipe = File::open(p).map_err(|e| Error::io(path, e))?;
            let (spool, compression) = compress::spool(pipe, path)?;
            return Self::from_spool(path, spool, compression);
        }
        if meta.is_dir() {
            let members = dir::scan(p)?.into();
            return Ok(Archive {
                name: path.to_string(),
                compression: Compression::None,
                backing: Backing::Dir(p.to_path_buf()),
                members,
                _spool: None,
                map: Default::default(),
            });
        }
        let mut file = File::open(p).map_err(|e| Error::io(path, e))?;
        let compression = compress::sniff(&mut file).map_err(|e| Error::io(path, e))?;
        if compression != Compression::None {
            let (spool, compression) = compress::spool(file, path)?;
            return Self::from_spool(path, spool, compression);
        }
        let members = tar_scan::scan(&file, path)?;
        Ok(Archive {
            name: path.to_string(),
            compression,
            backing: Backing::Tar(Arc::new(file)),
            members,
            _spool: None,
            map: Default::default(),
        })
    }

    /// Open for reading only (`ls`, `verify`): like [`Archive::open`], but compressed or piped
    /// input is decoded as a stream with only its documents kept in memory (no spool), and with
    /// `hash` every member's digest is computed on the way. Falls back to spooling a file whose
    /// documents do not fit in memory.
    pub fn open_streaming(path: &str, hash: bool) -> Result<Archive> {
        let from_pipe = |a: Option<Archive>| {
            a.ok_or_else(|| {
                Error::format(
                    path,
                    "the archive's documents are too large to read from a pipe; save it to a file first",
                )
            })
        };
        if path == "-" {
            return from_pipe(Self::streamed(
                path,
                Prefetch::new(io::stdin()),
                hash,
                None,
            )?);
        }
        let p = Path::new(path);
        let meta = std::fs::metadata(p).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Archive::open(path);
        }
        if !meta.is_file() {
            let pipe = File::open(p).map_err(|e| Error::io(path, e))?;
            return from_pipe(Self::streamed(path, Prefetch::new(pipe), hash, None)?);
        }
        Self::open_file_streaming(path, hash, false)
    }

    /// Open for writing an uncompressed file (`filter`): like [`Archive::open`], but a gzip or
    /// zstd FILE is read twice instead of spooled — now for its documents (as
    /// [`Archive::open_streaming`]), and again by the sink for the blobs it writes
    /// ([`Archive::replay`]). Such an archive can only be written to an uncompressed file.
    /// Standard input and pipes are spooled, as by [`Archive::open`].
    pub fn open_two_pass(path: &str) -> Result<Archive> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => Self::open_file_streaming(path, false, true),
            _ => Archive::open(path),
        }
    }

    /// [`Archive::open_streaming`] of a regular file (kept open for a second pass when
    /// `replay`), which falls back to [`Archive::open`] when it is not compressed or its
    /// documents do not fit in memory.
    fn open_file_streaming(path: &str, hash: bool, replay: bool) -> Result<Archive> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        if compress::sniff(&mut file).map_err(|e| Error::io(path, e))? == Compression::None {
            return Archive::open(path);
        }
        let file = Arc::new(file);
        let input = file.try_clone().map_err(|e| Error::io(path, e))?;
        let keep = replay.then_some(file);
        match Self::streamed(path, Prefetch::new(input), hash, keep)? {
            Some(a) => Ok(a),
            None => Archive::open(path),
        }
    }

    /// Decode `input` as a stream ([`stream::scan`]); `None` when its documents do not fit in
    /// memory. With `file`, the archive keeps it for a second pass.
    fn streamed(
        path: &str,
        mut input: Prefetch,
        hash: bool,
        file: Option<Arc<File>>,
    ) -> Result<Option<Archive>> {
        let compression = compress::peek(&mut input).map_err(|e| Error::io(path, e))?;
        let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let decoded = compress::decoder(input, compression).map_err(|e| Error::io(path, e))?;
        let counting = Counting {
            inner: decoded,
            count: count.clone(),
        };
        match stream::scan(counting, path, hash) {
            Ok(s) => Ok(Some(Archive {
                name: path.to_string(),
                compression,
                backing: Backing::Memory {
                    arena: s.arena,
                    skipped: s.skipped,
                    digests: s.digests,
                    size: count.load(std::sync::atomic::Ordering::Relaxed),
                    replay: file.map(|file| replay::Replay {
                        file,
                        compression,
                        structure: s.structure,
                    }),
                },
                members: s.members.into(),
                _spool: None,
                map: Default::default(),
            })),
            Err(stream::StreamError::TooBig) => Ok(None),
            Err(stream::StreamError::Failed(e)) => Err(match (compression, e) {
                (Compression::None, e) => e,
                (c, Error::Tar(m)) if !m.contains("duplicate member") => {
                    Error::NotAnArchive(format!("cannot decompress {} stream: {m}", c.name()))
                }
                (_, e) => e,
            }),
        }
    }

    /// How to decode the input a second time, for an archive opened by
    /// [`Archive::open_two_pass`] from a compressed file.
    pub fn replay(&self) -> Option<&replay::Replay> {
        match &self.backing {
            Backing::Memory { replay, .. } => replay.as_ref(),
            _ => None,
        }
    }

    /// A digest computed while streaming, if any.
    pub fn known_digest(
        &self,
        loc: &Loc,
        algorithm: crate::digest::Algorithm,
    ) -> Option<crate::digest::Digest> {
        match &self.backing {
            Backing::Memory { digests, .. } => {
                digests.get(&(loc.member.to_string(), algorithm)).cloned()
            }
            _ => None,
        }
    }

    fn from_spool(name: &str, spool: compress::Spool, compression: Compression) -> Result<Archive> {
        let file = spool.0.reopen().map_err(|e| Error::io(name, e))?;
        let members = tar_scan::scan(&file, name)?;
        Ok(Archive {
            name: name.to_string(),
            compression,
            backing: Backing::Tar(Arc::new(file)),
            members,
            _spool: Some(spool),
            map: Default::default(),
        })
    }

    /// All members by normalised name.
    pub fn members(&self) -> &Members {
        &self.members
    }

    /// Forget the member table, for a caller that reads only by [`Loc`] from here on: 5.5 MB
    /// of an archive of 100,000 members. A layout directory keeps it: its size is the sum of
    /// its members.
    pub fn drop_members(&mut self) {
        if !matches!(self.backing, Backing::Dir(_)) {
            self.members = Members::default();
        }
    }

    /// The backing tar file, when the archive is (or was decompressed into) a tar file.
    pub fn tar_file(&self) -> Option<&File> {
        match &self.backing {
            Backing::Tar(f) => Some(f),
            Backing::Dir(_) | Backing::Memory { .. } => None,
        }
    }

    /// Total size in bytes of the backing file (the decompressed tar), or the sum of the
    /// files of a layout directory.
    pub fn size(&self) -> u64 {
        match &self.backing {
            Backing::Tar(f) => f.metadata().map(|m| m.len()).unwrap_or(0),
            Backing::Dir(_) => self.members.values().map(|m| m.size).sum(),
            Backing::Memory { size, .. } => *size,
        }
    }

    /// Find the regular file behind `name`, following symlinks and hard links inside the
    /// archive. `Ok(None)` when there is no such member; an error when a link escapes or loops.
    pub fn resolve(&self, name: &str) -> Result<Option<Loc>> {
        let mut current = paths::normalize(name, name)?.into_owned();
        for _ in 0..MAX_LINK_DEPTH {
            let Some((key, m)) = self.members.get_key_value(current.as_str()) else {
                return Ok(None);
            };
            match &m.kind {
                MemberKind::File => {
                    return Ok(Some(Loc {
                        member: key.clone(),
                        offset: m.offset,
                        size: m.size,
                        input: 0,
                    }))
                }
                MemberKind::Symlink(target) => {
                    current = paths::join_link(&current, target)?;
                }
                MemberKind::HardLink(target) => {
                    current = paths::normalize(target, &current)?.into_owned();
                }
                MemberKind::Dir | MemberKind::Other => {
                    return Err(Error::format(current, "is not a regular file"))
                }
            }
        }
        Err(Error::UnsafePath {
            member: name.to_string(),
            reason: "too many levels of links (a loop?)".into(),
        })
    }

    /// Read a whole (small) member into memory, refusing anything over `cap` bytes.
    pub fn read_small(&self, loc: &Loc, cap: u64) -> Result<Vec<u8>> {
        if loc.size > cap {
            return Err(Error::format(
                &*loc.member,
                format!("document too large ({} bytes, limit {cap})", loc.size),
            ));
        }
        let mut buf = vec![0u8; loc.size as usize];
        self.read_exact_at(loc, 0, &mut buf)?;
        Ok(buf)
    }

    /// Read `buf.len()` bytes of `loc` starting at `pos` within it.
    pub fn read_exact_at(&self, loc: &Loc, pos: u64, buf: &mut [u8]) -> Result<()> {
        match &self.backing {
            Backing::Tar(f) => f
                .read_exact_at(buf, loc.offset + pos)
                .map_err(|e| Error::io(format!("{}: {}", self.name, loc.member), e)),
            Backing::Memory { arena, skipped, .. } => {
                let slice = Self::memory_slice(arena, skipped, loc)?;
                let start = pos as usize;
                match slice.get(start..start + buf.len()) {
                    Some(s) => {
                        buf.copy_from_slice(s);
                        Ok(())
                    }
                    None => Err(Error::format(
                        &*loc.member,
                        "read past the end of the member",
                    )),
                }
            }
            Backing::Dir(root) => {
                let path = root.join(&*loc.member);
                let f = File::open(&path).map_err(|e| Error::io(&*loc.member, e))?;
                f.read_exact_at(buf, pos)
                    .map_err(|e| Error::io(&*loc.member, e))
            }
        }
    }

    /// The backing tar file mapped into memory (mapped on first use), to hash and copy blobs
    /// straight from the page cache: reading them into a buffer first costs one more copy of
    /// every byte, 20 % of the hashing time. `None` when the archive is not a tar file or cannot
    /// be mapped; callers then read.
    pub fn map(&self) -> Option<&[u8]> {
        let Backing::Tar(file) = &self.backing else {
            return None;
        };
        self.map
            .get_or_init(|| {
                // SAFETY: the map is only read, and only within member ranges the tar scan
                // checked lie inside the file. Another process truncating the input while we
                // read it raises SIGBUS: `signals` maps zeros over the lost pages and the run
                // ends with "the input changed while being read".
                let map = unsafe { memmap2::Mmap::map(&**file) }.ok()?;
                let _ = map.advise(memmap2::Advice::Sequential);
                Some(map)
            })
            .as_deref()
    }

    /// The bytes of `loc` in [`Archive::map`], if the archive is mapped.
    pub fn mapped(&self, loc: &Loc) -> Option<Result<&[u8]>> {
        self.map()
            .map(|m| map_range(m, &loc.member, loc.offset, loc.size))
    }

    /// Feed the bytes of `loc` to `h`: straight from [`Archive::map`] in windows, each released
    /// once hashed, or else (and for members under [`MAP_MIN`]) read in pieces of up to 1 MiB.
    pub fn hash_into(&self, h: &mut crate::digest::Hasher, loc: &Loc) -> Result<()> {
        self.chunks(loc)?.hash_rest(h)
    }

    /// [`Archive::hash_into`] for two members at once, hashed together on this core where the
    /// hashers can ([`crate::digest::Hasher::update_pair`]).
    pub fn hash_pair_into(
        &self,
        (ha, la): (&mut crate::digest::Hasher, &Loc),
        (hb, lb): (&mut crate::digest::Hasher, &Loc),
    ) -> Result<()> {
        let (mut ca, mut cb) = (self.chunks(la)?, self.chunks(lb)?);
        loop {
            match (ca.next()?, cb.next()?) {
                (Some(a), Some(b)) => crate::digest::Hasher::update_pair(ha, a, hb, b),
                (Some(a), None) => {
                    ha.update(a);
                    return ca.hash_rest(ha);
                }
                (None, Some(b)) => {
                    hb.update(b);
                    return cb.hash_rest(hb);
                }
                (None, None) => return Ok(()),
            }
        }
    }

    /// The bytes of `loc` a window at a time.
    fn chunks(&self, loc: &Loc) -> Result<Chunks<'_>> {
        Ok(match self.mapped(loc).transpose()? {
            Some(bytes) if loc.size >= MAP_MIN => Chunks::Mapped {
                archive: self,
                rest: bytes,
                last: &[],
            },
            _ => Chunks::Read {
                reader: self.reader(loc)?,
                buf: vec![0u8; usize::try_from(loc.size).map_or(IO_BUF, |n| n.min(IO_BUF))],
                name: format!("{}: {}", self.name, loc.member),
            },
        })
    }

    /// Done with these bytes of [`Archive::map`]: their pages leave our resident set (they stay
    /// in the page cache, and reading them again maps them again), so the process's RSS stays
    /// small however large the archive. Bytes outside the map are ignored.
    pub fn release(&self, bytes: &[u8]) {
        let Some(Some(map)) = self.map.get() else {
            return;
        };
        let base = map.as_ptr() as usize;
        let p = bytes.as_ptr() as usize;
        if bytes.is_empty() || p < base || p + bytes.len() > base + map.len() {
            return;
        }
        // SAFETY: a read-only shared mapping of a file: MADV_DONTNEED only drops page table
        // entries; the file's bytes are what any later access sees (memmap2 aligns the range
        // down to a page; a neighbour's page dropped with it is mapped again on access).
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, p - base, bytes.len())
        };
    }

    /// A reader over the bytes of `loc`.
    pub fn reader(&self, loc: &Loc) -> Result<Box<dyn Read + Send + '_>> {
        match &self.backing {
            Backing::Tar(f) => Ok(Box::new(RangeReader {
                file: f,
                pos: loc.offset,
                end: loc.offset + loc.size,
            })),
            Backing::Memory { arena, skipped, .. } => {
                Ok(Box::new(Self::memory_slice(arena, skipped, loc)?))
            }
            Backing::Dir(root) => {
                let f =
                    File::open(root.join(&*loc.member)).map_err(|e| Error::io(&*loc.member, e))?;
                Ok(Box::new(f.take(loc.size)))
            }
        }
    }
}

impl Archive {
    fn memory_slice<'a>(
        arena: &'a [u8],
        skipped: &std::collections::HashSet<String>,
        loc: &Loc,
    ) -> Result<&'a [u8]> {
        if skipped.contains(&*loc.member) {
            return Err(Error::format(
                &*loc.member,
                "content not kept when reading a compressed stream",
            ));
        }
        let start = loc.offset as usize;
        arena
            .get(start..start + loc.size as usize)
            .ok_or_else(|| Error::format(&*loc.member, "member outside the stream arena"))
    }
}

/// The `len` bytes at `offset` of a mapped tar file (`member` names them in the error).
pub fn map_range<'m>(map: &'m [u8], member: &str, offset: u64, len: u64) -> Result<&'m [u8]> {
    usize::try_from(offset)
        .ok()
        .and_then(|start| Some(start..start.checked_add(usize::try_from(len).ok()?)?))
        .and_then(|r| map.get(r))
        .ok_or_else(|| {
            Error::io(
                member,
                io::Error::new(io::ErrorKind::UnexpectedEof, "input ended inside a member"),
            )
        })
}

/// Reads a byte range of a file with positioned reads, so many readers can share one file.
struct RangeReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        if left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(left as usize);
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends inside a member",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// A member's bytes a window at a time: mapped windows of 8 MiB, each released once the next is
/// asked for, or reads of up to 1 MiB into a buffer.
enum Chunks<'a> {
    Mapped {
        archive: &'a Archive,
        rest: &'a [u8],
        last: &'a [u8],
    },
    Read {
        reader: Box<dyn Read + Send + 'a>,
        buf: Vec<u8>,
        name: String,
    },
}

impl Chunks<'_> {
    /// Feed every window left to `h`.
    fn hash_rest(&mut self, h: &mut crate::digest::Hasher) -> Result<()> {
        while let Some(bytes) = self.next()? {
            h.update(bytes);
        }
        Ok(())
    }

    fn next(&mut self) -> Result<Option<&[u8]>> {
        match self {
            Chunks::Mapped {
                archive,
                rest,
                last,
            } => {
                if crate::signals::input_changed() {
                    return Err(Error::InputChanged);
                }
                archive.release(last);
                let n = rest.len().min(HASH_WINDOW);
                let (now, later) = rest.split_at(n);
                *last = now;
                *rest = later;
                Ok((n > 0).then_some(now))
            }
            Chunks::Read { reader, buf, name } => {
                let n = loop {
                    match reader.read(buf) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(Error::io(name.as_str(), e)),
                    }
                };
                Ok((n > 0).then(|| &buf[..n]))
            }
        }
    }
}
