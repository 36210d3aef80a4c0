//! Atomic output: a temporary file in the output's folder, renamed over `OUT` only on success.
//! On any failure nothing is left and an existing `OUT` is untouched. A symlink at `OUT` is
//! followed: the file it names is replaced and the link stays. A replaced file's permission
//! bits are kept, but never setuid, setgid or sticky.
//!
//! On Linux the temporary file is anonymous (`O_TMPFILE`) until the very end: it gets a name
//! only to be renamed over `OUT`, so even a SIGKILL, after which no code runs, leaves nothing
//! behind. Where the file system cannot (or `/proc` is missing), a named `.ocislim-*.tmp` file
//! is used, removed on every failure but a SIGKILL.

use crate::error::{Error, Result};
use crate::signals::{self, Registered};
use std::fs::File;
use std::io::Seek;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A file being written that becomes `target` on [`AtomicFile::commit`].
pub struct AtomicFile {
    inner: Inner,
    dir: PathBuf,
    target: PathBuf,
}

enum Inner {
    /// An `O_TMPFILE` file: no name until committed.
    Anonymous(File),
    /// A named temporary file, removed on a signal too.
    Named(tempfile::NamedTempFile, Registered),
}

/// The permission bits a replaced file passes on (not setuid, setgid or sticky).
const KEPT_MODE: u32 = 0o777;

const PREFIX: &str = ".ocislim-";
const SUFFIX: &str = ".tmp";

impl AtomicFile {
    pub fn create(target: &Path) -> Result<AtomicFile> {
        Self::create_with(target, true)
    }

    /// `anonymous: false` forces the named temporary file (for tests of the fallback).
    fn create_with(target: &Path, anonymous: bool) -> Result<AtomicFile> {
        let target = &super::target::follow_links(target)
            .map_err(|e| Error::io(target.display().to_string(), e))?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let derr = |e| Error::io(dir.display().to_string(), e);
        // The mode a new file gets from `cp` or `docker save -o` (0666 less the umask), or the
        // mode of the file being replaced.
        let replaced = match std::fs::metadata(target) {
            Ok(m) if m.is_file() => Some(std::fs::Permissions::from_mode(
                m.permissions().mode() & KEPT_MODE,
            )),
            _ => None,
        };
        let mode = replaced
            .clone()
            .unwrap_or_else(|| std::fs::Permissions::from_mode(0o666));
        let inner = match anonymous
            .then(|| open_anonymous(&dir, mode.mode()))
            .flatten()
        {
            Some(f) => Inner::Anonymous(f),
            None => {
                let make = || {
                    tempfile::Builder::new()
                        .prefix(PREFIX)
                        .suffix(SUFFIX)
                        .permissions(mode)
                        .tempfile_in(&dir)
                };
                let (t, reg) = signals::create(make, |t| t.path().to_path_buf())
                    .map_err(|e| derr(without_temp_name(e)))?;
                Inner::Named(t, reg)
            }
        };
        let file = match &inner {
            Inner::Anonymous(f) => f,
            Inner::Named(t, _) => t.as_file(),
        };
        if let Some(p) = replaced {
            // An existing file's mode is taken as it is, not filtered by the umask.
            file.set_permissions(p).map_err(derr)?;
        }
        Ok(AtomicFile {
            inner,
            dir,
            target: target.to_path_buf(),
        })
    }

    pub fn file(&mut self) -> &mut File {
        match &mut self.inner {
            Inner::Anonymous(f) => f,
            Inner::Named(t, _) => t.as_file_mut(),
        }
    }

    /// Rename into place. The rename is atomic; like `cp`, `tar` and `skopeo` we do not fsync
    /// (it cost as much as the copy itself in the benchmarks): run `sync` if the output must
    /// survive a power loss.
    pub fn commit(self) -> Result<()> {
        if signals::input_changed() {
            return Err(Error::InputChanged);
        }
        let name = self.target.display().to_string();
        match self.inner {
            Inner::Named(t, registered) => {
                let persisted = t.persist(&self.target);
                drop(registered); // renamed (or removed): nothing left to remove on a signal
                persisted.map(drop).map_err(|e| Error::io(&name, e.error))
            }
            Inner::Anonymous(f) => {
                // A name for the moment between the link and the rename (removed if the
                // rename fails).
                let builder = {
                    let mut b = tempfile::Builder::new();
                    b.prefix(PREFIX).suffix(SUFFIX);
                    b
                };
                let mut registered = None;
                let linked = builder.make_in(&self.dir, |path| {
                    let link = || link_anonymous(&f, path);
                    signals::create(link, |_| path.to_path_buf()).map(|(_, r)| {
                        registered = Some(r);
                    })
                });
                match linked {
                    Ok(linked) => linked
                        .persist(&self.target)
                        .map_err(|e| Error::io(&name, e.error)),
                    // The kernel would not give it a name (a /proc that hides descriptors,
                    // say): copy it into a named temporary file instead.
                    Err(_) => persist_by_copy(&f, &self.dir, &self.target),
                }
            }
        }
    }
}

