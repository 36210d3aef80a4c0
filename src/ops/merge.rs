//! `merge`: many archives into one (docs/formats.md, "Merging").
//!
//! The inputs become one *union graph*: the union of their blobs (each read from the first input
//! that holds it), their documents, and one root per image name. An image whose name appears in
//! one root (or in several roots of one digest) keeps that root as it is; roots that share a name
//! but differ are united into a new OCI index listing the union of their platform manifests (each
//! keeping its digest, followed by its attestations), and legacy images are first converted as
//! `filter --format oci` converts them. The union graph is then filtered like any archive, so
//! every selection and output option means what it means for `filter`, and `merge A` writes what
//! `filter A` writes.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::{Doc, Format, Graph};
use crate::layout::docs::{
    index_entries, parse_json, ManifestDoc, ANN_CONTAINERD_NAME, ANN_REF_NAME, OCI_INDEX,
};
use crate::plan::{convert, serialize, Content, FilterOptions, Plan};
use crate::platform::Platform;
use crate::reference::{canonical, tag_of, ImagePattern, UNNAMED};
use crate::report::filter::{FilterReport, Origin};
use crate::sink::write::{Target, WriteOptions};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Which input wins when two give one image different manifests for one platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefer {
    /// Exit 6, naming the image, the platform and both digests.
    Error,
    First,
    Last,
}

/// `merge`'s own options beside the selection and output options it shares with `filter`.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    pub select: FilterOptions,
    /// `--name REF`: every selected image of every input becomes one image called REF.
    pub name: Option<String>,
    pub prefer: Prefer,
}

/// The inputs as one graph, and where its platform manifests came from.
#[derive(Debug)]
pub struct Union {
    pub graph: Graph,
    /// Platform manifest digest → the input (position) of the root it was found under (the
    /// input of a converted legacy image, whose manifest is made here).
    pub origin: HashMap<Digest, usize>,
    /// Warnings for the report (legacy images skipped for missing content).
    pub notes: Vec<String>,
}

/// An image root of some input.
struct Root {
    input: usize,
    /// The name as the input wrote it.
    name: Option<String>,
    /// The name compared ([`canonical`]); `None` for an unnamed root.
    key: Option<String>,
    /// The root descriptor's JSON as the input wrote it (or as a conversion made it).
    value: Value,
    digest: Digest,
}

/// What `index.json` of the union lists, in input order.
enum Item {
    Image(usize),
    /// A top-level referrer (it follows its subject), by digest.
    Referrer(Digest, Value),
}

/// The union of `graphs`'s contents (see the module doc).
pub fn union(graphs: Vec<Graph>, opts: &MergeOptions) -> Result<Union> {
    let mut b = Builder {
        patterns: opts
            .select
            .images
            .iter()
            .map(|p| ImagePattern::new(p))
            .collect(),
        ..Builder::default()
    };
    for (i, g) in graphs.iter().enumerate() {
        b.add_contents(i, g);
        if g.format == Format::DockerLegacy {
            b.add_legacy(i, g, opts.select.skip_missing)?;
        } else {
            b.add_oci(i, g)?;
        }
    }
    b.check_patterns()?;
    let values = b.root_values(&graphs, opts)?;
    let reuse = graphs.first().filter(|g0| {
        g0.format != Format::DockerLegacy
            && g0.index_json.as_ref().and_then(|v| v.get("manifests"))
                == Some(&Value::Array(values.clone()))
    });
    let (index_json, made_index_json, index_json_loc) = match reuse {
        Some(g0) => (g0.index_json.clone(), None, g0.index_json_loc.clone()),
        None => {
            let v = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": values});
            let bytes = serialize(&v, "index.json")?;
            (Some(v), Some(bytes), None)
        }
    };
    let roots = match &index_json {
        Some(v) => index_entries(v, "index.json")?,
        None => Vec::new(),
    };
    let format = if graphs.iter().any(|g| g.format != Format::Oci) {
        Format::Docker
    } else {
        Format::Oci
    };
    let repositories = merged_repositories(&graphs);
    let mut archives = graphs.into_iter().map(|g| g.archive);
    let Some(archive) = archives.next() else {
        return Err(Error::Usage("merge needs at least one input".into()));
    };
    let mut graph = Graph {
        archive,
        more: archives.collect(),
        made: b.made,
        made_index_json,
        index_json_loc,
        format,
        blobs: b.blobs.into_iter().collect(),
        docs: b.docs,
        index_json,
        roots,
        images: Vec::new(),
        docker_manifest: None,
        repositories,
    };
    graph.build_images()?;
    Ok(Union {
        graph,
        origin: b.origin,
        notes: b.notes,
    })
}

