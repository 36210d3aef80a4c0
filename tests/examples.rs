//! Every example in `--help` (of the tool and of each command) and in the README's `sh` blocks
//! runs as written, against copies of the testdata archives under the names the examples use.
//! A pipe into `docker load` or `ctr` (a daemon) becomes a pipe into `tar -t`, and the archive
//! must then hold what that client reads (`manifest.json` for docker, `index.json` for ctr);
//! `scripts/interop.sh` runs the real clients.

mod common;

use common::{bin, testdata, tmp};
use std::path::Path;
use std::process::Command;

/// The example names and the fixtures standing in for them.
const FIXTURES: &[(&str, &str)] = &[
    ("image.tar", "oci-index.tar"),
    ("image.tar.gz", "oci-index.tar.gz"),
    ("all.tar", "oci-index.tar"),
    ("slim.tar", "oci-index.tar"),
    ("shallow.tar", "ctr-shallow.tar"),
    ("oci-index.tar", "oci-index.tar"),
];

/// Commands that make the other archives the examples name (a verb's examples may use what an
/// earlier one wrote: `apply` the delta of `delta`).
const SETUP: &[&str] = &[
    "ocislim filter oci-index.tar -o app-amd64.tar --platform linux/amd64 -q",
    "ocislim filter oci-index.tar -o app-arm64.tar --platform linux/arm64 -q",
    "ocislim filter oci-index.tar -o bundle.tar --tag example.com/=registry.local/ -q",
    "cp app-amd64.tar a.tar && cp app-arm64.tar b.tar && cp app-amd64.tar base.tar",
    "cp app-amd64.tar old.tar && cp oci-index.tar new.tar && cp oci-index.tar app-v2.tar",
    "cp app-amd64.tar app-v1.tar && cp app-amd64.tar old-a.tar && cp app-arm64.tar old-b.tar",
    "tar -tf app-amd64.tar | sed -n 's#^blobs/sha256/\\(.\\)#sha256:\\1#p' > far-side-digests.txt",
    "mkdir -p dist images out",
];

/// The verbs whose `--help` has examples, in an order where each finds what it reads; "" is
/// the tool itself.
const HELPS: &[&str] = &[
    "",
    "ls",
    "filter",
    "merge",
    "delta",
    "apply",
    "split",
    "verify",
    "completions",
];

/// The indented lines under `Examples:` in a help text.
fn help_examples(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Examples:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim().to_string())
        .collect()
}

/// The commands of the README's `sh` blocks that run ocislim.
fn readme_examples() -> Vec<String> {
    let readme = std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR")))
        .expect("README");
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        match line {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            l if in_sh && (l.starts_with("ocislim ") || l.starts_with("cargo run ")) => {
                out.push(l.replace("cargo run --release -- ", "ocislim "))
            }
            _ => {}
        }
    }
    out
}

/// Run `example` with bash in `dir`, the binary first on PATH. A pipe into a daemon client is
/// checked with `tar -t` instead.
fn run(example: &str, dir: &Path) {
    let (cmd, needs) = match example.split_once(" | ") {
        Some((left, "docker load")) => (format!("{left} | tar -t"), Some("manifest.json")),
        Some((left, right)) if right.starts_with("ctr ") => {
            (format!("{left} | tar -t"), Some("index.json"))
        }
        _ => (example.to_string(), None),
    };
    let cmd = cmd.replace("/tmp/", "./");
    let exe = Path::new(env!("CARGO_BIN_EXE_ocislim"));
    let path = format!(
        "{}:{}",
        exe.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-o", "pipefail", "-c", &cmd])
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "example `{example}` failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(member) = needs {
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(
            listing
                .lines()
                .any(|l| l.trim_start_matches("./") == member),
            "example `{example}`: the archive has no {member}"
        );
    }
}

fn workdir() -> tempfile::TempDir {
    let d = tmp();
    for (name, fixture) in FIXTURES {
        std::fs::copy(testdata(fixture), d.path().join(name)).expect("copy fixture");
    }
    std::os::unix::fs::symlink(testdata(""), d.path().join("testdata")).expect("link");
    for cmd in SETUP {
        run(cmd, d.path());
    }
    d
}

#[test]
fn every_help_example_runs_as_written() {
    let d = workdir();
    let mut ran = 0;
    for verb in HELPS {
        let args: Vec<&str> = [*verb, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let out = bin().args(&args).output().expect("help");
        let examples = help_examples(&String::from_utf8_lossy(&out.stdout));
        assert!(!examples.is_empty(), "`ocislim {verb} --help` has examples");
        for e in examples {
            run(&e, d.path());
            ran += 1;
        }
    }
    assert!(ran >= 12, "{ran} examples");
}

#[test]
fn every_readme_example_runs_as_written() {
    let d = workdir();
    let examples = readme_examples();
    assert!(examples.len() >= 8, "{examples:?}");
    for e in &examples {
        run(e, d.path());
    }
}
