//! The `filter` report: what each image kept and dropped, bytes before and after, and the
//! output's sha256 — as text for stderr or JSON for stdout.

use super::safe::escape;
use super::size::human;
use crate::select::ImageReport;
use serde::Serialize;

/// The outcome of `filter`.
#[derive(Debug, Clone, Serialize)]
pub struct FilterReport {
    pub input: String,
    pub output: String,
    pub format: &'static str,
    #[serde(rename = "dryRun")]
    pub dry_run: bool,
    pub images: Vec<ImageReport>,
    pub notes: Vec<String>,
    pub bytes: Bytes,
    /// sha256 of the output file (null in a dry run).
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bytes {
    pub before: u64,
    pub after: u64,
}

impl FilterReport {
    /// Human-readable lines for stderr (what comes from the archive escaped, see
    /// [`super::safe`]).
    pub fn to_text(&self) -> String {
        let e = |s: &str| escape(s).into_owned();
        let list = |v: &[String]| e(&v.join(", "));
        let mut s = String::new();
        for n in &self.notes {
            s.push_str(&e(n));
            s.push('\n');
        }
        for i in &self.images {
            let name = e(i.name.as_deref().unwrap_or(&i.digest));
            if i.kept.is_empty() {
                continue;
            }
            s.push_str(&format!("{name}: kept {}", list(&i.kept)));
            if !i.dropped.is_empty() {
                s.push_str(&format!("; dropped {}", list(&i.dropped)));
            }
            if !i.skipped_missing.is_empty() {
                s.push_str(&format!("; skipped (missing) {}", list(&i.skipped_missing)));
            }
            match &i.new_digest {
                Some(n) if *n != i.digest => {
                    s.push_str(&format!(" ({} -> {})", short(&i.digest), short(n)))
                }
                _ => {}
            }
            s.push('\n');
        }
        let verb = if self.dry_run { "would write" } else { "wrote" };
        s.push_str(&format!(
            "{verb} {} ({} format): {} -> {}",
            e(&self.output),
            self.format,
            human(self.bytes.before),
            human(self.bytes.after)
        ));
        if let Some(h) = &self.sha256 {
            s.push_str(&format!(", {h}"));
        }
        s.push('\n');
        s
    }
}

fn short(d: &str) -> &str {
    let hex = d.split_once(':').map_or(d, |(_, h)| h);
    &hex[..hex.len().min(12)]
}
