//! Where the typed document reader may accept what the JSON value path refuses: it skips the
//! fields it does not use, and serde_json skipping a value checks its syntax only, not the code
//! points of `\u` escapes in its strings nor the range of its numbers (`1e999`). Go's
//! encoding/json, which docker and containerd use, skips unknown fields the same way. Every
//! other difference between the two paths is a finding.

/// The value path's error is one the typed reader may not see in a skipped field.
pub fn lenient_on(err: &str) -> bool {
    err.contains("invalid unicode code point")
        || err.contains("surrogate")
        || err.contains("number out of range")
}
