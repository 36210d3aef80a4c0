//! Synthetic archives for tests, property tests, fuzzing and benchmarks: the shapes no tool on
//! the build machine writes (Docker 25+ classic `docker save`, Docker's containerd store with
//! attestations and missing platforms, flat multi-platform `index.json`), built from a small
//! description with deterministic pseudo-random layer bytes. Not part of the stable API.

use crate::digest::Digest;
use serde_json::{json, Value};
use std::io::{self, Read, Write};

/// One layer: `size` deterministic bytes derived from `seed` (same seed → same blob).
#[derive(Debug, Clone)]
pub struct LayerSpec {
    pub size: u64,
    pub seed: u64,
}

/// One platform manifest of an image.
#[derive(Debug, Clone)]
pub struct PlatformSpec {
    /// `os/arch[/variant]`.
    pub platform: String,
    pub layers: Vec<LayerSpec>,
    /// Add a BuildKit attestation manifest for it.
    pub attestation: bool,
    /// Add an OCI 1.1 referrer (a manifest with `subject`) for it, in the same index.
    pub referrer: bool,
    /// Leave the manifest and its children out (shallow archive).
    pub missing: bool,
    /// Leave the platform out of the descriptor (platform only in the config).
    pub no_descriptor_platform: bool,
}

impl PlatformSpec {
    pub fn new(platform: &str, layers: Vec<LayerSpec>) -> PlatformSpec {
        PlatformSpec {
            platform: platform.into(),
            layers,
            attestation: false,
            referrer: false,
            missing: false,
            no_descriptor_platform: false,
        }
    }
}

/// How an image's root looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An OCI image index as the root (buildah, containerd).
    OciIndex,
    /// A Docker manifest list as the root.
    DockerList,
    /// An index.json entry pointing at an index that wraps the image index (nested twice).
    Nested,
    /// Each platform manifest listed directly in index.json (flat; Docker classic store).
    Flat,
}

/// One image.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub name: Option<String>,
    pub shape: Shape,
    pub platforms: Vec<PlatformSpec>,
}

/// A whole archive.
#[derive(Debug, Clone, Default)]
pub struct ArchiveSpec {
    pub images: Vec<ImageSpec>,
    /// Write Docker's `manifest.json` and `repositories` (Docker 25+ `docker save`).
    pub docker_manifest: bool,
    /// Orphan blobs nothing references (Docker 25+ leaves legacy v1 JSON behind).
    pub orphans: usize,
    /// Use the containerd name annotation (`io.containerd.image.name`) besides the ref name.
    pub containerd_names: bool,
}

/// Deterministic pseudo-random bytes (xorshift64*), cheap enough for multi-GB benchmarks.
pub struct Noise {
    state: u64,
    left: u64,
}

