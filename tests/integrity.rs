//! Integrity and hostile environments (README "Guarantees"): what is written is what was hashed,
//! documents are checked before they are trusted, OUT that is not a regular file, signals,
//! resource bounds, terminal safety and linear time. Every archive is built inside its test and
//! run through the real binary.

mod common;

use common::{listing, sha256, whole_tar};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

// ------------------------------------------------------------------------------------------
// Building archives

fn to_vec(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn blob_name(b: &[u8]) -> String {
    format!("blobs/sha256/{}", &sha256(b)[7..])
}

fn desc(media_type: &str, b: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": sha256(b), "size": b.len()})
}

/// An uncompressed tar of these (name, bytes) regular files.
fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// One platform's manifest, config and layer.
struct Platform {
    os_arch: (String, String, Option<String>),
    layer: Vec<u8>,
    config: Vec<u8>,
    manifest: Vec<u8>,
}

impl Platform {
    fn new(os: &str, arch: &str, variant: Option<&str>) -> Platform {
        let layer = format!("layer of {os}/{arch}\n").repeat(20).into_bytes();
        Platform::with_layer(os, arch, variant, layer)
    }

    fn with_layer(os: &str, arch: &str, variant: Option<&str>, layer: Vec<u8>) -> Platform {
        let mut config = json!({"architecture": arch, "os": os,
            "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]}});
        if let Some(v) = variant {
            config["variant"] = json!(v);
        }
        let config = to_vec(&config);
        let manifest = to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, &config), "layers": [desc(OCI_LAYER, &layer)]}));
        Platform {
            os_arch: (os.into(), arch.into(), variant.map(str::to_string)),
            layer,
            config,
            manifest,
        }
    }

    /// The descriptor of the manifest, with its platform unless `bare`.
    fn descriptor(&self, bare: bool) -> Value {
        let mut d = desc(OCI_MANIFEST, &self.manifest);
        if !bare {
            let (os, arch, variant) = &self.os_arch;
            d["platform"] = json!({"os": os, "architecture": arch});
            if let Some(v) = variant {
                d["platform"]["variant"] = json!(v);
            }
        }
        d
    }

    fn blobs(&self) -> Vec<(String, Vec<u8>)> {
        [&self.layer, &self.config, &self.manifest]
            .into_iter()
            .map(|b| (blob_name(b), b.clone()))
            .collect()
    }
}

/// An OCI archive of one image index over `platforms`; `index` is the index blob's bytes
/// (stored under the name of `named`, the bytes the root descriptor names).
fn oci_archive(platforms: &[Platform], named: &[u8], index: &[u8]) -> Vec<u8> {
    let mut root = desc(OCI_INDEX, named);
    root["annotations"] = json!({"org.opencontainers.image.ref.name": "example.com/img:1"});
    let mut files = vec![
        (
            "oci-layout".to_string(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        (
            "index.json".to_string(),
            to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [root]})),
        ),
        (blob_name(named), index.to_vec()),
    ];
    for p in platforms {
        files.extend(p.blobs());
    }
    tar_of(&files)
}

fn index_of(descs: Vec<Value>) -> Vec<u8> {
    to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs}))
}

/// A legacy `docker save` archive of one image with one layer, config at `<hex>.json`.
struct Legacy {
    layer: Vec<u8>,
    config: Vec<u8>,
}

impl Legacy {
    fn new() -> Legacy {
        let layer = b"legacy layer bytes\n".repeat(40);
        let config = to_vec(&json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]}}));
        Legacy { layer, config }
    }

    /// The archive, with `layer` and `config` as the bytes stored (possibly tampered).
    fn archive(&self, layer: &[u8], config: &[u8]) -> Vec<u8> {
        let config_path = format!("{}.json", &sha256(&self.config)[7..]);
        let manifest = to_vec(&json!([{"Config": config_path,
            "RepoTags": ["example.com/legacy:1"], "Layers": ["abc/layer.tar"]}]));
        tar_of(&[
            ("manifest.json".into(), manifest),
            (config_path, config.to_vec()),
            ("abc/layer.tar".into(), layer.to_vec()),
        ])
    }
}

/// The same bytes with one changed (same length).
fn flipped(b: &[u8], at: usize) -> Vec<u8> {
    let mut v = b.to_vec();
    v[at] ^= 0x20;
    v
}

// ------------------------------------------------------------------------------------------
// Running the binary

fn run(args: &[&str]) -> Output {
    common::bin()
        .args(args)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap()
}

/// Output as text, cut short for failure messages.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(4000)]).into_owned()
}

/// Exit 1 with one `ocislim: error:` line naming `needle` (or, for `verify`, a problem line
/// on stdout naming it).
fn fails(o: &Output, needle: &str) {
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr:\n{err}");
    assert!(lines[0].starts_with("ocislim: error: "), "{err}");
    assert!(
        lines[0].contains(needle) || out.contains(needle),
        "should name {needle:?}:\nstdout:\n{out}\nstderr:\n{err}"
    );
}

