//! Choosing what to keep (docs/formats.md, "Filtering"): matching every platform manifest against
//! the `--platform` and `--exclude` selectors, checking that each selector matched something,
//! and dropping (`--skip-missing`) or refusing (exit 4) selected platforms whose content is not
//! all there. Attestations and referrers are decided later, with their subject.

use super::{FilterOptions, ImageReport};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::{Graph, PlatformManifest, Status};
use crate::layout::docs::Descriptor;
use crate::platform::{Matcher, Platform};
use crate::reference::{canonical, display_name, renamed, split_tag, ImagePattern, UNNAMED};
use std::collections::{BTreeSet, HashMap};

/// What [`select`] decided.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Digests of the kept platform manifests.
    pub kept: BTreeSet<Digest>,
    /// Positions in `Graph::images` of the images that keep at least one platform.
    pub kept_images: Vec<usize>,
    /// One report per image of the graph, in order.
    pub images: Vec<ImageReport>,
    /// Warnings for stderr.
    pub notes: Vec<String>,
}

/// Decide which platform manifests of `g` are kept.
pub fn select(g: &Graph, opts: &FilterOptions) -> Result<Selection> {
    let include: Vec<Matcher> = opts.include.iter().map(Matcher::new).collect();
    let exclude: Vec<Matcher> = opts.exclude.iter().map(Matcher::new).collect();
    check_platforms_match(g, &include)?;
    let images = image_patterns(g, &opts.images)?;
    let selected = |p: &Option<Platform>| match p {
        None => true,
        Some(p) => {
            (include.is_empty() || include.iter().any(|m| m.matches(p)))
                && !exclude.iter().any(|m| m.matches(p))
        }
    };
    let mut sel = Selection {
        kept: BTreeSet::new(),
        kept_images: Vec::new(),
        images: Vec::new(),
        notes: Vec::new(),
    };
    let mut signatures = Vec::new();
    for (ii, img) in g.images.iter().enumerate() {
        let name = display_name(&img.name, &img.root.digest);
        let mut rep = ImageReport {
            name: img.name.clone(),
            digest: img.root.digest.to_string(),
            new_digest: None,
            kept: Vec::new(),
            dropped: Vec::new(),
            skipped_missing: Vec::new(),
            renamed: renamed(&opts.tags, img.name.as_deref()),
        };
        if let Some(subject) = img.name.as_deref().and_then(signed_subject) {
            // Decided once every other image is: it follows its subject.
            signatures.push((ii, subject));
            sel.images.push(rep);
            continue;
        }
        if !images.is_empty() && !images.iter().any(|p| p.matches(img.name.as_deref())) {
            rep.dropped = img.platforms.iter().map(|p| p.platform_string()).collect();
            sel.notes
                .push(format!("dropping image {name}: not selected by --image"));
            sel.images.push(rep);
            continue;
        }
        for p in &img.platforms {
            if !selected(&p.platform) {
                rep.dropped.push(p.platform_string());
            } else if p.status == Status::Present || opts.keep_index {
                sel.kept.insert(p.desc.digest.clone());
                rep.kept.push(p.platform_string());
            } else if opts.skip_missing {
                sel.notes.push(format!(
                    "{name}: skipping {}: content {} (--skip-missing)",
                    p.platform_string(),
                    status_word(p.status)
                ));
                rep.skipped_missing.push(p.platform_string());
            } else {
                return Err(missing_error(g, &name, p));
            }
        }
        if rep.kept.is_empty() {
            sel.notes.push(format!(
                "dropping image {name}: none of its platforms is selected"
            ));
        } else {
            sel.kept_images.push(ii);
        }
        sel.images.push(rep);
    }
    follow_subjects(g, opts, &mut sel, &signatures);
    check_renames(g, opts, &sel)?;
    if sel.kept_images.is_empty() {
        let skipped: Vec<&str> = sel
            .images
            .iter()
            .flat_map(|i| i.skipped_missing.iter().map(String::as_str))
            .collect();
        let why = match skipped.is_empty() {
            true => String::new(),
            false => format!(
                ": selected but skipped for missing content (--skip-missing): {}",
                skipped.join(", ")
            ),
        };
        return Err(Error::NoMatch(format!(
            "nothing would be left{why}; the archive has: {}",
            g.platform_names().join(", ")
        )));
    }
    Ok(sel)
}

/// The digest a cosign-style tag names: `sha256-<hex>.sig`, `.att` or `.sbom` is the signature,
/// attestation or SBOM of the manifest or index `sha256:<hex>`.
pub fn signed_subject(name: &str) -> Option<Digest> {
    let tag = split_tag(name.split('@').next().unwrap_or(name))?.1;
    let hex = tag.strip_prefix("sha256-")?;
    let hex = [".sig", ".att", ".sbom"]
        .iter()
        .find_map(|ext| hex.strip_suffix(ext))?;
    Digest::parse(&format!("sha256:{hex}")).ok()
}

