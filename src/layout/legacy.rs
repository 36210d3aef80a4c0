//! Legacy `docker save` archives (Docker ≤ 24, skopeo `docker-archive:`): `manifest.json` entries
//! pointing at `<hex>.json` configs and `<id>/layer.tar` layers, often through symlinks.

use super::docker::DockerEntry;
use super::docs::{config_platform, parse_json};
use crate::digest::Digest;
use crate::error::Result;
use crate::platform::Platform;
use crate::source::{Archive, Loc, MAX_JSON};

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
}

/// Read every `manifest.json` entry's config and locate its layers.
pub fn read(archive: &Archive, entries: &[DockerEntry]) -> Result<Vec<LegacyImage>> {
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let config = archive.resolve(&entry.config)?;
        let (id, platform) = match &config {
            Some(loc) => {
                let bytes = archive.read_small(loc, MAX_JSON)?;
                let doc = parse_json(&bytes, &entry.config)?;
                (Some(Digest::sha256_of(&bytes)), config_platform(&doc))
            }
            None => (None, None),
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
        });
    }
    Ok(out)
}
