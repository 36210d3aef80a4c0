//! Write a deterministic benchmark archive: one multi-platform OCI image whose platforms each
//! have LAYERS own layers of LAYER_BYTES, plus one layer of SHARED_BYTES that every platform
//! uses, and (with `--attest`) a BuildKit attestation manifest per platform.
//!
//! ```text
//! cargo run --release --example gen-bench -- OUT.tar PLATFORMS LAYERS LAYER_BYTES SHARED_BYTES [--attest] [--docker]
//! ```
//!
//! `scripts/bench.sh` uses `OUT.tar 8 3 64000000 64000000 --attest` for the ~1.6 GB archive of
//! issue 6. The same arguments always give the same bytes (layer contents are xorshift noise
//! seeded by platform and layer index).

use ocislim_testgen::{oci_image, write_archive, ArchiveSpec, LayerSpec, PLATFORMS};

fn usage() -> ! {
    eprintln!(
        "usage: gen-bench OUT.tar PLATFORMS(1-8) LAYERS LAYER_BYTES SHARED_BYTES [--attest] [--docker]"
    );
    std::process::exit(2);
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let pos: Vec<&String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
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
    let image = oci_image("example.com/bench:1", n, attest, |i| {
        let mut ls: Vec<LayerSpec> = (0..layers)
            .map(|j| LayerSpec {
                size: layer_bytes,
                seed: 1000 + (i as u64) * 100 + j,
            })
            .collect();
        if shared_bytes > 0 {
            ls.push(LayerSpec {
                size: shared_bytes,
                seed: 7,
            });
        }
        ls
    });
    let spec = ArchiveSpec {
        images: vec![image],
        docker_manifest: args.iter().any(|a| a == "--docker"),
        orphans: 0,
        containerd_names: true,
    };
    let f = std::fs::File::create(out)?;
    write_archive(&spec, std::io::BufWriter::with_capacity(1 << 20, f))
}
