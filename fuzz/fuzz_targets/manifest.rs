//! Image manifests (OCI and Docker schema 2).
#![no_main]

#[path = "lenient.rs"]
mod lenient;

use lenient::lenient_on;
use libfuzzer_sys::fuzz_target;
use ocislim::layout::docs::{parse_json, sniff_kind, ManifestDoc};

fuzz_target!(|data: &[u8]| {
    // Read straight from the bytes, a manifest reads as through a JSON value, or fails alike.
    let fields = |m: ManifestDoc| (m.config, m.layers, m.subject);
    let typed = ManifestDoc::parse_bytes(data, "manifest").map(fields);
    let value = parse_json(data, "manifest").and_then(|v| ManifestDoc::parse(&v, "manifest"));
    let (typed, value) = (typed.map_err(|e| e.to_string()), value.map(fields));
    let value = value.map_err(|e| e.to_string());
    if !(typed.is_ok() && value.as_ref().is_err_and(|e| lenient_on(e))) {
        assert_eq!(typed, value);
    }
    let Ok(v) = parse_json(data, "manifest") else {
        return;
    };
    let _ = sniff_kind(&v);
    if let Ok(m) = ManifestDoc::parse(&v, "manifest") {
        for d in std::iter::once(&m.config)
            .chain(&m.layers)
            .chain(m.subject.as_deref())
        {
            let _ = d.digest.blob_path();
            let _ = d.kind();
        }
    }
});
