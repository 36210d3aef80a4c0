//! Output stability: `filter` on every testdata archive with a spread of options gives the same
//! exit code and the same output bytes as recorded here. A change to the writer, the planner or
//! the document rewriting that moves a single byte shows up as a failing row; update a row only
//! for a change of behaviour that is meant (and say so in the commit).

mod common;

use common::{bin, testdata};
use sha2::{Digest as _, Sha256};

/// (archive in testdata/, filter options, exit code, sha256 of the output or "none").
const GOLDEN: &[(&str, &str, i32, &str)] = &[
    (
        "compressed-misnamed.tar",
        "",
        0,
        "a696697fce5a07a28d1a3ddfaeae371c5c0217566b848e26bdad5efe53573fe4",
    ),
    (
        "compressed-misnamed.tar",
        "--platform linux/arm64",
        0,
        "418e47cbc752ebcb89d9b29dfe6d47efe7c003d2d70d3a4335dbf0513f916430",
    ),
    (
        "compressed-misnamed.tar",
        "--format oci",
        0,
        "a696697fce5a07a28d1a3ddfaeae371c5c0217566b848e26bdad5efe53573fe4",
    ),
    (
        "compressed-misnamed.tar",
        "--format docker",
        0,
        "be5d7e4914235b01cff3721c014cbed08b9a158fd6d1bd357be546d46a601a74",
    ),
    (
        "compressed-misnamed.tar",
        "--skip-missing",
        0,
        "a696697fce5a07a28d1a3ddfaeae371c5c0217566b848e26bdad5efe53573fe4",
    ),
    (
        "compressed-misnamed.tar",
        "--keep-index --platform linux/amd64",
        0,
        "a25f52933e1ba6e496099610e8376231dc62d6e3f844c90da42ccf78b3ce7dd3",
    ),
    (
        "compressed-misnamed.tar",
        "--attestations drop",
        0,
        "a696697fce5a07a28d1a3ddfaeae371c5c0217566b848e26bdad5efe53573fe4",
    ),
    (
        "compressed-misnamed.tar",
        "--platform linux/amd64 --format docker --docker-platform linux/amd64",
        0,
        "08245417e263f015204b7778c1acd1f7b1bacbc3f46b1e01d875023f597212b4",
    ),
    (
        "ctr-full.tar",
        "",
        0,
        "ff8319c1f157269602be07c5a0d0a02c7e74275065203b34ef6371d0512d5247",
    ),
    (
        "ctr-full.tar",
        "--platform linux/arm64",
        0,
        "2afa1dcf2fbba0fb847e4e82146dd65319064adf839e2e9b1a08b5f309090f49",
    ),
    (
        "ctr-full.tar",
        "--format oci",
        0,
        "6bcabdb10fd4035d80d739d5505c4e34bf877f716a16f578bb2deae4feb7cca9",
    ),
    (
        "ctr-full.tar",
        "--format docker",
        0,
        "01b9e7b2774067fe818c84898e6fdb663e4e3f2be5a8a1c097fdf8291648d037",
    ),
    (
        "ctr-full.tar",
        "--skip-missing",
        0,
        "ff8319c1f157269602be07c5a0d0a02c7e74275065203b34ef6371d0512d5247",
    ),
    (
        "ctr-full.tar",
        "--keep-index --platform linux/amd64",
        0,
        "3b2d3cb0eb5008def7c019d71a1d33375b2b342e382c03285681e0597704b056",
    ),
    (
        "ctr-full.tar",
        "--attestations drop",
        0,
        "ff8319c1f157269602be07c5a0d0a02c7e74275065203b34ef6371d0512d5247",
    ),
    (
        "ctr-full.tar",
        "--platform linux/amd64 --format docker --docker-platform linux/amd64",
        0,
        "fe1cb83035a36d497393244a6b376a26fcc437759edafc4ea2b6801273451bf0",
    ),
    ("ctr-shallow.tar", "", 4, "none"),
    (
        "ctr-shallow.tar",
        "--platform linux/arm64",
        0,
        "2afa1dcf2fbba0fb847e4e82146dd65319064adf839e2e9b1a08b5f309090f49",
    ),
    ("ctr-shallow.tar", "--format oci", 4, "none"),
    ("ctr-shallow.tar", "--format docker", 4, "none"),
    (
        "ctr-shallow.tar",
        "--skip-missing",
        0,
        "2afa1dcf2fbba0fb847e4e82146dd65319064adf839e2e9b1a08b5f309090f49",
    ),
    (
        "ctr-shallow.tar",
        "--keep-index --platform linux/amd64",
        0,
        "41099b1a28414bac5a9ad09136cf59ba26d3378028001e82598cbeb07c62fcfa",
    ),
    ("ctr-shallow.tar", "--attestations drop", 4, "none"),
    (
        "ctr-shallow.tar",
        "--platform linux/amd64 --format docker --docker-platform linux/amd64",
        4,
        "none",
    ),
    (
        "docker-legacy.tar",
        "",
        0,
        "90d1c18f9e5bfb5f2579a91be4e40c6fbafc22b9395104653765e96ca6dff855",
    ),
    (
        "docker-legacy.tar",
        "--platform linux/arm64",
        0,
        "78ed5c900d47841eb7f0a3415234124a57d3765a44cd5df4346c9ecb9106382b",
    ),
    (
        "docker-legacy.tar",
        "--format oci",
        0,
        "c1395a15e79515430dcff101872f4dabf934b5231d366606f00a35c5d0e36582",
    ),
    (
        "docker-legacy.tar",
        "--format docker",
        0,
        "cf15ea36fb7981cf6d09d695b06bedb88f0b05689eaade670e61e6b7a8a24e3d",
    ),
    (
        "docker-legacy.tar",
        "--skip-missing",
        0,
        "90d1c18f9e5bfb5f2579a91be4e40c6fbafc22b9395104653765e96ca6dff855",
    ),
    (
        "docker-legacy.tar",
        "--keep-index --platform linux/amd64",
        0,
        "f3ee5992f6898e2a6fb1b42c32a76fe3393dfda284f33a0f6d91c3bc11a420eb",
    ),
    (
        "docker-legacy.tar",
        "--attestations drop",
        0,
        "90d1c18f9e5bfb5f2579a91be4e40c6fbafc22b9395104653765e96ca6dff855",
    ),
    (
        "docker-legacy.tar",
        "--platform linux/amd64 --format docker --docker-platform linux/amd64",
        0,
        "8e4ef7f8a1e92cc84fcebc0bcfe850f6375d308175ba57ee0ee5ec9ca44cd976",
    ),
    (
        "docker-list.tar",
        "",
        0,
        "2909bcf7787481b852e4c0e7138cf9e3bca3b8825c297a30e63fcaf1481ea7fb",
    ),
    ("docker-list.tar", "--platform linux/arm64", 3, "none"),
    (
        "docker-list.tar",
        "--format oci",
        0,
        "2909bcf7787481b852e4c0e7138cf9e3bca3b8825c297a30e63fcaf1481ea7fb",
    ),
    (
        "docker-list.tar",
        "--format docker",
        0,
        "aad9e07ea43f8c341cde71915f05e6d5be6cc9611ab62f020fd2cd8f6bf69dec",
    ),
    (
        "docker-list.tar",
        "--skip-missing",
        0,
        "2909bcf7787481b852e4c0e7138cf9e3bca3b8825c297a30e63fcaf1481ea7fb",
    ),
    (
        "docker-list.tar",
        "--keep-index --platform linux/amd64",
        0,
        "63d4a6e22ecfaa4476b9377e8e8696683a0534b21bceacd2c5062de5f169cab9",
    ),
    (
        "docker-list.tar",
        "--attestations drop",
        0,
        "2909bcf7787481b852e4c0e7138cf9e3bca3b8825c297a30e63fcaf1481ea7fb",
    ),
    (
        "docker-list.tar",
        "--platform linux/amd64 --format docker --docker-platform linux/amd64",
        0,
        "0f2008aa19acade2f5d5481afda5456430b134b635967a329ff42c6ec8b94a70",
    ),
    (
        "oci-index.tar",
        "",
        0,
        "a696697fce5a07a28d1a3ddfaeae371c5c0217566b848e26bdad5efe53573fe4",
    ),
    (
        "oci-index.tar",
        "--platform linux/arm64",
        0,
        "418e47cbc752ebcb89d9b29dfe6d47efe7c003d2d70d3a4335dbf0513f916430",
    ),
    (
        "oci-index.tar",
        "--format oci",
        0,
        "a696697fce5a07a28d1a3ddfaeae371c5c0217566b848e26bdad5efe53573fe4",
    ),
    (
        "oci-index.tar",
        "--format docker",
        0,
        "be5d7e4914235b01cff3721c014cbed08b9a158fd6d1bd357be546d46a601a74",
    ),
    (
        "oci-index.tar",
        "--skip-missing",
        0,
        "a696697fce5a07a28d1a3ddfaeae371c5c0217566b848e26bdad5efe53573fe4",
    ),
    (
        "oci-index.tar",
        "--keep-index --platform linux/amd64",
        0,
        "a25f52933e1ba6e496099610e8376231dc62d6e3f844c90da42ccf78b3ce7dd3",
    ),
    (
        "oci-index.tar",
        "--attestations drop",
        0,
        "a696697fce5a07a28d1a3ddfaeae371c5c0217566b848e26bdad5efe53573fe4",
    ),
    (
        "oci-index.tar",
        "--platform linux/amd64 --format docker --docker-platform linux/amd64",
        0,
        "08245417e263f015204b7778c1acd1f7b1bacbc3f46b1e01d875023f597212b4",
    ),
    (
        "skopeo-docker-archive.tar",
        "",
        0,
        "c86378b1a47d773e5c351b37a96a587dc8610264210059d39232fcd229d9861f",
    ),
    (
        "skopeo-docker-archive.tar",
        "--platform linux/arm64",
        0,
        "c86378b1a47d773e5c351b37a96a587dc8610264210059d39232fcd229d9861f",
    ),
    (
        "skopeo-docker-archive.tar",
        "--format oci",
        0,
        "05c6c88ac718df2f4ea55d8bd884fc3c59ae87c92494d8f6fe329a337abbdd00",
    ),
    (
        "skopeo-docker-archive.tar",
        "--format docker",
        0,
        "18bb0d38a49632b093e62e54c1bc4f545d6fd28ee019aee408267a3819b1a7ca",
    ),
    (
        "skopeo-docker-archive.tar",
        "--skip-missing",
        0,
        "c86378b1a47d773e5c351b37a96a587dc8610264210059d39232fcd229d9861f",
    ),
    (
        "skopeo-docker-archive.tar",
        "--keep-index --platform linux/amd64",
        3,
        "none",
    ),
    (
        "skopeo-docker-archive.tar",
        "--attestations drop",
        0,
        "c86378b1a47d773e5c351b37a96a587dc8610264210059d39232fcd229d9861f",
    ),
    (
        "skopeo-docker-archive.tar",
        "--platform linux/amd64 --format docker --docker-platform linux/amd64",
        3,
        "none",
    ),
    (
        "oci-index.tar.gz",
        "",
        0,
        "a696697fce5a07a28d1a3ddfaeae371c5c0217566b848e26bdad5efe53573fe4",
    ),
    (
        "oci-index.tar.gz",
        "--platform linux/arm64",
        0,
        "418e47cbc752ebcb89d9b29dfe6d47efe7c003d2d70d3a4335dbf0513f916430",
    ),
    (
        "oci-index.tar.gz",
        "--format oci",
        0,
        "a696697fce5a07a28d1a3ddfaeae371c5c0217566b848e26bdad5efe53573fe4",
    ),
    (
        "oci-index.tar.gz",
        "--format docker",
        0,
        "be5d7e4914235b01cff3721c014cbed08b9a158fd6d1bd357be546d46a601a74",
    ),
    (
        "oci-index.tar.gz",
        "--skip-missing",
        0,
        "a696697fce5a07a28d1a3ddfaeae371c5c0217566b848e26bdad5efe53573fe4",
    ),
    (
        "oci-index.tar.gz",
        "--keep-index --platform linux/amd64",
        0,
        "a25f52933e1ba6e496099610e8376231dc62d6e3f844c90da42ccf78b3ce7dd3",
    ),
    (
        "oci-index.tar.gz",
        "--attestations drop",
        0,
        "a696697fce5a07a28d1a3ddfaeae371c5c0217566b848e26bdad5efe53573fe4",
    ),
    (
        "oci-index.tar.gz",
        "--platform linux/amd64 --format docker --docker-platform linux/amd64",
        0,
        "08245417e263f015204b7778c1acd1f7b1bacbc3f46b1e01d875023f597212b4",
    ),
    ("ctr-shallow.tar.zst", "", 4, "none"),
    (
        "ctr-shallow.tar.zst",
        "--platform linux/arm64",
        0,
        "2afa1dcf2fbba0fb847e4e82146dd65319064adf839e2e9b1a08b5f309090f49",
    ),
    ("ctr-shallow.tar.zst", "--format oci", 4, "none"),
    ("ctr-shallow.tar.zst", "--format docker", 4, "none"),
    (
        "ctr-shallow.tar.zst",
        "--skip-missing",
        0,
        "2afa1dcf2fbba0fb847e4e82146dd65319064adf839e2e9b1a08b5f309090f49",
    ),
    (
        "ctr-shallow.tar.zst",
        "--keep-index --platform linux/amd64",
        0,
        "41099b1a28414bac5a9ad09136cf59ba26d3378028001e82598cbeb07c62fcfa",
    ),
    ("ctr-shallow.tar.zst", "--attestations drop", 4, "none"),
    (
        "ctr-shallow.tar.zst",
        "--platform linux/amd64 --format docker --docker-platform linux/amd64",
        4,
        "none",
    ),
    (
        "oci-layout-dir",
        "",
        0,
        "2d58478cb2bb49e1b5b1ad82b724262995ba56ee2d08ad1a977d8ba5ad702948",
    ),
    ("oci-layout-dir", "--platform linux/arm64", 3, "none"),
    (
        "oci-layout-dir",
        "--format oci",
        0,
        "2d58478cb2bb49e1b5b1ad82b724262995ba56ee2d08ad1a977d8ba5ad702948",
    ),
    (
        "oci-layout-dir",
        "--format docker",
        0,
        "c8d1765423c13ac2b7af79ca0e26d5a258cdbc77598d7f8dad0b9608c7a1df9f",
    ),
    (
        "oci-layout-dir",
        "--skip-missing",
        0,
        "2d58478cb2bb49e1b5b1ad82b724262995ba56ee2d08ad1a977d8ba5ad702948",
    ),
    (
        "oci-layout-dir",
        "--keep-index --platform linux/amd64",
        0,
        "b17bd9f3bbb145e16b945512a314a83441f23a54364b06a1ee894199047c0b73",
    ),
    (
        "oci-layout-dir",
        "--attestations drop",
        0,
        "2d58478cb2bb49e1b5b1ad82b724262995ba56ee2d08ad1a977d8ba5ad702948",
    ),
    (
        "oci-layout-dir",
        "--platform linux/amd64 --format docker --docker-platform linux/amd64",
        0,
        "b26d4034298691389d1b996f051806f429f822e202681b5ed4c585a186ee9ad8",
    ),
];

#[test]
fn filter_outputs_are_byte_stable() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, (archive, opts, code, sha)) in GOLDEN.iter().enumerate() {
        let out = dir.path().join(format!("out-{i}.tar"));
        let res = bin()
            .args(["filter", &testdata(archive), "-o"])
            .arg(&out)
            .arg("-q")
            .args(opts.split_whitespace())
            .output()
            .unwrap();
        let got_sha = match std::fs::read(&out) {
            Ok(b) => hex::encode(Sha256::digest(&b)),
            Err(_) => "none".to_string(),
        };
        let got_code = res.status.code().unwrap_or(-1);
        if got_code != *code || got_sha != *sha {
            failures.push(format!(
                "{archive} [{opts}]: exit {got_code} sha {got_sha}, want exit {code} sha {sha}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
