//! Randomness of the OT layer: an AES-128-CTR generator, used both as the PRG that expands
//! OT-extension seeds and (keyed from the operating system) as the CSPRNG of every party.
//!
//! Output block `i` of the generator with seed `s` is `AES_s(i)` (the counter as a
//! little-endian 128-bit integer): a PRG under the PRP assumption on AES-128.
use kernels::{Aes128, Block};
use zeroize::Zeroize;

use super::{OtError, Result};

/// AES-128 in counter mode under a secret seed. Not `Clone`: a copy would repeat the stream.
pub struct AesCtrPrg {
    aes: Aes128,
    counter: u128,
}

impl std::fmt::Debug for AesCtrPrg {
    /// Never shows the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AesCtrPrg").finish_non_exhaustive()
    }
}

impl AesCtrPrg {
    /// The generator keyed by `seed`, counter at 0.
    pub fn new(seed: Block) -> Result<AesCtrPrg> {
        let mut seed = seed;
        let aes = Aes128::new(seed);
        seed.as_bytes_mut().zeroize();
        Ok(AesCtrPrg {
            aes: aes.map_err(OtError::Kernel)?,
            counter: 0,
        })
    }

    /// Fills `out` with the next `out.len()` output blocks.
    #[inline]
    pub fn fill_blocks(&mut self, out: &mut [Block]) {
        let mut c = self.counter;
        for b in out.iter_mut() {
            *b = Block::from_u128(c);
            c = c.wrapping_add(1);
        }
        self.counter = c;
        self.aes.encrypt_many(out);
    }

    /// The next output block.
    pub fn next_block(&mut self) -> Block {
        let mut b = [Block::ZERO];
        self.fill_blocks(&mut b);
        b[0]
    }

    /// Fills `out` with output bytes (whole blocks are consumed; a partial last block's
    /// remainder is discarded).
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        let mut buf = [Block::ZERO; 16];
        for chunk in out.chunks_mut(16 * 16) {
            let nb = chunk.len().div_ceil(16);
            self.fill_blocks(&mut buf[..nb]);
            for (dst, src) in chunk.chunks_mut(16).zip(buf.iter()) {
                dst.copy_from_slice(&src.as_bytes()[..dst.len()]);
            }
        }
        for b in buf.iter_mut() {
            b.as_bytes_mut().zeroize();
        }
    }
}

/// The cryptographically secure generator of a party: [`AesCtrPrg`] keyed from the operating
/// system ([`OtRng::from_entropy`]), or from a fixed seed in tests ([`OtRng::from_seed`]).
#[derive(Debug)]
pub struct OtRng {
    prg: AesCtrPrg,
}

impl OtRng {
    /// Keyed with 16 bytes from the operating system's generator.
    pub fn from_entropy() -> Result<OtRng> {
        let mut key = [0u8; 16];
        getrandom::fill(&mut key).map_err(|e| OtError::Entropy(e.to_string()))?;
        let rng = OtRng::from_seed(Block::new(key));
        key.zeroize();
        rng
    }

    /// Deterministic generator from `seed` (tests and reproducible benchmarks only).
    pub fn from_seed(seed: Block) -> Result<OtRng> {
        Ok(OtRng {
            prg: AesCtrPrg::new(seed)?,
        })
    }

    /// A uniformly random block.
    pub fn block(&mut self) -> Block {
        self.prg.next_block()
    }

    /// Fills `out` with random blocks.
    pub fn fill_blocks(&mut self, out: &mut [Block]) {
        self.prg.fill_blocks(out);
    }

    /// Fills `out` with random bytes.
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        self.prg.fill_bytes(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctr_prg_is_aes_of_counter_and_streams_consistently() {
        let seed = Block::from_u128(0x1234);
        let aes = Aes128::new(seed).unwrap();
        let mut prg = AesCtrPrg::new(seed).unwrap();
        let mut a = vec![Block::ZERO; 37];
        prg.fill_blocks(&mut a[..5]);
        prg.fill_blocks(&mut a[5..]);
        for (i, b) in a.iter().enumerate() {
            assert_eq!(*b, aes.encrypt_block(Block::from_u128(i as u128)));
        }
        let mut p2 = AesCtrPrg::new(seed).unwrap();
        let mut bytes = [0u8; 21];
        p2.fill_bytes(&mut bytes);
        assert_eq!(&bytes[..16], a[0].as_bytes());
        assert_eq!(&bytes[16..], &a[1].as_bytes()[..5]);
    }

    #[test]
    fn entropy_rngs_differ() {
        let mut a = OtRng::from_entropy().unwrap();
        let mut b = OtRng::from_entropy().unwrap();
        assert_ne!(a.block(), b.block());
    }
}
