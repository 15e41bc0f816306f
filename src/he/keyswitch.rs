//! Key switching: rotations (σ_g followed by a key switch back to s) with the
//! [`GaloisKeys`], plain and hoisted ([`Hoisted`]). The keys and the decomposition they are made
//! for are described in [`crate::he::keys::galois`].
//!
//! Hoisting: σ_g commutes with the decomposition (σ_g(d) keeps the digit norm), and in NTT
//! form σ_g is a permutation π_g. So the digits are transformed once, and each rotation costs
//! only pointwise multiply-accumulates against keys stored pre-permuted by π_g⁻¹, followed by
//! π_g on two vectors per limb: Σ π(D)⊙b = π(Σ D⊙π⁻¹(b)).
//!
//! Cost per decomposition of a two-prime ciphertext with 2 digits per limb: 2 inverse and 6
//! forward NTTs (each limb's offset-0 digit is not transformed on its own prime: there the key
//! switch multiplies c1's own limb, against keys stored folded, see
//! `GaloisKey::from_parts`); per rotation: 2 one-pass sums of 4 products per limb and the
//! gather π_g.
use super::ciphertext::Ciphertext;
use super::encoding::PreparedPlaintext;
use super::error::{HeError, Result};
use super::keys::galois::{check_galois, GaloisKey, KeyPoly};
use super::keys::GaloisKeys;
use super::params::{check_same, Parameters};
use super::poly::{Poly, Representation};
use kernels::ntt::{NttPlan64, SumBase};
use kernels::AlignedVec;
use std::sync::Arc;

impl GaloisKeys {
    /// The rotations [`GaloisKeys::rotate_rows_any`] applies for `step`: the step itself if its
    /// key is held, otherwise its non-adjacent form over ±2^j (each needs its key).
    pub fn rotation_plan(&self, step: i64) -> Result<Vec<i64>> {
        let params = &self.params;
        let half = params.row_size() as i64;
        let r = step.rem_euclid(half);
        if r == 0 {
            return Ok(vec![]);
        }
        if self.keys.contains_key(&params.galois_element_for_step(r)) {
            return Ok(vec![r]);
        }
        let mut plan = Vec::new();
        let (mut x, mut bit) = (r, 1i64);
        while x != 0 {
            if x & 1 == 1 {
                // NAF digit ±1: choose the sign that makes the rest divisible by 4.
                let d = if x & 3 == 3 { -1 } else { 1 };
                let s = (d * bit).rem_euclid(half);
                if s != 0 {
                    plan.push(if d < 0 { -bit } else { bit });
                }
                x -= d;
            }
            x >>= 1;
            bit <<= 1;
        }
        for &s in &plan {
            let g = params.galois_element_for_step(s);
            if !self.keys.contains_key(&g) {
                return Err(HeError::MissingGaloisKey { g });
            }
        }
        Ok(plan)
    }

    /// Rotates both rows left by any `step` (negative: right), composing power-of-two
    /// rotations when the step has no key of its own. Each rotation in
    /// [`GaloisKeys::rotation_plan`] adds one key switch of noise.
    pub fn rotate_rows_any(&self, ct: &Ciphertext, step: i64) -> Result<Ciphertext> {
        let plan = self.rotation_plan(step)?;
        let mut out = ct.clone();
        for s in plan {
            out = self.rotate_rows(&out, s)?;
        }
        Ok(out)
    }

    /// Applies σ_g with key switching.
    ///
    /// A single rotation decomposes c1 into per-thread scratch polynomials (no allocation but
    /// the result's) and sums each limb's digit products in one pass per half (the result is
    /// identical to [`Hoisted::apply_galois`]).
    pub fn apply_galois(&self, ct: &Ciphertext, g: usize) -> Result<Ciphertext> {
        let params = &self.params;
        check_same(params, &ct.params)?;
        check_galois(params, g)?;
        if g == 1 {
            let mut out = ct.clone();
            out.seed = None;
            return Ok(out);
        }
        let key = self.key(g)?;
        with_scratch(|s| {
            let (dec, [acc0, acc1]) = s.decompose(params, ct);
            key_switch(params, key, &dec, acc0, acc1)?;
            Ok(finish_rotation(params, key, acc0, acc1))
        })
    }

