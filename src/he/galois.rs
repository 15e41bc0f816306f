//! Galois (rotation) keys and rotations with key switching, plain and hoisted.
//!
//! Key switching decomposes c1 by RNS limb and, within limb i, into base-2^w digits
//! d_{i,j} ∈ [0, 2^w): c1 ≡ Σ d_{i,j} · 2^{wj} · (q/q_i)·[(q/q_i)⁻¹]_{q_i} (mod q). The key for
//! Galois element g holds, per digit, (b, a) with b = −a·s + e + 2^{wj}·σ_g(s) on limb i and
//! −a·s + e on the other limbs, a expanded from the key set's seed. No special prime: all of q
//! stays with the ciphertext; the price is the additive noise Σ d·e (see [`super::noise`]).
//!
//! Hoisting: σ_g commutes with the decomposition (σ_g(d) keeps the digit norm), and in NTT
//! form σ_g is a permutation π_g. So the digits are transformed once, and each rotation costs
//! only pointwise multiply-accumulates against keys stored pre-permuted by π_g⁻¹, followed by
//! π_g on two vectors per limb: Σ π(D)⊙b = π(Σ D⊙π⁻¹(b)).
//!
//! Cost per decomposition of a two-prime ciphertext with 2 digits per limb: 2 inverse and 6
//! forward NTTs (each limb's offset-0 digit is not transformed on its own prime: there the key
//! switch multiplies c1's own limb, against keys stored folded, see [`GaloisKey::from_parts`]);
//! per rotation: 2 one-pass sums of 4 products per limb and the gather π_g.
use super::ciphertext::Ciphertext;
use super::encoding::PreparedPlaintext;
use super::error::{HeError, Result};
use super::keys::{check_same, SecretKey};
use super::params::Parameters;
use super::sampling::{self, Seed};
use kernels::ntt::{automorphism_ntt_table, NttPermutation, SumBase};
use rand_chacha::rand_core::CryptoRng;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One key-switching key for σ_g.
#[derive(Clone)]
pub(crate) struct GaloisKey {
    /// π_g as a gather: π(x)[i] = x[table[i]].
    perm: NttPermutation,
    /// Canonical b components, digit-major then limb-major (what is serialised).
    pub(crate) b: Vec<u64>,
    /// π_g⁻¹(b), π_g⁻¹(a) and their Shoup constants.
    b_perm: Vec<u64>,
    b_perm_shoup: Vec<u64>,
    a_perm: Vec<u64>,
    a_perm_shoup: Vec<u64>,
}

fn key_stream(g: usize, digit: usize) -> u64 {
    ((g as u64) << 16) | digit as u64
}

impl GaloisKey {
    /// Completes a key from its canonical b and the seed of its a's.
    pub(crate) fn from_parts(
        params: &Parameters,
        seed: &Seed,
        g: usize,
        b: Vec<u64>,
    ) -> Result<GaloisKey> {
        let n = params.n;
        let limbs = params.max_level();
        let perm = NttPermutation::automorphism(n, g)?;
        let table = perm.table();
        let nd = params.digits.len();
        let mut b_perm = vec![0u64; nd * limbs * n];
        let mut a_perm = vec![0u64; nd * limbs * n];
        for t in 0..nd {
            let a = sampling::expand_uniform(params, seed, key_stream(g, t), limbs);
            for k in 0..limbs {
                let off = (t * limbs + k) * n;
                for (i, &src) in table.iter().enumerate() {
                    b_perm[off + src as usize] = b[off + i];
                    a_perm[off + src as usize] = a[k * n + i];
                }
            }
        }
        // Fold the offset-0 digit of each limb i on its own prime (see `decompose_limb`): there
        // the rotation multiplies NTT(c1_i) = Σ_j 2^{off_j}·D_j by the first key and each higher
        // digit D_j by K_j − 2^{off_j}·K_0, which sums to the same Σ_j D_j ⊙ K_j mod q_i.
        for (t0, &(i, off0)) in params.digits.iter().enumerate() {
            if off0 != 0 {
                continue;
            }
            let plan = &params.plans[i];
            let md = plan.modulus();
            let k0 = (t0 * limbs + i) * n;
            for (tj, &(li, off)) in params.digits.iter().enumerate().skip(t0 + 1) {
                if li != i {
                    break;
                }
                // n copies of −2^off mod q_i, with the plan's own Shoup constants.
                let c = vec![md.sub(0, md.reduce_u128(1u128 << off)); n];
                let cs = plan.prepare(&c);
                let kj = (tj * limbs + i) * n;
                for perm in [&mut b_perm, &mut a_perm] {
                    let (head, tail) = perm.split_at_mut(kj);
                    plan.mul_acc_prepared(&mut tail[..n], &head[k0..k0 + n], &c, &cs);
                }
            }
        }
        let mut b_perm_shoup = Vec::with_capacity(nd * limbs * n);
        let mut a_perm_shoup = Vec::with_capacity(nd * limbs * n);
        for t in 0..nd {
            for k in 0..limbs {
                let off = (t * limbs + k) * n;
                let plan = &params.plans[k];
                b_perm_shoup.extend(plan.prepare(&b_perm[off..off + n]));
                a_perm_shoup.extend(plan.prepare(&a_perm[off..off + n]));
            }
        }
        Ok(GaloisKey {
            perm,
            b,
            b_perm,
            b_perm_shoup,
            a_perm,
            a_perm_shoup,
        })
    }
}

