//! Malformed digests in documents, and blob names that are not digests.

use crate::build::*;
use crate::common::sha256;
use crate::run::*;
use serde_json::json;

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
        let c = Case::of(&img.members_with(&manifest, &index_of(&manifest)));
        all_fail(c.p(), &blob_name(&manifest));

        // A manifest digest inside the image index.
        let index = String::from_utf8(img.index.clone())
            .unwrap()
            .replace(&sha256(&img.manifest), bad)
            .into_bytes();
        let c = Case::of(&img.members_with(&img.manifest, &index));
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
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.tar");
    all_succeed(c.p(), &out);
    crate::common::check_oci_output(&out, false);
}
