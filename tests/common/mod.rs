//! Helpers shared by the integration tests: running the binary, and an independent checker of
//! output archives that does not use ocislim's own reader (tar crate + serde_json + sha2 only).

#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

pub fn bin() -> Command {
    Command::cargo_bin("ocislim").expect("binary built")
}

pub fn testdata(name: &str) -> String {
    format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Run `ocislim ls --format json` and parse it.
pub fn ls_json(archive: &str) -> Value {
    let out = bin()
        .args(["ls", archive, "--format", "json"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "ls failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// The `name` of every image of an `ls` JSON document, in order.
pub fn image_names(ls: &Value) -> Vec<String> {
    ls["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap_or("<none>").to_string())
        .collect()
}

/// (platform, status) pairs of every image, in order.
pub fn platforms(ls: &Value) -> Vec<Vec<(String, String)>> {
    ls["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["platforms"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["platform"].as_str().unwrap().to_string(),
                        p["status"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .collect()
}

/// Read every regular file of a (possibly compressed) tar into memory, resolving symlinks.
pub fn read_tar(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut raw = Vec::new();
    std::fs::File::open(path)
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    let data = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut v = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut v)
            .unwrap();
        v
    } else if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        zstd::decode_all(&raw[..]).unwrap()
    } else {
        raw
    };
    let mut files = BTreeMap::new();
    let mut links = Vec::new();
    let mut a = tar::Archive::new(&data[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let t = e.header().entry_type();
        if t.is_file() {
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            files.insert(name, v);
        } else if t.is_symlink() {
            let target = e
                .link_name()
                .unwrap()
                .unwrap()
                .to_string_lossy()
                .to_string();
            links.push((name, target));
        }
    }
    for (name, target) in links {
        let dir = name.rsplit_once('/').map_or("", |x| x.0);
        let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        for c in target.split('/') {
            match c {
                ".." => {
                    parts.pop();
                }
                "." | "" => {}
                c => parts.push(c),
            }
        }
        if let Some(v) = files.get(&parts.join("/")).cloned() {
            files.insert(name, v);
        }
    }
    files
}

pub fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

fn blob_name(d: &str) -> String {
    let (alg, hex) = d.split_once(':').unwrap();
    format!("blobs/{alg}/{hex}")
}

/// Independent check of an OCI output: every blob hashes to its name; the set of blobs is
/// exactly the set reachable from index.json (indexes, manifests, configs, layers present);
/// manifest.json (if any) points at files that exist and match a manifest. Returns the
/// digests of the platform manifests reachable (non-index children).
pub fn check_oci_output(path: &Path, allow_missing: bool) -> BTreeSet<String> {
    let files = read_tar(path);
    let blobs: BTreeSet<String> = files
        .keys()
        .filter(|k| k.starts_with("blobs/"))
        .cloned()
        .collect();
    for b in &blobs {
        let hex = b.rsplit('/').next().unwrap();
        assert_eq!(
            sha256(&files[b]),
            format!("sha256:{hex}"),
            "blob {b} digest"
        );
    }
    let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
    let mut reachable = BTreeSet::new();
    let mut manifests = BTreeSet::new();
    let mut stack: Vec<Value> = index["manifests"].as_array().unwrap().clone();
    while let Some(d) = stack.pop() {
        let digest = d["digest"].as_str().unwrap().to_string();
        let name = blob_name(&digest);
        let Some(bytes) = files.get(&name) else {
            assert!(allow_missing, "referenced blob {name} missing");
            continue;
        };
        assert_eq!(
            bytes.len() as u64,
            d["size"].as_u64().unwrap(),
            "size of {name}"
        );
        reachable.insert(name.clone());
        let mt = d["mediaType"].as_str().unwrap_or("");
        let doc: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        if mt.contains("index") || mt.contains("manifest.list") {
            stack.extend(doc["manifests"].as_array().cloned().unwrap_or_default());
        } else {
            manifests.insert(digest.clone());
            let mut children = vec![doc["config"].clone()];
            children.extend(doc["layers"].as_array().cloned().unwrap_or_default());
            for c in children {
                let n = blob_name(c["digest"].as_str().unwrap());
                if files.contains_key(&n) {
                    reachable.insert(n);
                } else {
                    assert!(allow_missing, "referenced blob {n} missing");
                }
            }
        }
    }
    assert_eq!(blobs, reachable, "blob set must equal the reachable set");
    if let Some(mj) = files.get("manifest.json") {
        let entries: Value = serde_json::from_slice(mj).unwrap();
        for e in entries.as_array().unwrap() {
            let cfg = e["Config"].as_str().unwrap();
            assert!(
                files.contains_key(cfg),
                "manifest.json Config {cfg} resolves"
            );
            for l in e["Layers"].as_array().unwrap() {
                assert!(
                    files.contains_key(l.as_str().unwrap()),
                    "manifest.json layer resolves"
                );
            }
        }
    }
    manifests
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn out_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

pub use ocislim_testgen::PLATFORMS;

/// A generated archive of one image, `example.com/app:1`, with the platforms `PLATFORMS[i]` for
/// each `i` given (the tests take the first four): each has a 3000-byte layer they all share
/// and a small one of its own, and the even-numbered ones an attestation. `docker` adds
/// Docker's manifest.json.
pub fn one_image(
    platforms: &[usize],
    shape: ocislim_testgen::Shape,
    docker: bool,
) -> ocislim_testgen::ArchiveSpec {
    use ocislim_testgen::{ArchiveSpec, ImageSpec, LayerSpec, PlatformSpec};
    let ps = platforms
        .iter()
        .map(|&i| {
            let own = LayerSpec {
                size: 500 + i as u64,
                seed: i as u64,
            };
            let shared = LayerSpec {
                size: 3000,
                seed: 7,
            };
            let mut p = PlatformSpec::new(PLATFORMS[i], vec![shared, own]);
            p.attestation = i % 2 == 0;
            p
        })
        .collect();
    ArchiveSpec {
        images: vec![ImageSpec {
            name: Some("example.com/app:1".into()),
            shape,
            platforms: ps,
        }],
        docker_manifest: docker,
        orphans: 1,
        containerd_names: docker,
    }
}

/// Writes to `path` an archive of one image, `name`, with two platforms whose layers are
/// `layer` bytes of noise each: big enough that a copy or a compressor has work to interrupt
/// or split into many pieces.
pub fn write_big_archive(path: &Path, name: &str, layer: u64) {
    use ocislim_testgen::{self as testgen, ArchiveSpec};
    let spec = ArchiveSpec {
        images: vec![testgen::multi_platform(name, 2, layer, false)],
        ..Default::default()
    };
    let file = std::fs::File::create(path).expect("create the archive");
    testgen::write_archive(&spec, std::io::BufWriter::new(file)).expect("write the archive");
}

/// The names in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Whether `b` is a whole tar: every member's bytes all there, then the zero blocks ending it.
pub fn whole_tar(b: &[u8]) -> bool {
    let mut a = tar::Archive::new(b);
    let Ok(entries) = a.entries() else {
        return false;
    };
    for e in entries {
        let Ok(mut e) = e else { return false };
        let size = e.header().size().unwrap_or(u64::MAX);
        let mut v = Vec::new();
        if std::io::Read::read_to_end(&mut e, &mut v).is_err() || v.len() as u64 != size {
            return false;
        }
    }
    b.len() >= 1024 && b[b.len() - 1024..].iter().all(|&x| x == 0)
}