/// The rotation keys a client generates for the Galois elements a network needs.
#[derive(Clone)]
pub struct GaloisKeys {
    pub(crate) params: Arc<Parameters>,
    pub(crate) seed: Seed,
    pub(crate) keys: BTreeMap<usize, GaloisKey>,
}

impl std::fmt::Debug for GaloisKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GaloisKeys")
            .field("params", &self.params.name())
            .field("elements", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
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

fn check_galois(params: &Parameters, g: usize) -> Result<()> {
    if g.is_multiple_of(2) || g >= 2 * params.n {
        return Err(HeError::InvalidRotation {
            reason: format!("Galois element {g} must be odd and below {}", 2 * params.n),
        });
    }
    Ok(())
}

impl GaloisKeys {
    /// Generates keys for the given Galois elements (see
    /// [`Parameters::galois_element_for_step`] and [`Parameters::galois_element_row_swap`]).
    pub fn generate<R: CryptoRng + ?Sized>(
        sk: &SecretKey,
        elements: &[usize],
        rng: &mut R,
    ) -> Result<GaloisKeys> {
        let params = &sk.params;
        let seed = sampling::fresh_seed(rng);
        let (n, limbs) = (params.n, params.max_level());
        let mut keys = BTreeMap::new();
        for &g in elements {
            check_galois(params, g)?;
            if g == 1 || keys.contains_key(&g) {
                continue;
            }
            let table = automorphism_ntt_table(n, g)?;
            let nd = params.digits.len();
            let mut b = vec![0u64; nd * limbs * n];
            let mut e_l = vec![0u64; limbs * n];
            let mut as_ = vec![0u64; limbs * n];
            for (t, &(i, off)) in params.digits.iter().enumerate() {
                let a = sampling::expand_uniform(params, &seed, key_stream(g, t), limbs);
                let mut e = sampling::sample_cbd(rng, n);
                sampling::lift_signed(params, &e, limbs, &mut e_l);
                zeroize::Zeroize::zeroize(&mut e);
                sampling::forward_limbs(params, &mut e_l, limbs);
                sk.mul_s(&a, &mut as_, limbs);
                let bt = &mut b[t * limbs * n..(t + 1) * limbs * n];
                bt.copy_from_slice(&e_l);
                sampling::sub_limbs(params, bt, &as_, limbs);
                // + 2^off · σ_g(s) on limb i.
                let md = params.plans[i].modulus();
                let w = md.reduce_u128(1u128 << off);
                let ws = md.shoup(w);
                let s_i = &sk.ntt[i * n..(i + 1) * n];
                for (x, &src) in bt[i * n..(i + 1) * n].iter_mut().zip(&table) {
                    *x = md.add(*x, md.mul_shoup(s_i[src as usize], w, ws));
                }
            }
            use zeroize::Zeroize;
            e_l.zeroize();
            as_.zeroize();
            keys.insert(g, GaloisKey::from_parts(params, &seed, g, b)?);
        }
        Ok(GaloisKeys {
            params: params.clone(),
            seed,
            keys,
        })
    }

    /// Keys for left rotations by each of `steps` (negative: right) and optionally the row swap.
    pub fn for_steps<R: CryptoRng + ?Sized>(
        sk: &SecretKey,
        steps: &[i64],
        row_swap: bool,
        rng: &mut R,
    ) -> Result<GaloisKeys> {
        let params = &sk.params;
        let mut els: Vec<usize> = steps
            .iter()
            .map(|&s| params.galois_element_for_step(s))
            .collect();
        if row_swap {
            els.push(params.galois_element_row_swap());
        }
        Self::generate(sk, &els, rng)
    }

    /// Keys for left and right rotations by every power of two below n/2, and the row swap:
    /// enough for [`GaloisKeys::rotate_rows_any`] to reach every step.
    pub fn power_of_two<R: CryptoRng + ?Sized>(sk: &SecretKey, rng: &mut R) -> Result<GaloisKeys> {
        let half = sk.params.row_size() as i64;
        let mut steps = Vec::new();
        let mut s = 1;
        while s < half {
            steps.push(s);
            steps.push(-s);
            s <<= 1;
        }
        Self::for_steps(sk, &steps, true, rng)
    }

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

    /// The Galois elements held.
    pub fn elements(&self) -> Vec<usize> {
        self.keys.keys().copied().collect()
    }

    /// The parameter set.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }

    /// Applies σ_g with key switching.
    ///
    /// A single rotation decomposes c1 into a per-thread scratch buffer (no allocation but
    /// the result's) and sums each limb's digit products in one pass per half (the result is
    /// identical to [`Hoisted::apply_galois`]).
    pub fn apply_galois(&self, ct: &Ciphertext, g: usize) -> Result<Ciphertext> {
        let params = &self.params;
        check_same(params, &ct.params)?;
        check_galois(params, g)?;
        let (n, limbs) = (params.n, ct.limbs);
        if g == 1 {
            let mut out = ct.clone();
            out.seed = None;
            return Ok(out);
        }
        let key = self.keys.get(&g).ok_or(HeError::MissingGaloisKey { g })?;
        let active = active_digits(params, limbs);
        let nd = active.len();
        Ok(with_scratch(2 * limbs * n + n + nd * limbs * n, |buf| {
            let (acc, rest) = buf.split_at_mut(2 * limbs * n);
            let (acc0, acc1) = acc.split_at_mut(limbs * n);
            let (coeff, digits) = rest.split_at_mut(n);
            decompose(params, &ct.c1, &active, limbs, coeff, digits);
            let dec = Decomposed {
                c0: &ct.c0,
                c1: &ct.c1,
                digits,
                num_digits: nd,
                limbs,
            };
            for (k, (a0, a1)) in acc0
                .chunks_exact_mut(n)
                .zip(acc1.chunks_exact_mut(n))
                .enumerate()
            {
                key.key_switch_limb(params, &dec, k, a0, a1);
            }
            finish_rotation(params, key, limbs, acc0, acc1)
        }))
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
    limbs: usize,
    c0: Vec<u64>,
    c1: Vec<u64>,
    /// Digits in NTT form: digit-major, then limb-major.
    digits: Vec<u64>,
    num_digits: usize,
}

impl std::fmt::Debug for Hoisted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hoisted")
            .field("params", &self.params.name())
            .field("limbs", &self.limbs)
            .field("digits", &self.num_digits)
            .finish_non_exhaustive()
    }
}

