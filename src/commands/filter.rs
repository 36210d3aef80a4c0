//! `ocislim filter`: keep the chosen platforms and write a new archive. The one place the
//! binary calls [`ocislim::filter`].

use super::{print, print_json, Stream};
use crate::cli::{self, FilterArgs, PlatformList};
use ocislim::select::{FilterOptions, OutputFormat};
use ocislim::sink::write::{Target, WriteOptions};
use ocislim::sink::OutCompression;
use ocislim::{Graph, Result};

pub fn run(a: FilterArgs) -> Result<()> {
    let opts = FilterOptions {
        include: PlatformList::flatten(&a.platform),
        exclude: PlatformList::flatten(&a.exclude),
        keep_index: a.keep_index,
        skip_missing: a.skip_missing,
        drop_attestations: a.attestations == cli::Attestations::Drop,
        format: match a.format {
            cli::OutFormat::Auto => OutputFormat::Auto,
            cli::OutFormat::Oci => OutputFormat::Oci,
            cli::OutFormat::Docker => OutputFormat::Docker,
        },
        docker_platform: a.docker_platform.clone(),
    };
    let target = if a.output == "-" {
        Target::Stdout
    } else {
        Target::File(a.output.clone().into())
    };
    let wopts = WriteOptions {
        compression: compression(&a)?,
        verify: !a.no_verify,
        progress: !a.quiet,
        digest_output: !a.quiet || a.json,
    };
    let g = Graph::open(&a.archive)?;
    let (_plan, report) = ocislim::filter(&g, &opts, &target, &wopts, a.dry_run)?;
    // Standard output may hold the archive itself: the JSON report then goes to stderr.
    let report_to = match target {
        Target::Stdout => Stream::Stderr,
        Target::File(_) => Stream::Stdout,
    };
    if a.json {
        print_json(report_to, &report)?;
    } else if !a.quiet {
        print(Stream::Stderr, &report.to_text())?;
    }
    Ok(())
}

/// The output compression `--compress`, `--level` and the output name ask for; a level out of
/// the codec's range, or without compression, is a usage error.
fn compression(a: &FilterArgs) -> Result<OutCompression> {
    match a.compress {
        cli::Compress::Auto if a.output == "-" => OutCompression::none(a.level),
        cli::Compress::Auto => OutCompression::from_name(&a.output, a.level),
        cli::Compress::None => OutCompression::none(a.level),
        cli::Compress::Gzip => OutCompression::gzip(a.level),
        cli::Compress::Zstd => OutCompression::zstd(a.level),
    }
}
