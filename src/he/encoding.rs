//! Plaintexts: SIMD slot encoding (an NTT mod p), coefficient encoding, and the prepared
//! (NTT-form, Shoup-precomputed) multiplicands of ct×pt products.
//!
//! Slots are arranged as 2 rows of n/2. Slot j of row 0 is the evaluation of the message
//! polynomial at ψ^(3^j), slot j of row 1 at ψ^(−3^j) (ψ a primitive 2n-th root of unity
//! mod p), so the automorphism X → X^(3^r) rotates both rows left by r and X → X^(2n−1)
//! swaps the rows.
use super::error::{HeError, Result};
use super::params::Parameters;
use super::poly::{Poly, Representation};
use std::sync::Arc;

/// A message polynomial modulo p in coefficient form (n coefficients in [0, p)).
#[derive(Clone, PartialEq, Eq)]
pub struct Plaintext {
    pub(crate) params: Arc<Parameters>,
    pub(crate) coeffs: Vec<u64>,
}

impl std::fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plaintext")
            .field("params", &self.params.name())
            .finish_non_exhaustive()
    }
}

fn check_values(params: &Parameters, values: &[u64]) -> Result<()> {
    if values.len() > params.n {
        return Err(HeError::InvalidLength {
            expected: params.n,
            found: values.len(),
        });
    }
    if let Some(&v) = values.iter().find(|&&v| v >= params.p) {
        return Err(HeError::ValueOutOfRange {
            value: v,
            p: params.p,
        });
    }
    Ok(())
}

impl Plaintext {
    /// Encodes up to n values mod p into the slots (row 0 = values[..n/2], row 1 = the rest;
    /// missing values are 0).
    pub fn encode_slots(params: &Arc<Parameters>, values: &[u64]) -> Result<Plaintext> {
        check_values(params, values)?;
        let n = params.n;
        let mut y = vec![0u32; n];
        for (&v, &idx) in values.iter().zip(&params.slot_to_ntt) {
            y[idx] = v as u32;
        }
        params.plan_p.inverse(&mut y);
        Ok(Plaintext {
            params: params.clone(),
            coeffs: y.into_iter().map(u64::from).collect(),
        })
    }

    /// Encodes signed values (reduced mod p) into the slots.
    pub fn encode_slots_signed(params: &Arc<Parameters>, values: &[i64]) -> Result<Plaintext> {
        let p = params.p as i64;
        let reduced: Vec<u64> = values.iter().map(|&v| v.rem_euclid(p) as u64).collect();
        Self::encode_slots(params, &reduced)
    }

    /// Encodes up to n values mod p as the polynomial's coefficients.
    pub fn encode_coeffs(params: &Arc<Parameters>, coeffs: &[u64]) -> Result<Plaintext> {
        check_values(params, coeffs)?;
        let mut c = coeffs.to_vec();
        c.resize(params.n, 0);
        Ok(Plaintext {
            params: params.clone(),
            coeffs: c,
        })
    }

    /// The n slot values.
    pub fn decode_slots(&self) -> Vec<u64> {
        let mut y: Vec<u32> = self.coeffs.iter().map(|&c| c as u32).collect();
        self.params.plan_p.forward(&mut y);
        self.params
            .slot_to_ntt
            .iter()
            .map(|&idx| y[idx] as u64)
            .collect()
    }

    /// The n coefficients in [0, p).
    pub fn coeffs(&self) -> &[u64] {
        &self.coeffs
    }

    /// The parameter set.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }

    /// round(Q·m/p) mod q_k for every coefficient: the scaled message, in coefficient form.
    pub(crate) fn scaled(&self, limbs: usize) -> Result<Poly> {
        self.scaled_plus(limbs, None)
    }