    /// Rotates both rows left by `step` slots (negative: right).
    pub fn rotate_rows(&self, ct: &Ciphertext, step: i64) -> Result<Ciphertext> {
        self.apply_galois(ct, self.params.galois_element_for_step(step))
    }

    /// Swaps the two rows.
    pub fn swap_rows(&self, ct: &Ciphertext) -> Result<Ciphertext> {
        self.apply_galois(ct, self.params.galois_element_row_swap())
    }
}

/// A ciphertext whose c1 has been decomposed once (inverse NTT, digit split, forward NTT of
/// every digit on every prime), ready for any number of rotations.
#[derive(Clone)]
pub struct Hoisted {
    params: Arc<Parameters>,
    c0: Poly,
    c1: Poly,
    /// The digits of c1, see [`Decomposed`].
    digits: Digits,
}

impl std::fmt::Debug for Hoisted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hoisted")
            .field("params", &self.params.name())
            .field("limbs", &self.c0.num_limbs())
            .field("digits", &self.digits.count())
            .finish_non_exhaustive()
    }
}

/// Per-thread temporaries of the rotations, kept between calls so that rotations do not
/// allocate and page-fault them every time. Their values are unspecified between uses.
struct Scratch {
    /// One limb of c1 in coefficient form.
    coeff: Poly,
    /// The digits of a single rotation's decomposition.
    digits: Digits,
    /// The key-switched halves before their gather π_g.
    acc: [Poly; 2],
    /// [`Hoisted::rotate_mul_acc`]: one limb of each half before and after the gather.
    limb: [AlignedVec<u64>; 4],
}

impl Scratch {
    const fn new() -> Scratch {
        Scratch {
            coeff: Poly::empty(),
            digits: Digits::empty(),
            acc: [Poly::empty(), Poly::empty()],
            limb: [
                AlignedVec::new(),
                AlignedVec::new(),
                AlignedVec::new(),
                AlignedVec::new(),
            ],
        }
    }

    /// Decomposes ct's c1 into the scratch digits and shapes the accumulators for the
    /// key-switching sums: (the decomposed ciphertext, the two accumulators).
    fn decompose<'a>(
        &'a mut self,
        params: &Parameters,
        ct: &'a Ciphertext,
    ) -> (Decomposed<'a>, &'a mut [Poly; 2]) {
        let (n, limbs) = (params.n, ct.level());
        let slots = key_switch_slots(params, limbs);
        let active = active_digits(params, limbs);
        self.coeff.reshape(n, 1, Representation::Coefficient);
        self.digits.reshape(n, slots, active.len());
        decompose(params, &ct.c1, &active, &mut self.coeff, &mut self.digits);
        for acc in &mut self.acc {
            acc.reshape(n, slots, Representation::Ntt);
        }
        let dec = Decomposed {
            c0: &ct.c0,
            c1: &ct.c1,
            digits: &self.digits,
        };
        (dec, &mut self.acc)
    }
}

/// Runs `f` on this thread's [`Scratch`].
fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Scratch> = const { std::cell::RefCell::new(Scratch::new()) };
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        // Re-entered (not done today): fall back to fresh temporaries.
        Err(_) => f(&mut Scratch::new()),
    })
}

/// Limbs of the key-switching sums at `limbs` primes: the ciphertext's, plus the special
/// prime's (the last slot) when the set has one.
fn key_switch_slots(params: &Parameters, limbs: usize) -> usize {
    limbs + usize::from(params.special.is_some())
}

/// The index in `Parameters::all_moduli` (and `plans`) of slot k of a key-switching sum at
/// `limbs` primes: the data prime k, or the special prime for the extra last slot.
fn slot_prime(params: &Parameters, limbs: usize, k: usize) -> usize {
    if k < limbs {
        k
    } else {
        params.max_level()
    }
}

/// The key-switching digits of a ciphertext at `limbs` primes (limb-major, a prefix of all).
fn active_digits(params: &Parameters, limbs: usize) -> Vec<(usize, u32)> {
    params
        .digits
        .iter()
        .copied()
        .filter(|&(i, _)| i < limbs)
        .collect()
}

/// The indices into `active` (limb-major) of limb i's digits; the first has offset 0.
fn limb_digits(active: &[(usize, u32)], i: usize) -> std::ops::Range<usize> {
    let start = active.partition_point(|&(l, _)| l < i);
    let end = active.partition_point(|&(l, _)| l <= i);
    debug_assert!(start == end || active[start].1 == 0);
    start..end
}

