//! Docker's manifest.json, and the paths in it (which must never leave the archive).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocislim::layout::docker::parse_manifest_json;
use ocislim::source::paths;

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = parse_manifest_json(data) else {
        return;
    };
    for e in &entries {
        for p in std::iter::once(&e.config).chain(&e.layers) {
            if let Ok(n) = paths::normalize(p, "manifest.json") {
                assert!(
                    !n.starts_with('/') && !n.split('/').any(|c| c == ".."),
                    "{p:?} -> {n:?}"
                );
            }
            let _ = ocislim::verify::digest_of_blob_path(p);
            let _ = paths::join_link("abc/layer.tar", p);
        }
        let _ = serde_json::to_vec(e);
    }
});
