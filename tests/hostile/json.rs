//! JSON documents: invalid, huge, too many values, nested too deeply.

use crate::build::*;
use crate::run::*;
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

#[test]
fn invalid_json_documents() {
    let img = Image::new();
    for bad in [
        &b"{not json"[..],
        b"",
        b"[]",
        b"null",
        b"\"index\"",
        b"{\"manifests\": 5}",
        b"{\"manifests\": [{\"digest\": 5}]}",
        b"{\"manifests\": [{\"mediaType\": \"x\", \"size\": -1, \"digest\": \"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}]}",
        b"{\"manifests\": [{\"mediaType\": \"x\", \"size\": 1e400, \"digest\": \"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}]}",
        b"\xff\xfe{}",
        b"{\"manifests\": []} trailing",
    ] {
        let mut ms = img.blobs();
        ms.insert(0, file("index.json", bad));
        ms.insert(0, file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]));
        let c = Case::of(&ms);
        all_fail(c.p(), "index.json");
    }
    // An invalid manifest blob (named by its real digest).
    let manifest = b"{\"config\": ".to_vec();
    let mut md = desc(OCI_MANIFEST, &manifest);
    md["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let mut ms = layout_head(&[md]);
    ms.push(file(&blob_name(&manifest), manifest.clone()));
    let c = Case::of(&ms);
    all_fail(c.p(), &blob_name(&manifest));
    // oci-layout, manifest.json, repositories.
    for (member, bad) in [
        ("oci-layout", &b"{"[..]),
        ("oci-layout", b"[]"),
        ("manifest.json", b"{\"Config\": 1}"),
        ("manifest.json", b"[{\"Layers\": []}]"),
        ("repositories", b"{{"),
    ] {
        let mut ms: Vec<M> = img
            .members()
            .into_iter()
            .filter(|m| !matches!(m, M::File(n, _) if n == member))
            .collect();
        ms.push(file(member, bad));
        let c = Case::of(&ms);
        all_fail(c.p(), member);
    }
    // A legacy config that is not JSON.
    let (mut ms, cfg) = legacy_members("", "abc/layer.tar");
    let cfg_name = format!("{}.json", hex_of(&cfg));
    ms[0] = file(
        "manifest.json",
        to_vec(&json!([{"Config": cfg_name, "RepoTags": ["x/y:1"], "Layers": []}])),
    );
    ms[2] = file(&cfg_name, &b"{\"os\": "[..]);
    let c = Case::of(&ms);
    all_fail(c.p(), &cfg_name);
}

/// A member of `size` bytes whose content is never written: the tar is made sparse, so a
/// 200 MB document costs nothing to create.
fn sparse_tar(head: &[M], big_name: &str, size: u64, tail: &[M]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.tar");
    let mut bytes = tar_bytes(head);
    bytes.truncate(bytes.len() - 1024); // drop the trailer
    bytes.extend_from_slice(&raw_header(big_name, size, b'0', ""));
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&bytes).unwrap();
    let content_end = bytes.len() as u64 + size.div_ceil(512) * 512;
    f.set_len(content_end).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&tar_bytes(tail)).unwrap();
    dir
}

#[test]
fn huge_json_documents() {
    let started = Instant::now();
    let img = Image::new();
    const HUGE: u64 = 200 << 20;
    // index.json
    let head = vec![file(
        "oci-layout",
        &br#"{"imageLayoutVersion":"1.0.0"}"#[..],
    )];
    let d = sparse_tar(&head, "index.json", HUGE, &img.blobs());
    let p = d.path().join("in.tar");
    all_fail(p.to_str().unwrap(), "index.json: document too large");
    // A manifest blob (its name need not match: it is refused before it is hashed).
    let name = blob_name(b"huge manifest");
    let mut md = desc(OCI_MANIFEST, b"huge manifest");
    md["size"] = json!(HUGE);
    let d = sparse_tar(&layout_head(&[md]), &name, HUGE, &[]);
    let p = d.path().join("in.tar");
    all_fail(p.to_str().unwrap(), &format!("{name}: document too large"));
    // manifest.json of a legacy archive.
    let d = sparse_tar(&[], "manifest.json", HUGE, &[]);
    let p = d.path().join("in.tar");
    all_fail(p.to_str().unwrap(), "manifest.json: document too large");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

/// A document of millions of tiny values would cost 16 times its size once parsed: refused
/// (index.json, a manifest blob, a legacy manifest.json), with the member named.
#[test]
fn json_of_too_many_values() {
    let tiny = |prefix: &str| format!("{prefix}[{}0]}}", "0,".repeat(3 << 20)).into_bytes();
    let index = tiny(r#"{"schemaVersion":2,"manifests":[],"x":"#);
    let c = Case::of(&[
        file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
        file("index.json", index),
    ]);
    all_fail(c.p(), "index.json: document too complex");
    let manifest = tiny(r#"{"schemaVersion":2,"x":"#);
    let name = blob_name(&manifest);
    let c = Case::of(
        &[
            layout_head(&[desc(OCI_MANIFEST, &manifest)]),
            vec![file(&name, manifest.clone())],
        ]
        .concat(),
    );
    all_fail(c.p(), &format!("{name}: document too complex"));
    let entry = r#"{"Config":"c","RepoTags":[],"Layers":[]},"#.repeat(1 << 19);
    let c = Case::of(&[file("manifest.json", format!("[{entry}{{}}]"))]);
    all_fail(c.p(), "manifest.json: document too complex");
}

#[test]
fn deeply_nested_json() {
    let img = Image::new();
    let arrays = "[".repeat(100_000).into_bytes();
    let objects = "{\"a\":".repeat(100_000).into_bytes();
    for deep in [&arrays, &objects] {
        // index.json
        let mut ms = vec![
            file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
            file("index.json", deep.clone()),
        ];
        ms.extend(img.blobs());
        let c = Case::of(&ms);
        all_fail(c.p(), "index.json");
        // Deep inside a valid-looking index.json.
        let mut inner = b"{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"x\":".to_vec();
        inner.extend_from_slice(deep);
        let mut ms = vec![
            file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
            file("index.json", inner),
        ];
        ms.extend(img.blobs());
        let c = Case::of(&ms);
        all_fail(c.p(), "index.json");
        // A manifest blob.
        let mut md = desc(OCI_MANIFEST, deep);
        md["platform"] = json!({"architecture": "amd64", "os": "linux"});
        let mut ms = layout_head(&[md]);
        ms.push(file(&blob_name(deep), deep.clone()));
        let c = Case::of(&ms);
        all_fail(c.p(), &blob_name(deep));
        // manifest.json and a legacy config.
        let c = Case::of(&[file("manifest.json", deep.clone())]);
        all_fail(c.p(), "manifest.json");
        let (mut ms, cfg) = legacy_members("", "abc/layer.tar");
        let cfg_name = format!("{}.json", hex_of(&cfg));
        ms[0] = file(
            "manifest.json",
            to_vec(&json!([{"Config": cfg_name, "RepoTags": ["x/y:1"], "Layers": []}])),
        );
        ms[2] = file(&cfg_name, deep.clone());
        let c = Case::of(&ms);
        all_fail(c.p(), &cfg_name);
    }
}