/// Every limb's digits of c1 in NTT form (see [`decompose_limb`]) into `digits` (one
/// polynomial per active digit, on c1's primes); `coeff` is one limb of scratch.
fn decompose(
    params: &Parameters,
    c1: &Poly,
    active: &[(usize, u32)],
    coeff: &mut Poly,
    digits: &mut Digits,
) {
    for i in 0..c1.num_limbs() {
        decompose_limb(params, c1, i, limb_digits(active, i), coeff, digits);
    }
}

/// A digit limb into NTT form: fully reduced where the key-switching sum on that prime takes
/// compact products (operands in [0, q)), else lazy (digits are only ever multiplied).
fn forward_digit(plan: &NttPlan64, dst: &mut [u64]) {
    if plan.has_compact() {
        plan.forward(dst);
    } else {
        plan.forward_lazy(dst);
    }
}

/// With a special prime: the single digit of limb i is c1's limb i itself (coefficients in
/// [0, q_i)), transformed on every other slot's prime (the special prime's included).
fn decompose_limb_hybrid(params: &Parameters, i: usize, t: usize, coeff: &[u64], out: &mut Digits) {
    let limbs = out.limbs - 1;
    let q_i = params.moduli[i];
    for (k, dst) in out.digit_mut(t).enumerate() {
        if k == i {
            continue;
        }
        let plan = &params.plans[slot_prime(params, limbs, k)];
        if q_i <= plan.q() {
            dst.copy_from_slice(coeff);
        } else {
            let md = plan.modulus();
            for (d, &c) in dst.iter_mut().zip(coeff) {
                *d = md.reduce(c);
            }
        }
        forward_digit(plan, dst);
    }
}

/// Writes NTT_{q_k}(d_t) for every digit t of limb i (`range` indexes `params.digits`) into
/// limb k of digit t of `out`, for every k below c1's number of limbs; `coeff` is one limb of
/// scratch.
///
/// On its own prime (k = i) the offset-0 digit is not transformed and its limb is left as is:
/// the key switch multiplies NTT(c1_i), c1's own limb, in its place, and the Galois keys of the
/// higher digits on that prime are stored folded (K_j − 2^{off_j}·K_0, see
/// `GaloisKey::from_parts`), which gives the same key-switching sum since NTT(c1_i) =
/// Σ_j 2^{off_j}·NTT(d_j) mod q_i. So a limb with m digits costs m·limbs − 1 forward
/// transforms.
fn decompose_limb(
    params: &Parameters,
    c1: &Poly,
    i: usize,
    range: std::ops::Range<usize>,
    coeff: &mut Poly,
    out: &mut Digits,
) {
    let coeff = coeff.limb_mut(0);
    coeff.copy_from_slice(c1.limb(i));
    params.plans[i].inverse(coeff);
    if params.special.is_some() {
        for t in range {
            decompose_limb_hybrid(params, i, t, coeff, out);
        }
        return;
    }
    let w = params.decomp_bits;
    let mask = if w >= 64 { u64::MAX } else { (1u64 << w) - 1 };
    for t in range {
        let off = params.digits[t].1;
        for (k, (dst, plan)) in out.digit_mut(t).zip(&params.plans).enumerate() {
            if off == 0 && k == i {
                continue;
            }
            if mask < plan.q() {
                // Every digit is already below q_k: a plain (vectorisable) shift and mask.
                for (d, &c) in dst.iter_mut().zip(coeff.iter()) {
                    *d = (c >> off) & mask;
                }
            } else {
                // Wide digits on a smaller prime.
                let md = plan.modulus();
                for (d, &c) in dst.iter_mut().zip(coeff.iter()) {
                    *d = md.reduce((c >> off) & mask);
                }
            }
            forward_digit(plan, dst);
        }
    }
}

/// σ_g applied to the accumulated (c0 + Σ D⊙π⁻¹(b), Σ D⊙π⁻¹(a)): the gather π_g per limb.
fn finish_rotation(
    params: &Arc<Parameters>,
    key: &GaloisKey,
    acc0: &Poly,
    acc1: &Poly,
) -> Ciphertext {
    let gather = |acc: &Poly| {
        let mut out = Poly::zero(params, acc.num_limbs(), Representation::Ntt);
        for (o, a) in out.limbs_mut().zip(acc.limbs()) {
            key.perm.gather(a, o);
        }
        out
    };
    Ciphertext::from_halves(params, gather(acc0), gather(acc1))
}

