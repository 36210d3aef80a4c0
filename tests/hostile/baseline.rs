//! The baseline: the archives the hostile cases start from are valid.

use crate::build::*;
use crate::run::*;

#[test]
fn baselines_are_valid() {
    let c = Case::of(&Image::new().members());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.tar");
    all_succeed(c.p(), &out);
    crate::common::check_oci_output(&out, false);

    let c = Case::of(&legacy(vec![M::Symlink(
        "abc/layer.tar".into(),
        format!("../{}.tar", hex_of(&b"legacy layer bytes\n".repeat(4))),
    )]));
    all_succeed(c.p(), &dir.path().join("l.tar"));
}
