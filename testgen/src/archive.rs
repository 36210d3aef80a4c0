//! Writing an `ArchiveSpec` as an uncompressed tar: the blobs in the order they are made, then
//! `oci-layout`, `index.json` and (Docker 25+ style) `manifest.json` and `repositories` ahead of
//! them.

use crate::digest::Digest;
use crate::noise::Noise;
use crate::spec::{ArchiveSpec, ImageSpec, LayerSpec, PlatformSpec, Shape};
use serde_json::{json, Map, Value};
use std::io::{self, Write};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The media types of one image's documents.
struct MediaTypes {
    index: &'static str,
    manifest: &'static str,
    config: &'static str,
    layer: &'static str,
}

impl MediaTypes {
    fn of(shape: Shape) -> MediaTypes {
        if shape == Shape::DockerList {
            MediaTypes {
                index: DOCKER_LIST,
                manifest: DOCKER_MANIFEST,
                config: DOCKER_CONFIG,
                layer: DOCKER_LAYER,
            }
        } else {
            MediaTypes {
                index: OCI_INDEX,
                manifest: OCI_MANIFEST,
                config: OCI_CONFIG,
                layer: OCI_LAYER,
            }
        }
    }
}

/// A blob to write: bytes, or a layer generated on the fly.
enum Blob {
    Bytes(Vec<u8>),
    Layer(LayerSpec),
}

/// One `manifest.json` entry: the image name, its config and its layer descriptors.
struct DockerEntry {
    name: Option<String>,
    config: Digest,
    layers: Value,
}

/// A platform manifest written: its digest and size, for the descriptors that point at it, and
/// what `manifest.json` lists of it.
struct Written {
    digest: Digest,
    size: u64,
    config: Digest,
    layers: Value,
}

/// What the archive holds so far.
#[derive(Default)]
struct Builder {
    blobs: Vec<(Digest, Blob)>,
    /// The digests in `blobs`: adding stays linear in archives of 100,000 blobs.
    seen: std::collections::HashSet<Digest>,
    /// Documents referenced but left out (missing platforms).
    missing: Vec<Digest>,
    docker_entries: Vec<DockerEntry>,
}

impl Builder {
    fn add(&mut self, bytes: Vec<u8>) -> Digest {
        let d = Digest::of(&bytes);
        self.push(d.clone(), Blob::Bytes(bytes));
        d
    }

    /// Add a blob unless one with its digest is already there.
    fn push(&mut self, d: Digest, blob: Blob) {
        if self.seen.insert(d.clone()) {
            self.blobs.push((d, blob));
        }
    }

    fn add_json(&mut self, v: &Value) -> (Digest, u64) {
        let b = serde_json::to_vec(v).unwrap_or_default();
        let n = b.len() as u64;
        (self.add(b), n)
    }
}

fn split_platform(p: &str) -> (String, String, Option<String>) {
    let mut it = p.split('/');
    let os = it.next().unwrap_or("linux").to_string();
    let arch = it.next().unwrap_or("amd64").to_string();
    (os, arch, it.next().map(str::to_string))
}

fn platform_json(p: &str) -> Value {
    let (os, arch, variant) = split_platform(p);
    let mut v = json!({"architecture": arch, "os": os});
    if let Some(var) = variant {
        v["variant"] = json!(var);
    }
    v
}

/// Write the archive described by `spec` as an uncompressed tar to `out`.
pub fn write_archive<W: Write>(spec: &ArchiveSpec, out: W) -> io::Result<()> {
    let mut b = Builder::default();
    let mut roots = Vec::new();
    for (ii, img) in spec.images.iter().enumerate() {
        let entries = image_entries(&mut b, spec, ii, img);
        let ann = name_annotations(spec, img);
        roots.extend(image_roots(&mut b, img, entries, &ann));
    }
    for i in 0..spec.orphans {
        b.add(format!("{{\"orphan\":{i}}}").into_bytes());
    }
    let index_json = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": roots});
    write_tar(&b, &index_json, spec.docker_manifest, out)
}

