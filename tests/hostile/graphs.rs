//! Index graphs: cycles, depth, exponentially many paths.

use crate::build::*;
use crate::common::sha256;
use crate::run::*;
use serde_json::json;
use std::time::Instant;

/// Blobs whose names lie about their content would make cycles (A → B → A, and A → A): the
/// first index is hashed before it is parsed, so the lie is found before any cycle.
#[test]
fn index_cycles_through_lying_blob_names() {
    let a = sha256(b"name of index A");
    let b = sha256(b"name of index B");
    let index_to = |d: &str| {
        to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_INDEX, "digest": d, "size": 200}]}))
    };
    let at = |d: &str| format!("blobs/sha256/{}", &d[7..]);
    let root = json!({"mediaType": OCI_INDEX, "digest": a, "size": 200});
    // A → B → A
    let mut ms = layout_head(std::slice::from_ref(&root));
    ms.push(file(&at(&a), index_to(&b)));
    ms.push(file(&at(&b), index_to(&a)));
    let c = Case::of(&ms);
    all_fail(c.p(), &format!("blob {a}: digest mismatch"));
    // A → A
    let mut ms = layout_head(std::slice::from_ref(&root));
    ms.push(file(&at(&a), index_to(&a)));
    let c = Case::of(&ms);
    all_fail(c.p(), &format!("blob {a}: digest mismatch"));
    // A → B → A with a Docker manifest list type and no media type at all (sniffed).
    let list = |d: &str| {
        to_vec(&json!({"schemaVersion": 2,
            "manifests": [{"mediaType": "", "digest": d, "size": 200}]}))
    };
    let mut ms = layout_head(&[
        json!({"mediaType": "application/vnd.docker.distribution.manifest.list.v2+json", "digest": a, "size": 200}),
    ]);
    ms.push(file(&at(&a), list(&b)));
    ms.push(file(&at(&b), list(&a)));
    let c = Case::of(&ms);
    all_fail(c.p(), &format!("blob {a}: digest mismatch"));
}

/// Indexes nested deeper than any real image: refused, not recursed into.
#[test]
fn indexes_nested_too_deeply() {
    let img = Image::new();
    let mut ms = img.blobs();
    let mut child = img.root();
    for _ in 0..100 {
        let idx =
            to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child]}));
        ms.push(file(&blob_name(&idx), idx.clone()));
        child = desc(OCI_INDEX, &idx);
    }
    let mut all = layout_head(&[child]);
    all.extend(ms);
    let c = Case::of(&all);
    all_fail(c.p(), "nested too deeply");
}

/// A valid (content-addressed) DAG whose every index lists its child twice: 2^30 paths
/// through 30 small blobs. Must not be walked path by path.
#[test]
fn index_dag_with_exponentially_many_paths() {
    let img = Image::new();
    let mut ms = img.blobs();
    let mut child = desc(OCI_INDEX, &img.index);
    for _ in 0..30 {
        let idx = to_vec(
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child, child]}),
        );
        ms.push(file(&blob_name(&idx), idx.clone()));
        child = desc(OCI_INDEX, &idx);
    }
    let mut all = layout_head(&[child]);
    all.extend(ms);
    let c = Case::of(&all);
    let started = Instant::now();
    run(&["ls", c.p()]).ok();
    run(&["verify", c.p()]).ok();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.tar");
    run(&[
        "filter",
        c.p(),
        "-o",
        out.to_str().unwrap(),
        "-q",
        "--platform",
        "linux/amd64",
    ])
    .ok();
    // (crate::common::check_oci_output would walk every path itself.)
    run(&["verify", out.to_str().unwrap()]).ok();
    assert_linear_time(started);
}
