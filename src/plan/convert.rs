//! Legacy `docker save` images (docs/formats.md, "Legacy docker save"): written back in their own
//! layout with links resolved, or converted into an OCI layout — one OCI manifest per image over
//! its uncompressed `layer.tar` layers (named by the config's diff IDs), one `index.json` root per
//! RepoTag, as Docker 25+ writes them.

use super::select::Selection;
use super::{serialize, Content, Plan, OCI_LAYOUT};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::{Format, Graph};
use crate::layout::docker::DockerEntry;
use crate::layout::docs::{ANN_CONTAINERD_NAME, ANN_REF_NAME, OCI_INDEX, OCI_MANIFEST};
use crate::layout::legacy::LegacyImage;
use crate::reference::{full_name, renamed, repo_tag, split_tag, Rename};
use crate::source::{paths, Loc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Media type of the uncompressed layers a `layer.tar` becomes.
const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// Media type of the config in a converted manifest.
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// Filter a legacy archive entry by entry, writing the same layout back with links resolved.
pub fn legacy_plan(g: &Graph, sel: Selection, renames: &[Rename]) -> Result<Plan> {
    let mut members = BTreeMap::new();
    let mut entries = Vec::new();
    let mut repositories = Repositories::new(g);
    for &ii in &sel.kept_images {
        let Some(l) = g.images.get(ii).and_then(|i| i.legacy.as_deref()) else {
            continue;
        };
        let mut entry = l.entry.clone();
        entry.repo_tags = repo_tags(l, renames);
        for (old, new) in l.entry.repo_tags.iter().zip(&entry.repo_tags) {
            repositories.keep(old, new);
        }
        entries.push(entry);
        for (p, loc, digest) in legacy_members(g, l) {
            let name = paths::normalize(&p, "manifest.json")?;
            if let Some(loc) = loc {
                members.insert(name.into(), Content::Input { loc, digest });
            }
        }
    }
    docker_members(g, &mut members, &entries, &repositories)?;
    Ok(Plan {
        members,
        images: sel.images,
        notes: sel.notes,
        format: Format::DockerLegacy,
    })
}

/// The files of one legacy image: its config, its layers and their `json`/`VERSION` siblings
/// (path, location when present, digest to check).
fn legacy_members(g: &Graph, l: &LegacyImage) -> Vec<(String, Option<Loc>, Option<Digest>)> {
    let mut paths = vec![(l.entry.config.clone(), l.config.clone(), l.id.clone())];
    for (i, (p, loc)) in l.layers.iter().enumerate() {
        // A layer.tar is checked against the config's diff ID as it is copied.
        paths.push((p.clone(), loc.clone(), l.diff_id(i)));
        if let Some((dir, _)) = p.rsplit_once('/') {
            for sib in ["json", "VERSION"] {
                let s = format!("{dir}/{sib}");
                if let Ok(Some(loc)) = g.archive.resolve(&s) {
                    paths.push((s, Some(loc), None));
                }
            }
        }
    }
    paths
}

/// A legacy image's RepoTags, each renamed by `--tag` where one applies.
fn repo_tags(l: &LegacyImage, renames: &[Rename]) -> Vec<String> {
    l.entry
        .repo_tags
        .iter()
        .map(|t| {
            renamed(renames, Some(t))
                .and_then(|n| repo_tag(&n))
                .unwrap_or_else(|| t.clone())
        })
        .collect()
}

/// `repositories` for the kept (and renamed) tags, each with the ID the input gave it.
struct Repositories<'a> {
    input: Option<&'a Value>,
    out: Value,
}

impl<'a> Repositories<'a> {
    fn new(g: &'a Graph) -> Self {
        Repositories {
            input: g.repositories.as_ref(),
            out: Value::Object(Default::default()),
        }
    }

    /// Keep the entry of RepoTag `old` under RepoTag `new`.
    fn keep(&mut self, old: &str, new: &str) {
        let (Some((repo, tag)), Some((new_repo, new_tag))) = (split_tag(old), split_tag(new))
        else {
            return;
        };
        let Some(id) = self
            .input
            .and_then(|r| r.get(repo))
            .and_then(|t| t.get(tag))
        else {
            return;
        };
        if let Value::Object(out) = &mut self.out {
            let entry = out
                .entry(new_repo.to_string())
                .or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(tags) = entry {
                tags.insert(new_tag.to_string(), id.clone());
            }
        }
    }
}

/// `manifest.json` from `entries`, and `repositories` when the input had one.
fn docker_members(
    g: &Graph,
    members: &mut BTreeMap<Arc<str>, Content>,
    entries: &[DockerEntry],
    repositories: &Repositories<'_>,
) -> Result<()> {
    let manifest_json = serde_json::to_vec(entries).map_err(|e| Error::json("manifest.json", e))?;
    members.insert("manifest.json".into(), Content::Bytes(manifest_json));
    if g.repositories.is_some() {
        let r = serialize(&repositories.out, "repositories")?;
        members.insert("repositories".into(), Content::Bytes(r));
    }
    Ok(())
}

