//! Noise: measurement with the secret key, and worst-case bounds per operation.
//!
//! All bounds are on the ∞-norm of the invariant noise v (c0 + c1·s = (q/p)·m + v mod q) and
//! are worst cases, not heuristics: the error distribution is bounded (|e| ≤ 21), the secret
//! ternary, and ‖a·b‖∞ ≤ ‖a‖1·‖b‖∞ for negacyclic products.
//!
//! | operation | bound on the result |
//! |---|---|
//! | fresh encryption | 21 + 1/2 (error + rounding of q·m/p) |
//! | ct + ct, ct − ct | v1 + v2 |
//! | ct ± pt | v + 1/2 |
//! | ct × pt | v · ‖pt‖1 (pt's centered coefficients; ≤ n·(p−1)/2) |
//! | rotation / row swap | v + Σ_digits n·(2^w − 1)·21 |
//! | … with a special prime P | v + Σ_{i<ℓ} n·(q_i − 1)·21 / P + (1 + n)/2 |
//! | modulus switch q → q' | v·q'/q + (1 + n)/2 |
//! | re-randomisation + flooding (B) | v + 2·n·21 + B |
use super::encoding::PreparedPlaintext;
use super::params::{Parameters, ERROR_BOUND};

/// A measured noise level (with the secret key).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseMeasurement {
    /// max |v| over the coefficients.
    pub max_abs: u128,
    /// The decryption bound at this level.
    pub limit: f64,
}

impl NoiseMeasurement {
    pub(crate) fn new(max_abs: u128, limit: f64) -> Self {
        NoiseMeasurement { max_abs, limit }
    }
    /// log2 of the measured noise (0 for zero noise).
    pub fn bits(&self) -> f64 {
        (self.max_abs.max(1) as f64).log2()
    }
    /// Remaining budget in bits: log2(limit) − log2(|v|).
    pub fn budget_bits(&self) -> f64 {
        self.limit.log2() - self.bits()
    }
}

/// A worst-case bound on the invariant noise ‖v‖∞, tracked along a computation.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct NoiseBound(pub f64);

impl NoiseBound {
    /// A fresh encryption.
    pub fn fresh() -> NoiseBound {
        NoiseBound(ERROR_BOUND as f64 + 0.5)
    }
    /// A transparent (noise-free) ciphertext, e.g. an accumulator.
    pub fn zero() -> NoiseBound {
        NoiseBound(0.0)
    }
    /// Sum or difference of two ciphertexts.
    pub fn add_ct(self, other: NoiseBound) -> NoiseBound {
        NoiseBound(self.0 + other.0)
    }
    /// Adding or subtracting a plaintext.
    pub fn add_plain(self) -> NoiseBound {
        NoiseBound(self.0 + 0.5)
    }
    /// Multiplying by a prepared plaintext.
    pub fn mul_plain(self, pt: &PreparedPlaintext) -> NoiseBound {
        NoiseBound(self.0 * pt.l1_norm())
    }
    /// Multiplying by any plaintext of this parameter set (‖pt‖1 ≤ n·(p−1)/2).
    pub fn mul_any_plain(self, params: &Parameters) -> NoiseBound {
        NoiseBound(self.0 * params.n as f64 * ((params.p - 1) / 2) as f64)
    }
    /// A rotation or row swap at `limbs` primes.
    pub fn rotate(self, params: &Parameters, limbs: usize) -> NoiseBound {
        NoiseBound(self.0 + key_switch_bound(params, limbs))
    }
    /// The modulus switch from `limbs` to `limbs − 1` primes (an impossible switch gives an
    /// infinite bound).
    pub fn mod_switch(self, params: &Parameters, limbs: usize) -> NoiseBound {
        if limbs < 2 || limbs > params.moduli.len() {
            return NoiseBound(f64::INFINITY);
        }
        let q_last = params.moduli[limbs - 1] as f64;
        NoiseBound(self.0 / q_last + (1.0 + params.n as f64) / 2.0)
    }
    /// Re-randomisation with the public key plus flooding noise uniform in [−flood, flood].
    pub fn rerandomize(self, params: &Parameters, flood: f64) -> NoiseBound {
        NoiseBound(self.0 + rerandomize_bound(params) + flood)
    }
    /// The bound.
    pub fn value(self) -> f64 {
        self.0
    }
    /// log2 of the bound.
    pub fn bits(self) -> f64 {
        self.0.max(1.0).log2()
    }
    /// Whether a ciphertext with this noise decrypts correctly at `limbs` primes.
    pub fn decrypts(self, params: &Parameters, limbs: usize) -> bool {
        self.0 < params.decryption_bound(limbs)
    }
}

/// Worst-case additive noise of one key switch at `limbs` primes.
///
/// With a special prime P: the digits d_i = [c1]_{q_i} have |d_i| < q_i and meet errors
/// |e| ≤ 21 in negacyclic products (‖d·e‖∞ ≤ n·(q_i − 1)·21); ModDown divides that sum by P
/// and adds (1 + ‖s‖1)/2 ≤ (1 + n)/2 of rounding.
pub fn key_switch_bound(params: &Parameters, limbs: usize) -> f64 {
    let n = params.n as f64;
    if let Some(sp) = params.special {
        let sum: f64 = params.moduli[..limbs.min(params.moduli.len())]
            .iter()
            .map(|&q| n * (q - 1) as f64 * ERROR_BOUND as f64)
            .sum();
        return sum / sp as f64 + (1.0 + n) / 2.0;
    }
    params
        .digits
        .iter()
        .filter(|&&(i, _)| i < limbs)
        .map(|&(i, off)| {
            let top = 64 - params.moduli[i].leading_zeros();
            let width = params.decomp_bits.min(top - off);
            n * ((1u64 << width) - 1) as f64 * ERROR_BOUND as f64
        })
        .sum()
}

/// Worst-case noise added by public-key re-randomisation (u·e_pk + e2·s), flooding excluded.
pub fn rerandomize_bound(params: &Parameters) -> f64 {
    2.0 * params.n as f64 * ERROR_BOUND as f64
}
