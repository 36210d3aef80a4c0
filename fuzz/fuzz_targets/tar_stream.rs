//! The streaming tar reader (`ls`/`verify` of compressed or piped input): any bytes give a
//! member table or an error, never a panic, and memory stays bounded whatever sizes the
//! headers declare (extension headers over `tar_scan::MAX_EXTENSION` are refused, documents
//! kept only up to the arena's bound).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocislim::source::stream::{self, StreamError, ARENA_MAX};

fuzz_target!(|data: &[u8]| {
    match stream::scan(data, "fuzz", true) {
        Ok(s) => {
            assert!(s.arena.len() <= ARENA_MAX, "arena over its bound");
            for (name, m) in &s.members {
                assert!(!name.starts_with('/'), "absolute name {name:?}");
                if !s.skipped.contains(&**name) && m.kind == ocislim::source::MemberKind::File {
                    assert!(
                        m.offset + m.size <= s.arena.len() as u64,
                        "{name:?} past the arena"
                    );
                }
            }
        }
        Err(StreamError::TooBig) | Err(StreamError::Failed(_)) => {}
    }
});