/// A ciphertext's c0, c1 and the digits of c1 in NTT form: one polynomial per active digit
/// (limb-major order of `Parameters::digits`), on c1's primes, with lazy values (below 4q_k,
/// or the bound of `NttPlan64::forward_lazy` where the prime takes no compact products).
/// The limb of each limb's offset-0 digit on its own prime is unused: that digit's transform
/// there is c1's own limb, see [`decompose_limb`].
struct Decomposed<'a> {
    c0: &'a Poly,
    c1: &'a Poly,
    digits: &'a Digits,
}

/// Key-switching digits of c1: `count()` polynomials in NTT form on the same primes, stored
/// digit after digit in one block. One allocation, not one per digit: freeing several
/// 64 KiB blocks per decomposition makes glibc trim the heap and fault it in again on every
/// `Hoisted::new` (measured: 2.5× its time in `examples/he_rotation_profile`).
#[derive(Clone)]
struct Digits {
    n: usize,
    limbs: usize,
    data: AlignedVec<u64>,
}

impl Digits {
    const fn empty() -> Digits {
        Digits {
            n: 0,
            limbs: 0,
            data: AlignedVec::new(),
        }
    }

    /// `count` zero digits of `limbs` limbs of n words.
    fn zero(n: usize, limbs: usize, count: usize) -> Digits {
        Digits {
            n,
            limbs,
            data: AlignedVec::zeroed(count * limbs * n),
        }
    }

    /// Reshapes scratch digits, reusing the allocation; the values are unspecified.
    fn reshape(&mut self, n: usize, limbs: usize, count: usize) {
        (self.n, self.limbs) = (n, limbs);
        self.data.resize(count * limbs * n, 0);
    }

    /// Number of digits.
    fn count(&self) -> usize {
        self.data
            .len()
            .checked_div(self.limbs * self.n)
            .unwrap_or(0)
    }

    /// Limb k of digit t.
    fn limb(&self, t: usize, k: usize) -> &[u64] {
        let start = (t * self.limbs + k) * self.n;
        &self.data[start..start + self.n]
    }

    /// The limbs of digit t, mutable.
    fn digit_mut(&mut self, t: usize) -> std::slice::ChunksExactMut<'_, u64> {
        let width = self.limbs * self.n;
        self.data[t * width..(t + 1) * width].chunks_exact_mut(self.n)
    }
}

