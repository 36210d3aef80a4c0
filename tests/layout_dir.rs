//! `-o DIR/` and `--format oci-dir`: an OCI image layout directory, built beside DIR and renamed
//! into place; the round trip directory → archive → directory gives the same files.

mod common;

use common::{bin, check_oci_output, out_path, testdata, tmp};
use std::collections::BTreeMap;
use std::path::Path;

/// Run `ocislim ARGS`: (exit code, stderr).
fn run(args: &[&str]) -> (i32, String) {
    let out = bin().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under `dir` by relative path, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn directory_archive_directory_round_trip_is_exact() {
    let d = tmp();
    let (one, tar, two) = (
        out_path(&d, "one"),
        out_path(&d, "x.tar"),
        out_path(&d, "two"),
    );
    let one_s = format!("{}/", one.display());
    assert_eq!(
        run(&[
            "filter",
            &testdata("oci-index.tar"),
            "-o",
            &one_s,
            "-q",
            "--platform",
            "linux/arm64"
        ])
        .0,
        0
    );
    assert_eq!(
        run(&[
            "filter",
            one.to_str().unwrap(),
            "-o",
            tar.to_str().unwrap(),
            "-q"
        ])
        .0,
        0
    );
    check_oci_output(&tar, false);
    let (code, err) = run(&[
        "filter",
        tar.to_str().unwrap(),
        "-o",
        two.to_str().unwrap(),
        "--format",
        "oci-dir",
        "-q",
    ]);
    assert_eq!(code, 0, "{err}");
    let (a, b) = (files(&one), files(&two));
    assert!(
        a.contains_key("index.json") && a.contains_key("oci-layout"),
        "{:?}",
        a.keys()
    );
    assert_eq!(a, b);
    assert_eq!(run(&["verify", two.to_str().unwrap()]).0, 0);
    // No temporary directory is left beside the outputs.
    let left: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_non_empty_directory_is_left_untouched_and_an_empty_one_replaced() {
    let d = tmp();
    let full = out_path(&d, "full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("keep.txt"), b"mine").unwrap();
    let full_s = format!("{}/", full.display());
    let (code, err) = run(&["filter", &testdata("oci-index.tar"), "-o", &full_s]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(files(&full).len(), 1);
    let empty = out_path(&d, "empty");
    std::fs::create_dir(&empty).unwrap();
    let empty_s = format!("{}/", empty.display());
    assert_eq!(
        run(&["filter", &testdata("ctr-full.tar"), "-o", &empty_s, "-q"]).0,
        0
    );
    assert!(files(&empty).contains_key("index.json"));
    let (code, _) = run(&[
        "filter",
        &testdata("oci-index.tar"),
        "-o",
        &format!("{}/gz/", d.path().display()),
        "--compress",
        "gzip",
    ]);
    assert_eq!(code, 2, "a directory is not compressed");
}
