//! What the user reads: `ls` as a tree, a table or JSON (SPEC §6), the `verify` and `filter`
//! reports, Docker-style human sizes, and escaping what comes from the archive.

pub mod filter;
pub mod ls;
pub mod safe;
pub mod size;
