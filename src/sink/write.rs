//! Drives the writing of a [`Plan`]: lays out the tar (headers, contents, padding) and writes it
//! to an atomic file or stdout, verifying every input blob's digest and hashing the output on
//! the way, so the report can give the output's sha256 without reading it back. An uncompressed
//! tar input written to an uncompressed file takes the parallel path ([`super::parallel`]), a
//! gzip or zstd input file opened for two passes the second pass ([`super::two_pass`]);
//! everything else is one ordered stream, each blob hashed from the buffer written ([`super::copy`]).

use super::atomic::AtomicFile;
use super::compress::{self, OutCompression};
use super::copy;
use super::parallel;
use super::tar_writer::{header_bytes, padding, TRAILER};
use super::two_pass;
use crate::digest::check::check_blobs;
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};
use crate::plan::{Content, Plan};
use crate::source::{Archive, Loc};
use std::collections::BTreeSet;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the archive goes.
#[derive(Debug, Clone)]
pub enum Target {
    File(PathBuf),
    Stdout,
    /// A character device, FIFO or socket: written as a stream, like standard output.
    Stream(PathBuf),
    /// An OCI image layout directory (see [`super::dir`]).
    Dir(PathBuf),
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

/// One span of the output stream (the parallel copy cuts blobs into `parallel` pieces).
pub(super) enum Span<'a> {
    Bytes(Vec<u8>),
    Borrowed(&'a [u8]),
    /// A range of the input, and the digest it must have.
    Input(&'a Loc, Option<&'a Digest>),
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

fn layout(plan: &Plan) -> Result<Vec<Span<'_>>> {
    let dirs = dirs(plan);
    let mut names: Vec<(Arc<str>, Option<&Content>)> =
        dirs.into_iter().map(|d| (Arc::from(d), None)).collect();
    names.extend(plan.members.iter().map(|(n, c)| (n.clone(), Some(c))));
    names.sort_by(|a, b| a.0.cmp(&b.0));
    let mut pieces = Vec::with_capacity(names.len() * 3 + 1);
    for (name, content) in names {
        let size = content.map_or(0, |c| c.len());
        let h = header_bytes(&name, size, content.is_none())
            .map_err(|e| Error::format(&*name, format!("cannot write tar header: {e}")))?;
        pieces.push(Span::Bytes(h));
        match content {
            None => {}
            Some(Content::Bytes(b)) => pieces.push(Span::Borrowed(b)),
            Some(Content::Input { loc, digest }) => pieces.push(Span::Input(loc, digest.as_ref())),
        }
        let pad = padding(size);
        if pad > 0 {
            pieces.push(Span::Borrowed(&TRAILER[..pad]));
        }
    }
    pieces.push(Span::Borrowed(&TRAILER));
    Ok(pieces)
}

/// Verify every input blob of the plan against its digest, in parallel, input by input.
pub fn verify_plan(inputs: &[&Archive], plan: &Plan) -> Result<()> {
    for (i, archive) in inputs.iter().enumerate() {
        let blobs: Vec<(&Loc, &Digest)> = plan
            .members
            .values()
            .filter_map(|c| match c {
                Content::Input {
                    loc,
                    digest: Some(d),
                } if loc.input == i => Some((loc, d)),
                _ => None,
            })
            .collect();
        if let Some((_, e)) = check_blobs(archive, &blobs).into_iter().next() {
            return Err(e);
        }
    }
    Ok(())
}

/// The input `loc` is in.
fn input_of<'a>(inputs: &[&'a Archive], loc: &Loc) -> Result<&'a Archive> {
    inputs
        .get(loc.input)
        .copied()
        .ok_or_else(|| Error::format(&*loc.member, "no such input"))
}

/// Whether the parallel copy can write `plan`: every input it reads from is a tar file.
fn all_tar(inputs: &[&Archive], plan: &Plan) -> bool {
    plan.inputs()
        .iter()
        .all(|&i| inputs.get(i).is_some_and(|a| a.tar_file().is_some()))
}

