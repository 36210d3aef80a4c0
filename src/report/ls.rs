//! `ocislim ls`: the images and platforms of an archive as a tree (like `docker image ls
//! --tree`), a table, or the stable JSON document described in `docs/json.md`.

use super::size::human;
use crate::digest::Digest;
use crate::error::Result;
use crate::graph::{Graph, Image, PlatformManifest, Status};
use crate::platform::Matcher;
use crate::reference::ImagePattern;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write;

/// Options for `ls`.
#[derive(Debug, Clone, Default)]
pub struct LsOptions {
    /// Only platforms matching one of these are shown.
    pub filter: Vec<Matcher>,
    /// Only images matching one of these are shown (`--image`).
    pub images: Vec<ImagePattern>,
    pub no_trunc: bool,
    /// Each platform's unpacked size, when asked for (`--unpacked`; see
    /// [`super::unpacked::unpacked_sizes`]).
    pub unpacked: Option<HashMap<Digest, Option<u64>>>,
}

impl LsOptions {
    fn shows_image(&self, img: &Image) -> bool {
        self.images.is_empty() || self.images.iter().any(|p| p.matches(img.name.as_deref()))
    }

    /// The unpacked size cell of platform `p` (`-` when a layer is missing).
    fn unpacked(&self, p: &PlatformManifest) -> String {
        match self.unpacked.as_ref().and_then(|u| u.get(&p.desc.digest)) {
            Some(Some(n)) => human(*n),
            _ => "-".into(),
        }
    }

    fn shows(&self, p: &PlatformManifest) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        match &p.platform {
            Some(pl) => self.filter.iter().any(|m| m.matches(pl)),
            None => false,
        }
    }
}

/// Like `filter`: a `--platform` selector that matches no platform of the archive is exit 3,
/// naming the platforms it has.
pub fn check_selectors(g: &Graph, opts: &LsOptions) -> Result<()> {
    crate::plan::select::check_images_match(g, &opts.images)?;
    crate::plan::select::check_platforms_match(g, &opts.filter)
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Present => "present",
        Status::Partial => "partial",
        Status::Missing => "missing",
    }
}

/// The JSON document of `docs/json.md`, serialized from the graph as it is written: a
/// `serde_json::Value` of it would cost a third more memory than the graph of a large archive.
#[derive(Serialize)]
pub struct LsJson<'a> {
    archive: ArchiveJson,
    images: Vec<ImageJson<'a>>,
}

#[derive(Serialize)]
struct ArchiveJson {
    format: &'static str,
    compression: &'static str,
    blobs: usize,
    size: u64,
}

#[derive(Serialize)]
struct ImageJson<'a> {
    name: &'a Option<String>,
    tags: &'a [String],
    digest: &'a Digest,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    platforms: Vec<PlatformJson<'a>>,
}

#[derive(Serialize)]
struct PlatformJson<'a> {
    platform: String,
    digest: &'a Digest,
    status: Status,
    size: SizeJson,
    attestations: Vec<ArtifactJson<'a>>,
}

#[derive(Serialize)]
struct SizeJson {
    present: u64,
    total: Option<u64>,
    /// Present (a number, or null when a layer is missing) only with `--unpacked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    unpacked: Option<Option<u64>>,
}

#[derive(Serialize)]
struct ArtifactJson<'a> {
    digest: &'a Digest,
    status: Status,
}

/// The JSON document of `docs/json.md`.
pub fn to_json<'a>(g: &'a Graph, opts: &LsOptions) -> LsJson<'a> {
    let platform = |p: &'a PlatformManifest| PlatformJson {
        platform: p.platform_string(),
        digest: &p.desc.digest,
        status: p.status,
        size: SizeJson {
            present: p.size_present,
            total: p.size_total,
            unpacked: (opts.unpacked.as_ref()).map(|u| u.get(&p.desc.digest).copied().flatten()),
        },
        attestations: (p.attestations.iter())
            .map(|a| ArtifactJson {
                digest: &a.desc.digest,
                status: a.status,
            })
            .collect(),
    };
    let images = (g.images.iter().filter(|img| opts.shows_image(img)))
        .map(|img| ImageJson {
            name: &img.name,
            tags: &img.tags,
            digest: &img.root.digest,
            media_type: &img.root.media_type,
            platforms: img
                .platforms
                .iter()
                .filter(|p| opts.shows(p))
                .map(platform)
                .collect(),
        })
        .collect();
    LsJson {
        archive: ArchiveJson {
            format: g.format.name(),
            compression: g.archive.compression.name(),
            blobs: g.distinct_blobs().len(),
            size: g.archive.size(),
        },
        images,
    }
}

fn short(d: &crate::digest::Digest, no_trunc: bool) -> String {
    if no_trunc {
        d.to_string()
    } else {
        d.short()
    }
}

