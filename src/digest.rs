//! Content digests: parsing and validating `algorithm:hex` strings (sha256 and sha512 only, so a
//! digest can never smuggle `/` or `..` into a blob path) and hashing bytes incrementally.

use sha2::{Digest as _, Sha256, Sha512};
use std::fmt;

pub mod check;
#[cfg(target_arch = "x86_64")]
pub mod sha256x2;

/// A supported digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The name used in digests and blob paths.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The algorithm a digest or blob path names (`sha256`, `sha512`).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated content digest such as `sha256:e3b0…`, held as its hash bytes: a SHA-256 digest
/// needs no allocation, and an archive of 100,000 blobs holds several hundred thousand digests.
/// Ordered as its `algorithm:hex` string (algorithm first; lowercase hex sorts as its bytes).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Digest {
    Sha256([u8; 32]),
    Sha512(Box<[u8; 64]>),
}

impl Digest {
    /// Parse and validate `algorithm:hex`. The error says what is wrong, without the input.
    pub fn parse(s: &str) -> Result<Digest, String> {
        let (algo, hex) = s
            .split_once(':')
            .ok_or_else(|| format!("malformed digest {s:?}: no algorithm"))?;
        let algorithm = Algorithm::from_name(algo)
            .ok_or_else(|| format!("unsupported digest algorithm in {s:?}"))?;
        Digest::from_hex(algorithm, hex).ok_or_else(|| format!("malformed digest {s:?}"))
    }

    /// The digest whose hash is `hex`: lowercase, exactly as long as `algorithm`'s; else None.
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Option<Digest> {
        if hex.len() != algorithm.hex_len() {
            return None;
        }
        // Without a branch per digit (an early return on each cost a tenth of `ls` of 1,500
        // images): any byte that is not a digit sets `NOT_HEX` in `seen`, checked once.
        let mut bytes = [0u8; 64];
        let mut seen = 0u8;
        for (out, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            let (high, low) = (NIBBLES[usize::from(pair[0])], NIBBLES[usize::from(pair[1])]);
            seen |= high | low;
            *out = ((high & 0xf) << 4) | (low & 0xf);
        }
        if seen & NOT_HEX != 0 {
            return None;
        }
        Some(Digest::from_bytes(algorithm, &bytes[..hex.len() / 2]))
    }

    /// Build from an algorithm and raw hash bytes (32 for SHA-256, 64 for SHA-512; shorter
    /// input is zero-filled, longer cut).
    pub fn from_bytes(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        fn fill<const N: usize>(bytes: &[u8]) -> [u8; N] {
            let mut out = [0u8; N];
            let n = bytes.len().min(N);
            out[..n].copy_from_slice(&bytes[..n]);
            out
        }
        match algorithm {
            Algorithm::Sha256 => Digest::Sha256(fill(bytes)),
            Algorithm::Sha512 => Digest::Sha512(Box::new(fill(bytes))),
        }
    }

    /// The sha256 digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Digest {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(data);
        h.finish()
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Digest::Sha256(_) => Algorithm::Sha256,
            Digest::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// The hash bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Digest::Sha256(b) => b,
            Digest::Sha512(b) => &b[..],
        }
    }

    /// The hash in lowercase hex.
    pub fn hex(&self) -> String {
        hex::encode(self.bytes())
    }

    /// `blobs/<algorithm>/<hex>`, the member name of this blob in an OCI layout.
    pub fn blob_path(&self) -> String {
        format!("blobs/{}/{}", self.algorithm().name(), self.hex())
    }

    /// The first 12 hex characters, as Docker prints short IDs.
    pub fn short(&self) -> String {
        hex::encode(&self.bytes()[..6])
    }
}

/// The mark in [`NIBBLES`] of a byte that is not a lowercase hex digit.
const NOT_HEX: u8 = 0x10;

/// The value of every byte as a lowercase hex digit, or [`NOT_HEX`].
const NIBBLES: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 16 {
        let digit = if i < 10 { b'0' + i } else { b'a' + i - 10 };
        table[digit as usize] = i;
        i += 1;
    }
    table
};

/// The derived order, decided on the first 8 bytes where it can: tree maps of 100,000 digests
/// compare them all the time, and a call to `memcmp` for each cost a tenth of `ls`.
impl Ord for Digest {
    fn cmp(&self, other: &Digest) -> std::cmp::Ordering {
        let lead = |d: &Digest| d.bytes().first_chunk::<8>().map(|b| u64::from_be_bytes(*b));
        (self.algorithm().cmp(&other.algorithm()))
            .then_with(|| lead(self).cmp(&lead(other)))
            .then_with(|| self.bytes().cmp(other.bytes()))
    }
}