/// Runs `f` on a per-thread scratch buffer of at least `len` words (contents unspecified), so
/// that rotations do not allocate and page-fault their temporaries on every call.
fn with_scratch<T>(len: usize, f: impl FnOnce(&mut [u64]) -> T) -> T {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0);
            }
            f(&mut buf[..len])
        }
        // Re-entered (not done today): fall back to a fresh buffer.
        Err(_) => f(&mut vec![0u64; len]),
    })
}

/// The indices into `active` (limb-major) of limb i's digits; the first has offset 0.
fn limb_digits(active: &[(usize, u32)], i: usize) -> std::ops::Range<usize> {
    let start = active.partition_point(|&(l, _)| l < i);
    let end = active.partition_point(|&(l, _)| l <= i);
    debug_assert!(start == end || active[start].1 == 0);
    start..end
}

/// Every limb's digits of c1 in NTT form (see [`decompose_limb`]) into `digits` (digit-major,
/// then limb-major over `limbs` primes); `coeff` is n words of scratch.
fn decompose(
    params: &Parameters,
    c1: &[u64],
    active: &[(usize, u32)],
    limbs: usize,
    coeff: &mut [u64],
    digits: &mut [u64],
) {
    let n = params.n;
    for i in 0..limbs {
        let range = limb_digits(active, i);
        let out = &mut digits[range.start * limbs * n..range.end * limbs * n];
        decompose_limb(params, c1, i, range, limbs, coeff, out);
    }
}

