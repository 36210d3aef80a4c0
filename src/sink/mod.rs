//! Writing the output archive: a deterministic tar (sorted members, zeroed metadata), streamed
//! to an atomic temporary file (renamed into place on success) or standard output, optionally
//! compressed on every core, with kept blob ranges copied in the kernel when possible and every
//! blob's digest verified in parallel with the copy.

pub mod atomic;
pub mod compress;
pub mod copy;
pub mod tar_writer;
pub mod write;

pub use compress::OutCompression;
