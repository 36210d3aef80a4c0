//! Unpacked sizes (`ls --unpacked`): what each platform's layers take once decompressed — what
//! `docker image ls --tree` calls disk usage and what people size air-gapped disks with. Every
//! distinct layer is decompressed once (gzip, zstd or none, by magic bytes) and counted, never
//! stored, on every core.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::source::{compress, Loc};
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::io::BufReader;

/// The unpacked size of every platform manifest of `g`, by its digest (for a legacy image, its
/// ID); `None` when one of its layers is not in the archive.
pub fn unpacked_sizes(g: &Graph) -> Result<HashMap<Digest, Option<u64>>> {
    let layers = platform_layers(g);
    let distinct: BTreeSet<&Loc> = layers.values().flatten().flatten().copied().collect();
    let distinct: Vec<&Loc> = distinct.into_iter().collect();
    let sizes: HashMap<&Loc, u64> = distinct
        .into_par_iter()
        .with_max_len(1)
        .map(|loc| Ok((loc, decompressed_len(g, loc)?)))
        .collect::<Result<_>>()?;
    Ok(layers
        .into_iter()
        .map(|(d, ls)| {
            let total = ls
                .iter()
                .map(|l| l.as_ref().map(|l| sizes[l]))
                .sum::<Option<u64>>();
            (d, total)
        })
        .collect())
}

/// Each platform manifest's layers, `None` for one not in the archive.
fn platform_layers(g: &Graph) -> HashMap<Digest, Vec<Option<&Loc>>> {
    let mut out = HashMap::new();
    for pm in g.images.iter().flat_map(|i| &i.platforms) {
        if let Some(m) = g.manifest(&pm.desc.digest) {
            let ls = m.layers.iter().map(|l| g.blobs.get(&l.digest)).collect();
            out.insert(pm.desc.digest.clone(), ls);
        }
    }
    for l in g.legacy() {
        if let Some(id) = &l.id {
            out.insert(
                id.clone(),
                l.layers.iter().map(|(_, loc)| loc.as_ref()).collect(),
            );
        }
    }
    out
}

/// The number of bytes the layer at `loc` decompresses to.
fn decompressed_len(g: &Graph, loc: &Loc) -> Result<u64> {
    let mut input = BufReader::with_capacity(crate::source::IO_BUF, g.input_of(loc).reader(loc)?);
    let name = || format!("{}: {}", g.input_of(loc).name, loc.member);
    let codec = compress::peek(&mut input).map_err(|e| Error::io(name(), e))?;
    let mut decoded = compress::decoder(input, codec).map_err(|e| Error::io(name(), e))?;
    std::io::copy(&mut decoded, &mut std::io::sink())
        .map_err(|e| Error::format(name(), format!("cannot decompress the layer: {e}")))
}
