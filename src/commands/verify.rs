//! `ocislim verify`: check an archive's digests, closure and manifest.json.

use super::{print, print_json, Stream};
use crate::cli::VerifyArgs;
use ocislim::report::size::human;
use ocislim::verify::{Severity, VerifyReport};
use ocislim::{Graph, Result};

pub fn run(a: VerifyArgs) -> Result<()> {
    let mut g = Graph::open_streaming(&a.archive, true)?;
    let bases = ocislim::ops::bases::Bases::open(&a.bases)?;
    let report = ocislim::verify::verify_against(&mut g, &|d| bases.holds(d));
    if a.json {
        print_json(Stream::Stdout, &report)?;
    } else {
        print(Stream::Stdout, &to_text(&report))?;
    }
    crate::drop_at_exit(g);
    match report.to_error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One line per problem, then the summary when the archive is sound.
fn to_text(report: &VerifyReport) -> String {
    let mut s = String::new();
    for p in &report.problems {
        let severity = match p.severity {
            Severity::Missing => "missing",
            Severity::Corrupt => "corrupt",
        };
        s.push_str(&format!("{severity}: {}\n", p.message));
    }
    if report.is_sound() {
        s.push_str(&format!(
            "{}: ok: {} blobs, {} verified\n",
            report.archive,
            report.blobs_checked,
            human(report.bytes_checked)
        ));
    }
    s
}
