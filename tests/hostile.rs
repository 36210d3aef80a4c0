//! Hostile input (exit codes in README.md, docs/formats.md "Integrity"): every archive below is built
//! inside its test, run through the real binary, and must end in a clear one-line
//! `ocislim: error: ...` naming the member or digest with exit 1 — or, where the input is
//! harmless, be ignored with exit 0 (documented per test). Never a panic (101), a hang, a read
//! or write outside the archive and the output, or anything left at `OUT`.
//!
//! Harmless cases (exit 0), on purpose:
//! * a member name with `..` that stays inside the archive (`a/../README`) is normalised;
//! * unknown media types are opaque blobs: listed as `unknown`, kept by `filter`;
//! * `ls` never hashes layers (only the documents it parses), so a layer whose content does
//!   not match its name lists fine (`verify` and `filter` catch it);
//! * escaping paths in the `manifest.json` of an archive that also has `index.json` are never
//!   followed by `ls` or `filter` (which rebuilds `manifest.json` from the index); `verify`
//!   reports them (exit 1);
//! * a regular file where the `blobs/` folder should be hides the blobs: the archive is shallow.
//!
//! `verify` prints one line per problem on stdout and a one-line summary on stderr, so for
//! `verify` the digest or member is looked for in both.
//!
//! Every run has a 60 s deadline (a hang fails the test, it does not hang the suite). Beyond
//! the cases of the issue, some shapes stay under the 64 MB document cap but cost time or
//! memory out of proportion (very wide indexes, many artifacts, one index shared by many
//! roots): they must stay linear, or be refused past a bound (`graph::MAX_ROWS`).
//!
//! The output-side cases mount a tmpfs (read-only, or tiny for ENOSPC) since root ignores
//! permission bits; they are skipped, with a note on stderr, where `mount` is not allowed.
//! After SIGKILL no code runs, yet nothing stays in the output folder (the temporary file is
//! anonymous until renamed, where the file system allows); OUT itself is never touched.

mod common;

use common::{listing, sha256};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ocislim");
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

// ------------------------------------------------------------------------------------------
// Building archives

/// One member of a test archive.
#[derive(Clone, Debug)]
enum M {
    /// A regular file written with the tar crate (which refuses `..` and absolute names).
    File(String, Vec<u8>),
    /// A regular file whose header is written by hand, for names the tar crate refuses.
    RawFile(String, Vec<u8>),
    Symlink(String, String),
    HardLink(String, String),
    Dir(String),
}

fn file(name: &str, data: impl Into<Vec<u8>>) -> M {
    M::File(name.to_string(), data.into())
}

fn octal(field: &mut [u8], v: u64) {
    let s = format!("{:0w$o}\0", v, w = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

/// A ustar header written byte by byte, with a correct checksum.
fn raw_header(name: &str, size: u64, typeflag: u8, link: &str) -> [u8; 512] {
    assert!(name.len() <= 100 && link.len() <= 100);
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0);
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn pad(v: &mut Vec<u8>) {
    while v.len() % 512 != 0 {
        v.push(0);
    }
}

/// Serialise members into an uncompressed tar (with the two-block trailer).
fn tar_bytes(members: &[M]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_mtime(0);
        match m {
            M::File(name, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, name, &data[..]).unwrap();
            }
            M::RawFile(name, data) => {
                let out = b.get_mut();
                out.extend_from_slice(&raw_header(name, data.len() as u64, b'0', ""));
                out.extend_from_slice(data);
                pad(out);
            }
            M::Symlink(name, target) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, name, target).unwrap();
            }
            M::HardLink(name, target) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Link);
                b.append_link(&mut h, name, target).unwrap();
            }
            M::Dir(name) => {
                h.set_size(0);
                h.set_mode(0o755);
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, name, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn hex_of(b: &[u8]) -> String {
    sha256(b)[7..].to_string()
}

fn blob_name(b: &[u8]) -> String {
    format!("blobs/sha256/{}", hex_of(b))
}

fn desc(media_type: &str, b: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": sha256(b), "size": b.len()})
}

fn to_vec(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// A small valid single-platform OCI image: layer, config, manifest, image index.
struct Image {
    layer: Vec<u8>,
    config: Vec<u8>,
    manifest: Vec<u8>,
    index: Vec<u8>,
}

impl Image {
    fn new() -> Image {
        let layer = b"pretend this is a layer tarball\n".repeat(8);
        let config = to_vec(&json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]},
        }));
        Image::with(layer, config)
    }

    /// An image over the given layer and config bytes.
    fn with(layer: Vec<u8>, config: Vec<u8>) -> Image {
        let manifest = to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, &config),
            "layers": [desc(OCI_LAYER, &layer)],
        }));
        let mut md = desc(OCI_MANIFEST, &manifest);
        md["platform"] = json!({"architecture": "amd64", "os": "linux"});
        let index = to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [md],
        }));
        Image {
            layer,
            config,
            manifest,
            index,
        }
    }

    /// The `index.json` root naming the image index.
    fn root(&self) -> Value {
        let mut r = desc(OCI_INDEX, &self.index);
        r["annotations"] = json!({"org.opencontainers.image.ref.name": "hostile.example/img:1"});
        r
    }

    fn blobs(&self) -> Vec<M> {
        [&self.layer, &self.config, &self.manifest, &self.index]
            .into_iter()
            .map(|b| file(&blob_name(b), b.clone()))
            .collect()
    }

    /// The whole OCI archive: `oci-layout`, `index.json` and the blobs.
    fn members(&self) -> Vec<M> {
        let mut v = layout_head(&[self.root()]);
        v.extend(self.blobs());
        v
    }
}

/// `oci-layout` and an `index.json` with these roots.
fn layout_head(roots: &[Value]) -> Vec<M> {
    vec![
        file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
        file(
            "index.json",
            to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": roots})),
        ),
    ]
}

/// A legacy `docker save` archive (Docker ≤ 24) whose single image lists `layer_path`; the
/// member at `layer_path` is left to the caller (a file, or a link).
fn legacy_members(config_path: &str, layer_path: &str) -> (Vec<M>, Vec<u8>) {
    let layer = b"legacy layer bytes\n".repeat(4);
    let config = to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]},
    }));
    let manifest = to_vec(&json!([{
        "Config": config_path, "RepoTags": ["hostile.example/legacy:1"], "Layers": [layer_path],
    }]));
    let members = vec![
        file("manifest.json", manifest),
        file(
            "repositories",
            to_vec(&json!({"hostile.example/legacy": {"1": "abc"}})),
        ),
        file(&format!("{}.json", hex_of(&config)), config.clone()),
        file(&format!("{}.tar", hex_of(&layer)), layer.clone()),
        M::Dir("abc/".into()),
        file("abc/VERSION", &b"1.0"[..]),
        file("abc/json", &b"{}"[..]),
    ];
    (members, config)
}

/// A legacy archive whose config is `<hex>.json` and whose layer path is `abc/layer.tar`.
fn legacy(extra: Vec<M>) -> Vec<M> {
    let (mut ms, config) = legacy_members("", "abc/layer.tar");
    // Point Config at the real config file.
    ms[0] = file(
        "manifest.json",
        to_vec(&json!([{
            "Config": format!("{}.json", hex_of(&config)),
            "RepoTags": ["hostile.example/legacy:1"], "Layers": ["abc/layer.tar"],
        }])),
    );
    ms.extend(extra);
    ms
}

// ------------------------------------------------------------------------------------------
// Running the binary

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Run ocislim with a deadline: a hang fails the test instead of hanging the suite.
fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    run_with_stdin(args, None)
}

