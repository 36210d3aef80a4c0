//! `ocislim completions SHELL`: a completion script for bash, zsh, fish, elvish or PowerShell.

use super::{print, Stream};
use crate::cli::{Cli, CompletionsArgs};
use clap::CommandFactory;
use ocislim::Result;

pub fn run(a: CompletionsArgs) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "ocislim", &mut script);
    print(Stream::Stdout, &String::from_utf8_lossy(&script))
}
