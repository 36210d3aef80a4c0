//! OCI and Docker JSON documents: descriptors, indexes, manifests and configs, parsed from bytes
//! with every digest validated. Index documents are also kept as JSON values so they can be
//! rewritten without losing fields (see `select`).

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::platform::Platform;
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Annotation naming an image in containerd's exports.
pub const ANN_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// Annotation naming an image (tag or full reference) in the OCI spec.
pub const ANN_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// BuildKit attestation manifests.
pub const ANN_REF_TYPE: &str = "vnd.docker.reference.type";
pub const ANN_REF_DIGEST: &str = "vnd.docker.reference.digest";
/// Referrers listed at the top of index.json by containerd / Docker 29.1+.
pub const ANN_SUBJECT: &str = "io.containerd.manifest.subject";

/// What a descriptor's media type says the blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Index,
    Manifest,
    Other,
}

impl MediaKind {
    pub fn of(media_type: &str) -> MediaKind {
        match media_type {
            OCI_INDEX | DOCKER_LIST => MediaKind::Index,
            OCI_MANIFEST | DOCKER_MANIFEST => MediaKind::Manifest,
            _ => MediaKind::Other,
        }
    }
}

#[derive(Deserialize)]
struct RawDescriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
}

/// Media types common enough that a descriptor borrows them rather than holding a copy.
const COMMON_MEDIA_TYPES: [&str; 12] = [
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.empty.v1+json",
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.in-toto+json",
];

/// `media_type` as one of [`COMMON_MEDIA_TYPES`] when it is one.
fn shared_media_type(media_type: String) -> Cow<'static, str> {
    match COMMON_MEDIA_TYPES.iter().find(|t| **t == media_type) {
        Some(t) => Cow::Borrowed(t),
        None => Cow::Owned(media_type),
    }
}

/// A content descriptor with a validated digest. A large archive holds 100,000s of them, so
/// they are kept small: common media types are not copied ([`COMMON_MEDIA_TYPES`]) and the
/// platform, which most (a manifest's config and layers) lack, is behind a pointer, shared by
/// the copies of the descriptor the images keep.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Descriptor {
    pub media_type: Cow<'static, str>,
    pub digest: Digest,
    pub size: u64,
    pub platform: Option<std::sync::Arc<Platform>>,
    pub annotations: Annotations,
    pub artifact_type: Option<Box<str>>,
}

/// A descriptor's annotations, sorted by key, shared by the descriptor's copies (an image's
/// rows copy the descriptors of its platforms and attestations). Most descriptors have none,
/// one or two, which a tree map would keep in a node of 500 bytes; 25,000 attestation
/// descriptors held 12 MB so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Annotations(Option<std::sync::Arc<[(String, String)]>>);

impl Annotations {
    pub fn get(&self, key: &str) -> Option<&String> {
        let list = self.0.as_deref()?;
        let i = list.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok()?;
        list.get(i).map(|(_, v)| v)
    }
}

impl From<BTreeMap<String, String>> for Annotations {
    fn from(map: BTreeMap<String, String>) -> Annotations {
        Annotations((!map.is_empty()).then(|| map.into_iter().collect()))
    }
}

impl Descriptor {
    /// Parse a descriptor from a JSON value; `member` names the document for errors.
    pub fn from_value(v: &Value, member: &str) -> Result<Descriptor> {
        let raw: RawDescriptor = RawDescriptor::deserialize(v)
            .map_err(|e| Error::json(member, format!("descriptor: {e}")))?;
        Descriptor::from_raw(raw, member)
    }

    fn from_raw(raw: RawDescriptor, member: &str) -> Result<Descriptor> {
        let digest = Digest::parse(&raw.digest).map_err(|e| Error::format(member, e))?;
        Ok(Descriptor {
            media_type: shared_media_type(raw.media_type),
            digest,
            size: raw.size,
            platform: raw.platform.map(std::sync::Arc::new),
            annotations: raw.annotations.unwrap_or_default().into(),
            artifact_type: raw.artifact_type.map(String::into_boxed_str),
        })
    }