fn ok(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_string()
}

/// Every filter variant of the issue, to a file (nothing left there) and to stdout.
fn every_filter_fails(input: &str, needle: &str) {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o.tar");
    let out = out.to_str().unwrap();
    let variants: [&[&str]; 8] = [
        &[],
        &["--platform", "linux/amd64"],
        &["--exclude", "linux/arm/v7"],
        &["--attestations", "drop"],
        &["--skip-missing"],
        &["--keep-index"],
        &["--platform", "linux/amd64", "--dry-run"],
        &["--format", "docker"],
    ];
    for extra in variants {
        for o in [out, "-"] {
            let mut args = vec!["filter", input, "-o", o];
            args.extend_from_slice(extra);
            let r = run(&args);
            fails(&r, needle);
            assert!(r.stdout.is_empty(), "nothing streamed for {args:?}");
        }
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0, "{extra:?}");
    }
}

// ------------------------------------------------------------------------------------------
// 1. Documents are checked before they are trusted

/// Two manifest digests swapped inside an image index (its file name kept): every verb refuses
/// it, naming the index, instead of writing it under a fresh digest with the platforms swapped.
#[test]
fn a_tampered_index_is_refused_by_every_verb() {
    let ps = [
        Platform::new("linux", "amd64", None),
        Platform::new("linux", "arm", Some("v7")),
    ];
    let index = index_of(vec![ps[0].descriptor(false), ps[1].descriptor(false)]);
    let mut swapped = vec![ps[0].descriptor(false), ps[1].descriptor(false)];
    let (d0, d1) = (swapped[0]["digest"].clone(), swapped[1]["digest"].clone());
    let (s0, s1) = (swapped[0]["size"].clone(), swapped[1]["size"].clone());
    (swapped[0]["digest"], swapped[1]["digest"]) = (d1, d0);
    (swapped[0]["size"], swapped[1]["size"]) = (s1, s0);
    let tampered = index_of(swapped);
    let d = tempfile::tempdir().unwrap();
    let good = write(d.path(), "good.tar", &oci_archive(&ps, &index, &index));
    ok(&run(&[
        "filter",
        &good,
        "-o",
        "-",
        "--platform",
        "linux/amd64",
    ]));
    let bad = write(d.path(), "bad.tar", &oci_archive(&ps, &index, &tampered));
    let needle = format!("blob {}: digest mismatch", sha256(&index));
    fails(&run(&["ls", &bad]), &needle);
    fails(&run(&["ls", &bad, "--format", "json"]), &needle);
    fails(&run(&["verify", &bad]), &needle);
    every_filter_fails(&bad, &needle);
    // Compressed and piped input read the same documents.
    let zst = zstd::encode_all(&std::fs::read(&bad).unwrap()[..], 3).unwrap();
    let zst = write(d.path(), "bad.tar.zst", &zst);
    fails(&run(&["ls", &zst]), &needle);
    fails(&run(&["verify", &zst]), &needle);
    fails(&run(&["filter", &zst, "-o", "-"]), &needle);
}

/// A manifest whose descriptor carries no platform: its config is read for the platform, and a
/// config that does not hash to its digest is refused rather than believed (or shown unknown).
#[test]
fn a_config_read_for_the_platform_is_checked() {
    let p = Platform::new("linux", "arm64", None);
    let index = index_of(vec![p.descriptor(true)]);
    let mut files = vec![(blob_name(&index), index.clone())];
    files.extend(p.blobs());
    let lying = to_vec(&json!({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [sha256(&p.layer)]}}));
    let mut root = desc(OCI_INDEX, &index);
    root["annotations"] = json!({"org.opencontainers.image.ref.name": "example.com/img:1"});
    let head = |files: &mut Vec<(String, Vec<u8>)>| {
        files.push((
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ));
        files.push((
            "index.json".into(),
            to_vec(&json!({"schemaVersion": 2, "manifests": [root.clone()]})),
        ));
    };
    head(&mut files);
    let d = tempfile::tempdir().unwrap();
    let good = write(d.path(), "good.tar", &tar_of(&files));
    let ls = run(&["ls", &good, "--format", "json"]);
    ok(&ls);
    assert!(text(&ls.stdout).contains("linux/arm64"));
    for f in &mut files {
        if f.0 == blob_name(&p.config) {
            f.1 = lying.clone();
        }
    }
    let bad = write(d.path(), "bad.tar", &tar_of(&files));
    let needle = format!("blob {}: digest mismatch", sha256(&p.config));
    fails(&run(&["ls", &bad]), &needle);
    fails(&run(&["verify", &bad]), &needle);
    fails(
        &run(&["filter", &bad, "-o", "-", "--platform", "linux/amd64"]),
        &needle,
    );
    fails(&run(&["filter", &bad, "-o", "-", "--no-verify"]), &needle);
}

// ------------------------------------------------------------------------------------------
// 2. Legacy docker-save archives

