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
///
/// [`PreparedPlaintext::new_coefficients`] keeps the coefficients mod p instead (⌈log2 p⌉
/// bits each: 20 at the default, 7.5× less than its three packed primes) and makes the NTT
/// form at each product, in a per-thread buffer: the same products, bit for bit, for three
/// forward NTTs more per product (a server's weights under a memory limit).
#[derive(Clone)]
pub struct PreparedPlaintext {
    pub(crate) params: Arc<Parameters>,
    values: Values,
    pub(crate) l1_norm: f64,
}

/// How a [`PreparedPlaintext`] holds its values.
#[derive(Clone)]
enum Values {
    /// NTT form on every prime: compact (representation `Ntt`) or with Shoup constants
    /// (`Prepared`).
    Ntt(Poly),
    /// Per prime, the compact values packed ([`kernels::ntt::pack`]).
    Packed(Vec<Box<[u8]>>),
    /// The coefficients in [0, p), transformed at each use.
    Coefficients(Coefficients),
}

/// A plaintext's n coefficients in [0, p), p < 2^24: the low 16 bits of each, and the bits
/// above: when p ≤ 2^20 two 4-bit parts to a byte (byte j: coefficient j's low nibble,
/// coefficient j + n/2's high nibble), else a byte each; none when p ≤ 2^16.
#[derive(Clone)]
struct Coefficients {
    lo: Box<[u16]>,
    hi: Box<[u8]>,
    nibbles: bool,
}

impl Coefficients {
    /// Whether `p` fits (p < 2^24).
    fn fits(p: u64) -> bool {
        p < 1 << 24
    }

    /// Bytes per coefficient for modulus `p`.
    fn bytes_per_coeff(p: u64) -> f64 {
        match p {
            _ if p <= 1 << 16 => 2.0,
            _ if p <= 1 << 20 => 2.5,
            _ => 3.0,
        }
    }

    fn new(coeffs: &[u64], p: u64) -> Coefficients {
        // A value ≥ p would spill into a neighbour's high bits.
        assert!(Self::fits(p) && coeffs.iter().all(|&c| c < p));
        debug_assert!(coeffs.len().is_multiple_of(2));
        let lo = coeffs.iter().map(|&c| c as u16).collect();
        let half = coeffs.len() / 2;
        let (hi, nibbles): (Box<[u8]>, bool) = if p <= 1 << 16 {
            (Box::new([]), true)
        } else if p <= 1 << 20 {
            let (a, b) = coeffs.split_at(half);
            let hi = a
                .iter()
                .zip(b)
                .map(|(&x, &y)| ((x >> 16) | (y >> 16) << 4) as u8)
                .collect();
            (hi, true)
        } else {
            (coeffs.iter().map(|&c| (c >> 16) as u8).collect(), false)
        };
        Coefficients { lo, hi, nibbles }
    }

    /// The centered coefficients (in (−p/2, p/2]) modulo q (> p) into `out`.
    fn lift_into(&self, p: u64, q: u64, out: &mut [u64]) {
        if self.nibbles {
            kernels::vecops::lift_centered_nibbles(out, &self.lo, &self.hi, p, q);
        } else {
            kernels::vecops::lift_centered_bytes(out, &self.lo, &self.hi, p, q);
        }
    }

    fn memory_bytes(&self) -> usize {
        2 * self.lo.len() + self.hi.len()
    }
}

