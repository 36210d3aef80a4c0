//! Writing the output archive: a deterministic tar (sorted members, zeroed metadata), streamed
//! to an atomic temporary file (renamed into place on success) or standard output, optionally
//! compressed on every core, every blob's digest verified while it is copied (`parallel/` is
//! the fast path: blobs copied and hashed on every core at precomputed output offsets).

pub mod atomic;
pub mod compress;
pub mod copy;
pub mod dir;
pub mod gzip;
pub mod parallel;
pub mod tar_writer;
pub mod target;
pub mod two_pass;
pub mod write;

pub use compress::OutCompression;
