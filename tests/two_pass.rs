//! `filter` of a gzip or zstd input FILE into an uncompressed file reads the input twice (the
//! documents, then the kept blobs) instead of spooling it: the output is byte for byte that of
//! the uncompressed archive, `$TMPDIR` is never written, a corrupt, truncated or changed input
//! fails with nothing published, and every form of stream `gzip -d` and `zstd -d` read is read.

mod common;

use common::{bin, listing, sha256, testdata};
use std::io::Write;
use std::path::Path;

/// The fixtures made by real tools, and option sets that keep, drop and convert.
const FIXTURES: [&str; 6] = [
    "oci-index.tar",
    "ctr-full.tar",
    "ctr-shallow.tar",
    "docker-legacy.tar",
    "docker-list.tar",
    "skopeo-docker-archive.tar",
];
const OPTIONS: [&[&str]; 4] = [
    &[],
    &["--platform", "linux/amd64"],
    &["--format", "docker", "--skip-missing"],
    &["--keep-index", "--platform", "linux/arm64"],
];

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b).unwrap();
    gz.finish().unwrap()
}

fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 3).unwrap()
}

/// What `filter INPUT -o OUT --json ARGS` did, with `$TMPDIR` set to `tmp`: exit code, the
/// output's bytes (`None` when there is no OUT), and the sha256 the report gives.
fn filter(input: &str, args: &[&str], tmp: &Path) -> (i32, Option<Vec<u8>>, String) {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o.tar");
    let run = bin()
        .args(["filter", input, "-o", out.to_str().unwrap(), "--json"])
        .args(args)
        .env("TMPDIR", tmp)
        .output()
        .unwrap();
    let bytes = std::fs::read(&out).ok();
    if bytes.is_none() {
        assert!(listing(d.path()).is_empty(), "nothing beside OUT");
    }
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    let sha = serde_json::from_slice::<serde_json::Value>(&run.stdout)
        .ok()
        .and_then(|v| v["sha256"].as_str().map(String::from))
        .unwrap_or(stderr);
    (run.status.code().unwrap_or(-1), bytes, sha)
}

/// Filter `compressed` and `plain` alike with every option set: same exit code, same bytes, the
/// report's sha256 that of the output, and no use of `$TMPDIR` by the compressed input.
fn same_as_plain(compressed: &str, plain: &str) {
    for args in OPTIONS {
        let tmp = tempfile::tempdir().unwrap();
        let (want_code, want, _) = filter(plain, args, tmp.path());
        // A $TMPDIR that does not exist: a spool could not be made.
        let (code, got, sha) = filter(compressed, args, &tmp.path().join("none"));
        assert_eq!(code, want_code, "{compressed} {args:?}: {sha}");
        assert!(got == want, "{compressed} {args:?}: output differs");
        if let Some(out) = got {
            assert_eq!(sha, sha256(&out), "{compressed} {args:?}");
        }
        assert!(listing(tmp.path()).is_empty(), "{compressed}: $TMPDIR used");
    }
}

#[test]
fn compressed_fixtures_filter_byte_for_byte_like_their_tar_without_tmpdir() {
    same_as_plain(&testdata("oci-index.tar.gz"), &testdata("oci-index.tar"));
    same_as_plain(
        &testdata("ctr-shallow.tar.zst"),
        &testdata("ctr-shallow.tar"),
    );
    let d = tempfile::tempdir().unwrap();
    for name in FIXTURES {
        let tar = std::fs::read(testdata(name)).unwrap();
        for (ext, bytes) in [("gz", gzip(&tar)), ("zst", zstd(&tar))] {
            let path = d.path().join(format!("{name}.{ext}"));
            std::fs::write(&path, bytes).unwrap();
            same_as_plain(path.to_str().unwrap(), &testdata(name));
        }
    }
}

/// The members of a tar file: header and bytes.
fn entries(tar: &[u8]) -> Vec<(tar::Header, Vec<u8>)> {
    let mut a = tar::Archive::new(tar);
    let mut v = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut b).unwrap();
        v.push((e.header().clone(), b));
    }
    v
}

