//! The verbs: one module each, turning parsed arguments into library calls and printing the
//! result. The output helpers they share live here.

pub mod apply;
pub mod completions;
pub mod delta;
pub mod filter;
pub mod ls;
pub mod man;
pub mod merge;
pub mod split;
pub mod verify;

use ocislim::{Error, Result};
use serde::Serialize;
use std::io::Write;

/// Where a command prints.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Print `s` on `to`. A closed pipe (`ocislim ls x | head`) is not an error.
pub fn print(to: Stream, s: &str) -> Result<()> {
    let (name, written) = match to {
        Stream::Stdout => {
            let mut o = std::io::stdout().lock();
            ("stdout", o.write_all(s.as_bytes()).and_then(|_| o.flush()))
        }
        Stream::Stderr => {
            let mut o = std::io::stderr().lock();
            ("stderr", o.write_all(s.as_bytes()).and_then(|_| o.flush()))
        }
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io(name, e)),
        _ => Ok(()),
    }
}

/// Print `value` as pretty JSON, one document ending in a newline.
pub fn print_json(to: Stream, value: &impl Serialize) -> Result<()> {
    let mut s = serde_json::to_string_pretty(value).map_err(|e| Error::Serialize(e.to_string()))?;
    s.push('\n');
    print(to, &s)
}
