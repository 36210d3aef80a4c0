//! The whole read side on arbitrary archive bytes: open (tar scan, gzip/zstd spool), build the
//! graph, list, verify and plan a filter; for compressed input also the streaming reader that
//! `ls` and `verify` use. Errors are fine; panics and hangs are not.
#![no_main]

#[path = "scratch.rs"]
mod scratch;

use libfuzzer_sys::fuzz_target;
use ocislim::ops;
use ocislim::plan::{FilterOptions, OutputFormat};
use ocislim::platform::{Matcher, Platform};
use ocislim::report::ls::{self, LsOptions};

fuzz_target!(|data: &[u8]| {
    let path = scratch::write(data);
    let opts = LsOptions::default();
    let compressed = data.starts_with(&[0x1f, 0x8b]) || data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    if compressed {
        for hash in [false, true] {
            if let Ok(mut g) = ocislim::Graph::open_streaming(path, hash) {
                let _ = ls::to_json(&g, &opts);
                let _ = ocislim::verify::verify(&mut g).to_error();
            }
        }
    }
    let Ok(mut g) = ocislim::open(path) else {
        return;
    };
    let _ = ls::to_json(&g, &opts);
    let _ = ls::to_tree(&g, &opts);
    let amd64 = Platform::parse("linux/amd64").expect("platform");
    let _ = ls::to_table(
        &g,
        &LsOptions {
            filter: vec![Matcher::new(&amd64)],
            no_trunc: true,
            ..LsOptions::default()
        },
    );
    for opts in [
        FilterOptions::default(),
        FilterOptions {
            include: vec![amd64.clone()],
            skip_missing: true,
            format: OutputFormat::Docker,
            ..FilterOptions::default()
        },
        FilterOptions {
            exclude: vec![amd64.clone()],
            keep_index: true,
            drop_attestations: true,
            format: OutputFormat::Oci,
            ..FilterOptions::default()
        },
        FilterOptions {
            images: vec!["*".into()],
            tags: vec![
                ocislim::reference::Rename::parse("docker.io/=registry.local/").expect("rename"),
            ],
            ..FilterOptions::default()
        },
    ] {
        if let Ok(plan) = ops::filter::plan(&g, &opts) {
            let _ = ocislim::sink::write::planned_size(&plan);
        }
    }
    // Last: verify frees the graph's documents.
    let _ = ocislim::verify::verify(&mut g).to_error();
});
