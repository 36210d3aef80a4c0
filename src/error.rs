//! The library's error type: one variant per kind of failure, each with the one-line message the
//! user sees and the exit code scripts depend on ([`crate::exit_codes`]).

use crate::exit_codes::ExitCode;
use std::io;

/// Everything that can go wrong in ocislim, with enough context to name the member or digest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    /// The input is not a tar archive or OCI layout we can read.
    #[error("{0}")]
    NotAnArchive(String),
    /// The tar stream itself is damaged (bad header, truncated member, ...).
    #[error("corrupt tar: {0}")]
    Tar(String),
    /// A member name, symlink or path in a document points outside the archive.
    #[error("{member}: unsafe path: {reason}")]
    UnsafePath { member: String, reason: String },
    /// A JSON document could not be parsed or does not have the expected shape.
    #[error("{member}: invalid JSON: {reason}")]
    Json { member: String, reason: String },
    /// The archive is structurally wrong in some other way (bad digest string, cycle, ...).
    #[error("{member}: {reason}")]
    Format { member: String, reason: String },
    /// A blob's content does not hash to its name or descriptor digest.
    #[error("blob {digest}: digest mismatch: content hashes to {actual}")]
    DigestMismatch { digest: String, actual: String },
    /// A blob's length differs from a descriptor that names it.
    #[error("blob {digest}: size mismatch: descriptor says {expected} bytes, blob has {actual}")]
    SizeMismatch {
        digest: String,
        expected: u64,
        actual: u64,
    },
    /// Bad command-line usage that clap could not catch (bad platform, conflicting options).
    #[error("{0}")]
    Usage(String),
    /// A selector matched nothing, or nothing would be left.
    #[error("{0}")]
    NoMatch(String),
    /// A selected platform's content is missing from the input.
    #[error("{0}")]
    Missing(String),
    /// `verify` found the archive shallow but otherwise sound.
    #[error("{0}")]
    Shallow(String),
    /// `merge`: two inputs give one image name different manifests for one platform.
    #[error("{0}")]
    Conflict(String),
    /// A mapped input shrank while it was read (SIGBUS, see `signals`).
    #[error("the input changed while being read (it shrank while mapped)")]
    InputChanged,
    /// `verify` found problems; each has been printed already.
    #[error("{0}")]
    Invalid(String),
    /// A report could not be turned into JSON (a bug, not the user's doing).
    #[error("cannot serialise the report: {0}")]
    Serialize(String),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_) => ExitCode::Usage,
            Error::NoMatch(_) => ExitCode::NoMatch,
            Error::Missing(_) => ExitCode::Missing,
            Error::Shallow(_) => ExitCode::Shallow,
            Error::Conflict(_) => ExitCode::Conflict,
            _ => ExitCode::Failure,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A format error about `member`.
    pub fn format(member: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Format {
            member: member.into(),
            reason: reason.into(),
        }
    }

    /// A JSON error about `member`.
    pub fn json(member: impl Into<String>, reason: impl std::fmt::Display) -> Error {
        Error::Json {
            member: member.into(),
            reason: reason.to_string(),
        }
    }
}

/// Shorthand used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
