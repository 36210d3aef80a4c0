//! Image manifests (OCI and Docker schema 2).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocislim::layout::docs::{parse_json, sniff_kind, ManifestDoc};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = parse_json(data, "manifest") else {
        return;
    };
    let _ = sniff_kind(&v);
    if let Ok(m) = ManifestDoc::parse(&v, "manifest") {
        for d in std::iter::once(&m.config)
            .chain(&m.layers)
            .chain(&m.subject)
        {
            let _ = d.digest.blob_path();
            let _ = d.kind();
        }
    }
});
