//! Platforms (docs/formats.md, "Platforms"): the OCI `platform` object, parsing of user selectors such as
//! `linux/arm64/v8` or `windows(10.0.17763)/amd64`, normalisation, and the strict matcher
//! that decides which platforms of an archive a selector selects.
//!
//! Everything here follows containerd's `platforms` package (github.com/containerd/platforms:
//! `Parse`, `Normalize`, `normalizeOS`/`normalizeArch`, `NewMatcher` and `OnlyStrict`), so
//! that ocislim selects what docker, ctr and nerdctl would. Points worth knowing:
//!
//! * Matching is containerd's `OnlyStrict`: both sides are normalised and must have the same
//!   os, architecture and variant. No fallback to older variants (`arm/v7` never selects
//!   `arm/v6`, `amd64/v3` never selects `amd64/v2`, `amd64` never selects `386`).
//! * Normalisation makes `arm64` and `arm64/v8` the same (the canonical form has *no*
//!   variant, as in containerd), `amd64` and `amd64/v1` the same, and `arm` and `arm/v7` the
//!   same (canonical form `arm/v7`).
//! * `os.features`: a platform is selected when its features are a *subset* of the selector's
//!   features (containerd's rule since platforms v1.0.0-rc.0). So a selector without features
//!   only selects platforms without features, and `linux(+a+b)/amd64` selects platforms
//!   whose features are any of {}, {a}, {b}, {a,b}. For a `windows` selector the platform's
//!   `win32k` feature is ignored (containerd strips it, for compatibility with older
//!   releases that ignored features).
//! * `os.version` is only looked at when the selector's OS is `windows` and the selector
//!   carries a version of the form `major.minor.build[...]`; then containerd's host/container
//!   compatibility rule applies (exact build below Windows Server 2022, build 20348; from
//!   there, builds from the previous LTSC up to the selector's build). A platform without
//!   `os.version` always passes the version check. For any other OS, the selector's version
//!   is kept (and printed) but not used for matching.

use std::fmt;

/// An OCI image-index `platform` object, as written in an archive or parsed from a selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, Default)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

/// A selector that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform {input:?}: {reason}")]
pub struct PlatformError {
    pub input: String,
    pub reason: String,
}

impl PlatformError {
    fn new(input: &str, reason: impl Into<String>) -> PlatformError {
        PlatformError {
            input: input.to_string(),
            reason: reason.into(),
        }
    }
}

/// Operating systems a single-component selector may name (containerd's `isKnownOS`, from
/// Go's `syslist.go`).
const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "windows",
    "zos",
];

/// Architectures a single-component selector may name (containerd's `isKnownArch`).
const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "ppc64",
    "ppc64le",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// The OS the host stands for when a selector or a platform leaves it out.
const HOST_OS: &str = "linux";

impl Platform {
    /// The default platform: `linux/<this machine's architecture as Go names it>`, with
    /// variant `v8` on arm64 and `v7` on 32-bit arm (containerd's `DefaultSpec`, except
    /// that the OS is always `linux`, the OS of the images ocislim filters).
    pub fn host() -> Platform {
        let (architecture, variant) =
            goarch(std::env::consts::ARCH, cfg!(target_endian = "little"));
        Platform {
            os: HOST_OS.to_string(),
            architecture,
            variant: variant.map(str::to_string),
            ..Platform::default()
        }
    }

    /// Parse a user selector (containerd `platforms.Parse`), returning the normalised platform.
    ///
    /// Grammar: `os[(osversion[+feature...])]/arch[/variant]`, or a single component naming
    /// a known OS (the architecture is the host's) or a known architecture (the OS is
    /// `linux`). The OS and architecture are case-folded and normalised as by containerd:
    /// `linux/aarch64` gives `linux/arm64`, `linux/armhf` gives `linux/arm` (v7 is left
    /// implicit for two components), `linux/arm64/8` gives `linux/arm64/v8` (arm64 with
    /// an explicit variant keeps one), `linux/amd64/v1` gives `linux/amd64`. The OS
    /// version and features are percent-decoded; features are kept in the order written.
    pub fn parse(s: &str) -> Result<Platform, PlatformError> {
        if s.is_empty() {
            return Err(PlatformError::new(s, "empty platform specifier"));
        }
        if s.contains('*') {
            return Err(PlatformError::new(s, "wildcards not yet supported"));
        }
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() > 3 {
            return Err(PlatformError::new(
                s,
                "cannot parse platform specifier: at most three components (os/arch/variant)",
            ));
        }
        let (first, rest) = match parts.split_first() {
            Some(x) => x,
            None => return Err(PlatformError::new(s, "empty platform specifier")),
        };
        let os_part = parse_os_component(first).map_err(|r| PlatformError::new(s, r))?;
        for (i, part) in rest.iter().enumerate() {
            if part.is_empty() {
                return Err(PlatformError::new(
                    s,
                    format!("component {} is empty", i + 2),
                ));
            }
            if !part.bytes().all(is_component_byte) {
                return Err(PlatformError::new(
                    s,
                    format!(
                        "{part:?} is an invalid component: only letters, digits, '_', '.' and '-' are allowed"
                    ),
                ));
            }
        }

        let mut p = Platform {
            os: normalize_os(os_part.name),
            os_version: os_part.version,
            os_features: os_part.features,
            ..Platform::default()
        };
        match rest {
            [] => {
                if KNOWN_OS.contains(&p.os.as_str()) {
                    // An OS alone: the host's architecture. containerd only fills in the
                    // variant for 32-bit arm, and only when it is not v7.
                    let host = Platform::host();
                    p.architecture = host.architecture;
                    if p.architecture == "arm" && host.variant.as_deref() != Some("v7") {
                        p.variant = host.variant;
                    }
                    return Ok(p);
                }
                let (arch, variant) = normalize_arch(first, "");
                if !KNOWN_ARCH.contains(&arch.as_str()) {
                    return Err(PlatformError::new(
                        s,
                        "unknown operating system or architecture",
                    ));
                }
                let variant = if arch == "arm" && variant == "v7" {
                    String::new()
                } else {
                    variant
                };
                Ok(Platform {
                    os: HOST_OS.to_string(),
                    architecture: arch,
                    variant: non_empty(variant),
                    // The single component matched as an architecture, so it had no
                    // "(...)" part: no version or features to carry.
                    ..Platform::default()
                })
            }
            [arch] => {
                let (arch, variant) = normalize_arch(arch, "");
                let variant = if arch == "arm" && variant == "v7" {
                    String::new()
                } else {
                    variant
                };
                p.architecture = arch;
                p.variant = non_empty(variant);
                Ok(p)
            }
            [arch, variant] => {
                let (arch, mut variant) = normalize_arch(arch, variant);
                if arch == "arm64" && variant.is_empty() {
                    variant = "v8".to_string();
                }
                p.architecture = arch;
                p.variant = non_empty(variant);
                Ok(p)
            }
            _ => Err(PlatformError::new(s, "cannot parse platform specifier")),
        }
    }