/// One prime's values of a compact [`PreparedPlaintext`].
pub(crate) enum CompactLimb<'a> {
    /// 64-bit words.
    Words(&'a [u64]),
    /// Packed at 50 bits ([`kernels::ntt::pack`]).
    Packed(&'a [u8]),
}

/// A [`PreparedPlaintext`]'s NTT form, in place or made for one use
/// ([`PreparedPlaintext::with_ntt`]).
pub(crate) enum NttForm<'a> {
    /// Per prime, [`CompactLimb`]s: its packed values or the words of `poly`.
    Compact(&'a PreparedPlaintext, Option<&'a Poly>),
    /// A prepared polynomial (values and Shoup constants).
    Prepared(&'a Poly),
}

impl NttForm<'_> {
    /// Prime `k`'s values when compact.
    pub(crate) fn compact_limb(&self, k: usize) -> Option<CompactLimb<'_>> {
        match self {
            NttForm::Compact(pt, poly) => match (&pt.values, poly) {
                (Values::Packed(p), _) => Some(CompactLimb::Packed(&p[k])),
                (_, Some(poly)) => Some(CompactLimb::Words(poly.limb(k))),
                (Values::Ntt(poly), None) => Some(CompactLimb::Words(poly.limb(k))),
                (Values::Coefficients(_), None) => unreachable!("made before use"),
            },
            NttForm::Prepared(_) => None,
        }
    }

    /// out_i (+)= a_i ⊙ self on limb k (NTT form, both halves of a ciphertext at once).
    pub(crate) fn mul_pair_limb(
        &self,
        params: &Parameters,
        k: usize,
        out: [&mut [u64]; 2],
        a: [&[u64]; 2],
        acc: bool,
    ) {
        let plan = &params.plans[k];
        match (self, self.compact_limb(k)) {
            (NttForm::Prepared(poly), _) => {
                plan.mul_prepared_pair(out, a, poly.prepared_limb(k), acc)
            }
            (_, Some(CompactLimb::Words(b))) => plan.mul_compact_pair(out, a, b, acc),
            (_, Some(CompactLimb::Packed(b))) => plan.mul_compact_pair_packed(out, a, b, acc),
            (NttForm::Compact(..), None) => unreachable!("a compact form has compact limbs"),
        }
    }
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

