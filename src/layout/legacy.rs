//! Legacy `docker save` archives (Docker ≤ 24, skopeo `docker-archive:`): `manifest.json` entries
//! pointing at `<hex>.json` configs and `<id>/layer.tar` layers, often through symlinks.

use super::docker::DockerEntry;
use super::docs::{config_platform, parse_json};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::source::{Archive, Loc, MAX_JSON};
use serde_json::Value;

/// One single-platform image of a legacy archive.
#[derive(Debug, Clone)]
pub struct LegacyImage {
    pub entry: DockerEntry,
    /// Where the config is, if present.
    pub config: Option<Loc>,
    /// The image ID: the sha256 of the config bytes.
    pub id: Option<Digest>,
    pub platform: Option<Platform>,
    /// Each layer path with its location, if present.
    pub layers: Vec<(String, Option<Loc>)>,
    /// The config's `rootfs.diff_ids`: the digest each `layer.tar` must hash to, in order
    /// (empty when the config is absent).
    pub diff_ids: Vec<Digest>,
}

impl LegacyImage {
    /// The digest the layer at position `i` of `layers` must hash to, if the config says.
    pub fn diff_id(&self, i: usize) -> Option<Digest> {
        self.diff_ids.get(i).cloned()
    }
}

/// Read every `manifest.json` entry's config and locate its layers.
pub fn read(archive: &Archive, entries: &[DockerEntry]) -> Result<Vec<LegacyImage>> {
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let config = archive.resolve(&entry.config)?;
        let (id, platform, diff_ids) = match &config {
            Some(loc) => {
                let bytes = archive.read_small(loc, MAX_JSON)?;
                let id = Digest::sha256_of(&bytes);
                check_name(&entry.config, &id)?;
                let doc = parse_json(&bytes, &entry.config)?;
                let diff_ids = diff_ids(&doc, &entry.config)?;
                (Some(id), config_platform(&doc), diff_ids)
            }
            None => (None, None, Vec::new()),
        };
        let layers = entry
            .layers
            .iter()
            .map(|p| Ok((p.clone(), archive.resolve(p)?)))
            .collect::<Result<Vec<_>>>()?;
        out.push(LegacyImage {
            entry: entry.clone(),
            config,
            id,
            platform,
            layers,
            diff_ids,
        });
    }
    Ok(out)
}

/// The digest a config's path names, `<hex>.json` (`docker save`) or `blobs/sha256/<hex>`; None
/// when the name is not a digest.
pub fn named_id(path: &str) -> Option<Digest> {
    let file = path.rsplit('/').next().unwrap_or(path);
    let hex = file.strip_suffix(".json").unwrap_or(file);
    Digest::parse(&format!("sha256:{hex}")).ok()
}

/// A config whose name is a digest must hash to it: its bytes are the image ID.
fn check_name(path: &str, id: &Digest) -> Result<()> {
    match named_id(path) {
        Some(named) if named != *id => Err(Error::format(
            path,
            format!("config digest mismatch: named {named}, content hashes to {id}"),
        )),
        _ => Ok(()),
    }
}

/// The config's `rootfs.diff_ids`, each a valid digest (absent: none).
fn diff_ids(doc: &Value, path: &str) -> Result<Vec<Digest>> {
    let Some(ids) = doc.pointer("/rootfs/diff_ids").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    ids.iter()
        .map(|v| {
            let s = v
                .as_str()
                .ok_or_else(|| Error::json(path, "rootfs.diff_ids holds a non-string"))?;
            Digest::parse(s).map_err(|e| Error::format(path, format!("rootfs.diff_ids: {e}")))
        })
        .collect()
}