fn run_with_stdin<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ocislim");
    if let Some(data) = stdin {
        let mut w = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    // Drain the pipes while waiting, or a big output would block the child.
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            v
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as _));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as _));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let shown: Vec<String> = args
                .iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect();
            panic!("ocislim {shown:?} hung (killed after 60 s)");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
    }
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Exit 1 with exactly one `ocislim: error:` line on stderr containing `needle`
    /// (for `verify`, the needle may be on stdout, in the problem list).
    fn fails(&self, needle: &str, verify: bool) {
        assert_ne!(self.code, Some(101), "panic!\n{}", self.describe());
        assert_eq!(self.code, Some(1), "{}", self.describe());
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr\n{}", self.describe());
        assert!(
            lines[0].starts_with("ocislim: error: "),
            "{}",
            self.describe()
        );
        eprintln!("  exit 1: {}", lines[0]);
        let found = lines[0].contains(needle) || verify && self.stdout.contains(needle);
        assert!(found, "message should name {needle:?}\n{}", self.describe());
    }

    fn ok(&self) {
        assert_eq!(self.code, Some(0), "{}", self.describe());
    }
}

struct Case {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Case {
    fn new(bytes: &[u8]) -> Case {
        Case::named(bytes, "in.tar")
    }
    fn named(bytes: &[u8], name: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        Case { _dir: dir, path }
    }
    fn of(members: &[M]) -> Case {
        Case::new(&tar_bytes(members))
    }
    fn p(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// `filter ARCHIVE -o OUT` fails with exit 1 naming `needle`, leaves nothing at OUT (no temp
/// file either), and on a second run leaves a previous OUT byte for byte as it was.
fn filter_fails(archive: &str, extra: &[&str], needle: &str) {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("out.tar");
    let mut args = vec!["filter", archive, "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args).fails(needle, false);
    assert!(listing(out_dir.path()).is_empty(), "nothing left behind");

    std::fs::write(&out, b"previous OUT").unwrap();
    run(&args).fails(needle, false);
    assert_eq!(std::fs::read(&out).unwrap(), b"previous OUT");
    assert_eq!(listing(out_dir.path()), ["out.tar"]);
}

/// `ocislim filter ARCHIVE -o OUT EXTRA...`, OUT in a fresh folder removed afterwards.
fn filter_run(archive: &str, extra: &[&str]) -> Run {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("o.tar");
    let mut args = vec!["filter", archive, "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

/// A guard against quadratic blow-ups, not a benchmark: the shapes that would take hours if
/// handled in quadratic time must be done well within 30 s.
fn assert_linear_time(started: Instant) {
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "{took:?}");
}

/// `ls`, `verify` and `filter` all fail with exit 1 and name `needle`.
fn all_fail(archive: &str, needle: &str) {
    run(&["ls", archive]).fails(needle, false);
    run(&["ls", archive, "--format", "json"]).fails(needle, false);
    run(&["verify", archive]).fails(needle, true);
    filter_fails(archive, &[], needle);
    filter_fails(archive, &["--platform", "linux/amd64"], needle);
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 3).unwrap()
}

/// Deterministic junk.
fn junk(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// The baseline: the archives the hostile cases start from are valid.

#[test]
fn baselines_are_valid() {
    let c = Case::of(&Image::new().members());
    run(&["ls", c.p()]).ok();
    run(&["verify", c.p()]).ok();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.tar");
    run(&["filter", c.p(), "-o", out.to_str().unwrap(), "-q"]).ok();
    common::check_oci_output(&out, false);

    let c = Case::of(&legacy(vec![M::Symlink(
        "abc/layer.tar".into(),
        format!("../{}.tar", hex_of(&b"legacy layer bytes\n".repeat(4))),
    )]));
    run(&["ls", c.p()]).ok();
    run(&["verify", c.p()]).ok();
    let out = dir.path().join("l.tar");
    run(&["filter", c.p(), "-o", out.to_str().unwrap(), "-q"]).ok();
}

// ------------------------------------------------------------------------------------------
// Member names

#[test]
fn member_names_with_dotdot() {
    for name in [
        "../evil",
        "blobs/../../evil",
        "./../evil",
        "a/b/../../../evil",
    ] {
        let mut ms = Image::new().members();
        ms.push(M::RawFile(name.into(), b"x".to_vec()));
        let c = Case::of(&ms);
        all_fail(c.p(), name);
    }
}

#[test]
fn member_names_absolute() {
    for name in ["/etc/passwd", "/index.json", "//blobs/sha256/x"] {
        let mut ms = Image::new().members();
        ms.insert(0, M::RawFile(name.into(), b"root:x:0:0\n".to_vec()));
        let c = Case::of(&ms);
        all_fail(c.p(), name);
    }
}

/// Harmless: `..` that stays inside the archive is normalised away (`a/../README` is `README`).
#[test]
fn member_name_dotdot_inside_is_normalised() {
    let mut ms = Image::new().members();
    ms.push(M::RawFile("a/../README".into(), b"hi".to_vec()));
    let c = Case::of(&ms);
    run(&["ls", c.p()]).ok();
    run(&["verify", c.p()]).ok();
}

// ------------------------------------------------------------------------------------------
// Links

/// Legacy layout: `manifest.json` paths go through links; links that leave the archive fail.
#[test]
fn legacy_links_that_leave_the_archive() {
    for link in [
        M::Symlink("abc/layer.tar".into(), "../../../etc/passwd".into()),
        M::Symlink("abc/layer.tar".into(), "/etc/passwd".into()),
        M::HardLink("abc/layer.tar".into(), "../etc/passwd".into()),
        M::HardLink("abc/layer.tar".into(), "/etc/passwd".into()),
    ] {
        let c = Case::of(&legacy(vec![link.clone()]));
        all_fail(c.p(), "abc/layer.tar");
    }
}

#[test]
fn legacy_config_link_that_leaves_the_archive() {
    let (mut ms, _) = legacy_members("cfg.json", "abc/layer.tar");
    ms.push(M::Symlink("cfg.json".into(), "../../etc/hostname".into()));
    ms.push(M::Symlink(
        "abc/layer.tar".into(),
        format!("../{}.tar", hex_of(&b"legacy layer bytes\n".repeat(4))),
    ));
    let c = Case::of(&ms);
    all_fail(c.p(), "cfg.json");
}

#[test]
fn legacy_link_loops() {
    let cases: Vec<Vec<M>> = vec![
        // a/layer.tar -> ../b/layer.tar -> ../abc/layer.tar (the listed path)
        vec![
            M::Symlink("abc/layer.tar".into(), "../b/layer.tar".into()),
            M::Symlink("b/layer.tar".into(), "../abc/layer.tar".into()),
        ],
        vec![M::Symlink("abc/layer.tar".into(), "layer.tar".into())],
        vec![
            M::HardLink("abc/layer.tar".into(), "b/layer.tar".into()),
            M::HardLink("b/layer.tar".into(), "abc/layer.tar".into()),
        ],
        vec![
            M::Symlink("abc/layer.tar".into(), "../b/layer.tar".into()),
            M::HardLink("b/layer.tar".into(), "abc/layer.tar".into()),
        ],
    ];
    for links in cases {
        let c = Case::of(&legacy(links));
        all_fail(c.p(), "abc/layer.tar");
    }
}

/// Links under `blobs/` and at `index.json` that leave the archive or loop.
#[test]
fn oci_links_that_leave_the_archive_or_loop() {
    let img = Image::new();
    let layer = blob_name(&img.layer);
    let variants: Vec<(Vec<M>, String)> = vec![
        (
            vec![M::Symlink(layer.clone(), "../../../etc/passwd".into())],
            layer.clone(),
        ),
        (
            vec![M::Symlink(layer.clone(), "/etc/passwd".into())],
            layer.clone(),
        ),
        (
            vec![M::HardLink(layer.clone(), "/etc/passwd".into())],
            layer.clone(),
        ),
        (
            vec![M::HardLink(layer.clone(), "../etc/passwd".into())],
            layer.clone(),
        ),
        (
            vec![M::Symlink(layer.clone(), layer_file(&layer))],
            layer.clone(),
        ),
        (
            vec![
                M::Symlink(layer.clone(), "loop".into()),
                M::Symlink("blobs/sha256/loop".into(), layer_file(&layer)),
            ],
            layer.clone(),
        ),
    ];
    for (links, needle) in variants {
        let mut ms = layout_head(&[img.root()]);
        ms.extend(
            img.blobs()
                .into_iter()
                .filter(|m| !matches!(m, M::File(n, _) if *n == layer)),
        );
        ms.extend(links);
        let c = Case::of(&ms);
        all_fail(c.p(), &needle);
    }

    // index.json itself a link out of the archive.
    for target in ["/etc/passwd", "../../etc/passwd"] {
        let mut ms = vec![
            file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
            M::Symlink("index.json".into(), target.into()),
        ];
        ms.extend(img.blobs());
        let c = Case::of(&ms);
        all_fail(c.p(), "index.json");
    }
}

/// The last component of a member name (a symlink to it, from its own folder, is a self-loop).
fn layer_file(name: &str) -> String {
    name.rsplit('/').next().unwrap().to_string()
}

// ------------------------------------------------------------------------------------------
// manifest.json paths

#[test]
fn legacy_manifest_json_paths_that_escape() {
    for (config, layer, needle) in [
        ("../../etc/passwd", "abc/layer.tar", "../../etc/passwd"),
        ("/etc/passwd", "abc/layer.tar", "/etc/passwd"),
        ("CONFIG", "../../../etc/shadow", "../../../etc/shadow"),
        ("CONFIG", "/etc/shadow", "/etc/shadow"),
        ("CONFIG", "abc/../../etc/shadow", "abc/../../etc/shadow"),
    ] {
        let (mut ms, cfg) = legacy_members("", layer);
        let config = config.replace("CONFIG", &format!("{}.json", hex_of(&cfg)));
        ms[0] = file(
            "manifest.json",
            to_vec(&json!([{"Config": config, "RepoTags": ["x/y:1"], "Layers": [layer]}])),
        );
        let c = Case::of(&ms);
        all_fail(c.p(), needle);
    }
}

/// Docker 25+ layout (index.json + manifest.json): `ls` and `filter` never follow
/// manifest.json paths (filter writes a new one from the index), so they succeed; `verify`
/// checks them and fails.
#[test]
fn docker_manifest_json_paths_that_escape() {
    let img = Image::new();
    for (config, layer) in [
        ("../../etc/passwd".to_string(), blob_name(&img.layer)),
        ("/etc/passwd".to_string(), blob_name(&img.layer)),
        (blob_name(&img.config), "../../../etc/shadow".to_string()),
        (blob_name(&img.config), "/etc/shadow".to_string()),
    ] {
        let mut ms = img.members();
        ms.push(file(
            "manifest.json",
            to_vec(&json!([{"Config": config, "RepoTags": ["x/y:1"], "Layers": [layer]}])),
        ));
        let c = Case::of(&ms);
        run(&["ls", c.p()]).ok();
        let needle = if config.starts_with("blobs/") {
            &layer
        } else {
            &config
        };
        run(&["verify", c.p()]).fails(needle, true);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o.tar");
        run(&["filter", c.p(), "-o", out.to_str().unwrap(), "-q"]).ok();
        let files = common::read_tar(&out);
        let mj: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        assert_eq!(mj[0]["Config"], json!(blob_name(&img.config)));
        assert_eq!(mj[0]["Layers"], json!([blob_name(&img.layer)]));
    }
}

// ------------------------------------------------------------------------------------------
// Digests

const BAD_DIGESTS: [&str; 11] = [
    "",
    "sha256",
    "sha256:",
    "md5:d41d8cd98f00b204e9800998ecf8427e",
    "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "sha256:../../../../etc/passwd",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/",
    "sha256/../../../../etc:passwd",
    "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
    "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/..",
];

#[test]
fn malformed_digests_in_index_json() {
    let img = Image::new();
    for bad in BAD_DIGESTS {
        let mut root = img.root();
        root["digest"] = json!(bad);
        let mut ms = layout_head(&[root]);
        ms.extend(img.blobs());
        let c = Case::of(&ms);
        all_fail(
            c.p(),
            &format!("index.json: malformed digest {bad:?}").replace(
                "malformed digest",
                if bad.starts_with("sha256:") || bad.starts_with("sha512:") || !bad.contains(':') {
                    "malformed digest"
                } else {
                    "unsupported digest algorithm in"
                },
            ),
        );
    }
}

#[test]
fn malformed_digests_in_manifests_and_indexes() {
    for bad in BAD_DIGESTS {
        // A layer digest inside the manifest.
        let img = Image::new();
        let manifest = String::from_utf8(img.manifest.clone())
            .unwrap()
            .replace(&sha256(&img.layer), bad)
            .into_bytes();
        let mut md = desc(OCI_MANIFEST, &manifest);
        md["platform"] = json!({"architecture": "amd64", "os": "linux"});
        let index = to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [md]}));
        let mut ms = layout_head(&[desc(OCI_INDEX, &index)]);
        for b in [&img.layer, &img.config, &manifest, &index] {
            ms.push(file(&blob_name(b), b.clone()));
        }
        let c = Case::of(&ms);
        all_fail(c.p(), &blob_name(&manifest));

        // A manifest digest inside the image index.
        let index = String::from_utf8(img.index.clone())
            .unwrap()
            .replace(&sha256(&img.manifest), bad)
            .into_bytes();
        let mut ms = layout_head(&[desc(OCI_INDEX, &index)]);
        for b in [&img.layer, &img.config, &img.manifest, &index] {
            ms.push(file(&blob_name(b), b.clone()));
        }
        let c = Case::of(&ms);
        all_fail(c.p(), &blob_name(&index));
    }
}

/// A blob under a name that is not a digest is not a blob: ignored, never followed.
#[test]
fn blob_names_that_are_not_digests_are_ignored() {
    let mut ms = Image::new().members();
    ms.push(file("blobs/sha256/not-a-digest", &b"x"[..]));
    ms.push(file(
        "blobs/md5/d41d8cd98f00b204e9800998ecf8427e",
        &b"x"[..],
    ));
    ms.push(M::Symlink("blobs/sha256/zzz".into(), "../../../etc".into()));
    let c = Case::of(&ms);
    run(&["ls", c.p()]).ok();
    run(&["verify", c.p()]).ok();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.tar");
    run(&["filter", c.p(), "-o", out.to_str().unwrap(), "-q"]).ok();
    common::check_oci_output(&out, false);
}

// ------------------------------------------------------------------------------------------
// Blob content and size

/// Blobs whose content does not hash to their name: `verify` and `filter` fail (filter leaves
/// nothing, to a file, a compressed file, or stdout); `ls`, which hashes nothing, lists it.
#[test]
fn blob_content_not_matching_its_name() {
    let img = Image::new();
    for which in ["layer", "config", "manifest", "index"] {
        let mut ms = layout_head(&[img.root()]);
        let mut victim = String::new();
        for (n, b) in [
            ("layer", &img.layer),
            ("config", &img.config),
            ("manifest", &img.manifest),
            ("index", &img.index),
        ] {
            let mut data = b.clone();
            if n == which {
                // Same length, different bytes; the documents stay valid JSON with the same
                // meaning (`{"schemaVersion"` becomes `{"SchemaVersion"`, an unknown key).
                let i = if n == "layer" { 0 } else { 2 };
                data[i] = data[i].to_ascii_uppercase() ^ if n == "layer" { 1 } else { 0 };
                victim = sha256(b);
            }
            ms.push(file(&blob_name(b), data));
        }
        let c = Case::of(&ms);
        let needle = format!("blob {victim}: digest mismatch");
        // Documents are hashed before they are parsed, by every verb (`ls` included); a
        // layer or a config that no descriptor's platform needs is hashed when copied.
        let document = which == "manifest" || which == "index";
        match document {
            true => run(&["ls", c.p()]).fails(&needle, false),
            false => run(&["ls", c.p()]).ok(),
        }
        run(&["verify", c.p()]).fails(&victim, true);
        filter_fails(c.p(), &[], &needle);
        filter_fails(c.p(), &["--compress", "gzip"], &needle);
        filter_fails(c.p(), &["--keep-index"], &needle);
        // A dry run finds it too: its exit code is the real run's.
        run(&["filter", c.p(), "-o", "/nonexistent/x.tar", "--dry-run"]).fails(&needle, false);
        let unverified = run(&["filter", c.p(), "-o", "-", "--dry-run", "--no-verify"]);
        match document {
            true => unverified.fails(&needle, false),
            false => unverified.ok(),
        }
        // To stdout: the stream stops before the blob is whole and before the tar's end.
        let r = run(&["filter", c.p(), "-o", "-"]);
        r.fails(&needle, false);
        assert!(
            !r.stdout.ends_with(&"\0".repeat(1024)),
            "a whole tar streamed"
        );
    }
}

/// Descriptor sizes that do not match the blob (its content matching its digest).
#[test]
fn blob_size_not_matching_the_descriptor() {
    let img = Image::new();
    // The layer's size in the manifest.
    let wrong = (img.layer.len() + 1).to_string();
    let manifest = String::from_utf8(img.manifest.clone())
        .unwrap()
        .replace(
            &format!("\"size\":{}", img.layer.len()),
            &format!("\"size\":{wrong}"),
        )
        .into_bytes();
    assert_ne!(manifest, img.manifest);
    let mut md = desc(OCI_MANIFEST, &manifest);
    md["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let index = to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [md]}));
    let mut ms = layout_head(&[desc(OCI_INDEX, &index)]);
    for b in [&img.layer, &img.config, &manifest, &index] {
        ms.push(file(&blob_name(b), b.clone()));
    }
    let c = Case::of(&ms);
    let victim = sha256(&img.layer);
    run(&["ls", c.p()]).ok();
    run(&["verify", c.p()]).fails(&format!("blob {victim}: size mismatch"), true);
    filter_fails(c.p(), &[], &format!("blob {victim}: size mismatch"));

    // The root's size in index.json.
    let mut root = img.root();
    root["size"] = json!(img.index.len() - 1);
    let mut ms = layout_head(&[root]);
    ms.extend(img.blobs());
    let c = Case::of(&ms);
    let victim = sha256(&img.index);
    run(&["verify", c.p()]).fails(&format!("blob {victim}: size mismatch"), true);
    filter_fails(c.p(), &[], &format!("blob {victim}: size mismatch"));

    // Absurd sizes on descriptors of missing blobs: no overflow when summing sizes.
    let mut md = desc(OCI_MANIFEST, b"absent manifest");
    md["size"] = json!(u64::MAX);
    md["platform"] = json!({"architecture": "arm64", "os": "linux"});
    let mut md2 = md.clone();
    md2["digest"] = json!(sha256(b"another absent manifest"));
    md2["platform"] = json!({"architecture": "s390x", "os": "linux"});
    let index =
        to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [md, md2]}));
    let mut ms = layout_head(&[desc(OCI_INDEX, &index), desc(OCI_INDEX, &index)]);
    ms.push(file(&blob_name(&index), index.clone()));
    let c = Case::of(&ms);
    run(&["ls", c.p()]).ok();
    run(&["ls", c.p(), "--format", "json"]).ok();
    let r = run(&["verify", c.p()]);
    assert_eq!(r.code, Some(5), "shallow\n{}", r.describe());
}

