//! `ocislim ls` and `ocislim verify` on fixtures made by real tools (buildah, ctr, docker 20.10,
//! skopeo; see testdata/FIXTURES.md) and on generated shapes no tool here writes.

mod common;
use common::*;
use ocislim_testgen::{self as testgen, ArchiveSpec, ImageSpec, LayerSpec, PlatformSpec, Shape};
use serde_json::Value;

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

const DEMO: [(&str, &str); 3] = [
    ("linux/amd64", "present"),
    ("linux/arm64/v8", "present"),
    ("linux/arm/v7", "present"),
];

#[test]
fn buildah_oci_index() {
    let j = ls_json(&testdata("oci-index.tar"));
    assert_eq!(j["archive"]["format"], "oci");
    assert_eq!(j["archive"]["compression"], "none");
    assert_eq!(j["images"][0]["name"], "example.com/demo:1.0");
    assert_eq!(
        j["images"][0]["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(platforms(&j), vec![pairs(&DEMO)]);
    insta::assert_json_snapshot!("oci-index", j);
}

#[test]
fn compressed_inputs_are_detected_by_magic_bytes() {
    let plain = ls_json(&testdata("oci-index.tar"));
    for (f, c) in [
        ("oci-index.tar.gz", "gzip"),
        ("compressed-misnamed.tar", "gzip"),
    ] {
        let j = ls_json(&testdata(f));
        assert_eq!(j["archive"]["compression"], c, "{f}");
        assert_eq!(j["images"], plain["images"], "{f}");
    }
    let j = ls_json(&testdata("ctr-shallow.tar.zst"));
    assert_eq!(j["archive"]["compression"], "zstd");
    assert_eq!(j["images"], ls_json(&testdata("ctr-shallow.tar"))["images"]);
}

#[test]
fn stdin_input() {
    let data = std::fs::read(testdata("oci-index.tar.gz")).unwrap();
    let out = bin()
        .args(["ls", "-", "--format", "json"])
        .write_stdin(data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["images"], ls_json(&testdata("oci-index.tar"))["images"]);
}

/// A FIFO (what `<(…)` hands over) is read like standard input, compressed or not, by `ls`,
/// `verify` and `filter`: no "Illegal seek".
#[test]
fn fifo_input() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("in.fifo");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    let fifo_s = fifo.to_str().unwrap().to_string();
    for (fixture, args) in [
        ("oci-index.tar", vec!["ls", "--format", "json"]),
        ("oci-index.tar.gz", vec!["ls", "--format", "json"]),
        ("oci-index.tar.gz", vec!["verify"]),
        (
            "oci-index.tar",
            vec!["filter", "-o", "OUT", "--platform", "linux/amd64"],
        ),
    ] {
        let data = std::fs::read(testdata(fixture)).unwrap();
        let f = fifo.clone();
        // The writer blocks until ocislim opens the FIFO.
        let writer = std::thread::spawn(move || std::fs::write(f, data));
        let out = d.path().join("out.tar");
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if *a == "OUT" {
                    out.to_str().unwrap().to_string()
                } else {
                    a.to_string()
                }
            })
            .collect();
        let o = bin()
            .arg(&args[0])
            .arg(&fifo_s)
            .args(&args[1..])
            .output()
            .unwrap();
        if !writer.is_finished() {
            // ocislim never opened it (a failure reported below): unblock the writer.
            let _ = std::io::copy(
                &mut std::fs::File::open(&fifo).unwrap(),
                &mut std::io::sink(),
            );
        }
        let _ = writer.join();
        assert!(
            o.status.success(),
            "{fixture} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        match args[0].as_str() {
            "ls" => {
                let j: Value = serde_json::from_slice(&o.stdout).unwrap();
                assert_eq!(j["images"], ls_json(&testdata("oci-index.tar"))["images"]);
            }
            "filter" => assert_eq!(
                platforms(&ls_json(out.to_str().unwrap())),
                vec![vec![("linux/amd64".to_string(), "present".to_string())]]
            ),
            _ => assert!(String::from_utf8_lossy(&o.stdout).contains("verified")),
        }
    }
}