/// Decide what `merge` writes: the union, filtered.
pub fn plan(u: &Union, opts: &MergeOptions) -> Result<Plan> {
    // `--image` picked the inputs' images before they were united (and renamed by `--name`).
    let select = FilterOptions {
        images: Vec::new(),
        ..opts.select.clone()
    };
    let mut p = super::filter::plan(&u.graph, &select)?;
    let mut notes = u.notes.clone();
    notes.append(&mut p.notes);
    p.notes = notes;
    Ok(p)
}

/// Collects the union as the inputs are added.
#[derive(Default)]
struct Builder {
    blobs: BTreeMap<Digest, crate::source::Loc>,
    docs: HashMap<Digest, Doc>,
    made: HashMap<Digest, Vec<u8>>,
    roots: Vec<Root>,
    items: Vec<Item>,
    origin: HashMap<Digest, usize>,
    notes: Vec<String>,
    /// `--image` patterns: applied to the inputs' images before they are united.
    patterns: Vec<ImagePattern>,
    /// Every image name of every input, for the message when a pattern matches none.
    names: Vec<String>,
}

impl Builder {
    /// Input `i`'s blobs (where no earlier input holds them) and parsed documents.
    fn add_contents(&mut self, i: usize, g: &Graph) {
        for (d, loc) in g.blobs.iter() {
            self.blobs.entry(d.clone()).or_insert_with(|| {
                let mut loc = loc.clone();
                loc.input = i;
                loc
            });
        }
        for (d, doc) in &g.docs {
            self.docs.entry(d.clone()).or_insert_with(|| doc.clone());
        }
    }

    /// The roots of an OCI input: its images, and its top-level referrers.
    fn add_oci(&mut self, i: usize, g: &Graph) -> Result<()> {
        let values = root_values(g);
        let images: HashSet<usize> = g.images.iter().map(|im| im.position).collect();
        for (pos, (desc, value)) in g.roots.iter().zip(values).enumerate() {
            if !images.contains(&pos) {
                self.items
                    .push(Item::Referrer(desc.digest.clone(), value.clone()));
                continue;
            }
            self.push_root(Root {
                input: i,
                name: desc.image_name(),
                key: desc.image_name().map(|n| canonical(&n)),
                value: value.clone(),
                digest: desc.digest.clone(),
            });
        }
        Ok(())
    }

    /// The images of a legacy input, converted to OCI manifests: one root per RepoTag.
    fn add_legacy(&mut self, i: usize, g: &Graph, skip_missing: bool) -> Result<()> {
        for l in g.legacy() {
            let converted = match convert::to_oci(l) {
                Ok(Some(c)) => c,
                Ok(None) | Err(Error::Missing(_)) if skip_missing => {
                    self.notes.push(format!(
                        "{}: skipping {}: content missing (--skip-missing)",
                        g.archive.name, l.entry.config
                    ));
                    continue;
                }
                Ok(None) => {
                    return Err(Error::Missing(format!(
                        "{}: config {} is missing (use --skip-missing to drop it)",
                        g.archive.name, l.entry.config
                    )))
                }
                Err(e) => return Err(e),
            };
            for (d, loc) in &converted.blobs {
                self.blobs.entry(d.clone()).or_insert_with(|| {
                    let mut loc = loc.clone();
                    loc.input = i;
                    loc
                });
            }
            let value: Value = serde_json::from_slice(&converted.manifest)
                .map_err(|e| Error::json(&l.entry.config, e))?;
            let doc = ManifestDoc::parse(&value, &converted.digest.blob_path())?;
            self.docs
                .insert(converted.digest.clone(), Doc::Manifest(Box::new(doc)));
            self.made
                .insert(converted.digest.clone(), converted.manifest.clone());
            let tags: Vec<Option<&String>> = match l.entry.repo_tags.is_empty() {
                true => vec![None],
                false => l.entry.repo_tags.iter().map(Some).collect(),
            };
            for t in tags {
                let ann = t.map_or(Value::Null, |t| convert::name_annotations(t));
                self.push_root(Root {
                    input: i,
                    name: t.cloned(),
                    key: t.map(|t| canonical(t)),
                    value: converted.descriptor(ann),
                    digest: converted.digest.clone(),
                });
            }
        }
        Ok(())
    }

