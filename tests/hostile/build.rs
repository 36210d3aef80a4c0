//! Building the archives the cases start from: tar members (raw headers where the tar crate
//! would refuse), OCI images and legacy `docker save` layouts.

use crate::common::sha256;
use serde_json::{json, Value};
use std::io::Write;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// One member of a test archive.
#[derive(Clone, Debug)]
pub enum M {
    /// A regular file written with the tar crate (which refuses `..` and absolute names).
    File(String, Vec<u8>),
    /// A regular file whose header is written by hand, for names the tar crate refuses.
    RawFile(String, Vec<u8>),
    Symlink(String, String),
    HardLink(String, String),
    Dir(String),
}

pub fn file(name: &str, data: impl Into<Vec<u8>>) -> M {
    M::File(name.to_string(), data.into())
}

fn octal(field: &mut [u8], v: u64) {
    let s = format!("{:0w$o}\0", v, w = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

/// A ustar header written byte by byte, with a correct checksum.
pub fn raw_header(name: &str, size: u64, typeflag: u8, link: &str) -> [u8; 512] {
    assert!(name.len() <= 100 && link.len() <= 100);
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0);
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn pad(v: &mut Vec<u8>) {
    while v.len() % 512 != 0 {
        v.push(0);
    }
}

/// Serialise members into an uncompressed tar (with the two-block trailer).
pub fn tar_bytes(members: &[M]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_mtime(0);
        match m {
            M::File(name, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, name, &data[..]).unwrap();
            }
            M::RawFile(name, data) => {
                let out = b.get_mut();
                out.extend_from_slice(&raw_header(name, data.len() as u64, b'0', ""));
                out.extend_from_slice(data);
                pad(out);
            }
            M::Symlink(name, target) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, name, target).unwrap();
            }
            M::HardLink(name, target) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Link);
                b.append_link(&mut h, name, target).unwrap();
            }
            M::Dir(name) => {
                h.set_size(0);
                h.set_mode(0o755);
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, name, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

pub fn hex_of(b: &[u8]) -> String {
    sha256(b)[7..].to_string()
}

pub fn blob_name(b: &[u8]) -> String {
    format!("blobs/sha256/{}", hex_of(b))
}

pub fn desc(media_type: &str, b: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": sha256(b), "size": b.len()})
}

pub fn to_vec(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// A small valid single-platform OCI image: layer, config, manifest, image index.
pub struct Image {
    pub layer: Vec<u8>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
    pub index: Vec<u8>,
}

impl Image {
    pub fn new() -> Image {
        let layer = b"pretend this is a layer tarball\n".repeat(8);
        let config = to_vec(&json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]},
        }));
        Image::with(layer, config)
    }

    /// An image over the given layer and config bytes.
    pub fn with(layer: Vec<u8>, config: Vec<u8>) -> Image {
        let manifest = to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, &config),
            "layers": [desc(OCI_LAYER, &layer)],
        }));
        let index = index_of(&manifest);
        Image {
            layer,
            config,
            manifest,
            index,
        }
    }

    /// The `index.json` root naming the image index.
    pub fn root(&self) -> Value {
        let mut r = desc(OCI_INDEX, &self.index);
        r["annotations"] = json!({"org.opencontainers.image.ref.name": "hostile.example/img:1"});
        r
    }

    pub fn blobs(&self) -> Vec<M> {
        [&self.layer, &self.config, &self.manifest, &self.index]
            .into_iter()
            .map(|b| file(&blob_name(b), b.clone()))
            .collect()
    }

    /// The whole archive with `manifest` and `index` (altered copies) in place of the image's
    /// own, `index` the root.
    pub fn members_with(&self, manifest: &[u8], index: &[u8]) -> Vec<M> {
        let mut v = layout_head(&[desc(OCI_INDEX, index)]);
        for b in [&self.layer[..], &self.config, manifest, index] {
            v.push(file(&blob_name(b), b.to_vec()));
        }
        v
    }

    /// The whole OCI archive: `oci-layout`, `index.json` and the blobs.
    pub fn members(&self) -> Vec<M> {
        let mut v = layout_head(&[self.root()]);
        v.extend(self.blobs());
        v
    }
}

/// An image index listing `manifest` for linux/amd64.
pub fn index_of(manifest: &[u8]) -> Vec<u8> {
    let mut md = desc(OCI_MANIFEST, manifest);
    md["platform"] = json!({"architecture": "amd64", "os": "linux"});
    to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [md]}))
}

/// `n` copies of the root `root`, named `t0`, `t1`, ...
pub fn named_roots(root: &Value, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let mut r = root.clone();
            r["annotations"] = json!({"org.opencontainers.image.ref.name": format!("t{i}")});
            r
        })
        .collect()
}

/// `oci-layout` and an `index.json` with these roots.
pub fn layout_head(roots: &[Value]) -> Vec<M> {
    vec![
        file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
        file(
            "index.json",
            to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": roots})),
        ),
    ]
}

/// A legacy `docker save` archive (Docker ≤ 24) whose single image lists `layer_path`; the
/// member at `layer_path` is left to the caller (a file, or a link).
pub fn legacy_members(config_path: &str, layer_path: &str) -> (Vec<M>, Vec<u8>) {
    let layer = b"legacy layer bytes\n".repeat(4);
    let config = to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]},
    }));
    let manifest = to_vec(&json!([{
        "Config": config_path, "RepoTags": ["hostile.example/legacy:1"], "Layers": [layer_path],
    }]));
    let members = vec![
        file("manifest.json", manifest),
        file(
            "repositories",
            to_vec(&json!({"hostile.example/legacy": {"1": "abc"}})),
        ),
        file(&format!("{}.json", hex_of(&config)), config.clone()),
        file(&format!("{}.tar", hex_of(&layer)), layer.clone()),
        M::Dir("abc/".into()),
        file("abc/VERSION", &b"1.0"[..]),
        file("abc/json", &b"{}"[..]),
    ];
    (members, config)
}

/// A legacy archive whose config is `<hex>.json` and whose layer path is `abc/layer.tar`.
pub fn legacy(extra: Vec<M>) -> Vec<M> {
    let (mut ms, config) = legacy_members("", "abc/layer.tar");
    // Point Config at the real config file.
    ms[0] = file(
        "manifest.json",
        to_vec(&json!([{
            "Config": format!("{}.json", hex_of(&config)),
            "RepoTags": ["hostile.example/legacy:1"], "Layers": ["abc/layer.tar"],
        }])),
    );
    ms.extend(extra);
    ms
}

pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

pub fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 3).unwrap()
}
