//! The tar scanner: any bytes give a member table or an error, never a panic, and every
//! regular file's range lies inside the file.
#![no_main]

#[path = "scratch.rs"]
mod scratch;

use libfuzzer_sys::fuzz_target;
use ocislim::source::{tar_scan, MemberKind};

fuzz_target!(|data: &[u8]| {
    let path = scratch::write(data);
    let file = std::fs::File::open(path).expect("open scratch");
    if let Ok(members) = tar_scan::scan(&file, "fuzz") {
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
