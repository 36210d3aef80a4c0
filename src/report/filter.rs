//! The report of the verbs that write archives (`filter`, `merge`): what each image kept and
//! dropped, where each platform came from (`merge`), bytes before and after, and the output's
//! sha256 — as text for stderr or JSON for stdout.

use super::safe::escape;
use super::size::human;
use crate::plan::ImageReport;
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
    /// `merge`: the input each kept platform manifest was taken from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<Origin>,
    /// `merge`: bytes not written twice because several inputs hold the same blob.
    #[serde(rename = "savedBytes", skip_serializing_if = "Option::is_none")]
    pub saved_bytes: Option<u64>,
    /// `delta`: the blobs left out because a base holds them.
    #[serde(rename = "leftOut", skip_serializing_if = "Option::is_none")]
    pub left_out: Option<BlobCount>,
    /// `apply`: the blobs copied in from the bases.
    #[serde(rename = "filledIn", skip_serializing_if = "Option::is_none")]
    pub filled_in: Option<BlobCount>,
}

/// A number of blobs and their bytes.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct BlobCount {
    pub blobs: u64,
    pub bytes: u64,
}

/// Where one platform of a merged image came from.
#[derive(Debug, Clone, Serialize)]
pub struct Origin {
    pub image: Option<String>,
    pub platform: String,
    pub digest: String,
    pub input: String,
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
            if let Some(n) = &i.renamed {
                s.push_str(&format!(" (renamed {})", e(n)));
            }
            match &i.new_digest {
                Some(n) if *n != i.digest => {
                    s.push_str(&format!(" ({} -> {})", short(&i.digest), short(n)))
                }
                _ => {}
            }
            s.push('\n');
        }
        for o in &self.origins {
            let image = o.image.as_deref().unwrap_or("<none>");
            s.push_str(&format!(
                "{} {} ({}) from {}\n",
                e(image),
                e(&o.platform),
                short(&o.digest),
                e(&o.input)
            ));
        }
        if let Some(saved) = self.saved_bytes {
            s.push_str(&format!(
                "blobs shared by several inputs stored once: {} saved\n",
                human(saved)
            ));
        }
        if let Some(c) = self.left_out {
            s.push_str(&format!(
                "left out {} blobs ({}) that the bases hold\n",
                c.blobs,
                human(c.bytes)
            ));
        }
        if let Some(c) = self.filled_in {
            s.push_str(&format!(
                "filled in {} blobs ({}) from the bases\n",
                c.blobs,
                human(c.bytes)
            ));
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