/// Signatures (and cosign attestations, SBOMs) stored as tagged images follow their subject:
/// kept when the manifest or index they sign is written under the same digest, dropped (with
/// a note) when it is dropped or rewritten, since a signature of other bytes no longer applies.
fn follow_subjects(
    g: &Graph,
    opts: &FilterOptions,
    sel: &mut Selection,
    signatures: &[(usize, Digest)],
) {
    let unchanged: BTreeSet<Digest> = sel
        .kept_images
        .iter()
        .filter(|&&ii| root_unchanged(g, opts, ii, &sel.images[ii]))
        .map(|&ii| g.images[ii].root.digest.clone())
        .collect();
    for (ii, subject) in signatures {
        let img = &g.images[*ii];
        let rep = &mut sel.images[*ii];
        let names = img.platforms.iter().map(|p| p.platform_string());
        if sel.kept.contains(subject) || unchanged.contains(subject) {
            rep.kept = names.collect();
            sel.kept
                .extend(img.platforms.iter().map(|p| p.desc.digest.clone()));
            sel.kept_images.push(*ii);
        } else {
            rep.dropped = names.collect();
            sel.notes.push(format!(
                "dropping {}: {subject}, which it signs, is dropped or rewritten (--keep-index keeps index digests)",
                display_name(&img.name, &img.root.digest)
            ));
        }
    }
    sel.kept_images.sort_unstable();
}

/// Whether kept image `ii` keeps its root digest: nothing under it is dropped (or every index
/// keeps its bytes, `--keep-index`).
fn root_unchanged(g: &Graph, opts: &FilterOptions, ii: usize, rep: &ImageReport) -> bool {
    let has_artifacts = g.images[ii]
        .platforms
        .iter()
        .any(|p| !p.attestations.is_empty());
    opts.keep_index
        || rep.dropped.is_empty()
            && rep.skipped_missing.is_empty()
            && !(opts.drop_attestations && has_artifacts)
}

/// Every `--platform` matcher must match some platform of the archive (exit 3 listing them).
pub fn check_platforms_match(g: &Graph, matchers: &[Matcher]) -> Result<()> {
    for m in matchers {
        let hit = g.images.iter().any(|i| {
            i.platforms
                .iter()
                .any(|p| p.platform.as_ref().is_some_and(|pl| m.matches(pl)))
        });
        if !hit {
            return Err(Error::NoMatch(format!(
                "--platform {m} matched no platform; the archive has: {}",
                g.platform_names().join(", ")
            )));
        }
    }
    Ok(())
}

/// The `--image` patterns, each of which must match some image (exit 3 listing the names).
fn image_patterns(g: &Graph, patterns: &[String]) -> Result<Vec<ImagePattern>> {
    let compiled: Vec<ImagePattern> = patterns.iter().map(|p| ImagePattern::new(p)).collect();
    check_images_match(g, &compiled)?;
    Ok(compiled)
}

/// Every `--image` pattern must match some image of `g` (exit 3 listing the names).
pub fn check_images_match(g: &Graph, patterns: &[ImagePattern]) -> Result<()> {
    for p in patterns {
        if !g.images.iter().any(|i| p.matches(i.name.as_deref())) {
            let names: Vec<&str> = g
                .images
                .iter()
                .map(|i| i.name.as_deref().unwrap_or(UNNAMED))
                .collect();
            return Err(Error::NoMatch(format!(
                "--image {} matched no image; the archive has: {}",
                p.as_str(),
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// Every `--tag` must rename some image (exit 3 listing the names), and no two kept images may
/// end up with one name (exit 2: `merge --name` unites images).
fn check_renames(g: &Graph, opts: &FilterOptions, sel: &Selection) -> Result<()> {
    let names: Vec<&str> = g
        .images
        .iter()
        .filter_map(|i| i.name.as_deref())
        .chain(
            g.legacy()
                .flat_map(|l| l.entry.repo_tags.iter().map(String::as_str)),
        )
        .collect();
    for r in &opts.tags {
        if !names.iter().any(|n| r.apply(n).is_some()) {
            return Err(Error::NoMatch(format!(
                "--tag {}={} matched no image; the archive has: {}",
                r.from,
                r.to,
                names.join(", ")
            )));
        }
    }
    let mut owner: HashMap<String, (&Digest, bool)> = HashMap::new();
    for &ii in &sel.kept_images {
        let (img, rep) = (&g.images[ii], &sel.images[ii]);
        let Some(name) = rep
            .renamed
            .clone()
            .or_else(|| img.name.as_deref().map(canonical))
        else {
            continue;
        };
        let was_renamed = rep.renamed.is_some();
        match owner.get(&name) {
            Some((d, other_renamed))
                if **d != img.root.digest && (was_renamed || *other_renamed) =>
            {
                return Err(Error::Usage(format!(
                    "--tag would give two images the name {name} ({} and {}); use merge --name to unite them",
                    d, img.root.digest
                )));
            }
            _ => {
                owner.insert(name, (&img.root.digest, was_renamed));
            }
        }
    }
    Ok(())
}

fn status_word(s: Status) -> &'static str {
    if s == Status::Missing {
        "missing"
    } else {
        "partial"
    }
}

/// Exit 4: a selected platform whose content is not all in the input.
fn missing_error(g: &Graph, name: &str, p: &PlatformManifest) -> Error {
    Error::Missing(format!(
        "{name}: platform {} is {} in the input: blob {} is missing (use --skip-missing to drop it, or --keep-index)",
        p.platform_string(),
        status_word(p.status),
        first_missing(g, &p.desc),
    ))
}

/// One digest a non-present manifest lacks.
fn first_missing(g: &Graph, d: &Descriptor) -> Digest {
    if !g.has_blob(&d.digest) {
        return d.digest.clone();
    }
    if let Some(m) = g.manifest(&d.digest) {
        for c in std::iter::once(&m.config).chain(&m.layers) {
            if !g.has_blob(&c.digest) {
                return c.digest.clone();
            }
        }
    }
    d.digest.clone()
}
