//! Digest checks: hashing blobs in parallel (rayon) and checking an archive's integrity — every
//! blob against its name and every descriptor naming it, the closure of references, and
//! `manifest.json` against the index (or, for legacy archives, against the configs' diff IDs).

use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::graph::{Format, Graph};
use crate::layout::docs::Descriptor;
use crate::source::{Archive, Loc};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Hash the bytes at `loc` with `algorithm`'s hasher.
pub fn hash_loc(
    archive: &Archive,
    loc: &Loc,
    algorithm: crate::digest::Algorithm,
) -> Result<Digest> {
    let mut h = Hasher::new(algorithm);
    archive.hash_into(&mut h, loc)?;
    Ok(h.finish())
}

/// Check that the bytes at `loc` hash to `expected`.
pub fn check_blob(archive: &Archive, loc: &Loc, expected: &Digest) -> Result<()> {
    let actual = match archive.known_digest(loc, expected.algorithm()) {
        Some(d) => d,
        None => hash_loc(archive, loc, expected.algorithm())?,
    };
    if &actual != expected {
        return Err(Error::DigestMismatch {
            digest: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

/// Check that each blob's bytes hash to its digest, on every core and two blobs at a time on
/// each ([`Hasher::update_pair`]), pairing them largest first so that the two of a pair end
/// together. The results are in the order of `blobs`.
pub fn check_blobs(archive: &Archive, blobs: &[(&Loc, &Digest)]) -> Vec<Result<()>> {
    let mut order: Vec<usize> = (0..blobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(blobs[i].0.size));
    let done: Vec<(usize, Result<()>)> = order
        .par_chunks(2)
        .with_max_len(1)
        .flat_map_iter(|pair| match *pair {
            [a, b] => {
                let (ra, rb) = check_pair(archive, blobs[a], blobs[b]);
                vec![(a, ra), (b, rb)]
            }
            _ => pair
                .iter()
                .map(|&a| (a, check_blob(archive, blobs[a].0, blobs[a].1)))
                .collect(),
        })
        .collect();
    let mut results: Vec<Result<()>> = (0..blobs.len()).map(|_| Ok(())).collect();
    for (i, r) in done {
        results[i] = r;
    }
    results
}

/// [`check_blob`] for two blobs hashed together.
fn check_pair(
    archive: &Archive,
    (la, da): (&Loc, &Digest),
    (lb, db): (&Loc, &Digest),
) -> (Result<()>, Result<()>) {
    let known = |l, d: &Digest| archive.known_digest(l, d.algorithm()).is_some();
    if known(la, da) || known(lb, db) {
        return (check_blob(archive, la, da), check_blob(archive, lb, db));
    }
    let (mut ha, mut hb) = (Hasher::new(da.algorithm()), Hasher::new(db.algorithm()));
    if archive
        .hash_pair_into((&mut ha, la), (&mut hb, lb))
        .is_err()
    {
        // Which of the two failed to read: hash them one by one to say.
        return (check_blob(archive, la, da), check_blob(archive, lb, db));
    }
    (compare(da, ha.finish()), compare(db, hb.finish()))
}

/// `Ok` if `actual` is `expected`, else the mismatch naming both.
pub fn compare(expected: &Digest, actual: Digest) -> Result<()> {
    if &actual != expected {
        return Err(Error::DigestMismatch {
            digest: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

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
pub fn verify(g: &Graph) -> VerifyReport {
    verify_against(g, &|_| false)
}

/// Verify an archive's graph, a blob it lacks counting as present when `held` says another
/// place holds it (a delta's bases).
pub fn verify_against(g: &Graph, held: &dyn Fn(&Digest) -> bool) -> VerifyReport {
    let mut problems = Vec::new();
    let mut push = |severity, message: String| problems.push(Problem { severity, message });

    // 1. Every blob hashes to its name (in parallel).
    let blobs: Vec<(&Loc, &Digest)> = g.blobs.iter().map(|(d, loc)| (loc, d)).collect();
    for r in check_blobs(&g.archive, &blobs) {
        if let Err(e) = r {
            push(Severity::Corrupt, e.to_string());
        }
    }

    // 2. Every descriptor agrees with the blob it names; every referenced blob is present.
    let mut descs: Vec<(String, Descriptor)> = Vec::new();
    for r in &g.roots {
        descs.push(("index.json".into(), r.clone()));
    }
    let mut docs: Vec<_> = g.docs.iter().collect();
    docs.sort_by(|a, b| a.0.cmp(b.0));
    for (d, doc) in docs {
        let member = d.blob_path();
        match doc {
            crate::graph::Doc::Index { entries, .. } => {
                descs.extend(entries.iter().map(|e| (member.clone(), e.clone())));
            }
            crate::graph::Doc::Manifest(m) => {
                descs.push((member.clone(), m.config.clone()));
                descs.extend(m.layers.iter().map(|e| (member.clone(), e.clone())));
            }
        }
    }
    let mut missing_reported = BTreeSet::new();
    for (member, d) in &descs {
        match g.blobs.get(&d.digest) {
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
        }
    }

    // 3. manifest.json agrees with the index, or with the legacy configs.
    match g.format {
        Format::Docker => check_manifest_json(g, held, &mut push),
        Format::DockerLegacy => check_legacy(g, held, &mut push),
        Format::Oci => {}
    }

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
    for l in &g.legacy {
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
    for ((p, _, _), r) in layers.iter().zip(check_blobs(&g.archive, &blobs)) {
        if let Err(e) = r {
            push(Severity::Corrupt, format!("{p}: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Members of awkward sizes (several map windows, a few bytes, none) in a tar file (read
    /// through its map) or, with `as_dir`, in a folder (read into buffers).
    fn archive(dir: &std::path::Path, as_dir: bool) -> (Archive, Vec<(Loc, Digest)>) {
        let sizes = [(9 << 20) + 3, 3 << 20, 70_000, 1, 0];
        let mut b = tar::Builder::new(Vec::new());
        let mut blobs = Vec::new();
        for (i, n) in sizes.into_iter().enumerate() {
            let data: Vec<u8> = (0..n).map(|j| (j * 7 + i) as u8).collect();
            let mut h = tar::Header::new_gnu();
            h.set_size(n as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, format!("m{i}"), &data[..]).unwrap();
            std::fs::write(dir.join(format!("m{i}")), &data).unwrap();
            blobs.push((format!("m{i}"), Digest::sha256_of(&data)));
        }
        let path = dir.join("a.tar");
        std::fs::write(&path, b.into_inner().unwrap()).unwrap();
        let a = match as_dir {
            true => Archive::open(dir.to_str().unwrap()).unwrap(),
            false => Archive::open(path.to_str().unwrap()).unwrap(),
        };
        assert_eq!(a.map().is_some(), !as_dir);
        let blobs = blobs
            .into_iter()
            .map(|(m, d)| (a.resolve(&m).unwrap().unwrap(), d))
            .collect();
        (a, blobs)
    }

    #[test]
    fn check_blobs_pairs_them_and_names_each_mismatch_in_place() {
        for as_dir in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            check_blobs_in(archive(dir.path(), as_dir));
        }
    }

    fn check_blobs_in((a, mut blobs): (Archive, Vec<(Loc, Digest)>)) {
        let ok: Vec<(&Loc, &Digest)> = blobs.iter().map(|(l, d)| (l, d)).collect();
        assert!(check_blobs(&a, &ok).iter().all(|r| r.is_ok()));
        // Wrong digests for the largest (paired with the second) and the one-byte member.
        let wrong = Digest::sha256_of(b"not it");
        let (right0, right3) = (blobs[0].1.clone(), blobs[3].1.clone());
        blobs[0].1 = wrong.clone();
        blobs[3].1 = wrong.clone();
        let bad: Vec<(&Loc, &Digest)> = blobs.iter().map(|(l, d)| (l, d)).collect();
        let results = check_blobs(&a, &bad);
        for (i, r) in results.iter().enumerate() {
            match (i, r) {
                (0 | 3, Err(Error::DigestMismatch { digest, actual })) => {
                    assert_eq!(digest, &wrong.to_string());
                    let right = if i == 0 { &right0 } else { &right3 };
                    assert_eq!(actual, &right.to_string());
                }
                (0 | 3, r) => panic!("member {i}: {r:?}"),
                (_, r) => assert!(r.is_ok(), "member {i}: {r:?}"),
            }
        }
    }
}
