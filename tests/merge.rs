//! `ocislim merge` on archives made by buildah, ctr, Docker 20.10 and skopeo (testdata/): the
//! union of blobs written once, same-named images united, conflicts, `--name`, legacy input,
//! shallow inputs completed by another input, and `merge A` = `filter A`.

mod common;

use common::{bin, check_oci_output, image_names, ls_json, out_path, platforms, testdata, tmp};
use std::path::{Path, PathBuf};

/// Run `ocislim ARGS` and return (exit code, stderr).
fn run(args: &[&str]) -> (i32, String) {
    let out = bin().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `filter ARCHIVE -o OUT OPTS...`, which must succeed.
fn filter_to(archive: &str, out: &Path, opts: &[&str]) {
    let mut args = vec!["filter", archive, "-o", out.to_str().unwrap(), "-q"];
    args.extend_from_slice(opts);
    let (code, err) = run(&args);
    assert_eq!(code, 0, "filter {opts:?}: {err}");
}

/// `merge INPUTS... -o OUT OPTS...`: (exit code, stderr).
fn merge(inputs: &[&str], out: &Path, opts: &[&str]) -> (i32, String) {
    let mut args = vec!["merge"];
    args.extend_from_slice(inputs);
    args.extend_from_slice(&["-o", out.to_str().unwrap()]);
    args.extend_from_slice(opts);
    run(&args)
}

/// The one-platform archives of testdata/oci-index.tar (buildah, three platforms).
fn per_platform(dir: &tempfile::TempDir) -> Vec<PathBuf> {
    ["linux/amd64", "linux/arm64", "linux/arm/v7"]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let out = out_path(dir, &format!("p{i}.tar"));
            filter_to(&testdata("oci-index.tar"), &out, &["--platform", p]);
            out
        })
        .collect()
}

