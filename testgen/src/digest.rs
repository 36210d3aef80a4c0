//! SHA-256 names of generated blobs (`sha256:<hex>`, `blobs/sha256/<hex>`), computed here with
//! sha2 rather than with ocislim's own hasher.

use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::{self, Read};

/// The SHA-256 of a blob.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest(String);

impl Digest {
    pub fn of(data: &[u8]) -> Digest {
        Digest(hex::encode(Sha256::digest(data)))
    }

    /// The digest of everything `r` yields.
    pub fn of_reader(mut r: impl Read) -> Digest {
        let mut h = Sha256::new();
        let _ = io::copy(&mut r, &mut h);
        Digest(hex::encode(h.finalize()))
    }

    pub fn hex(&self) -> &str {
        &self.0
    }

    /// The member name of the blob in an OCI layout.
    pub fn blob_path(&self) -> String {
        format!("blobs/sha256/{}", self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}
