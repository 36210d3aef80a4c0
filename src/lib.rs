//! ocislim: slim container image archives offline.
//!
//! The pipeline, one module per step: [`source`] gets bytes out of the archive without
//! extracting it, [`layout`] parses the formats, [`graph`] builds the content graph,
//! [`select`] decides what to keep and rewrites indexes, [`sink`] writes the new archive,
//! [`verify`] checks digests, and [`report`] prints `ls` and the filter report.

pub mod digest;
pub mod error;
pub mod graph;
pub mod layout;
pub mod platform;
pub mod source;

pub use error::{Error, Result};
pub use graph::Graph;
pub mod report;
pub mod select;
pub mod signals;
pub mod sink;
#[doc(hidden)]
pub mod testgen;
pub mod verify;

use report::filter::{Bytes, FilterReport};
use select::{FilterOptions, Plan};
use sink::write::{Target, WriteOptions};

/// Open an archive (path, `-`, or an OCI layout directory) and build its content graph.
pub fn open(path: &str) -> Result<Graph> {
    Graph::open(path)
}

/// Filter an opened archive into `target`. In a dry run nothing is written.
pub fn filter(
    g: &Graph,
    opts: &FilterOptions,
    target: &Target,
    wopts: &WriteOptions,
    dry_run: bool,
) -> Result<(Plan, FilterReport)> {
    let plan = select::plan(g, opts)?;
    let (after, sha) = if dry_run {
        // The real run's exit code includes the digest checks.
        if wopts.verify {
            sink::write::verify_plan(&g.archive, &plan)?;
        }
        (sink::write::planned_size(&plan)?, None)
    } else {
        let w = sink::write::write(&g.archive, &plan, target, wopts)?;
        (w.bytes, w.sha256.map(|d| d.to_string()))
    };
    let report = FilterReport {
        input: g.archive.name.clone(),
        output: match target {
            Target::File(p) | Target::Stream(p) => p.display().to_string(),
            Target::Stdout => "-".into(),
        },
        format: plan.format.name(),
        dry_run,
        images: plan.images.clone(),
        notes: plan.notes.clone(),
        bytes: Bytes {
            before: g.archive.size(),
            after,
        },
        sha256: sha,
    };
    Ok((plan, report))
}
