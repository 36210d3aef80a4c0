//! Deciding what to keep (SPEC §4): matching platforms against the selectors, following
//! attestations and referrers to their subject, checking for missing content, rewriting the
//! indexes that lost entries (as JSON values, every other field kept in order), and listing
//! exactly the members of the output archive.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::{Format, Graph, Status};
use crate::layout::docker::DockerEntry;
use crate::layout::docs::{Descriptor, MediaKind};
use crate::platform::{Matcher, Platform};
use crate::source::Loc;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Output layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Auto,
    Oci,
    Docker,
}

/// Everything `filter` needs to decide.
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
        }
    }
}

/// Where an output member's bytes come from.
#[derive(Debug, Clone)]
pub enum Content {
    /// A range of the input, to be checked against `digest` when it is a blob.
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
}

/// The decision: the output members, sorted by name, and the report.
#[derive(Debug, Clone)]
pub struct Plan {
    pub members: BTreeMap<String, Content>,
    pub images: Vec<ImageReport>,
    /// Warnings for stderr (images dropped, platforms skipped).
    pub notes: Vec<String>,
    /// Output layout actually written.
    pub format: Format,
}

/// Decide what to keep and build the output member list.
pub fn plan(g: &Graph, opts: &FilterOptions) -> Result<Plan> {
    let include: Vec<Matcher> = opts.include.iter().map(Matcher::new).collect();
    let exclude: Vec<Matcher> = opts.exclude.iter().map(Matcher::new).collect();
    let selected = |p: &Option<Platform>| -> bool {
        match p {
            None => true,
            Some(p) => {
                (include.is_empty() || include.iter().any(|m| m.matches(p)))
                    && !exclude.iter().any(|m| m.matches(p))
            }
        }
    };
    // Every selector must match some platform.
    for (sel, m) in opts.include.iter().zip(&include) {
        let hit = g.images.iter().any(|i| {
            i.platforms
                .iter()
                .any(|p| p.platform.as_ref().is_some_and(|pl| m.matches(pl)))
        });
        if !hit {
            return Err(Error::NoMatch(format!(
                "--platform {} matched no platform; the archive has: {}",
                sel.format_selector(),
                g.platform_names().join(", ")
            )));
        }
    }

    let mut kept: BTreeSet<Digest> = BTreeSet::new();
    let mut images = Vec::new();
    let mut notes = Vec::new();
    let mut kept_images: Vec<usize> = Vec::new();
    for (ii, img) in g.images.iter().enumerate() {
        let mut rep = ImageReport {
            name: img.name.clone(),
            digest: img.root.digest.to_string(),
            new_digest: None,
            kept: Vec::new(),
            dropped: Vec::new(),
            skipped_missing: Vec::new(),
        };
        for p in &img.platforms {
            let name = p.platform_string();
            if !selected(&p.platform) {
                rep.dropped.push(name);
                continue;
            }
            if p.status != Status::Present && !opts.keep_index {
                if opts.skip_missing {
                    notes.push(format!(
                        "{}: skipping {name}: content {} (--skip-missing)",
                        display_name(&img.name, &img.root.digest),
                        if p.status == Status::Missing {
                            "missing"
                        } else {
                            "partial"
                        }
                    ));
                    rep.skipped_missing.push(name);
                    continue;
                }
                let missing = first_missing(g, &p.desc);
                return Err(Error::Missing(format!(
                    "{}: platform {name} is {} in the input: blob {missing} is missing (use --skip-missing to drop it, or --keep-index)",
                    display_name(&img.name, &img.root.digest),
                    if p.status == Status::Missing { "missing" } else { "partial" },
                )));
            }
            kept.insert(p.desc.digest.clone());
            rep.kept.push(name);
        }
        if rep.kept.is_empty() {
            notes.push(format!(
                "dropping image {}: none of its platforms is selected",
                display_name(&img.name, &img.root.digest)
            ));
        } else {
            kept_images.push(ii);
        }
        images.push(rep);
    }
    if kept_images.is_empty() {
        let skipped: Vec<&str> = images
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

    let out_format = match (opts.format, g.format) {
        (OutputFormat::Auto, f) => f,
        (OutputFormat::Oci, _) => Format::Oci,
        (OutputFormat::Docker, _) => Format::Docker,
    };
    if g.format == Format::DockerLegacy {
        if out_format == Format::DockerLegacy {
            return plan_legacy(g, &kept_images, images, notes);
        }
        return plan_legacy_to_oci(g, &kept_images, images, notes, out_format);
    }

    let mut w = Writer {
        g,
        opts,
        kept: &kept,
        new_docs: HashMap::new(),
        members: BTreeMap::new(),
    };
    // Roots.
    let Some(index_json) = &g.index_json else {
        return Err(Error::format("index.json", "missing"));
    };
    let root_values: Vec<Value> = index_json
        .get("manifests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut new_roots = Vec::new();
    let mut changed = false;
    // Root position → image, and the kept images, as maps: index.json may have many roots.
    let image_at: HashMap<usize, usize> = g
        .images
        .iter()
        .enumerate()
        .map(|(ii, im)| (im.position, ii))
        .collect();
    let kept_set: BTreeSet<usize> = kept_images.iter().copied().collect();
    for (i, (root, value)) in g.roots.iter().zip(&root_values).enumerate() {
        let keep = if let Some(&pos) = image_at.get(&i) {
            kept_set.contains(&pos)
        } else {
            // a top-level referrer: follows its subject
            !opts.drop_attestations && g.subject_of(root).is_some_and(|s| kept.contains(&s))
        };
        if !keep {
            changed = true;
            continue;
        }
        match w.visit(root)? {
            Some(new) => {
                if new.digest != root.digest {
                    changed = true;
                }
                if let Some(&pos) = image_at.get(&i) {
                    images[pos].new_digest = Some(new.digest.to_string());
                }
                new_roots.push(replace_digest(value, &new));
            }
            None => changed = true,
        }
    }
    let index_bytes = if changed {
        let mut v = index_json.clone();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("manifests".into(), Value::Array(new_roots));
        }
        serialize(&v)?
    } else {
        g.read_member_bytes("index.json")?
    };
    w.members
        .insert("index.json".into(), Content::Bytes(index_bytes));
    w.members.insert(
        "oci-layout".into(),
        Content::Bytes(b"{\"imageLayoutVersion\":\"1.0.0\"}".to_vec()),
    );
    if out_format == Format::Docker {
        let (manifest_json, repositories) = docker_files(g, opts, &kept_images, &kept)?;
        w.members
            .insert("manifest.json".into(), Content::Bytes(manifest_json));
        if let Some(r) = repositories {
            w.members.insert("repositories".into(), Content::Bytes(r));
        }
    }
    Ok(Plan {
        members: w.members,
        images,
        notes,
        format: out_format,
    })
}

fn display_name(name: &Option<String>, d: &Digest) -> String {
    match name {
        Some(n) => n.clone(),
        None => d.to_string(),
    }
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

fn serialize(v: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::json("index", e))
}

/// A descriptor's JSON with its digest and size replaced.
fn replace_digest(value: &Value, new: &Descriptor) -> Value {
    let mut v = value.clone();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("digest".into(), Value::String(new.digest.to_string()));
        obj.insert("size".into(), Value::from(new.size));
    }
    v
}

