//! Reading the graph's documents on every core: each index and manifest reachable from the
//! roots is read, checked against its digest and parsed independently, one level of indexes at a
//! time. The depth-first walk of [`Graph::load_docs`] stays the one that decides order, cycles
//! and errors: it takes what was read here and reads anything else (a failure here is read
//! again there, so every error reads as before).

use super::{Doc, Graph, MAX_INDEX_DEPTH};
use crate::digest::Digest;
use crate::layout::docs::{Descriptor, MediaKind};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};

/// Documents read ahead, by digest, each with the media kind of the descriptor it was read
/// through (a document is taken only by a descriptor of the same kind).
pub(super) type Prefetched = HashMap<Digest, (MediaKind, Doc)>;

/// Read and parse every document of a known kind reachable from `roots`, in parallel.
pub(super) fn prefetch(g: &Graph, roots: &[Descriptor]) -> Prefetched {
    let mut seen = HashSet::new();
    let mut done = Prefetched::new();
    let level = fresh(roots.iter(), &mut seen);
    // A root and its indexes nest at most `MAX_INDEX_DEPTH + 1` deep before the walk refuses them.
    read_level(g, &level, MAX_INDEX_DEPTH + 2, &mut seen, &mut done);
    done
}

/// Read one level of descriptors on every core, then the level their indexes list (borrowed
/// from this level's documents, hence the recursion, at most `depth` levels deep).
fn read_level(
    g: &Graph,
    level: &[&Descriptor],
    depth: usize,
    seen: &mut HashSet<Digest>,
    done: &mut Prefetched,
) {
    if level.is_empty() || depth == 0 {
        return;
    }
    let parsed: Vec<(Digest, MediaKind, Doc)> = level
        .par_iter()
        .filter_map(|d| {
            let doc = g.parse_doc(d).ok().flatten()?;
            Some((d.digest.clone(), d.kind(), doc))
        })
        .collect();
    let children = parsed.iter().flat_map(|(_, _, doc)| match doc {
        Doc::Index { entries, .. } => entries.as_slice(),
        Doc::Manifest(_) => &[],
    });
    let next = fresh(children, seen);
    read_level(g, &next, depth - 1, seen, done);
    done.extend(parsed.into_iter().map(|(d, k, doc)| (d, (k, doc))));
}

/// The descriptors of a known document kind not seen before.
fn fresh<'a>(
    descs: impl Iterator<Item = &'a Descriptor>,
    seen: &mut HashSet<Digest>,
) -> Vec<&'a Descriptor> {
    descs
        .filter(|d| d.kind() != MediaKind::Other && seen.insert(d.digest.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ahead_every_document_the_walk_keeps() {
        for name in ["ctr-full.tar", "oci-index.tar", "docker-list.tar"] {
            let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
            let g = Graph::open(&path).unwrap();
            let ahead = prefetch(&g, &g.roots);
            let mut read: Vec<&Digest> = ahead.keys().collect();
            let mut kept: Vec<&Digest> = g.docs.keys().collect();
            read.sort();
            kept.sort();
            assert!(kept.len() > 1, "{name}");
            assert_eq!(read, kept, "{name}");
        }
    }
}