fn counts(img: &Image) -> (usize, usize) {
    let present = img
        .platforms
        .iter()
        .filter(|p| p.status == Status::Present)
        .count();
    (present, img.platforms.len())
}

fn platform_size(p: &PlatformManifest) -> String {
    match p.size_total {
        Some(t) if t == p.size_present => human(t),
        Some(t) => format!("{} / {}", human(p.size_present), human(t)),
        None => "-".into(),
    }
}

fn extra(p: &PlatformManifest) -> String {
    let n = p.attestations.len();
    let mut s = match n {
        0 => String::new(),
        1 => "+ attestation".to_string(),
        n => format!("+ {n} attestations"),
    };
    if p.attestations.iter().any(|a| a.status != Status::Present) {
        s.push_str(" (missing)");
    }
    s
}

/// Rows of (name column, digest, status, platforms, size, extra) for both text formats.
fn rows(g: &Graph, opts: &LsOptions, tree: bool) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    // The UNPACKED column, when asked for: a cell for a platform row, empty for others.
    let with_unpacked = |r: [String; 6], cell: String| {
        let mut v = r.to_vec();
        if opts.unpacked.is_some() {
            v.push(cell);
        }
        v
    };
    for img in g.images.iter().filter(|img| opts.shows_image(img)) {
        let shown: Vec<&PlatformManifest> =
            img.platforms.iter().filter(|p| opts.shows(p)).collect();
        if shown.is_empty() && !opts.filter.is_empty() {
            continue;
        }
        let (present, total) = counts(img);
        let name = img.name.clone().unwrap_or_else(|| "<none>".into());
        let size = if img.size_present == img.size_total {
            human(img.size_total)
        } else {
            format!("{} / {}", human(img.size_present), human(img.size_total))
        };
        if tree {
            let r = [
                name.clone(),
                short(&img.root.digest, opts.no_trunc),
                String::new(),
                format!("{present}/{total}"),
                size,
                String::new(),
            ];
            rows.push(with_unpacked(r, String::new()));
            // The image's other names, one a line under the first.
            for tag in img.tags.iter().skip(1) {
                let r = [
                    tag.clone(),
                    "".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                ];
                rows.push(with_unpacked(r, String::new()));
            }
        }
        for (i, p) in shown.iter().enumerate() {
            let first = if tree {
                let branch = if i + 1 == shown.len() {
                    "└─ "
                } else {
                    "├─ "
                };
                format!("{branch}{}", p.platform_string())
            } else {
                p.platform_string()
            };
            let status = match p.status {
                Status::Present => "present".to_string(),
                s => status_word(s).to_uppercase(),
            };
            let mut r = [
                first,
                short(&p.desc.digest, opts.no_trunc),
                status,
                String::new(),
                platform_size(p),
                extra(p),
            ];
            if !tree {
                r[3] = name.clone();
            }
            rows.push(with_unpacked(r, opts.unpacked(p)));
        }
        if tree {
            rows.push(with_unpacked(Default::default(), String::new()));
        }
    }
    if tree && rows.last().is_some_and(|r| r[0].is_empty()) {
        rows.pop();
    }
    // Names, platforms and annotations come from the archive: never raw to the terminal.
    rows.into_iter()
        .map(|r| {
            r.iter()
                .map(|c| super::safe::escape(c).into_owned())
                .collect()
        })
        .collect()
}

/// The column headers, with UNPACKED when asked for.
fn header<'a>(opts: &LsOptions, columns: [&'a str; 6]) -> Vec<&'a str> {
    let mut h = columns.to_vec();
    if opts.unpacked.is_some() {
        h.push("UNPACKED");
    }
    h
}

/// Render the tree view.
pub fn to_tree(g: &Graph, opts: &LsOptions) -> String {
    let header = header(
        opts,
        ["IMAGE", "DIGEST", "STATUS", "PLATFORMS", "SIZE", "EXTRA"],
    );
    render(&header, &rows(g, opts, true))
}

/// Render the table view: one row per platform manifest.
pub fn to_table(g: &Graph, opts: &LsOptions) -> String {
    let header = header(
        opts,
        ["PLATFORM", "DIGEST", "STATUS", "IMAGE", "SIZE", "EXTRA"],
    );
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(header);
    for r in rows(g, opts, false) {
        table.add_row(r);
    }
    let mut s = table.trim_fmt();
    s.push('\n');
    s
}

fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i == 3 {
                // counts right-aligned; sizes left-aligned, so that a wide `present / total`
                // starts under SIZE and stays clear of EXTRA
                let _ = write!(l, "{}{}   ", " ".repeat(pad), c);
            } else {
                let _ = write!(l, "{}{}   ", c, " ".repeat(pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header);
    for r in rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(&cells);
    }
    out
}
