//! Shapes under the document cap that cost out of proportion (very wide indexes, many
//! artifacts, one index shared by many roots, large documents in compressed input): linear, or
//! refused past a bound.

use crate::build::*;
use crate::run::*;
use serde_json::{json, Value};
use std::io::Write;
use std::time::Instant;

/// Index documents just under the size cap with very many entries: linear, not quadratic.
#[test]
fn very_wide_indexes() {
    let n: usize = std::env::var("WIDE_N").map_or(30_000, |v| v.parse().unwrap());
    let entries: Vec<Value> = (0..n)
        .map(|i| {
            let d = format!("absent manifest {i}");
            let mut e = desc(OCI_MANIFEST, d.as_bytes());
            e["platform"] = json!({"architecture": format!("arch{i}"), "os": "linux"});
            e
        })
        .collect();
    let index = to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}));
    let img = Image::new();
    // One index with N entries, and index.json with N roots.
    let mut ms = layout_head(&[img.root(), desc(OCI_INDEX, &index)]);
    ms.extend(img.blobs());
    ms.push(file(&blob_name(&index), index.clone()));
    let wide_index = Case::of(&ms);
    let mut ms = vec![
        file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
        file("index.json", index.clone()),
    ];
    ms.extend(img.blobs());
    let wide_roots = Case::of(&ms);
    // index.json with N roots naming one present image (all kept by filter).
    let root = img.root();
    let mut ms = layout_head(&named_roots(&root, n));
    ms.extend(img.blobs());
    let many_names = Case::of(&ms);
    let started = Instant::now();
    run(&["ls", many_names.p()]).ok();
    eprintln!("many names ls: {:?}", started.elapsed());
    run(&["verify", many_names.p()]).ok();
    eprintln!("many names verify: {:?}", started.elapsed());
    filter_run(many_names.p(), &["--platform", "linux/amd64", "-q"]).ok();
    eprintln!("many names filter: {:?}", started.elapsed());
    filter_run(many_names.p(), &["--format", "docker", "-q"]).ok();
    eprintln!("many names: {:?}", started.elapsed());
    assert_linear_time(started);
    for c in [&wide_index, &wide_roots] {
        let started = Instant::now();
        run(&["ls", c.p(), "--format", "json"]).ok();
        eprintln!("ls {:?}", started.elapsed());
        assert_eq!(run(&["verify", c.p()]).code, Some(5));
        eprintln!("verify {:?}", started.elapsed());
        let r = filter_run(c.p(), &["--skip-missing"]);
        assert_ne!(r.code, Some(101), "{}", r.describe());
        let r = filter_run(c.p(), &["--platform", "linux/s390x"]);
        assert_eq!(r.code, Some(3), "{}", r.describe());
        eprintln!("{:?}: {:?}", c.p(), started.elapsed());
        assert_linear_time(started);
    }
}

/// Many attestations next to many manifests in one index: matched to their subject by lookup,
/// not by scanning every artifact for every manifest.
#[test]
fn very_many_attestations() {
    let n: usize = std::env::var("WIDE_N").map_or(10_000, |v| v.parse().unwrap());
    let mut entries = Vec::new();
    for i in 0..n {
        let mut e = desc(OCI_MANIFEST, format!("absent {i}").as_bytes());
        e["platform"] = json!({"architecture": format!("arch{i}"), "os": "linux"});
        let mut a = desc(OCI_MANIFEST, format!("attestation {i}").as_bytes());
        a["platform"] = json!({"architecture": "unknown", "os": "unknown"});
        a["annotations"] = json!({"vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": e["digest"].clone()});
        entries.push(e);
        entries.push(a);
    }
    let index = to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}));
    let mut ms = layout_head(&[desc(OCI_INDEX, &index)]);
    ms.push(file(&blob_name(&index), index.clone()));
    let c = Case::of(&ms);
    let started = Instant::now();
    let r = run(&["ls", c.p(), "--format", "json"]);
    r.ok();
    assert!(r.stdout.contains("attestation"));
    assert_eq!(run(&["verify", c.p()]).code, Some(5));
    let r = filter_run(c.p(), &["--skip-missing"]);
    assert_eq!(r.code, Some(3), "{}", r.describe());
    eprintln!("{:?}", started.elapsed());
    assert_linear_time(started);
}

