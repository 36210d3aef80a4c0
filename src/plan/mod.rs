//! The plan: the contract between deciding and writing. A verb (`ops/`) turns graphs into a
//! [`Plan`] — every member of the output archive by name, each either a byte range of one of the
//! inputs (named by [`Loc::input`], checked against its digest) or bytes made here — and the
//! sink writes it. The steps a verb composes live beside this file: [`select`] chooses platforms,
//! [`rewrite`] re-serialises the indexes that lost entries, [`convert`] turns legacy images into
//! OCI ones, [`docker`] writes Docker's `manifest.json` and `repositories`.

pub mod convert;
pub mod docker;
pub mod rewrite;
pub mod select;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::{Format, Graph};
use crate::platform::Platform;
use crate::source::Loc;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The `oci-layout` file every OCI output carries.
pub const OCI_LAYOUT: &[u8] = b"{\"imageLayoutVersion\":\"1.0.0\"}";

/// Output layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Auto,
    Oci,
    Docker,
}

/// The selection and output options every verb that writes images shares (docs/formats.md).
#[derive(Debug, Clone)]
pub struct FilterOptions {
    /// `--platform` selectors, in the order given (empty: keep every platform).
    pub include: Vec<Platform>,
    /// `--exclude` selectors.
    pub exclude: Vec<Platform>,
    pub keep_index: bool,
    pub skip_missing: bool,
    pub drop_attestations: bool,
    pub format: OutputFormat,
    pub docker_platform: Option<Platform>,
    /// `--image` patterns (empty: every image).
    pub images: Vec<String>,
    /// `--tag SRC=DST` renames, in the order given.
    pub tags: Vec<crate::reference::Rename>,
}

impl Default for FilterOptions {
    fn default() -> Self {
        FilterOptions {
            include: Vec::new(),
            exclude: Vec::new(),
            keep_index: false,
            skip_missing: false,
            drop_attestations: false,
            format: OutputFormat::Auto,
            docker_platform: None,
            images: Vec::new(),
            tags: Vec::new(),
        }
    }
}

/// Where an output member's bytes come from.
#[derive(Debug, Clone)]
pub enum Content {
    /// A range of input `loc.input`, to be checked against `digest` when it is a blob.
    Input { loc: Loc, digest: Option<Digest> },
    /// Bytes made here (rewritten indexes, index.json, manifest.json, ...).
    Bytes(Vec<u8>),
}

impl Content {
    pub fn len(&self) -> u64 {
        match self {
            Content::Input { loc, .. } => loc.size,
            Content::Bytes(b) => b.len() as u64,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What one image became.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReport {
    pub name: Option<String>,
    pub digest: String,
    /// The new root digest (same as `digest` when the index lost nothing).
    pub new_digest: Option<String>,
    pub kept: Vec<String>,
    pub dropped: Vec<String>,
    /// Selected platforms dropped because their content is missing (`--skip-missing`).
    pub skipped_missing: Vec<String>,
    /// The new name `--tag` gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed: Option<String>,
}

/// The decision: the output members, sorted by name, and the report.
#[derive(Debug, Clone)]
pub struct Plan {
    pub members: BTreeMap<Arc<str>, Content>,
    pub images: Vec<ImageReport>,
    /// Warnings for stderr (images dropped, platforms skipped).
    pub notes: Vec<String>,
    /// Output layout actually written.
    pub format: Format,
}

impl Plan {
    /// The inputs the plan reads from (their positions), each once, in order.
    pub fn inputs(&self) -> std::collections::BTreeSet<usize> {
        self.members
            .values()
            .filter_map(|c| match c {
                Content::Input { loc, .. } => Some(loc.input),
                Content::Bytes(_) => None,
            })
            .collect()
    }
}

/// The content of blob `d` in `g`: a range of the input that holds it (checked against `d` when
/// written), or a document made here.
pub fn blob(g: &Graph, d: &Digest) -> Option<Content> {
    if let Some(loc) = g.blobs.get(d) {
        return Some(Content::Input {
            loc: loc.clone(),
            digest: Some(d.clone()),
        });
    }
    g.made.get(d).map(|b| Content::Bytes(b.clone()))
}

/// Compact JSON bytes of a document made here; `member` names it in the (unlikely) error.
pub fn serialize(v: &Value, member: &str) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::json(member, e))
}