/// A config whose bytes do not match its file name (the image ID) is refused by every verb,
/// never written under a new image ID.
#[test]
fn a_legacy_config_not_matching_its_name_is_refused() {
    let l = Legacy::new();
    let d = tempfile::tempdir().unwrap();
    let good = write(d.path(), "good.tar", &l.archive(&l.layer, &l.config));
    ok(&run(&["verify", &good]));
    ok(&run(&["filter", &good, "-o", "-", "--format", "oci"]));
    let lying = to_vec(&json!({"architecture": "arm64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256(&l.layer)]}}));
    let bad = write(d.path(), "bad.tar", &l.archive(&l.layer, &lying));
    let needle = format!("{}.json: config digest mismatch", &sha256(&l.config)[7..]);
    fails(&run(&["ls", &bad]), &needle);
    fails(&run(&["verify", &bad]), &needle);
    for format in ["auto", "oci", "docker"] {
        fails(
            &run(&["filter", &bad, "-o", "-", "--format", format]),
            &needle,
        );
    }
}

/// A legacy archive whose `layer.tar` has the right size but the wrong bytes, and the error
/// naming it.
fn corrupted_legacy(d: &Path) -> (String, String) {
    let l = Legacy::new();
    let bad = write(d, "bad.tar", &l.archive(&flipped(&l.layer, 5), &l.config));
    (bad, format!("blob {}: digest mismatch", sha256(&l.layer)))
}

/// A corrupted `layer.tar`: `verify` and `filter --format oci|docker` refuse it, checked
/// against the config's `rootfs.diff_ids`.
#[test]
fn a_corrupted_legacy_layer_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let (bad, needle) = corrupted_legacy(d.path());
    fails(&run(&["verify", &bad]), &needle);
    fails(
        &run(&["filter", &bad, "-o", "-", "--format", "oci"]),
        &needle,
    );
    let out = d.path().join("o.tar");
    let o = out.to_str().unwrap();
    fails(
        &run(&["filter", &bad, "-o", o, "--format", "docker"]),
        &needle,
    );
    assert!(!out.exists());
}

/// The same, written back as a legacy archive: needs the legacy plan to carry each layer's
/// diff_id as the digest to verify (`LegacyImage::diff_id`).
#[test]
fn a_corrupted_legacy_layer_is_refused_when_written_as_legacy() {
    let d = tempfile::tempdir().unwrap();
    let (bad, needle) = corrupted_legacy(d.path());
    fails(&run(&["filter", &bad, "-o", "-"]), &needle);
    let out = d.path().join("o.tar");
    fails(
        &run(&["filter", &bad, "-o", out.to_str().unwrap()]),
        &needle,
    );
    assert!(!out.exists());
}

// ------------------------------------------------------------------------------------------
// 5. Tar extension headers are bounded

/// A ustar header written by hand (the tar crate will not write extension headers this big).
fn raw_header(name: &str, size: u64, typeflag: u8) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap();
    h.set_mode(0o644);
    h.set_size(size);
    h.set_entry_type(tar::EntryType::new(typeflag));
    h.set_cksum();
    h.as_bytes().to_vec()
}

/// `data` as an extension member of type `typeflag` (padded to the block).
fn extension(typeflag: u8, data: &[u8]) -> Vec<u8> {
    let mut v = raw_header("ext", data.len() as u64, typeflag);
    v.extend_from_slice(data);
    v.resize(v.len().div_ceil(512) * 512, 0);
    v
}

/// A valid image archive preceded by a PAX `x` header (a 2 MiB comment) or a GNU `L` long
/// name (2 MiB, naming a harmless member): both over the 1 MiB bound, refused by every verb,
/// plain or compressed, before memory grows with what they declare.
#[test]
fn extension_headers_over_1_mib_are_refused() {
    let ps = [Platform::new("linux", "amd64", None)];
    let index = index_of(vec![ps[0].descriptor(false)]);
    let image = oci_archive(&ps, &index, &index);
    let big = 2usize << 20;
    let comment = {
        let body = format!(" comment={}\n", "c".repeat(big));
        let n = body.len() + 8; // the length field counts itself (8 digits here)
        format!("{n}{body}").into_bytes()
    };
    assert_eq!(
        std::str::from_utf8(&comment)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .len(),
        7
    );
    let mut long_name = "./".repeat(big / 2).into_bytes();
    long_name.extend_from_slice(b"harmless\0");
    let d = tempfile::tempdir().unwrap();
    for (what, ext) in [
        ("x", extension(b'x', &comment)),
        ("L", extension(b'L', &long_name)),
    ] {
        let mut bytes = ext;
        bytes.extend_from_slice(&image);
        let plain = write(d.path(), &format!("{what}.tar"), &bytes);
        let zst = zstd::encode_all(&bytes[..], 3).unwrap();
        let zst = write(d.path(), &format!("{what}.tar.zst"), &zst);
        let needle = format!("extension header (type {what}) of");
        for input in [&plain, &zst] {
            fails(&run(&["ls", input]), &needle);
            fails(&run(&["verify", input]), &needle);
            fails(&run(&["filter", input, "-o", "-"]), &needle);
        }
    }
    // At the bound, accepted.
    let mut at = "./".repeat((1 << 19) - 8).into_bytes();
    at.extend_from_slice(b"harmless");
    let mut bytes = extension(b'L', &at);
    bytes.extend_from_slice(&image);
    ok(&run(&["ls", &write(d.path(), "at.tar", &bytes)]));
}

// ------------------------------------------------------------------------------------------
// 8. Decompression bounds and odd compressed streams

/// A valid image whose layer is `n` zero bytes (compresses a thousandfold).
fn zero_layer_image(n: usize) -> Vec<u8> {
    let mut p = Platform::new("linux", "amd64", None);
    p.layer = vec![0u8; n];
    p.config = to_vec(&json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256(&p.layer)]}}));
    p.manifest = to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": desc(OCI_CONFIG, &p.config), "layers": [desc(OCI_LAYER, &p.layer)]}));
    let index = index_of(vec![p.descriptor(false)]);
    oci_archive(&[p], &index, &index)
}

