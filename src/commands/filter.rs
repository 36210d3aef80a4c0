//! `ocislim filter`: keep the chosen platforms and write a new archive. The one place the
//! binary calls [`ocislim::filter`].

use super::{print_json, Stream};
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
        compression: compression(&a),
        verify: !a.no_verify,
        progress: !a.quiet,
        digest_output: !a.quiet || a.json,
    };
    let g = Graph::open(&a.archive)?;
    let (_plan, report) = ocislim::filter(&g, &opts, &target, &wopts, a.dry_run)?;
    if a.json && a.output != "-" {
        print_json(Stream::Stdout, &report)?;
    } else if !a.quiet {
        eprint!("{}", report.to_text());
    }
    Ok(())
}

/// The output compression `--compress`, `--level` and the output name ask for.
fn compression(a: &FilterArgs) -> OutCompression {
    match a.compress {
        cli::Compress::Auto if a.output == "-" => OutCompression::None,
        cli::Compress::Auto => OutCompression::from_name(&a.output, a.level),
        cli::Compress::None => OutCompression::None,
        cli::Compress::Gzip => OutCompression::Gzip(a.level.unwrap_or(6).clamp(1, 9) as u32),
        cli::Compress::Zstd => OutCompression::Zstd(a.level.unwrap_or(3).clamp(1, 19)),
    }
}
