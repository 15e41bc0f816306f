//! Randomness: a CSPRNG seeded from the OS for secrets and noise, and deterministic expansion
//! of public 32-byte seeds into uniform polynomials (the `a` halves of ciphertexts and keys).
use super::error::{HeError, Result};
use super::params::Parameters;
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
pub(crate) fn expand_uniform(
    params: &Parameters,
    seed: &Seed,
    stream: u64,
    limbs: usize,
) -> Vec<u64> {
    let n = params.n;
    let mut rng = ChaCha8Rng::from_seed(*seed);
    rng.set_stream(stream);
    let mut out = Vec::with_capacity(limbs * n);
    let mut buf = [0u64; 64];
    for &q in &params.moduli[..limbs] {
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
                    out.push(v);
                    filled += 1;
                }
            }
        }
    }
    out
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

/// Uniform integer in [−bound, bound] (bound < 2^126), by rejection.
pub(crate) fn sample_wide<R: RngCore + ?Sized>(rng: &mut R, bound: u128) -> i128 {
    let range = 2 * bound + 1;
    let bits = 128 - range.leading_zeros();
    let mask = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    loop {
        let v = (((rng.next_u64() as u128) << 64) | rng.next_u64() as u128) & mask;
        if v < range {
            return v as i128 - bound as i128;
        }
    }
}

/// Writes a signed small polynomial (|v| < every q_i) into RNS limbs (coefficient form):
/// limb-major, `limbs` primes.
pub(crate) fn lift_signed(params: &Parameters, vals: &[i64], limbs: usize, out: &mut [u64]) {
    let n = params.n;
    for (k, &q) in params.moduli[..limbs].iter().enumerate() {
        for (o, &v) in out[k * n..(k + 1) * n].iter_mut().zip(vals) {
            debug_assert!(v.unsigned_abs() < q);
            // Branch-free: v mod q = v + q·[v < 0].
            *o = (v as u64).wrapping_add(q & ((v >> 63) as u64));
        }
    }
}

/// Writes a signed wide polynomial into RNS limbs (coefficient form).
pub(crate) fn lift_wide(params: &Parameters, vals: &[i128], limbs: usize, out: &mut [u64]) {
    let n = params.n;
    for (k, &q) in params.moduli[..limbs].iter().enumerate() {
        let q128 = q as i128;
        for (o, &v) in out[k * n..(k + 1) * n].iter_mut().zip(vals) {
            *o = v.rem_euclid(q128) as u64;
        }
    }
}

/// Forward NTT of every limb.
pub(crate) fn forward_limbs(params: &Parameters, data: &mut [u64], limbs: usize) {
    let n = params.n;
    for (k, plan) in params.plans[..limbs].iter().enumerate() {
        plan.forward(&mut data[k * n..(k + 1) * n]);
    }
}

/// Inverse NTT of every limb.
pub(crate) fn inverse_limbs(params: &Parameters, data: &mut [u64], limbs: usize) {
    let n = params.n;
    for (k, plan) in params.plans[..limbs].iter().enumerate() {
        plan.inverse(&mut data[k * n..(k + 1) * n]);
    }
}

/// a += b limb-wise (inputs in [0, q) → [0, q)). Branch-free with an arithmetic-shift mask,
/// which vectorises on baseline x86-64 (no unsigned 64-bit compare needed).
pub(crate) fn add_limbs(params: &Parameters, a: &mut [u64], b: &[u64], limbs: usize) {
    let n = params.n;
    for (k, &q) in params.moduli[..limbs].iter().enumerate() {
        for (x, &y) in a[k * n..(k + 1) * n].iter_mut().zip(&b[k * n..(k + 1) * n]) {
            let t = (*x + y).wrapping_sub(q);
            *x = t.wrapping_add(q & ((t as i64) >> 63) as u64);
        }
    }
}

/// a −= b limb-wise (inputs in [0, q) → [0, q)).
pub(crate) fn sub_limbs(params: &Parameters, a: &mut [u64], b: &[u64], limbs: usize) {
    let n = params.n;
    for (k, &q) in params.moduli[..limbs].iter().enumerate() {
        for (x, &y) in a[k * n..(k + 1) * n].iter_mut().zip(&b[k * n..(k + 1) * n]) {
            let t = x.wrapping_sub(y);
            *x = t.wrapping_add(q & ((t as i64) >> 63) as u64);
        }
    }
}
