//! `ocislim man DIR` (hidden, for packagers): one roff man page per command, generated from
//! the same definitions as `--help`.

use crate::cli::{Cli, ManArgs};
use clap::CommandFactory;
use ocislim::{Error, Result};

pub fn run(a: ManArgs) -> Result<()> {
    clap_mangen::generate_to(Cli::command(), &a.dir)
        .map_err(|e| Error::io(a.dir.display().to_string(), e))
}
