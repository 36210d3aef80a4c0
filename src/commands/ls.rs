//! `ocislim ls`: the images and platforms of an archive.

use super::{print, print_json, Stream};
use crate::cli::{LsArgs, LsFormat, PlatformList};
use ocislim::platform::Matcher;
use ocislim::reference::ImagePattern;
use ocislim::report::ls::{self, LsOptions};
use ocislim::report::unpacked::unpacked_sizes;
use ocislim::{Graph, Result};

pub fn run(a: LsArgs) -> Result<()> {
    let mut opts = LsOptions {
        filter: PlatformList::flatten(&a.platform)
            .iter()
            .map(Matcher::new)
            .collect(),
        images: a.image.iter().map(|p| ImagePattern::new(p)).collect(),
        no_trunc: a.no_trunc,
        unpacked: None,
    };
    // Unpacked sizes read the layers: a compressed input is then spooled, not streamed.
    let mut g = match a.unpacked {
        true => Graph::open(&a.archive)?,
        false => Graph::open_streaming(&a.archive, false)?,
    };
    ls::check_selectors(&g, &opts)?;
    if a.unpacked {
        opts.unpacked = Some(unpacked_sizes(&g)?);
    }
    g.drop_documents_behind(); // the rows are rendered from the images
    let printed = match a.format {
        LsFormat::Tree => print(Stream::Stdout, &ls::to_tree(&g, &opts)),
        LsFormat::Table => print(Stream::Stdout, &ls::to_table(&g, &opts)),
        LsFormat::Json => print_json(Stream::Stdout, &ls::to_json(&g, &opts)),
    };
    crate::drop_at_exit(g);
    printed
}
