//! Randomness: a CSPRNG seeded from the OS for secrets and noise, and deterministic expansion
//! of public 32-byte seeds into uniform polynomials (the `a` halves of ciphertexts and keys).
use super::error::{HeError, Result};
use super::params::Parameters;
use super::poly::{Poly, Representation};
use kernels::AlignedVec;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::{ChaCha20Rng, ChaCha8Rng};
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
/// ChaCha8 keystream, rejection sampling on ⌈log2 q⌉-bit words: exact uniformity.
pub(crate) fn expand_uniform(params: &Parameters, seed: &Seed, stream: u64, limbs: usize) -> Poly {
    let n = params.n;
    let mut rng = ChaCha8Rng::from_seed(*seed);
    rng.set_stream(stream);
    let mut out = AlignedVec::zeroed(limbs * n);
    let mut buf = [0u64; 64];
    for (limb, &q) in out.chunks_exact_mut(n).zip(&params.all_moduli[..limbs]) {
        let mask = u64::MAX >> q.leading_zeros();
        let mut filled = 0;
        while filled < n {
            let mut bytes = [0u8; 512];
            rng.fill_bytes(&mut bytes);
            for (w, c) in buf.iter_mut().zip(bytes.chunks_exact(8)) {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                *w = u64::from_le_bytes(a) & mask;
            }
            for &v in &buf {
                if v < q && filled < n {
                    limb[filled] = v;
                    filled += 1;
                }
            }
        }
    }
    Poly::from_limbs(n, out, Representation::Ntt)
}

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