    /// round(Q·m/p) + e mod q_k (e small, |e| < q_k), in coefficient form.
    pub(crate) fn scaled_plus(&self, limbs: usize, error: Option<&[i64]>) -> Result<Poly> {
        let params = &self.params;
        let lvl = params.level_ctx(limbs)?;
        let p = params.p;
        // Q·c/p = Δ·c + r_t·c/p: round the fraction once per coefficient (r_t·c < 2^60),
        // dividing by p with a Barrett quotient ⌊N·⌊2^64/p⌋/2^64⌋ ∈ {⌊N/p⌋ − 1, ⌊N/p⌋}.
        let mu = u64::MAX / p;
        let extra: Vec<u64> = self
            .coeffs
            .iter()
            .map(|&c| {
                let num = lvl.r_t * c + p / 2;
                let mut quo = ((num as u128 * mu as u128) >> 64) as u64;
                if num - quo * p >= p {
                    quo += 1;
                }
                quo
            })
            .collect();
        let mut out = Poly::zero(params, limbs, Representation::Coefficient);
        for (k, (limb, m)) in out.limbs_mut().zip(&params.plans).enumerate() {
            let md = m.modulus();
            let dk = lvl.delta_mod[k];
            let dks = md.shoup(dk);
            let qk = md.value();
            for ((o, &c), &x) in limb.iter_mut().zip(&self.coeffs).zip(&extra) {
                // x < p < q_k, so one conditional subtraction reduces the sum.
                let v = md.mul_shoup(c, dk, dks) + x;
                *o = if v >= qk { v - qk } else { v };
            }
            if let Some(e) = error {
                for (o, &v) in limb.iter_mut().zip(e) {
                    // o + (v mod q_k), reduced: v + q·[v < 0] ∈ [0, 2q_k) only when v < 0.
                    let t = o
                        .wrapping_add(v as u64)
                        .wrapping_add(qk & ((v >> 63) as u64));
                    *o = if t >= qk { t - qk } else { t };
                }
            }
        }
        Ok(out)
    }
}

/// A plaintext multiplicand transformed once: its centered coefficients lifted to every prime
/// and put in NTT form, plus its ℓ1 norm for the noise bound. Where every prime is below
/// 2^50 (the default sets) it is *compact*: the NTT values alone, multiplied with
/// `NttPlan64::mul_compact_pair`; otherwise the values with their Shoup constants (twice the
/// memory).
#[derive(Clone)]
pub struct PreparedPlaintext {
    pub(crate) params: Arc<Parameters>,
    /// The centered coefficients on every prime in NTT form: compact (representation `Ntt`)
    /// or with Shoup constants (`Prepared`).
    pub(crate) poly: Poly,
    pub(crate) l1_norm: f64,
}

impl std::fmt::Debug for PreparedPlaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedPlaintext")
            .field("params", &self.params.name())
            .field("l1_norm", &self.l1_norm)
            .finish_non_exhaustive()
    }
}

impl PreparedPlaintext {
    /// Prepares `pt` for ct×pt products at every level.
    pub fn new(pt: &Plaintext) -> PreparedPlaintext {
        let params = &pt.params;
        let p = params.p;
        let centered: Vec<i64> = pt
            .coeffs
            .iter()
            .map(|&c| {
                if c > p / 2 {
                    c as i64 - p as i64
                } else {
                    c as i64
                }
            })
            .collect();
        let l1_norm = centered.iter().map(|&c| c.unsigned_abs() as f64).sum();
        let mut poly = Poly::lift_signed(params, &centered, params.max_level());
        poly.forward(params);
        let compact = params.plans[..params.max_level()]
            .iter()
            .all(|p| p.has_compact());
        PreparedPlaintext {
            params: params.clone(),
            poly: if compact { poly } else { poly.prepare(params) },
            l1_norm,
        }
    }

    /// out_i (+)= a_i ⊙ self on limb k (NTT form, both halves of a ciphertext at once).
    pub(crate) fn mul_pair_limb(&self, k: usize, out: [&mut [u64]; 2], a: [&[u64]; 2], acc: bool) {
        let plan = &self.params.plans[k];
        if self.poly.representation() == Representation::Prepared {
            plan.mul_prepared_pair(out, a, self.poly.prepared_limb(k), acc);
        } else {
            plan.mul_compact_pair(out, a, self.poly.limb(k), acc);
        }
    }

    /// Whether the values are stored alone (every prime has compact products), for
    /// [`crate::he::ProductSum`].
    pub fn is_compact(&self) -> bool {
        self.poly.representation() == Representation::Ntt
    }

    /// Bytes of memory the prepared values take (compact: 8 per coefficient and prime).
    pub fn memory_bytes(&self) -> usize {
        let words = self.poly.num_limbs() * self.poly.n();
        if self.poly.representation() == Representation::Prepared {
            16 * words
        } else {
            8 * words
        }
    }

    /// ℓ1 norm of the centered coefficients (the factor by which ct×pt can grow the noise).
    pub fn l1_norm(&self) -> f64 {
        self.l1_norm
    }
}
