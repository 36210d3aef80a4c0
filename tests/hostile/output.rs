//! The output side: OUT under a file or a directory, read-only and full file systems, SIGKILL
//! mid-write.

use crate::build::*;
use crate::common::{listing, sha256, write_big_archive};
use crate::run::*;
use ocislim_testgen::noise;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn output_under_a_regular_file() {
    let c = Case::of(&Image::new().members());
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("plain-file");
    std::fs::write(&f, b"keep me").unwrap();
    let out = f.join("x.tar");
    run(&["filter", c.p(), "-o", out.to_str().unwrap()]).fails(f.to_str().unwrap(), false);
    assert_eq!(std::fs::read(&f).unwrap(), b"keep me");
    assert_eq!(listing(dir.path()), ["plain-file"]);
    // A folder that does not exist.
    let out = dir.path().join("no/such/dir/x.tar");
    run(&["filter", c.p(), "-o", out.to_str().unwrap()]).fails("no/such/dir", false);
    assert_eq!(listing(dir.path()), ["plain-file"]);
}

#[test]
fn output_is_an_existing_directory() {
    let c = Case::of(&Image::new().members());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a-dir");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("inside"), b"x").unwrap();
    run(&["filter", c.p(), "-o", out.to_str().unwrap()]).fails(out.to_str().unwrap(), false);
    assert_eq!(listing(dir.path()), ["a-dir"]);
    assert_eq!(listing(&out), ["inside"]);
}

/// A tmpfs mounted for the test (root only); unmounted on drop.
struct Mount(tempfile::TempDir);

impl Mount {
    fn tmpfs(opts: &str) -> Option<Mount> {
        let d = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(d.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Some(Mount(d))
        } else {
            eprintln!("skipped: cannot mount a tmpfs ({opts}) here");
            None
        }
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

/// Root ignores permission bits, so "read-only" is a read-only file system.
#[test]
fn output_on_a_read_only_file_system() {
    let c = Case::of(&Image::new().members());
    let Some(m) = Mount::tmpfs("ro,size=64k") else {
        return;
    };
    let out = m.path().join("out.tar");
    run(&["filter", c.p(), "-o", out.to_str().unwrap()]).fails(m.path().to_str().unwrap(), false);
    assert!(listing(m.path()).is_empty());
}

/// ENOSPC while writing: exit 1, nothing new at OUT, the previous OUT intact, no temp file.
#[test]
fn output_on_a_full_file_system() {
    let layer = noise(12, 1 << 20);
    let config = to_vec(&json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]}}));
    let img = Image::with(layer, config);
    let c = Case::of(&img.members());
    let Some(m) = Mount::tmpfs("size=256k") else {
        return;
    };
    let out = m.path().join("out.tar");
    std::fs::write(&out, b"previous OUT").unwrap();
    for compress in ["none", "gzip", "zstd"] {
        run(&[
            "filter",
            c.p(),
            "-o",
            out.to_str().unwrap(),
            "--compress",
            compress,
        ])
        .fails("No space left on device", false);
        assert_eq!(std::fs::read(&out).unwrap(), b"previous OUT");
        assert_eq!(listing(m.path()), ["out.tar"], "no temp file left");
    }
}

/// SIGKILL in the middle of writing: no code runs, yet nothing is left behind. The temporary
/// file is anonymous (`O_TMPFILE`) until it is renamed over OUT; only where the file system
/// cannot do that does a named `.ocislim-*.tmp` file stand in, which a SIGKILL leaves
/// (documented). OUT itself is untouched: nothing new appears at OUT, and a previous OUT keeps
/// its bytes.
#[test]
fn sigkill_mid_write_leaves_out_untouched() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("big.tar");
    write_big_archive(&input, "example.com/big:1", 80 << 20);
    assert!(std::fs::metadata(&input).unwrap().len() > 200 << 20);

    let runs = [
        (None, "out.tar"),
        (Some(&b"previous OUT, must survive"[..]), "out.tar"),
        (None, "out.tar.gz"),
        (Some(&b"previous OUT, must survive"[..]), "out.tar.gz"),
    ];
    for (i, (previous, name)) in runs.into_iter().enumerate() {
        let out_dir = work.path().join(format!("run{i}"));
        std::fs::create_dir(&out_dir).unwrap();
        let out = out_dir.join(name);
        if let Some(p) = previous {
            std::fs::write(&out, p).unwrap();
        }
        let mut child = Command::new(BIN)
            .args([
                "filter",
                input.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "-q",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until it writes its temporary file: named in the folder, or an anonymous file
        // there that the process holds open.
        let deadline = Instant::now() + Duration::from_secs(60);
        let (tmp, named) = loop {
            let found = listing(&out_dir)
                .into_iter()
                .find(|n| n.starts_with(".ocislim-") && n.ends_with(".tmp"));
            if let Some(t) = found {
                break (out_dir.join(t), true);
            }
            if let Some(fd) = anonymous_file_in(child.id(), &out_dir) {
                break (fd, false);
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "filter finished before it could be killed"
            );
            assert!(Instant::now() < deadline, "no temp file appeared");
            std::thread::sleep(Duration::from_millis(1));
        };
        // Let it write (the gzip writer may buffer its first blocks for a while), then kill it.
        let t0 = Instant::now();
        while std::fs::metadata(&tmp).map_or(0, |m| m.len()) == 0
            && t0.elapsed() < Duration::from_millis(100)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert_eq!(status.code(), None, "killed by a signal, not finished");
        match previous {
            Some(p) => assert_eq!(std::fs::read(&out).unwrap(), p, "previous OUT intact"),
            None => assert!(!out.exists(), "nothing new at OUT"),
        }
        let left: Vec<String> = listing(&out_dir)
            .into_iter()
            .filter(|n| n != name)
            .collect();
        if named {
            // The fallback: only the abandoned temp file may be there besides OUT.
            assert!(
                left.iter()
                    .all(|n| n.starts_with(".ocislim-") && n.ends_with(".tmp")),
                "{left:?}"
            );
            eprintln!("{name}: named temp file (no O_TMPFILE here); left after SIGKILL: {left:?}");
        } else {
            assert!(left.is_empty(), "nothing left after SIGKILL: {left:?}");
        }
    }
}

/// The `/proc/PID/fd` link of a deleted (anonymous) file in `dir` that process `pid` holds.
fn anonymous_file_in(pid: u32, dir: &Path) -> Option<PathBuf> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    fds.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
        std::fs::read_link(p).is_ok_and(|t| {
            let t = t.to_string_lossy();
            t.starts_with(&*dir.to_string_lossy()) && t.ends_with(" (deleted)")
        })
    })
}