fn build(entries: &[(tar::Header, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (h, data) in entries {
        b.append(h, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// oci-index.tar with its members in reverse order: the blobs reach the second pass in the
/// opposite of their output order.
fn reversed() -> Vec<u8> {
    let mut e = entries(&std::fs::read(testdata("oci-index.tar")).unwrap());
    e.reverse();
    build(&e)
}

#[test]
fn blobs_in_any_input_order_give_the_same_output_and_its_sha256() {
    let d = tempfile::tempdir().unwrap();
    let plain = d.path().join("rev.tar");
    std::fs::write(&plain, reversed()).unwrap();
    let zst = d.path().join("rev.tar.zst");
    std::fs::write(&zst, zstd(&reversed())).unwrap();
    same_as_plain(zst.to_str().unwrap(), plain.to_str().unwrap());
}

/// oci-index.tar with one byte of its first layer (a gzip blob, not a document) flipped, and
/// that layer's digest.
fn corrupt_layer() -> (Vec<u8>, String) {
    let tar = std::fs::read(testdata("oci-index.tar")).unwrap();
    let mut a = tar::Archive::new(&tar[..]);
    let (at, digest) = a
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.size() > 1000)
        .map(|e| {
            let name = e.path().unwrap().to_string_lossy().into_owned();
            (
                e.raw_file_position() as usize + 100,
                name.replace("blobs/sha256/", ""),
            )
        })
        .unwrap();
    let mut bad = tar.clone();
    bad[at] ^= 0x40;
    (bad, digest)
}

/// Filter `bytes` written as a compressed file: it must fail with exit 1 and a message holding
/// `needle`, leaving no output and nothing in `$TMPDIR`.
fn fails_cleanly(bytes: &[u8], needle: &str) {
    let d = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let input = d.path().join("in.tar.z");
    // (A spool, had there been one, would have been removed on the way out: this checks only
    // that nothing is left.)
    std::fs::write(&input, bytes).unwrap();
    let (code, out, msg) = filter(input.to_str().unwrap(), &[], tmp.path());
    assert_eq!(code, 1, "{msg}");
    assert!(out.is_none(), "an output was published");
    assert!(msg.contains(needle), "{msg} lacks {needle}");
    assert!(listing(tmp.path()).is_empty(), "$TMPDIR used");
}

#[test]
fn a_corrupt_blob_in_a_compressed_input_fails_naming_it_with_no_output() {
    let (bad, digest) = corrupt_layer();
    for compressed in [gzip(&bad), zstd(&bad)] {
        fails_cleanly(&compressed, &format!("{digest}: digest mismatch"));
    }
}

#[test]
fn a_truncated_compressed_input_fails_with_no_output() {
    let tar = std::fs::read(testdata("ctr-full.tar")).unwrap();
    for compressed in [gzip(&tar), zstd(&tar)] {
        for keep in [compressed.len() / 2, compressed.len() - 9] {
            fails_cleanly(&compressed[..keep], "in.tar.z: ");
        }
    }
}

/// The second pass decodes without zstd's checksums (`compress::decoder_again`): the first
/// still checks them, before anything is written.
#[test]
fn a_zstd_input_whose_checksum_is_wrong_fails_with_no_output() {
    let tar = std::fs::read(testdata("ctr-full.tar")).unwrap();
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    e.include_checksum(true).unwrap();
    e.write_all(&tar).unwrap();
    let mut zst = e.finish().unwrap();
    let last = zst.len() - 1;
    zst[last] ^= 1;
    fails_cleanly(&zst, "checksum");
}

/// Several gzip members (then zero padding) and several zstd frames, as `gzip -d` and `zstd -d`
/// read them (pzstd's skippable frames: tests/integrity.rs).
#[test]
fn multi_member_gzip_and_multi_frame_zstd_are_read() {
    let tar = std::fs::read(testdata("ctr-full.tar")).unwrap();
    let parts = [
        &tar[..1000],
        &tar[1000..tar.len() / 2],
        &tar[tar.len() / 2..],
    ];
    let mut gz: Vec<u8> = parts.iter().flat_map(|p| gzip(p)).collect();
    gz.extend_from_slice(&[0u8; 4096]);
    let zst: Vec<u8> = parts.iter().flat_map(|p| zstd(p)).collect();
    let d = tempfile::tempdir().unwrap();
    for (name, bytes) in [("m.tar.gz", gz), ("m.tar.zst", zst)] {
        let path = d.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        same_as_plain(path.to_str().unwrap(), &testdata("ctr-full.tar"));
    }
}

/// The input file rewritten in place between the two passes (the library is called, so the
/// change certainly falls between them): a blob's bytes are caught by its digest, a different
/// tar structure or a shorter stream by the second pass, and nothing is published.
#[test]
fn an_input_changed_between_the_passes_is_caught() {
    use ocislim::sink::write::{Target, WriteOptions};
    let good = std::fs::read(testdata("oci-index.tar")).unwrap();
    let (bad, digest) = corrupt_layer();
    let cases = [
        (zstd(&bad), format!("{digest}: digest mismatch")),
        (
            zstd(&reversed()),
            "the input changed while being read".to_string(),
        ),
        (
            zstd(&good[..good.len() / 2]),
            "the input changed while being read".to_string(),
        ),
    ];
    for (changed, needle) in cases {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("in.tar.zst");
        std::fs::write(&input, zstd(&good)).unwrap();
        let g = ocislim::Graph::open_two_pass(input.to_str().unwrap()).unwrap();
        assert!(g.archive.replay().is_some(), "opened for two passes");
        // Same file (inode), new bytes.
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&input)
            .unwrap()
            .write_all(&changed)
            .unwrap();
        let out = d.path().join("o.tar");
        let wopts = WriteOptions {
            compression: ocislim::sink::OutCompression::None,
            verify: true,
            progress: false,
            digest_output: true,
        };
        let target = Target::File(out.clone());
        let r = ocislim::filter(g, &Default::default(), &target, &wopts, false);
        let e = r.expect_err("the change is caught").to_string();
        assert!(e.contains(&needle), "{e} lacks {needle}");
        assert!(!out.exists(), "nothing published");
    }
}