struct Writer<'a> {
    g: &'a Graph,
    opts: &'a FilterOptions,
    kept: &'a BTreeSet<Digest>,
    /// Original index digest → its replacement (None: dropped entirely).
    new_docs: HashMap<Digest, Option<Descriptor>>,
    members: BTreeMap<String, Content>,
}

impl Writer<'_> {
    /// Add the blob `d` names, refusing one whose size differs from the descriptor's
    /// (SPEC §4.10: the output would carry a descriptor that lies about its blob).
    fn add_input(&mut self, d: &Descriptor) -> Result<()> {
        if let Some(loc) = self.g.blobs.get(&d.digest) {
            if loc.size != d.size {
                return Err(Error::SizeMismatch {
                    digest: d.digest.to_string(),
                    expected: d.size,
                    actual: loc.size,
                });
            }
            self.members.insert(
                d.digest.blob_path(),
                Content::Input {
                    loc: loc.clone(),
                    digest: Some(d.digest.clone()),
                },
            );
        }
        Ok(())
    }

    /// Add a manifest (or opaque blob) and its children.
    fn add_manifest(&mut self, d: &Descriptor) -> Result<()> {
        self.add_input(d)?;
        if let Some(m) = self.g.manifest(&d.digest) {
            let children: Vec<Descriptor> = std::iter::once(&m.config)
                .chain(&m.layers)
                .cloned()
                .collect();
            for c in &children {
                self.add_input(c)?;
            }
        }
        Ok(())
    }

    /// Visit a kept root or index entry: returns its (possibly new) descriptor, or None when
    /// nothing under it is kept.
    fn visit(&mut self, d: &Descriptor) -> Result<Option<Descriptor>> {
        if self.g.index(&d.digest).is_none() {
            let is_artifact = self.g.subject_of(d);
            let keep = match is_artifact {
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
        let entries: Vec<Descriptor> = self.g.index(&d.digest).unwrap_or_default().to_vec();
        let mut kept_values = Vec::new();
        let mut changed = false;
        let Some(crate::graph::Doc::Index { value, .. }) = self.g.docs.get(&d.digest) else {
            return Ok(None);
        };
        let value = value.clone();
        let raw_entries: Vec<Value> = value
            .get("manifests")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut any_kept = false;
        for (e, ev) in entries.iter().zip(&raw_entries) {
            match self.visit(e)? {
                Some(new) => {
                    any_kept = true;
                    if new.digest != e.digest {
                        changed = true;
                    }
                    kept_values.push(replace_digest(ev, &new));
                }
                None => changed = true,
            }
        }
        let result = if !any_kept {
            None
        } else if self.opts.keep_index || !changed {
            self.add_input(d)?;
            Some(d.clone())
        } else {
            let mut v = value;
            if let Some(obj) = v.as_object_mut() {
                obj.insert("manifests".into(), Value::Array(kept_values));
            }
            let bytes = serialize(&v)?;
            let digest = Digest::sha256_of(&bytes);
            let mut nd = d.clone();
            nd.size = bytes.len() as u64;
            nd.digest = digest.clone();
            self.members
                .insert(digest.blob_path(), Content::Bytes(bytes));
            Some(nd)
        };
        // In keep-index mode the index is written as is; unselected children are just absent.
        let result = if self.opts.keep_index && any_kept {
            Some(d.clone())
        } else {
            result
        };
        self.new_docs.insert(d.digest.clone(), result.clone());
        Ok(result)
    }
}

/// `manifest.json` and `repositories` for an OCI output in Docker format (SPEC §4.9).
fn docker_files(
    g: &Graph,
    opts: &FilterOptions,
    kept_images: &[usize],
    kept: &BTreeSet<Digest>,
) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let mut entries: Vec<DockerEntry> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for &ii in kept_images {
        let img = &g.images[ii];
        let candidates: Vec<_> = img
            .platforms
            .iter()
            .filter(|p| kept.contains(&p.desc.digest) && p.status == Status::Present)
            .collect();
        let by = |sel: &Platform| {
            let m = Matcher::new(sel);
            candidates
                .iter()
                .find(|p| p.platform.as_ref().is_some_and(|pl| m.matches(pl)))
                .copied()
        };
        let chosen = opts
            .docker_platform
            .as_ref()
            .and_then(by)
            .or_else(|| opts.include.iter().find_map(by))
            .or_else(|| candidates.first().copied());
        let Some(p) = chosen else { continue };
        let Some(m) = g.manifest(&p.desc.digest) else {
            continue;
        };
        let config = m.config.digest.blob_path();
        let tag = img.name.as_deref().and_then(repo_tag);
        if let Some(e) = entries.iter_mut().find(|e| e.config == config) {
            if let Some(t) = tag {
                if !e.repo_tags.contains(&t) {
                    e.repo_tags.push(t);
                }
            }
            continue;
        }
        entries.push(DockerEntry {
            config,
            repo_tags: tag.into_iter().collect(),
            layers: m.layers.iter().map(|l| l.digest.blob_path()).collect(),
            layer_sources: None,
            parent: None,
        });
        ids.push(m.config.digest.hex().to_string());
    }
    let manifest_json =
        serde_json::to_vec(&entries).map_err(|e| Error::json("manifest.json", e))?;
    // repositories: repo → tag → id, for kept tags only.
    let mut repos: serde_json::Map<String, Value> = serde_json::Map::new();
    for (e, id) in entries.iter().zip(&ids) {
        for t in &e.repo_tags {
            if let Some((repo, tag)) = split_tag(t) {
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
    }
    let repositories = if g.repositories.is_some() || opts.format == OutputFormat::Docker {
        Some(
            serde_json::to_vec(&Value::Object(repos))
                .map_err(|e| Error::json("repositories", e))?,
        )
    } else {
        None
    };
    Ok((manifest_json, repositories))
}

/// The `RepoTags` form of an image name: `docker.io/library/alpine:3.20` → `alpine:3.20`.
/// Names that are only a tag (no repository) give no RepoTag.
pub fn repo_tag(name: &str) -> Option<String> {
    let name = name.split('@').next().unwrap_or(name);
    let last = name.rsplit('/').next().unwrap_or(name);
    if !name.contains('/') && !last.contains(':') {
        return None; // a bare tag like "1.0" or "latest"
    }
    let mut n = name.to_string();
    if !last.contains(':') {
        n.push_str(":latest");
    }
    if let Some(rest) = n.strip_prefix("docker.io/") {
        n = rest.strip_prefix("library/").unwrap_or(rest).to_string();
    }
    Some(n)
}

fn split_tag(t: &str) -> Option<(&str, &str)> {
    let i = t.rfind(':')?;
    if t[i..].contains('/') {
        return None;
    }
    Some((&t[..i], &t[i + 1..]))
}

/// Filter a legacy archive entry by entry, writing the same layout back with links resolved.
fn plan_legacy(
    g: &Graph,
    kept_images: &[usize],
    images: Vec<ImageReport>,
    notes: Vec<String>,
) -> Result<Plan> {
    let mut members = BTreeMap::new();
    let mut entries = Vec::new();
    let mut tags = BTreeSet::new();
    for &ii in kept_images {
        let l = &g.legacy[ii];
        entries.push(l.entry.clone());
        tags.extend(l.entry.repo_tags.iter().cloned());
        let mut paths = vec![(l.entry.config.clone(), l.config.clone(), l.id.clone())];
        for (p, loc) in &l.layers {
            paths.push((p.clone(), loc.clone(), None));
            if let Some((dir, _)) = p.rsplit_once('/') {
                for sib in ["json", "VERSION"] {
                    let s = format!("{dir}/{sib}");
                    if let Ok(Some(loc)) = g.archive.resolve(&s) {
                        paths.push((s, Some(loc), None));
                    }
                }
            }
        }
        for (p, loc, digest) in paths {
            let name = crate::source::paths::normalize(&p, "manifest.json")?;
            if let Some(loc) = loc {
                members.insert(name, Content::Input { loc, digest });
            }
        }
    }
    members.insert(
        "manifest.json".into(),
        Content::Bytes(serde_json::to_vec(&entries).map_err(|e| Error::json("manifest.json", e))?),
    );
    if let Some(r) = &g.repositories {
        let mut out = serde_json::Map::new();
        if let Some(obj) = r.as_object() {
            for (repo, t) in obj {
                let mut keep = serde_json::Map::new();
                if let Some(t) = t.as_object() {
                    for (tag, id) in t {
                        if tags.contains(&format!("{repo}:{tag}")) {
                            keep.insert(tag.clone(), id.clone());
                        }
                    }
                }
                if !keep.is_empty() {
                    out.insert(repo.clone(), Value::Object(keep));
                }
            }
        }
        members.insert(
            "repositories".into(),
            Content::Bytes(
                serde_json::to_vec(&Value::Object(out))
                    .map_err(|e| Error::json("repositories", e))?,
            ),
        );
    }
    Ok(Plan {
        members,
        images,
        notes,
        format: Format::DockerLegacy,
    })
}

/// The full name containerd records for a RepoTag: `alpine:3.20` → `docker.io/library/alpine:3.20`.
fn full_name(tag: &str) -> String {
    let first = tag.split('/').next().unwrap_or(tag);
    let has_domain =
        tag.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_domain {
        tag.to_string()
    } else if tag.contains('/') {
        format!("docker.io/{tag}")
    } else {
        format!("docker.io/library/{tag}")
    }
}

/// Convert kept legacy images into an OCI layout (one OCI manifest per image over its
/// uncompressed layers, one index.json root per RepoTag, as Docker 25+ writes), plus Docker's
/// `manifest.json` and `repositories` in `--format docker`.
fn plan_legacy_to_oci(
    g: &Graph,
    kept_images: &[usize],
    mut images: Vec<ImageReport>,
    notes: Vec<String>,
    out_format: Format,
) -> Result<Plan> {
    use crate::layout::docs::{parse_json, OCI_INDEX, OCI_MANIFEST};
    let mut members = BTreeMap::new();
    let mut roots = Vec::new();
    let mut entries = Vec::new();
    for &ii in kept_images {
        let l = &g.legacy[ii];
        let (Some(cfg), Some(id)) = (&l.config, &l.id) else {
            continue;
        };
        let config = parse_json(
            &g.archive.read_small(cfg, crate::source::MAX_JSON)?,
            &l.entry.config,
        )?;
        let diff_ids: Vec<Digest> = config
            .pointer("/rootfs/diff_ids")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(Digest::parse)
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(|e| Error::format(&l.entry.config, e))?
            .unwrap_or_default();
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
        members.insert(
            id.blob_path(),
            Content::Input {
                loc: cfg.clone(),
                digest: Some(id.clone()),
            },
        );
        let mut layers = Vec::new();
        for ((path, loc), diff) in l.layers.iter().zip(&diff_ids) {
            let Some(loc) = loc else {
                return Err(Error::Missing(format!(
                    "{}: layer {path} is missing",
                    l.entry.config
                )));
            };
            members.insert(
                diff.blob_path(),
                Content::Input {
                    loc: loc.clone(),
                    digest: Some(diff.clone()),
                },
            );
            layers.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": diff.to_string(),
                "size": loc.size,
            }));
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": id.to_string(), "size": cfg.size},
            "layers": layers,
        });
        let bytes = serialize(&manifest)?;
        let md = Digest::sha256_of(&bytes);
        let msize = bytes.len();
        members.insert(md.blob_path(), Content::Bytes(bytes));
        let mut platform = serde_json::Map::new();
        if let Some(p) = &l.platform {
            if let Ok(Value::Object(o)) = serde_json::to_value(p) {
                platform = o;
            }
        }
        let desc = |ann: Value| {
            let mut d = serde_json::json!({"mediaType": OCI_MANIFEST, "digest": md.to_string(), "size": msize});
            if !platform.is_empty() {
                d["platform"] = Value::Object(platform.clone());
            }
            if !ann.is_null() {
                d["annotations"] = ann;
            }
            d
        };
        if l.entry.repo_tags.is_empty() {
            roots.push(desc(Value::Null));
        }
        for t in &l.entry.repo_tags {
            let tag = split_tag(t).map_or("latest", |x| x.1);
            roots.push(desc(serde_json::json!({
                "io.containerd.image.name": full_name(t),
                "org.opencontainers.image.ref.name": tag,
            })));
        }
        if let Some(r) = images.get_mut(ii) {
            r.new_digest = Some(md.to_string());
        }
        entries.push(DockerEntry {
            config: id.blob_path(),
            repo_tags: l.entry.repo_tags.clone(),
            layers: diff_ids.iter().map(Digest::blob_path).collect(),
            layer_sources: None,
            parent: None,
        });
    }
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": roots});
    members.insert("index.json".into(), Content::Bytes(serialize(&index)?));
    members.insert(
        "oci-layout".into(),
        Content::Bytes(b"{\"imageLayoutVersion\":\"1.0.0\"}".to_vec()),
    );
    if out_format == Format::Docker {
        members.insert(
            "manifest.json".into(),
            Content::Bytes(
                serde_json::to_vec(&entries).map_err(|e| Error::json("manifest.json", e))?,
            ),
        );
        if let Some(r) = &g.repositories {
            members.insert("repositories".into(), Content::Bytes(serialize(r)?));
        }
    }
    Ok(Plan {
        members,
        images,
        notes,
        format: out_format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_tags() {
        assert_eq!(
            repo_tag("docker.io/library/alpine:3.20").as_deref(),
            Some("alpine:3.20")
        );
        assert_eq!(
            repo_tag("docker.io/foo/bar").as_deref(),
            Some("foo/bar:latest")
        );
        assert_eq!(
            repo_tag("example.com/demo:1.0").as_deref(),
            Some("example.com/demo:1.0")
        );
        assert_eq!(
            repo_tag("localhost:5000/x").as_deref(),
            Some("localhost:5000/x:latest")
        );
        assert_eq!(repo_tag("1.0"), None);
        assert_eq!(
            split_tag("localhost:5000/x:1"),
            Some(("localhost:5000/x", "1"))
        );
        assert_eq!(split_tag("localhost:5000/x"), None);
    }
}
