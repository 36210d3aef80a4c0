//! Bases: what the far side of an air gap already holds (docs/formats.md, "Deltas"). A base is
//! an archive or layout directory of any shape — its blobs by digest, a legacy image's config by
//! its ID and each `layer.tar` by its diff ID — or a text file of digests, one `algorithm:hex` a
//! line with `#` comments (what `ctr content ls -q` prints). Archives can supply the blobs they
//! hold; a digest list can only say that the far side has them.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::source::{Archive, Loc};
use std::collections::{HashMap, HashSet};
use std::io::Read;

/// The largest digest list read (about 800,000 sha256 digests).
pub const MAX_DIGEST_LIST: u64 = 64 << 20;

/// One base.
#[derive(Debug)]
pub enum Base {
    /// An archive or layout directory, and where each digest it holds is.
    Archive {
        graph: Box<Graph>,
        held: HashMap<Digest, Loc>,
    },
    /// A list of digests.
    Digests { name: String, held: HashSet<Digest> },
}

/// Every base given, in order.
#[derive(Debug, Default)]
pub struct Bases {
    pub list: Vec<Base>,
}

impl Bases {
    /// Open each base: a digest list when the file reads as one, else an archive.
    pub fn open(paths: &[String]) -> Result<Bases> {
        if paths.iter().filter(|p| p.as_str() == "-").count() > 1 {
            return Err(Error::Usage(
                "standard input (-) can be given only once".into(),
            ));
        }
        let mut list = Vec::with_capacity(paths.len());
        for p in paths {
            list.push(match read_digest_list(p)? {
                Some(held) => Base::Digests {
                    name: p.clone(),
                    held,
                },
                None => {
                    let graph = Box::new(Graph::open(p)?);
                    let held = held_by(&graph);
                    Base::Archive { graph, held }
                }
            });
        }
        Ok(Bases { list })
    }

    /// Whether some base holds (or lists) `d`.
    pub fn holds(&self, d: &Digest) -> bool {
        self.list.iter().any(|b| match b {
            Base::Archive { held, .. } => held.contains_key(d),
            Base::Digests { held, .. } => held.contains(d),
        })
    }

    /// The first archive base that holds `d`: its position among [`Bases::archives`] and where.
    pub fn find(&self, d: &Digest) -> Option<(usize, &Loc)> {
        self.list
            .iter()
            .filter_map(|b| match b {
                Base::Archive { held, .. } => Some(held),
                Base::Digests { .. } => None,
            })
            .enumerate()
            .find_map(|(i, held)| held.get(d).map(|loc| (i, loc)))
    }

    /// The archives among the bases, in order (what [`Bases::find`] counts).
    pub fn archives(&self) -> Vec<&Archive> {
        self.list
            .iter()
            .filter_map(|b| match b {
                Base::Archive { graph, .. } => Some(&graph.archive),
                Base::Digests { .. } => None,
            })
            .collect()
    }
}

/// Every digest an archive holds, and where: its blobs, and for legacy images the config by
/// image ID and each present `layer.tar` by its diff ID.
fn held_by(g: &Graph) -> HashMap<Digest, Loc> {
    let mut held: HashMap<Digest, Loc> = g
        .blobs
        .iter()
        .map(|(d, l)| (d.clone(), l.clone()))
        .collect();
    for l in g.legacy() {
        if let (Some(id), Some(cfg)) = (&l.id, &l.config) {
            held.entry(id.clone()).or_insert_with(|| cfg.clone());
        }
        for (i, (_, loc)) in l.layers.iter().enumerate() {
            if let (Some(loc), Some(d)) = (loc, l.diff_id(i)) {
                held.entry(d).or_insert_with(|| loc.clone());
            }
        }
    }
    held
}

/// The digests of `path` when it is a digest list: a regular file of text whose every line is
/// blank, a `#` comment, or a digest. `None` for anything else (an archive, a directory).
fn read_digest_list(path: &str) -> Result<Option<HashSet<Digest>>> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    if !meta.is_file() || meta.len() > MAX_DIGEST_LIST {
        return Ok(None);
    }
    let mut text = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_DIGEST_LIST).read_to_end(&mut text))
        .map_err(|e| Error::io(path, e))?;
    Ok(std::str::from_utf8(&text).ok().and_then(parse_digest_list))
}

/// Parse a digest list; `None` when a line is neither blank, a comment nor a digest.
pub fn parse_digest_list(text: &str) -> Option<HashSet<Digest>> {
    let mut held = HashSet::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        held.insert(Digest::parse(line).ok()?);
    }
    Some(held)
}

#[cfg(test)]
mod tests {
    use super::parse_digest_list;

    #[test]
    fn digest_lists_take_comments_and_blank_lines_and_nothing_else() {
        let d = "sha256:".to_string() + &"ab".repeat(32);
        let list = parse_digest_list(&format!("# from ctr content ls -q\n\n{d}\n  {d}  \n"));
        assert_eq!(list.map(|l| l.len()), Some(1));
        assert!(parse_digest_list(&format!("{d}\nnot a digest\n")).is_none());
        assert!(parse_digest_list("ustar\0\0\0").is_none());
        assert_eq!(parse_digest_list("").map(|l| l.len()), Some(0));
    }
}
