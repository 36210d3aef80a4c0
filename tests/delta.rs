//! `ocislim delta` and `apply` on archives made by buildah, ctr, Docker 20.10 and skopeo
//! (testdata/), and on generated archives: apply ∘ delta = filter byte for byte, bases that are
//! archives (OCI or legacy) or digest lists, `ls`/`verify` of a delta, and bad bases.

mod common;

use common::{bin, ls_json, one_image, out_path, platforms, testdata, tmp, PLATFORMS};
use ocislim_testgen::{self as testgen, Shape};
use proptest::prelude::*;
use std::path::Path;

/// Run `ocislim ARGS`: (exit code, stderr).
fn run(args: &[&str]) -> (i32, String) {
    let out = bin().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `VERB INPUT --base B... -o OUT OPTS -q`, which must succeed.
fn with_bases(verb: &str, input: &str, bases: &[&str], out: &Path, opts: &[&str]) {
    let mut args = vec![verb, input, "-o", s(out), "-q"];
    for b in bases {
        args.extend_from_slice(&["--base", b]);
    }
    args.extend_from_slice(opts);
    let (code, err) = run(&args);
    assert_eq!(code, 0, "{verb} {input} {bases:?} {opts:?}: {err}");
}

fn filter(input: &str, out: &Path, opts: &[&str]) {
    let mut args = vec!["filter", input, "-o", s(out), "-q"];
    args.extend_from_slice(opts);
    let (code, err) = run(&args);
    assert_eq!(code, 0, "filter {input} {opts:?}: {err}");
}

/// The amd64 platform of testdata/oci-index.tar (buildah), a base for the whole archive.
fn amd64_base(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let amd = out_path(dir, "amd.tar");
    filter(
        &testdata("oci-index.tar"),
        &amd,
        &["--platform", "linux/amd64"],
    );
    amd
}

/// The amd64 platform of testdata/oci-index.tar as a base, and the delta of the whole archive
/// against it.
fn amd64_delta(dir: &tempfile::TempDir) -> (std::path::PathBuf, std::path::PathBuf) {
    let amd = amd64_base(dir);
    let delta = out_path(dir, "delta.tar");
    with_bases("delta", &testdata("oci-index.tar"), &[s(&amd)], &delta, &[]);
    (amd, delta)
}

/// delta then apply equals filter, byte for byte; returns the sizes of the delta and of the
/// whole archive.
fn round_trip(
    dir: &tempfile::TempDir,
    new: &str,
    bases: &[&str],
    opts: &[&str],
    ext: &str,
) -> (u64, u64) {
    let (delta, full, want) = (
        out_path(dir, &format!("delta{ext}")),
        out_path(dir, &format!("full{ext}")),
        out_path(dir, &format!("want{ext}")),
    );
    with_bases("delta", new, bases, &delta, opts);
    with_bases("apply", s(&delta), bases, &full, &[]);
    filter(new, &want, opts);
    assert!(
        std::fs::read(&full).unwrap() == std::fs::read(&want).unwrap(),
        "apply(delta({new}, {bases:?}, {opts:?})) differs from filter"
    );
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    (size(&delta), size(&want))
}

#[test]
fn apply_of_delta_is_filter_on_real_archives() {
    let dir = tmp();
    let amd = amd64_base(&dir);
    let (small, full) = round_trip(&dir, &testdata("oci-index.tar"), &[s(&amd)], &[], ".tar");
    // The base holds the shared layer and amd64's own layer (about 20 kB each).
    assert!(
        small + 40_000 < full,
        "the delta leaves them out: {small} of {full}"
    );
    round_trip(
        &dir,
        &testdata("oci-index.tar"),
        &[s(&amd)],
        &["--platform", "linux/arm64"],
        ".tar.zst",
    );
    round_trip(
        &dir,
        &testdata("ctr-full.tar"),
        &[&testdata("oci-index.tar")],
        &["--format", "docker"],
        ".tar",
    );
    round_trip(
        &dir,
        &testdata("ctr-shallow.tar"),
        &[s(&amd)],
        &["--skip-missing"],
        ".tar.gz",
    );
    // Legacy NEW and legacy base, in every output layout.
    for format in ["auto", "oci", "docker"] {
        round_trip(
            &dir,
            &testdata("docker-legacy.tar"),
            &[&testdata("skopeo-docker-archive.tar")],
            &["--format", format],
            ".tar",
        );
    }
}

#[test]
fn a_digest_list_base_gives_the_same_delta_but_cannot_fill_it() {
    let dir = tmp();
    let amd = amd64_base(&dir);
    // What `ctr content ls -q` would print on the far side after importing amd.tar.
    let files = common::read_tar(&amd);
    let mut list = String::from("# far side\n");
    for name in files.keys().filter(|n| n.starts_with("blobs/sha256/")) {
        list.push_str(&format!("sha256:{}\n", &name["blobs/sha256/".len()..]));
    }
    let list_path = out_path(&dir, "digests.txt");
    std::fs::write(&list_path, list).unwrap();
    let (by_archive, by_list) = (out_path(&dir, "a.tar"), out_path(&dir, "l.tar"));
    let new = testdata("oci-index.tar");
    with_bases("delta", &new, &[s(&amd)], &by_archive, &[]);
    with_bases("delta", &new, &[s(&list_path)], &by_list, &[]);
    assert!(std::fs::read(&by_archive).unwrap() == std::fs::read(&by_list).unwrap());
    let out = out_path(&dir, "full.tar");
    let (code, err) = run(&["apply", s(&by_list), "--base", s(&list_path), "-o", s(&out)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("digest list cannot supply"), "{err}");
    assert!(!out.exists());
}

#[test]
fn several_bases_add_up() {
    let dir = tmp();
    let (amd, arm) = (out_path(&dir, "amd.tar"), out_path(&dir, "arm.tar"));
    filter(
        &testdata("oci-index.tar"),
        &amd,
        &["--platform", "linux/amd64"],
    );
    filter(
        &testdata("oci-index.tar"),
        &arm,
        &["--platform", "linux/arm64"],
    );
    let (one, _) = round_trip(&dir, &testdata("oci-index.tar"), &[s(&amd)], &[], ".tar");
    let (two, _) = round_trip(
        &dir,
        &testdata("oci-index.tar"),
        &[s(&amd), s(&arm)],
        &[],
        ".tar",
    );
    assert!(
        two < one,
        "the second base holds arm64's own layer: {two} vs {one}"
    );
}

#[test]
fn ls_and_verify_see_a_delta_as_shallow_and_whole_with_its_bases() {
    let dir = tmp();
    let (amd, delta) = amd64_delta(&dir);
    let statuses = platforms(&ls_json(s(&delta)));
    assert!(
        statuses[0].iter().all(|(_, st)| st == "partial"),
        "{statuses:?}"
    );
    assert_eq!(run(&["verify", s(&delta)]).0, 5);
    assert_eq!(run(&["verify", s(&delta), "--base", s(&amd)]).0, 0);
    let unrelated = testdata("docker-list.tar");
    assert_eq!(run(&["verify", s(&delta), "--base", &unrelated]).0, 5);
}

#[test]
fn a_base_blob_with_the_right_name_and_wrong_bytes_is_never_written() {
    let dir = tmp();
    let (amd, delta) = amd64_delta(&dir);
    // Flip a byte inside the shared layer of the base (same name, same size).
    let mut bytes = std::fs::read(&amd).unwrap();
    let name = b"219a909cfae057f5c33f5f646d75e183c71223c2851449500a0e0bfacd242e85";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap();
    bytes[(at / 512 + 1) * 512 + 10] ^= 1;
    let bad = out_path(&dir, "bad-base.tar");
    std::fs::write(&bad, bytes).unwrap();
    let out = out_path(&dir, "full.tar");
    let (code, err) = run(&["apply", s(&delta), "--base", s(&bad), "-o", s(&out)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("digest mismatch"), "{err}");
    assert!(!out.exists());
    // A base that lacks the blob altogether: exit 4 naming it.
    let (code, err) = run(&[
        "apply",
        s(&delta),
        "--base",
        &testdata("docker-list.tar"),
        "-o",
        s(&out),
    ]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("sha256:"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// The delta against a base holding any subset of the platforms, applied, is what filter
    /// writes, for any selection and output compression.
    #[test]
    fn apply_of_delta_is_filter(
        new_set in proptest::sample::subsequence(vec![0usize, 1, 2, 3], 1..=4),
        base_set in proptest::sample::subsequence(vec![0usize, 1, 2, 3], 1..=4),
        keep in proptest::sample::subsequence(vec![0usize, 1, 2, 3], 0..=2),
        shape in prop_oneof![Just(Shape::OciIndex), Just(Shape::Nested), Just(Shape::DockerList)],
        docker in any::<bool>(),
        ext in prop_oneof![Just(".tar"), Just(".tar.gz"), Just(".tar.zst")],
    ) {
        let dir = tmp();
        let (new, base) = (out_path(&dir, "new.tar"), out_path(&dir, "base.tar"));
        testgen::write_archive(&one_image(&new_set, shape, docker), std::fs::File::create(&new).unwrap()).unwrap();
        testgen::write_archive(&one_image(&base_set, Shape::OciIndex, false), std::fs::File::create(&base).unwrap()).unwrap();
        let selected: Vec<&str> = keep.iter().filter(|i| new_set.contains(i)).map(|&i| PLATFORMS[i]).collect();
        let mut opts = Vec::new();
        if !selected.is_empty() {
            opts.push("--platform".to_string());
            opts.push(selected.join(","));
        }
        let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
        round_trip(&dir, s(&new), &[s(&base)], &opts, ext);
    }
}
