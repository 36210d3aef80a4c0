//! Platform selectors (`--platform`): parsing, normalisation, printing and matching.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocislim::platform::{parse_list, Matcher, Platform};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_list(&[s]);
    let Ok(p) = Platform::parse(s) else {
        return;
    };
    let n = p.normalize();
    assert_eq!(n.normalize(), n, "normalising is idempotent for {s:?}");
    let _ = p.to_string();
    let selector = p.format_selector();
    let m = Matcher::new(&p);
    let _ = m.to_string();
    assert!(m.matches(&p), "{s:?} does not select itself");
    if let Ok(q) = Platform::parse(&selector) {
        assert!(
            m.matches(&q),
            "{s:?} does not select its own printed form {selector:?}"
        );
    }
});
