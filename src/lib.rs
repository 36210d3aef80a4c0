//! ocislim: slim container image archives offline.
//!
//! The pipeline, one module per step (docs/architecture.md): [`source`] gets bytes out of the
//! archives without extracting them, [`layout`] parses the formats, [`graph`] builds the content
//! graph, [`plan`] decides what to write (selecting platforms, rewriting indexes, converting
//! legacy images), [`ops`] holds one file per verb that turns graphs into a plan, [`sink`] writes
//! the plan, [`verify`] checks digests, and [`report`] prints `ls` and the verbs' reports.

pub mod digest;
pub mod error;
pub mod exit_codes;
pub mod graph;
pub mod layout;
pub mod ops;
pub mod plan;
pub mod platform;
pub mod reference;
pub mod report;
pub mod signals;
pub mod sink;
pub mod source;
pub mod verify;

pub use error::{Error, Result};
pub use graph::Graph;
pub use ops::filter::filter;

/// Open an archive (path, `-`, or an OCI layout directory) and build its content graph.
pub fn open(path: &str) -> Result<Graph> {
    Graph::open(path)
}