    pub fn kind(&self) -> MediaKind {
        MediaKind::of(&self.media_type)
    }

    /// The image name this root descriptor carries, containerd's annotation first.
    pub fn image_name(&self) -> Option<String> {
        self.annotations
            .get(ANN_CONTAINERD_NAME)
            .or_else(|| self.annotations.get(ANN_REF_NAME))
            .cloned()
    }

    /// For a BuildKit attestation manifest, the digest of the manifest it describes.
    pub fn attestation_subject(&self) -> Option<Digest> {
        if self.annotations.get(ANN_REF_TYPE).map(String::as_str) == Some("attestation-manifest") {
            self.annotations
                .get(ANN_REF_DIGEST)
                .and_then(|d| Digest::parse(d).ok())
        } else {
            None
        }
    }
}

/// The most JSON values a document may hold. Parsed, each costs 32 bytes or more (more in
/// objects), so a document of tiny values (`[0,0,0,…]`) would cost 16 times its size in memory;
/// real indexes of thousands of images hold a few hundred thousand.
pub const MAX_JSON_VALUES: usize = 1 << 19;

/// Parse bytes as a JSON value (serde_json limits nesting depth, so deep input is an error;
/// a document of more than [`MAX_JSON_VALUES`] values is one too).
pub fn parse_json(bytes: &[u8], member: &str) -> Result<Value> {
    check_complexity(bytes, member)?;
    serde_json::from_slice(bytes).map_err(|e| Error::json(member, e))
}

/// Refuse a document of more than [`MAX_JSON_VALUES`] values, before parsing it.
pub fn check_complexity(bytes: &[u8], member: &str) -> Result<()> {
    if too_many_values(bytes) {
        return Err(Error::format(
            member,
            format!("document too complex (more than {MAX_JSON_VALUES} JSON values)"),
        ));
    }
    Ok(())
}