/// The descriptors of one image's platform manifests and their artifacts, in index order.
fn image_entries(b: &mut Builder, spec: &ArchiveSpec, ii: usize, img: &ImageSpec) -> Vec<Value> {
    let mt = MediaTypes::of(img.shape);
    let mut entries = Vec::new();
    for ps in &img.platforms {
        let m = platform_manifest(b, &mt, ps);
        let mut desc =
            json!({"mediaType": mt.manifest, "digest": m.digest.to_string(), "size": m.size});
        if !ps.no_descriptor_platform {
            desc["platform"] = platform_json(&ps.platform);
        }
        if spec.docker_manifest && b.docker_entries.len() == ii && !ps.missing {
            b.docker_entries.push(DockerEntry {
                name: img.name.clone(),
                config: m.config.clone(),
                layers: m.layers.clone(),
            });
        }
        entries.push(desc);
        if ps.attestation {
            entries.push(attestation(b, &m, ps.missing));
        }
        if ps.referrer {
            entries.push(referrer(b, &m, mt.manifest));
        }
    }
    entries
}

/// One platform's layers, config and manifest.
fn platform_manifest(b: &mut Builder, mt: &MediaTypes, ps: &PlatformSpec) -> Written {
    let (os, arch, variant) = split_platform(&ps.platform);
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in &ps.layers {
        let d = Digest::of_reader(Noise::new(l.seed, l.size));
        diff_ids.push(d.to_string());
        layer_descs.push(json!({"mediaType": mt.layer, "digest": d.to_string(), "size": l.size}));
        if !ps.missing {
            b.push(d, Blob::Layer(l.clone()));
        }
    }
    let mut config = json!({
        "architecture": arch, "os": os,
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    if let Some(v) = &variant {
        config["variant"] = json!(v);
    }
    let (cd, cs) = b.add_json(&config);
    let manifest = json!({
        "schemaVersion": 2, "mediaType": mt.manifest,
        "config": {"mediaType": mt.config, "digest": cd.to_string(), "size": cs},
        "layers": layer_descs,
    });
    let (md, ms) = b.add_json(&manifest);
    if ps.missing {
        b.missing.push(md.clone());
        b.missing.push(cd.clone());
    }
    Written {
        digest: md,
        size: ms,
        config: cd,
        layers: manifest["layers"].clone(),
    }
}

/// A BuildKit attestation manifest for `m`; returns its index descriptor.
fn attestation(b: &mut Builder, m: &Written, missing: bool) -> Value {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "subject": [{"digest": {"sha256": m.digest.hex()}}],
    });
    let att_layer = serde_json::to_vec(&statement).unwrap_or_default();
    let al = att_layer.len();
    let ald = b.add(att_layer);
    let (acd, acs) = b.add_json(&json!({
        "architecture": "unknown", "os": "unknown", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [ald.to_string()]},
    }));
    let am = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": acd.to_string(), "size": acs},
        "layers": [{
            "mediaType": "application/vnd.in-toto+json", "digest": ald.to_string(), "size": al,
            "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
        }],
    });
    let (amd, ams) = b.add_json(&am);
    if missing {
        b.missing.push(amd.clone());
    }
    json!({
        "mediaType": OCI_MANIFEST, "digest": amd.to_string(), "size": ams,
        "annotations": {
            "vnd.docker.reference.digest": m.digest.to_string(),
            "vnd.docker.reference.type": "attestation-manifest",
        },
        "platform": {"architecture": "unknown", "os": "unknown"},
    })
}

/// An OCI 1.1 referrer (a signature artifact with `subject`) of `m`; returns its index
/// descriptor.
fn referrer(b: &mut Builder, m: &Written, subject_type: &str) -> Value {
    let (ecd, ecs) = b.add_json(&json!({}));
    let sig = format!("signature of {}", m.digest).into_bytes();
    let sl = sig.len();
    let sd = b.add(sig);
    let rm = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": ecd.to_string(), "size": ecs,
        },
        "layers": [{
            "mediaType": "application/vnd.example.signature", "digest": sd.to_string(), "size": sl,
        }],
        "subject": {"mediaType": subject_type, "digest": m.digest.to_string(), "size": m.size},
    });
    let (rmd, rms) = b.add_json(&rm);
    json!({"mediaType": OCI_MANIFEST, "digest": rmd.to_string(), "size": rms,
        "artifactType": "application/vnd.example.signature"})
}

