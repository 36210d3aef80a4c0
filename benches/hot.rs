//! Criterion benches for the hot pieces of ocislim (issue 6): the in-place tar header scan, SHA-256
//! hashing throughput, the parallel copy of blobs into the output (verified and not), platform
//! parsing and matching, and building the content graph.
//!
//! `cargo bench --bench hot` (about a minute on the 2-core machine); `cargo bench --bench hot --
//! --test` runs each once as a smoke test. The archives are generated with `ocislim_testgen`
//! into a temporary directory that is removed at the end.

use criterion::{black_box, BenchmarkId, Criterion, Throughput};
use ocislim::digest::{Algorithm, Hasher};
use ocislim::platform::{Matcher, Platform};
use ocislim::source::Archive;
use ocislim::Graph;
use ocislim_testgen::{noise, oci_image, write_archive, ArchiveSpec, ImageSpec, LayerSpec};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An image with `n` platforms, each with three small own layers and one shared layer; seeds
/// depend on `image` so that images do not deduplicate into one.
fn image(image: u64, n: usize, layer: u64) -> ImageSpec {
    let name = format!("example.com/bench/img{image}:1");
    oci_image(&name, n, true, |i| {
        let seed = 10_000 * (image + 1) + 10 * i as u64;
        let mut layers: Vec<LayerSpec> = (0..3)
            .map(|j| LayerSpec {
                size: layer,
                seed: seed + j,
            })
            .collect();
        layers.push(LayerSpec {
            size: layer / 2 + 1,
            seed: 10_000 * (image + 1) + 9_999,
        });
        layers
    })
}

fn write(path: &Path, spec: &ArchiveSpec) {
    let f = std::fs::File::create(path).expect("create bench archive");
    write_archive(spec, std::io::BufWriter::new(f)).expect("write bench archive");
}

struct Fixtures {
    _dir: tempfile::TempDir,
    /// Many small members: one 8-platform image plus 10,000 orphan blobs.
    many: PathBuf,
    many_members: usize,
    /// A realistic graph: 16 images × 8 platforms, 3 layers + a shared one, attestations.
    graph: PathBuf,
}

impl Fixtures {
    fn new() -> Fixtures {
        let dir = tempfile::tempdir().expect("tempdir");
        let many = dir.path().join("many.tar");
        write(
            &many,
            &ArchiveSpec {
                images: vec![image(0, 8, 4096)],
                docker_manifest: true,
                orphans: 10_000,
                containerd_names: true,
            },
        );
        let many_members = Archive::open(many.to_str().expect("utf-8 path"))
            .expect("open many.tar")
            .members()
            .len();
        let graph = dir.path().join("graph.tar");
        write(
            &graph,
            &ArchiveSpec {
                images: (0..16).map(|i| image(i, 8, 1024)).collect(),
                docker_manifest: false,
                orphans: 0,
                containerd_names: true,
            },
        );
        Fixtures {
            _dir: dir,
            many,
            many_members,
            graph,
        }
    }
}

fn bench_tar_scan(c: &mut Criterion, fx: &Fixtures) {
    let path = fx.many.to_str().expect("utf-8 path");
    let mut g = c.benchmark_group("tar_scan");
    g.throughput(Throughput::Elements(fx.many_members as u64));
    g.bench_function(BenchmarkId::new("Archive::open", fx.many_members), |b| {
        b.iter(|| {
            let a = Archive::open(black_box(path)).expect("open");
            black_box(a.members().len())
        })
    });
    g.finish();
}

fn bench_sha256(c: &mut Criterion) {
    const LEN: usize = 64 << 20;
    let buf = noise(1, LEN);
    let mut g = c.benchmark_group("sha256");
    g.throughput(Throughput::Bytes(LEN as u64));
    // ~50 ms an iteration: give the 10 samples room.
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("Hasher 64MiB one update", |b| {
        b.iter(|| {
            let mut h = Hasher::new(Algorithm::Sha256);
            h.update(black_box(&buf));
            black_box(h.finish())
        })
    });
    // The way verify and the writer feed it: 1 MiB reads.
    g.bench_function("Hasher 64MiB in 1MiB chunks", |b| {
        b.iter(|| {
            let mut h = Hasher::new(Algorithm::Sha256);
            for c in black_box(&buf).chunks(1 << 20) {
                h.update(c);
            }
            black_box(h.finish())
        })
    });
    // Two streams at once on one core, as the filter's copy hashes two blobs (2 × 32 MiB, so
    // the throughput compares with the one-stream rows).
    g.bench_function("Hasher::update_pair 2x32MiB in 1MiB chunks", |b| {
        b.iter(|| {
            let (mut x, mut y) = (
                Hasher::new(Algorithm::Sha256),
                Hasher::new(Algorithm::Sha256),
            );
            let (l, r) = black_box(&buf).split_at(LEN / 2);
            for (cl, cr) in l.chunks(1 << 20).zip(r.chunks(1 << 20)) {
                Hasher::update_pair(&mut x, cl, &mut y, cr);
            }
            black_box((x.finish(), y.finish()))
        })
    });
    // sha2 itself, one stream, for reference.
    g.bench_function("sha2::Sha256 64MiB one update", |b| {
        b.iter(|| black_box(<sha2::Sha256 as sha2::Digest>::digest(black_box(&buf))))
    });
    g.finish();
}

