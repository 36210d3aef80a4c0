//! `delta`: an archive without the blobs the far side already holds (docs/formats.md,
//! "Deltas"). The plan is `filter`'s for the same selection, less every blob a base holds —
//! except indexes, manifests and configs, which are always written (small, and they keep the
//! delta self-describing) — so `apply` can put back exactly what `filter` would have written.

use super::bases::Bases;
use crate::digest::Digest;
use crate::error::Result;
use crate::graph::{Doc, Graph};
use crate::plan::{Content, FilterOptions, Plan};
use crate::report::filter::{BlobCount, FilterReport};
use crate::sink::write::{Target, WriteOptions};
use std::collections::HashSet;

/// Decide what `delta` writes: `filter`'s plan for `opts`, less the blobs `bases` hold.
pub fn plan(g: &Graph, bases: &Bases, opts: &FilterOptions) -> Result<(Plan, BlobCount)> {
    let mut p = super::filter::plan(g, opts)?;
    let documents = documents(g);
    let mut left = BlobCount::default();
    p.members.retain(|_, c| match c {
        Content::Input {
            loc,
            digest: Some(d),
        } if !documents.contains(d) && bases.holds(d) => {
            left.blobs += 1;
            left.bytes += loc.size;
            false
        }
        _ => true,
    });
    Ok((p, left))
}

/// The digests of every index, manifest and config of `g` (legacy configs by image ID).
fn documents(g: &Graph) -> HashSet<Digest> {
    let mut docs: HashSet<Digest> = g.docs.keys().cloned().collect();
    for doc in g.docs.values() {
        if let Doc::Manifest(m) = doc {
            docs.insert(m.config.digest.clone());
        }
    }
    docs.extend(g.legacy().filter_map(|l| l.id.clone()));
    docs
}

/// Open NEW and the bases, write the delta to `target` (nothing in a dry run), and report.
pub fn delta(
    new: &str,
    bases: &[String],
    opts: &FilterOptions,
    target: &Target,
    wopts: &WriteOptions,
    dry_run: bool,
) -> Result<(Plan, FilterReport)> {
    let g = Graph::open(new)?;
    let bases = Bases::open(bases)?;
    let (p, left) = plan(&g, &bases, opts)?;
    let mut report = super::filter::write_plan(&g.inputs(), &p, target, wopts, dry_run)?;
    report.left_out = Some(left);
    Ok((p, report))
}
