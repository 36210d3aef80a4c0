//! Running the binary with a deadline, and the checks every case shares: one clear error line,
//! exit code, nothing left at `OUT`.

use crate::build::{tar_bytes, M};
use crate::common::listing;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ocislim");

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Run ocislim with a deadline: a hang fails the test instead of hanging the suite.
pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    run_with_stdin(args, None)
}

pub fn run_with_stdin<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ocislim");
    if let Some(data) = stdin {
        let mut w = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    // Drain the pipes while waiting, or a big output would block the child.
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            v
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as _));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as _));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let shown: Vec<String> = args
                .iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect();
            panic!("ocislim {shown:?} hung (killed after 60 s)");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
    }
}

impl Run {
    pub fn describe(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Exit 1 with exactly one `ocislim: error:` line on stderr containing `needle`
    /// (for `verify`, the needle may be on stdout, in the problem list).
    pub fn fails(&self, needle: &str, verify: bool) {
        assert_ne!(self.code, Some(101), "panic!\n{}", self.describe());
        assert_eq!(self.code, Some(1), "{}", self.describe());
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr\n{}", self.describe());
        assert!(
            lines[0].starts_with("ocislim: error: "),
            "{}",
            self.describe()
        );
        eprintln!("  exit 1: {}", lines[0]);
        let found = lines[0].contains(needle) || verify && self.stdout.contains(needle);
        assert!(found, "message should name {needle:?}\n{}", self.describe());
    }

    pub fn ok(&self) {
        assert_eq!(self.code, Some(0), "{}", self.describe());
    }
}

pub struct Case {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Case {
    pub fn new(bytes: &[u8]) -> Case {
        Case::named(bytes, "in.tar")
    }
    pub fn named(bytes: &[u8], name: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        Case { _dir: dir, path }
    }
    pub fn of(members: &[M]) -> Case {
        Case::new(&tar_bytes(members))
    }
    pub fn p(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// `filter ARCHIVE -o OUT` fails with exit 1 naming `needle`, leaves nothing at OUT (no temp
/// file either), and on a second run leaves a previous OUT byte for byte as it was.
pub fn filter_fails(archive: &str, extra: &[&str], needle: &str) {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("out.tar");
    let mut args = vec!["filter", archive, "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args).fails(needle, false);
    assert!(listing(out_dir.path()).is_empty(), "nothing left behind");

    std::fs::write(&out, b"previous OUT").unwrap();
    run(&args).fails(needle, false);
    assert_eq!(std::fs::read(&out).unwrap(), b"previous OUT");
    assert_eq!(listing(out_dir.path()), ["out.tar"]);
}

/// `ocislim filter ARCHIVE -o OUT EXTRA...`, OUT in a fresh folder removed afterwards.
pub fn filter_run(archive: &str, extra: &[&str]) -> Run {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("o.tar");
    let mut args = vec!["filter", archive, "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

/// A guard against quadratic blow-ups, not a benchmark: the shapes that would take hours if
/// handled in quadratic time must be done well within 30 s.
pub fn assert_linear_time(started: Instant) {
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "{took:?}");
}

/// `ls`, `verify` and `filter ARCHIVE -o OUT` all succeed.
pub fn all_succeed(archive: &str, out: &Path) {
    run(&["ls", archive]).ok();
    run(&["verify", archive]).ok();
    run(&["filter", archive, "-o", out.to_str().unwrap(), "-q"]).ok();
}

/// `ls`, `verify` and `filter` all fail with exit 1 and name `needle`.
pub fn all_fail(archive: &str, needle: &str) {
    run(&["ls", archive]).fails(needle, false);
    run(&["ls", archive, "--format", "json"]).fails(needle, false);
    run(&["verify", archive]).fails(needle, true);
    filter_fails(archive, &[], needle);
    filter_fails(archive, &["--platform", "linux/amd64"], needle);
}
