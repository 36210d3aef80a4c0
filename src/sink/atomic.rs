//! Atomic output: a temporary file in the output's folder, renamed over `OUT` only on success.
//! On any failure the temporary file is removed and an existing `OUT` is untouched.

use crate::error::{Error, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A file being written that becomes `target` on [`AtomicFile::commit`].
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    target: PathBuf,
}

impl AtomicFile {
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // The mode a new file gets from `cp` or `docker save -o` (0666 less the umask), or the
        // mode of the file being replaced.
        let mode = match std::fs::metadata(target) {
            Ok(m) if m.is_file() => m.permissions(),
            _ => std::fs::Permissions::from_mode(0o666),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".ocislim-")
            .suffix(".tmp")
            .permissions(mode.clone())
            .tempfile_in(&dir)
            .map_err(|e| Error::io(dir.display().to_string(), e))?;
        if mode.mode() & 0o7777 != 0o666 {
            // An existing file's mode is taken as it is, not filtered by the umask.
            tmp.as_file()
                .set_permissions(mode)
                .map_err(|e| Error::io(dir.display().to_string(), e))?;
        }
        Ok(AtomicFile {
            tmp,
            target: target.to_path_buf(),
        })
    }

    pub fn file(&mut self) -> &mut std::fs::File {
        self.tmp.as_file_mut()
    }

    /// Rename into place. The rename is atomic; like `cp`, `tar` and `skopeo` we do not fsync
    /// (it cost as much as the copy itself in the benchmarks): run `sync` if the output must
    /// survive a power loss.
    pub fn commit(self) -> Result<()> {
        let name = self.target.display().to_string();
        self.tmp
            .persist(&self.target)
            .map_err(|e| Error::io(&name, e.error))?;
        Ok(())
    }
}