/// Writes NTT_{q_k}(d_j) for every digit j of limb i (`range` indexes `params.digits`) and
/// every k < `limbs` into `out[(j·limbs + k)·n ..][..n]`; `coeff` is n words of scratch.
///
/// On its own prime (k = i) the offset-0 digit is not transformed and its slot is left as is:
/// the key switch multiplies NTT(c1_i), c1's own limb, in its place, and the Galois keys of the higher digits on that prime are stored folded
/// (K_j − 2^{off_j}·K_0, see [`GaloisKey::from_parts`]), which gives the same key-switching sum
/// since NTT(c1_i) = Σ_j 2^{off_j}·NTT(d_j) mod q_i. So a limb with m digits costs
/// m·limbs − 1 forward transforms.
fn decompose_limb(
    params: &Parameters,
    c1: &[u64],
    i: usize,
    range: std::ops::Range<usize>,
    limbs: usize,
    coeff: &mut [u64],
    out: &mut [u64],
) {
    let n = params.n;
    let c1_i = &c1[i * n..(i + 1) * n];
    coeff.copy_from_slice(c1_i);
    params.plans[i].inverse(coeff);
    let w = params.decomp_bits;
    let mask = if w >= 64 { u64::MAX } else { (1u64 << w) - 1 };
    for (j, t) in range.enumerate() {
        let off = params.digits[t].1;
        for (k, plan) in params.plans[..limbs].iter().enumerate() {
            if off == 0 && k == i {
                continue;
            }
            let dst = &mut out[(j * limbs + k) * n..(j * limbs + k + 1) * n];
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
            // Digits are only ever multiplied (key-switching sums): lazy values will do.
            plan.forward_lazy(dst);
        }
    }
}

/// σ_g applied to the accumulated (c0 + Σ D⊙π⁻¹(b), Σ D⊙π⁻¹(a)): the gather π_g per limb.
fn finish_rotation(
    params: &Arc<Parameters>,
    key: &GaloisKey,
    limbs: usize,
    acc0: &[u64],
    acc1: &[u64],
) -> Ciphertext {
    let n = params.n;
    // Filled by appending gathers: no zeroing pass before the gather.
    let gather = |acc: &[u64]| {
        let mut out = Vec::with_capacity(limbs * n);
        for a in acc.chunks_exact(n).take(limbs) {
            key.perm.gather_extend(a, &mut out);
        }
        out
    };
    let (out0, out1) = (gather(acc0), gather(acc1));
    Ciphertext {
        params: params.clone(),
        limbs,
        c0: out0,
        c1: out1,
        seed: None,
    }
}

/// A ciphertext's c0, c1 and the digits of c1 in NTT form (digit-major, then limb-major over
/// `limbs` primes; the slot of each limb's offset-0 digit on its own prime is unused: that
/// digit's transform there is c1's own limb, see [`decompose_limb`]).
struct Decomposed<'a> {
    c0: &'a [u64],
    c1: &'a [u64],
    digits: &'a [u64],
    num_digits: usize,
    limbs: usize,
}

impl GaloisKey {
    /// Limb k of (c0 + Σ_t D_t ⊙ π⁻¹(b_t), Σ_t D_t ⊙ π⁻¹(a_t)) into (a0, a1): the key-switched
    /// σ_g before its gather π_g; each half is one pass (`mul_prepared_sum`).
    fn key_switch_limb(
        &self,
        params: &Parameters,
        ct: &Decomposed<'_>,
        k: usize,
        a0: &mut [u64],
        a1: &mut [u64],
    ) {
        let n = params.n;
        fn terms<'a>(
            params: &Parameters,
            ct: &Decomposed<'a>,
            k: usize,
            key: &'a [u64],
            shoup: &'a [u64],
        ) -> Vec<[&'a [u64]; 3]> {
            let (n, limbs, ml) = (params.n, ct.limbs, params.max_level());
            (0..ct.num_digits)
                .map(|t| {
                    let d = if params.digits[t] == (k, 0) {
                        &ct.c1[k * n..(k + 1) * n]
                    } else {
                        &ct.digits[(t * limbs + k) * n..(t * limbs + k + 1) * n]
                    };
                    let ko = (t * ml + k) * n;
                    [d, &key[ko..ko + n], &shoup[ko..ko + n]]
                })
                .collect()
        }
        let plan = &params.plans[k];
        let c0_k = &ct.c0[k * n..(k + 1) * n];
        let b_terms = terms(params, ct, k, &self.b_perm, &self.b_perm_shoup);
        plan.mul_prepared_sum(a0, SumBase::From(c0_k), &b_terms);
        let a_terms = terms(params, ct, k, &self.a_perm, &self.a_perm_shoup);
        plan.mul_prepared_sum(a1, SumBase::Zero, &a_terms);
    }
}