impl Hoisted {
    fn decomposed(&self) -> Decomposed<'_> {
        Decomposed {
            c0: &self.c0,
            c1: &self.c1,
            digits: &self.digits,
        }
    }

    /// Decomposes `ct`'s c1.
    pub fn new(ct: &Ciphertext) -> Result<Hoisted> {
        let params = &ct.params;
        let (n, limbs) = (params.n, ct.level());
        let active = active_digits(params, limbs);
        let mut digits = Digits::zero(n, key_switch_slots(params, limbs), active.len());
        with_scratch(|s| {
            s.coeff.reshape(n, 1, Representation::Coefficient);
            decompose(params, &ct.c1, &active, &mut s.coeff, &mut digits)
        });
        Ok(Hoisted {
            params: params.clone(),
            c0: ct.c0.clone(),
            c1: ct.c1.clone(),
            digits,
        })
    }

    /// The undecomposed ciphertext (unseeded).
    fn ciphertext(&self) -> Ciphertext {
        Ciphertext::from_halves(&self.params, self.c0.clone(), self.c1.clone())
    }

    /// σ_g of the decomposed ciphertext, key-switched back to s.
    pub fn apply_galois(&self, keys: &GaloisKeys, g: usize) -> Result<Ciphertext> {
        let params = &self.params;
        check_same(params, &keys.params)?;
        check_galois(params, g)?;
        if g == 1 {
            return Ok(self.ciphertext());
        }
        let key = keys.key(g)?;
        let (n, limbs) = (params.n, self.c0.num_limbs());
        let slots = key_switch_slots(params, limbs);
        with_scratch(|s| {
            let [acc0, acc1] = &mut s.acc;
            acc0.reshape(n, slots, Representation::Ntt);
            acc1.reshape(n, slots, Representation::Ntt);
            key_switch(params, key, &self.decomposed(), acc0, acc1)?;
            Ok(finish_rotation(params, key, acc0, acc1))
        })
    }

    /// acc += rotate_rows(step) ⊙ pt without materialising the rotated ciphertext (the inner
    /// step of Gazelle's convolution: rotate the input, multiply by a filter diagonal,
    /// accumulate). Same result as `rotate_rows` then [`Ciphertext::mul_plain_acc`].
    pub fn rotate_mul_acc(
        &self,
        keys: &GaloisKeys,
        step: i64,
        pt: &PreparedPlaintext,
        acc: &mut Ciphertext,
    ) -> Result<()> {
        let params = &self.params;
        check_same(params, &keys.params)?;
        check_same(params, &pt.params)?;
        check_same(params, &acc.params)?;
        let limbs = self.c0.num_limbs();
        if acc.level() != limbs {
            return Err(HeError::ParameterMismatch {
                expected: format!("level {limbs}"),
                found: format!("level {}", acc.level()),
            });
        }
        let g = params.galois_element_for_step(step);
        if g == 1 {
            return acc.mul_plain_acc(&self.ciphertext(), pt);
        }
        if params.special.is_some() {
            // The key switch ends with a division by P over whole limbs: rotate, then multiply.
            return acc.mul_plain_acc(&self.apply_galois(keys, g)?, pt);
        }
        let key = keys.key(g)?;
        let dec = self.decomposed();
        pt.with_ntt(limbs, |form| {
            with_scratch(|s| {
                for v in &mut s.limb {
                    v.resize(params.n, 0);
                }
                let [a0, a1, r0, r1] = &mut s.limb;
                for k in 0..limbs {
                    key.key_switch_limb(params, &dec, k, a0, a1);
                    key.perm.gather(a0, r0);
                    key.perm.gather(a1, r1);
                    form.mul_pair_limb(
                        params,
                        k,
                        [acc.c0.limb_mut(k), acc.c1.limb_mut(k)],
                        [r0, r1],
                        true,
                    );
                }
            })
        });
        acc.seed = None;
        Ok(())
    }

    /// Rotates both rows left by `step` (negative: right).
    pub fn rotate_rows(&self, keys: &GaloisKeys, step: i64) -> Result<Ciphertext> {
        self.apply_galois(keys, self.params.galois_element_for_step(step))
    }

    /// Swaps the rows.
    pub fn swap_rows(&self, keys: &GaloisKeys) -> Result<Ciphertext> {
        self.apply_galois(keys, self.params.galois_element_row_swap())
    }
}

/// Every limb of the key-switched σ_g of `ct` before its gather, into (acc0, acc1), shaped
/// like ct's halves on return. With a special prime they come in with one more slot (see
/// [`key_switch_slots`]): the sums are taken modulo q·P, divided by P ([`mod_down`]), and
/// c0 is added after.
fn key_switch(
    params: &Parameters,
    key: &GaloisKey,
    ct: &Decomposed<'_>,
    acc0: &mut Poly,
    acc1: &mut Poly,
) -> Result<()> {
    key_switch_sums(params, key, ct, acc0, acc1);
    if params.special.is_some() {
        let limbs = ct.c0.num_limbs();
        mod_down(params, acc0, limbs)?;
        mod_down(params, acc1, limbs)?;
        acc0.add_assign(params, ct.c0);
    }
    Ok(())
}

/// The key-switching sums of [`key_switch`] alone: every slot of (acc0, acc1), modulo q·P
/// with a special prime (not divided by P, c0 not added).
fn key_switch_sums(
    params: &Parameters,
    key: &GaloisKey,
    ct: &Decomposed<'_>,
    acc0: &mut Poly,
    acc1: &mut Poly,
) {
    for (k, (a0, a1)) in acc0.limbs_mut().zip(acc1.limbs_mut()).enumerate() {
        key.key_switch_limb(params, ct, k, a0, a1);
    }
}