/// A 1000:1 zstd bomb is stopped once the spool passes its bound (here lowered with
/// `--max-spool` so the test stays small), with a clear error and nothing left in `$TMPDIR`;
/// raising the bound lets it through.
#[test]
fn the_spool_is_bounded_as_it_grows() {
    let d = tempfile::tempdir().unwrap();
    let tar = zero_layer_image(24 << 20);
    let zst = zstd::encode_all(&tar[..], 19).unwrap();
    assert!(zst.len() * 1000 < tar.len(), "a bomb: {} bytes", zst.len());
    let input = write(d.path(), "bomb.tar.zst", &zst);
    let tmp = tempfile::tempdir().unwrap();
    let with_tmp = |args: &[&str]| {
        common::bin()
            .args(args)
            .env("TMPDIR", tmp.path())
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap()
    };
    let r = with_tmp(&["filter", &input, "-o", "-", "--max-spool", "4M"]);
    fails(&r, "bomb.tar.zst: decompresses to more than 4194304 bytes");
    assert!(
        text(&r.stderr).contains("--max-spool"),
        "says how to raise it"
    );
    assert!(listing(tmp.path()).is_empty(), "spool removed");
    // From standard input too.
    let r = common::bin()
        .args(["filter", "-", "-o", "-", "--max-spool", "4M"])
        .env("TMPDIR", tmp.path())
        .write_stdin(zst.clone())
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    fails(&r, "-: decompresses to more than");
    assert!(listing(tmp.path()).is_empty(), "spool removed");
    // The default (1 GiB) and a raised bound let it through.
    ok(&with_tmp(&["filter", &input, "-o", "-"]));
    ok(&with_tmp(&[
        "filter",
        &input,
        "-o",
        "-",
        "--max-spool",
        "64M",
    ]));
    ok(&with_tmp(&["verify", &input, "--max-spool", "1M"])); // streamed, no spool
    let r = with_tmp(&["filter", &input, "-o", "-", "--max-spool", "lots"]);
    assert_eq!(r.status.code(), Some(2), "{}", text(&r.stderr));
}

/// Run a compression tool on `input` (None, with a note, where it is not installed).
fn tool(cmd: &str, args: &[&str], input: &Path) -> Option<Vec<u8>> {
    let out = std::process::Command::new(cmd)
        .args(args)
        .arg(input)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(o.stdout),
        _ => {
            eprintln!("skipped: {cmd} not available");
            None
        }
    }
}

/// pzstd output (a skippable frame first) and gzip output followed by zero padding read as
/// `zstd -d` and `gzip -d` read them, by every verb; other bytes after gzip are an error.
#[test]
fn pzstd_and_zero_padded_gzip_streams_are_read() {
    let d = tempfile::tempdir().unwrap();
    let ps = [Platform::new("linux", "amd64", None)];
    let index = index_of(vec![ps[0].descriptor(false)]);
    let tar = oci_archive(&ps, &index, &index);
    let plain = write(d.path(), "in.tar", &tar);
    let mut cases = Vec::new();
    if let Some(z) = tool("pzstd", &["-q", "-c", "-p", "2"], Path::new(&plain)) {
        assert_ne!(
            &z[..4],
            &[0x28, 0xb5, 0x2f, 0xfd],
            "pzstd starts with a skippable frame"
        );
        cases.push(("pzstd.tar.zst", z));
    }
    if let Some(mut g) = tool("gzip", &["-c", "-n"], Path::new(&plain)) {
        g.extend_from_slice(&[0u8; 10240]);
        cases.push(("padded.tar.gz", g));
    }
    for (name, bytes) in cases {
        let input = write(d.path(), name, &bytes);
        ok(&run(&["ls", &input]));
        ok(&run(&["verify", &input]));
        let out = d.path().join("o.tar");
        ok(&run(&["filter", &input, "-o", out.to_str().unwrap(), "-q"]));
        assert_eq!(std::fs::read(&out).unwrap().len() % 512, 0);
        ok(&run(&["verify", out.to_str().unwrap()]));
    }
    let mut g = tool("gzip", &["-c", "-n"], Path::new(&plain)).unwrap_or_default();
    if !g.is_empty() {
        g.extend_from_slice(&[0, 0, 0, 7, 0]);
        let input = write(d.path(), "garbage.tar.gz", &g);
        fails(&run(&["filter", &input, "-o", "-"]), "zero padding");
        fails(&run(&["ls", &input]), "zero padding");
    }
}

