//! `apply`: a delta made whole again from the bases (docs/formats.md, "Deltas"). Every member of
//! the delta is written as it is (its documents, `manifest.json` included, untouched), and every
//! blob it references but lacks is copied from the first base archive that holds it, checked
//! against its digest. The writer is deterministic, so the result is byte for byte what `filter`
//! wrote on the near side, and its sha256 can be compared with the one reported there.

use super::bases::Bases;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::{Doc, Graph};
use crate::plan::{Content, Plan};
use crate::report::filter::{BlobCount, FilterReport};
use crate::sink::write::{Target, WriteOptions};
use crate::source::{paths, MemberKind};
use crate::verify::digest_of_blob_path;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Decide what `apply` writes: the delta's members, and the blobs the bases fill in (read from
/// input `1 + i` for the `i`th base archive).
pub fn plan(g: &Graph, bases: &Bases) -> Result<(Plan, BlobCount)> {
    let mut members = BTreeMap::new();
    let legacy = legacy_digests(g);
    for (name, m) in g.archive.members().iter() {
        if matches!(m.kind, MemberKind::Dir | MemberKind::Other) {
            continue;
        }
        if let Some(loc) = g.archive.resolve(name)? {
            let digest = digest_of_blob_path(name).or_else(|| legacy.get(&loc.member).cloned());
            members.insert(Arc::clone(name), Content::Input { loc, digest });
        }
    }
    let mut filled = BlobCount::default();
    for (name, d) in missing(g)? {
        if members.contains_key(name.as_str()) {
            continue;
        }
        let content = fill(bases, &d)?;
        filled.blobs += 1;
        filled.bytes += content.len();
        members.insert(name.into(), content);
    }
    let p = Plan {
        members,
        images: Vec::new(),
        notes: Vec::new(),
        format: g.format,
    };
    Ok((p, filled))
}

/// The digest each legacy config and `layer.tar` of the delta must have, by member.
fn legacy_digests(g: &Graph) -> HashMap<std::sync::Arc<str>, Digest> {
    let mut out = HashMap::new();
    for l in g.legacy() {
        if let (Some(cfg), Some(id)) = (&l.config, &l.id) {
            out.insert(cfg.member.clone(), id.clone());
        }
        for (i, (_, loc)) in l.layers.iter().enumerate() {
            if let (Some(loc), Some(d)) = (loc, l.diff_id(i)) {
                out.insert(loc.member.clone(), d);
            }
        }
    }
    out
}

/// Every blob the delta references but lacks: (member name, digest).
fn missing(g: &Graph) -> Result<Vec<(String, Digest)>> {
    let mut out = Vec::new();
    let mut want = |d: &Digest| {
        if !g.has_blob(d) {
            out.push((d.blob_path(), d.clone()));
        }
    };
    g.roots.iter().for_each(|r| want(&r.digest));
    for doc in g.docs.values() {
        match doc {
            Doc::Index { entries, .. } => entries.iter().for_each(|e| want(&e.digest)),
            Doc::Manifest(m) => {
                std::iter::once(&m.config)
                    .chain(&m.layers)
                    .for_each(|c| want(&c.digest));
            }
        }
    }
    for l in g.legacy() {
        for (i, (path, loc)) in l.layers.iter().enumerate() {
            if let (None, Some(d)) = (loc, l.diff_id(i)) {
                out.push((paths::normalize(path, "manifest.json")?.into_owned(), d));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Blob `d` from the first base archive that holds it.
fn fill(bases: &Bases, d: &Digest) -> Result<Content> {
    match bases.find(d) {
        Some((i, loc)) => {
            let mut loc = loc.clone();
            loc.input = i + 1;
            Ok(Content::Input {
                loc,
                digest: Some(d.clone()),
            })
        }
        None if bases.holds(d) => Err(Error::format(
            d.blob_path(),
            "only a digest list names this blob, and a digest list cannot supply blobs: give a base archive that holds it",
        )),
        None => Err(Error::Missing(format!(
            "blob {d} is in neither the delta nor any base"
        ))),
    }
}

/// Open the delta and the bases, write the whole archive to `target` (nothing in a dry run),
/// and report.
pub fn apply(
    delta: &str,
    bases: &[String],
    target: &Target,
    wopts: &WriteOptions,
    dry_run: bool,
) -> Result<(Plan, FilterReport)> {
    let g = Graph::open(delta)?;
    let bases = Bases::open(bases)?;
    let (p, filled) = plan(&g, &bases)?;
    let inputs: Vec<_> = std::iter::once(&g.archive)
        .chain(bases.archives())
        .collect();
    let mut report = super::filter::write_plan(&inputs, &p, target, wopts, dry_run)?;
    report.filled_in = Some(filled);
    Ok((p, report))
}
