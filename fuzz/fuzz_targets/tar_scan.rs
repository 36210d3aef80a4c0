//! The tar scanner: any bytes give a member table or an error, never a panic, and every
//! regular file's range lies inside the file; reading plain headers in place gives what the tar
//! reader alone gives (the same members, or the same error).
#![no_main]

#[path = "scratch.rs"]
mod scratch;

use libfuzzer_sys::fuzz_target;
use ocislim::source::{tar_scan, MemberKind};

fuzz_target!(|data: &[u8]| {
    let path = scratch::write(data);
    let file = std::fs::File::open(&path).expect("open scratch");
    let scanned = tar_scan::scan(&file, "fuzz");
    let reader = std::fs::File::open(&path).expect("open scratch");
    let read = tar_scan::scan_with_reader(&reader, "fuzz");
    let rows = |m: &ocislim::source::Members| {
        m.iter()
            .map(|(k, v)| (k.clone(), v.kind.clone(), v.offset, v.size))
            .collect::<Vec<_>>()
    };
    match (&scanned, &read) {
        (Ok(a), Ok(b)) => assert_eq!(rows(a), rows(b), "in place and by the tar reader"),
        (a, b) => assert_eq!(
            a.as_ref().err().map(ToString::to_string),
            b.as_ref().err().map(ToString::to_string),
            "in place and by the tar reader"
        ),
    }
    if let Ok(members) = scanned {
        for (name, m) in members.iter() {
            assert!(!name.starts_with('/'), "absolute name {name:?}");
            assert!(
                !name
                    .split('/')
                    .any(|c| c == ".." || c == "." || c.is_empty()),
                "unnormalised name {name:?}"
            );
            if m.kind == MemberKind::File {
                assert!(
                    m.offset + m.size <= data.len() as u64,
                    "{name:?} past the end"
                );
            }
        }
    }
});
