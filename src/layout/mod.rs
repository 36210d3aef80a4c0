//! Reading the formats: the JSON documents of the OCI image layout (`oci-layout`, `index.json`,
//! indexes and manifests), Docker's `manifest.json` and `repositories`, and image configs.
//! Parsing is lenient about fields we do not use and strict about the ones we do.

pub mod docker;
pub mod docs;
pub mod legacy;

pub use docs::{Descriptor, ManifestDoc, MediaKind};
