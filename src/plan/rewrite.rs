//! Rewriting the indexes (docs/formats.md, "Filtering"): walking every kept root of `index.json`
//! and the indexes under it, keeping the selected entries, and re-serialising each index that
//! lost entries as a JSON value with every other field kept in order (its new digest and size
//! replace the old ones in its parent, up to `index.json`). With `--keep-index` every index keeps
//! its bytes. Lists the blobs each kept descriptor needs.

use super::select::Selection;
use super::{serialize, Content, FilterOptions, OCI_LAYOUT};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::{Doc, Graph};
use crate::layout::docs::{Descriptor, MediaKind, ANN_CONTAINERD_NAME, ANN_REF_NAME};
use crate::reference::tag_of;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// The members of an OCI output for `sel`: the kept blobs, the rewritten indexes, `index.json`
/// and `oci-layout`. Sets each kept image's `new_digest` in `sel.images`.
pub fn rewrite(
    g: &Graph,
    opts: &FilterOptions,
    sel: &mut Selection,
) -> Result<BTreeMap<Arc<str>, Content>> {
    let Some(index_json) = &g.index_json else {
        return Err(Error::format("index.json", "missing"));
    };
    let mut w = Rewriter {
        g,
        opts,
        kept: &sel.kept,
        new_docs: HashMap::new(),
        members: BTreeMap::new(),
    };
    let root_values = index_json
        .get("manifests")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    // Root position → image, and the kept images, as maps: index.json may have many roots.
    let image_at: HashMap<usize, usize> = g
        .images
        .iter()
        .enumerate()
        .map(|(ii, im)| (im.position, ii))
        .collect();
    let kept_set: BTreeSet<usize> = sel.kept_images.iter().copied().collect();
    let mut new_roots = Vec::new();
    let mut changed = false;
    for (i, (root, value)) in g.roots.iter().zip(root_values).enumerate() {
        let keep = match image_at.get(&i) {
            Some(pos) => kept_set.contains(pos),
            // a top-level referrer: follows its subject
            None => {
                !opts.drop_attestations && g.subject_of(root).is_some_and(|s| sel.kept.contains(&s))
            }
        };
        let new = if keep { w.visit(root)? } else { None };
        let Some(new) = new else {
            changed = true;
            continue;
        };
        changed |= new.digest != root.digest;
        let mut value = replace_digest(value, &new);
        if let Some(&pos) = image_at.get(&i) {
            sel.images[pos].new_digest = Some(new.digest.to_string());
            if let Some(name) = &sel.images[pos].renamed {
                rename_root(&mut value, name);
                changed = true;
            }
        }
        new_roots.push(value);
    }
    let index_bytes = if changed {
        serialize(&with_manifests(index_json, new_roots), "index.json")?
    } else {
        g.index_json_bytes()?
    };
    let mut members = w.members;
    members.insert("index.json".into(), Content::Bytes(index_bytes));
    members.insert("oci-layout".into(), Content::Bytes(OCI_LAYOUT.to_vec()));
    Ok(members)
}

/// `index` with its `manifests` replaced by `manifests`, every other field cloned in its place
/// (the old list is not cloned: `index.json` of 1,500 images is megabytes as a JSON value).
fn with_manifests(index: &Value, manifests: Vec<Value>) -> Value {
    let mut v = match index.as_object() {
        Some(obj) => Value::Object(
            obj.iter()
                .map(|(k, v)| match k.as_str() {
                    "manifests" => (k.clone(), Value::Null),
                    _ => (k.clone(), v.clone()),
                })
                .collect(),
        ),
        None => index.clone(),
    };
    if let Some(obj) = v.as_object_mut() {
        obj.insert("manifests".into(), Value::Array(manifests));
    }
    v
}

/// Give a root descriptor the name `name` (a full reference): in `io.containerd.image.name`, and
/// in `org.opencontainers.image.ref.name` as a full reference or a tag, as that one was written.
fn rename_root(value: &mut Value, name: &str) {
    let Some(Value::Object(ann)) = value.get_mut("annotations") else {
        return;
    };
    if ann.contains_key(ANN_CONTAINERD_NAME) {
        ann.insert(ANN_CONTAINERD_NAME.into(), Value::String(name.to_string()));
    }
    if let Some(Value::String(old)) = ann.get(ANN_REF_NAME) {
        let new = match old.contains('/') {
            true => name.to_string(),
            false => tag_of(name).to_string(),
        };
        ann.insert(ANN_REF_NAME.into(), Value::String(new));
    }
}