// ------------------------------------------------------------------------------------------
// 4. OUT that is not a regular file; 11. standard output closed

/// A small valid OCI archive on disk, in `d`.
fn small_image(d: &Path) -> String {
    let ps = [Platform::new("linux", "amd64", None)];
    let index = index_of(vec![ps[0].descriptor(false)]);
    write(d, "in.tar", &oci_archive(&ps, &index, &index))
}

/// A symlink at OUT is followed: the file it names is replaced (losing setuid, setgid and
/// sticky, keeping the other bits), the link stays; a dangling link's target is created.
#[test]
fn a_symlink_out_is_followed_and_the_link_kept() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let input = small_image(d.path());
    let (real, link) = (d.path().join("real.tar"), d.path().join("link.tar"));
    std::fs::write(&real, b"previous").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o7750)).unwrap();
    std::os::unix::fs::symlink("real.tar", &link).unwrap();
    ok(&run(&[
        "filter",
        &input,
        "-o",
        link.to_str().unwrap(),
        "-q",
    ]));
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("real.tar"));
    let mode = std::fs::metadata(&real).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o750, "{mode:o}");
    ok(&run(&["verify", real.to_str().unwrap()]));
    let dangling = d.path().join("dangling.tar");
    std::os::unix::fs::symlink("made.tar", &dangling).unwrap();
    ok(&run(&[
        "filter",
        &input,
        "-o",
        dangling.to_str().unwrap(),
        "-q",
    ]));
    assert!(dangling
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
    ok(&run(&[
        "verify",
        d.path().join("made.tar").to_str().unwrap(),
    ]));
}

/// A FIFO at OUT (as `>(cmd)` gives) is written to as a stream, not replaced, plain or
/// compressed; so is a character device (a `/dev/null` of our own, made where `mknod` is
/// allowed).
#[test]
fn fifos_and_devices_at_out_are_streamed_into() {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let d = tempfile::tempdir().unwrap();
    let input = small_image(d.path());
    let fifo = d.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success());
    for compress in ["none", "gzip"] {
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        let args = [
            "filter",
            &input,
            "-o",
            fifo.to_str().unwrap(),
            "-q",
            "--compress",
            compress,
        ];
        let r = run(&args);
        // Whatever happened, let a reader still waiting for a writer see an end (a
        // non-blocking open: it fails at once when no reader is left).
        drop(
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo),
        );
        let got = reader.join().unwrap();
        ok(&r);
        assert!(fifo.metadata().unwrap().file_type().is_fifo());
        let copy = write(d.path(), &format!("copy-{compress}.tar"), &got);
        ok(&run(&["verify", &copy]));
    }
    let null = d.path().join("null");
    let mknod = std::process::Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .status();
    if !mknod.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mknod not allowed here");
        return;
    }
    ok(&run(&[
        "filter",
        &input,
        "-o",
        null.to_str().unwrap(),
        "-q",
    ]));
    assert!(null.metadata().unwrap().file_type().is_char_device());
    assert_eq!(listing(d.path()).len(), 5, "{:?}", listing(d.path()));
}

/// `-o -` (or `-o /dev/stdout`) with standard output closed is an error, not a silent success.
#[test]
fn a_closed_standard_output_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let input = small_image(d.path());
    for out in ["-", "/dev/stdout"] {
        let r = std::process::Command::new("sh")
            .args([
                "-c",
                "exec \"$0\" \"$@\" >&-",
                env!("CARGO_BIN_EXE_ocislim"),
            ])
            .args(["filter", &input, "-o", out, "-q"])
            .output()
            .unwrap();
        fails(&r, "stdout: Bad file descriptor");
    }
    // Standard output on /dev/null is open: that is a success.
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_ocislim"))
        .args(["filter", &input, "-o", "-", "-q"])
        .stdout(std::process::Stdio::null())
        .output()
        .unwrap();
    ok(&r);
}

// ------------------------------------------------------------------------------------------
// 9. Terminal safety

