//! `ocislim filter`: keep the chosen platforms and write a new archive. The one place the
//! binary calls [`ocislim::filter`]; the option handling here serves every verb that writes
//! archives.

use super::{print_json, Stream};
use crate::cli::{self, FilterArgs, OutputArgs, PlatformList, WriteArgs};
use ocislim::plan::{FilterOptions, OutputFormat};
use ocislim::report::filter::FilterReport;
use ocislim::sink::write::{Target, WriteOptions};
use ocislim::sink::OutCompression;
use ocislim::{Graph, Result};

pub fn run(a: FilterArgs) -> Result<()> {
    let (opts, target, wopts) = write_options(&a.write)?;
    let g = Graph::open(&a.archive)?;
    let (_plan, report) = ocislim::filter(&g, &opts, &target, &wopts, a.write.out.dry_run)?;
    print_report(&a.write.out, &report)
}

/// The selection, target and write options that `a` asks for.
pub fn write_options(a: &WriteArgs) -> Result<(FilterOptions, Target, WriteOptions)> {
    let (target, wopts) = output_options(&a.out)?;
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
        images: a.image.clone(),
        tags: a.tag.clone(),
    };
    Ok((opts, target, wopts))
}

/// The target and write options that `a` asks for.
pub fn output_options(a: &OutputArgs) -> Result<(Target, WriteOptions)> {
    let target = ocislim::sink::target::choose(&a.output)?;
    let wopts = WriteOptions {
        compression: compression(a),
        verify: !a.no_verify,
        progress: !a.quiet,
        digest_output: !a.quiet || a.json,
    };
    Ok((target, wopts))
}

/// Print a verb's report: JSON on stdout (unless the archive goes there), else text on stderr
/// unless `-q`.
pub fn print_report(a: &OutputArgs, report: &FilterReport) -> Result<()> {
    if a.json && a.output != "-" {
        print_json(Stream::Stdout, report)?;
    } else if !a.quiet {
        eprint!("{}", report.to_text());
    }
    Ok(())
}

/// The output compression `--compress`, `--level` and the output name ask for.
fn compression(a: &OutputArgs) -> OutCompression {
    match a.compress {
        cli::Compress::Auto if a.output == "-" => OutCompression::None,
        cli::Compress::Auto => OutCompression::from_name(&a.output, a.level),
        cli::Compress::None => OutCompression::None,
        cli::Compress::Gzip => OutCompression::Gzip(a.level.unwrap_or(6).clamp(1, 9) as u32),
        cli::Compress::Zstd => OutCompression::Zstd(a.level.unwrap_or(3).clamp(1, 19)),
    }
}
