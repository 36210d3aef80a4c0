//! `ocislim split`: one archive per platform or per image.

use super::filter::write_options;
use super::{print_json, Stream};
use crate::cli::SplitArgs;
use ocislim::{Error, Result};

pub fn run(a: SplitArgs) -> Result<()> {
    let (opts, _, wopts) = write_options(&a.write)?;
    let out = &a.write.out;
    if out.output == "-" {
        return Err(Error::Usage(
            "split writes files: give -o a path template such as 'out/{platform}.tar'".into(),
        ));
    }
    let (notes, reports) =
        ocislim::ops::split::split(&a.archive, &opts, &out.output, &wopts, out.dry_run)?;
    if out.json {
        print_json(
            Stream::Stdout,
            &serde_json::json!({"notes": notes, "outputs": reports}),
        )
    } else {
        if !out.quiet {
            for n in &notes {
                eprintln!("{n}");
            }
            for r in &reports {
                eprint!("{}", r.to_text());
            }
        }
        Ok(())
    }
}
