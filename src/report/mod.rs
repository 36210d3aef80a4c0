//! What the user reads: `ls` as a tree, a table or JSON (SPEC §6), the `verify` and `filter`
//! reports, and Docker-style human sizes.

pub mod filter;
pub mod ls;
pub mod size;