    /// Normalised copy (containerd `Normalize`): OS case-folded, `macos` → `darwin`, an
    /// empty OS → `linux`; architecture and variant through containerd's `normalizeArch`
    /// (`arm64/v8` → `arm64`, `amd64/v1` → `amd64`, `arm` → `arm/v7`, `armel` → `arm/v6`,
    /// `i386` → `386`, ...); features sorted and deduplicated; the OS version untouched.
    pub fn normalize(&self) -> Platform {
        let (architecture, variant) =
            normalize_arch(&self.architecture, self.variant.as_deref().unwrap_or(""));
        let mut os_features = self.os_features.clone();
        os_features.sort();
        os_features.dedup();
        Platform {
            os: normalize_os(&self.os),
            architecture,
            variant: non_empty(variant),
            os_version: self.os_version.clone(),
            os_features,
        }
    }

    /// The full selector form `os[(osversion[+feature...])]/arch[/variant]` (containerd's
    /// `FormatAll`): features sorted and deduplicated, the version and features
    /// percent-encoded where needed, so that [`Platform::parse`] reads it back. Values are
    /// printed as written (not normalised). An empty OS prints as `unknown`, as in
    /// containerd.
    ///
    /// containerd only encodes `%`, `+`, `(`, `)` and `/`; this encodes every byte its
    /// parser would refuse, so that the output always parses (identical for ordinary values).
    pub fn format_selector(&self) -> String {
        if self.os.is_empty() {
            return "unknown".to_string();
        }
        let mut first = self.os.clone();
        let version = self.os_version.as_deref().unwrap_or("");
        let mut features: Vec<&str> = self
            .os_features
            .iter()
            .map(String::as_str)
            .filter(|f| !f.is_empty())
            .collect();
        features.sort_unstable();
        features.dedup();
        if !version.is_empty() || !features.is_empty() {
            first.push('(');
            first.push_str(&encode_os_option(version));
            for f in features {
                first.push('+');
                first.push_str(&encode_os_option(f));
            }
            first.push(')');
        }
        let variant = self.variant.as_deref().unwrap_or("");
        [first.as_str(), self.architecture.as_str(), variant]
            .iter()
            .filter(|c| !c.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl fmt::Display for Platform {
    /// `os/arch[/variant]`, from the values as written (no normalisation).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match self.variant.as_deref() {
            Some(v) if !v.is_empty() => write!(f, "/{v}"),
            _ => Ok(()),
        }
    }
}

impl std::str::FromStr for Platform {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Platform, PlatformError> {
        Platform::parse(s)
    }
}

/// A strict matcher built from one parsed selector (containerd `OnlyStrict`).
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The selector, normalised.
    platform: Platform,
    /// Set when the selector's OS is Windows: its version (all zero when it has none, or
    /// none containerd can read, which then matches any version).
    windows: Option<WindowsVersion>,
}

impl Matcher {
    pub fn new(selector: &Platform) -> Matcher {
        let platform = selector.normalize();
        let windows = (platform.os == "windows")
            .then(|| windows_version(platform.os_version.as_deref().unwrap_or("")));
        Matcher { platform, windows }
    }

    /// The normalised selector this matcher was built from.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Whether `p` (as written in the archive; normalised here) is selected.
    pub fn matches(&self, p: &Platform) -> bool {
        let mut n = p.normalize();
        if self.windows.is_some() {
            // containerd strips win32k from the candidate for Windows selectors.
            n.os_features.retain(|f| f != "win32k");
        }
        let m = &self.platform;
        if m.os != n.os || m.architecture != n.architecture || m.variant != n.variant {
            return false;
        }
        if let Some(want) = self.windows {
            let have = p.os_version.as_deref().unwrap_or("");
            if !want.is_empty()
                && !have.is_empty()
                && !windows_compatible(want, windows_version(have))
            {
                return false;
            }
        }
        // The candidate's features must all be offered by the selector (both sorted).
        n.os_features
            .iter()
            .all(|f| m.os_features.binary_search(f).is_ok())
    }
}

impl fmt::Display for Matcher {
    /// The normalised selector in full selector form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.platform.format_selector())
    }
}

/// Parse a list of `--platform` values, each possibly comma-separated ("linux/amd64,linux/arm64"), trimming spaces, rejecting empty items.
pub fn parse_list<S: AsRef<str>>(values: &[S]) -> Result<Vec<Platform>, PlatformError> {
    let mut out = Vec::new();
    for value in values {
        let value = value.as_ref();
        for item in value.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(PlatformError::new(value, "empty platform in list"));
            }
            out.push(Platform::parse(item)?);
        }
    }
    Ok(out)
}

