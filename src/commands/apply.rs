//! `ocislim apply`: a delta made whole again from its bases.

use super::filter::{output_options, print_report};
use crate::cli::ApplyArgs;
use ocislim::Result;

pub fn run(a: ApplyArgs) -> Result<()> {
    let (target, wopts) = output_options(&a.out)?;
    let (_plan, report) =
        ocislim::ops::apply::apply(&a.delta, &a.bases, &target, &wopts, a.out.dry_run)?;
    print_report(&a.out, &target, &report)
}
