//! `ocislim filter`: keep the chosen platforms and write a new archive. The one place the
//! binary calls [`ocislim::filter`]; the option handling here serves every verb that writes
//! archives.

use super::{print, print_json, Stream};
use crate::cli::{self, FilterArgs, OutputArgs, PlatformList, WriteArgs};
use ocislim::plan::{FilterOptions, OutputFormat};
use ocislim::report::filter::FilterReport;
use ocislim::sink::write::{Target, WriteOptions};
use ocislim::sink::OutCompression;
use ocislim::{Graph, Result};

pub fn run(a: FilterArgs) -> Result<()> {
    let (opts, target, wopts) = write_options(&a.write)?;
    // A compressed input file is read twice rather than spooled when the output is a plain
    // file; a dry run hashes the blobs without writing them, which the spool serves.
    let two_pass = matches!(target, Target::File(_))
        && wopts.compression == OutCompression::None
        && !a.write.out.dry_run;
    let g = match two_pass {
        true => Graph::open_two_pass(&a.archive)?,
        false => Graph::open(&a.archive)?,
    };
    let (_plan, report) = ocislim::filter(g, &opts, &target, &wopts, a.write.out.dry_run)?;
    print_report(&a.write.out, &target, &report)
}

/// The selection, target and write options that `a` asks for.
pub fn write_options(a: &WriteArgs) -> Result<(FilterOptions, Target, WriteOptions)> {
    let (mut target, wopts) = output_options(&a.out)?;
    if a.format == cli::OutFormat::OciDir {
        target = Target::Dir(a.out.output.trim_end_matches('/').into());
    }
    let opts = FilterOptions {
        include: PlatformList::flatten(&a.platform),
        exclude: PlatformList::flatten(&a.exclude),
        keep_index: a.keep_index,
        skip_missing: a.skip_missing,
        drop_attestations: a.attestations == cli::Attestations::Drop,
        format: match a.format {
            cli::OutFormat::Auto => OutputFormat::Auto,
            cli::OutFormat::Oci | cli::OutFormat::OciDir => OutputFormat::Oci,
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
        compression: compression(a)?,
        verify: !a.no_verify,
        progress: !a.quiet,
        digest_output: !a.quiet || a.json,
    };
    Ok((target, wopts))
}

/// Print a verb's report: JSON (on stderr when the archive itself goes to standard output),
/// else text on stderr unless `-q`.
pub fn print_report(a: &OutputArgs, target: &Target, report: &FilterReport) -> Result<()> {
    let report_to = match target {
        Target::Stdout => Stream::Stderr,
        Target::File(_) | Target::Stream(_) | Target::Dir(_) => Stream::Stdout,
    };
    if a.json {
        print_json(report_to, report)?;
    } else if !a.quiet {
        print(Stream::Stderr, &report.to_text())?;
    }
    Ok(())
}

/// The output compression `--compress`, `--level` and the output name ask for; a level out of
/// the codec's range, or without compression, is a usage error.
fn compression(a: &OutputArgs) -> Result<OutCompression> {
    match a.compress {
        cli::Compress::Auto if a.output == "-" => OutCompression::none(a.level),
        cli::Compress::Auto => OutCompression::from_name(&a.output, a.level),
        cli::Compress::None => OutCompression::none(a.level),
        cli::Compress::Gzip => OutCompression::gzip(a.level),
        cli::Compress::Zstd => OutCompression::zstd(a.level),
    }
}