/// Go's GOARCH (and containerd's default variant) for a Rust `target_arch`.
fn goarch(arch: &str, little_endian: bool) -> (String, Option<&'static str>) {
    let (name, variant) = match arch {
        "x86_64" => ("amd64", None),
        "x86" => ("386", None),
        "aarch64" => ("arm64", Some("v8")),
        "arm" => ("arm", Some("v7")),
        "loongarch64" => ("loong64", None),
        "powerpc" => ("ppc", None),
        "powerpc64" if little_endian => ("ppc64le", None),
        "powerpc64" => ("ppc64", None),
        "mips" | "mips32r6" if little_endian => ("mipsle", None),
        "mips" | "mips32r6" => ("mips", None),
        "mips64" | "mips64r6" if little_endian => ("mips64le", None),
        "mips64" | "mips64r6" => ("mips64", None),
        "riscv32" => ("riscv", None),
        "wasm32" | "wasm64" => ("wasm", None),
        other => (other, None),
    };
    (name.to_string(), variant)
}

/// containerd's `normalizeOS`.
fn normalize_os(os: &str) -> String {
    if os.is_empty() {
        return HOST_OS.to_string();
    }
    let os = os.to_lowercase();
    if os == "macos" {
        "darwin".to_string()
    } else {
        os
    }
}

/// containerd's `normalizeArch`: (architecture, variant), "" for no variant.
fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_lowercase();
    let variant = variant.to_lowercase();
    match arch.as_str() {
        "i386" => ("386".to_string(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let variant = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".to_string(), variant)
        }
        "aarch64" | "arm64" => {
            let variant = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".to_string(),
                _ => variant,
            };
            ("arm64".to_string(), variant)
        }
        "armhf" => ("arm".to_string(), "v7".to_string()),
        "armel" => ("arm".to_string(), "v6".to_string()),
        "arm" => {
            let variant = match variant.as_str() {
                "" | "7" => "v7".to_string(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            (arch, variant)
        }
        _ => (arch, variant),
    }
}

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

/// Bytes allowed in the architecture and variant components (`[A-Za-z0-9_.-]`).
fn is_component_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-'
}

/// Bytes allowed in the OS name (`[A-Za-z0-9_-]`).
fn is_os_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Bytes allowed in an OS version or feature as written (`[A-Za-z0-9_.%-]`).
fn is_os_option_byte(b: u8) -> bool {
    is_component_byte(b) || b == b'%'
}

/// The first component, split: `os[(version[+feature...])]`.
struct OsComponent<'a> {
    name: &'a str,
    version: Option<String>,
    features: Vec<String>,
}

/// Parse the first component as containerd's `osRe` does
/// (`^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$`), then
/// percent-decode the version and features.
fn parse_os_component(part: &str) -> Result<OsComponent<'_>, String> {
    let (name, options) = match part.split_once('(') {
        None => {
            if part.contains(')') {
                return Err(format!("{part:?} has unbalanced parentheses"));
            }
            (part, None)
        }
        Some((name, rest)) => match rest.strip_suffix(')') {
            Some(inner) if !inner.contains('(') && !inner.contains(')') => (name, Some(inner)),
            _ => return Err(format!("{part:?} has unbalanced parentheses")),
        },
    };
    if name.is_empty() {
        return Err("the operating system is empty".to_string());
    }
    if !name.bytes().all(is_os_name_byte) {
        return Err(format!(
            "{name:?} is an invalid operating system: only letters, digits, '_' and '-' are allowed"
        ));
    }
    let mut version = None;
    let mut features = Vec::new();
    if let Some(inner) = options {
        let mut pieces = inner.split('+');
        let raw_version = pieces.next().unwrap_or("");
        if !raw_version.bytes().all(is_os_option_byte) {
            return Err(format!(
                "{raw_version:?} is an invalid OS version: only letters, digits, '_', '.', '-' and '%' escapes are allowed"
            ));
        }
        let decoded = decode_os_option(raw_version)
            .map_err(|e| format!("invalid OS version {raw_version:?}: {e}"))?;
        version = non_empty(decoded);
        for raw in pieces {
            if raw.is_empty() {
                return Err("empty OS feature".to_string());
            }
            if !raw.bytes().all(is_os_option_byte) {
                return Err(format!(
                    "{raw:?} is an invalid OS feature: only letters, digits, '_', '.', '-' and '%' escapes are allowed"
                ));
            }
            let f =
                decode_os_option(raw).map_err(|e| format!("invalid OS feature {raw:?}: {e}"))?;
            if !f.is_empty() {
                features.push(f);
            }
        }
    }
    Ok(OsComponent {
        name,
        version,
        features,
    })
}