/// The centered representative of each coefficient (in (−p/2, p/2]) and their ℓ1 norm.
fn centered(pt: &Plaintext) -> (Vec<i64>, f64) {
    let p = pt.params.p;
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
    (centered, l1_norm)
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

    /// `pt` kept as its coefficients (see the type's docs): the same products as
    /// [`PreparedPlaintext::new`], in [`PreparedPlaintext::coefficient_bytes`] of memory
    /// instead of [`PreparedPlaintext::ntt_bytes`]. Where p ≥ 2^24 (no shipped set), the
    /// NTT form.
    pub fn new_coefficients(pt: &Plaintext) -> PreparedPlaintext {
        let p = pt.params.p;
        if !Coefficients::fits(p) {
            return PreparedPlaintext::new(pt);
        }
        PreparedPlaintext {
            params: pt.params.clone(),
            values: Values::Coefficients(Coefficients::new(&pt.coeffs, p)),
            l1_norm: centered(pt).1,
        }
    }

    /// Bytes one plaintext of `params` takes made by [`PreparedPlaintext::new`].
    pub fn ntt_bytes(params: &Parameters) -> usize {
        let (n, levels) = (params.n, params.max_level());
        let plans = &params.plans[..levels];
        if !plans.iter().all(|p| p.has_compact()) {
            16 * n * levels
        } else if packing_enabled() && plans.iter().all(|p| p.has_packed_kernel()) {
            kernels::ntt::packed_bytes(n) * levels
        } else {
            8 * n * levels
        }
    }

    /// Bytes one plaintext of `params` takes made by [`PreparedPlaintext::new_coefficients`].
    pub fn coefficient_bytes(params: &Parameters) -> usize {
        if Coefficients::fits(params.p) {
            (Coefficients::bytes_per_coeff(params.p) * params.n as f64).ceil() as usize
        } else {
            Self::ntt_bytes(params)
        }
    }

    fn new_with(pt: &Plaintext, pack: bool) -> PreparedPlaintext {
        let params = &pt.params;
        let (centered, l1_norm) = centered(pt);
        let levels = params.max_level();
        let mut poly = Poly::lift_signed(params, &centered, levels);
        poly.forward(params);
        let plans = &params.plans[..levels];
        let values = if !plans.iter().all(|p| p.has_compact()) {
            Values::Ntt(poly.prepare(params))
        } else if pack && plans.iter().all(|p| p.has_packed_kernel()) {
            Values::Packed(
                poly.limbs()
                    .map(|limb| {
                        let mut buf = vec![0u8; kernels::ntt::packed_bytes(limb.len())];
                        kernels::ntt::pack(limb, &mut buf);
                        buf.into_boxed_slice()
                    })
                    .collect(),
            )
        } else {
            Values::Ntt(poly)
        };
        PreparedPlaintext {
            params: params.clone(),
            values,
            l1_norm,
        }
    }

    /// Calls `f` with the NTT form on the first `limbs` primes: the stored one, or (kept as
    /// coefficients) one made in this thread's buffer as [`PreparedPlaintext::new`] makes it
    /// (`f` must not use another plaintext kept as coefficients).
    pub(crate) fn with_ntt<R>(&self, limbs: usize, f: impl FnOnce(&NttForm<'_>) -> R) -> R {
        let coeffs = match &self.values {
            Values::Ntt(poly) if poly.representation() == Representation::Prepared => {
                return f(&NttForm::Prepared(poly))
            }
            Values::Ntt(_) | Values::Packed(_) => return f(&NttForm::Compact(self, None)),
            Values::Coefficients(c) => c,
        };
        thread_local! {
            static SCRATCH: std::cell::RefCell<Poly> = const { std::cell::RefCell::new(Poly::empty()) };
        }
        SCRATCH.with(|cell| {
            // A nested use on this thread (none today) gets a fresh buffer instead of a panic.
            let (mut guard, mut fresh);
            let poly: &mut Poly = match cell.try_borrow_mut() {
                Ok(g) => {
                    guard = g;
                    &mut guard
                }
                Err(_) => {
                    fresh = Poly::empty();
                    &mut fresh
                }
            };
            let params = &self.params;
            poly.reshape(params.n, limbs, Representation::Coefficient);
            for (limb, &q) in poly.limbs_mut().zip(&params.all_moduli) {
                coeffs.lift_into(params.p, q, limb);
            }
            poly.forward(params);
            if params.plans[..limbs].iter().all(|p| p.has_compact()) {
                f(&NttForm::Compact(self, Some(poly)))
            } else {
                poly.prepare_in_place(params);
                f(&NttForm::Prepared(poly))
            }
        })
    }

    /// Whether the values are packed at 50 bits.
    pub fn is_packed(&self) -> bool {
        matches!(self.values, Values::Packed(_))
    }

    /// Whether the values are kept as coefficients ([`PreparedPlaintext::new_coefficients`]).
    pub fn is_coefficients(&self) -> bool {
        matches!(self.values, Values::Coefficients(_))
    }

    /// out (+)= a ⊙ self on the first `limbs` primes (NTT form, both halves of a ciphertext).
    pub(crate) fn mul_pair(&self, out: [&mut Poly; 2], a: [&Poly; 2], limbs: usize, acc: bool) {
        let [o0, o1] = out;
        self.with_ntt(limbs, |form| {
            for k in 0..limbs {
                form.mul_pair_limb(
                    &self.params,
                    k,
                    [o0.limb_mut(k), o1.limb_mut(k)],
                    [a[0].limb(k), a[1].limb(k)],
                    acc,
                );
            }
        })
    }

    /// Whether every prime has compact products (the values alone, stored or made at each
    /// use), for [`crate::he::ProductSum`].
    pub fn is_compact(&self) -> bool {
        match &self.values {
            Values::Ntt(poly) => poly.representation() == Representation::Ntt,
            Values::Packed(_) => true,
            Values::Coefficients(_) => {
                let levels = self.params.max_level();
                self.params.plans[..levels].iter().all(|p| p.has_compact())
            }
        }
    }

    /// Bytes of memory the values take (compact: 8 per coefficient and prime, or 6.25
    /// packed; with Shoup constants 16; as coefficients 2–3 per coefficient).
    pub fn memory_bytes(&self) -> usize {
        match &self.values {
            Values::Ntt(poly) => {
                let words = poly.num_limbs() * poly.n();
                if poly.representation() == Representation::Prepared {
                    16 * words
                } else {
                    8 * words
                }
            }
            Values::Packed(p) => p.iter().map(|p| p.len()).sum(),
            Values::Coefficients(c) => c.memory_bytes(),
        }
    }

    /// ℓ1 norm of the centered coefficients (the factor by which ct×pt can grow the noise).
    pub fn l1_norm(&self) -> f64 {
        self.l1_norm
    }
}
