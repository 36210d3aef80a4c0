//! `split`: one archive per platform, or per image, from one input read once (docs/formats.md,
//! "Splitting"). Each output is `filter`'s plan for that platform (`--platform P`) or image
//! (`--image NAME`) with the other options as given, so it is byte for byte what that `filter`
//! writes. Outputs are named by a template: `{platform}` (`linux-arm64-v8`), `{os}`, `{arch}`,
//! `{variant}` and `{image}` (the name with `/` and `:` as `_`).

use crate::error::{Error, Result};
use crate::graph::{Graph, Status};
use crate::plan::{FilterOptions, Plan};
use crate::platform::{Matcher, Platform};
use crate::report::filter::FilterReport;
use crate::sink::write::{Target, WriteOptions};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

/// The placeholders that split per platform.
const PLATFORM_KEYS: [&str; 4] = ["{platform}", "{os}", "{arch}", "{variant}"];

/// One output of a split: where it goes and what selects it.
#[derive(Debug, Clone)]
pub struct Part {
    pub path: PathBuf,
    pub platform: Option<Platform>,
    pub image: Option<String>,
}

/// The outputs `template` asks for over `g`, for the platforms and images `opts` selects. A
/// platform whose content is all missing gets none (it is named in the returned notes).
pub fn parts(g: &Graph, opts: &FilterOptions, template: &str) -> Result<(Vec<Part>, Vec<String>)> {
    let per_platform = PLATFORM_KEYS.iter().any(|k| template.contains(k));
    let per_image = template.contains("{image}");
    if !per_platform && !per_image {
        return Err(Error::Usage(format!(
            "the output template {template} has no placeholder: use {{platform}} or {{image}}"
        )));
    }
    let mut notes = Vec::new();
    let platforms: Vec<Option<Platform>> = match per_platform {
        true => platforms(g, opts, &mut notes)?,
        false => vec![None],
    };
    let images: Vec<Option<String>> = match per_image {
        true => image_names(g, opts),
        false => vec![None],
    };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for image in &images {
        for platform in &platforms {
            let path = expand(template, platform.as_ref(), image.as_deref());
            if !seen.insert(path.clone()) {
                return Err(Error::Usage(format!(
                    "two outputs would be written to {path}: add a placeholder to the template"
                )));
            }
            out.push(Part {
                path: PathBuf::from(path),
                platform: platform.clone(),
                image: image.clone(),
            });
        }
    }
    Ok((out, notes))
}

/// The selection that writes `part`: `opts` narrowed to its platform and image.
pub fn part_options(opts: &FilterOptions, part: &Part) -> FilterOptions {
    let mut o = opts.clone();
    if let Some(p) = &part.platform {
        o.include = vec![p.clone()];
    }
    if let Some(i) = &part.image {
        o.images = vec![i.clone()];
    }
    o
}

/// The distinct platforms `opts` selects, in order of appearance; those whose content is
/// missing in every image are left out with a note.
fn platforms(
    g: &Graph,
    opts: &FilterOptions,
    notes: &mut Vec<String>,
) -> Result<Vec<Option<Platform>>> {
    let include: Vec<Matcher> = opts.include.iter().map(Matcher::new).collect();
    let exclude: Vec<Matcher> = opts.exclude.iter().map(Matcher::new).collect();
    let mut found: BTreeMap<String, (usize, Platform, bool)> = BTreeMap::new();
    for pm in g.images.iter().flat_map(|i| &i.platforms) {
        let Some(p) = pm.platform.as_ref().filter(|p| !is_attestation_marker(p)) else {
            continue;
        };
        if !(include.is_empty() || include.iter().any(|m| m.matches(p)))
            || exclude.iter().any(|m| m.matches(p))
        {
            continue;
        }
        let n = found.len();
        let e = found
            .entry(p.to_string())
            .or_insert_with(|| (n, p.clone(), false));
        e.2 |= pm.status == Status::Present || opts.keep_index;
    }
    let mut list: Vec<(usize, Platform, bool)> = found.into_values().collect();
    list.sort_by_key(|e| e.0);
    let mut out = Vec::new();
    for (_, p, present) in list {
        if present {
            out.push(Some(p));
        } else {
            notes.push(format!(
                "skipping {p}: its content is missing from the input"
            ));
        }
    }
    if out.is_empty() {
        return Err(Error::NoMatch(format!(
            "no platform to split out; the archive has: {}",
            g.platform_names().join(", ")
        )));
    }
    Ok(out)
}