// ------------------------------------------------------------------------------------------
// Broken containers

/// The offsets of the headers of an uncompressed tar.
fn header_offsets(tar: &[u8]) -> Vec<(usize, u64)> {
    let mut v = Vec::new();
    let mut pos = 0;
    while pos + 512 <= tar.len() && tar[pos..pos + 512].iter().any(|&b| b != 0) {
        let size_field = std::str::from_utf8(&tar[pos + 124..pos + 135]).unwrap();
        let size =
            u64::from_str_radix(size_field.trim_matches(|c| c == '\0' || c == ' '), 8).unwrap();
        v.push((pos, size));
        pos += 512 + (size as usize).div_ceil(512) * 512;
    }
    v
}

#[test]
fn truncated_tars() {
    let tar = tar_bytes(&Image::new().members());
    let heads = header_offsets(&tar);
    assert!(heads.len() >= 6);
    let mut cuts = Vec::new();
    for &(pos, size) in &heads[1..] {
        cuts.push(pos + 100); // inside a header
        if size > 2 {
            cuts.push(pos + 512 + size as usize / 2); // inside the content
        }
    }
    let (last, last_size) = *heads.last().unwrap();
    cuts.push(last + 512 + last_size as usize - 1); // one byte short
    for cut in cuts {
        let c = Case::new(&tar[..cut]);
        all_fail(c.p(), c.p());
        // The same through the decompression spool and stdin.
        let c = Case::new(&gzip(&tar[..cut]));
        run(&["ls", c.p()]).fails(c.p(), false);
        run_with_stdin(&["ls", "-"], Some(&tar[..cut])).fails("-", false);
    }
}

