//! The command line itself: the exit codes the help text and the README print are the ones the
//! binary uses, flags parsed by clap (platform lists, conflicts).

mod common;

use common::{bin, testdata, tmp};
use ocislim::exit_codes::ExitCode;

fn help(args: &[&str]) -> String {
    let out = bin().args(args).arg("--help").output().expect("run");
    assert!(out.status.success());
    String::from_utf8(out.stdout).expect("utf-8 help")
}

/// `(code, meaning)` pairs of an `Exit codes: 0 ok, 1 ...` line.
fn help_codes(text: &str) -> Vec<(u8, String)> {
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Exit codes: "))
        .expect("an exit code line");
    line.split(", ")
        .map(|item| {
            let (n, meaning) = item.split_once(' ').expect("code and meaning");
            (n.parse().expect("a number"), meaning.to_string())
        })
        .collect()
}

#[test]
fn help_exit_codes_are_the_binarys() {
    let top: Vec<(u8, String)> = ExitCode::ALL
        .iter()
        .map(|c| (c.code(), c.summary().to_string()))
        .collect();
    assert_eq!(help_codes(&help(&[])), top);
    let verify = help_codes(&help(&["verify"]));
    let codes: Vec<u8> = verify.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        codes,
        [
            ExitCode::Success.code(),
            ExitCode::Shallow.code(),
            ExitCode::Failure.code()
        ]
    );
}

#[test]
fn readme_exit_code_table_lists_every_code() {
    let readme = std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR")))
        .expect("README");
    let section = readme
        .split("## Exit codes")
        .nth(1)
        .expect("an Exit codes section");
    let codes: Vec<u8> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1)?.trim().parse().ok())
        .collect();
    let all: Vec<u8> = ExitCode::ALL.iter().map(|c| c.code()).collect();
    assert_eq!(codes, all);
}

#[test]
fn platform_lists_are_parsed_by_clap_and_conflicts_declared() {
    let d = tmp();
    let out = d.path().join("x.tar");
    let run = |args: &[&str]| {
        bin()
            .args(["filter", &testdata("oci-index.tar"), "-o"])
            .arg(&out)
            .args(args)
            .output()
            .expect("run")
    };
    let ok = run(&[
        "--platform",
        " linux/amd64 ,linux/arm64",
        "--platform",
        "linux/arm/v7",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for bad in [
        &["--platform", "linux/amd64,"][..],
        &["--exclude", "linux/*"],
        &["--docker-platform", ""],
        &["--keep-index", "--skip-missing"],
    ] {
        let r = run(bad);
        assert_eq!(r.status.code(), Some(2), "{bad:?}");
        let msg = String::from_utf8_lossy(&r.stderr);
        assert!(msg.contains("error:"), "{bad:?}: {msg}");
    }
    let r = run(&["--keep-index", "--skip-missing"]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("cannot be used with"));
    let r = bin()
        .args([
            "ls",
            &testdata("oci-index.tar"),
            "--platform",
            "linux/amd64,,",
        ])
        .output()
        .expect("run");
    assert_eq!(r.status.code(), Some(2));
}
