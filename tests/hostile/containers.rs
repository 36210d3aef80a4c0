//! Broken containers: truncated tars, files that are not tars, gzip and zstd garbage.

use crate::build::*;
use crate::run::*;
use ocislim_testgen::noise;
use serde_json::json;

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
        ("one junk block", noise(1, 512)),
        ("junk", noise(2, 10_000)),
        ("zero blocks", vec![0; 1024]),
        ("png", {
            let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
            v.extend(noise(3, 3000));
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
            [&[0x1f, 0x8b][..], &noise(4, 5000)].concat(),
        ),
        (
            "gzip header + junk deflate",
            [&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3][..], &noise(5, 5000)].concat(),
        ),
        ("gzip truncated", gz[..gz.len() / 2].to_vec()),
        ("gzip of junk", gzip(&noise(6, 5000))),
        ("gzip of nothing", gzip(b"")),
        ("zstd magic only", vec![0x28, 0xb5, 0x2f, 0xfd]),
        (
            "zstd magic + junk",
            [&[0x28, 0xb5, 0x2f, 0xfd][..], &noise(7, 5000)].concat(),
        ),
        ("zstd truncated", zs[..zs.len() / 2].to_vec()),
        ("zstd of junk", zstd(&noise(8, 5000))),
    ];
    // Valid gzip followed by junk: MultiGzDecoder reads the junk as a second member.
    let mut gz_tail = gz.clone();
    gz_tail.extend_from_slice(&[0x1f, 0x8b]);
    gz_tail.extend(noise(9, 100));
    inputs.push(("gzip + junk member", gz_tail));
    // A zstd frame that asks for a 2 GiB window (decoder refuses, no huge allocation).
    inputs.push((
        "zstd huge window",
        [
            &[0x28, 0xb5, 0x2f, 0xfd][..],
            &[0x00, 0xf8], // no checksum/single-segment; window descriptor exponent 31
            &noise(10, 64),
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
