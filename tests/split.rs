//! `ocislim split`: each output byte for byte the matching `filter --platform P` (or `--image
//! NAME`) output, on archives made by real tools and on generated ones; template placeholders,
//! collisions, missing platforms, and names that try to climb out of the output directory.

mod common;

use common::{bin, listing, one_image, out_path, testdata, tmp, PLATFORMS};
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

/// `filter INPUT OPTS` into `out`; true when the bytes equal those of `other`.
fn same_as_filter(input: &str, opts: &[&str], other: &Path, out: &Path) -> bool {
    let mut args = vec!["filter", input, "-o", out.to_str().unwrap(), "-q"];
    args.extend_from_slice(opts);
    let (code, err) = run(&args);
    assert_eq!(code, 0, "filter {opts:?}: {err}");
    std::fs::read(out).unwrap() == std::fs::read(other).unwrap()
}

#[test]
fn per_platform_outputs_are_filter_outputs() {
    let dir = tmp();
    let input = testdata("oci-index.tar");
    let template = format!(
        "{}/parts/{{os}}-{{arch}}{{variant}}.tar",
        dir.path().display()
    );
    std::fs::create_dir(dir.path().join("parts")).unwrap();
    let (code, err) = run(&["split", &input, "-o", &template]);
    assert_eq!(code, 0, "{err}");
    let parts = dir.path().join("parts");
    assert_eq!(
        listing(&parts),
        ["linux-amd64.tar", "linux-arm64v8.tar", "linux-armv7.tar"]
    );
    for (file, platform) in [
        ("linux-amd64.tar", "linux/amd64"),
        ("linux-arm64v8.tar", "linux/arm64/v8"),
        ("linux-armv7.tar", "linux/arm/v7"),
    ] {
        let f = out_path(&dir, "f.tar");
        assert!(
            same_as_filter(&input, &["--platform", platform], &parts.join(file), &f),
            "{file}"
        );
    }
}

#[test]
fn per_image_outputs_are_filter_image_outputs() {
    let dir = tmp();
    let two = out_path(&dir, "two.tar");
    let (code, err) = run(&[
        "merge",
        &testdata("docker-legacy.tar"),
        &testdata("docker-list.tar"),
        "-o",
        two.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code, 0, "{err}");
    let template = format!("{}/{{image}}.tar.zst", dir.path().display());
    let (code, err) = run(&[
        "split",
        two.to_str().unwrap(),
        "-o",
        &template,
        "--image",
        "*dlist*,*demo:1.0-arm64",
    ]);
    assert_eq!(code, 0, "{err}");
    let f = out_path(&dir, "f.tar.zst");
    for (file, name) in [
        ("example.com_dlist_2.tar.zst", "example.com/dlist:2"),
        (
            "example.com_demo_1.0-arm64.tar.zst",
            "example.com/demo:1.0-arm64",
        ),
    ] {
        assert!(
            same_as_filter(
                two.to_str().unwrap(),
                &["--image", name],
                &dir.path().join(file),
                &f
            ),
            "{file}"
        );
    }
    assert!(!dir.path().join("example.com_other_latest.tar.zst").exists());
}

#[test]
fn a_missing_platform_gets_no_file_and_colliding_paths_are_refused() {
    let dir = tmp();
    let template = format!("{}/s-{{platform}}.tar", dir.path().display());
    let (code, err) = run(&["split", &testdata("ctr-shallow.tar"), "-o", &template]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("skipping linux/amd64"), "{err}");
    assert_eq!(listing(dir.path()), ["s-linux-arm64-v8.tar"]);
    let collide = format!("{}/{{os}}.tar", dir.path().display());
    let (code, err) = run(&["split", &testdata("oci-index.tar"), "-o", &collide]);
    assert_eq!(code, 2, "{err}");
    let plain = format!("{}/all.tar", dir.path().display());
    assert_eq!(
        run(&["split", &testdata("oci-index.tar"), "-o", &plain]).0,
        2
    );
    assert_eq!(
        listing(dir.path()),
        ["s-linux-arm64-v8.tar"],
        "nothing more written"
    );
}

#[test]
fn names_cannot_climb_out_of_the_template_directory() {
    let dir = tmp();
    let input = out_path(&dir, "evil.tar");
    let mut spec = one_image(&[0], Shape::OciIndex, false);
    spec.images[0].name = Some("../../evil/x:1".into());
    testgen::write_archive(&spec, std::fs::File::create(&input).unwrap()).unwrap();
    let sub = dir.path().join("out");
    std::fs::create_dir(&sub).unwrap();
    let template = format!("{}/{{image}}.tar", sub.display());
    let (code, err) = run(&["split", input.to_str().unwrap(), "-o", &template]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(listing(&sub), [".._.._evil_x_1.tar"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    /// split = filter --platform P, for every platform P of a generated archive.
    #[test]
    fn split_is_filter_per_platform(
        set in proptest::sample::subsequence(vec![0usize, 1, 2, 3], 1..=4),
        shape in prop_oneof![Just(Shape::OciIndex), Just(Shape::Nested), Just(Shape::DockerList), Just(Shape::Flat)],
    ) {
        let dir = tmp();
        let input = out_path(&dir, "in.tar");
        testgen::write_archive(&one_image(&set, shape, shape == Shape::Flat), std::fs::File::create(&input).unwrap()).unwrap();
        let parts = dir.path().join("parts");
        std::fs::create_dir(&parts).unwrap();
        let template = format!("{}/{{platform}}.tar", parts.display());
        let (code, err) = run(&["split", input.to_str().unwrap(), "-o", &template, "-q"]);
        prop_assert_eq!(code, 0, "{}", err);
        prop_assert_eq!(listing(&parts).len(), set.len());
        for &i in &set {
            let file = parts.join(format!("{}.tar", PLATFORMS[i].replace('/', "-")));
            let f = out_path(&dir, "f.tar");
            prop_assert!(same_as_filter(input.to_str().unwrap(), &["--platform", PLATFORMS[i]], &file, &f));
        }
    }
}