/// A legacy image as an OCI image.
pub struct Converted {
    /// The OCI manifest made for it, and its digest.
    pub manifest: Vec<u8>,
    pub digest: Digest,
    /// The config (by image ID) and the layers (by diff ID), where the input holds them.
    pub blobs: Vec<(Digest, Loc)>,
    pub diff_ids: Vec<Digest>,
    /// The image's platform as a descriptor's `platform` object (empty when unknown).
    pub platform: serde_json::Map<String, Value>,
}

impl Converted {
    /// A descriptor of the manifest, with `annotations` unless null.
    pub fn descriptor(&self, annotations: Value) -> Value {
        let mut d = json!({"mediaType": OCI_MANIFEST, "digest": self.digest.to_string(), "size": self.manifest.len()});
        if !self.platform.is_empty() {
            d["platform"] = Value::Object(self.platform.clone());
        }
        if !annotations.is_null() {
            d["annotations"] = annotations;
        }
        d
    }
}

/// Convert legacy image `l` of `g`; `None` when its config is absent.
pub fn to_oci(l: &LegacyImage) -> Result<Option<Converted>> {
    let (Some(cfg), Some(id)) = (&l.config, &l.id) else {
        return Ok(None);
    };
    let diff_ids = l.diff_ids.clone();
    if diff_ids.len() != l.layers.len() {
        return Err(Error::format(
            &l.entry.config,
            format!(
                "{} layers in manifest.json, {} diff_ids in the config",
                l.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    let mut blobs = vec![(id.clone(), cfg.clone())];
    let mut layers = Vec::new();
    for ((path, loc), diff) in l.layers.iter().zip(&diff_ids) {
        let Some(loc) = loc else {
            return Err(Error::Missing(format!(
                "{}: layer {path} is missing",
                l.entry.config
            )));
        };
        blobs.push((diff.clone(), loc.clone()));
        layers.push(
            json!({"mediaType": OCI_LAYER_TAR, "digest": diff.to_string(), "size": loc.size}),
        );
    }
    let manifest = serialize(
        &json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": id.to_string(), "size": cfg.size},
            "layers": layers,
        }),
        &l.entry.config,
    )?;
    let platform = match l.platform.as_ref().map(serde_json::to_value) {
        Some(Ok(Value::Object(o))) => o,
        _ => Default::default(),
    };
    Ok(Some(Converted {
        digest: Digest::sha256_of(&manifest),
        manifest,
        blobs,
        diff_ids,
        platform,
    }))
}

/// The annotations of a root named by RepoTag `t`, as Docker 25+ writes them.
pub fn name_annotations(t: &str) -> Value {
    let tag = split_tag(t).map_or("latest", |x| x.1);
    json!({ANN_CONTAINERD_NAME: full_name(t), ANN_REF_NAME: tag})
}

/// Convert the kept legacy images of `g` into an OCI layout, plus Docker's `manifest.json` and
/// `repositories` when `out_format` is [`Format::Docker`].
pub fn legacy_to_oci_plan(
    g: &Graph,
    mut sel: Selection,
    out_format: Format,
    renames: &[Rename],
) -> Result<Plan> {
    let mut members = BTreeMap::new();
    let mut roots = Vec::new();
    let mut entries = Vec::new();
    let mut repositories = Repositories::new(g);
    for &ii in &sel.kept_images {
        let Some(l) = g.images.get(ii).and_then(|i| i.legacy.as_deref()) else {
            continue;
        };
        let Some(c) = to_oci(l)? else {
            continue;
        };
        for (d, loc) in &c.blobs {
            members.insert(
                d.blob_path().into(),
                Content::Input {
                    loc: loc.clone(),
                    digest: Some(d.clone()),
                },
            );
        }
        let tags = repo_tags(l, renames);
        if tags.is_empty() {
            roots.push(c.descriptor(Value::Null));
        }
        roots.extend(tags.iter().map(|t| c.descriptor(name_annotations(t))));
        if let Some(r) = sel.images.get_mut(ii) {
            r.new_digest = Some(c.digest.to_string());
        }
        for (old, new) in l.entry.repo_tags.iter().zip(&tags) {
            repositories.keep(old, new);
        }
        entries.push(DockerEntry {
            config: c.blobs[0].0.blob_path(),
            repo_tags: tags,
            layers: c.diff_ids.iter().map(Digest::blob_path).collect(),
            layer_sources: None,
            parent: None,
        });
        members.insert(c.digest.blob_path().into(), Content::Bytes(c.manifest));
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": roots});
    members.insert(
        "index.json".into(),
        Content::Bytes(serialize(&index, "index.json")?),
    );
    members.insert("oci-layout".into(), Content::Bytes(OCI_LAYOUT.to_vec()));
    if out_format == Format::Docker {
        docker_members(g, &mut members, &entries, &repositories)?;
    }
    Ok(Plan {
        members,
        images: sel.images,
        notes: sel.notes,
        format: out_format,
    })
}
