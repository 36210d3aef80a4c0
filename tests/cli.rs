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

fn run_filter(input: &str, out: &std::path::Path, args: &[&str]) -> std::process::Output {
    bin()
        .args(["filter", &testdata(input), "-o"])
        .arg(out)
        .args(args)
        .output()
        .expect("run")
}

#[test]
fn level_is_validated_not_clamped() {
    let d = tmp();
    let gz = d.path().join("x.tar.gz");
    let plain = d.path().join("x.tar");
    let p = ["--platform", "linux/amd64"];
    for (out, args, needle) in [
        (&gz, &["--level", "30"][..], "gzip levels are 1-9"),
        (&gz, &["--level", "0"], "gzip levels are 1-9"),
        (
            &plain,
            &["--compress", "zstd", "--level", "99"],
            "zstd levels are 1-19",
        ),
        (&plain, &["--level", "3"], "not compressed"),
        (
            &gz,
            &["--compress", "none", "--level", "3"],
            "not compressed",
        ),
    ] {
        let r = run_filter("oci-index.tar", out, &[&p[..], args].concat());
        assert_eq!(r.status.code(), Some(2), "{args:?}");
        let msg = String::from_utf8_lossy(&r.stderr);
        assert!(msg.contains(needle), "{args:?}: {msg}");
        assert!(!out.exists());
    }
    let r = run_filter("oci-index.tar", &gz, &[&p[..], &["--level", "9"]].concat());
    assert!(r.status.success());
    let r = bin()
        .args([
            "filter",
            &testdata("oci-index.tar"),
            "-o",
            "-",
            "--level",
            "5",
        ])
        .output()
        .expect("run");
    assert_eq!(
        r.status.code(),
        Some(2),
        "stdout is not compressed under auto"
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn ls_platform_matching_nothing_is_exit_3_like_filter() {
    let r = bin()
        .args(["ls", &testdata("oci-index.tar"), "--platform", "linux/mips"])
        .output()
        .expect("run");
    assert_eq!(r.status.code(), Some(3));
    assert!(r.stdout.is_empty());
    let msg = String::from_utf8_lossy(&r.stderr);
    assert!(
        msg.starts_with("ocislim: error: --platform linux/mips matched no platform")
            && msg.contains("linux/amd64, linux/arm64/v8, linux/arm/v7"),
        "{msg}"
    );
    let r = bin()
        .args([
            "ls",
            &testdata("oci-index.tar"),
            "--platform",
            "linux/arm64",
        ])
        .output()
        .expect("run");
    assert!(r.status.success());
}

#[test]
fn json_report_goes_to_stderr_when_the_archive_is_on_stdout() {
    let r = bin()
        .args(["filter", &testdata("oci-index.tar"), "-o", "-", "--json"])
        .args(["--platform", "linux/amd64"])
        .output()
        .expect("run");
    assert!(r.status.success());
    assert_eq!(&r.stdout[257..262], b"ustar", "stdout holds the archive");
    let report: serde_json::Value = serde_json::from_slice(&r.stderr).expect("JSON on stderr");
    assert_eq!(report["output"], "-");
    assert_eq!(report["images"][0]["kept"][0], "linux/amd64");
    assert!(report["sha256"].as_str().unwrap().starts_with("sha256:"));
}

/// Every key of every object in `v`, recursively.
fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                keys(x, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

#[test]
fn every_json_document_is_camel_case_and_blobs_agree() {
    for f in [
        "docker-legacy.tar",
        "oci-index.tar",
        "ctr-shallow.tar",
        "oci-layout-dir",
    ] {
        let verify = bin()
            .args(["verify", &testdata(f), "--json"])
            .output()
            .expect("run");
        let v: serde_json::Value = serde_json::from_slice(&verify.stdout).expect("json");
        let ls = common::ls_json(&testdata(f));
        let d = tmp();
        let filter = bin()
            .args(["filter", &testdata(f), "-o"])
            .arg(d.path().join("o.tar"))
            .args(["--json", "--skip-missing"])
            .output()
            .expect("run");
        let fj: serde_json::Value = serde_json::from_slice(&filter.stdout).expect("json");
        let mut all = Vec::new();
        for doc in [&v, &ls, &fj] {
            keys(doc, &mut all);
        }
        for k in &all {
            assert!(!k.contains('_') && !k.contains('-'), "{f}: key {k}");
        }
        assert_eq!(v["blobsChecked"], ls["archive"]["blobs"], "{f}");
    }
    // The legacy fixture: two configs and three distinct layer files (one shared).
    let ls = common::ls_json(&testdata("docker-legacy.tar"));
    assert_eq!(ls["archive"]["blobs"], 5);
}

#[test]
fn a_legacy_image_shows_every_tag() {
    let ls = common::ls_json(&testdata("docker-legacy.tar"));
    let first = &ls["images"][0];
    assert_eq!(first["name"], "example.com/demo:1.0-amd64");
    assert_eq!(
        first["tags"],
        serde_json::json!(["example.com/demo:1.0-amd64", "example.com/other:latest"])
    );
    let tree = bin()
        .args(["ls", &testdata("docker-legacy.tar")])
        .output()
        .expect("run");
    let tree = String::from_utf8(tree.stdout).unwrap();
    let lines: Vec<&str> = tree.lines().collect();
    assert!(lines[1].starts_with("example.com/demo:1.0-amd64 "));
    assert_eq!(lines[2], "example.com/other:latest");
}

#[test]
fn messages_name_what_the_user_gave() {
    let d = tmp();
    let out = d.path().join("no/such/dir/x.tar");
    let r = run_filter("oci-index.tar", &out, &["--platform", "linux/amd64"]);
    assert_eq!(r.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&r.stderr);
    assert!(
        msg.contains("no/such/dir: No such file or directory") && !msg.contains(".ocislim-"),
        "{msg}"
    );
    let out = d.path().join("x.tar");
    let r = run_filter(
        "ctr-shallow.tar",
        &out,
        &["--platform", "linux/amd64", "--skip-missing"],
    );
    assert_eq!(r.status.code(), Some(3));
    let msg = String::from_utf8_lossy(&r.stderr);
    assert!(
        msg.contains("skipped for missing content (--skip-missing): linux/amd64"),
        "{msg}"
    );
}

/// In the tree, every cell starts at its header's column (PLATFORMS, a count, ends at its
/// header's end) and nothing runs into the next column.
#[test]
fn tree_cells_stay_in_their_columns() {
    for f in ["ctr-shallow.tar", "docker-legacy.tar", "oci-index.tar"] {
        let out = bin().args(["ls", &testdata(f)]).output().expect("run");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        let start = |h: &str| header.find(h).unwrap();
        let (size, extra) = (start("SIZE"), start("EXTRA"));
        for line in lines.filter(|l| l.chars().count() > size) {
            let chars: Vec<char> = line.chars().collect();
            assert_ne!(chars[size], ' ', "{f}: size starts under SIZE: {line}");
            assert_eq!(chars[size - 1], ' ', "{f}: {line}");
            let cell: String = chars[size..extra.min(chars.len())].iter().collect();
            assert!(cell.ends_with("   ") || chars.len() <= extra, "{f}: {line}");
        }
    }
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = bin().args(["completions", shell]).output().expect("run");
        assert!(r.status.success(), "{shell}");
        let script = String::from_utf8(r.stdout).expect("utf-8");
        for word in ["filter", "docker-platform", "skip-missing", "verify"] {
            assert!(script.contains(word), "{shell} script names {word}");
        }
    }
    // bash loads it and completes the verbs, not the hidden `man`.
    let exe = env!("CARGO_BIN_EXE_ocislim");
    let complete = |word: &str| {
        let script = format!(
            "source <({exe} completions bash) && COMP_WORDS=(ocislim {word}) COMP_CWORD=1 \
             && _ocislim ocislim {word} ocislim && echo \"${{COMPREPLY[@]}}\""
        );
        let r = std::process::Command::new("bash")
            .args(["-c", &script])
            .output()
            .expect("bash");
        String::from_utf8_lossy(&r.stdout).trim().to_string()
    };
    assert_eq!(complete("fi"), "filter");
    assert_eq!(complete("v"), "verify");
    assert_eq!(
        complete("m"),
        "merge",
        "the hidden man command is not offered"
    );
    let r = bin().args(["completions", "tcsh"]).output().expect("run");
    assert_eq!(r.status.code(), Some(2));
}

#[test]
fn man_pages_one_per_command() {
    let d = tmp();
    let r = bin().arg("man").arg(d.path()).output().expect("run");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let mut names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ocislim-apply.1",
            "ocislim-completions.1",
            "ocislim-delta.1",
            "ocislim-filter.1",
            "ocislim-ls.1",
            "ocislim-merge.1",
            "ocislim-split.1",
            "ocislim-verify.1",
            "ocislim.1"
        ]
    );
    let filter = std::fs::read_to_string(d.path().join("ocislim-filter.1")).unwrap();
    assert!(
        filter.starts_with(".ie") || filter.starts_with(".TH"),
        "roff"
    );
    assert!(filter.contains("skip\\-missing") && filter.contains("Examples:"));
    let r = bin().args(["man", "/no/such/dir"]).output().expect("run");
    assert_eq!(r.status.code(), Some(1));
}
