//! Deterministic pseudo-random bytes (xorshift64*): layer contents of generated archives and
//! the incompressible or junk input tests and benches need.

use std::io::{self, Read};

/// `len` bytes derived from `seed` (same seed → same bytes), cheap enough for multi-GB
/// benchmarks.
pub struct Noise {
    state: u64,
    left: u64,
}

impl Noise {
    pub fn new(seed: u64, len: u64) -> Noise {
        Noise {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            left: len,
        }
    }
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for chunk in buf[..n].chunks_mut(8) {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            let v = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The `len` bytes of `Noise::new(seed, len)` in memory.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    let mut n = Noise::new(seed, len as u64);
    // Reading from memory into memory cannot fail.
    let _ = n.read_exact(&mut v);
    v
}
