//! Image configs: the platform they declare.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocislim::layout::docs::{config_platform, parse_json};
use ocislim::platform::Matcher;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = parse_json(data, "config") else {
        return;
    };
    if let Some(p) = config_platform(&v) {
        let _ = p.to_string();
        let _ = p.normalize();
        let _ = Matcher::new(&p).matches(&p);
    }
});