/// Sharing as amplification: small documents that stand for n² platform rows — n roots naming
/// one index of n entries, or n roots naming one image plus n top-level referrers of its
/// manifest — are refused with a clear error (past a million rows) instead of running out of
/// time or memory. Below the bound, the same shapes are listed.
#[test]
fn shared_index_amplification() {
    let img = Image::new();
    let md = serde_json::from_slice::<Value>(&img.index).unwrap()["manifests"][0].clone();
    let shared_index = |n: usize| {
        let entries: Vec<Value> = (0..n)
            .map(|i| {
                let mut e = desc(OCI_MANIFEST, format!("absent {i}").as_bytes());
                e["platform"] = json!({"architecture": format!("arch{i}"), "os": "linux"});
                e
            })
            .collect();
        let index =
            to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}));
        let root = desc(OCI_INDEX, &index);
        let mut ms = layout_head(&named_roots(&root, n));
        ms.push(file(&blob_name(&index), index.clone()));
        Case::of(&ms)
    };
    let shared_referrers = |n: usize| {
        let mut roots = Vec::new();
        let root = img.root();
        for i in 0..n {
            let mut r = root.clone();
            r["annotations"] = json!({"org.opencontainers.image.ref.name": format!("t{i}")});
            roots.push(r);
            let mut s = desc(OCI_MANIFEST, format!("signature {i}").as_bytes());
            s["annotations"] = json!({"io.containerd.manifest.subject": md["digest"].clone()});
            roots.push(s);
        }
        let mut ms = layout_head(&roots);
        ms.extend(img.blobs());
        Case::of(&ms)
    };
    let started = Instant::now();
    for c in [shared_index(3000), shared_referrers(3000)] {
        all_fail(
            c.p(),
            "index.json: too complex: more than 1000000 platform manifests",
        );
    }
    eprintln!("refused in {:?}", started.elapsed());
    assert_linear_time(started);
    for c in [shared_index(100), shared_referrers(100)] {
        run(&["ls", c.p()]).ok();
    }
}

/// Compressed input is streamed by `ls` and `verify`, with documents kept in memory: a
/// document above the in-memory limit but within the documents' cap (a ~10 MB index) is read
/// like in an uncompressed archive (from a file; a pipe says to save it first), and a huge one
/// is refused as too large, never half-read.
#[test]
fn large_documents_in_compressed_archives() {
    // Few entries with long annotations: big, but cheap to parse in a debug build.
    let padding = "x".repeat(2500);
    let entries: Vec<Value> = (0..4_000)
        .map(|i| {
            let d = format!("absent manifest {i}");
            let mut e = desc(OCI_MANIFEST, d.as_bytes());
            e["platform"] = json!({"architecture": "amd64", "os": "linux"});
            e["annotations"] = json!({"org.example.padding": padding});
            e
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
    let index = to_vec(&index);
    assert!(index.len() > 8 << 20, "over stream::KEEP_MAX");
    let layout = file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]);
    let tar = tar_bytes(&[layout.clone(), file("index.json", index)]);
    for (name, bytes) in [
        ("in.tar", tar.clone()),
        ("in.tar.gz", gzip(&tar)),
        ("in.tar.zst", zstd(&tar)),
    ] {
        let c = Case::named(&bytes, name);
        run(&["ls", c.p(), "--format", "json"]).ok();
        let r = run(&["verify", c.p()]);
        assert_eq!(r.code, Some(5), "shallow\n{}", r.describe());
        if name != "in.tar" {
            run_with_stdin(&["ls", "-"], Some(&bytes)).fails("-", false);
        }
    }

    // An index.json over the 64 MB cap, zstd-compressed on the fly.
    const HUGE: u64 = 80 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.tar.zst");
    let mut z = zstd::Encoder::new(std::fs::File::create(&path).unwrap(), 1).unwrap();
    let head = tar_bytes(&[layout]);
    z.write_all(&head[..head.len() - 1024]).unwrap();
    z.write_all(&raw_header("index.json", HUGE, b'0', ""))
        .unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..HUGE >> 20 {
        z.write_all(&zeros).unwrap();
    }
    z.write_all(&[0u8; 1024]).unwrap();
    z.finish().unwrap();
    let p = path.to_str().unwrap();
    run(&["ls", p]).fails("index.json: document too large", false);
    run(&["verify", p]).fails("index.json: document too large", true);
}