fn platform_digests(archive: &str) -> Vec<(String, String)> {
    let ls = ls_json(archive);
    let mut v: Vec<(String, String)> = ls["images"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["platforms"].as_array().unwrap().clone())
        .map(|p| {
            (
                p["platform"].as_str().unwrap().to_string(),
                p["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn per_platform_archives_merge_back_into_the_original_platforms() {
    let dir = tmp();
    let parts = per_platform(&dir);
    let out = out_path(&dir, "all.tar");
    let inputs: Vec<&str> = parts.iter().map(|p| p.to_str().unwrap()).collect();
    let (code, err) = merge(&inputs, &out, &[]);
    assert_eq!(code, 0, "{err}");
    let merged = out.to_str().unwrap();
    assert_eq!(
        platform_digests(merged),
        platform_digests(&testdata("oci-index.tar"))
    );
    let ls = ls_json(merged);
    assert_eq!(ls["images"].as_array().unwrap().len(), 1, "one image: {ls}");
    assert_eq!(ls["images"][0]["name"], "example.com/demo:1.0");
    check_oci_output(&out, false);
    // The report names the input of every platform and the bytes saved by sharing.
    for p in &parts {
        assert!(err.contains(p.to_str().unwrap()), "{err}");
    }
    assert!(err.contains("stored once"), "{err}");
    assert_eq!(run(&["verify", merged]).0, 0);
}

#[test]
fn merge_of_one_archive_is_filter_byte_for_byte() {
    let dir = tmp();
    let cases: &[(&str, &[&str])] = &[
        ("oci-index.tar", &[]),
        ("oci-index.tar", &["--platform", "linux/arm64"]),
        ("ctr-full.tar", &["--format", "docker"]),
        ("ctr-shallow.tar", &["--skip-missing"]),
        ("docker-list.tar", &["--attestations", "drop"]),
        ("oci-layout-dir", &["--format", "oci"]),
    ];
    for (archive, opts) in cases {
        let (f, m) = (out_path(&dir, "f.tar"), out_path(&dir, "m.tar"));
        filter_to(&testdata(archive), &f, opts);
        let mut mopts = opts.to_vec();
        mopts.push("-q");
        let (code, err) = merge(&[&testdata(archive)], &m, &mopts);
        assert_eq!(code, 0, "{archive} {opts:?}: {err}");
        assert!(
            std::fs::read(&f).unwrap() == std::fs::read(&m).unwrap(),
            "merge {archive} {opts:?} differs from filter"
        );
    }
}

#[test]
fn the_same_archive_twice_is_the_archive_once() {
    let dir = tmp();
    let (f, m) = (out_path(&dir, "f.tar"), out_path(&dir, "m.tar"));
    let a = testdata("ctr-full.tar");
    filter_to(&a, &f, &[]);
    assert_eq!(merge(&[&a, &a], &m, &["-q"]).0, 0);
    assert!(std::fs::read(&f).unwrap() == std::fs::read(&m).unwrap());
}

#[test]
fn a_shallow_input_is_completed_by_another_inputs_content() {
    let dir = tmp();
    let out = out_path(&dir, "dense.tar");
    let shallow = testdata("ctr-shallow.tar");
    assert_eq!(
        merge(&[&shallow], &out, &["-q"]).0,
        4,
        "alone it is shallow"
    );
    let (code, err) = merge(&[&shallow, &testdata("oci-layout-dir")], &out, &["-q"]);
    assert_eq!(code, 4, "the layout dir holds another image: {err}");
    let (code, err) = merge(&[&shallow, &testdata("ctr-full.tar")], &out, &["-q"]);
    assert_eq!(code, 0, "{err}");
    let statuses = platforms(&ls_json(out.to_str().unwrap()));
    assert!(
        statuses.iter().flatten().all(|(_, s)| s == "present"),
        "{statuses:?}"
    );
    check_oci_output(&out, false);
}

#[test]
fn a_conflict_is_exit_6_naming_both_digests_unless_prefer_says() {
    let dir = tmp();
    let amd = out_path(&dir, "amd.tar");
    filter_to(
        &testdata("oci-index.tar"),
        &amd,
        &["--platform", "linux/amd64"],
    );
    let legacy = testdata("docker-legacy.tar");
    let out = out_path(&dir, "out.tar");
    let args = [amd.to_str().unwrap(), legacy.as_str()];
    let (code, err) = merge(&args, &out, &["--name", "example.com/x:1"]);
    assert_eq!(code, 6, "{err}");
    assert!(
        err.contains("example.com/x:1") && err.contains("linux/amd64"),
        "{err}"
    );
    assert_eq!(err.matches("sha256:").count(), 2, "both digests: {err}");
    assert!(!out.exists());
    for (prefer, want_from) in [("first", "amd.tar"), ("last", "docker-legacy.tar")] {
        let (code, err) = merge(
            &args,
            &out,
            &["--name", "example.com/x:1", "--prefer", prefer],
        );
        assert_eq!(code, 0, "{err}");
        let amd_line = err
            .lines()
            .find(|l| l.contains(" linux/amd64 "))
            .unwrap_or("");
        assert!(amd_line.ends_with(want_from), "--prefer {prefer}: {err}");
        let ls = ls_json(out.to_str().unwrap());
        assert_eq!(ls["images"].as_array().unwrap().len(), 1);
        assert_eq!(ls["images"][0]["name"], "example.com/x:1");
        let plats: Vec<_> = platforms(&ls)[0].iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(plats, ["linux/amd64", "linux/arm64/v8"], "{ls}");
        check_oci_output(&out, false);
    }
}

#[test]
fn legacy_inputs_are_converted_and_carried_beside_other_names() {
    let dir = tmp();
    let out = out_path(&dir, "mix.tar");
    let inputs = [
        testdata("docker-legacy.tar"),
        testdata("docker-list.tar"),
        testdata("skopeo-docker-archive.tar"),
    ];
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let (code, err) = merge(&refs, &out, &[]);
    assert_eq!(code, 0, "{err}");
    let ls = ls_json(out.to_str().unwrap());
    assert_eq!(
        image_names(&ls),
        [
            "example.com/demo:1.0-amd64",
            "example.com/other:latest",
            "example.com/demo:1.0-arm64",
            "example.com/dlist:2"
        ]
    );
    assert_eq!(ls["archive"]["format"], "docker");
    check_oci_output(&out, false);
    assert_eq!(run(&["verify", out.to_str().unwrap()]).0, 0);
}

#[test]
fn merge_is_associative_on_content() {
    let dir = tmp();
    let parts = per_platform(&dir);
    let p: Vec<&str> = parts.iter().map(|p| p.to_str().unwrap()).collect();
    let (ab, abc, all) = (
        out_path(&dir, "ab.tar"),
        out_path(&dir, "ab_c.tar"),
        out_path(&dir, "abc.tar"),
    );
    assert_eq!(merge(&[p[0], p[1]], &ab, &["-q"]).0, 0);
    assert_eq!(merge(&[ab.to_str().unwrap(), p[2]], &abc, &["-q"]).0, 0);
    assert_eq!(merge(&p, &all, &["-q"]).0, 0);
    assert_eq!(
        platform_digests(abc.to_str().unwrap()),
        platform_digests(all.to_str().unwrap())
    );
}

#[test]
fn selection_and_output_options_apply_to_the_merged_result() {
    let dir = tmp();
    let parts = per_platform(&dir);
    let p: Vec<&str> = parts.iter().map(|p| p.to_str().unwrap()).collect();
    let out = out_path(&dir, "sel.tar.zst");
    let (code, err) = merge(
        &p,
        &out,
        &["--exclude", "linux/arm/v7", "--format", "docker"],
    );
    assert_eq!(code, 0, "{err}");
    let got: Vec<String> = platform_digests(out.to_str().unwrap())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(got, ["linux/amd64", "linux/arm64/v8"]);
    assert_eq!(merge(&p, &out, &["--platform", "linux/s390x"]).0, 3);
    let dry = out_path(&dir, "dry.tar");
    assert_eq!(merge(&p, &dry, &["--dry-run"]).0, 0);
    assert!(!dry.exists(), "a dry run writes nothing");
    assert_eq!(merge(&["-", "-"], &dry, &[]).0, 2, "stdin at most once");
}

#[test]
fn merge_is_deterministic() {
    let dir = tmp();
    let parts = per_platform(&dir);
    let p: Vec<&str> = parts.iter().map(|p| p.to_str().unwrap()).collect();
    let (a, b) = (out_path(&dir, "a.tar"), out_path(&dir, "b.tar"));
    assert_eq!(merge(&p, &a, &["-q"]).0, 0);
    assert_eq!(merge(&p, &b, &["-q"]).0, 0);
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap());
}

#[test]
fn a_corrupt_blob_in_the_first_input_that_holds_it_is_exit_1() {
    let dir = tmp();
    let parts = per_platform(&dir);
    // Flip a byte inside the shared layer of the first input (same size, same name).
    let bytes = std::fs::read(&parts[0]).unwrap();
    let shared = b"sha256/219a909cfae057f5c33f5f646d75e183c71223c2851449500a0e0bfacd242e85";
    let at = bytes
        .windows(shared.len())
        .position(|w| w == shared)
        .expect("shared layer member");
    let mut corrupt = bytes.clone();
    let content = (at / 512 + 1) * 512 + 100;
    corrupt[content] ^= 0xff;
    let bad = out_path(&dir, "bad.tar");
    std::fs::write(&bad, corrupt).unwrap();
    let out = out_path(&dir, "out.tar");
    let (code, err) = merge(
        &[bad.to_str().unwrap(), parts[1].to_str().unwrap()],
        &out,
        &["-q"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("219a909cfae0"), "{err}");
    assert!(!out.exists());
}

#[test]
fn hundreds_of_inputs() {
    let dir = tmp();
    let parts = per_platform(&dir);
    let many: Vec<&str> = (0..300).map(|i| parts[i % 3].to_str().unwrap()).collect();
    let out = out_path(&dir, "many.tar");
    let (code, err) = merge(&many, &out, &["-q"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(platform_digests(out.to_str().unwrap()).len(), 3);
}

#[test]
fn image_picks_the_inputs_images_before_name_unites_them() {
    let dir = tmp();
    let out = out_path(&dir, "app.tar");
    let inputs = [testdata("docker-legacy.tar"), testdata("docker-list.tar")];
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let (code, err) = merge(
        &refs,
        &out,
        &["--name", "example.com/app:1", "--image", "*arm64,*dlist*"],
    );
    assert_eq!(code, 0, "{err}");
    let ls = ls_json(out.to_str().unwrap());
    assert_eq!(image_names(&ls), ["example.com/app:1"]);
    let plats: Vec<String> = platforms(&ls)[0].iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(plats, ["linux/arm64/v8", "linux/amd64", "linux/s390x"]);
    let (code, err) = merge(&refs, &out, &["--image", "nothing*"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("example.com/dlist:2"),
        "lists the names: {err}"
    );
}
