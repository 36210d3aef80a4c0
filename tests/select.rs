//! Picking and renaming images: `--image` globs over full and familiar names, `--tag SRC=DST`
//! (exact and prefix) in index.json, manifest.json and repositories, on archives made by
//! buildah, Docker 20.10 and skopeo (testdata/).

mod common;

use common::{bin, image_names, ls_json, out_path, read_tar, testdata, tmp};
use serde_json::Value;
use std::path::Path;

/// `filter INPUT -o OUT ARGS -q`: (exit code, stderr).
fn filter(input: &str, out: &Path, args: &[&str]) -> (i32, String) {
    let o = bin()
        .args(["filter", input, "-o", out.to_str().unwrap(), "-q"])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn json(out: &Path, member: &str) -> Value {
    serde_json::from_slice(&read_tar(out)[member]).unwrap()
}

/// testdata's legacy images and docker-list image in one archive.
fn two_archives(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let out = out_path(dir, "two.tar");
    let o = bin()
        .args([
            "merge",
            &testdata("docker-legacy.tar"),
            &testdata("docker-list.tar"),
            "-q",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success());
    out
}

#[test]
fn image_patterns_pick_images() {
    let dir = tmp();
    let two = two_archives(&dir);
    let out = out_path(&dir, "out.tar");
    let (code, err) = filter(
        two.to_str().unwrap(),
        &out,
        &["--image", "*dlist*", "--image", "example.com/other:latest"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        image_names(&ls_json(out.to_str().unwrap())),
        ["example.com/other:latest", "example.com/dlist:2"]
    );
    let (code, err) = filter(two.to_str().unwrap(), &out, &["--image", "alpine:*"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("example.com/dlist:2"),
        "lists the names: {err}"
    );
}

#[test]
fn tags_rename_legacy_images_in_manifest_json_and_repositories() {
    let dir = tmp();
    let out = out_path(&dir, "out.tar");
    let (code, err) = filter(
        &testdata("docker-legacy.tar"),
        &out,
        &[
            "--tag",
            "example.com/demo:1.0-amd64=registry.local/demo:amd",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let mj = json(&out, "manifest.json");
    assert_eq!(mj[0]["RepoTags"][0], "registry.local/demo:amd");
    let repos = json(&out, "repositories");
    assert!(repos["registry.local/demo"]["amd"].is_string(), "{repos}");
    assert!(
        repos["example.com/demo"].get("1.0-amd64").is_none(),
        "{repos}"
    );
    let o = bin()
        .args(["verify", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_prefix_tag_moves_every_image_under_a_registry() {
    let dir = tmp();
    let out = out_path(&dir, "out.tar");
    let (code, err) = filter(
        &testdata("ctr-full.tar"),
        &out,
        &["--tag", "example.com/=registry.local:5000/"],
    );
    assert_eq!(code, 0, "{err}");
    let index = json(&out, "index.json");
    let ann = &index["manifests"][0]["annotations"];
    assert_eq!(
        ann["io.containerd.image.name"], "registry.local:5000/demo:1.0",
        "{index}"
    );
    assert_eq!(
        json(&out, "manifest.json")[0]["RepoTags"][0],
        "registry.local:5000/demo:1.0"
    );
    common::check_oci_output(&out, false);
}

#[test]
fn unmatched_and_colliding_tags_are_refused() {
    let dir = tmp();
    let out = out_path(&dir, "out.tar");
    let (code, err) = filter(&testdata("oci-index.tar"), &out, &["--tag", "nope=x"]);
    assert_eq!(code, 3, "{err}");
    let (code, err) = filter(
        &testdata("docker-legacy.tar"),
        &out,
        &[
            "--tag",
            "example.com/demo:1.0-amd64=example.com/demo:1.0-arm64",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(!out.exists());
    assert_eq!(
        filter(&testdata("oci-index.tar"), &out, &["--tag", "no-equals"]).0,
        2
    );
}

#[test]
fn swapping_two_names_twice_gives_the_archive_back() {
    let dir = tmp();
    let two = two_archives(&dir);
    let swap = [
        "--tag",
        "example.com/dlist:2=example.com/other:latest",
        "--tag",
        "example.com/other:latest=example.com/dlist:2",
    ];
    let (once, twice) = (out_path(&dir, "once.tar"), out_path(&dir, "twice.tar"));
    assert_eq!(filter(two.to_str().unwrap(), &once, &swap).0, 0);
    let names = image_names(&ls_json(once.to_str().unwrap()));
    assert_eq!(names[1], "example.com/dlist:2", "{names:?}");
    assert_eq!(names[3], "example.com/other:latest", "{names:?}");
    assert_eq!(filter(once.to_str().unwrap(), &twice, &swap).0, 0);
    assert!(std::fs::read(&twice).unwrap() == std::fs::read(&two).unwrap());
}

/// A cosign-style signature (`sha256-<hex>.sig`, a tagged image beside its subject) follows the
/// index it signs: kept while that index keeps its digest, dropped with a note when it is
/// rewritten, kept again under `--keep-index`.
#[test]
fn signatures_follow_their_subject() {
    use ocislim_testgen::{self as testgen, ImageSpec, LayerSpec, PlatformSpec, Shape};
    let dir = tmp();
    let app = out_path(&dir, "app.tar");
    let mut spec = common::one_image(&[0, 1], Shape::OciIndex, false);
    testgen::write_archive(&spec, std::fs::File::create(&app).unwrap()).unwrap();
    let index = ls_json(app.to_str().unwrap())["images"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let sig = format!("example.com/app:sha256-{}.sig", &index["sha256:".len()..]);
    spec.images.push(ImageSpec {
        name: Some(sig.clone()),
        shape: Shape::Flat,
        platforms: vec![PlatformSpec::new(
            "linux/amd64",
            vec![LayerSpec {
                size: 200,
                seed: 42,
            }],
        )],
    });
    let signed = out_path(&dir, "signed.tar");
    testgen::write_archive(&spec, std::fs::File::create(&signed).unwrap()).unwrap();
    let out = out_path(&dir, "out.tar");
    let names = |args: &[&str]| {
        let (code, err) = filter(signed.to_str().unwrap(), &out, args);
        assert_eq!(code, 0, "{args:?}: {err}");
        (image_names(&ls_json(out.to_str().unwrap())), err)
    };
    assert_eq!(names(&[]).0, ["example.com/app:1", sig.as_str()]);
    assert_eq!(
        names(&["--platform", "linux/arm64"]).0,
        ["example.com/app:1"]
    );
    let report = bin()
        .args([
            "filter",
            signed.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .args(["--platform", "linux/arm64"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&report.stderr);
    assert!(err.contains("is dropped or rewritten"), "{err}");
    let (kept, _) = names(&["--platform", "linux/arm64", "--keep-index"]);
    assert_eq!(kept, ["example.com/app:1", sig.as_str()]);
}

/// A tag with control characters is refused as a name nobody can pull, or written escaped:
/// whatever the bytes, the terminal never receives them raw from the report.
#[test]
fn a_tag_with_control_characters_never_reaches_the_terminal_raw() {
    let dir = tmp();
    let out = out_path(&dir, "out.tar");
    let evil = "example.com/demo:1.0=evil\u{1b}]0;pwned\u{7}:1";
    let o = bin()
        .args([
            "filter",
            &testdata("oci-index.tar"),
            "-o",
            out.to_str().unwrap(),
            "--tag",
            evil,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    if o.status.success() {
        let ls = bin().args(["ls", out.to_str().unwrap()]).output().unwrap();
        let text = String::from_utf8_lossy(&ls.stdout);
        assert!(!text.contains('\u{1b}'), "{text:?}");
    }
}
