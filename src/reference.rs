//! Image names (docs/formats.md, "Names"): the full reference containerd records
//! (`docker.io/library/alpine:3.20`), the familiar `RepoTags` form Docker writes (`alpine:3.20`),
//! and the tag alone that `org.opencontainers.image.ref.name` carries.

use crate::digest::Digest;

/// A name for messages: the image's name, or its root digest when it has none.
pub fn display_name(name: &Option<String>, d: &Digest) -> String {
    match name {
        Some(n) => n.clone(),
        None => d.to_string(),
    }
}

/// The `RepoTags` form of an image name: `docker.io/library/alpine:3.20` → `alpine:3.20`.
/// Names that are only a tag (no repository) give no RepoTag.
pub fn repo_tag(name: &str) -> Option<String> {
    let name = name.split('@').next().unwrap_or(name);
    let last = name.rsplit('/').next().unwrap_or(name);
    if !name.contains('/') && !last.contains(':') {
        return None; // a bare tag like "1.0" or "latest"
    }
    let mut n = name.to_string();
    if !last.contains(':') {
        n.push_str(":latest");
    }
    if let Some(rest) = n.strip_prefix("docker.io/") {
        n = rest.strip_prefix("library/").unwrap_or(rest).to_string();
    }
    Some(n)
}

/// `repo:tag` split at the tag's colon (not a registry port's).
pub fn split_tag(t: &str) -> Option<(&str, &str)> {
    let i = t.rfind(':')?;
    if t[i..].contains('/') {
        return None;
    }
    Some((&t[..i], &t[i + 1..]))
}

/// The full name containerd records for a RepoTag: `alpine:3.20` → `docker.io/library/alpine:3.20`.
pub fn full_name(tag: &str) -> String {
    let first = tag.split('/').next().unwrap_or(tag);
    let has_domain =
        tag.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_domain {
        tag.to_string()
    } else if tag.contains('/') {
        format!("docker.io/{tag}")
    } else {
        format!("docker.io/library/{tag}")
    }
}

/// The full reference two names are compared by, normalised as Docker normalises them:
/// `alpine` and `alpine:latest` and `docker.io/library/alpine:latest` are one name.
pub fn canonical(name: &str) -> String {
    let (base, digest) = match name.split_once('@') {
        Some((b, d)) => (b, Some(d)),
        None => (name, None),
    };
    let last = base.rsplit('/').next().unwrap_or(base);
    let mut full = full_name(base);
    if !last.contains(':') && digest.is_none() {
        full.push_str(":latest");
    }
    match digest {
        Some(d) => format!("{full}@{d}"),
        None => full,
    }
}

/// The tag of a name (`latest` when it has none), as `org.opencontainers.image.ref.name` holds it.
pub fn tag_of(name: &str) -> &str {
    let base = name.split('@').next().unwrap_or(name);
    split_tag(base).map_or("latest", |(_, t)| t)
}

/// What `--image '<none>'` matches: an image without a name.
pub const UNNAMED: &str = "<none>";

/// An `--image` pattern: a glob (`*`, `?`) tried against the name as written, its full
/// reference and its familiar form, so `alpine:*` and `docker.io/library/alpine:*` both match
/// `docker.io/library/alpine:3.20`. Only `<none>` matches an unnamed image.
#[derive(Debug, Clone)]
pub struct ImagePattern {
    raw: String,
    glob: wildmatch::WildMatch,
}

impl ImagePattern {
    pub fn new(pattern: &str) -> ImagePattern {
        ImagePattern {
            raw: pattern.to_string(),
            glob: wildmatch::WildMatch::new(pattern),
        }
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn matches(&self, name: Option<&str>) -> bool {
        match name {
            None => self.raw == UNNAMED,
            Some(n) => {
                self.glob.matches(n)
                    || self.glob.matches(&canonical(n))
                    || repo_tag(n).is_some_and(|t| self.glob.matches(&t))
            }
        }
    }
}

/// A `--tag SRC=DST`: renames image SRC to DST, or with a SRC ending in `/` every image under
/// that prefix (`docker.io/=registry.local:5000/`). Names compare as [`canonical`] references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub from: String,
    pub to: String,
}

impl Rename {
    /// Parse `SRC=DST`; DST must be made of the characters a reference may hold.
    pub fn parse(s: &str) -> Result<Rename, String> {
        match s.split_once('=') {
            Some((_, to)) if !to.chars().all(reference_char) => Err(format!(
                "--tag {}: {} is not an image reference (letters, digits and . _ - / : @ only)",
                s.escape_default(),
                to.escape_default()
            )),
            Some((from, to)) if !from.is_empty() && !to.is_empty() => Ok(Rename {
                from: from.to_string(),
                to: to.to_string(),
            }),
            _ => Err(format!("--tag {s}: expected SRC=DST")),
        }
    }

