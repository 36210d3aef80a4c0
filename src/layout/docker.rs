//! Docker's compatibility files: `manifest.json` (what `docker load` reads) and `repositories`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One entry of `manifest.json`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct DockerEntry {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default, deserialize_with = "null_as_empty")]
    pub repo_tags: Vec<String>,
    #[serde(rename = "Layers", default, deserialize_with = "null_as_empty")]
    pub layers: Vec<String>,
    #[serde(
        rename = "LayerSources",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub layer_sources: Option<Value>,
    #[serde(rename = "Parent", default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// Parse `manifest.json`.
pub fn parse_manifest_json(bytes: &[u8]) -> Result<Vec<DockerEntry>> {
    super::docs::check_complexity(bytes, "manifest.json")?;
    serde_json::from_slice(bytes).map_err(|e| Error::json("manifest.json", e))
}
