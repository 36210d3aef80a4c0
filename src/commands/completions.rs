//! `ocislim completions SHELL`: a completion script for bash, zsh, fish, elvish or PowerShell.

use super::{print, Stream};
use crate::cli::{Cli, CompletionsArgs};
use clap::CommandFactory;
use ocislim::Result;

pub fn run(a: CompletionsArgs) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut visible(), "ocislim", &mut script);
    print(Stream::Stdout, &String::from_utf8_lossy(&script))
}

/// The command line without its hidden commands (`man`), which clap_complete's bash script
/// would otherwise offer.
fn visible() -> clap::Command {
    let cli = Cli::command();
    let verbs: Vec<clap::Command> = cli
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .cloned()
        .collect();
    clap::Command::new("ocislim")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommands(verbs)
}