/// A descriptor's JSON with its digest and size replaced.
pub fn replace_digest(value: &Value, new: &Descriptor) -> Value {
    let mut v = value.clone();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("digest".into(), Value::String(new.digest.to_string()));
        obj.insert("size".into(), Value::from(new.size));
    }
    v
}

/// Walks kept descriptors, collecting the members they need.
struct Rewriter<'a> {
    g: &'a Graph,
    opts: &'a FilterOptions,
    kept: &'a BTreeSet<Digest>,
    /// Original index digest → its replacement (None: dropped entirely).
    new_docs: HashMap<Digest, Option<Descriptor>>,
    members: BTreeMap<Arc<str>, Content>,
}

impl Rewriter<'_> {
    /// Add the blob `d` names, refusing one whose size differs from the descriptor's
    /// (the output would carry a descriptor that lies about its blob).
    fn add_blob(&mut self, d: &Descriptor) -> Result<()> {
        if let Some(content) = super::blob(self.g, &d.digest) {
            if content.len() != d.size {
                return Err(Error::SizeMismatch {
                    digest: d.digest.to_string(),
                    expected: d.size,
                    actual: content.len(),
                });
            }
            self.members.insert(blob_key(&d.digest, &content), content);
        }
        Ok(())
    }

    /// Add a manifest (or opaque blob) and its children.
    fn add_manifest(&mut self, d: &Descriptor) -> Result<()> {
        self.add_blob(d)?;
        if let Some(m) = self.g.manifest(&d.digest) {
            let children: Vec<Descriptor> = std::iter::once(&m.config)
                .chain(&m.layers)
                .cloned()
                .collect();
            for c in &children {
                self.add_blob(c)?;
            }
        }
        Ok(())
    }

    /// Visit a kept root or index entry: returns its (possibly new) descriptor, or None when
    /// nothing under it is kept.
    fn visit(&mut self, d: &Descriptor) -> Result<Option<Descriptor>> {
        if self.g.index(&d.digest).is_none() {
            let keep = match self.g.subject_of(d) {
                Some(s) => !self.opts.drop_attestations && self.kept.contains(&s),
                None => {
                    self.kept.contains(&d.digest)
                        || d.kind() == MediaKind::Other && self.kept.contains(&d.digest)
                }
            };
            if !keep {
                return Ok(None);
            }
            self.add_manifest(d)?;
            return Ok(Some(d.clone()));
        }
        if let Some(done) = self.new_docs.get(&d.digest) {
            return Ok(done.clone());
        }
        let result = self.visit_index(d)?;
        self.new_docs.insert(d.digest.clone(), result.clone());
        Ok(result)
    }

    /// [`Rewriter::visit`] for an index: its kept entries, and the index as it is or rewritten.
    fn visit_index(&mut self, d: &Descriptor) -> Result<Option<Descriptor>> {
        let g = self.g;
        let Some(Doc::Index { entries }) = g.docs.get(&d.digest) else {
            return Ok(None);
        };
        let value = g.index_value(&d.digest)?;
        let raw_entries: Vec<Value> = value
            .get("manifests")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut kept_values = Vec::new();
        let mut changed = false;
        for (e, ev) in entries.iter().zip(&raw_entries) {
            match self.visit(e)? {
                Some(new) => {
                    changed |= new.digest != e.digest;
                    kept_values.push(replace_digest(ev, &new));
                }
                None => changed = true,
            }
        }
        if kept_values.is_empty() {
            return Ok(None);
        }
        if !changed {
            self.add_blob(d)?;
            return Ok(Some(d.clone()));
        }
        if self.opts.keep_index {
            // The index is written as it is; unselected children are just absent.
            self.add_blob(d)?;
            return Ok(Some(d.clone()));
        }
        let mut v = value.clone();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("manifests".into(), Value::Array(kept_values));
        }
        let bytes = serialize(&v, &d.digest.blob_path())?;
        let mut nd = d.clone();
        nd.size = bytes.len() as u64;
        nd.digest = Digest::sha256_of(&bytes);
        self.members
            .insert(nd.digest.blob_path().into(), Content::Bytes(bytes));
        Ok(Some(nd))
    }
}

/// The output name of blob `digest`: the input member's own name when the blob is copied from
/// a member of that very name (shared with the member table, not allocated again: a plan of
/// 13,500 blobs held 1 MB of such names), else a new one.
fn blob_key(digest: &Digest, content: &Content) -> Arc<str> {
    let path = digest.blob_path();
    match content {
        Content::Input { loc, .. } if *loc.member == *path => Arc::clone(&loc.member),
        _ => path.into(),
    }
}