/// Names and platforms with terminal escapes and newlines (colour codes, an OSC title, a
/// forged tree row): `ls` (tree and table), the filter report and `verify` print them escaped.
#[test]
fn control_characters_from_the_archive_never_reach_the_terminal() {
    let evil = "evil\u{1b}[31m\u{1b}]0;pwned\u{7}\n└─ linux/forged   sha256:0000";
    let mut p = Platform::new("linux", "amd64", None);
    p.os_arch.2 = Some("v\u{9b}2J".into());
    let index = index_of(vec![p.descriptor(false)]);
    let mut root = desc(OCI_INDEX, &index);
    root["annotations"] = json!({"org.opencontainers.image.ref.name": evil});
    let mut dropped_root = root.clone();
    dropped_root["annotations"]["org.opencontainers.image.ref.name"] = json!(format!("{evil}2"));
    let other = Platform::new("linux", "s390x", None);
    let other_index = index_of(vec![other.descriptor(false)]);
    dropped_root["digest"] = json!(sha256(&other_index));
    dropped_root["size"] = json!(other_index.len());
    let mut files = vec![
        (
            "oci-layout".to_string(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        (
            "index.json".to_string(),
            to_vec(&json!({"schemaVersion": 2, "manifests": [root, dropped_root]})),
        ),
        (blob_name(&index), index.clone()),
        (blob_name(&other_index), other_index.clone()),
    ];
    files.extend(p.blobs());
    files.extend(other.blobs());
    let d = tempfile::tempdir().unwrap();
    let input = write(d.path(), "evil.tar", &tar_of(&files));
    let clean = |what: &str, s: &str, lines: usize| {
        assert!(
            !s.chars().any(|c| c.is_control() && c != '\n'),
            "{what}: raw control characters in {s:?}"
        );
        assert!(s.contains("\\u{1b}[31m"), "{what}: escaped: {s}");
        assert_eq!(s.lines().count(), lines, "{what}: no forged lines: {s}");
    };
    let tree = run(&["ls", &input]);
    ok(&tree);
    clean("tree", &text(&tree.stdout), 6);
    let table = run(&["ls", &input, "--format", "table"]);
    ok(&table);
    clean("table", &text(&table.stdout), 3);
    let f = run(&["filter", &input, "-o", "-", "--exclude", "linux/s390x"]);
    ok(&f);
    clean("filter report", &text(&f.stderr), 3);
    assert!(
        text(&f.stderr).contains("v\\u{9b}2J"),
        "{}",
        text(&f.stderr)
    );
}

// ------------------------------------------------------------------------------------------
// 6. Signals remove every temporary file; 7. an input that shrinks while mapped

/// Poll until `cond` holds (panics after 60 s).
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited too long for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// SIGINT, SIGTERM and SIGHUP while a gzip input is being spooled (from a pipe that stays
/// open, so the spool is certainly there): exit 130, 143, 129, and nothing left in `$TMPDIR`
/// or beside OUT.
#[test]
fn signals_remove_the_spool_and_exit_128_plus_the_signal() {
    use std::io::Write;
    // More than the 1 MiB read ahead before the spool starts, and it does not compress.
    let noise = ocislim_testgen::noise(1, 3 << 20);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&noise).unwrap();
    let head = gz.finish().unwrap();
    for (signal, code) in [
        (libc::SIGINT, 130),
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out_dir = tempfile::tempdir().unwrap();
        let out = out_dir.path().join("o.tar");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ocislim"))
            .args(["filter", "-", "-o", out.to_str().unwrap()])
            .env("TMPDIR", tmp.path())
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&head).unwrap();
        wait_for("the spool", || !listing(tmp.path()).is_empty());
        // SAFETY: sends a signal to our own child.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let status = child.wait().unwrap();
        drop(stdin);
        assert_eq!(status.code(), Some(code), "signal {signal}");
        assert!(listing(tmp.path()).is_empty(), "spool left behind");
        assert!(listing(out_dir.path()).is_empty(), "nothing at OUT");
    }
}

