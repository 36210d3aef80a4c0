//! Write a deterministic benchmark archive: one multi-platform OCI image whose platforms each
//! have LAYERS own layers of LAYER_BYTES, plus one layer of SHARED_BYTES that every platform
//! uses, and (with `--attest`) a BuildKit attestation manifest per platform. `--images N` writes
//! N such images (`example.com/bench-K:1`, each with its own layers; the shared layer is shared
//! by all) for archives of many members.
//!
//! ```text
//! cargo run --release --example gen-bench -- OUT.tar PLATFORMS LAYERS LAYER_BYTES SHARED_BYTES [--attest] [--docker] [--images N]
//! ```
//!
//! `scripts/bench.sh` uses `OUT.tar 8 3 64000000 64000000 --attest` for the ~1.6 GB archive of
//! issue 6; `OUT.tar 8 3 1000 1000 --attest --images 1500` makes the archive of 1,500 images
//! (97,503 members) that `ls` is timed on in docs/performance.md. The same arguments always give
//! the same bytes (layer contents are xorshift noise seeded by image, platform and layer index).

use ocislim_testgen::{oci_image, write_archive, ArchiveSpec, LayerSpec, PLATFORMS};

fn usage() -> ! {
    eprintln!(
        "usage: gen-bench OUT.tar PLATFORMS(1-8) LAYERS LAYER_BYTES SHARED_BYTES [--attest] [--docker] [--images N]"
    );
    std::process::exit(2);
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    // Positional arguments: all but the flags and the value after `--images`.
    let mut pos: Vec<&String> = Vec::new();
    let mut images = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--images" {
            images = Some(it.next().unwrap_or_else(|| usage()));
        } else if !a.starts_with("--") {
            pos.push(a);
        }
    }
    if pos.len() != 5 {
        usage();
    }
    let num = |s: &str| -> u64 { s.parse().unwrap_or_else(|_| usage()) };
    let out = pos[0];
    let n = num(pos[1]) as usize;
    let layers = num(pos[2]);
    let layer_bytes = num(pos[3]);
    let shared_bytes = num(pos[4]);
    if n == 0 || n > PLATFORMS.len() {
        usage();
    }
    let attest = args.iter().any(|a| a == "--attest");
    let images = images.map_or(1, |v| num(v) as usize);
    let image = |k: usize| {
        let name = if images == 1 {
            "example.com/bench:1".to_string()
        } else {
            format!("example.com/bench-{k}:1")
        };
        oci_image(&name, n, attest, |i| {
            let seed = 1000 + (k as u64) * 10_000 + (i as u64) * 100;
            let mut ls: Vec<LayerSpec> = (0..layers)
                .map(|j| LayerSpec {
                    size: layer_bytes,
                    seed: seed + j,
                })
                .collect();
            if shared_bytes > 0 {
                ls.push(LayerSpec {
                    size: shared_bytes,
                    seed: 7,
                });
            }
            ls
        })
    };
    let spec = ArchiveSpec {
        images: (0..images).map(image).collect(),
        docker_manifest: args.iter().any(|a| a == "--docker"),
        orphans: 0,
        containerd_names: true,
    };
    let f = std::fs::File::create(out)?;
    write_archive(&spec, std::io::BufWriter::with_capacity(1 << 20, f))
}
