//! Write a synthetic multi-platform archive (for benchmarks and trying things out).
//!
//! `cargo run --release --example gen-archive -- OUT.tar PLATFORMS LAYER_BYTES [--attest] [--docker]`

use ocislim_testgen::{multi_platform, write_archive, ArchiveSpec};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: gen-archive OUT.tar PLATFORMS LAYER_BYTES [--attest] [--docker]");
        std::process::exit(2);
    }
    let n: usize = args[2].parse().unwrap_or(8);
    let layer: u64 = args[3].parse().unwrap_or(1 << 20);
    let attest = args.iter().any(|a| a == "--attest");
    let spec = ArchiveSpec {
        images: vec![multi_platform("example.com/bench:1", n, layer, attest)],
        docker_manifest: args.iter().any(|a| a == "--docker"),
        orphans: 0,
        containerd_names: true,
    };
    let f = std::fs::File::create(&args[1])?;
    write_archive(&spec, std::io::BufWriter::new(f))
}
