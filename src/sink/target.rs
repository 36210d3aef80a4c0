//! Where `-o OUT` sends the archive: `-` (or `/dev/stdout`) is standard output, which must be
//! open; a path that names a character device, FIFO or socket (`/dev/null`, `>(cmd)`) is
//! written to as a stream and never replaced; anything else is a file replaced atomically, after
//! following symlinks (see [`super::atomic`]); a path ending in `/` is an OCI layout directory
//! (see [`super::dir`]).

use super::write::Target;
use crate::error::{Error, Result};
use std::io::{self, IsTerminal};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Names of standard output that are taken as `-` when they are not a regular file.
const STDOUT_NAMES: [&str; 3] = ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"];

/// How many symlinks are followed before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// The target `out` names.
pub fn choose(out: &str) -> Result<Target> {
    if out == "-" {
        return stdout();
    }
    if out.ends_with('/') {
        return Ok(Target::Dir(PathBuf::from(out.trim_end_matches('/'))));
    }
    let path = Path::new(out);
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(Target::File(path.to_path_buf()));
    };
    let t = meta.file_type();
    if t.is_file() || t.is_dir() {
        return Ok(Target::File(path.to_path_buf()));
    }
    if STDOUT_NAMES.contains(&out) {
        return stdout();
    }
    if t.is_char_device() && open_stream(path)?.is_terminal() {
        return Err(Error::Usage(format!(
            "refusing to write an archive to the terminal {out}; use -o FILE"
        )));
    }
    Ok(Target::Stream(path.to_path_buf()))
}

/// Standard output, which must be open.
fn stdout() -> Result<Target> {
    if stdout_closed() {
        return Err(Error::io(
            "stdout",
            io::Error::from_raw_os_error(libc::EBADF),
        ));
    }
    Ok(Target::Stdout)
}

/// Whether the process was started with standard output closed. Rust's runtime reopens a
/// closed descriptor 0-2 on `/dev/null` for reading and writing before `main`, so the archive
/// would vanish with exit 0; a shell's `>/dev/null` opens it write-only, which tells the two
/// apart (only the rare `1<>/dev/null` is taken for a closed standard output).
fn stdout_closed() -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: a zeroed `stat` is a valid buffer for fstat to fill; fstat and F_GETFL only read
    // the state of descriptor 1.
    let (st, flags) = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(libc::STDOUT_FILENO, &mut st) != 0 {
            return true;
        }
        (st, libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFL))
    };
    let null = std::fs::metadata("/dev/null").map(|m| m.rdev()).ok();
    st.st_mode & libc::S_IFMT == libc::S_IFCHR
        && Some(st.st_rdev) == null
        && flags != -1
        && flags & libc::O_ACCMODE == libc::O_RDWR
}

/// Open a stream target for writing (never truncated, never created).
pub fn open_stream(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path.display().to_string(), e))
}

/// The file `path` names after following symlinks; the last link may dangle (the file it names
/// is then created, as `cp` does).
pub fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) => dir.join(to),
                    None => to,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}
