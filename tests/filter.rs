//! `ocislim filter` on fixtures made by real tools: every flag and exit code, each output read
//! back by `ocislim verify` and by the independent checker in `common`.

mod common;
use common::*;
use ocislim_testgen::{self as testgen, ArchiveSpec, ImageSpec, LayerSpec, PlatformSpec, Shape};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

/// Run `ocislim filter INPUT -o OUT ARGS...` and return what it did.
fn filter(input: impl AsRef<Path>, out: impl AsRef<Path>, args: &[&str]) -> Output {
    bin()
        .arg("filter")
        .arg(input.as_ref())
        .arg("-o")
        .arg(out.as_ref())
        .args(args)
        .output()
        .unwrap()
}

/// Like `filter`, asserting that the run succeeded.
fn filter_ok(input: impl AsRef<Path>, out: impl AsRef<Path>, args: &[&str]) -> Output {
    let o = filter(input, out, args);
    ok(&o);
    o
}

/// Like `filter_ok`, with INPUT the test fixture `name`.
fn fixture_ok(name: &str, out: impl AsRef<Path>, args: &[&str]) -> Output {
    filter_ok(testdata(name), out, args)
}

/// The exit code of `ocislim filter INPUT -o OUT ARGS...`.
fn filter_code(input: impl AsRef<Path>, out: impl AsRef<Path>, args: &[&str]) -> Option<i32> {
    filter(input, out, args).status.code()
}

/// Assert that a run exited 0, showing its code and stderr otherwise.
fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The exit code of `ocislim verify P`.
fn verify_code(p: &Path) -> i32 {
    bin()
        .args(["verify", p.to_str().unwrap()])
        .output()
        .unwrap()
        .status
        .code()
        .unwrap()
}

/// `ocislim ls --format json` of an archive given as a path.
fn ls(p: impl AsRef<Path>) -> Value {
    ls_json(p.as_ref().to_str().unwrap())
}

/// Check `out` with the independent checker (no blob missing) and `ocislim verify` (exit 0);
/// returns the platform manifests the checker reached.
fn assert_valid(out: &Path) -> BTreeSet<String> {
    let manifests = check_oci_output(out, false);
    assert_eq!(verify_code(out), 0, "verify {}", out.display());
    manifests
}

/// The `platforms()` of an archive holding one image with only `platform`, present.
fn only_present(platform: &str) -> Vec<Vec<(String, String)>> {
    vec![vec![(platform.to_string(), "present".to_string())]]
}

/// How many attestations `ls` shows for the first platform of the first image of `out`.
fn attestation_count(out: &Path) -> usize {
    ls(out)["images"][0]["platforms"][0]["attestations"]
        .as_array()
        .unwrap()
        .len()
}

/// Parse the JSON file `name` of an archive read with `read_tar`.
fn json_in(files: &BTreeMap<String, Vec<u8>>, name: &str) -> Value {
    serde_json::from_slice(&files[name]).unwrap()
}

