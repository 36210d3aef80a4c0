//! Drives the writing of a [`Plan`]: lays out the tar (headers, contents, padding), writes it to
//! an atomic file or stdout, and meanwhile verifies every input blob's digest (rayon) and hashes
//! the output, so the report can give the output's sha256 without reading it back.

use super::atomic::AtomicFile;
use super::compress::{self, OutCompression};
use super::copy;
use super::tar_writer::{header_bytes, padding, TRAILER};
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};
use crate::select::{Content, Plan};
use crate::source::{Archive, Loc};
use crate::verify::check_blob;
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;

/// Where the archive goes.
#[derive(Debug, Clone)]
pub enum Target {
    File(PathBuf),
    Stdout,
}

/// How to write.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub compression: OutCompression,
    pub verify: bool,
    pub progress: bool,
    /// Compute the sha256 of the output (for the report). It is one more SHA-256 pass over
    /// every output byte that cannot be split across cores, so it is skipped when nobody reads
    /// it (`-q` without `--json`).
    pub digest_output: bool,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    pub bytes: u64,
    pub sha256: Option<Digest>,
}

/// One piece of the output stream.
enum Piece<'a> {
    Bytes(Vec<u8>),
    Borrowed(&'a [u8]),
    Input(&'a Loc),
}

/// The folders an OCI layout needs (`blobs/`, `blobs/sha256/`), derived from member names.
fn dirs(plan: &Plan) -> BTreeSet<String> {
    let mut d = BTreeSet::new();
    for name in plan.members.keys() {
        let mut acc = String::new();
        let parts: Vec<&str> = name.split('/').collect();
        for p in &parts[..parts.len() - 1] {
            acc.push_str(p);
            acc.push('/');
            d.insert(acc.clone());
        }
    }
    d
}

fn layout(plan: &Plan) -> Result<Vec<Piece<'_>>> {
    let dirs = dirs(plan);
    let mut names: Vec<(String, Option<&Content>)> = dirs.into_iter().map(|d| (d, None)).collect();
    names.extend(plan.members.iter().map(|(n, c)| (n.clone(), Some(c))));
    names.sort_by(|a, b| a.0.cmp(&b.0));
    let mut pieces = Vec::with_capacity(names.len() * 3 + 1);
    for (name, content) in names {
        let size = content.map_or(0, |c| c.len());
        let h = header_bytes(&name, size, content.is_none())
            .map_err(|e| Error::format(&name, format!("cannot write tar header: {e}")))?;
        pieces.push(Piece::Bytes(h));
        match content {
            None => {}
            Some(Content::Bytes(b)) => pieces.push(Piece::Borrowed(b)),
            Some(Content::Input { loc, .. }) => pieces.push(Piece::Input(loc)),
        }
        let pad = padding(size);
        if pad > 0 {
            pieces.push(Piece::Borrowed(&TRAILER[..pad]));
        }
    }
    pieces.push(Piece::Borrowed(&TRAILER));
    Ok(pieces)
}

/// Verify every input blob of the plan against its digest, in parallel.
pub fn verify_plan(archive: &Archive, plan: &Plan) -> Result<()> {
    let blobs: Vec<(&Loc, &Digest)> = plan
        .members
        .values()
        .filter_map(|c| match c {
            Content::Input {
                loc,
                digest: Some(d),
            } => Some((loc, d)),
            _ => None,
        })
        .collect();
    blobs
        .par_iter()
        .try_for_each(|(loc, d)| check_blob(archive, loc, d))
}

/// A writer that hashes what passes through and counts it.
struct Hashing<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(b)?;
        self.hasher.update(&b[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn progress_bar(total: u64, enabled: bool) -> indicatif::ProgressBar {
    if !enabled || !io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        pb.set_style(style);
    }
    pb
}

fn total_len(pieces: &[Piece<'_>]) -> u64 {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Bytes(b) => b.len() as u64,
            Piece::Borrowed(b) => b.len() as u64,
            Piece::Input(l) => l.size,
        })
        .sum()
}

