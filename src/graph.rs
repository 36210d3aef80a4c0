//! The content graph: whatever the layout, one model of roots → indexes → manifests → config and
//! layers, with attestations and referrers linked to the manifest they describe, and the presence
//! of every blob. `ls`, `verify` and `filter` all read this.

use crate::digest::{Algorithm, Digest};
use crate::error::{Error, Result};
use crate::layout::docker::{parse_manifest_json, DockerEntry};
use crate::layout::docs::{
    config_platform, index_entries, index_entries_of, parse_json, sniff_kind, Descriptor,
    ManifestDoc, MediaKind, ANN_SUBJECT,
};
use crate::layout::legacy::{self, LegacyImage};
use crate::platform::Platform;
use crate::source::{Archive, Loc, Member, MemberKind, MAX_JSON};
use rayon::prelude::*;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

mod blobs;
mod prefetch;

pub use blobs::Blobs;

/// The deepest indexes may nest below a root (real archives nest one or two); deeper is refused.
pub const MAX_INDEX_DEPTH: usize = 32;

/// The most platform manifests and artifacts, over all images, an archive may list.
pub const MAX_ROWS: usize = 1_000_000;

/// The layout of an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OCI image layout only.
    Oci,
    /// OCI image layout plus Docker's `manifest.json` (Docker 25+, containerd exports).
    Docker,
    /// Legacy `docker save`: `manifest.json` only.
    DockerLegacy,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Oci => "oci",
            Format::Docker => "docker",
            Format::DockerLegacy => "docker-legacy",
        }
    }
}

/// Whether a manifest and its children are in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Present,
    Partial,
    Missing,
}

/// A parsed JSON document of the graph.
#[derive(Debug, Clone)]
pub enum Doc {
    /// An index: its entries. The verbs that rewrite it keeping every field read its bytes
    /// again ([`Graph::index_value`]); keeping them (or a JSON value) for every index would cost
    /// `ls` and `verify`, which never need them, a seventh of their memory.
    Index {
        entries: Vec<Descriptor>,
    },
    Manifest(Box<ManifestDoc>),
}

/// An artifact (attestation or referrer) attached to a platform manifest.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub desc: Descriptor,
    pub status: Status,
}

/// One platform manifest of an image (or the single image of a legacy entry).
#[derive(Debug, Clone)]
pub struct PlatformManifest {
    /// The platform, from the descriptor or else the config; None when it cannot be known.
    pub platform: Option<Platform>,
    pub desc: Descriptor,
    pub status: Status,
    pub attestations: Vec<Artifact>,
    /// Bytes of the present blobs reachable from this manifest (and its attestations).
    pub size_present: u64,
    /// Bytes of all of them, None when the manifest itself is missing.
    pub size_total: Option<u64>,
}

impl PlatformManifest {
    /// `os/arch[/variant]` as written, or `unknown`.
    pub fn platform_string(&self) -> String {
        match &self.platform {
            Some(p) => p.to_string(),
            None => "unknown".to_string(),
        }
    }
}

/// One image: a root of `index.json`, or an entry of a legacy `manifest.json`.
#[derive(Debug, Clone)]
pub struct Image {
    /// The first of `tags`, if any.
    pub name: Option<String>,
    /// Every name of the image: its index entry's, or all the RepoTags of a legacy entry.
    pub tags: Vec<String>,
    /// The root descriptor (for a legacy image: the config, whose digest is the image ID).
    pub root: Descriptor,
    /// Position of the root in `index.json` (or `manifest.json` for legacy).
    pub position: usize,
    pub platforms: Vec<PlatformManifest>,
    pub size_present: u64,
    pub size_total: u64,
    /// For an entry of a legacy `manifest.json`: its config and layers as read.
    pub legacy: Option<Box<LegacyImage>>,
}

/// What one walk of a root finds: for an index, everything below it; for a manifest, itself.
/// Descriptors are borrowed from the graph's documents.
#[derive(Debug, Clone, Default)]
struct Walk<'g> {
    /// Platform manifests, depth first in index order, each once.
    manifests: Vec<&'g Descriptor>,
    /// Attestations and referrers, each with the digest of its subject.
    artifacts: Vec<(Digest, &'g Descriptor)>,
    /// Every index below the root, each once.
    indexes: Vec<&'g Descriptor>,
}