/// Whether `bytes` holds more than [`MAX_JSON_VALUES`] values, counted from the commas and
/// opening brackets outside strings (an upper bound for valid JSON; invalid JSON is refused by
/// the parser anyway). Each counted byte adds one to a count that starts at one, so a document
/// shorter than the limit is under it unread (every manifest and config: the scan was a
/// twenty-fifth of `ls` of 1,500 images).
fn too_many_values(bytes: &[u8]) -> bool {
    if bytes.len() < MAX_JSON_VALUES {
        return false;
    }
    let (mut values, mut in_string, mut escaped) = (1usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' | b'[' | b'{' => {
                values += 1;
                if values > MAX_JSON_VALUES {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// The fields of an index that the graph reads, deserialized straight from its bytes.
#[derive(Deserialize)]
struct RawIndex {
    #[serde(default)]
    manifests: Option<Vec<RawDescriptor>>,
}

/// The fields of a manifest that the graph reads, deserialized straight from its bytes.
#[derive(Deserialize)]
struct RawManifest {
    config: RawDescriptor,
    #[serde(default)]
    layers: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    subject: Option<RawDescriptor>,
}

/// Deserialize a JSON object straight into `T`, without a [`Value`] in between (a third of
/// the time `ls` spends on an archive of many images, and most of its allocations); None when
/// it does not fit, so that the caller takes the [`Value`] path, whose errors name the problem.
fn parse_typed<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    object.then(|| serde_json::from_slice(bytes).ok()).flatten()
}

/// Raw descriptors as descriptors; None when a digest is invalid.
fn from_raws(raws: Option<Vec<RawDescriptor>>) -> Option<Vec<Descriptor>> {
    let raws = raws.unwrap_or_default();
    let mut out = Vec::with_capacity(raws.len());
    for r in raws {
        out.push(Descriptor::from_raw(r, "").ok()?);
    }
    Some(out)
}

/// [`index_entries`] of an index's bytes, refusing what [`parse_json`] refuses.
pub fn index_entries_of(bytes: &[u8], member: &str) -> Result<Vec<Descriptor>> {
    check_complexity(bytes, member)?;
    match parse_typed::<RawIndex>(bytes).and_then(|raw| from_raws(raw.manifests)) {
        Some(entries) => Ok(entries),
        None => index_entries(&parse_json(bytes, member)?, member),
    }
}

/// Parse `manifests` of an index document into descriptors.
pub fn index_entries(doc: &Value, member: &str) -> Result<Vec<Descriptor>> {
    let Some(obj) = doc.as_object() else {
        return Err(Error::json(member, "not a JSON object"));
    };
    match obj.get("manifests") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| Descriptor::from_value(v, member))
            .collect(),
        Some(_) => Err(Error::json(member, "\"manifests\" is not an array")),
    }
}

/// An image manifest: its config, layers, and the subject it refers to (OCI 1.1 referrers).
#[derive(Debug, Clone)]
pub struct ManifestDoc {
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    /// Boxed: few manifests have one (a manifest is otherwise held a descriptor larger).
    pub subject: Option<Box<Descriptor>>,
}

impl ManifestDoc {
    /// [`ManifestDoc::parse`] of a manifest's bytes, refusing what [`parse_json`] refuses.
    pub fn parse_bytes(bytes: &[u8], member: &str) -> Result<ManifestDoc> {
        check_complexity(bytes, member)?;
        let typed = parse_typed::<RawManifest>(bytes).and_then(|raw| {
            Some(ManifestDoc {
                config: Descriptor::from_raw(raw.config, member).ok()?,
                layers: from_raws(raw.layers)?,
                subject: match raw.subject {
                    Some(s) => Some(Box::new(Descriptor::from_raw(s, member).ok()?)),
                    None => None,
                },
            })
        });
        match typed {
            Some(m) => Ok(m),
            None => ManifestDoc::parse(&parse_json(bytes, member)?, member),
        }
    }

    pub fn parse(doc: &Value, member: &str) -> Result<ManifestDoc> {
        let Some(obj) = doc.as_object() else {
            return Err(Error::json(member, "not a JSON object"));
        };
        let config = match obj.get("config") {
            Some(v) => Descriptor::from_value(v, member)?,
            None => return Err(Error::json(member, "manifest has no \"config\"")),
        };
        let layers = match obj.get("layers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| Descriptor::from_value(v, member))
                .collect::<Result<_>>()?,
            Some(_) => return Err(Error::json(member, "\"layers\" is not an array")),
        };
        let subject = match obj.get("subject") {
            None | Some(Value::Null) => None,
            Some(v) => Some(Box::new(Descriptor::from_value(v, member)?)),
        };
        Ok(ManifestDoc {
            config,
            layers,
            subject,
        })
    }
}

/// What a document looks like when its media type does not say (sniffing by shape).
pub fn sniff_kind(doc: &Value) -> MediaKind {
    let Some(obj) = doc.as_object() else {
        return MediaKind::Other;
    };
    if let Some(Value::String(mt)) = obj.get("mediaType") {
        let k = MediaKind::of(mt);
        if k != MediaKind::Other {
            return k;
        }
    }
    if obj.get("manifests").is_some_and(Value::is_array) {
        MediaKind::Index
    } else if obj.get("config").is_some_and(Value::is_object) {
        MediaKind::Manifest
    } else {
        MediaKind::Other
    }
}

/// The platform an image config declares (`os`, `architecture`, `variant`, `os.version`,
/// `os.features`), or None when the config does not say.
pub fn config_platform(doc: &Value) -> Option<Platform> {
    let obj = doc.as_object()?;
    let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let os = s("os")?;
    let architecture = s("architecture")?;
    if os.is_empty() || architecture.is_empty() {
        return None;
    }
    let os_features = obj
        .get("os.features")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Some(Platform {
        os,
        architecture,
        variant: s("variant").filter(|v| !v.is_empty()),
        os_version: s("os.version").filter(|v| !v.is_empty()),
        os_features,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Annotations are found by key whatever their order in the document.
    #[test]
    fn annotations_found_by_key() {
        let v: Value = serde_json::from_str(
            r#"{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "size":1,"annotations":{"z":"1","a":"2","m":"3"}}"#,
        )
        .unwrap();
        let d = Descriptor::from_value(&v, "x").unwrap();
        let got: Vec<_> = ["a", "m", "z", "b"]
            .map(|k| d.annotations.get(k).cloned())
            .into();
        let want = [Some("2"), Some("3"), Some("1"), None].map(|v| v.map(String::from));
        assert_eq!(got, want);
    }

    /// Documents read without a JSON value in between read as they did through one; a
    /// document that does not fit gets the value path's error.
    #[test]
    fn typed_and_value_paths_agree() {
        let d = |n: u8| {
            let hex = format!("{n:02x}").repeat(32);
            format!(r#"{{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{hex}","size":{n}}}"#)
        };
        let (a, b, c) = (d(1), d(2), d(3));
        let manifests = [
            format!(r#"{{"config":{a},"layers":[{b},{c}],"subject":{a},"x":[1]}}"#),
            format!(r#" {{"config":{a},"layers":null,"subject":null}}"#),
            format!(r#"{{"config":{a},"config":{b}}}"#),
            format!("[{a},[],null]"),
            r#"{"layers":[]}"#.to_string(),
            format!(r#"{{"config":{a},"layers":{{}}}}"#),
            r#"{"config":{"digest":"sha256:xyz","size":1}}"#.to_string(),
        ];
        let fields = |m: ManifestDoc| (m.config, m.layers, m.subject);
        for doc in &manifests {
            let bytes = doc.as_bytes();
            let typed = ManifestDoc::parse_bytes(bytes, "m").map(fields);
            let value = parse_json(bytes, "m").and_then(|v| ManifestDoc::parse(&v, "m"));
            let value = value.map(fields);
            assert_eq!(
                typed.map_err(|e| e.to_string()),
                value.map_err(|e| e.to_string())
            );
        }
        assert!(parse_typed::<RawManifest>(manifests[0].as_bytes()).is_some());
        let indexes = [
            format!(r#"{{"manifests":[{a},{b}],"annotations":{{"k":"v"}}}}"#),
            r#"{"manifests":null}"#.to_string(),
            "{}".to_string(),
            format!("[[{a}]]"),
            r#"{"manifests":{}}"#.to_string(),
            r#"{"manifests":[{"digest":"md5:00","size":1}]}"#.to_string(),
        ];
        for doc in &indexes {
            let bytes = doc.as_bytes();
            let typed = index_entries_of(bytes, "i").map_err(|e| e.to_string());
            let value = parse_json(bytes, "i").and_then(|v| index_entries(&v, "i"));
            assert_eq!(typed, value.map_err(|e| e.to_string()), "{doc}");
        }
        assert_eq!(
            index_entries_of(indexes[0].as_bytes(), "i").unwrap().len(),
            2
        );
        assert!(parse_typed::<RawIndex>(indexes[0].as_bytes()).is_some());
    }

    #[test]
    fn values_are_counted_outside_strings_only() {
        let n = MAX_JSON_VALUES;
        // n values: at the limit, accepted.
        let at = format!("[{}0]", "0,".repeat(n - 2));
        assert!(!too_many_values(at.as_bytes()));
        assert!(parse_json(at.as_bytes(), "m").is_ok());
        let over = format!("[{}0]", "0,".repeat(n));
        let e = parse_json(over.as_bytes(), "m").unwrap_err().to_string();
        assert!(e.contains("m: ") && e.contains("too complex"), "{e}");
        // A document one byte shorter than the limit holds at most the limit of values; one
        // of that many commas and brackets is over it.
        assert!(!too_many_values(",".repeat(n - 1).as_bytes()));
        assert!(too_many_values(",".repeat(n).as_bytes()));
        // A long document is counted, not refused for its length.
        assert!(!too_many_values(
            format!("[{}]", " ".repeat(2 * n)).as_bytes()
        ));
        // Commas and brackets inside strings (escaped quotes too) do not count.
        let s = format!(r#"{{"a":"{}\",[{{"}}"#, ",[{".repeat(n));
        assert!(!too_many_values(s.as_bytes()));
        assert!(parse_json(s.as_bytes(), "m").is_ok());
    }
}