/// The one input the plan reads from, if there is only one: its memory map serves the copy.
fn single_input<'a>(inputs: &[&'a Archive], plan: &Plan) -> Option<&'a Archive> {
    let used = plan.inputs();
    match used.len() {
        1 => used.first().and_then(|&i| inputs.get(i).copied()),
        _ => None,
    }
}

/// A writer that counts what passes through, and hashes it when there is a hasher.
struct Hashing<W> {
    inner: W,
    hasher: Option<Hasher>,
    count: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(b)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&b[..n]);
        }
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

fn total_len(pieces: &[Span<'_>]) -> u64 {
    pieces
        .iter()
        .map(|p| match p {
            Span::Bytes(b) => b.len() as u64,
            Span::Borrowed(b) => b.len() as u64,
            Span::Input(l, _) => l.size,
        })
        .sum()
}

/// Write the pieces to `out` through user space (compressed output, stdout, directory input).
fn stream(
    inputs: &[&Archive],
    pieces: &[Span<'_>],
    out: &mut dyn Write,
    verify: bool,
    pb: &indicatif::ProgressBar,
) -> Result<()> {
    let werr = |e: io::Error| Error::io("output", e);
    let copier = copy::Copier::default();
    for p in pieces {
        match p {
            Span::Bytes(b) => out.write_all(b).map_err(werr)?,
            Span::Borrowed(b) => out.write_all(b).map_err(werr)?,
            Span::Input(loc, digest) => {
                let want = digest.filter(|_| verify);
                copier.copy_checked(input_of(inputs, loc)?, loc, want, out, "output")?;
            }
        }
        if let Span::Input(l, _) = p {
            pb.inc(l.size);
        }
    }
    Ok(())
}

/// Write `plan`, whose input ranges are in `inputs` (by [`Loc::input`]), to `target`.
pub fn write(
    inputs: &[&Archive],
    plan: &Plan,
    target: &Target,
    opts: &WriteOptions,
) -> Result<Written> {
    let pieces = layout(plan)?;
    let pb = progress_bar(total_len(&pieces), opts.progress);
    let result = match target {
        Target::Dir(dir) => {
            if opts.compression != OutCompression::None {
                return Err(Error::Usage(
                    "a layout directory is not compressed: leave out --compress and --level".into(),
                ));
            }
            super::dir::write_dir(inputs, plan, dir, opts.verify)
        }
        Target::Stdout | Target::Stream(_) => {
            let (mut out, name): (Box<dyn Write>, String) = match target {
                Target::Stream(p) => (
                    Box::new(super::target::open_stream(p)?),
                    p.display().to_string(),
                ),
                _ if io::stdout().is_terminal() => return Err(Error::Usage(
                    "refusing to write an archive to a terminal; redirect standard output or use -o FILE".into(),
                )),
                _ => (Box::new(io::stdout().lock()), "stdout".into()),
            };
            // Nothing can be taken back once streamed: a blob that does not match its digest
            // stops the stream before its last buffer (held back by `copy_checked`), so the
            // reader never gets that blob whole nor the tar's end.
            write_streamed(inputs, &pieces, &mut out, opts, &pb).map_err(|e| relabel(e, &name))
        }
        Target::File(path) => {
            let name = path.display().to_string();
            let mut af = AtomicFile::create(path)?;
            let plain = opts.compression == OutCompression::None;
            let single = single_input(inputs, plan);
            let replay = single.and_then(|a| a.replay().map(|r| (a, r)));
            let written = match (plain && all_tar(inputs, plan), replay) {
                (true, _) => write_direct(inputs, single, &pieces, af.file(), opts, &pb),
                (false, Some((a, r))) if plain => {
                    two_pass::write(&a.name, r, &pieces, af.file(), opts, &pb)
                }
                _ => write_streamed(inputs, &pieces, af.file(), opts, &pb),
            }
            .map_err(|e| relabel(e, &name))?;
            af.commit()?;
            Ok(written)
        }
    };
    pb.finish_and_clear();
    result
}

/// An input range of the output and where it goes.
pub(super) struct Placed<'a> {
    pub out_off: u64,
    pub loc: &'a Loc,
    pub digest: Option<&'a Digest>,
}

/// Where every piece of the output goes.
pub(super) struct Placement<'a> {
    /// The bytes made here, merged into runs, with their offsets (in output order).
    pub fixed: Vec<(u64, Vec<u8>)>,
    /// The input ranges.
    pub blobs: Vec<Placed<'a>>,
    /// The output's length.
    pub len: u64,
}

