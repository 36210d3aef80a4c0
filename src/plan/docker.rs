//! Docker's compatibility files for an OCI output (docs/formats.md, "manifest.json"): one
//! `manifest.json` entry per kept image, pointing at the platform `--docker-platform` names, else
//! the first kept platform in the order the user listed them, else the first in index order;
//! and `repositories` for the kept tags.

use super::select::Selection;
use super::{serialize, FilterOptions, OutputFormat};
use crate::error::Result;
use crate::graph::{Graph, PlatformManifest, Status};
use crate::layout::docker::DockerEntry;
use crate::platform::{Matcher, Platform};
use crate::reference::{repo_tag, split_tag};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// `manifest.json`, and `repositories` when the input had one or `--format docker` asks.
pub fn docker_files(
    g: &Graph,
    opts: &FilterOptions,
    sel: &Selection,
) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let mut entries: Vec<DockerEntry> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    // Config path → its entry, and each entry's tags: lookups, not searches, so that many
    // images stay linear.
    let mut by_config: HashMap<String, usize> = HashMap::new();
    let mut tags_of: Vec<HashSet<String>> = Vec::new();
    for &ii in &sel.kept_images {
        let img = &g.images[ii];
        let Some(p) = chosen_platform(img.platforms.iter(), opts, sel) else {
            continue;
        };
        let Some(m) = g.manifest(&p.desc.digest) else {
            continue;
        };
        let config = m.config.digest.blob_path();
        let name = sel.images[ii].renamed.as_deref().or(img.name.as_deref());
        let tag = name.and_then(repo_tag);
        if let Some(&e) = by_config.get(&config) {
            if let Some(t) = tag {
                if tags_of[e].insert(t.clone()) {
                    entries[e].repo_tags.push(t);
                }
            }
            continue;
        }
        by_config.insert(config.clone(), entries.len());
        tags_of.push(tag.iter().cloned().collect());
        entries.push(DockerEntry {
            config,
            repo_tags: tag.into_iter().collect(),
            layers: m.layers.iter().map(|l| l.digest.blob_path()).collect(),
            layer_sources: None,
            parent: None,
        });
        ids.push(m.config.digest.hex());
    }
    let manifest_json =
        serde_json::to_vec(&entries).map_err(|e| crate::error::Error::json("manifest.json", e))?;
    let repositories = if g.repositories.is_some() || opts.format == OutputFormat::Docker {
        Some(repositories(g, &entries, &ids)?)
    } else {
        None
    };
    Ok((manifest_json, repositories))
}

/// `--docker-platform` must name a platform that is kept (exit 3 listing the kept ones): a
/// `docker load` of the output loads exactly what was asked for, or nothing is written.
pub fn check_docker_platform(g: &Graph, opts: &FilterOptions, sel: &Selection) -> Result<()> {
    let Some(want) = &opts.docker_platform else {
        return Ok(());
    };
    let m = Matcher::new(want);
    let kept: Vec<&PlatformManifest> = g
        .images
        .iter()
        .flat_map(|i| &i.platforms)
        .filter(|p| sel.kept.contains(&p.desc.digest) && p.status == Status::Present)
        .collect();
    if kept
        .iter()
        .any(|p| p.platform.as_ref().is_some_and(|pl| m.matches(pl)))
    {
        return Ok(());
    }
    let mut names: Vec<String> = kept.iter().map(|p| p.platform_string()).collect();
    names.dedup();
    Err(crate::error::Error::NoMatch(format!(
        "--docker-platform {} is not among the kept platforms: {}",
        want.format_selector(),
        names.join(", ")
    )))
}

/// The platform an image's `manifest.json` entry points at (see the module doc).
fn chosen_platform<'a>(
    platforms: impl Iterator<Item = &'a PlatformManifest>,
    opts: &FilterOptions,
    sel: &Selection,
) -> Option<&'a PlatformManifest> {
    let candidates: Vec<_> = platforms
        .filter(|p| sel.kept.contains(&p.desc.digest) && p.status == Status::Present)
        .collect();
    let by = |s: &Platform| {
        let m = Matcher::new(s);
        candidates
            .iter()
            .find(|p| p.platform.as_ref().is_some_and(|pl| m.matches(pl)))
            .copied()
    };
    opts.docker_platform
        .as_ref()
        .and_then(by)
        .or_else(|| opts.include.iter().find_map(by))
        .or_else(|| candidates.first().copied())
}

/// `repositories`: repo → tag → image ID, for kept tags only (IDs as the input had them).
fn repositories(g: &Graph, entries: &[DockerEntry], ids: &[String]) -> Result<Vec<u8>> {
    let mut repos: serde_json::Map<String, Value> = serde_json::Map::new();
    for (e, id) in entries.iter().zip(ids) {
        for t in &e.repo_tags {
            let Some((repo, tag)) = split_tag(t) else {
                continue;
            };
            let old = g
                .repositories
                .as_ref()
                .and_then(|r| r.get(repo))
                .and_then(|r| r.get(tag))
                .cloned();
            let obj = repos
                .entry(repo.to_string())
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(o) = obj.as_object_mut() {
                o.insert(
                    tag.to_string(),
                    old.unwrap_or_else(|| Value::String(id.clone())),
                );
            }
        }
    }
    serialize(&Value::Object(repos), "repositories")
}