impl Noise {
    pub fn new(seed: u64, len: u64) -> Noise {
        Noise {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            left: len,
        }
    }
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for chunk in buf[..n].chunks_mut(8) {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            let v = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn layer_digest(l: &LayerSpec) -> Digest {
    let mut h = crate::digest::Hasher::new(crate::digest::Algorithm::Sha256);
    let _ = io::copy(&mut Noise::new(l.seed, l.size), &mut h);
    h.finish()
}

/// A blob to write: bytes, or a layer generated on the fly.
enum Blob {
    Bytes(Vec<u8>),
    Layer(LayerSpec),
}

/// The blobs to write, in order, each once (`seen` keeps adding linear in archives of 100,000
/// blobs).
struct Builder {
    blobs: Vec<(Digest, Blob)>,
    seen: std::collections::HashSet<Digest>,
}

impl Builder {
    fn add(&mut self, bytes: Vec<u8>) -> Digest {
        let d = Digest::sha256_of(&bytes);
        self.push(d.clone(), Blob::Bytes(bytes));
        d
    }
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
    let mut b = Builder {
        blobs: Vec::new(),
        seen: Default::default(),
    };
    let mut roots = Vec::new();
    let mut docker_entries = Vec::new();
    let mut missing: Vec<Digest> = Vec::new();
    for (ii, img) in spec.images.iter().enumerate() {
        let docker = img.shape == Shape::DockerList;
        let (mt_index, mt_manifest, mt_config, mt_layer) = if docker {
            (
                crate::layout::docs::DOCKER_LIST,
                crate::layout::docs::DOCKER_MANIFEST,
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        } else {
            (
                crate::layout::docs::OCI_INDEX,
                crate::layout::docs::OCI_MANIFEST,
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.layer.v1.tar",
            )
        };
        let mut entries = Vec::new();
        for ps in &img.platforms {
            let (os, arch, variant) = split_platform(&ps.platform);
            let mut layer_descs = Vec::new();
            let mut diff_ids = Vec::new();
            for l in &ps.layers {
                let d = layer_digest(l);
                diff_ids.push(d.to_string());
                layer_descs
                    .push(json!({"mediaType": mt_layer, "digest": d.to_string(), "size": l.size}));
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
                "schemaVersion": 2, "mediaType": mt_manifest,
                "config": {"mediaType": mt_config, "digest": cd.to_string(), "size": cs},
                "layers": layer_descs,
            });
            let (md, ms) = b.add_json(&manifest);
            if ps.missing {
                missing.push(md.clone());
                missing.push(cd.clone());
            }
            let mut desc = json!({"mediaType": mt_manifest, "digest": md.to_string(), "size": ms});
            if !ps.no_descriptor_platform {
                desc["platform"] = platform_json(&ps.platform);
            }
            if spec.docker_manifest && docker_entries.len() == ii && !ps.missing {
                docker_entries.push((img.name.clone(), cd.clone(), manifest["layers"].clone()));
            }
            entries.push(desc);
            if ps.attestation {
                let att_layer = serde_json::to_vec(&json!({"_type": "https://in-toto.io/Statement/v0.1", "subject": [{"digest": {"sha256": md.hex()}}]})).unwrap_or_default();
                let al = att_layer.len();
                let ald = b.add(att_layer);
                let (acd, acs) = b.add_json(&json!({"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers", "diff_ids": [ald.to_string()]}}));
                let am = json!({
                    "schemaVersion": 2, "mediaType": crate::layout::docs::OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": acd.to_string(), "size": acs},
                    "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": ald.to_string(), "size": al,
                                "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}],
                });
                let (amd, ams) = b.add_json(&am);
                if ps.missing {
                    missing.push(amd.clone());
                }
                entries.push(json!({
                    "mediaType": crate::layout::docs::OCI_MANIFEST, "digest": amd.to_string(), "size": ams,
                    "annotations": {"vnd.docker.reference.digest": md.to_string(), "vnd.docker.reference.type": "attestation-manifest"},
                    "platform": {"architecture": "unknown", "os": "unknown"},
                }));
            }
            if ps.referrer {
                let (ecd, ecs) = b.add_json(&json!({}));
                let sig = format!("signature of {md}").into_bytes();
                let sl = sig.len();
                let sd = b.add(sig);
                let rm = json!({
                    "schemaVersion": 2, "mediaType": crate::layout::docs::OCI_MANIFEST,
                    "artifactType": "application/vnd.example.signature",
                    "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": ecd.to_string(), "size": ecs},
                    "layers": [{"mediaType": "application/vnd.example.signature", "digest": sd.to_string(), "size": sl}],
                    "subject": {"mediaType": mt_manifest, "digest": md.to_string(), "size": ms},
                });
                let (rmd, rms) = b.add_json(&rm);
                entries.push(json!({"mediaType": crate::layout::docs::OCI_MANIFEST, "digest": rmd.to_string(), "size": rms,
                    "artifactType": "application/vnd.example.signature"}));
            }
        }
        let mut ann = serde_json::Map::new();
        if let Some(n) = &img.name {
            if spec.containerd_names {
                ann.insert("io.containerd.image.name".into(), json!(n));
                let tag = n.rsplit(':').next().unwrap_or("latest");
                ann.insert("org.opencontainers.image.ref.name".into(), json!(tag));
            } else {
                ann.insert("org.opencontainers.image.ref.name".into(), json!(n));
            }
        }
        match img.shape {
            Shape::Flat => {
                for mut e in entries {
                    if !ann.is_empty() {
                        e["annotations"] = Value::Object(ann.clone());
                    }
                    roots.push(e);
                }
            }
            Shape::OciIndex | Shape::DockerList | Shape::Nested => {
                let index =
                    json!({"schemaVersion": 2, "mediaType": mt_index, "manifests": entries});
                let (id, is) = b.add_json(&index);
                let (id, is, mt) = if img.shape == Shape::Nested {
                    let outer = json!({"schemaVersion": 2, "mediaType": mt_index,
                        "manifests": [{"mediaType": mt_index, "digest": id.to_string(), "size": is}],
                        "annotations": {"org.example.keep": "me"}});
                    let (od, os) = b.add_json(&outer);
                    (od, os, mt_index)
                } else {
                    (id, is, mt_index)
                };
                let mut e = json!({"mediaType": mt, "digest": id.to_string(), "size": is});
                if !ann.is_empty() {
                    e["annotations"] = Value::Object(ann.clone());
                }
                roots.push(e);
            }
        }
    }
    for i in 0..spec.orphans {
        b.add(format!("{{\"orphan\":{i}}}").into_bytes());
    }
    let index_json = json!({"schemaVersion": 2, "mediaType": crate::layout::docs::OCI_INDEX, "manifests": roots});