/// The output offset of every piece.
pub(super) fn place<'a>(pieces: &'a [Span<'a>]) -> Placement<'a> {
    let mut fixed: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut blobs = Vec::new();
    let mut off = 0u64;
    let mut run: Option<(u64, Vec<u8>)> = None;
    for p in pieces {
        let bytes: &[u8] = match p {
            Span::Bytes(b) => b,
            Span::Borrowed(b) => b,
            Span::Input(loc, digest) => {
                fixed.extend(run.take());
                blobs.push(Placed {
                    out_off: off,
                    loc,
                    digest: *digest,
                });
                off += loc.size;
                continue;
            }
        };
        run.get_or_insert_with(|| (off, Vec::new()))
            .1
            .extend_from_slice(bytes);
        off += bytes.len() as u64;
    }
    fixed.extend(run.take());
    Placement {
        fixed,
        blobs,
        len: off,
    }
}

/// Uncompressed tar inputs to an uncompressed file: every piece goes to its precomputed offset,
/// blobs copied (and verified) by [`parallel::copy_all`] on every core, which also hashes the
/// output as it lays it out (from the input ranges, not reading the output back) when asked.
/// `mapped` is the input to take unverified bytes from by memory map, when there is just one.
fn write_direct(
    inputs: &[&Archive],
    mapped: Option<&Archive>,
    pieces: &[Span<'_>],
    out: &mut std::fs::File,
    opts: &WriteOptions,
    pb: &indicatif::ProgressBar,
) -> Result<Written> {
    let Placement {
        fixed,
        blobs,
        len: off,
    } = place(pieces);
    let mut jobs = Vec::with_capacity(blobs.len());
    for b in blobs {
        let Some(input) = inputs.get(b.loc.input).and_then(|a| a.tar_file()) else {
            return Err(Error::format(&*b.loc.member, "its input is not a tar file"));
        };
        jobs.push(parallel::Job {
            input,
            member: &b.loc.member,
            in_off: b.loc.offset,
            out_off: b.out_off,
            len: b.loc.size,
            expect: if opts.verify { b.digest } else { None },
        });
    }
    let fixed: Vec<parallel::Fixed<'_>> = fixed
        .iter()
        .map(|(o, b)| parallel::Fixed {
            out_off: *o,
            bytes: b,
        })
        .collect();
    let out: &std::fs::File = out;
    // Bytes that are hashed are taken from the map (unverified ones are not read twice).
    let map = mapped
        .filter(|_| opts.verify || opts.digest_output)
        .and_then(Archive::map);
    let sha256 = parallel::copy_all(
        map,
        out,
        &fixed,
        jobs,
        opts.digest_output,
        &|n| pb.inc(n),
        &|b| {
            if let Some(a) = mapped {
                a.release(b)
            }
        },
    )?;
    Ok(Written { bytes: off, sha256 })
}

/// Any other input, a compressed output or a stream: one ordered stream through user space, each
/// blob hashed from the buffer that is written ([`copy::Copier::copy_checked`]).
fn write_streamed(
    inputs: &[&Archive],
    pieces: &[Span<'_>],
    out: &mut dyn Write,
    opts: &WriteOptions,
    pb: &indicatif::ProgressBar,
) -> Result<Written> {
    let mut hw = Hashing {
        inner: io::BufWriter::with_capacity(crate::source::IO_BUF, out),
        hasher: opts.digest_output.then(|| Hasher::new(Algorithm::Sha256)),
        count: 0,
    };
    let werr = |e: io::Error| Error::io("output", e);
    {
        let mut c = compress::wrap(&mut hw, opts.compression).map_err(werr)?;
        stream(inputs, pieces, &mut c, opts.verify, pb)?;
        c.finish().map_err(werr)?;
    }
    hw.flush().map_err(werr)?;
    Ok(Written {
        bytes: hw.count,
        sha256: hw.hasher.map(Hasher::finish),
    })
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