#[test]
fn files_that_are_not_tars() {
    let mut inputs: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("one byte", b"x".to_vec()),
        ("text", b"hello, I am not a tar file\n".to_vec()),
        ("one junk block", junk(512, 1)),
        ("junk", junk(10_000, 2)),
        ("zero blocks", vec![0; 1024]),
        ("png", {
            let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
            v.extend(junk(3000, 3));
            v
        }),
        ("json", to_vec(&json!({"manifests": []}))),
    ];
    // A tar, but not an image archive.
    inputs.push((
        "plain tar",
        tar_bytes(&[file("hello.txt", &b"hi"[..]), M::Dir("etc/".into())]),
    ));
    for (what, bytes) in inputs {
        let c = Case::new(&bytes);
        eprintln!("case: {what}");
        all_fail(c.p(), c.p());
        run_with_stdin(&["ls", "-"], Some(&bytes)).fails("-", false);
        if what != "plain tar" {
            // Said plainly, not as the tar reader's complaint about some header field.
            let needle = "not an image archive (empty, or not a tar file";
            run(&["ls", c.p()]).fails(needle, false);
            run_with_stdin(&["ls", "-"], Some(&bytes)).fails(needle, false);
        }
    }
    // A directory that is not an OCI layout.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("README"), b"hi").unwrap();
    all_fail(d.path().to_str().unwrap(), d.path().to_str().unwrap());
}