/// `unknown/unknown`: how BuildKit marks attestation manifests, not a platform to split out.
fn is_attestation_marker(p: &Platform) -> bool {
    p.os == "unknown" && p.architecture == "unknown"
}

/// The distinct image names (`<none>` for unnamed ones), in order.
fn image_names(g: &Graph, opts: &FilterOptions) -> Vec<Option<String>> {
    let patterns: Vec<_> = opts
        .images
        .iter()
        .map(|p| crate::reference::ImagePattern::new(p))
        .collect();
    let mut seen = HashSet::new();
    g.images
        .iter()
        .map(|i| {
            i.name
                .clone()
                .unwrap_or_else(|| crate::reference::UNNAMED.into())
        })
        .filter(|n| {
            patterns.is_empty()
                || patterns
                    .iter()
                    .any(|p| p.matches(Some(n)) || p.as_str() == n)
        })
        .filter(|n| seen.insert(n.clone()))
        .map(Some)
        .collect()
}

/// The template with its placeholders filled in, each value made safe as one path component.
fn expand(template: &str, p: Option<&Platform>, image: Option<&str>) -> String {
    let platform = p.map(|p| p.to_string().replace('/', "-"));
    let values = [
        ("{platform}", platform.unwrap_or_default()),
        ("{os}", p.map(|p| p.os.clone()).unwrap_or_default()),
        (
            "{arch}",
            p.map(|p| p.architecture.clone()).unwrap_or_default(),
        ),
        (
            "{variant}",
            p.and_then(|p| p.variant.clone()).unwrap_or_default(),
        ),
        (
            "{image}",
            image.unwrap_or_default().replace(['/', ':'], "_"),
        ),
    ];
    values.iter().fold(template.to_string(), |t, (k, v)| {
        t.replace(k, &component(v))
    })
}

/// `v` as a file name component: characters other than letters, digits, `.`, `_`, `-`, `+`
/// and `@` become `_`, and a value of only dots becomes `_` (no `..` can climb out).
fn component(v: &str) -> String {
    let safe: String = v
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' | '+' | '@' => c,
            _ => '_',
        })
        .collect();
    if !safe.is_empty() && safe.chars().all(|c| c == '.') {
        return "_".repeat(safe.len());
    }
    safe
}

/// Split `path` by `template`: every output written (nothing in a dry run), one report each.
pub fn split(
    path: &str,
    opts: &FilterOptions,
    template: &str,
    wopts: &WriteOptions,
    dry_run: bool,
) -> Result<(Vec<String>, Vec<FilterReport>)> {
    let g = Graph::open(path)?;
    let (parts, notes) = parts(&g, opts, template)?;
    let plans: Vec<(Part, Plan)> = parts
        .into_iter()
        .map(|part| {
            let p = super::filter::plan(&g, &part_options(opts, &part))?;
            Ok((part, p))
        })
        .collect::<Result<_>>()?;
    let mut reports = Vec::new();
    for (part, p) in &plans {
        let target = Target::File(part.path.clone());
        reports.push(super::filter::write_plan(
            &g.inputs(),
            p,
            &target,
            wopts,
            dry_run,
        )?);
    }
    Ok((notes, reports))
}

#[cfg(test)]
mod tests {
    use super::{component, expand};
    use crate::platform::Platform;

    #[test]
    fn placeholders_fill_in_as_single_safe_components() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(
            expand(
                "out/{image}-{platform}.tar",
                Some(&p),
                Some("example.com/app:1.0")
            ),
            "out/example.com_app_1.0-linux-arm64-v8.tar"
        );
        assert_eq!(
            expand("{os}_{arch}{variant}.tar", Some(&p), None),
            "linux_arm64v8.tar"
        );
        let amd = Platform::parse("linux/amd64").unwrap();
        assert_eq!(
            expand("{arch}-{variant}.tar", Some(&amd), None),
            "amd64-.tar"
        );
        assert_eq!(component(".."), "__");
        assert_eq!(component("../../etc"), ".._.._etc");
        assert_eq!(component("a\u{1b}[31m"), "a__31m");
    }
}
