//! Property tests over generated archives and random selections: filtering twice equals
//! filtering once (byte for byte), the output always verifies, kept manifest digests never
//! change, and random bytes never make ocislim panic.

use ocislim::plan::FilterOptions;
use ocislim::platform::Platform;
use ocislim::sink::write::{Target, WriteOptions};
use ocislim::sink::OutCompression;
use ocislim_testgen::{self as testgen, ArchiveSpec, ImageSpec, LayerSpec, PlatformSpec, Shape};
use proptest::prelude::*;
use std::collections::BTreeSet;

const PLATFORMS: [&str; 6] = [
    "linux/amd64",
    "linux/arm64/v8",
    "linux/arm/v7",
    "linux/s390x",
    "windows/amd64",
    "linux/386",
];

fn spec_strategy() -> impl Strategy<Value = ArchiveSpec> {
    let platform =
        (0usize..6, 0u64..4, any::<bool>(), any::<bool>()).prop_map(|(i, seed, att, refr)| {
            let mut p = PlatformSpec::new(
                PLATFORMS[i],
                vec![
                    LayerSpec {
                        size: 100 + seed * 37,
                        seed: seed + i as u64 * 10,
                    },
                    LayerSpec {
                        size: 64,
                        seed: 999,
                    },
                ],
            );
            p.attestation = att;
            p.referrer = refr;
            p
        });
    let shape = prop_oneof![
        Just(Shape::OciIndex),
        Just(Shape::DockerList),
        Just(Shape::Nested),
        Just(Shape::Flat)
    ];
    let image = (proptest::collection::vec(platform, 1..4), shape, 0u8..3).prop_map(
        |(mut ps, shape, n)| {
            let mut seen = BTreeSet::new();
            ps.retain(|p| seen.insert(p.platform.clone()));
            if shape == Shape::DockerList {
                for p in &mut ps {
                    p.referrer = false;
                }
            }
            ImageSpec {
                name: Some(format!("example.com/img{n}:1")),
                shape,
                platforms: ps,
            }
        },
    );
    (
        proptest::collection::vec(image, 1..3),
        any::<bool>(),
        0usize..3,
    )
        .prop_map(|(images, docker, orphans)| ArchiveSpec {
            images,
            docker_manifest: docker,
            orphans,
            containerd_names: docker,
        })
}

fn run(
    input: &std::path::Path,
    out: &std::path::Path,
    opts: &FilterOptions,
) -> Result<(), ocislim::Error> {
    let g = ocislim::open(input.to_str().unwrap())?;
    let w = WriteOptions {
        compression: OutCompression::None,
        verify: true,
        progress: false,
        digest_output: true,
    };
    ocislim::filter(g, opts, &Target::File(out.to_path_buf()), &w, false).map(|_| ())
}

fn kept_manifests(path: &std::path::Path) -> BTreeSet<String> {
    let g = ocislim::open(path.to_str().unwrap()).unwrap();
    g.images
        .iter()
        .flat_map(|i| i.platforms.iter().map(|p| p.desc.digest.to_string()))
        .collect()
}

/// Platform manifests and their artifacts (a `--keep-index` output that left out an OCI
/// referrer's blob can no longer tell it is a referrer, so it lists it as a platform).
fn all_manifests(path: &std::path::Path) -> BTreeSet<String> {
    let g = ocislim::open(path.to_str().unwrap()).unwrap();
    g.images
        .iter()
        .flat_map(|i| i.platforms.iter())
        .flat_map(|p| {
            std::iter::once(p.desc.digest.to_string())
                .chain(p.attestations.iter().map(|a| a.desc.digest.to_string()))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn filter_twice_equals_filter_once(spec in spec_strategy(), pick in proptest::collection::vec(0usize..6, 0..3), drop_att in any::<bool>(), keep_index in any::<bool>()) {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("in.tar");
        testgen::write_archive(&spec, std::fs::File::create(&input).unwrap()).unwrap();
        let include: Vec<Platform> = pick.iter().map(|&i| Platform::parse(PLATFORMS[i]).unwrap()).collect();
        let opts = FilterOptions { include, drop_attestations: drop_att, keep_index, ..Default::default() };
        let once = d.path().join("once.tar");
        let twice = d.path().join("twice.tar");
        match run(&input, &once, &opts) {
            Err(e) => {
                // The only acceptable failure: a selector that matches nothing.
                prop_assert_eq!(e.exit_code().code(), 3, "{}", e);
                prop_assert!(!once.exists());
            }
            Ok(()) => {
                let mut g = ocislim::open(once.to_str().unwrap()).unwrap();
                let report = ocislim::verify::verify(&mut g);
                if keep_index {
                    prop_assert!(!report.is_corrupt(), "{:?}", report.problems);
                } else {
                    prop_assert!(report.is_sound(), "{:?}", report.problems);
                }
                let before = all_manifests(&input);
                let after = kept_manifests(&once);
                prop_assert!(after.is_subset(&before), "kept manifest digests never change");
                run(&once, &twice, &opts).unwrap();
                prop_assert_eq!(std::fs::read(&once).unwrap(), std::fs::read(&twice).unwrap());
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("junk.tar");
        std::fs::write(&p, &data).unwrap();
        let _ = ocislim::open(p.to_str().unwrap()).map(|mut g| ocislim::verify::verify(&mut g));
    }

    #[test]
    fn mutated_archives_never_panic(flips in proptest::collection::vec((0usize..20_000, any::<u8>()), 1..8)) {
        let spec = ArchiveSpec { images: vec![testgen::multi_platform("example.com/m:1", 2, 300, true)], docker_manifest: true, orphans: 1, containerd_names: true };
        let mut data = Vec::new();
        testgen::write_archive(&spec, &mut data).unwrap();
        for (pos, b) in flips {
            let n = data.len();
            data[pos % n] = b;
        }
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.tar");
        std::fs::write(&p, &data).unwrap();
        if let Ok(mut g) = ocislim::open(p.to_str().unwrap()) {
            let _ = ocislim::verify::verify(&mut g);
        }
        if let Ok(g) = ocislim::open(p.to_str().unwrap()) {
            let out = d.path().join("o.tar");
            let w = WriteOptions { compression: OutCompression::None, verify: true, progress: false, digest_output: true };
            let _ = ocislim::filter(g, &FilterOptions::default(), &Target::File(out), &w, false);
        }
    }
}
