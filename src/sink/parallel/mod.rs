//! The fast path of every verb that writes a tar file: copying the kept blobs of uncompressed
//! input files (one or several) into an uncompressed output file, verifying their digests on the
//! way, on every core.
//!
//! The output's layout is known before a byte is written, so every blob is cut into 1 MiB
//! pieces with known output offsets, and the work is of two kinds: writing pieces, in any order
//! and by any thread, and hashing streams — a blob's bytes to check its digest, or the whole
//! output for its sha256 — each of which is sequential. Streams are dealt to the threads
//! largest first (a thread out of streams takes one not yet started from the busiest other),
//! and each thread hashes two streams at once where it can ([`Hasher::update_pair`], 1.5× the
//! throughput of one). Writes fill the rest: a thread writes a piece (preferably one it just
//! hashed, still in its cache) whenever its own hashing left is less than its share of all the
//! work left, costed with the hashing and writing speeds measured so far. So the threads finish
//! together, however many blobs of whatever sizes, and no thread waits on another. Bytes are
//! taken from the input's memory map when there is one (hashing and writing read the page cache
//! directly, no copy into a buffer), else read into per-thread buffers. The output is
//! preallocated first.
//!
//! Why not `copy_file_range` for everything: the tar layout puts a blob's bytes at a different
//! offset modulo the page size in the output than in the input almost always, and the kernel's
//! copy then touches every output page twice (measured: 1.5× the time of a page-aligned copy),
//! while a positioned write from a user buffer fills each output page once. The in-kernel copy
//! is still used where it wins: blobs that need no hashing and whose offsets agree modulo the
//! page size (for example when re-filtering an output of ocislim).

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};
use crate::source::map_range;

mod rate;
mod release;
mod sys;
mod thread;
mod work;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};
use sys::kernel_copy;
pub(crate) use sys::preallocate;
use thread::Ctx;
use work::Work;

/// Bytes hashed or written at a time: small enough to stay in a core's L2 cache.
const CHUNK: u64 = 1 << 20;
/// The most copy threads: past eight, the page cache and the disk, not the cores, bound the copy.
const MAX_COPY_THREADS: usize = 8;
/// The page size that decides whether an in-kernel copy is aligned.
const PAGE: u64 = 4096;
/// Zeros, for gaps in the output that nothing is written to (the output's digest hashes them).
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// A piece's state, bit by bit.
const CLAIMED: u8 = 1;
const WRITTEN: u8 = 2;
const HASHED: u8 = 4;
const OUT_HASHED: u8 = 8;

/// One blob to copy: `len` bytes at `in_off` of `input` go to `out_off` of the output.
pub struct Job<'a> {
    /// The input file that holds it (jobs may come from several inputs).
    pub input: &'a File,
    /// The member name, for errors.
    pub member: &'a str,
    pub in_off: u64,
    pub out_off: u64,
    pub len: u64,
    /// The digest the bytes must have; `None` copies without hashing.
    pub expect: Option<&'a Digest>,
}

/// Bytes made in memory (tar headers, padding, rewritten documents) and where they go.
pub struct Fixed<'a> {
    pub out_off: u64,
    pub bytes: &'a [u8],
}

/// Copy `jobs` (each from its input) to `out` and write `fixed`, verifying every job that has an
/// expected digest, and return the sha256 of the whole output when `digest_output`. Bytes are
/// taken from `map` (the input mapped) when given, and every mapped piece is passed to `release`
/// once nothing more needs it. `progress` is called with each number of blob bytes written. On
/// error the output holds garbage: the caller throws it away.
#[allow(clippy::too_many_arguments)]
pub fn copy_all(
    map: Option<&[u8]>,
    out: &File,
    fixed: &[Fixed<'_>],
    mut jobs: Vec<Job<'_>>,
    digest_output: bool,
    progress: &(dyn Fn(u64) + Sync),
    release: &(dyn Fn(&[u8]) + Sync),
) -> Result<Option<Digest>> {
    let total = fixed
        .iter()
        .map(|f| f.out_off.saturating_add(f.bytes.len() as u64))
        .chain(jobs.iter().map(|j| j.out_off.saturating_add(j.len)))
        .max()
        .unwrap_or(0);
    preallocate(out, total).map_err(|e| Error::io("output", e))?;
    for f in fixed {
        out.write_all_at(f.bytes, f.out_off)
            .map_err(|e| Error::io("output", e))?;
    }
    jobs.sort_by_key(|j| j.out_off);
    // No more threads than pieces to write or streams to hash.
    let pieces: u64 = jobs.iter().map(|j| j.len.div_ceil(CHUNK)).sum();
    let streams = jobs.iter().filter(|j| j.expect.is_some()).count() + usize::from(digest_output);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, MAX_COPY_THREADS)
        .min(
            usize::try_from(pieces)
                .unwrap_or(usize::MAX)
                .max(streams)
                .max(1),
        );
    let work = Work::new(map, out, fixed, &jobs, digest_output, threads, total);
    let ctx = Ctx {
        work: &work,
        progress,
        release,
    };
    let copied = std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let ctx = &ctx;
                s.spawn(move || {
                    let r = ctx.run(t);
                    if r.is_err() {
                        ctx.work.abort.store(true, Ordering::Relaxed);
                    }
                    r
                })
            })
            .collect();
        let mut first = Ok(());
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(Error::format("output", "copy thread failed")));
            if first.is_ok() {
                first = r;
            }
        }
        first
    });
    ctx.release_pending();
    copied?;
    Ok(work
        .out_digest
        .into_inner()
        .unwrap_or_else(|e| e.into_inner()))
}