/// An input that shrinks while it is hashed from its memory map: `verify` and `filter` exit 1
/// with "the input changed while being read" (not signal 7), and a previous OUT is untouched.
/// The input is sparse (1 GiB that take no disk), so hashing it lasts long enough to shrink
/// it meanwhile, once it is seen mapped.
#[test]
fn an_input_that_shrinks_while_mapped_is_an_error_not_a_crash() {
    let d = tempfile::tempdir().unwrap();
    let n: u64 = 1 << 30;
    let layer_digest = format!("sha256:{}", "ab".repeat(32));
    let config = to_vec(&json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}));
    let manifest = to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": desc(OCI_CONFIG, &config),
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": n}]}));
    let mut md = desc(OCI_MANIFEST, &manifest);
    md["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let index = index_of(vec![md]);
    let mut head = oci_archive(&[], &index, &index);
    head.truncate(head.len() - 1024); // the end-of-archive blocks come after the layer
    let mut tail = tar_of(&[
        (blob_name(&config), config.clone()),
        (blob_name(&manifest), manifest.clone()),
    ]);
    tail.truncate(tail.len() - 1024);
    head.extend_from_slice(&tail);
    head.extend_from_slice(&raw_header(
        &format!("blobs/sha256/{}", "ab".repeat(32)),
        n,
        b'0',
    ));
    let make = |name: &str| {
        let p = d.path().join(name);
        let mut f = std::fs::File::create(&p).unwrap();
        std::io::Write::write_all(&mut f, &head).unwrap();
        f.set_len(head.len() as u64 + n + 1024).unwrap(); // a hole, then the trailer
        p
    };
    let out = d.path().join("out.tar");
    std::fs::write(&out, b"previous OUT").unwrap();
    let verify: &[&str] = &["verify"];
    let filter: &[&str] = &["filter", "-o", out.to_str().unwrap()];
    for (i, verb) in [verify, filter].into_iter().enumerate() {
        let input = make(&format!("in{i}.tar"));
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_ocislim"))
            .arg(verb[0])
            .arg(&input)
            .args(&verb[1..])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Once the input is mapped (and a little after: past the tar scan's own brief map),
        // it is being hashed, which lasts far longer than this.
        let maps = format!("/proc/{}/maps", child.id());
        let name = input.to_str().unwrap().to_string();
        wait_for("the input mapped", || {
            std::fs::read_to_string(&maps).is_ok_and(|m| m.contains(&name))
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&input)
            .unwrap()
            .set_len(head.len() as u64 + (1 << 20))
            .unwrap();
        let r = child.wait_with_output().unwrap();
        fails(&r, "the input changed while being read");
    }
    assert_eq!(std::fs::read(&out).unwrap(), b"previous OUT");
}

// ------------------------------------------------------------------------------------------
// 10. Linear time

/// A legacy image of 50,000 layers: `verify` hashes each once, with no search per layer (it
/// took 5.8 s in release builds, quadratic, before). A guard against quadratic blow-ups, not a
/// benchmark: done well within 30 s.
#[test]
fn verify_is_linear_in_legacy_layers() {
    let n = 50_000;
    let layers: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("layer {i}\n").into_bytes())
        .collect();
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    let config = to_vec(&json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids}}));
    let config_path = format!("{}.json", &sha256(&config)[7..]);
    let paths: Vec<String> = diff_ids
        .iter()
        .map(|d| format!("{}/layer.tar", &d[7..]))
        .collect();
    let manifest = to_vec(&json!([{"Config": config_path, "RepoTags": ["x:1"], "Layers": paths}]));
    let mut files = vec![
        ("manifest.json".to_string(), manifest),
        (config_path, config),
    ];
    files.extend(paths.into_iter().zip(layers));
    let d = tempfile::tempdir().unwrap();
    let input = write(d.path(), "many.tar", &tar_of(&files));
    let started = std::time::Instant::now();
    let r = run(&["verify", &input]);
    ok(&r);
    assert!(text(&r.stdout).contains(&format!("ok: {} blobs", n + 1)));
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
}

// ------------------------------------------------------------------------------------------
// The property behind all of it

/// Any single-byte change to any member of an archive (every document and blob, at its first,
/// third — in a document, a key's case: still valid JSON —, middle and last byte) makes each verb refuse it (exit 1, or 3/4/5 where what changed was a
/// name or a reference), or else what `filter` writes verifies, by ocislim and by an
/// independent checker; `verify` passes only when the change hit a member no digest covers, and
/// `filter` never passes a changed index or manifest (it would launder it under a new digest).
#[test]
fn any_single_byte_change_is_refused_or_harmless() {
    let ps = [
        Platform::new("linux", "amd64", None),
        Platform::new("linux", "arm", Some("v7")),
    ];
    let index = index_of(vec![ps[0].descriptor(false), ps[1].descriptor(false)]);
    let archive = oci_archive(&ps, &index, &index);
    let members: Vec<(String, Vec<u8>)> = tar::Archive::new(&archive[..])
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            (name, data)
        })
        .collect();
    // Parsed by every run: never laundered into an output.
    let documents = [&index, &ps[0].manifest, &ps[1].manifest].map(|b| blob_name(b));
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o.tar");
    let o = out.to_str().unwrap();
    for (m, (name, data)) in members.iter().enumerate() {
        for at in [0, 2, data.len() / 2, data.len() - 1] {
            let mut changed = members.clone();
            changed[m].1 = flipped(data, at);
            let input = write(d.path(), "in.tar", &tar_of(&changed));
            let case = format!("{name} byte {at}");
            let covered = name.starts_with("blobs/");
            let v = run(&["verify", &input]);
            assert!(
                matches!(v.status.code(), Some(1 | 5)) || !covered,
                "{case}: verify"
            );
            assert!(
                matches!(run(&["ls", &input]).status.code(), Some(0 | 1)),
                "{case}: ls"
            );
            for extra in [
                &[][..],
                &["--platform", "linux/amd64"],
                &["--format", "docker"],
            ] {
                let _ = std::fs::remove_file(&out);
                let mut args = vec!["filter", &input, "-o", o, "-q"];
                args.extend_from_slice(extra);
                let r = run(&args);
                let document = documents.contains(name);
                match r.status.code() {
                    Some(0) if document => panic!("{case} {extra:?}: a changed document passed"),
                    Some(0) => {
                        ok(&run(&["verify", o]));
                        common::check_oci_output(&out, false);
                    }
                    Some(1 | 3 | 4) => assert!(!out.exists(), "{case} {extra:?}: OUT written"),
                    c => panic!("{case} {extra:?}: exit {c:?}: {}", text(&r.stderr)),
                }
            }
        }
    }
}