/// The name annotations of an image's `index.json` entries.
fn name_annotations(spec: &ArchiveSpec, img: &ImageSpec) -> Map<String, Value> {
    let mut ann = Map::new();
    if let Some(n) = &img.name {
        if spec.containerd_names {
            ann.insert("io.containerd.image.name".into(), json!(n));
            let tag = n.rsplit(':').next().unwrap_or("latest");
            ann.insert("org.opencontainers.image.ref.name".into(), json!(tag));
        } else {
            ann.insert("org.opencontainers.image.ref.name".into(), json!(n));
        }
    }
    ann
}

/// The `index.json` entries of an image: its descriptors as they are (flat), or one entry
/// pointing at the image index (nested in one more index for `Shape::Nested`).
fn image_roots(
    b: &mut Builder,
    img: &ImageSpec,
    entries: Vec<Value>,
    ann: &Map<String, Value>,
) -> Vec<Value> {
    let annotate = |mut e: Value| {
        if !ann.is_empty() {
            e["annotations"] = Value::Object(ann.clone());
        }
        e
    };
    if img.shape == Shape::Flat {
        return entries.into_iter().map(annotate).collect();
    }
    let mt_index = MediaTypes::of(img.shape).index;
    let index = json!({"schemaVersion": 2, "mediaType": mt_index, "manifests": entries});
    let (mut id, mut is) = b.add_json(&index);
    if img.shape == Shape::Nested {
        let outer = json!({"schemaVersion": 2, "mediaType": mt_index,
            "manifests": [{"mediaType": mt_index, "digest": id.to_string(), "size": is}],
            "annotations": {"org.example.keep": "me"}});
        (id, is) = b.add_json(&outer);
    }
    vec![annotate(
        json!({"mediaType": mt_index, "digest": id.to_string(), "size": is}),
    )]
}

/// The tar: `oci-layout`, `index.json`, Docker's files when asked, then every blob present.
fn write_tar<W: Write>(b: &Builder, index_json: &Value, docker: bool, out: W) -> io::Result<()> {
    let mut t = tar::Builder::new(out);
    put(&mut t, "oci-layout", b"{\"imageLayoutVersion\": \"1.0.0\"}")?;
    put(
        &mut t,
        "index.json",
        &serde_json::to_vec(index_json).unwrap_or_default(),
    )?;
    if docker {
        put(&mut t, "manifest.json", &manifest_json(&b.docker_entries))?;
        put(&mut t, "repositories", &repositories(&b.docker_entries))?;
    }
    for (d, blob) in &b.blobs {
        if b.missing.contains(d) {
            continue;
        }
        match blob {
            Blob::Bytes(data) => put(&mut t, &d.blob_path(), data)?,
            Blob::Layer(l) => {
                let mut h = header(l.size);
                t.append_data(&mut h, d.blob_path(), Noise::new(l.seed, l.size))?;
            }
        }
    }
    t.into_inner()?.flush()
}

fn header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    h
}

fn put<W: Write>(t: &mut tar::Builder<W>, name: &str, data: &[u8]) -> io::Result<()> {
    t.append_data(&mut header(data.len() as u64), name, data)
}

/// Docker's `manifest.json`: one entry per image, blobs named by their OCI layout paths.
fn manifest_json(entries: &[DockerEntry]) -> Vec<u8> {
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            let ls: Vec<String> = e
                .layers
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|l| l["digest"].as_str())
                        .map(|d| format!("blobs/sha256/{}", d.trim_start_matches("sha256:")))
                        .collect()
                })
                .unwrap_or_default();
            let tags: Vec<&String> = e.name.iter().collect();
            json!({"Config": e.config.blob_path(), "RepoTags": tags, "Layers": ls})
        })
        .collect();
    serde_json::to_vec(&entries).unwrap_or_default()
}

/// Docker's `repositories`: repository → tag → config hex, for the tagged names.
fn repositories(entries: &[DockerEntry]) -> Vec<u8> {
    let mut repos = Map::new();
    for e in entries {
        if let Some((r, tag)) = e.name.as_deref().and_then(|n| n.rsplit_once(':')) {
            repos.insert(r.into(), json!({tag: e.config.hex()}));
        }
    }
    serde_json::to_vec(&Value::Object(repos)).unwrap_or_default()
}
