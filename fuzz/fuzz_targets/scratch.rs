//! A scratch file for targets that need the input on disk (ocislim reads archives in place):
//! one unnamed file per process (nothing is left behind), rewritten for every input and
//! opened by its `/proc/self/fd` path.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::sync::OnceLock;

struct Scratch {
    file: File,
    path: String,
}

fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| {
        // /dev/shm when there is one: no disk I/O per input.
        let file = tempfile::tempfile_in("/dev/shm")
            .or_else(|_| tempfile::tempfile())
            .expect("scratch file");
        let path = format!("/proc/self/fd/{}", file.as_raw_fd());
        Scratch { file, path }
    })
}

/// Write `data` to the scratch file and return a path that opens it.
pub fn write(data: &[u8]) -> &'static str {
    let s = scratch();
    s.file.set_len(0).expect("truncate scratch file");
    s.file.write_all_at(data, 0).expect("write scratch file");
    &s.path
}
