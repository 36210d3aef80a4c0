//! Blob content or size that does not match its descriptor.

use crate::build::*;
use crate::common::sha256;
use crate::run::*;
use serde_json::json;

/// Blobs whose content does not hash to their name: `verify` and `filter` fail (filter leaves
/// nothing, to a file, a compressed file, or stdout); `ls`, which hashes nothing, lists it.
#[test]
fn blob_content_not_matching_its_name() {
    let img = Image::new();
    for which in ["layer", "config", "manifest", "index"] {
        let mut ms = layout_head(&[img.root()]);
        let mut victim = String::new();
        for (n, b) in [
            ("layer", &img.layer),
            ("config", &img.config),
            ("manifest", &img.manifest),
            ("index", &img.index),
        ] {
            let mut data = b.clone();
            if n == which {
                // Same length, different bytes; the documents stay valid JSON with the same
                // meaning (`{"schemaVersion"` becomes `{"SchemaVersion"`, an unknown key).
                let i = if n == "layer" { 0 } else { 2 };
                data[i] = data[i].to_ascii_uppercase() ^ if n == "layer" { 1 } else { 0 };
                victim = sha256(b);
            }
            ms.push(file(&blob_name(b), data));
        }
        let c = Case::of(&ms);
        let needle = format!("blob {victim}: digest mismatch");
        // Documents are hashed before they are parsed, by every verb (`ls` included); a
        // layer or a config that no descriptor's platform needs is hashed when copied.
        let document = which == "manifest" || which == "index";
        match document {
            true => run(&["ls", c.p()]).fails(&needle, false),
            false => run(&["ls", c.p()]).ok(),
        }
        run(&["verify", c.p()]).fails(&victim, true);
        filter_fails(c.p(), &[], &needle);
        filter_fails(c.p(), &["--compress", "gzip"], &needle);
        filter_fails(c.p(), &["--keep-index"], &needle);
        // A dry run finds it too: its exit code is the real run's.
        run(&["filter", c.p(), "-o", "/nonexistent/x.tar", "--dry-run"]).fails(&needle, false);
        let unverified = run(&["filter", c.p(), "-o", "-", "--dry-run", "--no-verify"]);
        match document {
            true => unverified.fails(&needle, false),
            false => unverified.ok(),
        }
        // To stdout: the stream stops before the blob is whole and before the tar's end.
        let r = run(&["filter", c.p(), "-o", "-"]);
        r.fails(&needle, false);
        assert!(
            !r.stdout.ends_with(&"\0".repeat(1024)),
            "a whole tar streamed"
        );
    }
}

/// Descriptor sizes that do not match the blob (its content matching its digest).
#[test]
fn blob_size_not_matching_the_descriptor() {
    let img = Image::new();
    // The layer's size in the manifest.
    let wrong = (img.layer.len() + 1).to_string();
    let manifest = String::from_utf8(img.manifest.clone())
        .unwrap()
        .replace(
            &format!("\"size\":{}", img.layer.len()),
            &format!("\"size\":{wrong}"),
        )
        .into_bytes();
    assert_ne!(manifest, img.manifest);
    let c = Case::of(&img.members_with(&manifest, &index_of(&manifest)));
    let victim = sha256(&img.layer);
    run(&["ls", c.p()]).ok();
    run(&["verify", c.p()]).fails(&format!("blob {victim}: size mismatch"), true);
    filter_fails(c.p(), &[], &format!("blob {victim}: size mismatch"));

    // The root's size in index.json.
    let mut root = img.root();
    root["size"] = json!(img.index.len() - 1);
    let mut ms = layout_head(&[root]);
    ms.extend(img.blobs());
    let c = Case::of(&ms);
    let victim = sha256(&img.index);
    run(&["verify", c.p()]).fails(&format!("blob {victim}: size mismatch"), true);
    filter_fails(c.p(), &[], &format!("blob {victim}: size mismatch"));

    // Absurd sizes on descriptors of missing blobs: no overflow when summing sizes.
    let mut md = desc(OCI_MANIFEST, b"absent manifest");
    md["size"] = json!(u64::MAX);
    md["platform"] = json!({"architecture": "arm64", "os": "linux"});
    let mut md2 = md.clone();
    md2["digest"] = json!(sha256(b"another absent manifest"));
    md2["platform"] = json!({"architecture": "s390x", "os": "linux"});
    let index =
        to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [md, md2]}));
    let mut ms = layout_head(&[desc(OCI_INDEX, &index), desc(OCI_INDEX, &index)]);
    ms.push(file(&blob_name(&index), index.clone()));
    let c = Case::of(&ms);
    run(&["ls", c.p()]).ok();
    run(&["ls", c.p(), "--format", "json"]).ok();
    let r = run(&["verify", c.p()]);
    assert_eq!(r.code, Some(5), "shallow\n{}", r.describe());
}
