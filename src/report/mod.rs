//! What the user reads: `ls` as a tree, a table or JSON (`docs/json.md`), the `verify` and `filter`
//! reports, and Docker-style human sizes.

pub mod filter;
pub mod ls;
pub mod size;