impl<'g> Walk<'g> {
    /// The walk of a root that is not an index: the root is the image's one manifest.
    fn single(r: &'g Descriptor) -> Walk<'g> {
        Walk {
            manifests: vec![r],
            ..Walk::default()
        }
    }

    /// The rows this root lists: platforms, artifacts and indexes, and the top-level referrers
    /// of its platforms.
    fn rows(&self, root_artifacts: &HashMap<Digest, Vec<Descriptor>>) -> usize {
        let own = self.manifests.len() + self.artifacts.len() + self.indexes.len();
        self.manifests
            .iter()
            .map(|m| root_artifacts.get(&m.digest).map_or(0, Vec::len))
            .fold(own, usize::saturating_add)
    }
}

/// The whole content graph of one archive.
#[derive(Debug)]
pub struct Graph {
    /// The archive read (for a union of several inputs, the first; see [`Graph::more`]).
    pub archive: Archive,
    /// The other inputs of a union (input `i` ≥ 1 is `more[i - 1]`); empty for one archive.
    pub more: Vec<Archive>,
    /// Documents made here rather than read (a union's new indexes, converted manifests).
    pub made: HashMap<Digest, Vec<u8>>,
    /// `index.json` when made here rather than read.
    pub made_index_json: Option<Vec<u8>>,
    /// Where `index.json` is in the first input, when read: found once, so that the verbs
    /// that copy it need not keep the member table.
    pub index_json_loc: Option<Loc>,
    pub format: Format,
    /// Blobs present under `blobs/<alg>/<hex>`.
    pub blobs: Blobs,
    /// Parsed index and manifest documents, by digest.
    pub docs: HashMap<Digest, Doc>,
    /// `index.json` as a JSON value, and its parsed entries.
    pub index_json: Option<Value>,
    pub roots: Vec<Descriptor>,
    pub images: Vec<Image>,
    pub docker_manifest: Option<Vec<DockerEntry>>,
    pub repositories: Option<Value>,
}

impl Graph {
    /// Open an archive and build its graph.
    pub fn open(path: &str) -> Result<Graph> {
        let archive = Archive::open(path)?;
        Graph::build(archive)
    }

    /// Open for `ls` (`hash` false) or `verify` (`hash` true): compressed or piped input is
    /// streamed, not spooled (see [`Archive::open_streaming`]).
    pub fn open_streaming(path: &str, hash: bool) -> Result<Graph> {
        Graph::build(Archive::open_streaming(path, hash)?)
    }

    /// Open to write an uncompressed file: a compressed input file is read twice instead of
    /// spooled (see [`Archive::open_two_pass`]).
    pub fn open_two_pass(path: &str) -> Result<Graph> {
        Graph::build(Archive::open_two_pass(path)?)
    }

    /// Build the graph of an opened archive.
    pub fn build(archive: Archive) -> Result<Graph> {
        let has = |n: &str| archive.members().get(n).map(|m| m.kind.clone());
        let index_kind = has("index.json");
        let manifest_kind = has("manifest.json");
        let format = match (&index_kind, &manifest_kind) {
            (Some(_), Some(_)) => Format::Docker,
            (Some(_), None) => Format::Oci,
            (None, Some(_)) => Format::DockerLegacy,
            (None, None) => {
                return Err(Error::NotAnArchive(format!(
                    "{}: not an image archive: no index.json or manifest.json",
                    archive.name
                )))
            }
        };
        if index_kind == Some(MemberKind::Dir) {
            return Err(Error::format("index.json", "is a directory, not a file"));
        }
        let mut g = Graph {
            blobs: collect_blobs(&archive)?,
            archive,
            more: Vec::new(),
            made: HashMap::new(),
            made_index_json: None,
            index_json_loc: None,
            format,
            docs: HashMap::new(),
            index_json: None,
            roots: Vec::new(),
            images: Vec::new(),
            docker_manifest: None,
            repositories: None,
        };
        if manifest_kind.is_some() {
            let bytes = g.read_member_bytes("manifest.json")?;
            g.docker_manifest = Some(parse_manifest_json(&bytes)?);
        }
        if g.archive.members().contains_key("repositories") {
            let bytes = g.read_member_bytes("repositories")?;
            g.repositories = Some(parse_json(&bytes, "repositories")?);
        }
        if format == Format::DockerLegacy {
            let entries = g.docker_manifest.clone().unwrap_or_default();
            g.images = legacy_images(legacy::read(&g.archive, &entries)?);
            return Ok(g);
        }
        if let Some(bytes) = g.archive.resolve("oci-layout")? {
            let b = g.archive.read_small(&bytes, MAX_JSON)?;
            let v = parse_json(&b, "oci-layout")?;
            if v.get("imageLayoutVersion")
                .and_then(Value::as_str)
                .is_none()
            {
                return Err(Error::json("oci-layout", "no imageLayoutVersion"));
            }
        }
        let loc = g.member_loc("index.json")?;
        let bytes = g.archive.read_small(&loc, MAX_JSON)?;
        g.index_json_loc = Some(loc);
        let value = parse_json(&bytes, "index.json")?;
        g.roots = index_entries(&value, "index.json")?;
        g.index_json = Some(value);
        g.load_docs()?;
        g.build_images()?;
        Ok(g)
    }