#[test]
fn gzip_and_zstd_garbage() {
    let tar = tar_bytes(&Image::new().members());
    let gz = gzip(&tar);
    let zs = zstd(&tar);
    let mut inputs: Vec<(&str, Vec<u8>)> = vec![
        ("gzip magic only", vec![0x1f, 0x8b]),
        (
            "gzip magic + junk",
            [&[0x1f, 0x8b][..], &junk(5000, 4)].concat(),
        ),
        (
            "gzip header + junk deflate",
            [&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3][..], &junk(5000, 5)].concat(),
        ),
        ("gzip truncated", gz[..gz.len() / 2].to_vec()),
        ("gzip of junk", gzip(&junk(5000, 6))),
        ("gzip of nothing", gzip(b"")),
        ("zstd magic only", vec![0x28, 0xb5, 0x2f, 0xfd]),
        (
            "zstd magic + junk",
            [&[0x28, 0xb5, 0x2f, 0xfd][..], &junk(5000, 7)].concat(),
        ),
        ("zstd truncated", zs[..zs.len() / 2].to_vec()),
        ("zstd of junk", zstd(&junk(5000, 8))),
    ];
    // Valid gzip followed by junk: MultiGzDecoder reads the junk as a second member.
    let mut gz_tail = gz.clone();
    gz_tail.extend_from_slice(&[0x1f, 0x8b]);
    gz_tail.extend(junk(100, 9));
    inputs.push(("gzip + junk member", gz_tail));
    // A zstd frame that asks for a 2 GiB window (decoder refuses, no huge allocation).
    inputs.push((
        "zstd huge window",
        [
            &[0x28, 0xb5, 0x2f, 0xfd][..],
            &[0x00, 0xf8], // no checksum/single-segment; window descriptor exponent 31
            &junk(64, 10),
        ]
        .concat(),
    ));
    for (what, bytes) in inputs {
        eprintln!("case: {what}");
        let c = Case::new(&bytes);
        all_fail(c.p(), c.p());
        run_with_stdin(&["ls", "-"], Some(&bytes)).fails("-", false);
    }
}

// ------------------------------------------------------------------------------------------
// JSON

#[test]
fn invalid_json_documents() {
    let img = Image::new();
    for bad in [
        &b"{not json"[..],
        b"",
        b"[]",
        b"null",
        b"\"index\"",
        b"{\"manifests\": 5}",
        b"{\"manifests\": [{\"digest\": 5}]}",
        b"{\"manifests\": [{\"mediaType\": \"x\", \"size\": -1, \"digest\": \"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}]}",
        b"{\"manifests\": [{\"mediaType\": \"x\", \"size\": 1e400, \"digest\": \"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}]}",
        b"\xff\xfe{}",
        b"{\"manifests\": []} trailing",
    ] {
        let mut ms = img.blobs();
        ms.insert(0, file("index.json", bad));
        ms.insert(0, file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]));
        let c = Case::of(&ms);
        all_fail(c.p(), "index.json");
    }
    // An invalid manifest blob (named by its real digest).
    let manifest = b"{\"config\": ".to_vec();
    let mut md = desc(OCI_MANIFEST, &manifest);
    md["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let mut ms = layout_head(&[md]);
    ms.push(file(&blob_name(&manifest), manifest.clone()));
    let c = Case::of(&ms);
    all_fail(c.p(), &blob_name(&manifest));
    // oci-layout, manifest.json, repositories.
    for (member, bad) in [
        ("oci-layout", &b"{"[..]),
        ("oci-layout", b"[]"),
        ("manifest.json", b"{\"Config\": 1}"),
        ("manifest.json", b"[{\"Layers\": []}]"),
        ("repositories", b"{{"),
    ] {
        let mut ms: Vec<M> = img
            .members()
            .into_iter()
            .filter(|m| !matches!(m, M::File(n, _) if n == member))
            .collect();
        ms.push(file(member, bad));
        let c = Case::of(&ms);
        all_fail(c.p(), member);
    }
    // A legacy config that is not JSON.
    let (mut ms, cfg) = legacy_members("", "abc/layer.tar");
    let cfg_name = format!("{}.json", hex_of(&cfg));
    ms[0] = file(
        "manifest.json",
        to_vec(&json!([{"Config": cfg_name, "RepoTags": ["x/y:1"], "Layers": []}])),
    );
    ms[2] = file(&cfg_name, &b"{\"os\": "[..]);
    let c = Case::of(&ms);
    all_fail(c.p(), &cfg_name);
}

/// A member of `size` bytes whose content is never written: the tar is made sparse, so a
/// 200 MB document costs nothing to create.
fn sparse_tar(head: &[M], big_name: &str, size: u64, tail: &[M]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.tar");
    let mut bytes = tar_bytes(head);
    bytes.truncate(bytes.len() - 1024); // drop the trailer
    bytes.extend_from_slice(&raw_header(big_name, size, b'0', ""));
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&bytes).unwrap();
    let content_end = bytes.len() as u64 + size.div_ceil(512) * 512;
    f.set_len(content_end).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&tar_bytes(tail)).unwrap();
    dir
}