    let mut t = tar::Builder::new(out);
    let put = |t: &mut tar::Builder<W>, name: &str, data: &[u8]| -> io::Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, name, data)
    };
    put(&mut t, "oci-layout", b"{\"imageLayoutVersion\": \"1.0.0\"}")?;
    put(
        &mut t,
        "index.json",
        &serde_json::to_vec(&index_json).unwrap_or_default(),
    )?;
    if spec.docker_manifest {
        let entries: Vec<Value> = docker_entries
            .iter()
            .map(|(name, cd, layers)| {
                let ls: Vec<String> = layers
                    .as_array()
                    .map(|a| a.iter().filter_map(|l| l["digest"].as_str()).map(|d| format!("blobs/sha256/{}", &d[7..])).collect())
                    .unwrap_or_default();
                json!({"Config": format!("blobs/sha256/{}", cd.hex()), "RepoTags": name.iter().collect::<Vec<_>>(), "Layers": ls})
            })
            .collect();
        put(
            &mut t,
            "manifest.json",
            &serde_json::to_vec(&entries).unwrap_or_default(),
        )?;
        let mut repos = serde_json::Map::new();
        for (name, cd, _) in &docker_entries {
            if let Some(n) = name {
                if let Some((r, tag)) = n.rsplit_once(':') {
                    repos.insert(r.into(), json!({tag: cd.hex()}));
                }
            }
        }
        put(
            &mut t,
            "repositories",
            &serde_json::to_vec(&Value::Object(repos)).unwrap_or_default(),
        )?;
    }
    for (d, blob) in &b.blobs {
        if missing.contains(d) {
            continue;
        }
        let name = d.blob_path();
        match blob {
            Blob::Bytes(data) => put(&mut t, &name, data)?,
            Blob::Layer(l) => {
                let mut h = tar::Header::new_ustar();
                h.set_size(l.size);
                h.set_mode(0o644);
                h.set_cksum();
                t.append_data(&mut h, &name, Noise::new(l.seed, l.size))?;
            }
        }
    }
    t.into_inner()?.flush()
}

/// A typical multi-platform image: `n` platforms from a fixed list, each with one own layer of
/// `layer` bytes plus one shared layer, and attestations when asked.
pub fn multi_platform(name: &str, n: usize, layer: u64, attestations: bool) -> ImageSpec {
    const PLATFORMS: [&str; 8] = [
        "linux/amd64",
        "linux/arm64/v8",
        "linux/arm/v7",
        "linux/s390x",
        "linux/ppc64le",
        "linux/386",
        "linux/riscv64",
        "linux/arm/v6",
    ];
    ImageSpec {
        name: Some(name.into()),
        shape: Shape::OciIndex,
        platforms: PLATFORMS
            .iter()
            .take(n)
            .enumerate()
            .map(|(i, p)| {
                let mut ps = PlatformSpec::new(
                    p,
                    vec![
                        LayerSpec {
                            size: layer,
                            seed: 1000 + i as u64,
                        },
                        LayerSpec {
                            size: layer / 2 + 1,
                            seed: 7,
                        },
                    ],
                );
                ps.attestation = attestations;
                ps
            })
            .collect(),
    }
}
