//! Member names: `..` and absolute names refused, `..` that stays inside normalised, control
//! characters escaped.

use crate::build::*;
use crate::run::*;

#[test]
fn member_names_with_dotdot() {
    for name in [
        "../evil",
        "blobs/../../evil",
        "./../evil",
        "a/b/../../../evil",
    ] {
        let mut ms = Image::new().members();
        ms.push(M::RawFile(name.into(), b"x".to_vec()));
        let c = Case::of(&ms);
        all_fail(c.p(), name);
    }
}

#[test]
fn member_names_absolute() {
    for name in ["/etc/passwd", "/index.json", "//blobs/sha256/x"] {
        let mut ms = Image::new().members();
        ms.insert(0, M::RawFile(name.into(), b"root:x:0:0\n".to_vec()));
        let c = Case::of(&ms);
        all_fail(c.p(), name);
    }
}

/// Harmless: `..` that stays inside the archive is normalised away (`a/../README` is `README`).
#[test]
fn member_name_dotdot_inside_is_normalised() {
    let mut ms = Image::new().members();
    ms.push(M::RawFile("a/../README".into(), b"hi".to_vec()));
    let c = Case::of(&ms);
    run(&["ls", c.p()]).ok();
    run(&["verify", c.p()]).ok();
}

/// Control characters in member names (and raw header bytes quoted by the tar reader) are
/// escaped: the error stays on one line.
#[test]
fn control_characters_stay_on_one_line() {
    let mut ms = Image::new().members();
    ms.push(M::RawFile(
        "evil\nname\r\x1b[2J/../../../x".into(),
        b"x".to_vec(),
    ));
    let c = Case::of(&ms);
    all_fail(c.p(), "evil\\nname\\r\\u{1b}[2J");
}
