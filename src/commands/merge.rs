//! `ocislim merge`: many archives into one.

use super::filter::{print_report, write_options};
use crate::cli::{self, MergeArgs};
use ocislim::ops::merge::{merge, MergeOptions, Prefer};
use ocislim::Result;

pub fn run(a: MergeArgs) -> Result<()> {
    let (select, target, wopts) = write_options(&a.write)?;
    let opts = MergeOptions {
        select,
        name: a.name.clone(),
        prefer: match a.prefer {
            cli::Prefer::Error => Prefer::Error,
            cli::Prefer::First => Prefer::First,
            cli::Prefer::Last => Prefer::Last,
        },
    };
    let (_plan, report) = merge(&a.archives, &opts, &target, &wopts, a.write.out.dry_run)?;
    print_report(&a.write.out, &target, &report)
}