/// Copy the anonymous file `f` into a named temporary file in `dir` and rename that over
/// `target`: the way out when `f` cannot be linked.
fn persist_by_copy(f: &File, dir: &Path, target: &Path) -> Result<()> {
    let derr = |e| Error::io(dir.display().to_string(), e);
    let make = || {
        tempfile::Builder::new()
            .prefix(PREFIX)
            .suffix(SUFFIX)
            .tempfile_in(dir)
    };
    let (mut named, _registered) = signals::create(make, |t| t.path().to_path_buf())
        .map_err(|e| derr(without_temp_name(e)))?;
    let mut from = f;
    from.seek(std::io::SeekFrom::Start(0)).map_err(derr)?;
    std::io::copy(&mut from, named.as_file_mut()).map_err(derr)?;
    let mode = f.metadata().map_err(derr)?.permissions();
    named.as_file().set_permissions(mode).map_err(derr)?;
    named
        .persist(target)
        .map(drop)
        .map_err(|e| Error::io(target.display().to_string(), e.error))
}

/// tempfile's errors name the temporary file (`... at path "OUT_DIR/.ocislim-Z6iPpc.tmp"`), a
/// name the user never chose and that does not exist: keep the OS error alone.
fn without_temp_name(e: std::io::Error) -> std::io::Error {
    // The wrapper is private to tempfile: only its text tells where the OS error ends.
    let text = e.get_ref().map(|inner| inner.to_string());
    match text.as_deref().and_then(|t| t.split_once(" at path ")) {
        Some((os, _)) => std::io::Error::new(e.kind(), os.to_string()),
        None => e,
    }
}

/// An unnamed file in `dir` (`O_TMPFILE`), or `None` where that is not possible (another OS, a
/// file system without it, no `/proc` to give it a name later).
fn open_anonymous(dir: &Path, mode: u32) -> Option<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        if !Path::new("/proc/self/fd").is_dir() {
            return None;
        }
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(mode)
            .open(dir)
            .ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (dir, mode);
        None
    }
}

/// Give the anonymous file `f` the name `path` (`linkat` through `/proc/self/fd`).
fn link_anonymous(f: &File, path: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::io::AsRawFd;
        let from = CString::new(format!("/proc/self/fd/{}", f.as_raw_fd()))?;
        let to = CString::new(path.as_os_str().as_bytes())?;
        // SAFETY: two valid NUL-terminated paths; AT_FDCWD and the flag are constants.
        let r = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (f, path);
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn an_anonymous_file_that_cannot_be_linked_is_copied_into_place() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out.tar");
        let Some(mut f) = open_anonymous(d.path(), 0o640) else {
            eprintln!("skipped: no O_TMPFILE on this file system");
            return;
        };
        f.write_all(b"the archive bytes").unwrap();
        persist_by_copy(&f, d.path(), &out).unwrap();
        assert_eq!(names(d.path()), ["out.tar"]);
        assert_eq!(std::fs::read(&out).unwrap(), b"the archive bytes");
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, f.metadata().unwrap().permissions().mode() & 0o777);
    }

    #[test]
    fn both_kinds_commit_and_clean_up() {
        for anonymous in [true, false] {
            let d = tempfile::tempdir().unwrap();
            let out = d.path().join("out.tar");
            // Dropped without commit: nothing at all is left.
            let mut a = AtomicFile::create_with(&out, anonymous).unwrap();
            a.file().write_all(b"abandoned").unwrap();
            if anonymous {
                assert!(
                    names(d.path()).is_empty(),
                    "anonymous: no name while writing"
                );
            } else {
                let temp = d.path().join(&names(d.path())[0]);
                assert!(signals::is_registered(&temp), "named: removed on a signal");
            }
            drop(a);
            assert!(names(d.path()).is_empty());
            // Committed: exactly OUT, with the bytes written.
            let mut a = AtomicFile::create_with(&out, anonymous).unwrap();
            a.file().write_all(b"archive").unwrap();
            a.commit().unwrap();
            assert_eq!(names(d.path()), ["out.tar"]);
            assert_eq!(std::fs::read(&out).unwrap(), b"archive");
            // Replacing keeps the mode of the replaced file.
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
            let mut a = AtomicFile::create_with(&out, anonymous).unwrap();
            a.file().write_all(b"again").unwrap();
            a.commit().unwrap();
            assert_eq!(names(d.path()), ["out.tar"]);
            assert_eq!(std::fs::read(&out).unwrap(), b"again");
            let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