#[test]
fn docker_manifest_list() {
    let j = ls_json(&testdata("docker-list.tar"));
    assert_eq!(
        j["images"][0]["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    assert_eq!(
        platforms(&j),
        vec![pairs(&[
            ("linux/amd64", "present"),
            ("linux/s390x", "present")
        ])]
    );
    insta::assert_json_snapshot!("docker-list", j);
}

#[test]
fn ctr_export_full_and_shallow() {
    let full = ls_json(&testdata("ctr-full.tar"));
    assert_eq!(
        full["images"][0]["name"], "example.com/demo:1.0",
        "containerd name wins"
    );
    assert_eq!(platforms(&full), vec![pairs(&DEMO)]);
    let shallow = ls_json(&testdata("ctr-shallow.tar"));
    assert_eq!(
        platforms(&shallow),
        vec![pairs(&[
            ("linux/amd64", "missing"),
            ("linux/arm64/v8", "present"),
            ("linux/arm/v7", "missing"),
        ])]
    );
    let p = &shallow["images"][0]["platforms"];
    assert_eq!(p[0]["size"]["total"], Value::Null);
    assert_eq!(p[1]["size"]["present"], p[1]["size"]["total"]);
    // Same root digest: ctr export keeps the index bytes.
    assert_eq!(full["images"][0]["digest"], shallow["images"][0]["digest"]);
    insta::assert_json_snapshot!("ctr-shallow", shallow);
}

#[test]
fn legacy_docker_save_and_skopeo() {
    let j = ls_json(&testdata("docker-legacy.tar"));
    assert_eq!(j["archive"]["format"], "docker-legacy");
    assert_eq!(
        image_names(&j),
        ["example.com/demo:1.0-amd64", "example.com/demo:1.0-arm64"]
    );
    assert_eq!(
        platforms(&j),
        vec![
            pairs(&[("linux/amd64", "present")]),
            pairs(&[("linux/arm64/v8", "present")])
        ]
    );
    // A legacy image's platform digest is its image ID, the digest of its config.
    let s = ls_json(&testdata("skopeo-docker-archive.tar"));
    assert_eq!(s["archive"]["format"], "docker-legacy");
    assert_eq!(
        s["images"][0]["platforms"][0]["digest"],
        j["images"][1]["platforms"][0]["digest"]
    );
    insta::assert_json_snapshot!("docker-legacy", j);
}

#[test]
fn oci_layout_directory() {
    let j = ls_json(&testdata("oci-layout-dir"));
    assert_eq!(
        platforms(&j),
        vec![pairs(&[
            ("linux/amd64", "present"),
            ("linux/s390x", "present")
        ])]
    );
}

#[test]
fn tree_and_table_views() {
    let out = bin()
        .args(["ls", &testdata("ctr-shallow.tar")])
        .output()
        .unwrap();
    assert!(out.status.success());
    let tree = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!("ctr-shallow-tree", tree);
    assert!(tree.contains("1/3"));
    assert!(tree.contains("MISSING"));
    let out = bin()
        .args([
            "ls",
            &testdata("oci-index.tar"),
            "--format",
            "table",
            "--no-trunc",
        ])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("sha256:"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");
}

#[test]
fn ls_platform_filter() {
    let out = bin()
        .args([
            "ls",
            &testdata("oci-index.tar"),
            "--format",
            "json",
            "--platform",
            "linux/arm64",
        ])
        .output()
        .unwrap();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(platforms(&j), vec![pairs(&[("linux/arm64/v8", "present")])]);
    let out = bin()
        .args(["ls", &testdata("oci-index.tar"), "--platform", "linux/*"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn verify_exit_codes() {
    for f in [
        "oci-index.tar",
        "docker-list.tar",
        "ctr-full.tar",
        "docker-legacy.tar",
        "skopeo-docker-archive.tar",
        "oci-index.tar.gz",
        "oci-layout-dir",
    ] {
        let out = bin().args(["verify", &testdata(f)]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{f}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let out = bin()
        .args(["verify", &testdata("ctr-shallow.tar"), "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = j["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2);
    assert!(problems.iter().all(|p| p["severity"] == "missing"));
}

/// A blob that hashes wrong is listed before the blobs missing from a shallow archive: the
/// hashes are reported first, then the descriptors, however the checks are ordered inside.
#[test]
fn verify_lists_corrupt_blobs_before_missing_ones() {
    let mut bytes = std::fs::read(testdata("ctr-shallow.tar")).unwrap();
    // The largest blob is a layer, not a document the graph must parse.
    let mut largest = (0, 0);
    for e in tar::Archive::new(&bytes[..]).entries().unwrap() {
        let e = e.unwrap();
        let blob = e.path().unwrap().starts_with("blobs");
        if blob && e.size() > largest.1 {
            largest = (e.raw_file_position() as usize, e.size());
        }
    }
    bytes[largest.0] ^= 0xff;
    let dir = tmp();
    let p = dir.path().join("bad.tar");
    std::fs::write(&p, &bytes).unwrap();
    let out = bin()
        .args(["verify", p.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let severities: Vec<&str> = j["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities, ["corrupt", "missing", "missing"]);
    let first = j["problems"][0]["message"].as_str().unwrap();
    assert!(first.contains("digest mismatch"), "{first}");
}

fn gen(spec: &ArchiveSpec) -> (tempfile::TempDir, String) {
    let dir = tmp();
    let p = dir.path().join("gen.tar");
    testgen::write_archive(spec, std::fs::File::create(&p).unwrap()).unwrap();
    let s = p.to_string_lossy().into_owned();
    (dir, s)
}

fn l(seed: u64) -> Vec<LayerSpec> {
    vec![
        LayerSpec { size: 3000, seed },
        LayerSpec {
            size: 1000,
            seed: 99,
        },
    ]
}

/// Docker's containerd store: containerd names, attestations, one platform missing.
#[test]
fn containerd_store_with_attestations_and_missing_platform() {
    let mut arm = PlatformSpec::new("linux/arm64/v8", l(2));
    arm.missing = true;
    arm.attestation = true;
    let mut amd = PlatformSpec::new("linux/amd64", l(1));
    amd.attestation = true;
    let spec = ArchiveSpec {
        images: vec![ImageSpec {
            name: Some("docker.io/library/demo:1".into()),
            shape: Shape::OciIndex,
            platforms: vec![amd, arm],
        }],
        docker_manifest: true,
        orphans: 0,
        containerd_names: true,
    };
    let (_d, p) = gen(&spec);
    let j = ls_json(&p);
    assert_eq!(j["archive"]["format"], "docker");
    assert_eq!(j["images"][0]["name"], "docker.io/library/demo:1");
    assert_eq!(
        platforms(&j),
        vec![pairs(&[
            ("linux/amd64", "present"),
            ("linux/arm64/v8", "missing")
        ])],
        "attestations are folded into their platform"
    );
    let ps = &j["images"][0]["platforms"];
    assert_eq!(ps[0]["attestations"][0]["status"], "present");
    assert_eq!(ps[1]["attestations"][0]["status"], "missing");
    let out = bin().args(["verify", &p]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Docker 25+ classic store: flat index.json (one manifest per tag, no platform field),
/// manifest.json, repositories, orphan blobs.
#[test]
fn docker25_classic_flat_with_orphans() {
    let mut p = PlatformSpec::new("linux/arm64/v8", l(3));
    p.no_descriptor_platform = true;
    let spec = ArchiveSpec {
        images: vec![
            ImageSpec {
                name: Some("docker.io/library/demo:1".into()),
                shape: Shape::Flat,
                platforms: vec![p.clone()],
            },
            ImageSpec {
                name: Some("docker.io/library/demo:latest".into()),
                shape: Shape::Flat,
                platforms: vec![p],
            },
        ],
        docker_manifest: true,
        orphans: 3,
        containerd_names: true,
    };
    let (_d, path) = gen(&spec);
    let j = ls_json(&path);
    assert_eq!(
        j["images"].as_array().unwrap().len(),
        2,
        "two tags are two images"
    );
    assert_eq!(j["images"][0]["digest"], j["images"][1]["digest"]);
    assert_eq!(
        platforms(&j),
        vec![
            pairs(&[("linux/arm64/v8", "present")]),
            pairs(&[("linux/arm64/v8", "present")])
        ],
        "platform from the config when the descriptor has none"
    );
    let out = bin().args(["verify", &path]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A flat multi-platform index.json, nested indexes, and OCI referrers.
#[test]
fn flat_multi_platform_nested_and_referrers() {
    let mut a = PlatformSpec::new("linux/amd64", l(4));
    a.referrer = true;
    let spec = ArchiveSpec {
        images: vec![
            ImageSpec {
                name: Some("example.com/flat:1".into()),
                shape: Shape::Flat,
                platforms: vec![a, PlatformSpec::new("linux/s390x", l(5))],
            },
            ImageSpec {
                name: Some("example.com/nested:1".into()),
                shape: Shape::Nested,
                platforms: vec![
                    PlatformSpec::new("windows/amd64", l(6)),
                    PlatformSpec::new("linux/arm/v7", l(7)),
                ],
            },
        ],
        ..Default::default()
    };
    let (_d, path) = gen(&spec);
    let j = ls_json(&path);
    let names: Vec<&str> = j["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "example.com/flat:1",
            "example.com/flat:1",
            "example.com/nested:1"
        ]
    );
    // The referrer sits at the top level of a flat index, so it is listed as a root...
    // ...but linked to its subject rather than shown as an image of its own.
    let p = platforms(&j);
    assert_eq!(p[0], pairs(&[("linux/amd64", "present")]));
    assert_eq!(
        p[2],
        pairs(&[("windows/amd64", "present"), ("linux/arm/v7", "present")])
    );
    assert_eq!(
        j["images"][0]["platforms"][0]["attestations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_spool_of_ls_unpacked_is_deleted_when_it_ends() {
    // Unpacked sizes read the layers, so a compressed input is spooled to $TMPDIR; `ls` leaves
    // its tables to the kernel at exit, never the spool.
    let spool = tmp();
    let out = bin()
        .args(["ls", "--unpacked", "--format", "json"])
        .arg(testdata("oci-index.tar.gz"))
        .env("TMPDIR", spool.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        j["images"][0]["platforms"][0]["size"]["unpacked"].as_u64() > Some(0),
        "{j}"
    );
    assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0);
}

#[test]
fn compressed_input_is_streamed_not_spooled_for_ls_and_verify() {
    let spool = tmp();
    for args in [vec!["ls", "--format", "json"], vec!["verify"]] {
        let mut cmd = bin();
        cmd.args(&args)
            .arg(testdata("oci-index.tar.gz"))
            .env("TMPDIR", spool.path());
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read_dir(spool.path()).unwrap().count(),
            0,
            "nothing written to $TMPDIR"
        );
    }
    // verify still hashes every blob of a streamed archive: a flipped byte inside a gzip'd
    // layer is found.
    let d = tmp();
    let mut files = read_tar(std::path::Path::new(&testdata("oci-index.tar")));
    let victim = files
        .keys()
        .find(|k| k.starts_with("blobs/") && files[*k].len() > 10_000)
        .unwrap()
        .clone();
    files.get_mut(&victim).unwrap()[5000] ^= 1;
    let p = d.path().join("bad.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&p).unwrap(),
        flate2::Compression::fast(),
    );
    let mut b = tar::Builder::new(gz);
    for (n, data) in &files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, n, &data[..]).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
    let out = bin()
        .args(["verify", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("digest mismatch"));
}

/// `ls --unpacked`: each platform's layers decompressed and counted, checked against an
/// independent reading (tar + flate2 + zstd) of the same archive.
#[test]
fn unpacked_sizes_are_the_layers_decompressed() {
    use std::io::Read;
    for fixture in ["oci-index.tar", "ctr-full.tar", "docker-list.tar"] {
        let files = read_tar(std::path::Path::new(&testdata(fixture)));
        let blob = |d: &str| &files[&format!("blobs/sha256/{}", &d["sha256:".len()..])];
        let out = bin()
            .args(["ls", &testdata(fixture), "--format", "json", "--unpacked"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        for p in j["images"][0]["platforms"].as_array().unwrap() {
            let m: Value = serde_json::from_slice(blob(p["digest"].as_str().unwrap())).unwrap();
            let want: u64 = m["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    let b = blob(l["digest"].as_str().unwrap());
                    let mut v = Vec::new();
                    let n = match b[..4] {
                        [0x1f, 0x8b, _, _] => flate2::read::MultiGzDecoder::new(&b[..])
                            .read_to_end(&mut v)
                            .unwrap(),
                        [0x28, 0xb5, 0x2f, 0xfd] => zstd::stream::read::Decoder::new(&b[..])
                            .unwrap()
                            .read_to_end(&mut v)
                            .unwrap(),
                        _ => b.len(),
                    };
                    n as u64
                })
                .sum();
            assert_eq!(p["size"]["unpacked"], want, "{fixture} {}", p["platform"]);
        }
    }
    let out = bin()
        .args(["ls", &testdata("oci-index.tar"), "--unpacked"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .ends_with("UNPACKED"));
}

/// `ls --image` shows only the matching images; a pattern that matches none is exit 3.
#[test]
fn ls_image_shows_only_matching_images() {
    let out = bin()
        .args([
            "ls",
            &testdata("docker-legacy.tar"),
            "--format",
            "json",
            "--image",
            "*arm64",
        ])
        .output()
        .unwrap();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(image_names(&j), ["example.com/demo:1.0-arm64"]);
    let out = bin()
        .args(["ls", &testdata("docker-legacy.tar"), "--image", "nothing*"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}