#[test]
fn huge_json_documents() {
    let started = Instant::now();
    let img = Image::new();
    const HUGE: u64 = 200 << 20;
    // index.json
    let head = vec![file(
        "oci-layout",
        &br#"{"imageLayoutVersion":"1.0.0"}"#[..],
    )];
    let d = sparse_tar(&head, "index.json", HUGE, &img.blobs());
    let p = d.path().join("in.tar");
    all_fail(p.to_str().unwrap(), "index.json: document too large");
    // A manifest blob (its name need not match: it is refused before it is hashed).
    let name = blob_name(b"huge manifest");
    let mut md = desc(OCI_MANIFEST, b"huge manifest");
    md["size"] = json!(HUGE);
    let d = sparse_tar(&layout_head(&[md]), &name, HUGE, &[]);
    let p = d.path().join("in.tar");
    all_fail(p.to_str().unwrap(), &format!("{name}: document too large"));
    // manifest.json of a legacy archive.
    let d = sparse_tar(&[], "manifest.json", HUGE, &[]);
    let p = d.path().join("in.tar");
    all_fail(p.to_str().unwrap(), "manifest.json: document too large");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

/// A document of millions of tiny values would cost 16 times its size once parsed: refused
/// (index.json, a manifest blob, a legacy manifest.json), with the member named.
#[test]
fn json_of_too_many_values() {
    let tiny = |prefix: &str| format!("{prefix}[{}0]}}", "0,".repeat(3 << 20)).into_bytes();
    let index = tiny(r#"{"schemaVersion":2,"manifests":[],"x":"#);
    let c = Case::of(&[
        file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
        file("index.json", index),
    ]);
    all_fail(c.p(), "index.json: document too complex");
    let manifest = tiny(r#"{"schemaVersion":2,"x":"#);
    let name = blob_name(&manifest);
    let c = Case::of(
        &[
            layout_head(&[desc(OCI_MANIFEST, &manifest)]),
            vec![file(&name, manifest.clone())],
        ]
        .concat(),
    );
    all_fail(c.p(), &format!("{name}: document too complex"));
    let entry = r#"{"Config":"c","RepoTags":[],"Layers":[]},"#.repeat(1 << 19);
    let c = Case::of(&[file("manifest.json", format!("[{entry}{{}}]"))]);
    all_fail(c.p(), "manifest.json: document too complex");
}

#[test]
fn deeply_nested_json() {
    let img = Image::new();
    let arrays = "[".repeat(100_000).into_bytes();
    let objects = "{\"a\":".repeat(100_000).into_bytes();
    for deep in [&arrays, &objects] {
        // index.json
        let mut ms = vec![
            file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
            file("index.json", deep.clone()),
        ];
        ms.extend(img.blobs());
        let c = Case::of(&ms);
        all_fail(c.p(), "index.json");
        // Deep inside a valid-looking index.json.
        let mut inner = b"{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"x\":".to_vec();
        inner.extend_from_slice(deep);
        let mut ms = vec![
            file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
            file("index.json", inner),
        ];
        ms.extend(img.blobs());
        let c = Case::of(&ms);
        all_fail(c.p(), "index.json");
        // A manifest blob.
        let mut md = desc(OCI_MANIFEST, deep);
        md["platform"] = json!({"architecture": "amd64", "os": "linux"});
        let mut ms = layout_head(&[md]);
        ms.push(file(&blob_name(deep), deep.clone()));
        let c = Case::of(&ms);
        all_fail(c.p(), &blob_name(deep));
        // manifest.json and a legacy config.
        let c = Case::of(&[file("manifest.json", deep.clone())]);
        all_fail(c.p(), "manifest.json");
        let (mut ms, cfg) = legacy_members("", "abc/layer.tar");
        let cfg_name = format!("{}.json", hex_of(&cfg));
        ms[0] = file(
            "manifest.json",
            to_vec(&json!([{"Config": cfg_name, "RepoTags": ["x/y:1"], "Layers": []}])),
        );
        ms[2] = file(&cfg_name, deep.clone());
        let c = Case::of(&ms);
        all_fail(c.p(), &cfg_name);
    }
}

// ------------------------------------------------------------------------------------------
// Index graphs

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
    // (common::check_oci_output would walk every path itself.)
    run(&["verify", out.to_str().unwrap()]).ok();
    assert_linear_time(started);
}

// ------------------------------------------------------------------------------------------
// Members

#[test]
fn duplicate_members() {
    let img = Image::new();
    let cases: Vec<(Vec<M>, String)> = vec![
        (
            {
                let mut ms = img.members();
                ms.push(file("index.json", &b"{\"manifests\": []}"[..]));
                ms
            },
            "duplicate member index.json".into(),
        ),
        (
            {
                let mut ms = img.members();
                ms.push(file(&blob_name(&img.layer), img.layer.clone()));
                ms
            },
            format!("duplicate member {}", blob_name(&img.layer)),
        ),
        (
            {
                let mut ms = img.members();
                ms.push(M::RawFile(
                    format!("./{}", blob_name(&img.layer)),
                    b"evil".to_vec(),
                ));
                ms
            },
            format!("duplicate member ./{}", blob_name(&img.layer)),
        ),
        (
            {
                let mut ms = img.members();
                ms.push(M::Symlink("index.json".into(), "oci-layout".into()));
                ms
            },
            "duplicate member index.json".into(),
        ),
        (
            {
                let mut ms = img.members();
                ms.push(M::Dir("oci-layout/".into()));
                ms
            },
            "duplicate member oci-layout".into(),
        ),
    ];
    for (ms, needle) in cases {
        let c = Case::of(&ms);
        all_fail(c.p(), &needle);
    }
    // The same folder twice is harmless.
    let mut ms = vec![M::Dir("blobs/".into()), M::Dir("blobs/".into())];
    ms.extend(img.members());
    let c = Case::of(&ms);
    run(&["ls", c.p()]).ok();
}

/// Unknown media types are opaque: listed as `unknown`, verified, and kept by `filter` (also
/// when filtering by platform: a platform that cannot be known is kept, docs/formats.md "Filtering").
#[test]
fn unknown_media_types_are_kept_as_opaque_blobs() {
    let img = Image::new();
    let opaque = junk(3000, 11);
    let json_thing = to_vec(&json!({"hello": "world", "manifests": "not an array"}));
    let mut weird_layer_manifest = serde_json::from_slice::<Value>(&img.manifest).unwrap();
    weird_layer_manifest["layers"][0]["mediaType"] = json!("application/x-made-up");
    let wlm = to_vec(&weird_layer_manifest);
    let mut wlm_desc = desc(OCI_MANIFEST, &wlm);
    wlm_desc["platform"] = json!({"architecture": "arm64", "os": "linux"});
    let index = to_vec(
        &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            wlm_desc,
            desc("application/vnd.example.thing.v1+json", &json_thing),
            desc("application/vnd.example.blob", &opaque),
        ]}),
    );
    let mut ms = layout_head(&[
        img.root(),
        desc("application/vnd.example.opaque", &opaque),
        desc("application/vnd.example.manifest.v1+json", &json_thing),
        desc(OCI_INDEX, &index),
    ]);
    ms.extend(img.blobs());
    for b in [&opaque, &json_thing, &wlm, &index] {
        ms.push(file(&blob_name(b), b.clone()));
    }
    let c = Case::of(&ms);
    let r = run(&["ls", c.p()]);
    r.ok();
    assert!(r.stdout.contains("unknown"), "{}", r.describe());
    run(&["verify", c.p()]).ok();
    for extra in [&[][..], &["--platform", "linux/amd64"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o.tar");
        let mut args = vec!["filter", c.p(), "-o", out.to_str().unwrap(), "-q"];
        args.extend_from_slice(extra);
        run(&args).ok();
        let files = common::read_tar(&out);
        for b in [&opaque, &json_thing] {
            assert!(files.contains_key(&blob_name(b)), "opaque blob kept");
        }
        run(&["verify", out.to_str().unwrap()]).ok();
    }
}

/// A directory where `index.json` should be (in a tar and in a layout directory).
#[test]
fn directory_where_index_json_should_be() {
    let img = Image::new();
    let mut ms = vec![
        file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
        M::Dir("index.json/".into()),
        file("index.json/manifests", &b"[]"[..]),
    ];
    ms.extend(img.blobs());
    let c = Case::of(&ms);
    all_fail(c.p(), "index.json");

    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::create_dir(d.path().join("index.json")).unwrap();
    all_fail(d.path().to_str().unwrap(), "index.json");

    // manifest.json as a directory in a legacy archive.
    let c = Case::of(&[M::Dir("manifest.json/".into())]);
    all_fail(c.p(), "manifest.json");
}