    /// Add root `r`, unless `--image` leaves it out.
    fn push_root(&mut self, r: Root) {
        let name = r.name.clone().unwrap_or_else(|| UNNAMED.into());
        let picked =
            self.patterns.is_empty() || self.patterns.iter().any(|p| p.matches(r.name.as_deref()));
        if !self.names.contains(&name) {
            self.names.push(name);
        }
        if picked {
            self.items.push(Item::Image(self.roots.len()));
            self.roots.push(r);
        }
    }

    /// Each `--image` pattern must have matched some image of some input (exit 3 listing the
    /// names).
    fn check_patterns(&self) -> Result<()> {
        for p in &self.patterns {
            if !self
                .names
                .iter()
                .any(|n| p.matches(Some(n)) || p.as_str() == n)
            {
                return Err(Error::NoMatch(format!(
                    "--image {} matched no image; the inputs have: {}",
                    p.as_str(),
                    self.names.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The descriptors `index.json` lists: one per image name (a kept root, or a new index
    /// uniting the roots of that name), and the top-level referrers, in input order.
    fn root_values(&mut self, graphs: &[Graph], opts: &MergeOptions) -> Result<Vec<Value>> {
        let groups = self.groups(opts);
        let mut first_of: HashMap<usize, usize> = HashMap::new();
        for (gi, members) in groups.iter().enumerate() {
            first_of.insert(members[0], gi);
        }
        let mut values = Vec::new();
        let mut referrers = HashSet::new();
        let items = std::mem::take(&mut self.items);
        for item in &items {
            match item {
                Item::Image(r) => {
                    if let Some(&gi) = first_of.get(r) {
                        values.push(self.group_root(graphs, &groups[gi], opts)?);
                    }
                }
                Item::Referrer(d, v) => {
                    if referrers.insert(d.clone()) {
                        values.push(v.clone());
                    }
                }
            }
        }
        Ok(values)
    }

    /// Roots grouped by name (all in one group under `--name`; each unnamed root alone), each
    /// group's members in input order.
    fn groups(&self, opts: &MergeOptions) -> Vec<Vec<usize>> {
        if opts.name.is_some() {
            return vec![(0..self.roots.len()).collect()];
        }
        let mut by_key: HashMap<&str, usize> = HashMap::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (ri, r) in self.roots.iter().enumerate() {
            match r.key.as_deref().and_then(|k| by_key.get(k)) {
                Some(&gi) => groups[gi].push(ri),
                None => {
                    if let Some(k) = &r.key {
                        by_key.insert(k, groups.len());
                    }
                    groups.push(vec![ri]);
                }
            }
        }
        groups
    }

    /// The root descriptor of one group: its root as it is when all its members are one
    /// root, else a new index uniting them.
    fn group_root(
        &mut self,
        graphs: &[Graph],
        members: &[usize],
        opts: &MergeOptions,
    ) -> Result<Value> {
        let first = &self.roots[members[0]];
        let one_digest = members
            .iter()
            .all(|&m| self.roots[m].digest == first.digest);
        if opts.name.is_none() && one_digest {
            let value = first.value.clone();
            self.record_origin(graphs, members[0])?;
            return Ok(value);
        }
        let name = opts
            .name
            .as_deref()
            .map(canonical)
            .or_else(|| first.key.clone())
            .unwrap_or_default();
        let entries = self.unite(graphs, members, &name, opts.prefer)?;
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
        let bytes = serialize(&index, &name)?;
        let digest = Digest::sha256_of(&bytes);
        let parsed = index_entries(&index, &digest.blob_path())?;
        let size = bytes.len();
        self.docs
            .insert(digest.clone(), Doc::Index { entries: parsed });
        self.made.insert(digest.clone(), bytes);
        Ok(json!({
            "mediaType": OCI_INDEX,
            "digest": digest.to_string(),
            "size": size,
            "annotations": {ANN_CONTAINERD_NAME: name, ANN_REF_NAME: tag_of(&name)},
        }))
    }

    /// Record the input of every platform manifest under root `ri`.
    fn record_origin(&mut self, graphs: &[Graph], ri: usize) -> Result<()> {
        let r = &self.roots[ri];
        let (input, found) = (r.input, leaves(self, graphs, r)?);
        for (d, _) in found {
            self.origin.entry(d).or_insert(input);
        }
        Ok(())
    }

    /// The entries of the index uniting `members`: their platform manifests and artifacts in
    /// input order, each digest once, a platform given two manifests decided by `prefer`.
    fn unite(
        &mut self,
        graphs: &[Graph],
        members: &[usize],
        name: &str,
        prefer: Prefer,
    ) -> Result<Vec<Value>> {
        let mut entries: Vec<(Digest, Option<Digest>, Value)> = Vec::new();
        let mut seen = HashSet::new();
        let mut by_platform: HashMap<Platform, (Digest, usize)> = HashMap::new();
        let mut dropped = HashSet::new();
        for &ri in members {
            let r = &self.roots[ri];
            let (input, g) = (r.input, graphs.get(r.input));
            for (d, v) in leaves(self, graphs, r)? {
                if !seen.insert(d.clone()) {
                    continue;
                }
                let desc = crate::layout::docs::Descriptor::from_value(&v, "index.json")?;
                let subject = g
                    .and_then(|g| g.subject_of(&desc))
                    .or_else(|| desc.attestation_subject());
                if subject.is_none() {
                    let platform = (desc.platform.as_deref().cloned())
                        .map_or_else(|| platform_of(g, &desc), |p| Ok(Some(p)))?;
                    if let Some(p) = platform {
                        let key = p.normalize();
                        if let Some((prev, prev_input)) = by_platform.get(&key).cloned() {
                            match prefer {
                                Prefer::Error => {
                                    return Err(conflict(
                                        name,
                                        &p,
                                        (&prev, prev_input),
                                        (&d, input),
                                        graphs,
                                    ))
                                }
                                Prefer::First => {
                                    dropped.insert(d.clone());
                                    continue;
                                }
                                Prefer::Last => {
                                    dropped.insert(prev);
                                }
                            }
                        }
                        by_platform.insert(key, (d.clone(), input));
                    }
                    self.origin.insert(d.clone(), input);
                }
                entries.push((d, subject, v));
            }
        }
        Ok(entries
            .into_iter()
            .filter(|(d, s, _)| {
                !dropped.contains(d) && !s.as_ref().is_some_and(|s| dropped.contains(s))
            })
            .map(|(_, _, v)| v)
            .collect())
    }
}

/// Exit 6: one image name, one platform, two manifests.
fn conflict(
    name: &str,
    p: &Platform,
    (a, ia): (&Digest, usize),
    (b, ib): (&Digest, usize),
    graphs: &[Graph],
) -> Error {
    let input = |i: usize| graphs.get(i).map_or("?", |g| g.archive.name.as_str());
    Error::Conflict(format!(
        "{name}: platform {p} is {a} in {} but {b} in {} (use --prefer first or --prefer last)",
        input(ia),
        input(ib)
    ))
}

/// The leaf descriptors (platform manifests and artifacts) under root `r`, with their JSON:
/// the entries of its index, nested indexes walked; a root that is a manifest stands for
/// itself, without its name annotations and with its platform filled in from its config.
fn leaves(b: &Builder, graphs: &[Graph], r: &Root) -> Result<Vec<(Digest, Value)>> {
    let g = graphs.get(r.input);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    if walk((b, graphs), &r.digest, &mut out, &mut seen)? {
        return Ok(out);
    }
    let mut v = r.value.clone();
    if let Some(obj) = v.as_object_mut() {
        if let Some(Value::Object(ann)) = obj.get_mut("annotations") {
            ann.remove(ANN_CONTAINERD_NAME);
            ann.remove(ANN_REF_NAME);
            if ann.is_empty() {
                obj.remove("annotations");
            }
        }
        if !obj.contains_key("platform") {
            let d = crate::layout::docs::Descriptor::from_value(&r.value, "index.json")?;
            let platform = platform_of(g, &d)?.or_else(|| b.legacy_platform(&d));
            if let Some(Ok(p)) = platform.map(serde_json::to_value) {
                obj.insert("platform".into(), p);
            }
        }
    }
    out.push((r.digest.clone(), v));
    Ok(out)
}

/// The platform of a manifest of input `g` (from its config, checked).
fn platform_of(g: Option<&Graph>, d: &crate::layout::docs::Descriptor) -> Result<Option<Platform>> {
    g.map(|g| g.platform_of(d)).transpose().map(Option::flatten)
}

impl Builder {
    /// The platform of a converted legacy manifest: its descriptor was made with it.
    fn legacy_platform(&self, d: &crate::layout::docs::Descriptor) -> Option<Platform> {
        self.roots
            .iter()
            .find(|r| r.digest == d.digest)
            .and_then(|r| r.value.get("platform"))
            .and_then(|p| serde_json::from_value(p.clone()).ok())
    }
}

/// The JSON value of index `d` of the union: made here, or read again (and checked) from the
/// input that holds it.
fn index_value(b: &Builder, graphs: &[Graph], d: &Digest) -> Result<Value> {
    if let Some(bytes) = b.made.get(d) {
        return parse_json(bytes, &d.blob_path());
    }
    match b.blobs.get(d).and_then(|loc| graphs.get(loc.input)) {
        Some(g) => g.index_value(d),
        None => Ok(Value::Null),
    }
}

/// Push the leaves of index `d` (depth first, in order); false when `d` is not an index.
fn walk(
    (b, graphs): (&Builder, &[Graph]),
    d: &Digest,
    out: &mut Vec<(Digest, Value)>,
    seen: &mut HashSet<Digest>,
) -> Result<bool> {
    let Some(Doc::Index { entries }) = b.docs.get(d) else {
        return Ok(false);
    };
    if !seen.insert(d.clone()) {
        return Ok(true);
    }
    let value = index_value(b, graphs, d)?;
    let raw = value.get("manifests").and_then(Value::as_array);
    for (e, ev) in entries.iter().zip(raw.into_iter().flatten()) {
        if !walk((b, graphs), &e.digest, out, seen)? {
            out.push((e.digest.clone(), ev.clone()));
        }
    }
    Ok(true)
}

/// The JSON of each root descriptor of `g`'s `index.json`, in order.
fn root_values(g: &Graph) -> Vec<Value> {
    g.index_json
        .as_ref()
        .and_then(|v| v.get("manifests"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The inputs' `repositories` (first input wins per repository and tag), legacy ones left out:
/// their IDs name v1 layer directories that a merged (OCI) output does not have.
fn merged_repositories(graphs: &[Graph]) -> Option<Value> {
    let mut out = serde_json::Map::new();
    let mut any = false;
    for g in graphs.iter().filter(|g| g.format == Format::Docker) {
        let Some(Value::Object(repos)) = &g.repositories else {
            continue;
        };
        any = true;
        for (repo, tags) in repos {
            let entry = out
                .entry(repo.clone())
                .or_insert_with(|| Value::Object(Default::default()));
            if let (Some(e), Some(t)) = (entry.as_object_mut(), tags.as_object()) {
                for (tag, id) in t {
                    e.entry(tag.clone()).or_insert_with(|| id.clone());
                }
            }
        }
    }
    any.then_some(Value::Object(out))
}

/// Open every input, merge them into `target` (nothing is written in a dry run), and report.
pub fn merge(
    paths: &[String],
    opts: &MergeOptions,
    target: &Target,
    wopts: &WriteOptions,
    dry_run: bool,
) -> Result<(Plan, FilterReport)> {
    if paths.iter().filter(|p| p.as_str() == "-").count() > 1 {
        return Err(Error::Usage(
            "standard input (-) can be given only once".into(),
        ));
    }
    let graphs = paths
        .iter()
        .map(|p| Graph::open(p))
        .collect::<Result<Vec<_>>>()?;
    let held: Vec<HashSet<Digest>> = graphs
        .iter()
        .map(|g| g.blobs.keys().cloned().collect())
        .collect();
    let u = union(graphs, opts)?;
    let p = plan(&u, opts)?;
    let mut report = super::filter::write_plan(&u.graph.inputs(), &p, target, wopts, dry_run)?;
    report.origins = origins(&u, &p);
    report.saved_bytes = Some(saved_bytes(&p, &held));
    Ok((p, report))
}

/// Where each kept platform manifest came from: the input its manifest blob is read from.
fn origins(u: &Union, p: &Plan) -> Vec<Origin> {
    let inputs = u.graph.inputs();
    let mut out = Vec::new();
    for (img, rep) in u.graph.images.iter().zip(&p.images) {
        for pm in &img.platforms {
            let platform = pm.platform_string();
            let blob_input = u.graph.blobs.get(&pm.desc.digest).map(|l| l.input);
            let Some(i) = blob_input.or_else(|| u.origin.get(&pm.desc.digest).copied()) else {
                continue;
            };
            if rep.kept.contains(&platform) {
                out.push(Origin {
                    image: img.name.clone(),
                    platform,
                    digest: pm.desc.digest.to_string(),
                    input: inputs.get(i).map_or(String::new(), |a| a.name.clone()),
                });
            }
        }
    }
    out
}

/// The bytes of the written blobs that more inputs than one hold, counted once per extra input.
fn saved_bytes(p: &Plan, held: &[HashSet<Digest>]) -> u64 {
    p.members
        .values()
        .filter_map(|c| match c {
            Content::Input {
                loc,
                digest: Some(d),
            } => {
                let holders = held.iter().filter(|h| h.contains(d)).count() as u64;
                Some(loc.size.saturating_mul(holders.saturating_sub(1)))
            }
            _ => None,
        })
        .fold(0u64, u64::saturating_add)
}