/// Write the pieces to `out` through user space (compressed output, stdout, directory input).
fn stream(
    archive: &Archive,
    pieces: &[Piece<'_>],
    out: &mut dyn Write,
    pb: &indicatif::ProgressBar,
) -> Result<()> {
    let werr = |e: io::Error| Error::io("output", e);
    for p in pieces {
        match p {
            Piece::Bytes(b) => out.write_all(b).map_err(werr)?,
            Piece::Borrowed(b) => out.write_all(b).map_err(werr)?,
            Piece::Input(loc) => match archive.tar_file() {
                Some(f) => copy::copy_range_rw(f, loc.offset, loc.size, out).map_err(werr)?,
                None => {
                    let mut r = archive.reader(loc)?;
                    io::copy(&mut r, out).map_err(werr)?;
                }
            },
        }
        if let Piece::Input(l) = p {
            pb.inc(l.size);
        }
    }
    Ok(())
}

/// Hash the pieces in order, reading the input ranges (the output's sha256 without reading
/// the output back).
fn hash_pieces(archive: &Archive, pieces: &[Piece<'_>]) -> Result<Digest> {
    let mut h = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; 1 << 20];
    for p in pieces {
        match p {
            Piece::Bytes(b) => h.update(b),
            Piece::Borrowed(b) => h.update(b),
            Piece::Input(loc) => {
                let mut r = archive.reader(loc)?;
                loop {
                    let n = r.read(&mut buf).map_err(|e| Error::io(&loc.member, e))?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
            }
        }
    }
    Ok(h.finish())
}

/// Write `plan` to `target`.
pub fn write(
    archive: &Archive,
    plan: &Plan,
    target: &Target,
    opts: &WriteOptions,
) -> Result<Written> {
    let pieces = layout(plan)?;
    let pb = progress_bar(total_len(&pieces), opts.progress);
    let result = match target {
        Target::Stdout => {
            let stdout = io::stdout();
            if stdout.is_terminal() {
                return Err(Error::Usage(
                    "refusing to write an archive to a terminal; redirect standard output or use -o FILE".into(),
                ));
            }
            // Nothing can be taken back once streamed: verify first.
            if opts.verify {
                verify_plan(archive, plan)?;
            }
            let mut hw = Hashing {
                inner: io::BufWriter::with_capacity(1 << 20, stdout.lock()),
                hasher: Hasher::new(Algorithm::Sha256),
                count: 0,
            };
            {
                let mut c = compress::wrap(&mut hw, opts.compression)
                    .map_err(|e| Error::io("stdout", e))?;
                stream(archive, &pieces, &mut c, &pb).map_err(|e| relabel(e, "stdout"))?;
                c.finish().map_err(|e| Error::io("stdout", e))?;
            }
            hw.flush().map_err(|e| Error::io("stdout", e))?;
            Ok(Written {
                bytes: hw.count,
                sha256: opts.digest_output.then(|| hw.hasher.finish()),
            })
        }
        Target::File(path) => {
            let name = path.display().to_string();
            let mut af = AtomicFile::create(path)?;
            let written = std::thread::scope(|s| -> Result<Written> {
                let verifier = opts.verify.then(|| s.spawn(|| verify_plan(archive, plan)));
                let written = if opts.compression == OutCompression::None
                    && archive.tar_file().is_some()
                {
                    // Uncompressed: kernel copies; the output hash is computed from the input
                    // ranges on another thread.
                    let hasher = opts
                        .digest_output
                        .then(|| s.spawn(|| hash_pieces(archive, &pieces)));
                    let out = af.file();
                    let total = total_len(&pieces);
                    let r = write_direct(archive, &pieces, out, &pb).map_err(|e| relabel(e, &name));
                    let h = match hasher {
                        Some(h) => Some(
                            h.join()
                                .map_err(|_| Error::format(&name, "hashing thread failed"))??,
                        ),
                        None => None,
                    };
                    r?;
                    Written {
                        bytes: total,
                        sha256: h,
                    }
                } else {
                    let mut hw = Hashing {
                        inner: io::BufWriter::with_capacity(1 << 20, af.file()),
                        hasher: Hasher::new(Algorithm::Sha256),
                        count: 0,
                    };
                    {
                        let mut c = compress::wrap(&mut hw, opts.compression)
                            .map_err(|e| Error::io(&name, e))?;
                        stream(archive, &pieces, &mut c, &pb).map_err(|e| relabel(e, &name))?;
                        c.finish().map_err(|e| Error::io(&name, e))?;
                    }
                    hw.flush().map_err(|e| Error::io(&name, e))?;
                    Written {
                        bytes: hw.count,
                        sha256: opts.digest_output.then(|| hw.hasher.finish()),
                    }
                };
                if let Some(v) = verifier {
                    v.join()
                        .map_err(|_| Error::format(&name, "verify thread failed"))??;
                }
                Ok(written)
            })?;
            af.commit()?;
            Ok(written)
        }
    };
    pb.finish_and_clear();
    result
}

fn write_direct(
    archive: &Archive,
    pieces: &[Piece<'_>],
    out: &mut std::fs::File,
    pb: &indicatif::ProgressBar,
) -> Result<()> {
    let Some(input) = archive.tar_file() else {
        return stream(archive, pieces, out, pb);
    };
    let werr = |e: io::Error| Error::io("output", e);
    // Small pieces are gathered and written together; ranges go through copy_file_range.
    let mut pending: Vec<u8> = Vec::with_capacity(1 << 16);
    for p in pieces {
        match p {
            Piece::Bytes(b) => pending.extend_from_slice(b),
            Piece::Borrowed(b) => pending.extend_from_slice(b),
            Piece::Input(loc) => {
                if loc.size < 64 * 1024 {
                    let start = pending.len();
                    pending.resize(start + loc.size as usize, 0);
                    archive.read_exact_at(loc, 0, &mut pending[start..])?;
                } else {
                    out.write_all(&pending).map_err(werr)?;
                    pending.clear();
                    copy::copy_range(input, loc.offset, loc.size, out).map_err(werr)?;
                }
                pb.inc(loc.size);
            }
        }
    }
    out.write_all(&pending).map_err(werr)?;
    Ok(())
}

/// The size of the uncompressed tar a plan would produce (for `--dry-run`).
pub fn planned_size(plan: &Plan) -> Result<u64> {
    Ok(total_len(&layout(plan)?))
}

/// Name the output in a write error (the pieces' writers only know it as "output").
fn relabel(e: Error, name: &str) -> Error {
    match e {
        Error::Io { path, source } if path == "output" => Error::io(name, source),
        e => e,
    }
}
