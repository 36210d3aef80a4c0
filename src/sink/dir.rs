//! Writing a plan as an OCI image layout *directory* (`-o DIR/`), for crane, oras, regctl and
//! skopeo `oci:`: every member a file, built in a temporary directory beside DIR and renamed
//! into place at the end. An existing empty DIR is replaced; a non-empty one is refused before
//! anything is written. Each blob is copied by [`super::copy::Copier::copy_checked`] (what lands on
//! disk is exactly what was hashed); blobs are written on every core.

use super::write::Written;
use crate::error::{Error, Result};
use crate::plan::{Content, Plan};
use crate::source::Archive;
use rayon::prelude::*;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Write `plan`, whose input ranges are in `inputs`, as the directory `dir`.
pub fn write_dir(inputs: &[&Archive], plan: &Plan, dir: &Path, verify: bool) -> Result<Written> {
    check_free(dir)?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".ocislim-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(parent.display().to_string(), e))?;
    let members: Vec<(&Arc<str>, &Content)> = plan.members.iter().collect();
    members
        .par_iter()
        .with_max_len(1)
        .try_for_each(|&(name, c)| write_member(inputs, tmp.path(), name, c, verify))?;
    check_free(dir)?;
    if dir.is_dir() {
        std::fs::remove_dir(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&kept);
        Error::io(dir.display().to_string(), e)
    })?;
    Ok(Written {
        bytes: plan.members.values().map(Content::len).sum(),
        sha256: None,
    })
}

/// `dir` must not exist, or be an empty directory.
fn check_free(dir: &Path) -> Result<()> {
    let name = dir.display().to_string();
    match std::fs::read_dir(dir).map(|mut entries| entries.next().is_none()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::format(
            name,
            "the output directory exists and is not empty: it is left as it is",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(name, e)),
    }
}

/// Write one member under `root` (its folders made as needed).
fn write_member(
    inputs: &[&Archive],
    root: &Path,
    name: &str,
    c: &Content,
    verify: bool,
) -> Result<()> {
    let path = root.join(name);
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| Error::io(name, e))?;
    }
    let mut f = File::create(&path).map_err(|e| Error::io(name, e))?;
    match c {
        Content::Bytes(b) => f.write_all(b).map_err(|e| Error::io(name, e)),
        Content::Input { loc, digest } => {
            let archive = inputs
                .get(loc.input)
                .ok_or_else(|| Error::format(&*loc.member, "no such input"))?;
            let want = digest.as_ref().filter(|_| verify);
            super::copy::Copier::default().copy_checked(archive, loc, want, &mut f, name)
        }
    }
}