/// dst += π_g(src) slot by slot (slots as in [`slot_prime`] for a ciphertext at `limbs`
/// primes; `src` and `dst` have the same number of slots).
fn gather_add(params: &Parameters, key: &GaloisKey, limbs: usize, src: &Poly, dst: &mut Poly) {
    debug_assert_eq!(src.num_limbs(), dst.num_limbs());
    let mut tmp = AlignedVec::<u64>::zeroed(params.n);
    for (k, (s, d)) in src.limbs().zip(dst.limbs_mut()).enumerate() {
        key.perm.gather(s, &mut tmp);
        kernels::vecops::add_mod(d, &tmp, params.all_moduli[slot_prime(params, limbs, k)]);
    }
}

/// A sum of rotated ciphertexts Σ σ_g(ct_g) whose key switches are divided by the special
/// prime P once, in [`RotationSum::finish`], instead of once per rotation (hybrid key
/// switching: the division is linear up to its rounding and commutes with σ_g). ModDown is
/// most of a rotation's cost (an inverse and `limbs` forward NTTs per half), so a sum of m
/// rotations costs about m key-switching sums and one ModDown. The noise is at most that of
/// the m rotations summed (one rounding term instead of m): the bounds of
/// [`crate::he::noise`] still hold. Without a special prime it sums ordinary rotations.
pub struct RotationSum {
    params: Arc<Parameters>,
    limbs: usize,
    /// Σ of the gathered key-switching sums modulo q·P (both halves), once a rotation was
    /// added.
    ext: Option<[Poly; 2]>,
    /// Σ of what needs no division: the gathered c0's and the ciphertexts added as they are.
    plain: Option<Ciphertext>,
}

impl RotationSum {
    /// An empty sum of ciphertexts at `limbs` primes.
    pub fn new(params: &Arc<Parameters>, limbs: usize) -> RotationSum {
        RotationSum {
            params: params.clone(),
            limbs,
            ext: None,
            plain: None,
        }
    }

    fn check(&self, ct: &Ciphertext) -> Result<()> {
        check_same(&self.params, &ct.params)?;
        if ct.level() != self.limbs {
            return Err(HeError::ParameterMismatch {
                expected: format!("level {}", self.limbs),
                found: format!("level {}", ct.level()),
            });
        }
        Ok(())
    }

    fn add_plain(&mut self, ct: &Ciphertext) -> Result<()> {
        match &mut self.plain {
            Some(p) => p.add_assign(ct),
            None => {
                let mut p = ct.clone();
                p.seed = None;
                self.plain = Some(p);
                Ok(())
            }
        }
    }

    /// sum += ct.
    pub fn add(&mut self, ct: &Ciphertext) -> Result<()> {
        self.check(ct)?;
        self.add_plain(ct)
    }

    /// sum += σ_g(ct) (what [`GaloisKeys::apply_galois`] gives, divided by P later).
    pub fn add_galois(&mut self, keys: &GaloisKeys, ct: &Ciphertext, g: usize) -> Result<()> {
        self.check(ct)?;
        let params = &self.params;
        check_same(params, &keys.params)?;
        check_galois(params, g)?;
        if g == 1 {
            return self.add_plain(ct);
        }
        if params.special.is_none() {
            let r = keys.apply_galois(ct, g)?;
            return self.add_plain(&r);
        }
        let key = keys.key(g)?;
        let limbs = self.limbs;
        let slots = key_switch_slots(params, limbs);
        let ext = self
            .ext
            .get_or_insert_with(|| [0, 1].map(|_| Poly::zero(params, slots, Representation::Ntt)));
        with_scratch(|s| {
            let (dec, [acc0, acc1]) = s.decompose(params, ct);
            key_switch_sums(params, key, &dec, acc0, acc1);
            gather_add(params, key, limbs, acc0, &mut ext[0]);
            gather_add(params, key, limbs, acc1, &mut ext[1]);
        });
        // σ_g(ct) = π_g(ModDown(acc0) + c0), π_g(ModDown(acc1)): c0's part needs no division.
        let plain = match &mut self.plain {
            Some(p) => p,
            None => self.plain.insert(Ciphertext::zero(params, limbs)?),
        };
        gather_add(params, key, limbs, &ct.c0, &mut plain.c0);
        plain.seed = None;
        Ok(())
    }

