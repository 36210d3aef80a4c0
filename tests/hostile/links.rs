//! Symbolic and hard links that leave the archive or loop.

use crate::build::*;
use crate::run::*;

/// Legacy layout: `manifest.json` paths go through links; links that leave the archive fail.
#[test]
fn legacy_links_that_leave_the_archive() {
    for link in [
        M::Symlink("abc/layer.tar".into(), "../../../etc/passwd".into()),
        M::Symlink("abc/layer.tar".into(), "/etc/passwd".into()),
        M::HardLink("abc/layer.tar".into(), "../etc/passwd".into()),
        M::HardLink("abc/layer.tar".into(), "/etc/passwd".into()),
    ] {
        let c = Case::of(&legacy(vec![link.clone()]));
        all_fail(c.p(), "abc/layer.tar");
    }
}

#[test]
fn legacy_config_link_that_leaves_the_archive() {
    let (mut ms, _) = legacy_members("cfg.json", "abc/layer.tar");
    ms.push(M::Symlink("cfg.json".into(), "../../etc/hostname".into()));
    ms.push(M::Symlink(
        "abc/layer.tar".into(),
        format!("../{}.tar", hex_of(&b"legacy layer bytes\n".repeat(4))),
    ));
    let c = Case::of(&ms);
    all_fail(c.p(), "cfg.json");
}

#[test]
fn legacy_link_loops() {
    let cases: Vec<Vec<M>> = vec![
        // a/layer.tar -> ../b/layer.tar -> ../abc/layer.tar (the listed path)
        vec![
            M::Symlink("abc/layer.tar".into(), "../b/layer.tar".into()),
            M::Symlink("b/layer.tar".into(), "../abc/layer.tar".into()),
        ],
        vec![M::Symlink("abc/layer.tar".into(), "layer.tar".into())],
        vec![
            M::HardLink("abc/layer.tar".into(), "b/layer.tar".into()),
            M::HardLink("b/layer.tar".into(), "abc/layer.tar".into()),
        ],
        vec![
            M::Symlink("abc/layer.tar".into(), "../b/layer.tar".into()),
            M::HardLink("b/layer.tar".into(), "abc/layer.tar".into()),
        ],
    ];
    for links in cases {
        let c = Case::of(&legacy(links));
        all_fail(c.p(), "abc/layer.tar");
    }
}

/// Links under `blobs/` and at `index.json` that leave the archive or loop.
#[test]
fn oci_links_that_leave_the_archive_or_loop() {
    let img = Image::new();
    let layer = blob_name(&img.layer);
    let variants: Vec<(Vec<M>, String)> = vec![
        (
            vec![M::Symlink(layer.clone(), "../../../etc/passwd".into())],
            layer.clone(),
        ),
        (
            vec![M::Symlink(layer.clone(), "/etc/passwd".into())],
            layer.clone(),
        ),
        (
            vec![M::HardLink(layer.clone(), "/etc/passwd".into())],
            layer.clone(),
        ),
        (
            vec![M::HardLink(layer.clone(), "../etc/passwd".into())],
            layer.clone(),
        ),
        (
            vec![M::Symlink(layer.clone(), layer_file(&layer))],
            layer.clone(),
        ),
        (
            vec![
                M::Symlink(layer.clone(), "loop".into()),
                M::Symlink("blobs/sha256/loop".into(), layer_file(&layer)),
            ],
            layer.clone(),
        ),
    ];
    for (links, needle) in variants {
        let mut ms = layout_head(&[img.root()]);
        ms.extend(
            img.blobs()
                .into_iter()
                .filter(|m| !matches!(m, M::File(n, _) if *n == layer)),
        );
        ms.extend(links);
        let c = Case::of(&ms);
        all_fail(c.p(), &needle);
    }

    // index.json itself a link out of the archive.
    for target in ["/etc/passwd", "../../etc/passwd"] {
        let mut ms = vec![
            file("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
            M::Symlink("index.json".into(), target.into()),
        ];
        ms.extend(img.blobs());
        let c = Case::of(&ms);
        all_fail(c.p(), "index.json");
    }
}

/// The last component of a member name (a symlink to it, from its own folder, is a self-loop).
fn layer_file(name: &str) -> String {
    name.rsplit('/').next().unwrap().to_string()
}
