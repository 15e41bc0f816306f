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
/// `NttPlan64::mul_compact_pair`, and *packed* at 50 bits per value where the backend reads
/// packed values with vector permutes (avx512 with AVX-512BW: 22 % less memory and memory
/// traffic; `GAZELLE_PACKED_WEIGHTS=0` turns it off); otherwise the values with their Shoup
/// constants (twice the memory).
#[derive(Clone)]
pub struct PreparedPlaintext {
    pub(crate) params: Arc<Parameters>,
    /// The centered coefficients on every prime in NTT form: compact (representation `Ntt`)
    /// or with Shoup constants (`Prepared`); empty (no limb) when packed.
    pub(crate) poly: Poly,
    /// Per prime, the compact values packed ([`kernels::ntt::pack`]); empty when not packed.
    pub(crate) packed: Vec<Box<[u8]>>,
    pub(crate) l1_norm: f64,
}

/// One prime's values of a compact [`PreparedPlaintext`].
pub(crate) enum CompactLimb<'a> {
    /// 64-bit words.
    Words(&'a [u64]),
    /// Packed at 50 bits ([`kernels::ntt::pack`]).
    Packed(&'a [u8]),
}

/// Whether compact multiplicands are packed where the kernels allow (`GAZELLE_PACKED_WEIGHTS`:
/// `0` turns packing off, for comparisons; read once).
fn packing_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("GAZELLE_PACKED_WEIGHTS").map_or(true, |v| v.trim() != "0"))
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
    /// Prepares `pt` for ct×pt products at every level (packed where the kernels allow).
    pub fn new(pt: &Plaintext) -> PreparedPlaintext {
        PreparedPlaintext::new_with(pt, packing_enabled())
    }

    /// [`PreparedPlaintext::new`] never packed (for comparisons: the same products).
    pub fn new_unpacked(pt: &Plaintext) -> PreparedPlaintext {
        PreparedPlaintext::new_with(pt, false)
    }

    fn new_with(pt: &Plaintext, pack: bool) -> PreparedPlaintext {
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
        let levels = params.max_level();
        let mut poly = Poly::lift_signed(params, &centered, levels);
        poly.forward(params);
        let plans = &params.plans[..levels];
        if !plans.iter().all(|p| p.has_compact()) {
            return PreparedPlaintext {
                params: params.clone(),
                poly: poly.prepare(params),
                packed: Vec::new(),
                l1_norm,
            };
        }
        if pack && plans.iter().all(|p| p.has_packed_kernel()) {
            let packed = poly
                .limbs()
                .map(|limb| {
                    let mut buf = vec![0u8; kernels::ntt::packed_bytes(limb.len())];
                    kernels::ntt::pack(limb, &mut buf);
                    buf.into_boxed_slice()
                })
                .collect();
            return PreparedPlaintext {
                params: params.clone(),
                poly: Poly::zero(params, 0, Representation::Ntt),
                packed,
                l1_norm,
            };
        }
        PreparedPlaintext {
            params: params.clone(),
            poly,
            packed: Vec::new(),
            l1_norm,
        }
    }

    /// Prime `k`'s values when compact (None when prepared with Shoup constants).
    pub(crate) fn compact_limb(&self, k: usize) -> Option<CompactLimb<'_>> {
        if let Some(p) = self.packed.get(k) {
            Some(CompactLimb::Packed(p))
        } else if self.poly.representation() == Representation::Ntt {
            Some(CompactLimb::Words(self.poly.limb(k)))
        } else {
            None
        }
    }

    /// Whether the values are packed at 50 bits.
    pub fn is_packed(&self) -> bool {
        !self.packed.is_empty()
    }

    /// out_i (+)= a_i ⊙ self on limb k (NTT form, both halves of a ciphertext at once).
    pub(crate) fn mul_pair_limb(&self, k: usize, out: [&mut [u64]; 2], a: [&[u64]; 2], acc: bool) {
        let plan = &self.params.plans[k];
        match self.compact_limb(k) {
            None => plan.mul_prepared_pair(out, a, self.poly.prepared_limb(k), acc),
            Some(CompactLimb::Words(b)) => plan.mul_compact_pair(out, a, b, acc),
            Some(CompactLimb::Packed(b)) => {
                // Off the linear layers' path (they take `ProductSum`): unpacked into this
                // thread's buffer, then the word product.
                thread_local! {
                    static WORDS: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
                }
                WORDS.with_borrow_mut(|words| {
                    words.resize(self.params.n, 0);
                    kernels::ntt::unpack(b, words);
                    plan.mul_compact_pair(out, a, words, acc);
                });
            }
        }
    }

    /// Whether the values are stored alone (every prime has compact products), for
    /// [`crate::he::ProductSum`].
    pub fn is_compact(&self) -> bool {
        self.is_packed() || self.poly.representation() == Representation::Ntt
    }

    /// Bytes of memory the prepared values take (compact: 8 per coefficient and prime, or
    /// 6.25 packed).
    pub fn memory_bytes(&self) -> usize {
        if self.is_packed() {
            return self.packed.iter().map(|p| p.len()).sum();
        }
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