    /// sum += other (same parameters and level).
    pub fn merge(&mut self, other: RotationSum) -> Result<()> {
        check_same(&self.params, &other.params)?;
        if other.limbs != self.limbs {
            return Err(HeError::ParameterMismatch {
                expected: format!("level {}", self.limbs),
                found: format!("level {}", other.limbs),
            });
        }
        if let Some(p) = other.plain {
            self.add_plain(&p)?;
        }
        match (&mut self.ext, other.ext) {
            (Some(mine), Some(theirs)) => {
                let params = &self.params;
                for (m, t) in mine.iter_mut().zip(&theirs) {
                    for (k, (x, y)) in m.limbs_mut().zip(t.limbs()).enumerate() {
                        let q = params.all_moduli[slot_prime(params, self.limbs, k)];
                        kernels::vecops::add_mod(x, y, q);
                    }
                }
            }
            (None, Some(theirs)) => self.ext = Some(theirs),
            (_, None) => {}
        }
        Ok(())
    }

    /// The sum: the key-switching sums divided by P once, plus the rest (zero if nothing was
    /// added).
    pub fn finish(self) -> Result<Ciphertext> {
        let params = &self.params;
        let mut out = match self.plain {
            Some(p) => p,
            None => Ciphertext::zero(params, self.limbs)?,
        };
        if let Some([mut e0, mut e1]) = self.ext {
            mod_down(params, &mut e0, self.limbs)?;
            mod_down(params, &mut e1, self.limbs)?;
            out.c0.add_assign(params, &e0);
            out.c1.add_assign(params, &e1);
            out.seed = None;
        }
        Ok(out)
    }
}

/// ModDown: x (NTT form, `limbs` data limbs then the special prime P's) becomes
/// round(x/P) on the data limbs (ciphertext noise (1 + ‖s‖1)/2, in
/// `noise::key_switch_bound`).
fn mod_down(params: &Parameters, x: &mut Poly, limbs: usize) -> Result<()> {
    debug_assert_eq!(x.num_limbs(), limbs + 1);
    x.divide_drop_last(params, params.max_level())
}

impl GaloisKey {
    /// Limb k of (c0 + Σ_t D_t ⊙ π⁻¹(b_t), Σ_t D_t ⊙ π⁻¹(a_t)) into (a0, a1): the key-switched
    /// σ_g before its gather π_g; each half is one pass (`mul_compact_sum` where the limb's
    /// prime has compact products, else `mul_prepared_sum`).
    fn key_switch_limb(
        &self,
        params: &Parameters,
        ct: &Decomposed<'_>,
        k: usize,
        a0: &mut [u64],
        a1: &mut [u64],
    ) {
        /// (digit, key values, key Shoup constants if not compact) per digit.
        type Term<'a> = (&'a [u64], &'a [u64], Option<&'a [u64]>);
        fn terms<'a>(
            params: &Parameters,
            ct: &Decomposed<'a>,
            k: usize,
            prime: usize,
            key: &'a [KeyPoly],
        ) -> Vec<Term<'a>> {
            let (c1, digits): (&'a Poly, &'a Digits) = (ct.c1, ct.digits);
            key[..digits.count()]
                .iter()
                .enumerate()
                .map(|(t, kt)| {
                    let d = if params.digits[t] == (k, 0) {
                        c1.limb(k)
                    } else {
                        digits.limb(t, k)
                    };
                    let (kv, ks) = kt.limb(prime);
                    (d, kv, ks)
                })
                .collect()
        }
        fn sum(plan: &NttPlan64, out: &mut [u64], base: SumBase<'_, u64>, terms: &[Term<'_>]) {
            if plan.has_compact() {
                let t: Vec<[&[u64]; 2]> = terms.iter().map(|&(d, kv, _)| [d, kv]).collect();
                plan.mul_compact_sum(out, base, &t);
            } else {
                let t: Vec<[&[u64]; 3]> = terms
                    .iter()
                    .map(|&(d, kv, ks)| [d, kv, ks.expect("a non-compact limb is prepared")])
                    .collect();
                plan.mul_prepared_sum(out, base, &t);
            }
        }
        let limbs = ct.c0.num_limbs();
        let prime = slot_prime(params, limbs, k);
        let plan = &params.plans[prime];
        // With a special prime c0 is added after the division by P.
        let base = if params.special.is_some() {
            SumBase::Zero
        } else {
            SumBase::From(ct.c0.limb(k))
        };
        sum(plan, a0, base, &terms(params, ct, k, prime, &self.b_perm));
        sum(
            plan,
            a1,
            SumBase::Zero,
            &terms(params, ct, k, prime, &self.a_perm),
        );
    }
}
