//! Signals: SIGINT, SIGTERM and SIGHUP remove every temporary file still registered (the
//! decompression spool, a named temporary file beside OUT) and exit 130, 143 or 129; a SIGBUS
//! from an input that shrinks while mapped becomes "the input changed while being read" (exit 1,
//! OUT untouched) instead of a crash.
//!
//! The first three are taken by a thread of their own ([`signal_hook`]), where ordinary code may
//! run. SIGBUS is raised in the thread that touched a page past the input's new end: the
//! handler maps a zero page over it, notes that the input changed, and returns, so the read goes
//! on with zeros, the digest check fails, and the error is reported as a change of the input
//! ([`checked`]); an output is never committed after it ([`input_changed`]).

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Temporary files to remove if a signal ends the process, by registration number.
static TEMPS: Mutex<BTreeMap<u64, PathBuf>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(0);
/// Set by the SIGBUS handler.
static INPUT_CHANGED: AtomicBool = AtomicBool::new(false);
/// The page size, read once at install (the handler calls nothing it need not).
static PAGE: AtomicUsize = AtomicUsize::new(0);

/// The exit code for a signal: 128 + its number, as shells report it.
const fn exit_code(signal: i32) -> i32 {
    128 + signal
}

/// Take SIGINT, SIGTERM, SIGHUP and SIGBUS (once, at start).
pub fn install() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                remove_all();
                std::process::exit(exit_code(signal));
            }
        })?;
    install_sigbus()
}

/// Remove every registered temporary file (the process is about to end).
fn remove_all() {
    let temps = TEMPS.lock().unwrap_or_else(|e| e.into_inner());
    for path in temps.values() {
        let _ = std::fs::remove_file(path);
    }
}

/// A registered temporary file: removed from the registry (not from the disk) when dropped.
#[derive(Debug)]
pub struct Registered(u64);

impl Drop for Registered {
    fn drop(&mut self) {
        let mut temps = TEMPS.lock().unwrap_or_else(|e| e.into_inner());
        temps.remove(&self.0);
    }
}

/// Create a temporary file with `make` and register the path `path_of` gives, with no moment
/// in between at which a signal would leave it behind.
pub fn create<T, E>(
    make: impl FnOnce() -> std::result::Result<T, E>,
    path_of: impl FnOnce(&T) -> PathBuf,
) -> std::result::Result<(T, Registered), E> {
    let mut temps = TEMPS.lock().unwrap_or_else(|e| e.into_inner());
    let made = make()?;
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    temps.insert(id, path_of(&made));
    Ok((made, Registered(id)))
}

/// Whether `path` is registered for removal on a signal.
#[cfg(test)]
pub(crate) fn is_registered(path: &std::path::Path) -> bool {
    let temps = TEMPS.lock().unwrap_or_else(|e| e.into_inner());
    temps.values().any(|p| p == path)
}

/// Whether a mapped input was found shorter than when it was opened.
pub fn input_changed() -> bool {
    INPUT_CHANGED.load(Ordering::SeqCst)
}

/// `result`, unless the input changed meanwhile: then that is the error, whatever happened.
pub fn checked<T>(result: Result<T>) -> Result<T> {
    match input_changed() {
        true => Err(Error::InputChanged),
        false => result,
    }
}

fn install_sigbus() -> std::io::Result<()> {
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    PAGE.store(usize::try_from(page).unwrap_or(0), Ordering::Relaxed);
    // SAFETY: a zeroed sigaction with a handler of the SA_SIGINFO signature and an empty mask
    // is valid; installing it replaces only SIGBUS's disposition.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigbus as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The SIGBUS handler (async-signal-safe: atomics, one `mmap`, or back to the default action).
/// A page of a file mapping past the file's end gives `BUS_ADRERR`: a private zero page is
/// mapped in its place and the faulting read, retried, sees zeros.
extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers; si_addr is the faulting
    // address; replacing that one page of a read-only file mapping with zeros changes no memory
    // anything else owns (the map is only ever read).
    unsafe {
        let page = PAGE.load(Ordering::Relaxed);
        if (*info).si_code == libc::BUS_ADRERR && page > 0 {
            let addr = ((*info).si_addr() as usize) & !(page - 1);
            let zero = libc::mmap(
                addr as *mut libc::c_void,
                page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            );
            if zero != libc::MAP_FAILED {
                INPUT_CHANGED.store(true, Ordering::SeqCst);
                return;
            }
        }
        // Not ours to mend: die of it as before.
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_registered_until_dropped() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        let (_, ra) = create(|| std::fs::write(&a, b"a"), |_| a.clone()).unwrap();
        let (_, rb) = create(|| std::fs::write(&b, b"b"), |_| b.clone()).unwrap();
        assert!(is_registered(&a) && is_registered(&b));
        drop(rb);
        assert!(is_registered(&a) && !is_registered(&b));
        drop(ra);
        assert!(!is_registered(&a));
    }
}
