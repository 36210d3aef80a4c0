//! OCI image-layout directories: the same member table as a tar, built by walking the folder.

use super::{Member, MemberKind};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Walk `root` and list its files, symlinks and folders by relative name.
pub fn scan(root: &Path) -> Result<BTreeMap<Arc<str>, Member>> {
    let mut members = BTreeMap::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(dir.display().to_string(), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let meta = std::fs::symlink_metadata(entry.path())
                .map_err(|e| Error::io(entry.path().display().to_string(), e))?;
            let kind = if meta.file_type().is_symlink() {
                let t = std::fs::read_link(entry.path())
                    .map_err(|e| Error::io(entry.path().display().to_string(), e))?;
                MemberKind::Symlink(t.to_string_lossy().into())
            } else if meta.is_dir() {
                stack.push((entry.path(), rel.clone()));
                MemberKind::Dir
            } else if meta.is_file() {
                MemberKind::File
            } else {
                MemberKind::Other
            };
            members.insert(
                Arc::from(rel),
                Member {
                    size: if kind == MemberKind::File {
                        meta.len()
                    } else {
                        0
                    },
                    kind,
                    offset: 0,
                },
            );
        }
    }
    Ok(members)
}