/// Go's `url.PathUnescape`, applied (as in containerd) only when the value holds a `%`.
fn decode_os_option(s: &str) -> Result<String, String> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|c| hex_value(*c));
            let lo = bytes.get(i + 2).and_then(|c| hex_value(*c));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                _ => return Err("invalid percent-encoding".to_string()),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-encoding does not decode to UTF-8".to_string())
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// containerd's encoding of OS versions and features in the selector form, widened to
/// every byte its parser refuses.
fn encode_os_option(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if is_component_byte(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A Windows version as containerd reads one (`getWindowsOSVersion`): all zero when the
/// string is not `major.minor.build[...]` with major and minor < 256 and build < 65536.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct WindowsVersion {
    major: u8,
    minor: u8,
    build: u16,
}

impl WindowsVersion {
    fn is_empty(&self) -> bool {
        *self == WindowsVersion::default()
    }
}

fn windows_version(v: &str) -> WindowsVersion {
    if v.matches('.').count() < 2 {
        return WindowsVersion::default();
    }
    let mut parts = v.split('.');
    let (Some(major), Some(minor), Some(build)) = (parts.next(), parts.next(), parts.next()) else {
        return WindowsVersion::default();
    };
    match (
        parse_decimal::<u8>(major),
        parse_decimal::<u8>(minor),
        parse_decimal::<u16>(build),
    ) {
        (Some(major), Some(minor), Some(build)) => WindowsVersion {
            major,
            minor,
            build,
        },
        _ => WindowsVersion::default(),
    }
}

/// Go's `strconv.ParseUint(s, 10, bits)`: ASCII digits only, no sign.
fn parse_decimal<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Windows Server 2022 (ltsc2022) and Windows Server 2025 (ltsc2025) builds.
const LTSC2022: u16 = 20348;
const LTSC_RELEASES: [u16; 2] = [LTSC2022, 26100];

/// containerd's `checkWindowsHostAndContainerCompat`, with the selector as the host.
fn windows_compatible(host: WindowsVersion, ctr: WindowsVersion) -> bool {
    if host.major != ctr.major || host.minor != ctr.minor {
        return false;
    }
    if host.build < LTSC2022 {
        return host.build == ctr.build;
    }
    // The earliest container build the host runs: the latest LTSC strictly before it
    // (the host itself when it is ltsc2022).
    let oldest = LTSC_RELEASES
        .iter()
        .rev()
        .copied()
        .find(|&r| host.build > r)
        .unwrap_or(LTSC2022);
    oldest <= ctr.build && ctr.build <= host.build
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn plat(os: &str, arch: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.into(),
            architecture: arch.into(),
            variant: variant.map(Into::into),
            ..Platform::default()
        }
    }

    fn p(s: &str) -> Platform {
        match Platform::parse(s) {
            Ok(p) => p,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    /// A platform as written in an archive: `os[/arch[/variant]]` plus optional
    /// `os.version` (after `@`) and features (after `+`), e.g. `windows/amd64@10.0.1+win32k`.
    fn written(s: &str) -> Platform {
        let (s, features) = match s.split_once('+') {
            Some((a, f)) => (a, f.split('+').map(String::from).collect()),
            None => (s, Vec::new()),
        };
        let (s, version) = match s.split_once('@') {
            Some((a, v)) => (a, Some(v.to_string())),
            None => (s, None),
        };
        let mut it = s.split('/');
        Platform {
            os: it.next().unwrap_or("").into(),
            architecture: it.next().unwrap_or("").into(),
            variant: it.next().map(Into::into),
            os_version: version,
            os_features: features,
        }
    }

    #[test]
    fn parse_normalises_like_containerd() {
        let host = Platform::host();
        let table: &[(&str, &str, &str, Option<&str>)] = &[
            ("linux/amd64", "linux", "amd64", None),
            ("Linux/AMD64", "linux", "amd64", None),
            ("linux/x86_64", "linux", "amd64", None),
            ("linux/x86-64", "linux", "amd64", None),
            ("linux/amd64/v1", "linux", "amd64", None),
            ("linux/amd64/V2", "linux", "amd64", Some("v2")),
            ("linux/amd64/v3", "linux", "amd64", Some("v3")),
            ("linux/i386", "linux", "386", None),
            ("linux/i386/whatever", "linux", "386", None),
            ("linux/aarch64", "linux", "arm64", None),
            ("linux/arm64", "linux", "arm64", None),
            ("linux/arm64/v8", "linux", "arm64", Some("v8")),
            ("linux/arm64/8", "linux", "arm64", Some("v8")),
            ("linux/arm64/v8.0", "linux", "arm64", Some("v8")),
            ("linux/AArch64/V8", "linux", "arm64", Some("v8")),
            ("linux/arm64/9", "linux", "arm64", Some("v9")),
            ("linux/arm64/v9.0", "linux", "arm64", Some("v9")),
            ("linux/arm64/v8.2", "linux", "arm64", Some("v8.2")),
            ("linux/arm", "linux", "arm", None),
            ("linux/armhf", "linux", "arm", None),
            ("linux/armel", "linux", "arm", Some("v6")),
            ("linux/arm/7", "linux", "arm", Some("v7")),
            ("linux/arm/v7", "linux", "arm", Some("v7")),
            ("linux/arm/5", "linux", "arm", Some("v5")),
            ("linux/arm/6", "linux", "arm", Some("v6")),
            ("linux/arm/8", "linux", "arm", Some("v8")),
            ("macos/arm64", "darwin", "arm64", None),
            ("MacOS/amd64", "darwin", "amd64", None),
            ("darwin/amd64", "darwin", "amd64", None),
            ("windows/amd64", "windows", "amd64", None),
            ("linux/riscv64/RVA23", "linux", "riscv64", Some("rva23")),
            // Two components need not be known.
            ("plan10/z80", "plan10", "z80", None),
            // A single known architecture: the OS is linux.
            ("arm64", "linux", "arm64", None),
            ("aarch64", "linux", "arm64", None),
            ("x86_64", "linux", "amd64", None),
            ("i386", "linux", "386", None),
            ("armhf", "linux", "arm", None),
            ("armel", "linux", "arm", Some("v6")),
            ("s390x", "linux", "s390x", None),
        ];
        for &(input, os, arch, variant) in table {
            let got = p(input);
            assert_eq!(got, plat(os, arch, variant), "parse({input:?})");
        }
        // A single known OS: the host's architecture.
        for (input, os) in [
            ("linux", "linux"),
            ("windows", "windows"),
            ("macos", "darwin"),
        ] {
            let got = p(input);
            assert_eq!(got.os, os, "{input}");
            assert_eq!(got.architecture, host.architecture, "{input}");
        }
    }

    #[test]
    fn normalize_table() {
        let table: &[(&str, &str)] = &[
            ("linux/amd64", "linux/amd64"),
            ("LINUX/AMD64", "linux/amd64"),
            ("linux/x86_64", "linux/amd64"),
            ("linux/x86-64", "linux/amd64"),
            ("linux/amd64/v1", "linux/amd64"),
            ("linux/amd64/v2", "linux/amd64/v2"),
            ("linux/i386", "linux/386"),
            ("linux/i386/v3", "linux/386"),
            ("linux/aarch64", "linux/arm64"),
            // containerd's canonical arm64 has no variant: v8 is implied.
            ("linux/arm64/v8", "linux/arm64"),
            ("linux/arm64/8", "linux/arm64"),
            ("linux/arm64/v8.0", "linux/arm64"),
            ("linux/arm64/9", "linux/arm64/v9"),
            ("linux/arm64/9.0", "linux/arm64/v9"),
            ("linux/arm64/v9.0", "linux/arm64/v9"),
            ("linux/arm64/v8.2", "linux/arm64/v8.2"),
            ("linux/armhf", "linux/arm/v7"),
            ("linux/armhf/v5", "linux/arm/v7"),
            ("linux/armel", "linux/arm/v6"),
            ("linux/arm", "linux/arm/v7"),
            ("linux/arm/7", "linux/arm/v7"),
            ("linux/arm/5", "linux/arm/v5"),
            ("linux/arm/6", "linux/arm/v6"),
            ("linux/arm/8", "linux/arm/v8"),
            ("linux/ARM/V6", "linux/arm/v6"),
            ("macos/arm64", "darwin/arm64"),
            ("Darwin/amd64", "darwin/amd64"),
            ("/amd64", "linux/amd64"),
        ];
        for &(input, want) in table {
            let got = written(input).normalize();
            assert_eq!(got.to_string(), want, "normalize({input:?})");
        }
        // Some("") is no variant.
        assert_eq!(plat("linux", "amd64", Some("")).normalize().variant, None);
        // Features sorted and deduplicated; the version untouched.
        let n = written("windows/amd64@10.0.17763.1+b+a+b").normalize();
        assert_eq!(n.os_features, ["a", "b"]);
        assert_eq!(n.os_version.as_deref(), Some("10.0.17763.1"));
        // Normalising twice changes nothing.
        for &(input, _) in table {
            let once = written(input).normalize();
            assert_eq!(once.normalize(), once, "{input}");
        }
    }

    #[test]
    fn os_version_and_features_parse() {
        let w = p("windows(10.0.17763)/amd64");
        assert_eq!(w.os, "windows");
        assert_eq!(w.os_version.as_deref(), Some("10.0.17763"));
        assert!(w.os_features.is_empty());

        let w = p("windows(10.0.17763+win32k+b)/amd64");
        assert_eq!(w.os_version.as_deref(), Some("10.0.17763"));
        assert_eq!(w.os_features, ["win32k", "b"]);

        let l = p("linux(+f1+f2)/arm64/v8");
        assert_eq!(l.os_version, None);
        assert_eq!(l.os_features, ["f1", "f2"]);
        assert_eq!(l.variant.as_deref(), Some("v8"));

        let e = p("linux()/amd64");
        assert_eq!(e, plat("linux", "amd64", None));

        // Percent-decoding.
        let d = p("linux(1%2B2+a%2Fb)/amd64");
        assert_eq!(d.os_version.as_deref(), Some("1+2"));
        assert_eq!(d.os_features, ["a/b"]);

        // A single known OS with options keeps them.
        let s = p("windows(10.0.20348)");
        assert_eq!(s.os, "windows");
        assert_eq!(s.os_version.as_deref(), Some("10.0.20348"));
    }

    #[test]
    fn parse_errors() {
        let bad = [
            "",
            "*",
            "linux/*",
            "*/amd64",
            "linux/amd64/*",
            "a/b/c/d",
            "linux/amd64/v8/extra",
            "linux//amd64",
            "/amd64",
            "linux/",
            "linux/amd64/",
            "//",
            "/",
            "foo",
            "amd65",
            "LINUXX",
            "windows(10.0.17763/amd64",
            "windows10.0.17763)/amd64",
            "windows((10))/amd64",
            "windows(10)(11)/amd64",
            "windows(10))/amd64",
            "windows(10)x/amd64",
            "(10)/amd64",
            "linux(+)/amd64",
            "linux(1++a)/amd64",
            "linux(1+a+)/amd64",
            "linux(%zz)/amd64",
            "linux(%4)/amd64",
            "linux(%ff)/amd64",
            "linux(a b)/amd64",
            "li nux/amd64",
            "linux/amd 64",
            "linux/amd64/v(8)",
            "lin.ux/amd64",
            " linux/amd64",
            "linux/amd64 ",
            "linux/ärm",
            "amd64(1.0)",
        ];
        for s in bad {
            let r = Platform::parse(s);
            assert!(r.is_err(), "{s:?} should not parse, got {r:?}");
        }
        let e = Platform::parse("foo").err();
        assert_eq!(
            e.map(|e| e.reason),
            Some("unknown operating system or architecture".to_string())
        );
        let e = Platform::parse("linux/*").err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("invalid platform \"linux/*\": wildcards not yet supported".to_string())
        );
    }

    /// (selector, platform as written, selected?)
    const MATCHES: &[(&str, &str, bool)] = &[
        // arm64: no variant, v8 and its spellings are one platform; no fallback to arm.
        ("linux/arm64", "linux/arm64", true),
        ("linux/arm64", "linux/arm64/v8", true),
        ("linux/arm64", "linux/arm64/8", true),
        ("linux/arm64", "linux/arm64/v8.0", true),
        ("linux/arm64", "linux/aarch64", true),
        ("linux/arm64", "linux/ARM64/V8", true),
        ("linux/arm64", "linux/arm/v7", false),
        ("linux/arm64", "linux/arm64/v8.2", false),
        ("linux/arm64", "linux/arm64/v9", false),
        ("linux/arm64/v8", "linux/arm64", true),
        ("linux/arm64/v8", "linux/arm64/v8", true),
        ("linux/aarch64", "linux/arm64/v8", true),
        ("linux/arm64/v9", "linux/arm64/9", true),
        ("linux/arm64/v9", "linux/arm64", false),
        ("linux/arm64/v8.2", "linux/arm64/v8.2", true),
        ("linux/arm64/v8.2", "linux/arm64/v8", false),
        ("arm64", "linux/arm64/v8", true),
        // arm: no variant is v7; strict, so no v6/v5 fallback and no arm64.
        ("linux/arm", "linux/arm/v7", true),
        ("linux/arm", "linux/arm", true),
        ("linux/arm", "linux/arm/7", true),
        ("linux/arm", "linux/armhf", true),
        ("linux/arm", "linux/arm/v6", false),
        ("linux/arm", "linux/armel", false),
        ("linux/arm", "linux/arm/v8", false),
        ("linux/arm", "linux/arm64/v8", false),
        ("linux/arm", "linux/arm/v5", false),
        ("linux/arm/v7", "linux/arm", true),
        ("linux/armhf", "linux/arm/v7", true),
        ("linux/armel", "linux/arm/v6", true),
        ("linux/armel", "linux/arm/6", true),
        ("linux/armel", "linux/arm/v7", false),
        ("linux/arm/v6", "linux/armel", true),
        ("linux/arm/v6", "linux/arm/v7", false),
        ("linux/arm/v5", "linux/arm/5", true),
        ("armhf", "linux/arm", true),
        // amd64: v1 is no variant; strict on v2/v3; no 386.
        ("linux/amd64", "linux/amd64", true),
        ("linux/amd64", "linux/amd64/v1", true),
        ("linux/amd64", "linux/x86_64", true),
        ("linux/amd64", "linux/x86-64", true),
        ("linux/amd64", "Linux/AMD64", true),
        ("linux/amd64", "linux/amd64/v2", false),
        ("linux/amd64", "linux/amd64/v3", false),
        ("linux/amd64", "linux/386", false),
        ("linux/amd64", "linux/arm64", false),
        ("linux/amd64", "windows/amd64", false),
        ("linux/amd64/v1", "linux/amd64", true),
        ("linux/amd64/v2", "linux/amd64/v2", true),
        ("linux/amd64/v2", "linux/amd64", false),
        ("linux/amd64/v2", "linux/amd64/v3", false),
        ("linux/amd64/v3", "linux/amd64/v3", true),
        ("linux/x86_64", "linux/amd64", true),
        ("x86_64", "linux/amd64", true),
        ("amd64", "linux/amd64", true),
        // 386.
        ("linux/i386", "linux/386", true),
        ("linux/386", "linux/i386", true),
        ("i386", "linux/386", true),
        ("linux/386", "linux/amd64", false),
        // darwin / macos.
        ("darwin/arm64", "macos/arm64", true),
        ("macos/arm64", "darwin/arm64/v8", true),
        ("macos/amd64", "darwin/amd64", true),
        ("darwin/arm64", "linux/arm64", false),
        // Other OS and architectures compare as case-folded strings.
        ("linux/s390x", "linux/s390x", true),
        ("linux/ppc64le", "linux/ppc64le", true),
        ("linux/ppc64le", "linux/ppc64", false),
        ("linux/riscv64", "linux/riscv64", true),
        ("freebsd/amd64", "FreeBSD/amd64", true),
        // The selector's OS version is ignored for any OS but windows.
        ("linux(5.15)/amd64", "linux/amd64@6.1", true),
        ("linux/amd64", "linux/amd64@6.1", true),
        // Windows versions: exact build before ltsc2022.
        (
            "windows(10.0.17763)/amd64",
            "windows/amd64@10.0.17763.1234",
            true,
        ),
        (
            "windows(10.0.17763)/amd64",
            "windows/amd64@10.0.17763",
            true,
        ),
        ("windows(10.0.17763)/amd64", "windows/amd64", true),
        (
            "windows(10.0.17763)/amd64",
            "windows/amd64@10.0.20348.1",
            false,
        ),
        (
            "windows(10.0.17763)/amd64",
            "windows/amd64@10.0.14393.1",
            false,
        ),
        (
            "windows(10.0.17763)/amd64",
            "windows/amd64@10.1.17763.1",
            false,
        ),
        ("windows(10.0.17763)/amd64", "windows/amd64@10.0", false),
        ("windows(10.0.17763)/amd64", "windows/amd64@garbage", false),
        ("windows(10.0.17763)/amd64", "linux/amd64", false),
        (
            "windows(10.0.17763)/amd64",
            "windows/arm64@10.0.17763.1",
            false,
        ),
        (
            "windows(10.0.17763.2000)/amd64",
            "windows/amd64@10.0.17763.1",
            true,
        ),
        // ... and from ltsc2022, builds from the previous LTSC up to the selector's.
        (
            "windows(10.0.20348)/amd64",
            "windows/amd64@10.0.20348.2113",
            true,
        ),
        (
            "windows(10.0.20348)/amd64",
            "windows/amd64@10.0.17763.1",
            false,
        ),
        (
            "windows(10.0.20348)/amd64",
            "windows/amd64@10.0.26100.1",
            false,
        ),
        (
            "windows(10.0.26100)/amd64",
            "windows/amd64@10.0.26100.1",
            true,
        ),
        (
            "windows(10.0.26100)/amd64",
            "windows/amd64@10.0.20348.1",
            true,
        ),
        (
            "windows(10.0.26100)/amd64",
            "windows/amd64@10.0.17763.1",
            false,
        ),
        (
            "windows(10.0.22621)/amd64",
            "windows/amd64@10.0.20348.1",
            true,
        ),
        (
            "windows(10.0.22621)/amd64",
            "windows/amd64@10.0.26100.1",
            false,
        ),
        // A selector version containerd cannot read, or none, matches any version.
        ("windows/amd64", "windows/amd64@10.0.17763.1", true),
        ("windows/amd64", "windows/amd64@10.0.20348.1", true),
        ("windows(10.0)/amd64", "windows/amd64@10.0.20348.1", true),
        ("Windows/AMD64", "windows/amd64@10.0.20348.1", true),
        // OS features: the platform's features must be a subset of the selector's.
        ("linux/amd64", "linux/amd64+f1", false),
        ("linux(+f1+f2)/amd64", "linux/amd64", true),
        ("linux(+f1+f2)/amd64", "linux/amd64+f1", true),
        ("linux(+f1+f2)/amd64", "linux/amd64+f2+f1", true),
        ("linux(+f1+f2)/amd64", "linux/amd64+f1+f1", true),
        ("linux(+f1+f2)/amd64", "linux/amd64+f3", false),
        ("linux(+f1+f2)/amd64", "linux/amd64+f1+f3", false),
        ("linux(+f1)/amd64", "linux/amd64+f1+f2", false),
        ("linux(+f1)/amd64", "linux/arm64+f1", false),
        // ... except that windows selectors ignore the platform's win32k.
        ("windows/amd64", "windows/amd64+win32k", true),
        (
            "windows(10.0.17763)/amd64",
            "windows/amd64@10.0.17763.1+win32k",
            true,
        ),
        ("windows/amd64", "windows/amd64+win32k+other", false),
        ("windows(+other)/amd64", "windows/amd64+win32k+other", true),
        (
            "windows(10.0.17763+win32k)/amd64",
            "windows/amd64@10.0.17763.1+win32k",
            true,
        ),
        ("linux/amd64", "linux/amd64+win32k", false),
    ];

    #[test]
    fn strict_matching_table() {
        assert!(MATCHES.len() >= 40);
        for &(sel, plat, want) in MATCHES {
            let m = Matcher::new(&p(sel));
            let got = m.matches(&written(plat));
            assert_eq!(got, want, "selector {sel:?} vs platform {plat:?}");
        }
    }

    #[test]
    fn matcher_accepts_unnormalised_selectors() {
        // A selector built by hand (not parsed) is normalised by the matcher too.
        let m = Matcher::new(&plat("Linux", "aarch64", Some("8")));
        assert!(m.matches(&plat("linux", "arm64", None)));
        assert!(m.matches(&plat("linux", "arm64", Some("v8"))));
        assert_eq!(m.platform(), &plat("linux", "arm64", None));
        assert_eq!(m.to_string(), "linux/arm64");
        let m = Matcher::new(&plat("linux", "armhf", None));
        assert_eq!(m.to_string(), "linux/arm/v7");
        let m = Matcher::new(&plat("WINDOWS", "amd64", None));
        assert!(m.matches(&written("windows/amd64+win32k")));
    }

    #[test]
    fn single_os_matches_the_host() {
        let host = Platform::host();
        let m = Matcher::new(&p("linux"));
        assert!(m.matches(&host));
        let arch = Matcher::new(&plat("", &host.architecture, host.variant.as_deref()));
        assert!(arch.matches(&host));
    }

    #[test]
    fn host_architectures() {
        assert_eq!(goarch("x86_64", true), ("amd64".into(), None));
        assert_eq!(goarch("x86", true), ("386".into(), None));
        assert_eq!(goarch("aarch64", true), ("arm64".into(), Some("v8")));
        assert_eq!(goarch("arm", true), ("arm".into(), Some("v7")));
        assert_eq!(goarch("powerpc64", true), ("ppc64le".into(), None));
        assert_eq!(goarch("powerpc64", false), ("ppc64".into(), None));
        assert_eq!(goarch("s390x", false), ("s390x".into(), None));
        assert_eq!(goarch("riscv64", true), ("riscv64".into(), None));
        assert_eq!(goarch("loongarch64", true), ("loong64".into(), None));
        assert_eq!(goarch("mips64", true), ("mips64le".into(), None));
        let host = Platform::host();
        assert_eq!(host.os, "linux");
        let (arch, variant) = goarch(std::env::consts::ARCH, cfg!(target_endian = "little"));
        assert_eq!(host.architecture, arch);
        assert_eq!(host.variant.as_deref(), variant);
    }

    #[test]
    fn display_is_as_written() {
        assert_eq!(
            plat("linux", "arm64", Some("v8")).to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(plat("linux", "arm64", None).to_string(), "linux/arm64");
        assert_eq!(plat("Linux", "x86_64", None).to_string(), "Linux/x86_64");
        assert_eq!(plat("linux", "amd64", Some("")).to_string(), "linux/amd64");
        let w = written("windows/amd64@10.0.17763.1+win32k");
        assert_eq!(w.to_string(), "windows/amd64");
        for s in [
            "linux/amd64",
            "linux/arm64/v8",
            "linux/arm/v7",
            "linux/arm/v6",
            "linux/386",
            "windows/amd64",
            "darwin/arm64",
            "linux/riscv64",
            "linux/arm64",
            "linux/amd64/v3",
        ] {
            assert_eq!(p(s).to_string(), s, "display(parse({s:?}))");
            assert_eq!(p(&p(s).to_string()), p(s));
        }
    }

    #[test]
    fn format_selector_round_trips() {
        assert_eq!(p("linux/arm64/v8").format_selector(), "linux/arm64/v8");
        assert_eq!(
            p("windows(10.0.17763)/amd64").format_selector(),
            "windows(10.0.17763)/amd64"
        );
        assert_eq!(
            p("windows(10.0.17763+b+a+b)/amd64").format_selector(),
            "windows(10.0.17763+a+b)/amd64"
        );
        assert_eq!(p("linux(+f1)/amd64").format_selector(), "linux(+f1)/amd64");
        assert_eq!(
            p("linux(1%2B2+a%2Fb)/amd64").format_selector(),
            "linux(1%2B2+a%2Fb)/amd64"
        );
        assert_eq!(Platform::default().format_selector(), "unknown");
        let odd = Platform {
            os_version: Some("a b(c)".into()),
            os_features: vec!["x%y".into(), String::new()],
            ..plat("linux", "amd64", None)
        };
        let s = odd.format_selector();
        assert_eq!(s, "linux(a%20b%28c%29+x%25y)/amd64");
        let back = p(&s);
        assert_eq!(back.os_version.as_deref(), Some("a b(c)"));
        assert_eq!(back.os_features, ["x%y"]);
    }

    #[test]
    fn parse_list_splits_commas() {
        let got = parse_list(&["linux/amd64,linux/arm64", " linux/arm/v7 , windows/amd64 "]);
        assert_eq!(
            got,
            Ok(vec![
                plat("linux", "amd64", None),
                plat("linux", "arm64", None),
                plat("linux", "arm", Some("v7")),
                plat("windows", "amd64", None),
            ])
        );
        let owned: Vec<String> = vec!["linux/amd64".into()];
        assert_eq!(parse_list(&owned), Ok(vec![plat("linux", "amd64", None)]));
        let none: [&str; 0] = [];
        assert_eq!(parse_list(&none), Ok(vec![]));
        for bad in [
            &["linux/amd64,"][..],
            &[",linux/amd64"],
            &["linux/amd64,,linux/arm64"],
            &[""],
            &["  "],
            &["linux/amd64", ""],
            &["linux/amd64, "],
            &["linux/amd64,foo"],
            &["linux/*"],
        ] {
            assert!(parse_list(bad).is_err(), "{bad:?}");
        }
        let e = parse_list(&["linux/amd64,foo"]).err();
        assert_eq!(e.map(|e| e.input), Some("foo".to_string()));
    }

    #[test]
    fn serde_uses_oci_names() {
        let w = Platform {
            os_version: Some("10.0.17763.1".into()),
            os_features: vec!["win32k".into()],
            ..plat("windows", "amd64", None)
        };
        let json = serde_json::to_string(&w).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"os":"windows","architecture":"amd64","os.version":"10.0.17763.1","os.features":["win32k"]}"#
        );
        let back: Platform = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, w);
        let min: Platform =
            serde_json::from_str(r#"{"architecture":"arm64","os":"linux","variant":"v8"}"#)
                .unwrap_or_default();
        assert_eq!(min, plat("linux", "arm64", Some("v8")));
    }

    fn selector_like() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-zA-Z0-9_.%()+/*, -]{0,24}",
            (
                prop::sample::select(vec![
                    "linux", "Linux", "windows", "macos", "darwin", "freebsd", "foo", "amd64",
                    "arm64", "x86_64", "armhf", "i386", "",
                ]),
                "(\\((%[0-9a-fA-F]{2}|[a-z0-9.]){0,6}(\\+[a-z0-9%]{1,4}){0,3}\\))?",
                prop::sample::select(vec![
                    "", "/amd64", "/arm64", "/aarch64", "/arm", "/armhf", "/armel", "/i386",
                    "/x86_64", "/riscv64", "/X",
                ]),
                prop::sample::select(vec![
                    "", "/v8", "/8", "/v8.0", "/9", "/9.0", "/v1", "/v2", "/7", "/v7", "/5", "/V6",
                    "/v8.2", "/x", "/",
                ]),
            )
                .prop_map(|(os, opts, arch, variant)| format!("{os}{opts}{arch}{variant}")),
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in selector_like()) {
            let _ = Platform::parse(&s);
            let _ = parse_list(&[s.as_str()]);
        }

        #[test]
        fn display_round_trips(s in selector_like()) {
            if let Ok(parsed) = Platform::parse(&s) {
                // The full selector form always reads back to the same platform.
                let full = Platform::parse(&parsed.format_selector());
                prop_assert_eq!(full.map(|p| p.normalize()), Ok(parsed.normalize()));
                // Display drops the OS options, so only compare without them.
                if parsed.os_version.is_none() && parsed.os_features.is_empty() {
                    prop_assert_eq!(Platform::parse(&parsed.to_string()), Ok(parsed.clone()));
                }
                // Parsing gives a platform the matcher built from it selects.
                prop_assert!(Matcher::new(&parsed).matches(&parsed));
            }
        }

        #[test]
        fn matching_never_panics(
            sel in selector_like(),
            os in "[a-zA-Z]{0,8}",
            arch in "[a-zA-Z0-9_-]{0,8}",
            variant in proptest::option::of("[a-zA-Z0-9.]{0,5}"),
            version in proptest::option::of("[0-9.]{0,16}"),
            features in proptest::collection::vec("[a-z0-9]{0,6}", 0..4),
        ) {
            if let Ok(sel) = Platform::parse(&sel) {
                let m = Matcher::new(&sel);
                let plat = Platform { os, architecture: arch, variant, os_version: version, os_features: features };
                let _ = m.matches(&plat);
                // Matching is invariant under normalising the platform first.
                prop_assert_eq!(m.matches(&plat), m.matches(&plat.normalize()));
            }
        }
    }
}
