//! `ocislim delta`: an archive without the blobs the far side holds.

use super::filter::{print_report, write_options};
use crate::cli::DeltaArgs;
use ocislim::Result;

pub fn run(a: DeltaArgs) -> Result<()> {
    let (opts, target, wopts) = write_options(&a.write)?;
    let (_plan, report) = ocislim::ops::delta::delta(
        &a.new,
        &a.bases,
        &opts,
        &target,
        &wopts,
        a.write.out.dry_run,
    )?;
    print_report(&a.write.out, &target, &report)
}
