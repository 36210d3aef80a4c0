//! `verify`: an archive's integrity — every blob against its name (hashed by
//! [`crate::digest::check`]) and every descriptor naming it, the closure of references, and
//! `manifest.json` against the index (or, for legacy archives, against the configs' diff IDs) —
//! as a report.

use crate::digest::check::check_blobs;
use crate::digest::Digest;
use crate::error::Error;
use crate::graph::{Format, Graph};
use crate::layout::docs::Descriptor;
use crate::source::Loc;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something referenced is not in the archive (a shallow archive).
    Missing,
    /// Something is wrong.
    Corrupt,
}

/// One finding of `verify`.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub severity: Severity,
    pub message: String,
}

/// The outcome of `verify` (camelCase in JSON, like every document ocislim prints).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    pub archive: String,
    pub format: &'static str,
    pub blobs_checked: usize,
    pub bytes_checked: u64,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty()
    }
    pub fn is_corrupt(&self) -> bool {
        self.problems
            .iter()
            .any(|p| p.severity == Severity::Corrupt)
    }
    /// The error `verify` exits with, if any.
    pub fn to_error(&self) -> Option<Error> {
        let n = self.problems.len();
        if self.is_corrupt() {
            let corrupt: Vec<&Problem> = self
                .problems
                .iter()
                .filter(|p| p.severity == Severity::Corrupt)
                .collect();
            let first = corrupt.first().map_or("", |p| p.message.as_str());
            Some(Error::Invalid(format!(
                "{}: {} problem(s) found, first: {first}",
                self.archive,
                corrupt.len()
            )))
        } else if n > 0 {
            let first = self.problems.first().map_or("", |p| p.message.as_str());
            Some(Error::Shallow(format!(
                "{}: archive is shallow: {n} referenced blob(s) missing, first: {first}",
                self.archive
            )))
        } else {
            None
        }
    }
}

/// Verify an archive's graph.
pub fn verify(g: &mut Graph) -> VerifyReport {
    verify_against(g, &|_| false)
}

/// Verify an archive's graph, a blob it lacks counting as present when `held` says another
/// place holds it (a delta's bases). The graph's documents are checked first and freed
/// ([`Graph::drop_documents`]) before the blobs are hashed (a tenth of the peak of an archive of
/// 1,500 images); the problems are still listed blobs first, then descriptors, then
/// `manifest.json`. The rest of the graph is left to the caller to free.
pub fn verify_against(g: &mut Graph, held: &dyn Fn(&Digest) -> bool) -> VerifyReport {
    let mut later = Vec::new();
    let mut push = |severity, message: String| later.push(Problem { severity, message });
    check_descriptors(g, held, &mut push);
    match g.format {
        Format::Docker => check_manifest_json(g, held, &mut push),
        Format::DockerLegacy => check_legacy(g, held, &mut push),
        Format::Oci => {}
    }
    g.drop_documents();

    // Every blob hashes to its name (in parallel).
    let blobs: Vec<(&Loc, &Digest)> = g.blobs.iter().map(|(d, loc)| (loc, d)).collect();
    let mut problems: Vec<Problem> = check_blobs(&g.archive, &blobs)
        .into_iter()
        .map(|(_, e)| Problem {
            severity: Severity::Corrupt,
            message: e.to_string(),
        })
        .collect();
    drop(blobs);
    problems.append(&mut later);

    // What was hashed: the same blobs `ls` counts.
    let checked = g.distinct_blobs();
    VerifyReport {
        archive: g.archive.name.clone(),
        format: g.format.name(),
        blobs_checked: checked.len(),
        bytes_checked: checked.values().sum(),
        problems,
    }
}

/// Every descriptor agrees with the blob it names; every referenced blob is present (checked
/// where it is, not copied out: a large archive has 100,000s).
fn check_descriptors(
    g: &Graph,
    held: &dyn Fn(&Digest) -> bool,
    push: &mut impl FnMut(Severity, String),
) {
    let mut missing_reported = BTreeSet::new();
    let mut check = |member: &str, d: &Descriptor| match g.blobs.get(&d.digest) {
        Some(loc) if loc.size != d.size => push(
            Severity::Corrupt,
            Error::SizeMismatch {
                digest: d.digest.to_string(),
                expected: d.size,
                actual: loc.size,
            }
            .to_string()
                + &format!(" (descriptor in {member})"),
        ),
        Some(_) => {}
        None if held(&d.digest) => {}
        None => {
            if missing_reported.insert(d.digest.clone()) {
                push(
                    Severity::Missing,
                    format!("blob {} missing (referenced by {member})", d.digest),
                );
            }
        }
    };
    for r in &g.roots {
        check("index.json", r);
    }
    let mut docs: Vec<_> = g.docs.iter().collect();
    docs.sort_by(|a, b| a.0.cmp(b.0));
    for (d, doc) in docs {
        let member = d.blob_path();
        match doc {
            crate::graph::Doc::Index { entries, .. } => {
                entries.iter().for_each(|e| check(&member, e));
            }
            crate::graph::Doc::Manifest(m) => {
                let descs = std::iter::once(&m.config).chain(&m.layers);
                descs.for_each(|e| check(&member, e));
            }
        }
    }
}