/// Harmless: a regular file where the `blobs/sha256/` folder should be hides every blob; the
/// archive reads as shallow (verify exit 5), never as a path.
#[test]
fn file_where_blobs_folder_should_be() {
    let img = Image::new();
    let mut ms = layout_head(&[img.root()]);
    ms.push(file("blobs/sha256", &b"not a folder"[..]));
    let c = Case::of(&ms);
    run(&["ls", c.p()]).ok();
    assert_eq!(run(&["verify", c.p()]).code, Some(5));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.tar");
    let r = run(&["filter", c.p(), "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, Some(4), "{}", r.describe());
    assert!(listing(dir.path()).is_empty());
}

// ------------------------------------------------------------------------------------------
// The output side

#[test]
fn output_under_a_regular_file() {
    let c = Case::of(&Image::new().members());
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("plain-file");
    std::fs::write(&f, b"keep me").unwrap();
    let out = f.join("x.tar");
    run(&["filter", c.p(), "-o", out.to_str().unwrap()]).fails(f.to_str().unwrap(), false);
    assert_eq!(std::fs::read(&f).unwrap(), b"keep me");
    assert_eq!(listing(dir.path()), ["plain-file"]);
    // A folder that does not exist.
    let out = dir.path().join("no/such/dir/x.tar");
    run(&["filter", c.p(), "-o", out.to_str().unwrap()]).fails("no/such/dir", false);
    assert_eq!(listing(dir.path()), ["plain-file"]);
}

#[test]
fn output_is_an_existing_directory() {
    let c = Case::of(&Image::new().members());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a-dir");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("inside"), b"x").unwrap();
    run(&["filter", c.p(), "-o", out.to_str().unwrap()]).fails(out.to_str().unwrap(), false);
    assert_eq!(listing(dir.path()), ["a-dir"]);
    assert_eq!(listing(&out), ["inside"]);
}

/// A tmpfs mounted for the test (root only); unmounted on drop.
struct Mount(tempfile::TempDir);

impl Mount {
    fn tmpfs(opts: &str) -> Option<Mount> {
        let d = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(d.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Some(Mount(d))
        } else {
            eprintln!("skipped: cannot mount a tmpfs ({opts}) here");
            None
        }
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

/// Root ignores permission bits, so "read-only" is a read-only file system.
#[test]
fn output_on_a_read_only_file_system() {
    let c = Case::of(&Image::new().members());
    let Some(m) = Mount::tmpfs("ro,size=64k") else {
        return;
    };
    let out = m.path().join("out.tar");
    run(&["filter", c.p(), "-o", out.to_str().unwrap()]).fails(m.path().to_str().unwrap(), false);
    assert!(listing(m.path()).is_empty());
}

/// ENOSPC while writing: exit 1, nothing new at OUT, the previous OUT intact, no temp file.
#[test]
fn output_on_a_full_file_system() {
    let layer = junk(1 << 20, 12);
    let config = to_vec(&json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]}}));
    let img = Image::with(layer, config);
    let c = Case::of(&img.members());
    let Some(m) = Mount::tmpfs("size=256k") else {
        return;
    };
    let out = m.path().join("out.tar");
    std::fs::write(&out, b"previous OUT").unwrap();
    for compress in ["none", "gzip", "zstd"] {
        run(&[
            "filter",
            c.p(),
            "-o",
            out.to_str().unwrap(),
            "--compress",
            compress,
        ])
        .fails("No space left on device", false);
        assert_eq!(std::fs::read(&out).unwrap(), b"previous OUT");
        assert_eq!(listing(m.path()), ["out.tar"], "no temp file left");
    }
}

/// SIGKILL in the middle of writing: no code runs, yet nothing is left behind. The temporary
/// file is anonymous (`O_TMPFILE`) until it is renamed over OUT; only where the file system
/// cannot do that does a named `.ocislim-*.tmp` file stand in, which a SIGKILL leaves
/// (documented). OUT itself is untouched: nothing new appears at OUT, and a previous OUT keeps
/// its bytes.
#[test]
fn sigkill_mid_write_leaves_out_untouched() {
    use ocislim::testgen::{self, ArchiveSpec};
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("big.tar");
    let spec = ArchiveSpec {
        images: vec![testgen::multi_platform(
            "example.com/big:1",
            2,
            80 << 20,
            false,
        )],
        ..Default::default()
    };
    testgen::write_archive(
        &spec,
        std::io::BufWriter::new(std::fs::File::create(&input).unwrap()),
    )
    .unwrap();
    assert!(std::fs::metadata(&input).unwrap().len() > 200 << 20);

    let runs = [
        (None, "out.tar"),
        (Some(&b"previous OUT, must survive"[..]), "out.tar"),
        (None, "out.tar.gz"),
        (Some(&b"previous OUT, must survive"[..]), "out.tar.gz"),
    ];
    for (i, (previous, name)) in runs.into_iter().enumerate() {
        let out_dir = work.path().join(format!("run{i}"));
        std::fs::create_dir(&out_dir).unwrap();
        let out = out_dir.join(name);
        if let Some(p) = previous {
            std::fs::write(&out, p).unwrap();
        }
        let mut child = Command::new(BIN)
            .args([
                "filter",
                input.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "-q",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until it writes its temporary file: named in the folder, or an anonymous file
        // there that the process holds open.
        let deadline = Instant::now() + Duration::from_secs(60);
        let (tmp, named) = loop {
            let found = listing(&out_dir)
                .into_iter()
                .find(|n| n.starts_with(".ocislim-") && n.ends_with(".tmp"));
            if let Some(t) = found {
                break (out_dir.join(t), true);
            }
            if let Some(fd) = anonymous_file_in(child.id(), &out_dir) {
                break (fd, false);
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "filter finished before it could be killed"
            );
            assert!(Instant::now() < deadline, "no temp file appeared");
            std::thread::sleep(Duration::from_millis(1));
        };
        // Let it write (the gzip writer may buffer its first blocks for a while), then kill it.
        let t0 = Instant::now();
        while std::fs::metadata(&tmp).map_or(0, |m| m.len()) == 0
            && t0.elapsed() < Duration::from_millis(100)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert_eq!(status.code(), None, "killed by a signal, not finished");
        match previous {
            Some(p) => assert_eq!(std::fs::read(&out).unwrap(), p, "previous OUT intact"),
            None => assert!(!out.exists(), "nothing new at OUT"),
        }
        let left: Vec<String> = listing(&out_dir)
            .into_iter()
            .filter(|n| n != name)
            .collect();
        if named {
            // The fallback: only the abandoned temp file may be there besides OUT.
            assert!(
                left.iter()
                    .all(|n| n.starts_with(".ocislim-") && n.ends_with(".tmp")),
                "{left:?}"
            );
            eprintln!("{name}: named temp file (no O_TMPFILE here); left after SIGKILL: {left:?}");
        } else {
            assert!(left.is_empty(), "nothing left after SIGKILL: {left:?}");
        }
    }
}

/// The `/proc/PID/fd` link of a deleted (anonymous) file in `dir` that process `pid` holds.
fn anonymous_file_in(pid: u32, dir: &Path) -> Option<PathBuf> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    fds.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
        std::fs::read_link(p).is_ok_and(|t| {
            let t = t.to_string_lossy();
            t.starts_with(&*dir.to_string_lossy()) && t.ends_with(" (deleted)")
        })
    })
}

/// Control characters in member names (and raw header bytes quoted by the tar reader) are
/// escaped: the error stays on one line.
#[test]
fn control_characters_stay_on_one_line() {
    let mut ms = Image::new().members();
    ms.push(M::RawFile(
        "evil\nname\r\x1b[2J/../../../x".into(),
        b"x".to_vec(),
    ));
    let c = Case::of(&ms);
    all_fail(c.p(), "evil\\nname\\r\\u{1b}[2J");
}

