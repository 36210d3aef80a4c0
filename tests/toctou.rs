//! What is written is what was hashed, even while another process rewrites the input: bytes of
//! a large layer are flipped back and forth during `filter`, and whatever the timing, a run
//! either fails (exit 1, nothing at OUT) or writes an output that verifies. Checked for the
//! parallel copy (plain `.tar`), the streamed path (`.tar.gz`) and standard output.

mod common;

use common::{bin, one_image, out_path, tmp};
use ocislim_testgen::{self as testgen, Shape};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};

/// Flip the byte at every `step` of the input's second half and put it back at once, over and
/// over until `stop`: the input is mostly as it was, and differs for moments, so a reader that
/// hashed one version and copied another would write a blob that does not verify.
fn flipper(path: &Path, stop: &AtomicBool) {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let len = f.metadata().unwrap().len();
    let step = 1 << 16;
    let mut b = [0u8; 1];
    while !stop.load(Ordering::Relaxed) {
        let mut at = len / 2;
        while at < len - 4096 {
            f.read_exact_at(&mut b, at).unwrap();
            for _ in 0..2 {
                b[0] ^= 0x5a;
                f.write_all_at(&b, at).unwrap();
            }
            at += step;
        }
    }
}

/// Run `ocislim ARGS` (stdout into `stdout_to` when given) while the input is being rewritten.
fn run_while_flipping(input: &Path, args: &[&str], stdout_to: Option<&Path>) -> i32 {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| flipper(input, &stop));
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ocislim"));
        cmd.args(args).stderr(Stdio::null());
        let out = match stdout_to {
            Some(p) => cmd
                .stdout(Stdio::from(std::fs::File::create(p).unwrap()))
                .output(),
            None => cmd.output(),
        }
        .unwrap();
        stop.store(true, Ordering::Relaxed);
        out.status.code().unwrap_or(-1)
    })
}

#[test]
fn an_input_rewritten_during_the_run_never_gives_a_corrupt_output() {
    let dir = tmp();
    let input = out_path(&dir, "in.tar");
    let mut spec = one_image(&[0, 1], Shape::OciIndex, false);
    spec.images[0].platforms[0].layers[1].size = 48 << 20;
    testgen::write_archive(&spec, std::fs::File::create(&input).unwrap()).unwrap();
    let inp = input.to_str().unwrap();
    for (name, extra) in [("o.tar", &[][..]), ("o.tar.gz", &["--level", "1"][..])] {
        let out = out_path(&dir, name);
        let mut args = vec!["filter", inp, "-o", out.to_str().unwrap(), "-q"];
        args.extend_from_slice(extra);
        let code = run_while_flipping(&input, &args, None);
        eprintln!("{name}: exit {code}");
        assert!(code == 0 || code == 1, "{name}: exit {code}");
        if code == 0 {
            let v = bin()
                .args(["verify", out.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(
                v.status.success(),
                "{name}: exit 0 but the output does not verify"
            );
        } else {
            assert!(!out.exists(), "{name}: exit 1 left an output");
        }
    }
    let piped = out_path(&dir, "piped.tar");
    let code = run_while_flipping(&input, &["filter", inp, "-o", "-", "-q"], Some(&piped));
    eprintln!("-o -: exit {code}");
    assert!(code == 0 || code == 1, "-o -: exit {code}");
    let v = bin()
        .args(["verify", piped.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        v.status.success(),
        code == 0,
        "-o -: exit {code}, verify {:?}",
        v.status
    );
}