/// Lock `m`; a poisoned lock only means another thread panicked, and what it guards is intact.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::atomic::AtomicUsize;

    fn map_file(f: &File) -> memmap2::Mmap {
        // SAFETY: a test's own temporary file, not changed while mapped.
        unsafe { memmap2::Mmap::map(f) }.unwrap()
    }

    /// Deterministic bytes.
    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        ocislim_testgen::noise(seed, n)
    }

    struct Case {
        input: tempfile::NamedTempFile,
        data: Vec<u8>,
        /// (in_off, out_off, len, digest)
        blobs: Vec<(u64, u64, u64, Digest)>,
        header: Vec<u8>,
        total: u64,
    }

    /// Blobs of awkward sizes (empty, one byte, a chunk and a bit, several chunks) at input
    /// offsets that are and are not congruent with their output offsets modulo the page size.
    fn case(shift: u64) -> Case {
        let sizes = [
            0usize,
            1,
            511,
            4096,
            CHUNK as usize + 7,
            3 * CHUNK as usize,
            70_000,
        ];
        let mut data = bytes(1000, 99);
        let mut blobs = Vec::new();
        let mut out = 512u64;
        for (i, n) in sizes.iter().enumerate() {
            let b = bytes(*n, i as u64 + 1);
            let in_off = data.len() as u64;
            data.extend_from_slice(&b);
            data.extend_from_slice(&bytes(333, 7));
            blobs.push((in_off, out + shift, *n as u64, Digest::sha256_of(&b)));
            out += shift + *n as u64;
        }
        let mut input = tempfile::NamedTempFile::new().unwrap();
        input.write_all(&data).unwrap();
        Case {
            input,
            data,
            blobs,
            header: bytes(512, 5),
            total: out + shift + 3,
        }
    }

    fn run(c: &Case, verify: bool, map: bool, corrupt: Option<usize>) -> Result<Vec<u8>> {
        let (got, digest) = run_digest(c, verify, map, corrupt, false)?;
        assert!(digest.is_none());
        Ok(got)
    }

    /// Copy `c` as told and read the output back, with the output's digest if asked for.
    fn run_digest(
        c: &Case,
        verify: bool,
        map: bool,
        corrupt: Option<usize>,
        digest_output: bool,
    ) -> Result<(Vec<u8>, Option<Digest>)> {
        let out = tempfile::tempfile().unwrap();
        let mut digests: Vec<Digest> = c.blobs.iter().map(|b| b.3.clone()).collect();
        if let Some(i) = corrupt {
            digests[i] = Digest::sha256_of(b"something else");
        }
        let jobs = c
            .blobs
            .iter()
            .zip(&digests)
            .map(|(b, d)| Job {
                input: c.input.as_file(),
                member: "blob",
                in_off: b.0,
                out_off: b.1,
                len: b.2,
                expect: verify.then_some(d),
            })
            .collect();
        let tail = [0u8; 3];
        let fixed = [
            Fixed {
                out_off: 0,
                bytes: &c.header,
            },
            Fixed {
                out_off: c.total - 3,
                bytes: &tail,
            },
        ];
        let m = map.then(|| map_file(c.input.as_file()));
        let counted = AtomicUsize::new(0);
        let base = m.as_deref().map_or(0, |m| m.as_ptr() as usize);
        let released = std::sync::Mutex::new(vec![false; c.data.len()]);
        let digest = copy_all(
            m.as_deref(),
            &out,
            &fixed,
            jobs,
            digest_output,
            &|n| {
                counted.fetch_add(n as usize, Ordering::Relaxed);
            },
            &|b| {
                let start = b.as_ptr() as usize - base;
                released.lock().unwrap()[start..start + b.len()].fill(true);
            },
        )?;
        let want: u64 = c.blobs.iter().map(|b| b.2).sum();
        assert_eq!(counted.load(Ordering::Relaxed) as u64, want);
        // Every mapped byte of every blob is released (with neighbours), and nothing unmapped.
        let released = released.into_inner().unwrap();
        for (i, _, n, _) in &c.blobs {
            let (i, n) = (*i as usize, *n as usize);
            assert!(released[i..i + n].iter().all(|r| *r == map), "blob at {i}");
        }
        assert!(map || !released.contains(&true));
        let mut got = vec![0u8; c.total as usize];
        out.read_exact_at(&mut got, 0).unwrap();
        Ok((got, digest))
    }

    fn expected(c: &Case) -> Vec<u8> {
        let mut e = vec![0u8; c.total as usize];
        e[..512].copy_from_slice(&c.header);
        for (i, o, n, _) in &c.blobs {
            let (i, o, n) = (*i as usize, *o as usize, *n as usize);
            e[o..o + n].copy_from_slice(&c.data[i..i + n]);
        }
        e
    }

    #[test]
    fn every_way_of_copying_writes_the_same_bytes_and_digest() {
        for shift in [0, 512, 1000] {
            let c = case(shift);
            let want = expected(&c);
            let sha = Digest::sha256_of(&want);
            for (verify, map, out) in [true, false]
                .into_iter()
                .flat_map(|v| [(v, true), (v, false)])
                .flat_map(|(v, m)| [(v, m, true), (v, m, false)])
            {
                let (got, digest) = run_digest(&c, verify, map, None, out).unwrap();
                assert!(
                    got == want,
                    "shift {shift} verify {verify} map {map} out {out}"
                );
                assert_eq!(digest, out.then(|| sha.clone()), "shift {shift}");
            }
        }
    }

    #[test]
    fn the_output_digest_covers_fixed_bytes_and_gaps() {
        // No blobs at all: the fixed bytes alone (and the zeros between them).
        let c = Case {
            blobs: Vec::new(),
            ..case(0)
        };
        let (got, digest) = run_digest(&c, true, false, None, true).unwrap();
        assert_eq!(digest, Some(Digest::sha256_of(&got)));
        assert_eq!(got, expected(&c));
    }

    #[test]
    fn congruent_offsets_are_copied_in_the_kernel_correctly() {
        // Output offsets equal to the input offsets: every unverified job takes kernel_copy.
        let mut c = case(0);
        for b in &mut c.blobs {
            b.1 = b.0 + 4096;
        }
        c.total = c.data.len() as u64 + 4096 + 3;
        let want = expected(&c);
        assert!(run(&c, false, false, None).unwrap() == want);
        let job = Job {
            input: c.input.as_file(),
            member: "m",
            in_off: c.blobs[5].0,
            out_off: c.blobs[5].1,
            len: c.blobs[5].2,
            expect: None,
        };
        let out = tempfile::tempfile().unwrap();
        assert!(kernel_copy(c.input.as_file(), &out, &job).unwrap());
    }

    #[test]
    fn a_wrong_digest_is_an_error_naming_it() {
        let c = case(512);
        for corrupt in [1, 4, 5] {
            for map in [true, false] {
                let e = run(&c, true, map, Some(corrupt)).unwrap_err();
                match e {
                    Error::DigestMismatch { digest, actual } => {
                        assert_eq!(digest, Digest::sha256_of(b"something else").to_string());
                        assert_eq!(actual, c.blobs[corrupt].3.to_string());
                    }
                    e => panic!("unexpected error {e}"),
                }
            }
        }
        // Without verification the same plan copies.
        assert!(run(&c, false, false, Some(4)).is_ok());
    }

    /// sha512 blobs cannot be hashed two at a time: they are hashed alone, beside sha256 ones.
    #[test]
    fn sha512_blobs_are_verified_beside_sha256_ones() {
        let sha512 = |b: &[u8]| {
            let mut h = Hasher::new(Algorithm::Sha512);
            h.update(b);
            h.finish()
        };
        let mut c = case(512);
        for i in [2, 5] {
            let (o, n) = (c.blobs[i].0 as usize, c.blobs[i].2 as usize);
            c.blobs[i].3 = sha512(&c.data[o..o + n]);
        }
        let want = expected(&c);
        for map in [true, false] {
            assert!(run(&c, true, map, None).unwrap() == want, "map {map}");
        }
        let wrong = sha512(b"something else");
        c.blobs[5].3 = wrong.clone();
        match run(&c, true, true, None) {
            Err(Error::DigestMismatch { digest, .. }) => assert_eq!(digest, wrong.to_string()),
            r => panic!("unexpected {:?}", r.map(|b| b.len())),
        }
    }

    #[test]
    fn a_range_past_the_end_of_the_input_is_an_error() {
        let c = case(0);
        let len = c.data.len() as u64;
        let out = tempfile::tempfile().unwrap();
        let d = Digest::sha256_of(b"");
        for (expect, map) in [(Some(&d), true), (Some(&d), false), (None, false)] {
            let m = map.then(|| map_file(c.input.as_file()));
            let job = Job {
                input: c.input.as_file(),
                member: "blobs/sha256/x",
                in_off: len - 10,
                out_off: 0,
                len: 2 * CHUNK,
                expect,
            };
            let e =
                copy_all(m.as_deref(), &out, &[], vec![job], true, &|_| {}, &|_| {}).unwrap_err();
            assert!(e.to_string().contains("blobs/sha256/x"), "{e}");
        }
    }
}
