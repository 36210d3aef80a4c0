//! The cost model: how fast this machine hashes and writes, measured as the copy goes, so
//! each thread can tell whether to hash or to write next.

use super::*;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

/// Nanoseconds per byte of some kind of work, measured as the copy goes (starting from a rough
/// figure), to cost the work left.
pub(super) struct Rate {
    pub(super) ns: AtomicU64,
    pub(super) bytes: AtomicU64,
}

impl Rate {
    /// A start of `ns_per_kib` nanoseconds a KiB, weighing as much as 4 MiB measured.
    pub(super) fn new(ns_per_kib: u64) -> Rate {
        Rate {
            ns: AtomicU64::new(4096 * ns_per_kib),
            bytes: AtomicU64::new(4 * CHUNK),
        }
    }

    pub(super) fn add(&self, since: Instant, n: u64) {
        self.ns
            .fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn per_byte(&self) -> f64 {
        self.ns.load(Ordering::Relaxed) as f64 / self.bytes.load(Ordering::Relaxed).max(1) as f64
    }
}