/// Index documents just under the size cap with very many entries: linear, not quadratic.
#[test]
fn very_wide_indexes() {
    let n: usize = std::env::var("WIDE_N").map_or(30_000, |v| v.parse().unwrap());
    let entries: Vec<Value> = (0..n)
        .map(|i| {
            let d = format!("absent manifest {i}");
            let mut e = desc(OCI_MANIFEST, d.as_bytes());
            e["platform"] = json!({"architecture": format!("arch{i}"), "os": "linux"});
            e
        })
        .collect();
    let index = to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}));
    let img = Image::new();
    // One index with N entries, and index.json with N roots.
    let mut ms = layout_head(&[img.root(), desc(OCI_INDEX, &index)]);
    ms.extend(img.blobs());
    ms.push(file(&blob_name(&index), index.clone()));
    let wide_index = Case::of(&ms);
    let mut ms = vec![
        file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
        file("index.json", index.clone()),
    ];
    ms.extend(img.blobs());
    let wide_roots = Case::of(&ms);
    // index.json with N roots naming one present image (all kept by filter).
    let root = img.root();
    let roots: Vec<Value> = (0..n)
        .map(|i| {
            let mut r = root.clone();
            r["annotations"] = json!({"org.opencontainers.image.ref.name": format!("t{i}")});
            r
        })
        .collect();
    let mut ms = layout_head(&roots);
    ms.extend(img.blobs());
    let many_names = Case::of(&ms);
    let started = Instant::now();
    run(&["ls", many_names.p()]).ok();
    eprintln!("many names ls: {:?}", started.elapsed());
    run(&["verify", many_names.p()]).ok();
    eprintln!("many names verify: {:?}", started.elapsed());
    filter_run(many_names.p(), &["--platform", "linux/amd64", "-q"]).ok();
    eprintln!("many names filter: {:?}", started.elapsed());
    filter_run(many_names.p(), &["--format", "docker", "-q"]).ok();
    eprintln!("many names: {:?}", started.elapsed());
    assert_linear_time(started);
    for c in [&wide_index, &wide_roots] {
        let started = Instant::now();
        run(&["ls", c.p(), "--format", "json"]).ok();
        eprintln!("ls {:?}", started.elapsed());
        assert_eq!(run(&["verify", c.p()]).code, Some(5));
        eprintln!("verify {:?}", started.elapsed());
        let r = filter_run(c.p(), &["--skip-missing"]);
        assert_ne!(r.code, Some(101), "{}", r.describe());
        let r = filter_run(c.p(), &["--platform", "linux/s390x"]);
        assert_eq!(r.code, Some(3), "{}", r.describe());
        eprintln!("{:?}: {:?}", c.p(), started.elapsed());
        assert_linear_time(started);
    }
}

/// Many attestations next to many manifests in one index: matched to their subject by lookup,
/// not by scanning every artifact for every manifest.
#[test]
fn very_many_attestations() {
    let n: usize = std::env::var("WIDE_N").map_or(10_000, |v| v.parse().unwrap());
    let mut entries = Vec::new();
    for i in 0..n {
        let mut e = desc(OCI_MANIFEST, format!("absent {i}").as_bytes());
        e["platform"] = json!({"architecture": format!("arch{i}"), "os": "linux"});
        let mut a = desc(OCI_MANIFEST, format!("attestation {i}").as_bytes());
        a["platform"] = json!({"architecture": "unknown", "os": "unknown"});
        a["annotations"] = json!({"vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": e["digest"].clone()});
        entries.push(e);
        entries.push(a);
    }
    let index = to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}));
    let mut ms = layout_head(&[desc(OCI_INDEX, &index)]);
    ms.push(file(&blob_name(&index), index.clone()));
    let c = Case::of(&ms);
    let started = Instant::now();
    let r = run(&["ls", c.p(), "--format", "json"]);
    r.ok();
    assert!(r.stdout.contains("attestation"));
    assert_eq!(run(&["verify", c.p()]).code, Some(5));
    let r = filter_run(c.p(), &["--skip-missing"]);
    assert_eq!(r.code, Some(3), "{}", r.describe());
    eprintln!("{:?}", started.elapsed());
    assert_linear_time(started);
}

/// Sharing as amplification: small documents that stand for n² platform rows — n roots naming
/// one index of n entries, or n roots naming one image plus n top-level referrers of its
/// manifest — are refused with a clear error (past a million rows) instead of running out of
/// time or memory. Below the bound, the same shapes are listed.
#[test]
fn shared_index_amplification() {
    let img = Image::new();
    let md = serde_json::from_slice::<Value>(&img.index).unwrap()["manifests"][0].clone();
    let shared_index = |n: usize| {
        let entries: Vec<Value> = (0..n)
            .map(|i| {
                let mut e = desc(OCI_MANIFEST, format!("absent {i}").as_bytes());
                e["platform"] = json!({"architecture": format!("arch{i}"), "os": "linux"});
                e
            })
            .collect();
        let index =
            to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}));
        let root = desc(OCI_INDEX, &index);
        let roots: Vec<Value> = (0..n)
            .map(|i| {
                let mut r = root.clone();
                r["annotations"] = json!({"org.opencontainers.image.ref.name": format!("t{i}")});
                r
            })
            .collect();
        let mut ms = layout_head(&roots);
        ms.push(file(&blob_name(&index), index.clone()));
        Case::of(&ms)
    };
    let shared_referrers = |n: usize| {
        let mut roots = Vec::new();
        let root = img.root();
        for i in 0..n {
            let mut r = root.clone();
            r["annotations"] = json!({"org.opencontainers.image.ref.name": format!("t{i}")});
            roots.push(r);
            let mut s = desc(OCI_MANIFEST, format!("signature {i}").as_bytes());
            s["annotations"] = json!({"io.containerd.manifest.subject": md["digest"].clone()});
            roots.push(s);
        }
        let mut ms = layout_head(&roots);
        ms.extend(img.blobs());
        Case::of(&ms)
    };
    let started = Instant::now();
    for c in [shared_index(3000), shared_referrers(3000)] {
        all_fail(
            c.p(),
            "index.json: too complex: more than 1000000 platform manifests",
        );
    }
    eprintln!("refused in {:?}", started.elapsed());
    assert_linear_time(started);
    for c in [shared_index(100), shared_referrers(100)] {
        run(&["ls", c.p()]).ok();
    }
}

/// Compressed input is streamed by `ls` and `verify`, with documents kept in memory: a
/// document above the in-memory limit but within the documents' cap (a ~10 MB index) is read
/// like in an uncompressed archive (from a file; a pipe says to save it first), and a huge one
/// is refused as too large, never half-read.
#[test]
fn large_documents_in_compressed_archives() {
    // Few entries with long annotations: big, but cheap to parse in a debug build.
    let padding = "x".repeat(2500);
    let entries: Vec<Value> = (0..4_000)
        .map(|i| {
            let d = format!("absent manifest {i}");
            let mut e = desc(OCI_MANIFEST, d.as_bytes());
            e["platform"] = json!({"architecture": "amd64", "os": "linux"});
            e["annotations"] = json!({"org.example.padding": padding});
            e
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
    let index = to_vec(&index);
    assert!(index.len() > 8 << 20, "over stream::KEEP_MAX");
    let layout = file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]);
    let tar = tar_bytes(&[layout.clone(), file("index.json", index)]);
    for (name, bytes) in [
        ("in.tar", tar.clone()),
        ("in.tar.gz", gzip(&tar)),
        ("in.tar.zst", zstd(&tar)),
    ] {
        let c = Case::named(&bytes, name);
        run(&["ls", c.p(), "--format", "json"]).ok();
        let r = run(&["verify", c.p()]);
        assert_eq!(r.code, Some(5), "shallow\n{}", r.describe());
        if name != "in.tar" {
            run_with_stdin(&["ls", "-"], Some(&bytes)).fails("-", false);
        }
    }

    // An index.json over the 64 MB cap, zstd-compressed on the fly.
    const HUGE: u64 = 80 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.tar.zst");
    let mut z = zstd::Encoder::new(std::fs::File::create(&path).unwrap(), 1).unwrap();
    let head = tar_bytes(&[layout]);
    z.write_all(&head[..head.len() - 1024]).unwrap();
    z.write_all(&raw_header("index.json", HUGE, b'0', ""))
        .unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..HUGE >> 20 {
        z.write_all(&zeros).unwrap();
    }
    z.write_all(&[0u8; 1024]).unwrap();
    z.finish().unwrap();
    let p = path.to_str().unwrap();
    run(&["ls", p]).fails("index.json: document too large", false);
    run(&["verify", p]).fails("index.json: document too large", true);
}
