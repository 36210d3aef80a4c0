//! The verbs that write archives, one file each: each turns graphs into a [`crate::plan::Plan`]
//! (composing the steps of `plan/`), has the sink write it, and returns the verb's report.

pub mod apply;
pub mod bases;
pub mod delta;
pub mod filter;
pub mod merge;
pub mod split;
