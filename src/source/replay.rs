//! The second pass over a compressed input file, for writing without a spool: the first pass
//! ([`super::stream`]) kept only the documents and a digest of the tar's structure; this one
//! decodes the file again and hands the members the writer wants to it, in input order, as
//! readers over the decoded bytes. A structure that differs from the first pass's (members
//! added, removed, moved or resized) is "the input changed while being read".

use super::compress::{self, Compression, Prefetch};
use super::mapped::MapAhead;
use super::stream::Structure;
use super::tar_scan::{describe, HeaderGuard};
use super::MemberKind;
use crate::digest::Digest;
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Size of the buffer the members nobody wants are decoded into and dropped.
const SKIP_BUF: usize = 1 << 20;

/// What a second pass needs: the input file, still open (a file renamed over the path between
/// the passes is not read), its compression, and the first pass's [`Structure`].
#[derive(Debug)]
pub struct Replay {
    pub(super) file: Arc<File>,
    pub(super) compression: Compression,
    pub(super) structure: Digest,
}

/// A member the second pass reached: its normalised name, size, and decoded bytes.
pub type Visit<'a> = dyn FnMut(&str, u64, &mut dyn Read) -> Result<()> + 'a;

impl Replay {
    /// Decode the input (named `name`) again from its start: for each regular file `wanted`
    /// names, call `visit` with a reader over its bytes (what it leaves unread is skipped).
    /// Everything else is decoded and dropped, to the end of the stream.
    pub fn replay(
        &self,
        name: &str,
        wanted: &dyn Fn(&str) -> bool,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        let mut file = self.file.try_clone().map_err(|e| Error::io(name, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(name, e))?;
        let input: Box<dyn BufRead> = match self.compression {
            // zstd's input lent in place from a map: the reads' copy took a third of the core
            // that hashes the kept blobs meanwhile. gzip, slower to decode, gained nothing from it
            // (docs/performance.md, "Compressed input, round 3").
            Compression::Zstd => match MapAhead::new(&file) {
                Ok(m) => Box::new(m),
                Err(_) => Box::new(Prefetch::new(file)),
            },
            _ => Box::new(Prefetch::new(file)),
        };
        let decoded =
            compress::decoder_again(input, self.compression).map_err(|e| Error::io(name, e))?;
        let guard = HeaderGuard::new(decoded);
        let in_data = guard.data_flag();
        let mut archive = tar::Archive::new(guard);
        let mut structure = Structure::new();
        let mut buf = vec![0u8; SKIP_BUF];
        for entry in archive.entries().map_err(|e| changed(name, e))? {
            let mut entry = entry.map_err(|e| changed(name, e))?;
            structure.add(&entry);
            let (_, member, kind) = describe(&entry, name)?;
            in_data.store(true, Ordering::Relaxed);
            if kind == MemberKind::File && wanted(&member) {
                visit(&member, entry.size(), &mut entry)?;
            }
            drain(&mut entry, &mut buf).map_err(|e| changed(name, e))?;
            in_data.store(false, Ordering::Relaxed);
        }
        in_data.store(true, Ordering::Relaxed);
        drain(&mut archive.into_inner(), &mut buf).map_err(|e| changed(name, e))?;
        if structure.finish() != self.structure {
            return Err(changed(name, "its members differ from the first reading"));
        }
        Ok(())
    }
}

/// Read `r` to its end into `buf`, dropping the bytes.
fn drain(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<()> {
    loop {
        match r.read(buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The input `name` read differently the second time.
pub fn changed(name: &str, why: impl std::fmt::Display) -> Error {
    Error::format(
        name,
        format!("the input changed while being read (second pass: {why})"),
    )
}
