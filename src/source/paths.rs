//! Member-name hygiene: normalising names (`./a//b` → `a/b`) and refusing any name or link that
//! would leave the archive (`..` above the root, absolute paths).

use crate::error::{Error, Result};
use std::borrow::Cow;

/// Normalise a member name or an archive-relative path: drop `.` and empty components, resolve
/// `..` inside the archive, and refuse absolute paths or `..` that climbs above the root.
/// `context` names the member the path came from, for the error message. A name already
/// normal (nearly every one) is returned as it is, not copied.
pub fn normalize<'a>(name: &'a str, context: &str) -> Result<Cow<'a, str>> {
    if !name.is_empty() && name.split('/').all(|c| !matches!(c, "" | "." | "..")) {
        return Ok(Cow::Borrowed(name));
    }
    if name.starts_with('/') {
        return Err(Error::UnsafePath {
            member: context.to_string(),
            reason: format!("absolute path {name:?}"),
        });
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(Error::UnsafePath {
                        member: context.to_string(),
                        reason: format!("{name:?} leaves the archive"),
                    });
                }
            }
            c => parts.push(c),
        }
    }
    Ok(Cow::Owned(parts.join("/")))
}

/// Resolve a symlink `target` relative to the directory holding `link`.
pub fn join_link(link: &str, target: &str) -> Result<String> {
    if target.starts_with('/') {
        return Err(Error::UnsafePath {
            member: link.to_string(),
            reason: format!("symlink to absolute path {target:?}"),
        });
    }
    let dir = match link.rfind('/') {
        Some(i) => &link[..i],
        None => "",
    };
    match dir.is_empty() {
        true => normalize(target, link).map(Cow::into_owned),
        false => normalize(&format!("{dir}/{target}"), link).map(Cow::into_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_refuses_escapes() {
        assert_eq!(
            normalize("./blobs//sha256/ab", "x").unwrap(),
            "blobs/sha256/ab"
        );
        assert_eq!(normalize("a/../b", "x").unwrap(), "b");
        assert!(normalize("../etc/passwd", "x").is_err());
        assert!(normalize("/etc/passwd", "x").is_err());
        assert!(normalize("a/../../b", "x").is_err());
        assert_eq!(join_link("abc/layer.tar", "../def.tar").unwrap(), "def.tar");
        assert_eq!(join_link("layer.tar", "def.tar").unwrap(), "def.tar");
        assert!(join_link("abc/layer.tar", "../../def.tar").is_err());
        assert!(join_link("abc/layer.tar", "/def.tar").is_err());
    }

    /// A name already normal comes back as it is; any other is rebuilt.
    #[test]
    fn normal_names_are_not_copied() {
        for name in ["a", "blobs/sha256/ab", "a.b/..c", "a/.d"] {
            assert!(matches!(normalize(name, "x"), Ok(Cow::Borrowed(n)) if n == name));
        }
        for name in ["", "a/", "./a", "a//b", "a/./b", "a/b/.."] {
            assert!(
                matches!(normalize(name, "x"), Ok(Cow::Owned(_))),
                "{name:?}"
            );
        }
    }
}
