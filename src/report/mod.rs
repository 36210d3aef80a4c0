//! What the user reads: `ls` as a tree, a table or JSON (`docs/json.md`), the `verify` and
//! `filter` reports, Docker-style human sizes, and escaping what comes from the archive.

pub mod filter;
pub mod ls;
pub mod safe;
pub mod size;
pub mod unpacked;