impl Hoisted {
    fn decomposed(&self) -> Decomposed<'_> {
        Decomposed {
            c0: &self.c0,
            c1: &self.c1,
            digits: &self.digits,
            num_digits: self.num_digits,
            limbs: self.limbs,
        }
    }

    /// Limb k of the key-switched σ_g before its gather (see [`GaloisKey::key_switch_limb`]).
    fn key_switch_limb(&self, key: &GaloisKey, k: usize, a0: &mut [u64], a1: &mut [u64]) {
        key.key_switch_limb(&self.params, &self.decomposed(), k, a0, a1);
    }

    /// Decomposes `ct`'s c1.
    pub fn new(ct: &Ciphertext) -> Result<Hoisted> {
        let params = &ct.params;
        let (n, limbs) = (params.n, ct.limbs);
        let active = active_digits(params, limbs);
        let mut digits = vec![0u64; active.len() * limbs * n];
        with_scratch(n, |coeff| {
            decompose(params, &ct.c1, &active, limbs, coeff, &mut digits)
        });
        Ok(Hoisted {
            params: params.clone(),
            limbs,
            c0: ct.c0.clone(),
            c1: ct.c1.clone(),
            num_digits: active.len(),
            digits,
        })
    }

    /// σ_g of the decomposed ciphertext, key-switched back to s.
    pub fn apply_galois(&self, keys: &GaloisKeys, g: usize) -> Result<Ciphertext> {
        let params = &self.params;
        check_same(params, &keys.params)?;
        check_galois(params, g)?;
        let (n, limbs) = (params.n, self.limbs);
        if g == 1 {
            return Ok(Ciphertext {
                params: params.clone(),
                limbs,
                c0: self.c0.clone(),
                c1: self.c1.clone(),
                seed: None,
            });
        }
        let key = keys.keys.get(&g).ok_or(HeError::MissingGaloisKey { g })?;
        Ok(with_scratch(2 * limbs * n, |buf| {
            let (acc0, acc1) = buf.split_at_mut(limbs * n);
            for (k, (a0, a1)) in acc0
                .chunks_exact_mut(n)
                .zip(acc1.chunks_exact_mut(n))
                .enumerate()
            {
                self.key_switch_limb(key, k, a0, a1);
            }
            finish_rotation(params, key, limbs, acc0, acc1)
        }))
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
        check_same(params, &pt.params)?;
        check_same(params, &acc.params)?;
        if acc.limbs != self.limbs {
            return Err(HeError::ParameterMismatch {
                expected: format!("level {}", self.limbs),
                found: format!("level {}", acc.limbs),
            });
        }
        let g = params.galois_element_for_step(step);
        let (n, limbs) = (params.n, self.limbs);
        if g == 1 {
            let ct = Ciphertext {
                params: params.clone(),
                limbs,
                c0: self.c0.clone(),
                c1: self.c1.clone(),
                seed: None,
            };
            return acc.mul_plain_acc(&ct, pt);
        }
        let key = keys.keys.get(&g).ok_or(HeError::MissingGaloisKey { g })?;
        with_scratch(4 * n, |buf| {
            let (a, r) = buf.split_at_mut(2 * n);
            let (a0, a1) = a.split_at_mut(n);
            let (r0, r1) = r.split_at_mut(n);
            for (k, plan) in params.plans[..limbs].iter().enumerate() {
                let rg = k * n..(k + 1) * n;
                self.key_switch_limb(key, k, a0, a1);
                key.perm.gather(a0, r0);
                key.perm.gather(a1, r1);
                plan.mul_prepared_pair(
                    [&mut acc.c0[rg.clone()], &mut acc.c1[rg.clone()]],
                    [r0, r1],
                    (&pt.ntt[rg.clone()], &pt.shoup[rg]),
                    true,
                );
            }
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
