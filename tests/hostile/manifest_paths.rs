//! Paths in `manifest.json` that escape the archive.

use crate::build::*;
use crate::run::*;
use serde_json::{json, Value};

#[test]
fn legacy_manifest_json_paths_that_escape() {
    for (config, layer, needle) in [
        ("../../etc/passwd", "abc/layer.tar", "../../etc/passwd"),
        ("/etc/passwd", "abc/layer.tar", "/etc/passwd"),
        ("CONFIG", "../../../etc/shadow", "../../../etc/shadow"),
        ("CONFIG", "/etc/shadow", "/etc/shadow"),
        ("CONFIG", "abc/../../etc/shadow", "abc/../../etc/shadow"),
    ] {
        let (mut ms, cfg) = legacy_members("", layer);
        let config = config.replace("CONFIG", &format!("{}.json", hex_of(&cfg)));
        ms[0] = file(
            "manifest.json",
            to_vec(&json!([{"Config": config, "RepoTags": ["x/y:1"], "Layers": [layer]}])),
        );
        let c = Case::of(&ms);
        all_fail(c.p(), needle);
    }
}

/// Docker 25+ layout (index.json + manifest.json): `ls` and `filter` never follow
/// manifest.json paths (filter writes a new one from the index), so they succeed; `verify`
/// checks them and fails.
#[test]
fn docker_manifest_json_paths_that_escape() {
    let img = Image::new();
    for (config, layer) in [
        ("../../etc/passwd".to_string(), blob_name(&img.layer)),
        ("/etc/passwd".to_string(), blob_name(&img.layer)),
        (blob_name(&img.config), "../../../etc/shadow".to_string()),
        (blob_name(&img.config), "/etc/shadow".to_string()),
    ] {
        let mut ms = img.members();
        ms.push(file(
            "manifest.json",
            to_vec(&json!([{"Config": config, "RepoTags": ["x/y:1"], "Layers": [layer]}])),
        ));
        let c = Case::of(&ms);
        run(&["ls", c.p()]).ok();
        let needle = if config.starts_with("blobs/") {
            &layer
        } else {
            &config
        };
        run(&["verify", c.p()]).fails(needle, true);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o.tar");
        run(&["filter", c.p(), "-o", out.to_str().unwrap(), "-q"]).ok();
        let files = crate::common::read_tar(&out);
        let mj: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        assert_eq!(mj[0]["Config"], json!(blob_name(&img.config)));
        assert_eq!(mj[0]["Layers"], json!([blob_name(&img.layer)]));
    }
}
