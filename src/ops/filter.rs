//! `filter`: one archive in, the chosen platforms out (docs/formats.md, "Filtering").

use crate::error::Result;
use crate::graph::{Format, Graph};
use crate::plan::{convert, docker, rewrite, select, Content, FilterOptions, OutputFormat, Plan};
use crate::report::filter::{Bytes, FilterReport};
use crate::sink::write::{self, Target, WriteOptions};
use crate::source::Archive;

/// Decide what `filter` writes for `g`.
pub fn plan(g: &Graph, opts: &FilterOptions) -> Result<Plan> {
    let mut sel = select::select(g, opts)?;
    docker::check_docker_platform(g, opts, &sel)?;
    let out_format = match (opts.format, g.format) {
        // --docker-platform asks for a manifest.json: an OCI input gets one.
        (OutputFormat::Auto, Format::Oci) if opts.docker_platform.is_some() => Format::Docker,
        (OutputFormat::Auto, f) => f,
        (OutputFormat::Oci, _) => Format::Oci,
        (OutputFormat::Docker, _) => Format::Docker,
    };
    if g.format == Format::DockerLegacy {
        return match out_format {
            Format::DockerLegacy => convert::legacy_plan(g, sel, &opts.tags),
            f => convert::legacy_to_oci_plan(g, sel, f, &opts.tags),
        };
    }
    let mut members = rewrite::rewrite(g, opts, &mut sel)?;
    if out_format == Format::Docker {
        let (manifest_json, repositories) = docker::docker_files(g, opts, &sel)?;
        members.insert("manifest.json".into(), Content::Bytes(manifest_json));
        if let Some(r) = repositories {
            members.insert("repositories".into(), Content::Bytes(r));
        }
    }
    Ok(Plan {
        members,
        images: sel.images,
        notes: sel.notes,
        format: out_format,
    })
}

/// Filter an opened archive into `target`. In a dry run nothing is written. The graph is
/// consumed: its member table is freed before the plan is made (unless legacy files are looked
/// up by name), and once the plan is made only its inputs are kept, the documents, blobs and
/// images freed before the copy (a third of the peak memory of an archive of 1,500 images).
pub fn filter(
    mut g: Graph,
    opts: &FilterOptions,
    target: &Target,
    wopts: &WriteOptions,
    dry_run: bool,
) -> Result<(Plan, FilterReport)> {
    // Only a legacy image's files are found by name once the graph is built.
    if g.format != Format::DockerLegacy {
        g.archive.drop_members();
    }
    let p = plan(&g, opts)?;
    let inputs = g.into_inputs();
    let report = write_plan(
        &inputs.iter().collect::<Vec<_>>(),
        &p,
        target,
        wopts,
        dry_run,
    )?;
    Ok((p, report))
}

/// Write (or, in a dry run, check) `p`, whose ranges are in `inputs`, and report it.
pub fn write_plan(
    inputs: &[&Archive],
    p: &Plan,
    target: &Target,
    wopts: &WriteOptions,
    dry_run: bool,
) -> Result<FilterReport> {
    let (after, sha) = if dry_run {
        // The real run's exit code includes the digest checks.
        if wopts.verify {
            write::verify_plan(inputs, p)?;
        }
        (write::planned_size(p)?, None)
    } else {
        let w = write::write(inputs, p, target, wopts)?;
        (w.bytes, w.sha256.map(|d| d.to_string()))
    };
    Ok(FilterReport {
        input: inputs
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        output: match target {
            Target::File(p) | Target::Stream(p) => p.display().to_string(),
            Target::Dir(p) => format!("{}/", p.display()),
            Target::Stdout => "-".into(),
        },
        format: p.format.name(),
        dry_run,
        images: p.images.clone(),
        notes: p.notes.clone(),
        bytes: Bytes {
            before: inputs.iter().map(|a| a.size()).sum(),
            after,
        },
        sha256: sha,
        origins: Vec::new(),
        saved_bytes: None,
        left_out: None,
        filled_in: None,
    })
}