/// What a reader decodes from `b` (compressed with `codec`, or not), up to the first error.
fn decoded(b: &[u8], codec: &str) -> Vec<u8> {
    let mut r: Box<dyn std::io::Read + '_> = match codec {
        "gzip" => Box::new(flate2::read::MultiGzDecoder::new(b)),
        "zstd" => Box::new(zstd::stream::read::Decoder::new(b).unwrap()),
        _ => Box::new(b),
    };
    let (mut out, mut buf) = (Vec::new(), vec![0u8; 1 << 16]);
    while let Ok(n @ 1..) = r.read(&mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// `-o -` streams with no first pass over the blobs: a layer that does not match its digest
/// stops the stream before its last buffer, exit 1 naming it, so what was streamed (plain, gzip
/// or zstd) is never a whole tar; the same archive intact streams a whole one.
#[test]
fn a_bad_blob_on_standard_output_never_ends_a_whole_tar() {
    let d = tempfile::tempdir().unwrap();
    let layer: Vec<u8> = (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let ps = [Platform::with_layer("linux", "amd64", None, layer)];
    let index = index_of(vec![ps[0].descriptor(false)]);
    let good = oci_archive(&ps, &index, &index);
    let at = good
        .windows(64)
        .position(|w| w == &ps[0].layer[..64])
        .unwrap();
    let bad = write(d.path(), "bad.tar", &flipped(&good, at + 10));
    let good = write(d.path(), "good.tar", &good);
    let needle = format!("blob {}: digest mismatch", sha256(&ps[0].layer));
    for codec in ["none", "gzip", "zstd"] {
        let r = run(&["filter", &bad, "-o", "-", "--compress", codec]);
        fails(&r, &needle);
        let streamed = decoded(&r.stdout, codec);
        assert!(!whole_tar(&streamed), "{codec}: {} bytes", streamed.len());
        if codec == "none" {
            assert!(
                streamed.len() > 2 << 20,
                "streamed as read, not after a first pass"
            );
        }
        let r = run(&["filter", &good, "-o", "-", "--compress", codec]);
        ok(&r);
        assert!(whole_tar(&decoded(&r.stdout, codec)), "{codec}");
    }
}

/// `-o /dev/stdout` is standard output: streamed like `-o -`, and `--json` does not put the
/// report into the archive.
#[test]
fn dev_stdout_is_standard_output() {
    let d = tempfile::tempdir().unwrap();
    let input = small_image(d.path());
    let r = run(&["filter", &input, "-o", "/dev/stdout", "--json"]);
    ok(&r);
    let copy = write(d.path(), "copy.tar", &r.stdout);
    ok(&run(&["verify", &copy]));
}

/// Docker's `manifest.json` beside `index.json`, checked entry by entry: `n` manifests share one
/// config (each with its own layer) and `n` entries name them; each entry's `Layers` is looked
/// up among the manifests of its config (a set, no longer a search through them), and a list
/// that matches none is found.
#[test]
fn manifest_json_entries_match_a_manifest_of_their_config() {
    let n = 2_000;
    let config = to_vec(&json!({"architecture": "amd64", "os": "linux"}));
    let mut files = vec![(blob_name(&config), config.clone())];
    let (mut roots, mut entries) = (Vec::new(), Vec::new());
    for i in 0..n {
        let layer = format!("layer {i}\n").into_bytes();
        let manifest = to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, &config), "layers": [desc(OCI_LAYER, &layer)]}));
        roots.push(desc(OCI_MANIFEST, &manifest));
        entries.push(
            json!({"Config": blob_name(&config), "RepoTags": [format!("x:{i}")],
            "Layers": [blob_name(&layer)]}),
        );
        files.push((blob_name(&layer), layer));
        files.push((blob_name(&manifest), manifest));
    }
    let head = |entries: &[Value]| {
        vec![
            (
                "oci-layout".to_string(),
                br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
            ),
            (
                "index.json".to_string(),
                to_vec(&json!({"schemaVersion": 2, "manifests": roots})),
            ),
            ("manifest.json".to_string(), to_vec(&json!(entries))),
        ]
    };
    let d = tempfile::tempdir().unwrap();
    let mut all = head(&entries);
    all.extend(files.iter().cloned());
    let good = write(d.path(), "good.tar", &tar_of(&all));
    ok(&run(&["verify", &good]));
    entries[7]["Layers"] = json!([entries[8]["Layers"][0], entries[9]["Layers"][0]]);
    let mut all = head(&entries);
    all.extend(files);
    let bad = write(d.path(), "bad.tar", &tar_of(&all));
    fails(
        &run(&["verify", &bad]),
        "entry 7 (x:7): Layers do not match",
    );
}