    /// The new name of `name` (a full reference), if this rename applies to it.
    pub fn apply(&self, name: &str) -> Option<String> {
        let full = canonical(name);
        if self.from.ends_with('/') {
            let rest = full
                .strip_prefix(&self.from)
                .or_else(|| name.strip_prefix(&self.from))?;
            return Some(canonical(&format!("{}{rest}", self.to)));
        }
        (canonical(&self.from) == full).then(|| canonical(&self.to))
    }
}

/// A character that may appear in an image reference (name, tag, digest, registry port).
fn reference_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._-/:@".contains(c)
}

/// The new name of `name` under the first of `renames` that applies.
pub fn renamed(renames: &[Rename], name: Option<&str>) -> Option<String> {
    let name = name?;
    renames.iter().find_map(|r| r.apply(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_tags() {
        assert_eq!(
            repo_tag("docker.io/library/alpine:3.20").as_deref(),
            Some("alpine:3.20")
        );
        assert_eq!(
            repo_tag("docker.io/foo/bar").as_deref(),
            Some("foo/bar:latest")
        );
        assert_eq!(
            repo_tag("example.com/demo:1.0").as_deref(),
            Some("example.com/demo:1.0")
        );
        assert_eq!(
            repo_tag("localhost:5000/x").as_deref(),
            Some("localhost:5000/x:latest")
        );
        assert_eq!(repo_tag("1.0"), None);
        assert_eq!(
            split_tag("localhost:5000/x:1"),
            Some(("localhost:5000/x", "1"))
        );
        assert_eq!(split_tag("localhost:5000/x"), None);
    }

    #[test]
    fn image_patterns_match_every_form_of_a_name() {
        let full = Some("docker.io/library/alpine:3.20");
        for p in [
            "alpine:3.20",
            "alpine:*",
            "docker.io/library/alpine:3.2?",
            "*alpine*",
            "*",
        ] {
            assert!(ImagePattern::new(p).matches(full), "{p}");
        }
        assert!(!ImagePattern::new("busybox*").matches(full));
        assert!(!ImagePattern::new("*").matches(None));
        assert!(ImagePattern::new("<none>").matches(None));
        assert!(ImagePattern::new("example.com/demo:*").matches(Some("example.com/demo:1.0")));
    }

    #[test]
    fn a_pattern_of_thousands_of_stars() {
        let p = ImagePattern::new(&"*a".repeat(5000));
        assert!(!p.matches(Some(&"a".repeat(4000))));
    }

    #[test]
    fn renames_take_exact_names_and_prefixes() {
        let r = Rename::parse("alpine:3.20=registry.local/alpine:3.20").unwrap();
        assert_eq!(
            r.apply("docker.io/library/alpine:3.20").as_deref(),
            Some("registry.local/alpine:3.20")
        );
        assert_eq!(r.apply("alpine:3.21"), None);
        let p = Rename::parse("docker.io/=registry.local:5000/").unwrap();
        assert_eq!(
            p.apply("alpine:3.20").as_deref(),
            Some("registry.local:5000/library/alpine:3.20")
        );
        assert_eq!(p.apply("example.com/x:1"), None);
        assert!(Rename::parse("nodst=").is_err());
        assert!(Rename::parse("a=evil\u{1b}]0;x\u{7}:1").is_err());
        assert!(Rename::parse("noequals").is_err());
    }

    #[test]
    fn canonical_names_compare_familiar_and_full_forms() {
        assert_eq!(canonical("alpine:3.20"), "docker.io/library/alpine:3.20");
        assert_eq!(canonical("alpine"), "docker.io/library/alpine:latest");
        assert_eq!(
            canonical("library/alpine:latest"),
            "docker.io/library/alpine:latest"
        );
        assert_eq!(
            canonical("docker.io/library/alpine:3.20"),
            "docker.io/library/alpine:3.20"
        );
        assert_eq!(canonical("example.com/demo:1.0"), "example.com/demo:1.0");
        assert_eq!(canonical("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(canonical("1.0"), "docker.io/library/1.0:latest");
        assert_eq!(tag_of("example.com/demo:1.0"), "1.0");
        assert_eq!(tag_of("localhost:5000/x"), "latest");
    }
}