/// The digest a `blobs/<alg>/<hex>` path names.
pub fn digest_of_blob_path(p: &str) -> Option<Digest> {
    let n = crate::source::paths::normalize(p, p).ok()?;
    let rest = n.strip_prefix("blobs/")?;
    let (alg, hex) = rest.split_once('/')?;
    Digest::parse(&format!("{alg}:{hex}")).ok()
}

fn check_manifest_json(
    g: &Graph,
    held: &dyn Fn(&Digest) -> bool,
    push: &mut impl FnMut(Severity, String),
) {
    let Some(entries) = &g.docker_manifest else {
        return;
    };
    // config digest → the layer lists of every manifest reachable from the index (a set: many
    // manifests may share a config, and each entry is looked up, not searched for).
    let mut by_config: BTreeMap<Digest, HashSet<Vec<Digest>>> = BTreeMap::new();
    for d in g.docs.keys() {
        if let Some(m) = g.manifest(d) {
            by_config
                .entry(m.config.digest.clone())
                .or_default()
                .insert(m.layers.iter().map(|l| l.digest.clone()).collect());
        }
    }
    for (i, e) in entries.iter().enumerate() {
        let what = format!("manifest.json entry {i} ({})", e.repo_tags.join(", "));
        let Some(cfg) = digest_of_blob_path(&e.config) else {
            // Config outside blobs/: only check it resolves.
            if !matches!(g.archive.resolve(&e.config), Ok(Some(_))) {
                push(
                    Severity::Corrupt,
                    format!("{what}: config {} not in the archive", e.config),
                );
            }
            continue;
        };
        match by_config.get(&cfg) {
            None => push(
                Severity::Corrupt,
                format!("{what}: config {cfg} is not the config of any manifest in index.json"),
            ),
            Some(candidates) => {
                let layers: Option<Vec<Digest>> =
                    e.layers.iter().map(|l| digest_of_blob_path(l)).collect();
                if !layers.is_some_and(|l| candidates.contains(&l)) {
                    push(
                        Severity::Corrupt,
                        format!("{what}: Layers do not match the manifest of config {cfg}"),
                    );
                }
            }
        }
        for p in std::iter::once(&e.config).chain(&e.layers) {
            match g.archive.resolve(p) {
                Ok(Some(_)) => {}
                Ok(None) if digest_of_blob_path(p).is_some_and(|d| held(&d)) => {}
                Ok(None) => push(Severity::Missing, format!("{what}: {p} not in the archive")),
                Err(err) => push(Severity::Corrupt, format!("{what}: {err}")),
            }
        }
    }
}

/// Check legacy entries. Each config was checked against its name when the archive was read;
/// here each `layer.tar` is hashed against the config's `rootfs.diff_ids`, once however many
/// images share it, all in one parallel pass.
fn check_legacy(
    g: &Graph,
    held: &dyn Fn(&Digest) -> bool,
    push: &mut impl FnMut(Severity, String),
) {
    let mut seen = std::collections::HashSet::new();
    let mut layers: Vec<(&String, &Loc, &Digest)> = Vec::new();
    for l in g.legacy() {
        let what = format!("manifest.json entry {}", l.entry.repo_tags.join(", "));
        if l.config.is_none() {
            push(
                Severity::Missing,
                format!("{what}: config {} not in the archive", l.entry.config),
            );
            continue;
        }
        if l.diff_ids.len() != l.layers.len() {
            push(
                Severity::Corrupt,
                format!(
                    "{what}: {} layers listed, config has {} diff_ids",
                    l.layers.len(),
                    l.diff_ids.len()
                ),
            );
        }
        for (i, (p, loc)) in l.layers.iter().enumerate() {
            match (loc, l.diff_ids.get(i)) {
                (None, Some(d)) if held(d) => {}
                (None, _) => push(
                    Severity::Missing,
                    format!("{what}: layer {p} not in the archive"),
                ),
                (Some(loc), Some(want)) if seen.insert((&loc.member, Some(want))) => {
                    layers.push((p, loc, want))
                }
                _ => {}
            }
        }
    }
    let blobs: Vec<(&Loc, &Digest)> = layers.iter().map(|(_, loc, d)| (*loc, *d)).collect();
    for (i, e) in check_blobs(&g.archive, &blobs) {
        let p = layers.get(i).map_or("", |(p, _, _)| p.as_str());
        push(Severity::Corrupt, format!("{p}: {e}"));
    }
}