    pub fn read_member_bytes(&self, name: &str) -> Result<Vec<u8>> {
        self.archive.read_small(&self.member_loc(name)?, MAX_JSON)
    }

    /// Where the regular file behind `name` is; an error when there is none.
    fn member_loc(&self, name: &str) -> Result<Loc> {
        self.archive
            .resolve(name)?
            .ok_or_else(|| Error::format(name, "is not a regular file"))
    }

    /// Free the parsed documents, for a caller that reads only the images and blobs from here
    /// on: `ls` renders its rows while they would otherwise stay, a third of its peak.
    pub fn drop_documents(&mut self) {
        self.docs = HashMap::new();
    }

    /// Drop the graph as the process ends: only the inputs are dropped, for what that does
    /// outside the process (a compressed input's spool is deleted); the tables, which the
    /// kernel frees with the process, are left to it (freeing those of 1,500 images, on one
    /// core after the output, took 4 % of `ls`'s CPU time; `verify` of them ends 4 % sooner).
    pub fn drop_at_exit(self) {
        let Graph {
            archive,
            more,
            blobs,
            docs,
            images,
            ..
        } = self;
        std::mem::forget((blobs, docs, images));
        drop((archive, more));
    }

    /// As [`Graph::drop_documents`], freeing them on another core while the caller goes on
    /// (25,000 documents took 15 ms), for a caller that allocates little meanwhile: the peak
    /// of `verify`, which hashes next, rose by 2 MiB when it freed them this way.
    pub fn drop_documents_behind(&mut self) {
        let docs = std::mem::take(&mut self.docs);
        rayon::spawn(move || drop(docs));
    }

    /// Every input, in order (as [`Graph::inputs`]), the rest of the graph freed: for a caller
    /// whose plan holds all it needs from here on.
    pub fn into_inputs(self) -> Vec<Archive> {
        std::iter::once(self.archive).chain(self.more).collect()
    }

    /// Every input, in order: `Loc::input` indexes this.
    pub fn inputs(&self) -> Vec<&Archive> {
        std::iter::once(&self.archive).chain(&self.more).collect()
    }

    /// The input `loc` is in.
    pub fn input_of(&self, loc: &Loc) -> &Archive {
        match loc.input {
            0 => &self.archive,
            i => self.more.get(i - 1).unwrap_or(&self.archive),
        }
    }

    /// The bytes of `index.json`: made here, or the input's own.
    pub fn index_json_bytes(&self) -> Result<Vec<u8>> {
        match (&self.made_index_json, &self.index_json_loc) {
            (Some(b), _) => Ok(b.clone()),
            (None, Some(loc)) => self.archive.read_small(loc, MAX_JSON),
            (None, None) => self.read_member_bytes("index.json"),
        }
    }

    /// Read and parse the JSON blob `d`, if present, after checking that its bytes hash to `d`:
    /// a document is trusted (for selection, rewriting, conversion, display) only once checked.
    /// Documents made here are trusted as they are.
    pub fn read_doc(&self, d: &Digest) -> Result<Option<Value>> {
        match self.read_doc_bytes(d)? {
            Some(bytes) => Ok(Some(parse_json(&bytes, &d.blob_path())?)),
            None => Ok(None),
        }
    }