impl PartialOrd for Digest {
    fn partial_cmp(&self, other: &Digest) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm().name(), self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An incremental hasher for either algorithm. SHA-256 runs on [`sha256x2::Lane`] where the
/// CPU has the SHA extensions, so that two hashers can advance together on one core
/// ([`Hasher::update_pair`]); elsewhere on `sha2`.
#[derive(Clone)]
pub struct Hasher(Inner);

#[derive(Clone)]
enum Inner {
    #[cfg(target_arch = "x86_64")]
    Lane(sha256x2::Lane),
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Hasher {
        Hasher(match algorithm {
            #[cfg(target_arch = "x86_64")]
            Algorithm::Sha256 => match sha256x2::Lane::new() {
                Some(lane) => Inner::Lane(lane),
                None => Inner::Sha256(Sha256::new()),
            },
            #[cfg(not(target_arch = "x86_64"))]
            Algorithm::Sha256 => Inner::Sha256(Sha256::new()),
            Algorithm::Sha512 => Inner::Sha512(Sha512::new()),
        })
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            #[cfg(target_arch = "x86_64")]
            Inner::Lane(h) => h.update(data),
            Inner::Sha256(h) => h.update(data),
            Inner::Sha512(h) => h.update(data),
        }
    }

    /// `a.update(da)` and `b.update(db)`, at once on this core where both can (1.5× the bytes
    /// per second of one after the other).
    pub fn update_pair(a: &mut Hasher, da: &[u8], b: &mut Hasher, db: &[u8]) {
        match (&mut a.0, &mut b.0) {
            #[cfg(target_arch = "x86_64")]
            (Inner::Lane(x), Inner::Lane(y)) => sha256x2::update2(x, da, y, db),
            _ => {
                a.update(da);
                b.update(db);
            }
        }
    }

    pub fn finish(self) -> Digest {
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            Inner::Lane(h) => Digest::from_bytes(Algorithm::Sha256, &h.finish()),
            Inner::Sha256(h) => Digest::from_bytes(Algorithm::Sha256, &h.finalize()),
            Inner::Sha512(h) => Digest::from_bytes(Algorithm::Sha512, &h.finalize()),
        }
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let e = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let d = Digest::parse(e).unwrap();
        assert_eq!(d.to_string(), e);
        assert_eq!(d.short(), "e3b0c44298fc");
        assert_eq!(Digest::sha256_of(b""), d);
        assert_eq!(d.blob_path(), format!("blobs/sha256/{}", &e[7..]));
        for bad in [
            "",
            "sha256",
            "sha256:",
            "md5:abc",
            "sha256:../../etc/passwd",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
        let s512 = format!("sha512:{}", "ab".repeat(64));
        assert_eq!(Digest::parse(&s512).unwrap().algorithm(), Algorithm::Sha512);
    }

    /// Every ASCII byte, at the first and the last place, parses exactly when it is a lowercase
    /// hex digit, to its value; so does a two-byte character in two places.
    #[test]
    fn only_lowercase_hex_digits_parse() {
        for b in 0u8..128 {
            let value = char::from(b)
                .to_digit(16)
                .filter(|_| !b.is_ascii_uppercase());
            for at in [0, 63] {
                let mut hex = vec![b'0'; 64];
                hex[at] = b;
                let hex = String::from_utf8(hex).unwrap();
                let d = Digest::from_hex(Algorithm::Sha256, &hex);
                let byte = d.map(|d| d.bytes()[at / 2]);
                let want = value.map(|v| if at == 0 { (v as u8) << 4 } else { v as u8 });
                assert_eq!(byte, want, "byte {b} at {at}");
            }
        }
        let hex = format!("é{}", "0".repeat(62));
        assert_eq!(Digest::from_hex(Algorithm::Sha256, &hex), None);
    }

    /// Digests sort as their strings, whichever byte first differs.
    #[test]
    fn ordered_as_strings() {
        let hex = |lead: &str, n: usize| format!("{lead}{}", "0".repeat(n - lead.len()));
        let mut strings: Vec<String> = ["", "f", "0000000000000001", "00000000000000001", "ff"]
            .iter()
            .flat_map(|l| {
                [
                    format!("sha256:{}", hex(l, 64)),
                    format!("sha512:{}", hex(l, 128)),
                ]
            })
            .chain([format!("sha256:{}1", "0".repeat(63))])
            .collect();
        let mut digests: Vec<Digest> = strings.iter().map(|s| Digest::parse(s).unwrap()).collect();
        strings.sort();
        digests.sort();
        let shown: Vec<String> = digests.iter().map(Digest::to_string).collect();
        assert_eq!(shown, strings);
    }
}
