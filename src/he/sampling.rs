//! Randomness: a CSPRNG seeded from the OS for secrets and noise, and deterministic expansion
//! of public 32-byte seeds into uniform polynomials (the `a` halves of ciphertexts and keys).
use super::error::{HeError, Result};
use super::params::Parameters;
use super::poly::{Poly, Representation};
use kernels::aes::{Aes128, AesBackend};
use kernels::AlignedVec;
use kernels::Block;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zeroize::Zeroize;

/// A 32-byte seed from which a public uniform polynomial is expanded.
pub type Seed = [u8; 32];

/// The generator for secret material: ChaCha20 seeded from the operating system.
pub type SecretRng = ChaCha20Rng;

/// A fresh [`SecretRng`] seeded from the OS (getrandom).
pub fn secret_rng() -> Result<SecretRng> {
    ChaCha20Rng::try_from_os_rng().map_err(|e| HeError::Randomness(e.to_string()))
}

/// A fresh random seed.
pub fn fresh_seed<R: RngCore + ?Sized>(rng: &mut R) -> Seed {
    let mut s = [0u8; 32];
    rng.fill_bytes(&mut s);
    s
}

/// Expands `seed` (domain-separated by `stream`) into a polynomial uniform modulo each of the
/// first `limbs` primes, directly in NTT form (a uniform vector is uniform in either domain).
/// AES-128 in counter mode keyed by the seed's first 16 bytes, the counter starting at its
/// last 16 bytes (little-endian) plus `stream`·2^64 (so streams never share a counter), on the
/// AES of the parameters' kernel backend (`kernels::aes`: VAES or AES-NI where the CPU has
/// them, the portable code under the scalar backend; the same output on every one); rejection
/// sampling on ⌈log2 q⌉-bit words: exact uniformity. The seed travels in place of the public
/// polynomial, so the generator needs no secrecy, only to be indistinguishable from uniform.
pub(crate) fn expand_uniform(params: &Parameters, seed: &Seed, stream: u64, limbs: usize) -> Poly {
    let n = params.n;
    let mut key = [0u8; 16];
    key.copy_from_slice(&seed[..16]);
    let mut start = [0u8; 16];
    start.copy_from_slice(&seed[16..]);
    let aes_backend = AesBackend::for_backend(params.plans[0].backend());
    let aes = Aes128::with_backend(Block::new(key), aes_backend)
        .expect("for_backend names an AES backend this CPU runs");
    let mut counter = u128::from_le_bytes(start).wrapping_add((stream as u128) << 64);
    let mut out = AlignedVec::zeroed(limbs * n);
    let mut blocks = [Block::ZERO; EXPAND_BLOCKS];
    for (limb, &q) in out.chunks_exact_mut(n).zip(&params.all_moduli[..limbs]) {
        let mask = u64::MAX >> q.leading_zeros();
        let mut filled = 0;
        while filled < n {
            counter = aes.ctr_many(counter, &mut blocks);
            for b in &blocks {
                let v = b.to_u128();
                for w in [v as u64, (v >> 64) as u64] {
                    let w = w & mask;
                    if w < q && filled < n {
                        limb[filled] = w;
                        filled += 1;
                    }
                }
            }
        }
    }
    Poly::from_limbs(n, out, Representation::Ntt)
}

/// AES blocks per keystream refill of [`expand_uniform`] (1 KiB: enough in flight for the
/// hardware AES kernels).
const EXPAND_BLOCKS: usize = 64;

/// Centered binomial noise with k = 21: (popcount of 21 bits) − (popcount of 21 bits).
/// Values in [−21, 21], variance 10.5. Constant time per sample.
pub(crate) fn sample_cbd<R: RngCore + ?Sized>(rng: &mut R, n: usize) -> Vec<i64> {
    const MASK: u64 = (1 << 21) - 1;
    let mut bytes = vec![0u8; 8 * n];
    rng.fill_bytes(&mut bytes);
    let out = bytes
        .chunks_exact(8)
        .map(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            let r = u64::from_le_bytes(a);
            (r & MASK).count_ones() as i64 - ((r >> 21) & MASK).count_ones() as i64
        })
        .collect();
    bytes.zeroize();
    out
}

/// Uniform ternary polynomial in {−1, 0, 1}^n (rejection of the byte value 255 keeps it
/// exactly uniform).
pub(crate) fn sample_ternary<R: RngCore + ?Sized>(rng: &mut R, n: usize) -> Vec<i8> {
    let mut out = Vec::with_capacity(n);
    let mut bytes = [0u8; 64];
    while out.len() < n {
        rng.fill_bytes(&mut bytes);
        for &b in &bytes {
            if b < 255 && out.len() < n {
                out.push((b % 3) as i8 - 1);
            }
        }
    }
    bytes.zeroize();
    out
}

/// Uniform in [0, range) (range ≥ 1) by rejection on ⌈log2 range⌉-bit words: exact.
pub(crate) fn sample_below<R: RngCore + ?Sized>(rng: &mut R, range: u128) -> u128 {
    debug_assert!(range >= 1);
    let bits = 128 - (range - 1).leading_zeros();
    let mask = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    loop {
        let v = (((rng.next_u64() as u128) << 64) | rng.next_u64() as u128) & mask;
        if v < range {
            return v;
        }
    }
}

/// Uniform integer in [−bound, bound] (bound < 2^126), by rejection.
pub(crate) fn sample_wide<R: RngCore + ?Sized>(rng: &mut R, bound: u128) -> i128 {
    sample_below(rng, 2 * bound + 1) as i128 - bound as i128
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::he::params::ParamSetId;

    /// The expansion is AES-128-CTR as documented (a known-answer check of the first words
    /// against FIPS-197's key schedule run by the portable AES), below each prime, separated by
    /// stream, and roughly uniform (the mean of v/q over 3 × 8192 values within 0.01 of 1/2).
    #[test]
    fn expand_uniform_is_aes_ctr_below_q() {
        let params = ParamSetId::default().params().unwrap();
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = (i * 7 + 1) as u8;
        }
        let limbs = params.max_level();
        let a = expand_uniform(&params, &seed, 5, limbs);
        let portable = Aes128::with_backend(
            Block::new(seed[..16].try_into().unwrap()),
            AesBackend::Portable,
        )
        .unwrap();
        let start = u128::from_le_bytes(seed[16..].try_into().unwrap()) + (5u128 << 64);
        let q0 = params.all_moduli[0];
        let mask = u64::MAX >> q0.leading_zeros();
        let mut expect = Vec::new();
        let mut c = start;
        while expect.len() < 16 {
            let v = portable.encrypt_block(Block::from_u128(c)).to_u128();
            c += 1;
            for w in [v as u64 & mask, (v >> 64) as u64 & mask] {
                if w < q0 {
                    expect.push(w);
                }
            }
        }
        assert_eq!(&a.limb(0)[..16], &expect[..16]);
        let mut mean = 0.0;
        for (k, &q) in params.all_moduli[..limbs].iter().enumerate() {
            assert!(a.limb(k).iter().all(|&v| v < q));
            mean += a.limb(k).iter().map(|&v| v as f64 / q as f64).sum::<f64>();
        }
        mean /= (limbs * params.n) as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let b = expand_uniform(&params, &seed, 6, limbs);
        assert_ne!(a.limb(0)[..64], b.limb(0)[..64]);
        assert_eq!(a.limb(2), expand_uniform(&params, &seed, 5, limbs).limb(2));
    }
}
