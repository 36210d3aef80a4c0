//! Members: duplicates, unknown media types, directories and files where documents or folders
//! should be.

use crate::build::*;
use crate::common::listing;
use crate::run::*;
use ocislim_testgen::noise;
use serde_json::{json, Value};

#[test]
fn duplicate_members() {
    let img = Image::new();
    let cases: Vec<(Vec<M>, String)> = vec![
        (
            {
                let mut ms = img.members();
                ms.push(file("index.json", &b"{\"manifests\": []}"[..]));
                ms
            },
            "duplicate member index.json".into(),
        ),
        (
            {
                let mut ms = img.members();
                ms.push(file(&blob_name(&img.layer), img.layer.clone()));
                ms
            },
            format!("duplicate member {}", blob_name(&img.layer)),
        ),
        (
            {
                let mut ms = img.members();
                ms.push(M::RawFile(
                    format!("./{}", blob_name(&img.layer)),
                    b"evil".to_vec(),
                ));
                ms
            },
            format!("duplicate member ./{}", blob_name(&img.layer)),
        ),
        (
            {
                let mut ms = img.members();
                ms.push(M::Symlink("index.json".into(), "oci-layout".into()));
                ms
            },
            "duplicate member index.json".into(),
        ),
        (
            {
                let mut ms = img.members();
                ms.push(M::Dir("oci-layout/".into()));
                ms
            },
            "duplicate member oci-layout".into(),
        ),
    ];
    for (ms, needle) in cases {
        let c = Case::of(&ms);
        all_fail(c.p(), &needle);
    }
    // The same folder twice is harmless.
    let mut ms = vec![M::Dir("blobs/".into()), M::Dir("blobs/".into())];
    ms.extend(img.members());
    let c = Case::of(&ms);
    run(&["ls", c.p()]).ok();
}

/// Unknown media types are opaque: listed as `unknown`, verified, and kept by `filter` (also
/// when filtering by platform: a platform that cannot be known is kept, docs/formats.md "Filtering").
#[test]
fn unknown_media_types_are_kept_as_opaque_blobs() {
    let img = Image::new();
    let opaque = noise(11, 3000);
    let json_thing = to_vec(&json!({"hello": "world", "manifests": "not an array"}));
    let mut weird_layer_manifest = serde_json::from_slice::<Value>(&img.manifest).unwrap();
    weird_layer_manifest["layers"][0]["mediaType"] = json!("application/x-made-up");
    let wlm = to_vec(&weird_layer_manifest);
    let mut wlm_desc = desc(OCI_MANIFEST, &wlm);
    wlm_desc["platform"] = json!({"architecture": "arm64", "os": "linux"});
    let index = to_vec(
        &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            wlm_desc,
            desc("application/vnd.example.thing.v1+json", &json_thing),
            desc("application/vnd.example.blob", &opaque),
        ]}),
    );
    let mut ms = layout_head(&[
        img.root(),
        desc("application/vnd.example.opaque", &opaque),
        desc("application/vnd.example.manifest.v1+json", &json_thing),
        desc(OCI_INDEX, &index),
    ]);
    ms.extend(img.blobs());
    for b in [&opaque, &json_thing, &wlm, &index] {
        ms.push(file(&blob_name(b), b.clone()));
    }
    let c = Case::of(&ms);
    let r = run(&["ls", c.p()]);
    r.ok();
    assert!(r.stdout.contains("unknown"), "{}", r.describe());
    run(&["verify", c.p()]).ok();
    for extra in [&[][..], &["--platform", "linux/amd64"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o.tar");
        let mut args = vec!["filter", c.p(), "-o", out.to_str().unwrap(), "-q"];
        args.extend_from_slice(extra);
        run(&args).ok();
        let files = crate::common::read_tar(&out);
        for b in [&opaque, &json_thing] {
            assert!(files.contains_key(&blob_name(b)), "opaque blob kept");
        }
        run(&["verify", out.to_str().unwrap()]).ok();
    }
}

/// A directory where `index.json` should be (in a tar and in a layout directory).
#[test]
fn directory_where_index_json_should_be() {
    let img = Image::new();
    let mut ms = vec![
        file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
        M::Dir("index.json/".into()),
        file("index.json/manifests", &b"[]"[..]),
    ];
    ms.extend(img.blobs());
    let c = Case::of(&ms);
    all_fail(c.p(), "index.json");

    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::create_dir(d.path().join("index.json")).unwrap();
    all_fail(d.path().to_str().unwrap(), "index.json");

    // manifest.json as a directory in a legacy archive.
    let c = Case::of(&[M::Dir("manifest.json/".into())]);
    all_fail(c.p(), "manifest.json");
}

/// Harmless: a regular file where the `blobs/sha256/` folder should be hides every blob; the
/// archive reads as shallow (verify exit 5), never as a path.
#[test]
fn file_where_blobs_folder_should_be() {
    let img = Image::new();
    let mut ms = layout_head(&[img.root()]);
    ms.push(file("blobs/sha256", &b"not a folder"[..]));
    let c = Case::of(&ms);
    run(&["ls", c.p()]).ok();
    assert_eq!(run(&["verify", c.p()]).code, Some(5));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.tar");
    let r = run(&["filter", c.p(), "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, Some(4), "{}", r.describe());
    assert!(listing(dir.path()).is_empty());
}
