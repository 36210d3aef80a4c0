//! Releasing mapped input pages once hashed and written, in groups and sorted batches, so
//! the resident set stays small however large the archive (one `madvise` per 8 MiB, not per
//! piece).

use super::thread::Ctx;
use super::work::GROUP;
use super::*;

/// Released ranges this close together are released as one.
const RELEASE_GAP: u64 = 64 << 10;

impl Ctx<'_> {
    /// Set `bit` on piece `p`; whoever completes what the last piece of a group needs releases
    /// the group's bytes.
    pub(super) fn mark(&self, p: usize, bit: u8) {
        let w = self.work;
        let Some(map) = w.map else {
            return;
        };
        let piece = &w.pieces[p];
        let job = &w.jobs[piece.job];
        let mut need = WRITTEN;
        if job.expect.is_some() {
            need |= HASHED;
        }
        if w.digest_output {
            need |= OUT_HASHED;
        }
        let before = w.flags[p].fetch_or(bit, Ordering::AcqRel);
        if before & need == need || (before | bit) & need != need {
            return;
        }
        let g = &w.groups[piece.group];
        if g.done.fetch_add(1, Ordering::AcqRel) + 1 == g.pieces {
            let start = job.in_off + g.off;
            self.release_range(map, start, start + g.len);
        }
    }

    /// Release input bytes `start..end` of the map. Small ranges wait until 8 MiB of them have
    /// gathered and are then released sorted, neighbours together: blobs of a few KiB would
    /// otherwise cost a `madvise` (and a TLB flush on every core) each. Releasing a little more
    /// than was used (the tar headers between two blobs) costs nothing: bytes released and read
    /// again are simply mapped again.
    pub(super) fn release_range(&self, map: &[u8], start: u64, end: u64) {
        if end - start >= CHUNK {
            self.release_now(map, start, end);
            return;
        }
        let ranges = {
            let mut pending = lock(&self.work.pending);
            pending.0.push((start, end));
            pending.1 += end - start;
            if pending.1 < GROUP * CHUNK {
                return;
            }
            pending.1 = 0;
            std::mem::take(&mut pending.0)
        };
        self.release_sorted(map, ranges);
    }

    /// Release `ranges`, those within [`RELEASE_GAP`] of each other as one.
    pub(super) fn release_sorted(&self, map: &[u8], mut ranges: Vec<(u64, u64)>) {
        ranges.sort_unstable();
        let mut run: Option<(u64, u64)> = None;
        for (s, e) in ranges {
            run = match run {
                Some((rs, re)) if s <= re + RELEASE_GAP => Some((rs, re.max(e))),
                Some((rs, re)) => {
                    self.release_now(map, rs, re);
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        if let Some((rs, re)) = run {
            self.release_now(map, rs, re);
        }
    }

    pub(super) fn release_now(&self, map: &[u8], start: u64, end: u64) {
        if let Some(bytes) = map.get(start as usize..end as usize) {
            (self.release)(bytes);
        }
    }

    /// Release what [`Ctx::release_range`] still holds back.
    pub(super) fn release_pending(&self) {
        let ranges = std::mem::take(&mut lock(&self.work.pending).0);
        if let Some(map) = self.work.map {
            self.release_sorted(map, ranges);
        }
    }
}