    /// The JSON value of index `d`, read and checked again (Null when it is absent).
    pub fn index_value(&self, d: &Digest) -> Result<Value> {
        Ok(self.read_doc(d)?.unwrap_or_default())
    }

    /// The bytes of the JSON blob `d`, if present, checked as [`Graph::read_doc`] says.
    fn read_doc_bytes(&self, d: &Digest) -> Result<Option<Cow<'_, [u8]>>> {
        if let Some(b) = self.made.get(d) {
            return Ok(Some(Cow::Borrowed(b)));
        }
        match self.blobs.get(d) {
            Some(loc) => {
                let bytes = self.doc_at(loc)?;
                let mut h = crate::digest::Hasher::new(d.algorithm());
                h.update(&bytes);
                crate::digest::check::compare(d, h.finish())?;
                Ok(Some(bytes))
            }
            None => Ok(None),
        }
    }

    /// The bytes of the document at `loc` (at most [`MAX_JSON`]): borrowed from the mapped tar
    /// (no copy, no allocation for the 25,000 documents of a large archive), else read.
    fn doc_at(&self, loc: &Loc) -> Result<Cow<'_, [u8]>> {
        let input = self.input_of(loc);
        match input.mapped(loc) {
            Some(bytes) if loc.size <= MAX_JSON => Ok(Cow::Borrowed(bytes?)),
            _ => input.read_small(loc, MAX_JSON).map(Cow::Owned),
        }
    }

    /// Parse every index and manifest reachable from the roots (cycles are an error); the
    /// documents are read and parsed in parallel first ([`prefetch`]).
    fn load_docs(&mut self) -> Result<()> {
        let roots = self.roots.clone();
        let mut ahead = prefetch::prefetch(self, &roots);
        self.docs.reserve(ahead.len());
        let mut stack = Vec::new();
        for r in &roots {
            self.load_desc(r, &mut stack, &mut ahead)?;
        }
        Ok(())
    }

    fn load_desc(
        &mut self,
        d: &Descriptor,
        stack: &mut Vec<Digest>,
        ahead: &mut prefetch::Prefetched,
    ) -> Result<()> {
        if stack.contains(&d.digest) {
            return Err(Error::format(
                d.digest.blob_path(),
                "index cycle: an index refers to itself",
            ));
        }
        if stack.len() > MAX_INDEX_DEPTH {
            return Err(Error::format(
                d.digest.blob_path(),
                "indexes nested too deeply",
            ));
        }
        if self.docs.contains_key(&d.digest) {
            return Ok(());
        }
        let doc = match ahead.remove(&d.digest) {
            Some((kind, doc)) if kind == d.kind() => doc,
            _ => match self.parse_doc(d)? {
                Some(doc) => doc,
                None => return Ok(()),
            },
        };
        if let Doc::Index { entries, .. } = &doc {
            stack.push(d.digest.clone());
            for e in entries {
                self.load_desc(e, stack, ahead)?;
            }
            stack.pop();
        }
        self.docs.insert(d.digest.clone(), doc);
        Ok(())
    }

    /// Read, check and parse the index or manifest `d` stands for; None when it is absent or
    /// not a document of the graph.
    fn parse_doc(&self, d: &Descriptor) -> Result<Option<Doc>> {
        let kind = d.kind();
        if kind == MediaKind::Other && !looks_like_manifest_type(&d.media_type) {
            return Ok(None);
        }
        let Some(bytes) = self.read_doc_bytes(&d.digest)? else {
            return Ok(None);
        };
        let member = d.digest.blob_path();
        let kind = match kind {
            MediaKind::Other => sniff_kind(&parse_json(&bytes, &member)?),
            known => known,
        };
        Ok(match kind {
            MediaKind::Index => {
                let entries = index_entries_of(&bytes, &member)?;
                Some(Doc::Index { entries })
            }
            MediaKind::Manifest => Some(Doc::Manifest(Box::new(ManifestDoc::parse_bytes(
                &bytes, &member,
            )?))),
            MediaKind::Other => None,
        })
    }

    /// Whether blob `d` is present (read or made).
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blobs.contains_key(d) || self.made.contains_key(d)
    }

    /// The manifest document of `d`, if present and parsed.
    pub fn manifest(&self, d: &Digest) -> Option<&ManifestDoc> {
        match self.docs.get(d) {
            Some(Doc::Manifest(m)) => Some(m),
            _ => None,
        }
    }

    /// The entries of index `d`, if present and parsed.
    pub fn index(&self, d: &Digest) -> Option<&[Descriptor]> {
        match self.docs.get(d) {
            Some(Doc::Index { entries, .. }) => Some(entries),
            _ => None,
        }
    }

    /// Present / partial / missing for a manifest descriptor, whose blobs [`Graph::manifest_blobs`]
    /// put in `blobs`: their presence is read there rather than looked up in the archive's blob
    /// map again (a tenth of the time of building the images of 1,500).
    fn status(&self, d: &Descriptor, blobs: &BTreeMap<Digest, (u64, bool)>) -> Status {
        let present = |x: &Digest| blobs.get(x).is_some_and(|(_, p)| *p);
        if !present(&d.digest) {
            return Status::Missing;
        }
        match self.manifest(&d.digest) {
            Some(m) => {
                let all = std::iter::once(&m.config)
                    .chain(&m.layers)
                    .all(|c| present(&c.digest));
                if all {
                    Status::Present
                } else {
                    Status::Partial
                }
            }
            None => Status::Present,
        }
    }

    /// The blobs a manifest descriptor stands for: itself, its config and layers
    /// (digest, size, present).
    pub fn manifest_blobs(&self, d: &Descriptor, out: &mut BTreeMap<Digest, (u64, bool)>) {
        self.add_blob(d, out);
        if let Some(m) = self.manifest(&d.digest) {
            for c in std::iter::once(&m.config).chain(&m.layers) {
                self.add_blob(c, out);
            }
        }
    }

    fn add_blob(&self, d: &Descriptor, out: &mut BTreeMap<Digest, (u64, bool)>) {
        let present = self.blob_size(&d.digest);
        out.insert(
            d.digest.clone(),
            (present.unwrap_or(d.size), present.is_some()),
        );
    }

    /// The size of blob `d`, if present (read or made).
    pub fn blob_size(&self, d: &Digest) -> Option<u64> {
        match self.blobs.get(d) {
            Some(l) => Some(l.size),
            None => self.made.get(d).map(|b| b.len() as u64),
        }
    }

    /// The platform of a manifest descriptor: the descriptor's, else its config's (a config
    /// that does not hash to its digest is an error, not an unknown platform).
    pub fn platform_of(&self, d: &Descriptor) -> Result<Option<Platform>> {
        if let Some(p) = &d.platform {
            return Ok(Some(Platform::clone(p)));
        }
        let Some(m) = self.manifest(&d.digest) else {
            return Ok(None);
        };
        let v = match self.read_doc(&m.config.digest) {
            Ok(v) => v,
            Err(e @ Error::DigestMismatch { .. }) => return Err(e),
            Err(_) => None,
        };
        Ok(v.as_ref().and_then(config_platform))
    }

    /// Walk index `d` once: its platform manifests, its artifacts (attestations and referrers,
    /// with the digest of their subject) and the indexes below it, depth first in index order.
    fn walk_index(&self, d: &Digest) -> Walk<'_> {
        let mut w = Walk::default();
        self.walk_index_inner(d, &mut w, &mut BTreeSet::new(), &mut HashSet::new());
        w
    }

    /// Each index is walked once per walk, so a hostile DAG of indexes cannot blow up; `listed`
    /// mirrors `w.manifests`, so a very wide index is not deduplicated in quadratic time.
    fn walk_index_inner<'g>(
        &'g self,
        d: &Digest,
        w: &mut Walk<'g>,
        seen: &mut BTreeSet<Digest>,
        listed: &mut HashSet<&'g Descriptor>,
    ) {
        if !seen.insert(d.clone()) {
            return;
        }
        let Some(entries) = self.index(d) else { return };
        for e in entries {
            if self.index(&e.digest).is_some() {
                if !seen.contains(&e.digest) {
                    w.indexes.push(e);
                }
                self.walk_index_inner(&e.digest, w, seen, listed);
            } else if let Some(s) = self.subject_of(e) {
                w.artifacts.push((s, e));
            } else if listed.insert(e) {
                w.manifests.push(e);
            }
        }
    }

    /// The manifest an artifact describes: BuildKit's annotation, containerd's top-level
    /// annotation, or an OCI `subject`.
    pub fn subject_of(&self, e: &Descriptor) -> Option<Digest> {
        if let Some(s) = e.attestation_subject() {
            return Some(s);
        }
        if let Some(s) = e.annotations.get(ANN_SUBJECT) {
            if let Ok(s) = Digest::parse(s) {
                return Some(s);
            }
        }
        self.manifest(&e.digest)
            .and_then(|m| m.subject.as_ref())
            .map(|s| s.digest.clone())
    }

    /// Build [`Graph::images`] from the roots: each distinct root index is walked once.
    pub fn build_images(&mut self) -> Result<()> {
        let mut distinct = HashSet::new();
        let indexes: Vec<&Digest> = (self.roots.iter().map(|r| &r.digest))
            .filter(|d| self.index(d).is_some() && distinct.insert(*d))
            .collect();
        let walks: HashMap<&Digest, Walk> = indexes
            .into_par_iter()
            .map(|d| (d, self.walk_index(d)))
            .collect();
        let (referrers, root_artifacts) = self.root_referrers(&walks);
        self.check_rows(&referrers, &root_artifacts, &walks)?;
        let roots: Vec<(usize, &Descriptor)> = (self.roots.iter().enumerate())
            .filter(|(i, _)| !referrers.contains(i))
            .collect();
        // Built on every core, then taken in order: the first error is the first root's.
        let built: Vec<Result<Image>> = roots
            .into_par_iter()
            .map(|(i, r)| self.image(i, r, &walk_of(&walks, r), &root_artifacts))
            .collect();
        self.images = built.into_iter().collect::<Result<Vec<_>>>()?;
        Ok(())
    }

    /// The roots of `index.json` that are referrers of some image's manifest (not images), and
    /// those referrers by subject, in order: every image's manifest finds them by lookup.
    fn root_referrers(
        &self,
        walks: &HashMap<&Digest, Walk<'_>>,
    ) -> (HashSet<usize>, HashMap<Digest, Vec<Descriptor>>) {
        let walked = walks.values().flat_map(|w| &w.manifests).map(|m| &m.digest);
        let single = self.roots.iter().filter(|r| !walks.contains_key(&r.digest));
        let all_manifests: HashSet<&Digest> = walked.chain(single.map(|r| &r.digest)).collect();
        let mut referrers = HashSet::new();
        let mut by_subject: HashMap<Digest, Vec<Descriptor>> = HashMap::new();
        for (i, r) in self.roots.iter().enumerate() {
            if walks.contains_key(&r.digest) {
                continue;
            }
            if let Some(s) = self.subject_of(r) {
                if all_manifests.contains(&s) && s != r.digest {
                    referrers.insert(i);
                    by_subject.entry(s).or_default().push(r.clone());
                }
            }
        }
        (referrers, by_subject)
    }

    /// Refuse an archive of more than [`MAX_ROWS`] platforms and artifacts over all images:
    /// sharing lets two small documents stand for n² rows, so they are counted (once per
    /// distinct root) before any is built.
    fn check_rows(
        &self,
        referrers: &HashSet<usize>,
        root_artifacts: &HashMap<Digest, Vec<Descriptor>>,
        walks: &HashMap<&Digest, Walk<'_>>,
    ) -> Result<()> {
        let mut per_root: HashMap<&Digest, usize> = HashMap::new();
        let mut rows = 0usize;
        for (i, r) in self.roots.iter().enumerate() {
            if referrers.contains(&i) {
                continue;
            }
            let n = *per_root
                .entry(&r.digest)
                .or_insert_with(|| walk_of(walks, r).rows(root_artifacts));
            rows = rows.saturating_add(n);
            if rows > MAX_ROWS {
                return Err(Error::format(
                    "index.json",
                    format!(
                        "too complex: more than {MAX_ROWS} platform manifests and artifacts across its images"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The image of root `r` (at `position` in `index.json`), from its walk.
    fn image(
        &self,
        position: usize,
        r: &Descriptor,
        walk: &Walk<'_>,
        root_artifacts: &HashMap<Digest, Vec<Descriptor>>,
    ) -> Result<Image> {
        let mut own: HashMap<&Digest, Vec<&Descriptor>> = HashMap::new();
        for (s, a) in &walk.artifacts {
            own.entry(s).or_default().push(a);
        }
        let mut image_blobs = BTreeMap::new();
        for d in walk.indexes.iter().copied() {
            self.add_blob(d, &mut image_blobs);
        }
        if !walk.manifests.contains(&r) && self.index(&r.digest).is_some() {
            self.add_blob(r, &mut image_blobs);
        }
        let mut platforms = Vec::with_capacity(walk.manifests.len());
        for m in walk.manifests.iter().copied() {
            let from_root = root_artifacts.get(&m.digest).into_iter().flatten();
            let artifacts = from_root.chain(own.get(&m.digest).into_iter().flatten().copied());
            platforms.push(self.platform_manifest(m, artifacts, &mut image_blobs)?);
        }
        Ok(Image {
            name: r.image_name(),
            tags: r.image_name().into_iter().collect(),
            root: r.clone(),
            position,
            platforms,
            size_present: sum(image_blobs.values().filter(|(_, p)| *p).map(|(s, _)| s)),
            size_total: sum(image_blobs.values().map(|(s, _)| s)),
            legacy: None,
        })
    }

    /// Platform manifest `m` with its artifacts, its blobs added to `image_blobs`.
    fn platform_manifest<'a>(
        &self,
        m: &Descriptor,
        artifacts: impl Iterator<Item = &'a Descriptor>,
        image_blobs: &mut BTreeMap<Digest, (u64, bool)>,
    ) -> Result<PlatformManifest> {
        let mut blobs = BTreeMap::new();
        self.manifest_blobs(m, &mut blobs);
        let mut attestations = Vec::new();
        for a in artifacts {
            self.manifest_blobs(a, &mut blobs);
            attestations.push(Artifact {
                desc: a.clone(),
                status: self.status(a, &blobs),
            });
        }
        attestations.shrink_to_fit(); // most manifests have one: not the four a push allots
        let status = self.status(m, &blobs);
        let size_present = sum(blobs.values().filter(|(_, p)| *p).map(|(s, _)| s));
        let size_total = (status != Status::Missing).then(|| sum(blobs.values().map(|(s, _)| s)));
        image_blobs.extend(blobs);
        Ok(PlatformManifest {
            platform: self.platform_of(m)?,
            desc: m.clone(),
            status,
            attestations,
            size_present,
            size_total,
        })
    }

    /// The blobs the archive holds, each once by member name with its size: the files under
    /// `blobs/`, or in a legacy archive the configs and layer files that `manifest.json` names
    /// (shared layers once). `ls` (`archive.blobs`) and `verify` both count these.
    pub fn distinct_blobs(&self) -> BTreeMap<&str, u64> {
        let legacy = self.legacy().flat_map(|l| {
            let layers = l.layers.iter().filter_map(|(_, loc)| loc.as_ref());
            l.config.iter().chain(layers)
        });
        self.blobs
            .values()
            .chain(legacy)
            .map(|loc| (&*loc.member, loc.size))
            .collect()
    }

    /// The legacy images (of a legacy `docker save` archive), in `manifest.json` order.
    pub fn legacy(&self) -> impl Iterator<Item = &LegacyImage> {
        self.images.iter().filter_map(|i| i.legacy.as_deref())
    }

    /// Every platform string of every image, deduplicated, in order of appearance.
    pub fn platform_names(&self) -> Vec<String> {
        let (mut seen, mut set) = (Vec::new(), HashSet::new());
        for i in &self.images {
            for p in &i.platforms {
                let s = p.platform_string();
                if set.insert(s.clone()) {
                    seen.push(s);
                }
            }
        }
        seen
    }
}

/// The walk of root `r`: its index's, or for a manifest, itself.
fn walk_of<'g>(walks: &'g HashMap<&Digest, Walk<'g>>, r: &'g Descriptor) -> Cow<'g, Walk<'g>> {
    match walks.get(&r.digest) {
        Some(w) => Cow::Borrowed(w),
        None => Cow::Owned(Walk::single(r)),
    }
}

/// Sum sizes without overflowing: descriptors of absent blobs may claim any size.
fn sum<'a>(sizes: impl Iterator<Item = &'a u64>) -> u64 {
    sizes.fold(0, |a, s| a.saturating_add(*s))
}

/// A media type we may have to sniff: empty, or JSON-ish and unknown.
fn looks_like_manifest_type(mt: &str) -> bool {
    mt.is_empty() || mt.ends_with("+json") && mt.contains("manifest")
}

/// Index the members named `blobs/<alg>/<hex>`; other names under `blobs/` are ignored. The
/// members come by name, so the digests come in order. Read on every core: each name is a
/// cache miss (the table is sorted, the names lie in tar order), 30 ms of `ls` of 97,500
/// members on one core.
fn collect_blobs(archive: &Archive) -> Result<Blobs> {
    let blob = |(name, m): &(Arc<str>, Member)| -> Result<Option<(Digest, Loc)>> {
        let Some((alg, hex)) = name["blobs/".len()..].split_once('/') else {
            return Ok(None);
        };
        let Some(d) = Algorithm::from_name(alg).and_then(|a| Digest::from_hex(a, hex)) else {
            return Ok(None);
        };
        let loc = match m.kind {
            MemberKind::Dir => None,
            MemberKind::File => Some(Loc {
                member: name.clone(),
                offset: m.offset,
                size: m.size,
                input: 0,
            }),
            _ => archive.resolve(name)?,
        };
        Ok(loc.map(|loc| (d, loc)))
    };
    let found: Vec<Result<Option<(Digest, Loc)>>> = archive
        .members()
        .with_prefix("blobs/")
        .par_iter()
        .map(blob)
        .collect();
    // The first error by name, as a walk in order would have met it.
    found.into_iter().filter_map(Result::transpose).collect()
}

/// Legacy entries as images: one platform each, the image ID standing for the manifest.
fn legacy_images(legacy: Vec<LegacyImage>) -> Vec<Image> {
    let mut images = Vec::new();
    for (i, l) in legacy.into_iter().enumerate() {
        let config_size = l.config.as_ref().map_or(0, |c| c.size);
        let id = l.id.clone().unwrap_or_else(|| {
            // An absent config: name the image by its config file's name when it is a digest.
            legacy::named_id(&l.entry.config).unwrap_or_else(|| {
                Digest::sha256_of(l.entry.config.trim_end_matches(".json").as_bytes())
            })
        });
        let desc = Descriptor {
            media_type: "application/vnd.docker.container.image.v1+json".into(),
            digest: id,
            size: config_size,
            platform: None,
            annotations: Default::default(),
            artifact_type: None,
        };
        let mut present = config_size;
        let mut seen = BTreeSet::new();
        let mut all = l.config.is_some();
        for (_, loc) in &l.layers {
            match loc {
                Some(loc) if seen.insert(loc.member.clone()) => present += loc.size,
                Some(_) => {}
                None => all = false,
            }
        }
        let status = match (&l.config, all) {
            (None, _) => Status::Missing,
            (Some(_), true) => Status::Present,
            (Some(_), false) => Status::Partial,
        };
        let total = if all { Some(present) } else { None };
        images.push(Image {
            name: l.entry.repo_tags.first().cloned(),
            tags: l.entry.repo_tags.clone(),
            root: desc.clone(),
            position: i,
            size_present: present,
            size_total: present,
            platforms: vec![PlatformManifest {
                platform: l.platform.clone(),
                desc,
                status,
                attestations: Vec::new(),
                size_present: present,
                size_total: total,
            }],
            legacy: Some(Box::new(l)),
        });
    }
    images
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_json_is_read_without_the_member_table() {
        for name in ["ctr-full.tar", "oci-index.tar", "docker-list.tar"] {
            let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
            let mut g = Graph::open(&path).unwrap();
            let before = g.index_json_bytes().unwrap();
            g.archive.drop_members();
            assert!(g.archive.members().is_empty(), "{name}");
            assert!(g.archive.resolve("index.json").unwrap().is_none(), "{name}");
            assert!(before.starts_with(b"{"), "{name}");
            assert_eq!(g.index_json_bytes().unwrap(), before, "{name}");
        }
    }
}