/// The filter's fast path: four 16 MiB blobs copied from an input file into a new output file
/// at offsets that differ modulo the page size (as tar layouts make them), hashed from the
/// input's map and verified, or not.
fn bench_copy(c: &mut Criterion, fx: &Fixtures) {
    use ocislim::sink::parallel::{copy_all, Job};
    use std::io::Write;
    const BLOB: usize = 16 << 20;
    let dir = fx._dir.path();
    let mut input = tempfile::tempfile_in(dir).expect("input");
    let mut blobs = Vec::new();
    let mut off = 512u64;
    for i in 0..4 {
        let b = noise(i, BLOB);
        input.write_all_at(&b, off).expect("write bench input");
        blobs.push((off, ocislim::digest::Digest::sha256_of(&b)));
        off += BLOB as u64 + 1024;
    }
    // SAFETY: the bench's own temporary file, not changed while mapped.
    let map = unsafe { memmap2::Mmap::map(&input) }.expect("map");
    input.flush().expect("flush");
    let jobs = |verify: bool| -> Vec<Job<'_>> {
        blobs
            .iter()
            .enumerate()
            .map(|(i, (o, d))| Job {
                input: &input,
                member: "blob",
                in_off: *o,
                out_off: 1536 + (i * (BLOB + 512)) as u64,
                len: BLOB as u64,
                expect: verify.then_some(d),
            })
            .collect()
    };
    let mut g = c.benchmark_group("copy");
    g.throughput(Throughput::Bytes(4 * BLOB as u64));
    for (name, verify) in [
        ("copy_all 4x16MiB verified", true),
        ("copy_all 4x16MiB --no-verify", false),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let out = tempfile::tempfile_in(dir).expect("output");
                let m = verify.then_some(&map[..]);
                copy_all(m, &out, &[], jobs(verify), false, &|_| {}, &|_| {}).expect("copy");
                black_box(out)
            })
        });
    }
    g.finish();
}

/// 50 platform strings as they appear in real indexes and on command lines.
fn platform_strings() -> Vec<String> {
    let base = [
        "linux/amd64",
        "linux/amd64/v2",
        "linux/amd64/v3",
        "linux/arm64",
        "linux/arm64/v8",
        "linux/arm/v5",
        "linux/arm/v6",
        "linux/arm/v7",
        "linux/386",
        "linux/ppc64le",
        "linux/s390x",
        "linux/riscv64",
        "linux/mips64le",
        "windows/amd64",
        "windows/arm64",
        "darwin/arm64",
        "freebsd/amd64",
        "unknown/unknown",
    ];
    (0..50).map(|i| base[i % base.len()].to_string()).collect()
}

fn bench_platform(c: &mut Criterion) {
    let strings = platform_strings();
    let parsed: Vec<Platform> = strings
        .iter()
        .map(|s| Platform::parse(s).expect("parse platform"))
        .collect();
    let selectors: Vec<Matcher> = ["linux/amd64", "linux/arm64", "linux/arm/v7"]
        .iter()
        .map(|s| Matcher::new(&Platform::parse(s).expect("parse selector")))
        .collect();
    let mut g = c.benchmark_group("platform");
    g.throughput(Throughput::Elements(strings.len() as u64));
    g.bench_function("parse 50", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for s in black_box(&strings) {
                if Platform::parse(s).is_ok() {
                    n += 1;
                }
            }
            n
        })
    });
    g.bench_function("match 50 x 3 selectors", |b| {
        b.iter(|| {
            black_box(&parsed)
                .iter()
                .filter(|p| selectors.iter().any(|m| m.matches(p)))
                .count()
        })
    });
    g.bench_function("parse + match 50", |b| {
        b.iter(|| {
            black_box(&strings)
                .iter()
                .filter_map(|s| Platform::parse(s).ok())
                .filter(|p| selectors.iter().any(|m| m.matches(p)))
                .count()
        })
    });
    g.finish();
}

fn bench_graph(c: &mut Criterion, fx: &Fixtures) {
    let path = fx.graph.to_str().expect("utf-8 path");
    let mut g = c.benchmark_group("graph");
    g.bench_function("Graph::open 16 images x 8 platforms", |b| {
        b.iter(|| black_box(Graph::open(black_box(path)).expect("graph")))
    });
    g.finish();
}

fn main() {
    let fx = Fixtures::new();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_tar_scan(&mut c, &fx);
    bench_sha256(&mut c);
    bench_copy(&mut c, &fx);
    bench_platform(&mut c);
    bench_graph(&mut c, &fx);
    c.final_summary();
}
