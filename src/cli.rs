//! The command line: clap definitions, value parsers and help texts with examples.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ocislim::exit_codes::ExitCode;
use ocislim::platform::{parse_list, Platform, PlatformError};
use ocislim::reference::Rename;

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
    /// What a compressed or piped input may expand to in $TMPDIR: the larger of SIZE and 100x
    /// the compressed bytes read (default 1G; units K, M, G, T).
    #[arg(long, global = true, value_name = "SIZE", value_parser = ocislim::report::size::parse)]
    pub max_spool: Option<u64>,
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
    /// Merge archives into one: blobs stored once, images of one name united into one index.
    #[command(
        after_help = "Examples:\n  ocislim merge app-amd64.tar app-arm64.tar -o app.tar\n  ocislim merge a.tar b.tar -o ab.tar --name registry.local/app:1.0 --prefer last\n  ocislim merge base.tar app.tar -o bundle.tar.zst --platform linux/amd64\n\nExit codes: as filter, and 6 when two inputs give one image different manifests for one platform (see --prefer)"
    )]
    Merge(MergeArgs),
    /// Write an archive without the blobs the far side already holds (its bases).
    #[command(
        after_help = "Examples:\n  ocislim delta app-v2.tar --base app-v1.tar -o app-v2.delta.tar\n  ocislim delta bundle.tar --base far-side-digests.txt -o send.tar.zst --platform linux/amd64\n\nThe far side restores the whole archive with `ocislim apply`, or imports the delta straight into a containerd that holds the base."
    )]
    Delta(DeltaArgs),
    /// Make a delta whole again from its bases: byte for byte what `filter` would have written.
    #[command(
        after_help = "Examples:\n  ocislim apply app-v2.delta.tar --base app-v1.tar -o app-v2.tar\n  ocislim apply send.tar.zst --base old-a.tar --base old-b.tar -o full.tar --json"
    )]
    Apply(ApplyArgs),
    /// Write one archive per platform (or per image) of an archive, read once.
    #[command(
        after_help = "Examples:\n  ocislim split all.tar -o 'dist/app-{os}-{arch}{variant}.tar'\n  ocislim split bundle.tar -o 'images/{image}.tar.zst' --image 'registry.local/*'\n  ocislim split all.tar -o 'out/{image}-{platform}.tar' --platform linux/amd64,linux/arm64\n\nPlaceholders: {platform} (linux-arm64-v8), {os}, {arch}, {variant} (empty when none), {image} (name with / and : as _). Each output is byte for byte what `ocislim filter --platform P` (or `--image NAME`) writes."
    )]
    Split(SplitArgs),
    /// Check every blob's digest and size, that nothing referenced is missing, and manifest.json.
    #[command(after_help = format!(
        "Examples:\n  ocislim verify image.tar\n  ocislim verify image.tar --json\n  ocislim verify app-v2.delta.tar --base app-v1.tar\n\n\
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
    /// Show only images whose name matches (globs `*` `?`, `<none>`; repeatable, comma lists).
    #[arg(long = "image", value_name = "PAT", value_delimiter = ',')]
    pub image: Vec<String>,
    /// Print full digests.
    #[arg(long)]
    pub no_trunc: bool,
    /// Add each platform's unpacked size (its layers decompressed, on every core).
    #[arg(long)]
    pub unpacked: bool,
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
    /// An OCI image layout directory (as `-o DIR/`).
    OciDir,
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
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Prefer {
    Error,
    First,
    Last,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Archives to merge (paths, OCI layout directories, `-` once for standard input).
    #[arg(required = true, num_args = 1.., value_name = "ARCHIVE")]
    pub archives: Vec<String>,
    /// Unite every selected image of every input into one image with this name.
    #[arg(long, value_name = "REF")]
    pub name: Option<String>,
    /// Which input wins when two give one image different manifests for one platform
    /// (default: exit 6 naming both).
    #[arg(long, value_enum, default_value_t = Prefer::Error)]
    pub prefer: Prefer,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// The selection and output options of the verbs that write archives.
#[derive(Debug, Args)]
pub struct WriteArgs {
    #[command(flatten)]
    pub out: OutputArgs,
    /// Platforms to keep (repeatable, comma-separated): linux/amd64,linux/arm64.
    #[arg(long = "platform", value_name = "P", value_parser = platform_list)]
    pub platform: Vec<PlatformList>,
    /// Platforms to drop (repeatable, comma-separated).
    #[arg(long = "exclude", value_name = "P", value_parser = platform_list)]
    pub exclude: Vec<PlatformList>,
    /// Keep only images whose name matches (globs `*` `?`, full or familiar form, `<none>` for
    /// unnamed; repeatable, comma-separated).
    #[arg(long = "image", value_name = "PAT", value_delimiter = ',')]
    pub image: Vec<String>,
    /// Rename image SRC to DST (repeatable); a SRC ending in `/` renames every image under
    /// that prefix: `--tag docker.io/=registry.local:5000/`.
    #[arg(long = "tag", value_name = "SRC=DST", value_parser = Rename::parse)]
    pub tag: Vec<Rename>,
    /// Keep every index byte for byte (digests unchanged); leave out unselected platforms' blobs.
    #[arg(long, conflicts_with = "skip_missing")]
    pub keep_index: bool,
    /// Drop selected platforms whose content is missing instead of failing (exit 4).
    #[arg(long)]
    pub skip_missing: bool,
    /// Keep or drop attestations and referrers.
    #[arg(long, value_enum, default_value_t = Attestations::Keep)]
    pub attestations: Attestations,
    /// Output layout: the input's, OCI only, OCI plus Docker's manifest.json, or an OCI layout
    /// directory (as `-o DIR/`).
    #[arg(long, value_enum, default_value_t = OutFormat::Auto)]
    pub format: OutFormat,
    /// The platform manifest.json points at (what `docker load` loads).
    #[arg(long, value_name = "P", value_parser = Platform::parse)]
    pub docker_platform: Option<Platform>,
}

/// Where and how the verbs that write archives write, and what they print.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output path, or `-` for standard output.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: String,
    /// Output compression (auto follows the file name: .tar.gz/.tgz, .tar.zst/.tzst).
    #[arg(long, value_enum, default_value_t = Compress::Auto)]
    pub compress: Compress,
    /// Compression level: gzip 1-9 (default 6), zstd 1-19 (default 3); needs compression.
    #[arg(long, value_name = "N")]
    pub level: Option<i32>,
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
pub struct DeltaArgs {
    /// The archive to send (path, OCI layout directory, or `-`).
    pub new: String,
    /// What the far side holds: an archive, a layout directory, or a file of digests
    /// (`algorithm:hex` a line, `#` comments, as `ctr content ls -q` prints). Repeatable.
    #[arg(long = "base", value_name = "BASE", required = true)]
    pub bases: Vec<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct SplitArgs {
    /// Archive path, an OCI layout directory, or `-` for standard input.
    pub archive: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The delta that `ocislim delta` wrote.
    pub delta: String,
    /// Archives or layout directories that hold the blobs the delta left out. Repeatable.
    #[arg(long = "base", value_name = "BASE", required = true)]
    pub bases: Vec<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Archive path, an OCI layout directory, or `-` for standard input.
    pub archive: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Judge the closure against the archive plus these (a delta's bases). Repeatable.
    #[arg(long = "base", value_name = "BASE")]
    pub bases: Vec<String>,
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
