//! OCI index / Docker manifest list documents (index.json and index blobs).
#![no_main]

#[path = "lenient.rs"]
mod lenient;

use lenient::lenient_on;
use libfuzzer_sys::fuzz_target;
use ocislim::layout::docs::{index_entries, index_entries_of, parse_json, sniff_kind};

fuzz_target!(|data: &[u8]| {
    // Read straight from the bytes, an index reads as through a JSON value, or fails alike.
    let typed = index_entries_of(data, "index.json").map_err(|e| e.to_string());
    let value = parse_json(data, "index.json").and_then(|v| index_entries(&v, "index.json"));
    let value = value.map_err(|e| e.to_string());
    if !(typed.is_ok() && value.as_ref().is_err_and(|e| lenient_on(e))) {
        assert_eq!(typed, value);
    }
    let Ok(v) = parse_json(data, "index.json") else {
        return;
    };
    let _ = sniff_kind(&v);
    if let Ok(entries) = index_entries(&v, "index.json") {
        for e in &entries {
            let _ = e.kind();
            let _ = e.image_name();
            let _ = e.attestation_subject();
            let _ = e.digest.blob_path();
            let _ = e.digest.short();
            if let Some(p) = &e.platform {
                let _ = p.to_string();
                let _ = ocislim::platform::Matcher::new(p).matches(p);
            }
        }
    }
});
