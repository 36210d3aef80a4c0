//! The command line: clap definitions, value parsers and help texts with examples.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ocislim::exit_codes::ExitCode;
use ocislim::platform::{parse_list, Platform, PlatformError};

/// One `--platform`/`--exclude` value: a comma-separated list of platforms.
#[derive(Debug, Clone)]
pub struct PlatformList(pub Vec<Platform>);

impl PlatformList {
    /// Every platform of every occurrence of the flag, in the order given.
    pub fn flatten(lists: &[PlatformList]) -> Vec<Platform> {
        lists.iter().flat_map(|l| l.0.iter().cloned()).collect()
    }
}

/// The value parser of `--platform` and `--exclude`.
fn platform_list(s: &str) -> Result<PlatformList, PlatformError> {
    parse_list(&[s]).map(PlatformList)
}

#[derive(Debug, Parser)]
#[command(
    name = "ocislim",
    version,
    about = "Slim container image archives offline: list, filter and verify platforms",
    long_about = "Slim container image archives offline.\n\n\
        Reads `docker save` tarballs, OCI archives (buildah, skopeo, ctr export, nerdctl save) and \
        OCI layout directories, shows which platforms they hold, keeps the ones you choose, and \
        writes a deterministic archive that docker load, ctr import and skopeo accept.",
    after_help = format!(
        "Examples:\n  ocislim ls image.tar\n  ocislim filter image.tar -o slim.tar --platform linux/amd64,linux/arm64\n  ocislim verify slim.tar\n\n{}",
        ExitCode::help_line()
    )
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the images and platforms of an archive, with sizes and what is present or missing.
    #[command(
        after_help = "Examples:\n  ocislim ls image.tar\n  ocislim ls image.tar.gz --platform linux/arm64 --no-trunc\n  ocislim ls - --format json < image.tar"
    )]
    Ls(LsArgs),
    /// Keep only the chosen platforms and write a new, self-consistent archive.
    #[command(
        after_help = "Examples:\n  ocislim filter all.tar -o slim.tar --platform linux/amd64,linux/arm64\n  ocislim filter shallow.tar -o dense.tar --skip-missing\n  ocislim filter all.tar -o arm.tar.zst --platform linux/arm64 --keep-index\n  ocislim filter all.tar -o - --platform linux/amd64 --format docker | docker load"
    )]
    Filter(FilterArgs),
    /// Check every blob's digest and size, that nothing referenced is missing, and manifest.json.
    #[command(after_help = format!(
        "Examples:\n  ocislim verify image.tar\n  ocislim verify image.tar --json\n\n\
         Exit codes: {} sound, {} shallow (content missing) but otherwise sound, {} corrupt",
        ExitCode::Success.code(),
        ExitCode::Shallow.code(),
        ExitCode::Failure.code(),
    ))]
    Verify(VerifyArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  source <(ocislim completions bash)\n  ocislim completions zsh > _ocislim\n  ocislim completions fish > ocislim.fish"
    )]
    Completions(CompletionsArgs),
    /// Write a man page per command (ocislim.1, ocislim-ls.1, ...) into DIR (for packagers).
    #[command(hide = true)]
    Man(ManArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LsFormat {
    Tree,
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Archive path, an OCI layout directory, or `-` for standard input.
    pub archive: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LsFormat::Tree)]
    pub format: LsFormat,
    /// Show only platforms matching this (repeatable, comma-separated).
    #[arg(long = "platform", value_name = "P", value_parser = platform_list)]
    pub platform: Vec<PlatformList>,
    /// Print full digests.
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Attestations {
    Keep,
    Drop,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutFormat {
    Auto,
    Oci,
    Docker,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Compress {
    Auto,
    None,
    Gzip,
    Zstd,
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Archive path, an OCI layout directory, or `-` for standard input.
    pub archive: String,
    /// Output path, or `-` for standard output.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: String,
    /// Platforms to keep (repeatable, comma-separated): linux/amd64,linux/arm64.
    #[arg(long = "platform", value_name = "P", value_parser = platform_list)]
    pub platform: Vec<PlatformList>,
    /// Platforms to drop (repeatable, comma-separated).
    #[arg(long = "exclude", value_name = "P", value_parser = platform_list)]
    pub exclude: Vec<PlatformList>,
    /// Keep every index byte for byte (digests unchanged); leave out unselected platforms' blobs.
    #[arg(long, conflicts_with = "skip_missing")]
    pub keep_index: bool,
    /// Drop selected platforms whose content is missing instead of failing (exit 4).
    #[arg(long)]
    pub skip_missing: bool,
    /// Keep or drop attestations and referrers.
    #[arg(long, value_enum, default_value_t = Attestations::Keep)]
    pub attestations: Attestations,
    /// Output layout: the input's, OCI only, or OCI plus Docker's manifest.json.
    #[arg(long, value_enum, default_value_t = OutFormat::Auto)]
    pub format: OutFormat,
    /// Output compression (auto follows the file name: .tar.gz/.tgz, .tar.zst/.tzst).
    #[arg(long, value_enum, default_value_t = Compress::Auto)]
    pub compress: Compress,
    /// Compression level: gzip 1-9 (default 6), zstd 1-19 (default 3); needs compression.
    #[arg(long, value_name = "N")]
    pub level: Option<i32>,
    /// The platform manifest.json points at (what `docker load` loads).
    #[arg(long, value_name = "P", value_parser = Platform::parse)]
    pub docker_platform: Option<Platform>,
    /// Do not verify the digests of the blobs written.
    #[arg(long)]
    pub no_verify: bool,
    /// Decide everything and print the report, but write nothing (the digests are still
    /// checked, unless --no-verify, so the exit code is the real run's).
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON on standard output (on standard error with `-o -`).
    #[arg(long)]
    pub json: bool,
    /// No report, no progress.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Archive path, an OCI layout directory, or `-` for standard input.
    pub archive: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The folder to write the pages into (it must exist).
    pub dir: std::path::PathBuf,
}
