//! The `ocislim` binary: parse the command line, call the library, map errors to exit codes.

mod cli;
mod commands;

use clap::Parser;
use cli::{Cli, Command};
use ocislim::exit_codes::ExitCode;
use std::io::Write;

/// mimalloc rather than the system allocator: building (and freeing) the graph of a large
/// archive is mostly small allocations, and `ls` of an archive of 1,500 images (99,000 members)
/// takes 0.82 s instead of 1.24 s with it. The copy's hot path does not allocate. Built without
/// transparent huge pages (`no_thp`): with them every 2 MiB region touched is zeroed and kept
/// whole, and the graph of that archive peaked 16 MiB higher (docs/performance.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`, which `libmimalloc-sys` does not name: in `mimalloc.h`
/// it comes just before `mi_option_use_numa_nodes`.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t =
    libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// Have mimalloc return freed pages to the system at once rather than after its purge delay:
/// what rayon's workers free while reading a graph otherwise stays in their heaps, out of the
/// main thread's reach. Without it `ls --format json` of 1,500 images peaked 15 MiB higher; it
/// costs about 1 % of that `ls`'s time (docs/performance.md).
fn purge_at_once() {
    // SAFETY: sets one integer option of the allocator; mimalloc allows it at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// End a command with its graph: the process exits next, so freed pages are no longer purged
/// (freeing the graph of 1,500 images with every emptied page returned at once took a quarter
/// of that `ls`'s time, docs/performance.md), and only what the graph's drop does outside the
/// process is done ([`ocislim::Graph::drop_at_exit`]).
pub(crate) fn drop_at_exit(g: ocislim::Graph) {
    // SAFETY: as in `purge_at_once`; -1 is mimalloc's "never purge".
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    g.drop_at_exit();
}

fn main() -> std::process::ExitCode {
    purge_at_once();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitCode::Usage
            } else {
                ExitCode::Success
            };
            let _ = e.print();
            return code.into();
        }
    };
    if let Err(e) = ocislim::signals::install() {
        eprintln!("ocislim: error: cannot take signals: {e}");
        return ExitCode::Failure.into();
    }
    if let Some(bytes) = cli.max_spool {
        ocislim::source::compress::set_max_spool(bytes);
    }
    let result = match cli.command {
        Command::Ls(a) => commands::ls::run(a),
        Command::Verify(a) => commands::verify::run(a),
        Command::Filter(a) => commands::filter::run(a),
        Command::Merge(a) => commands::merge::run(a),
        Command::Delta(a) => commands::delta::run(a),
        Command::Apply(a) => commands::apply::run(a),
        Command::Split(a) => commands::split::run(a),
        Command::Completions(a) => commands::completions::run(a),
        Command::Man(a) => commands::man::run(a),
    };
    match ocislim::signals::checked(result) {
        Ok(()) => ExitCode::Success.into(),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "ocislim: error: {}",
                one_line(&e.to_string())
            );
            e.exit_code().into()
        }
    }
}

/// Escape control characters (newlines in member names, raw header bytes in tar errors), so
/// an error is always one line.
fn one_line(s: &str) -> String {
    ocislim::report::safe::escape(s).into_owned()
}