/// The names of the images in an `ls` report, in order.
fn image_names(j: &Value) -> Vec<&str> {
    j["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect()
}

/// (platform, digest) of every platform of the first image in an `ls` report.
fn platform_digests(j: &Value) -> Vec<(String, String)> {
    j["images"][0]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["platform"].as_str().unwrap().into(),
                p["digest"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
fn slims_to_two_platforms() {
    let d = tmp();
    let out = out_path(&d, "slim.tar");
    let o = fixture_ok(
        "oci-index.tar",
        &out,
        &["--platform", "linux/amd64,linux/arm64"],
    );
    let before = ls(testdata("oci-index.tar"));
    let after = ls(&out);
    let b = platform_digests(&before);
    assert_eq!(
        platform_digests(&after),
        vec![b[0].clone(), b[1].clone()],
        "kept manifest digests never change"
    );
    assert_ne!(
        after["images"][0]["digest"], before["images"][0]["digest"],
        "the index was rewritten"
    );
    let manifests = assert_valid(&out);
    assert_eq!(manifests.len(), 2);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("kept linux/amd64, linux/arm64/v8; dropped linux/arm/v7"),
        "{stderr}"
    );
    assert!(
        stderr.contains("sha256:"),
        "report names the output digest: {stderr}"
    );
    // The rewritten index keeps every other field and annotation.
    let files = read_tar(&out);
    let idx = json_in(&files, "index.json");
    let root = idx["manifests"][0]["digest"].as_str().unwrap();
    let inner = json_in(&files, &format!("blobs/sha256/{}", &root[7..]));
    assert_eq!(
        inner["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(inner["manifests"].as_array().unwrap().len(), 2);
}

#[test]
fn deterministic_and_idempotent() {
    let d = tmp();
    let a = out_path(&d, "a.tar");
    let b = out_path(&d, "b.tar");
    let c = out_path(&d, "c.tar");
    let sel = ["--platform", "linux/arm/v7,linux/amd64"];
    fixture_ok("ctr-full.tar", &a, &sel);
    fixture_ok("ctr-full.tar", &b, &sel);
    filter_ok(&a, &c, &sel);
    let (a, b, c) = (
        std::fs::read(a).unwrap(),
        std::fs::read(b).unwrap(),
        std::fs::read(c).unwrap(),
    );
    assert_eq!(a, b, "same input and options give the same bytes");
    assert_eq!(a, c, "filtering the output again gives the same bytes");
    // Header hygiene: mtime 0, uid/gid 0, sorted names.
    let mut ar = tar::Archive::new(&a[..]);
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        assert_eq!(e.header().mtime().unwrap(), 0);
        assert_eq!(e.header().uid().unwrap(), 0);
        names.push(e.path().unwrap().to_string_lossy().into_owned());
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn all_platforms_is_a_noop_on_the_digest() {
    let d = tmp();
    let out = out_path(&d, "all.tar");
    fixture_ok("oci-index.tar", &out, &[]);
    let before = ls(testdata("oci-index.tar"));
    let after = ls(&out);
    assert_eq!(after["images"], before["images"]);
    fixture_ok(
        "oci-index.tar",
        &out,
        &["--platform", "linux/amd64,linux/arm64,linux/arm/v7"],
    );
    assert_eq!(
        ls(&out)["images"][0]["digest"],
        before["images"][0]["digest"]
    );
}

#[test]
fn exit_codes() {
    let d = tmp();
    let out = out_path(&d, "x.tar");
    let o = out.to_str().unwrap();
    let f = testdata("oci-index.tar");
    let r = filter(&f, o, &["--platform", "linux/mips64le"]);
    assert_eq!(r.status.code(), Some(3));
    let msg = String::from_utf8_lossy(&r.stderr);
    assert!(
        msg.starts_with("ocislim: error: ") && msg.contains("linux/arm64/v8"),
        "{msg}"
    );
    assert_eq!(
        filter_code(&f, o, &["--exclude", "linux/amd64,linux/arm64,linux/arm"]),
        Some(3)
    );
    assert_eq!(filter_code(&f, o, &["--platform", "linux/*"]), Some(2));
    assert_eq!(filter_code(&f, o, &["--bogus"]), Some(2));
    assert!(!out.exists(), "no output after a failure");
    let r = filter(
        testdata("ctr-shallow.tar"),
        o,
        &["--platform", "linux/amd64"],
    );
    assert_eq!(r.status.code(), Some(4));
    let msg = String::from_utf8_lossy(&r.stderr);
    assert!(
        msg.contains("linux/amd64") && msg.contains("sha256:2f315918e859"),
        "{msg}"
    );
    assert_eq!(filter_code(testdata("ctr-shallow.tar"), o, &[]), Some(4));
    assert_eq!(filter_code(testdata("nope.tar"), o, &[]), Some(1));
    assert!(!out.exists());
}

#[test]
fn skip_missing_repairs_a_shallow_export() {
    let d = tmp();
    let out = out_path(&d, "dense.tar");
    let r = fixture_ok("ctr-shallow.tar", &out, &["--skip-missing"]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("skipping linux/amd64"));
    assert_eq!(platforms(&ls(&out)), only_present("linux/arm64/v8"));
    assert_valid(&out);
}

#[test]
fn keep_index_preserves_digests() {
    let d = tmp();
    let out = out_path(&d, "shallow.tar");
    fixture_ok(
        "oci-index.tar",
        &out,
        &["--platform", "linux/arm64", "--keep-index"],
    );
    let before = ls(testdata("oci-index.tar"));
    let after = ls(&out);
    assert_eq!(after["images"][0]["digest"], before["images"][0]["digest"]);
    assert_eq!(
        platforms(&after)[0]
            .iter()
            .map(|p| p.1.as_str())
            .collect::<Vec<_>>(),
        ["missing", "present", "missing"]
    );
    check_oci_output(&out, true);
    assert_eq!(verify_code(&out), 5);
    // A shallow input filtered with --keep-index stays shallow but is accepted.
    let out2 = out_path(&d, "shallow2.tar");
    fixture_ok("ctr-shallow.tar", &out2, &["--keep-index"]);
    assert_eq!(verify_code(&out2), 5);
}

#[test]
fn exclude_and_docker_list() {
    let d = tmp();
    let out = out_path(&d, "s390x.tar");
    fixture_ok("docker-list.tar", &out, &["--exclude", "linux/amd64"]);
    let j = ls(&out);
    assert_eq!(
        j["images"][0]["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    assert_eq!(platforms(&j), only_present("linux/s390x"));
    check_oci_output(&out, false);
}

#[test]
fn docker_format_points_at_the_chosen_platform() {
    let d = tmp();
    let out = out_path(&d, "docker.tar");
    let config_of = |p: &Path| -> String {
        let files = read_tar(p);
        let mj = json_in(&files, "manifest.json");
        assert_eq!(mj.as_array().unwrap().len(), 1);
        assert_eq!(mj[0]["RepoTags"][0], "example.com/demo:1.0");
        assert!(files.contains_key("repositories"));
        let cfg = json_in(&files, mj[0]["Config"].as_str().unwrap());
        cfg["architecture"].as_str().unwrap().to_string()
    };
    // the first platform the user listed
    let arm64_first = [
        "--format",
        "docker",
        "--platform",
        "linux/arm64,linux/amd64",
    ];
    fixture_ok("oci-index.tar", &out, &arm64_first);
    assert_eq!(config_of(&out), "arm64");
    assert_valid(&out);
    // --docker-platform wins
    let amd64_wins = [&arm64_first[..], &["--docker-platform", "linux/amd64"]].concat();
    fixture_ok("oci-index.tar", &out, &amd64_wins);
    assert_eq!(config_of(&out), "amd64");
    // else the first in index order
    fixture_ok("oci-index.tar", &out, &["--format", "docker"]);
    assert_eq!(config_of(&out), "amd64");
    // --format oci writes no manifest.json
    fixture_ok("ctr-full.tar", &out, &["--format", "oci"]);
    assert!(!read_tar(&out).contains_key("manifest.json"));
}

#[test]
fn legacy_archives_are_filtered_image_by_image() {
    let d = tmp();
    let out = out_path(&d, "legacy.tar");
    fixture_ok("docker-legacy.tar", &out, &["--platform", "linux/arm64"]);
    let j = ls(&out);
    assert_eq!(j["archive"]["format"], "docker-legacy");
    assert_eq!(platforms(&j), only_present("linux/arm64/v8"));
    assert_eq!(verify_code(&out), 0);
    let files = read_tar(&out);
    let mj = json_in(&files, "manifest.json");
    for l in mj[0]["Layers"].as_array().unwrap() {
        assert!(files.contains_key(l.as_str().unwrap()));
    }
    // skopeo's symlinked layout is resolved into regular files
    let out2 = out_path(&d, "skopeo.tar");
    fixture_ok("skopeo-docker-archive.tar", &out2, &[]);
    assert_eq!(verify_code(&out2), 0);
}

#[test]
fn compressed_outputs_and_stdout() {
    let d = tmp();
    for (name, magic) in [
        ("o.tar.gz", &[0x1fu8, 0x8b][..]),
        ("o.tar.zst", &[0x28, 0xb5, 0x2f, 0xfd][..]),
    ] {
        let out = out_path(&d, name);
        fixture_ok("oci-index.tar", &out, &["--platform", "linux/amd64"]);
        assert!(std::fs::read(&out).unwrap().starts_with(magic), "{name}");
        assert_valid(&out);
    }
    let out = out_path(&d, "plain.tar");
    fixture_ok(
        "oci-index.tar",
        &out,
        &["--platform", "linux/amd64", "--compress", "none"],
    );
    let r = fixture_ok("oci-index.tar", "-", &["--platform", "linux/amd64", "-q"]);
    assert_eq!(
        r.stdout,
        std::fs::read(&out).unwrap(),
        "stdout gets the same bytes"
    );
    assert!(r.stderr.is_empty(), "-q is quiet");
}

/// gzip output is fixed-size members compressed on every core: the same bytes on one core as on
/// all of them, and a valid archive once gunzipped.
#[test]
fn gzip_output_is_the_same_bytes_on_one_core_and_on_all() {
    let d = tmp();
    let input = d.path().join("in.tar");
    write_big_archive(&input, "docker.io/library/big:1", 5 << 20);
    let all = out_path(&d, "all.tar.gz");
    filter_ok(&input, &all, &["--platform", "linux/amd64"]);
    let one = out_path(&d, "one.tar.gz");
    let pinned = std::process::Command::new("taskset")
        .args(["-c", "0", env!("CARGO_BIN_EXE_ocislim"), "filter"])
        .arg(&input)
        .arg("-o")
        .arg(&one)
        .args(["--platform", "linux/amd64"])
        .output()
        .unwrap();
    ok(&pinned);
    let bytes = std::fs::read(&all).unwrap();
    assert_eq!(bytes, std::fs::read(&one).unwrap());
    let members = bytes
        .windows(4)
        .filter(|w| w == &[0x1f, 0x8b, 8, 0])
        .count();
    assert!(members >= 5, "{members} gzip members");
    assert_valid(&all);
}

#[test]
fn dry_run_and_json_report() {
    let d = tmp();
    let out = out_path(&d, "dry.tar");
    let r = fixture_ok(
        "oci-index.tar",
        &out,
        &["--platform", "linux/amd64", "--dry-run", "--json"],
    );
    assert!(!out.exists(), "dry run writes nothing");
    let j: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(j["dryRun"], true);
    assert_eq!(j["images"][0]["kept"], serde_json::json!(["linux/amd64"]));
    assert_eq!(
        j["images"][0]["dropped"],
        serde_json::json!(["linux/arm64/v8", "linux/arm/v7"])
    );
    assert!(j["bytes"]["after"].as_u64().unwrap() < j["bytes"]["before"].as_u64().unwrap());
    let r = fixture_ok(
        "oci-index.tar",
        &out,
        &["--platform", "linux/amd64", "--json"],
    );
    let j: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(
        j["sha256"].as_str().unwrap(),
        sha256(&std::fs::read(&out).unwrap())
    );
    assert_eq!(
        j["bytes"]["after"].as_u64().unwrap(),
        std::fs::metadata(&out).unwrap().len()
    );
    // dry run exit codes are the real ones
    assert_eq!(
        filter_code(testdata("ctr-shallow.tar"), &out, &["--dry-run"]),
        Some(4)
    );
}

#[test]
fn atomic_output() {
    let d = tmp();
    let out = out_path(&d, "keep.tar");
    std::fs::write(&out, b"previous").unwrap();
    assert_eq!(
        filter_code(
            testdata("oci-index.tar"),
            &out,
            &["--platform", "linux/ppc64le"]
        ),
        Some(3)
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"previous",
        "a failure leaves OUT untouched"
    );
    let leftovers: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left");
    // OUT may be the input itself.
    let inplace = out_path(&d, "inplace.tar");
    std::fs::copy(testdata("oci-index.tar"), &inplace).unwrap();
    filter_ok(&inplace, &inplace, &["--platform", "linux/arm/v7"]);
    assert_eq!(platforms(&ls(&inplace)), only_present("linux/arm/v7"));
}

#[test]
fn compressed_input_on_stdin_gives_the_same_archive() {
    let d = tmp();
    let from_file = out_path(&d, "file.tar");
    let from_stdin = out_path(&d, "stdin.tar");
    fixture_ok("oci-index.tar", &from_file, &["--platform", "linux/arm64"]);
    let r = bin()
        .args(["filter", "-", "-o", from_stdin.to_str().unwrap()])
        .args(["--platform", "linux/arm64"])
        .write_stdin(std::fs::read(testdata("oci-index.tar.gz")).unwrap())
        .output()
        .unwrap();
    ok(&r);
    assert_eq!(
        std::fs::read(&from_stdin).unwrap(),
        std::fs::read(&from_file).unwrap()
    );
}

#[test]
fn output_mode_is_what_cp_would_give() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmp();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    // A new file: 0666 less the umask, as `cp` and `docker save -o` create it.
    let new = out_path(&d, "new.tar");
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 027 && exec \"$0\" filter \"$1\" -o \"$2\" -q --platform linux/amd64")
        .arg(env!("CARGO_BIN_EXE_ocislim"))
        .arg(testdata("oci-index.tar"))
        .arg(&new)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(mode(&new), 0o640);
    // A replaced file keeps its mode.
    let old = out_path(&d, "old.tar");
    std::fs::write(&old, b"x").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o604)).unwrap();
    fixture_ok("oci-index.tar", &old, &["-q", "--platform", "linux/amd64"]);
    assert_eq!(mode(&old), 0o604);
}

#[test]
fn attestations_follow_their_subject() {
    let d = tmp();
    let input = out_path(&d, "att.tar");
    let mk = |p: &str, seed| {
        let mut s = PlatformSpec::new(p, vec![LayerSpec { size: 2000, seed }]);
        s.attestation = true;
        s.referrer = true;
        s
    };
    let spec = ArchiveSpec {
        images: vec![ImageSpec {
            name: Some("docker.io/library/att:1".into()),
            shape: Shape::OciIndex,
            platforms: vec![mk("linux/amd64", 1), mk("linux/arm64", 2)],
        }],
        docker_manifest: true,
        orphans: 2,
        containerd_names: true,
    };
    testgen::write_archive(&spec, std::fs::File::create(&input).unwrap()).unwrap();
    let out = out_path(&d, "keep.tar");
    filter_ok(&input, &out, &["--platform", "linux/arm64"]);
    assert_eq!(attestation_count(&out), 2);
    check_oci_output(&out, false);
    let mj = json_in(&read_tar(&out), "manifest.json");
    assert_eq!(
        mj[0]["RepoTags"][0], "att:1",
        "RepoTags in Docker's familiar form"
    );
    let out2 = out_path(&d, "drop.tar");
    filter_ok(
        &input,
        &out2,
        &["--platform", "linux/arm64", "--attestations", "drop"],
    );
    assert_eq!(attestation_count(&out2), 0);
    check_oci_output(&out2, false);
    assert!(read_tar(&out2).len() < read_tar(&out).len());
}

#[test]
fn oci_layout_directory_input() {
    let d = tmp();
    let out = out_path(&d, "fromdir.tar");
    fixture_ok("oci-layout-dir", &out, &["--platform", "linux/s390x"]);
    assert_valid(&out);
}

#[test]
fn legacy_archives_convert_to_oci_and_docker_layouts() {
    let d = tmp();
    let out = out_path(&d, "l2o.tar");
    fixture_ok("docker-legacy.tar", &out, &["--format", "oci"]);
    let j = ls(&out);
    assert_eq!(j["archive"]["format"], "oci");
    assert_eq!(
        image_names(&j),
        [
            "example.com/demo:1.0-amd64",
            "example.com/other:latest",
            "example.com/demo:1.0-arm64"
        ]
    );
    assert_valid(&out);
    // The config keeps its digest: the image ID survives the conversion.
    let legacy = ls(testdata("docker-legacy.tar"));
    let files = read_tar(&out);
    let id = legacy["images"][0]["platforms"][0]["digest"]
        .as_str()
        .unwrap();
    assert!(files.contains_key(&format!("blobs/sha256/{}", &id[7..])));
    let out2 = out_path(&d, "l2d.tar");
    fixture_ok("skopeo-docker-archive.tar", &out2, &["--format", "docker"]);
    assert_valid(&out2);
    assert!(read_tar(&out2).contains_key("manifest.json"));
}

/// The progress bar is drawn on standard error only when it is a terminal (`script` gives the
/// command a pseudo-terminal), never under `-q`, and never into a pipe or a file.
#[test]
fn progress_only_on_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no script(1) to give the command a terminal");
        return;
    }
    let d = tmp();
    let out = out_path(&d, "p.tar");
    let on_terminal = |extra: &str| -> String {
        let cmd = format!(
            "'{}' filter '{}' -o '{}' --platform linux/amd64 {extra}",
            env!("CARGO_BIN_EXE_ocislim"),
            testdata("oci-index.tar"),
            out.display()
        );
        let o = std::process::Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let shown = on_terminal("");
    assert!(
        shown.contains("KiB/") && shown.contains(" eta "),
        "bytes copied / total, rate and eta: {shown:?}"
    );
    assert!(shown.contains("wrote "), "then the report: {shown:?}");
    let quiet = on_terminal("-q");
    assert!(!quiet.contains(" eta "), "-q draws nothing: {quiet:?}");
    let piped = filter(
        testdata("oci-index.tar"),
        &out,
        &["--platform", "linux/amd64"],
    );
    ok(&piped);
    let err = String::from_utf8_lossy(&piped.stderr);
    assert!(
        err.contains("wrote ") && !err.contains(" eta ") && !err.contains('\r'),
        "no bar into a pipe: {err:?}"
    );
}

/// A `layer.tar` of a legacy archive whose bytes no longer hash to the config's diff ID (same
/// size, one byte flipped, found by its tar header) stops `filter` in every output layout.
#[test]
fn legacy_layer_tar_is_checked_against_its_diff_id() {
    let d = tmp();
    let mut bytes = std::fs::read(testdata("docker-legacy.tar")).unwrap();
    let mut archive = tar::Archive::new(&bytes[..]);
    let offset = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.header().entry_type().is_file() && e.path().unwrap().ends_with("layer.tar"))
        .map(|e| e.raw_file_position() as usize)
        .expect("a regular layer.tar");
    bytes[offset + 1000] ^= 1;
    let bad = d.path().join("bad.tar");
    std::fs::write(&bad, bytes).unwrap();
    for format in ["auto", "oci", "docker"] {
        let out = d.path().join(format!("{format}.tar"));
        let o = filter(&bad, &out, &["--format", format]);
        assert_eq!(o.status.code(), Some(1), "--format {format}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("digest mismatch"));
        assert!(!out.exists());
    }
}

/// `--docker-platform` names a kept platform or nothing is written (exit 3 listing the kept
/// ones); under `--format auto` it gives an OCI input the manifest.json that `docker load` reads.
#[test]
fn docker_platform_must_be_kept_and_implies_docker_format() {
    let d = tmp();
    let out = d.path().join("out.tar");
    let o = fixture_ok(
        "oci-index.tar",
        &out,
        &["--docker-platform", "linux/arm/v7"],
    );
    ok(&o);
    let files = read_tar(&out);
    let entries = json_in(&files, "manifest.json");
    let config = entries[0]["Config"].as_str().unwrap().to_string();
    let arm = ls(&out)["images"][0]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["platform"] == "linux/arm/v7")
        .map(|p| p["digest"].as_str().unwrap().to_string())
        .unwrap();
    let manifest = json_in(&files, &format!("blobs/sha256/{}", &arm["sha256:".len()..]));
    assert_eq!(
        manifest["config"]["digest"]
            .as_str()
            .map(|d| d.replace(':', "/")),
        Some(config.trim_start_matches("blobs/").to_string())
    );
    for args in [
        &[
            "--platform",
            "linux/amd64",
            "--docker-platform",
            "linux/arm64",
        ][..],
        &["--docker-platform", "linux/s390x"][..],
    ] {
        std::fs::remove_file(&out).ok();
        let o = filter(testdata("oci-index.tar"), &out, args);
        assert_eq!(o.status.code(), Some(3), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("not among the kept platforms"), "{err}");
        assert!(!out.exists());
    }
}
