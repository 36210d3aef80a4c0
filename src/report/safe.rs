//! Terminal safety: names, tags, annotations and platform strings come from the archive, so
//! before they reach a terminal their control characters (C0, DEL, C1 such as CSI, and the
//! bidirectional overrides) are written as escapes: no colour codes, no OSC sequences, no
//! forged rows or lines.

use std::borrow::Cow;

/// `s` with every control character escaped Rust-style (`\n`, `\u{1b}`).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A character a terminal would act on rather than show.
fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert!(matches!(
            escape("example.com/app:1 ✓"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(escape("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(
            escape("\u{1b}]8;;x\u{7}red\u{9b}31m"),
            "\\u{1b}]8;;x\\u{7}red\\u{9b}31m"
        );
        assert_eq!(escape("\u{202e}gpj.exe"), "\\u{202e}gpj.exe");
        assert_eq!(escape("\u{7f}"), "\\u{7f}");
    }
}
