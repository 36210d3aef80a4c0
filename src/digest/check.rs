//! Checking bytes against digests, in one place: a blob of an archive against the digest that
//! names it (from the streaming reader's digest when it has one, else hashed from the map or by
//! reads), many blobs in parallel on every core and two at a time on each
//! ([`super::Hasher::update_pair`]), and the comparison every checker ends with. `verify` reports
//! with these; the sink, the graph's document checks and the plan's copies call [`compare`].

use super::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};
use crate::source::{Archive, Loc};
use rayon::prelude::*;

/// Hash the bytes at `loc` with `algorithm`'s hasher.
pub fn hash_loc(archive: &Archive, loc: &Loc, algorithm: Algorithm) -> Result<Digest> {
    let mut h = Hasher::new(algorithm);
    archive.hash_into(&mut h, loc)?;
    Ok(h.finish())
}

/// Check that the bytes at `loc` hash to `expected`.
pub fn check_blob(archive: &Archive, loc: &Loc, expected: &Digest) -> Result<()> {
    let actual = match archive.known_digest(loc, expected.algorithm()) {
        Some(d) => d,
        None => hash_loc(archive, loc, expected.algorithm())?,
    };
    if &actual != expected {
        return Err(Error::DigestMismatch {
            digest: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

/// Check that each blob's bytes hash to its digest, on every core and two blobs at a time on
/// each ([`Hasher::update_pair`]), pairing them largest first so that the two of a pair end
/// together. The failures only, each with its position in `blobs`, in that order: an archive
/// of 100,000 blobs that all match allocates nothing per blob here.
pub fn check_blobs(archive: &Archive, blobs: &[(&Loc, &Digest)]) -> Vec<(usize, Error)> {
    let mut order: Vec<usize> = (0..blobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(blobs[i].0.size));
    let mut failed: Vec<(usize, Error)> = order
        .par_chunks(2)
        .with_max_len(1)
        .flat_map_iter(|pair| match *pair {
            [a, b] => {
                let (ra, rb) = check_pair(archive, blobs[a], blobs[b]);
                failures([(a, ra), (b, rb)])
            }
            _ => failures(
                pair.iter()
                    .map(|&a| (a, check_blob(archive, blobs[a].0, blobs[a].1))),
            ),
        })
        .collect();
    failed.sort_by_key(|(i, _)| *i);
    failed
}

/// The errors among `results`, with their positions (an empty list allocates nothing).
fn failures(results: impl IntoIterator<Item = (usize, Result<()>)>) -> Vec<(usize, Error)> {
    results
        .into_iter()
        .filter_map(|(i, r)| r.err().map(|e| (i, e)))
        .collect()
}

/// [`check_blob`] for two blobs hashed together.
fn check_pair(
    archive: &Archive,
    (la, da): (&Loc, &Digest),
    (lb, db): (&Loc, &Digest),
) -> (Result<()>, Result<()>) {
    let known = |l, d: &Digest| archive.known_digest(l, d.algorithm()).is_some();
    if known(la, da) || known(lb, db) {
        return (check_blob(archive, la, da), check_blob(archive, lb, db));
    }
    let (mut ha, mut hb) = (Hasher::new(da.algorithm()), Hasher::new(db.algorithm()));
    if archive
        .hash_pair_into((&mut ha, la), (&mut hb, lb))
        .is_err()
    {
        // Which of the two failed to read: hash them one by one to say.
        return (check_blob(archive, la, da), check_blob(archive, lb, db));
    }
    (compare(da, ha.finish()), compare(db, hb.finish()))
}

/// `Ok` if `actual` is `expected`, else the mismatch naming both.
pub fn compare(expected: &Digest, actual: Digest) -> Result<()> {
    if &actual != expected {
        return Err(Error::DigestMismatch {
            digest: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Members of awkward sizes (several map windows, a few bytes, none) in a tar file (read
    /// through its map) or, with `as_dir`, in a folder (read into buffers).
    fn archive(dir: &std::path::Path, as_dir: bool) -> (Archive, Vec<(Loc, Digest)>) {
        let sizes = [(9 << 20) + 3, 3 << 20, 70_000, 1, 0];
        let mut b = tar::Builder::new(Vec::new());
        let mut blobs = Vec::new();
        for (i, n) in sizes.into_iter().enumerate() {
            let data: Vec<u8> = (0..n).map(|j| (j * 7 + i) as u8).collect();
            let mut h = tar::Header::new_gnu();
            h.set_size(n as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, format!("m{i}"), &data[..]).unwrap();
            std::fs::write(dir.join(format!("m{i}")), &data).unwrap();
            blobs.push((format!("m{i}"), Digest::sha256_of(&data)));
        }
        let path = dir.join("a.tar");
        std::fs::write(&path, b.into_inner().unwrap()).unwrap();
        let a = match as_dir {
            true => Archive::open(dir.to_str().unwrap()).unwrap(),
            false => Archive::open(path.to_str().unwrap()).unwrap(),
        };
        assert_eq!(a.map().is_some(), !as_dir);
        let blobs = blobs
            .into_iter()
            .map(|(m, d)| (a.resolve(&m).unwrap().unwrap(), d))
            .collect();
        (a, blobs)
    }

    #[test]
    fn check_blobs_pairs_them_and_names_each_mismatch_in_place() {
        for as_dir in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            check_blobs_in(archive(dir.path(), as_dir));
        }
    }

    fn check_blobs_in((a, mut blobs): (Archive, Vec<(Loc, Digest)>)) {
        let ok: Vec<(&Loc, &Digest)> = blobs.iter().map(|(l, d)| (l, d)).collect();
        assert!(check_blobs(&a, &ok).is_empty());
        // Wrong digests for the largest (paired with the second) and the one-byte member.
        let wrong = Digest::sha256_of(b"not it");
        let (right0, right3) = (blobs[0].1.clone(), blobs[3].1.clone());
        blobs[0].1 = wrong.clone();
        blobs[3].1 = wrong.clone();
        let bad: Vec<(&Loc, &Digest)> = blobs.iter().map(|(l, d)| (l, d)).collect();
        let failed = check_blobs(&a, &bad);
        let positions: Vec<usize> = failed.iter().map(|(i, _)| *i).collect();
        assert_eq!(positions, [0, 3]);
        for ((i, e), right) in failed.iter().zip([&right0, &right3]) {
            match e {
                Error::DigestMismatch { digest, actual } => {
                    assert_eq!(digest, &wrong.to_string());
                    assert_eq!(actual, &right.to_string());
                }
                e => panic!("member {i}: {e}"),
            }
        }
    }
}
