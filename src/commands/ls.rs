//! `ocislim ls`: the images and platforms of an archive.

use super::{print, print_json, Stream};
use crate::cli::{LsArgs, LsFormat, PlatformList};
use ocislim::platform::Matcher;
use ocislim::report::ls::{self, LsOptions};
use ocislim::{Graph, Result};

pub fn run(a: LsArgs) -> Result<()> {
    let opts = LsOptions {
        filter: PlatformList::flatten(&a.platform)
            .iter()
            .map(Matcher::new)
            .collect(),
        no_trunc: a.no_trunc,
    };
    let g = Graph::open_streaming(&a.archive, false)?;
    ls::check_selectors(&g, &opts)?;
    match a.format {
        LsFormat::Tree => print(Stream::Stdout, &ls::to_tree(&g, &opts)),
        LsFormat::Table => print(Stream::Stdout, &ls::to_table(&g, &opts)),
        LsFormat::Json => print_json(Stream::Stdout, &ls::to_json(&g, &opts)),
    }
}
