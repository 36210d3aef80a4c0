//! Hostile input (exit codes in README.md, docs/formats.md "Integrity"): every archive is built
//! inside its test, run through the real binary, and must end in a clear one-line
//! `ocislim: error: ...` naming the member or digest with exit 1 — or, where the input is
//! harmless, be ignored with exit 0 (documented per test). Never a panic (101), a hang, a read
//! or write outside the archive and the output, or anything left at `OUT`.
//!
//! Harmless cases (exit 0), on purpose:
//! * a member name with `..` that stays inside the archive (`a/../README`) is normalised;
//! * unknown media types are opaque blobs: listed as `unknown`, kept by `filter`;
//! * `ls` never hashes layers (only the documents it parses), so a layer whose content does
//!   not match its name lists fine (`verify` and `filter` catch it);
//! * escaping paths in the `manifest.json` of an archive that also has `index.json` are never
//!   followed by `ls` or `filter` (which rebuilds `manifest.json` from the index); `verify`
//!   reports them (exit 1);
//! * a regular file where the `blobs/` folder should be hides the blobs: the archive is shallow.
//!
//! `verify` prints one line per problem on stdout and a one-line summary on stderr, so for
//! `verify` the digest or member is looked for in both.
//!
//! Every run has a 60 s deadline (a hang fails the test, it does not hang the suite). Beyond
//! the cases of the issue, some shapes stay under the 64 MB document cap but cost time or
//! memory out of proportion (very wide indexes, many artifacts, one index shared by many
//! roots): they must stay linear, or be refused past a bound (`graph::MAX_ROWS`).
//!
//! The output-side cases mount a tmpfs (read-only, or tiny for ENOSPC) since root ignores
//! permission bits; they are skipped, with a note on stderr, where `mount` is not allowed.
//! After SIGKILL no code runs, yet nothing stays in the output folder (the temporary file is
//! anonymous until renamed, where the file system allows); OUT itself is never touched.
//!
//! `build` makes the archives and `run` runs the binary and checks the outcome; every other
//! module holds the cases of one kind of hostile input.

#[path = "../common/mod.rs"]
mod common;

mod build;
mod run;

mod baseline;
mod blobs;
mod containers;
mod costs;
mod digests;
mod graphs;
mod json;
mod links;
mod manifest_paths;
mod members;
mod names;
mod output;
