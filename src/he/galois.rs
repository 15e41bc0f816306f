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
//! π_g on three vectors per limb: Σ π(D)⊙b = π(Σ D⊙π⁻¹(b)).
use super::ciphertext::Ciphertext;
use super::error::{HeError, Result};
use super::keys::{check_same, SecretKey};
use super::params::Parameters;
use super::sampling::{self, Seed};
use kernels::ntt::automorphism_ntt_table;
use rand_chacha::rand_core::CryptoRng;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One key-switching key for σ_g.
#[derive(Clone)]
pub(crate) struct GaloisKey {
    /// π_g as a gather table: π(x)[i] = x[table[i]].
    table: Vec<u32>,
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
        let table = automorphism_ntt_table(n, g)?;
        let nd = params.digits.len();
        let mut b_perm = vec![0u64; nd * limbs * n];
        let mut a_perm = vec![0u64; nd * limbs * n];
        let mut b_perm_shoup = Vec::with_capacity(nd * limbs * n);
        let mut a_perm_shoup = Vec::with_capacity(nd * limbs * n);
        for t in 0..nd {
            let a = sampling::expand_uniform(params, seed, key_stream(g, t), limbs);
            for k in 0..limbs {
                let off = (t * limbs + k) * n;
                for (i, &src) in table.iter().enumerate() {
                    b_perm[off + src as usize] = b[off + i];
                    a_perm[off + src as usize] = a[k * n + i];
                }
                let plan = &params.plans[k];
                b_perm_shoup.extend(plan.prepare(&b_perm[off..off + n]));
                a_perm_shoup.extend(plan.prepare(&a_perm[off..off + n]));
            }
        }
        Ok(GaloisKey {
            table,
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

    /// The Galois elements held.
    pub fn elements(&self) -> Vec<usize> {
        self.keys.keys().copied().collect()
    }

    /// The parameter set.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }

    /// Applies σ_g with key switching.
    pub fn apply_galois(&self, ct: &Ciphertext, g: usize) -> Result<Ciphertext> {
        Hoisted::new(ct)?.apply_galois(self, g)
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

impl Hoisted {
    /// Decomposes `ct`'s c1.
    pub fn new(ct: &Ciphertext) -> Result<Hoisted> {
        let params = &ct.params;
        let (n, limbs) = (params.n, ct.limbs);
        let w = params.decomp_bits;
        let mask = if w >= 64 { u64::MAX } else { (1u64 << w) - 1 };
        let mut coeff = ct.c1.clone();
        sampling::inverse_limbs(params, &mut coeff, limbs);
        let active: Vec<(usize, u32)> = params
            .digits
            .iter()
            .copied()
            .filter(|&(i, _)| i < limbs)
            .collect();
        let mut digits = vec![0u64; active.len() * limbs * n];
        for (t, &(i, off)) in active.iter().enumerate() {
            let src = &coeff[i * n..(i + 1) * n];
            let whole_limb =
                off == 0 && u64::from(w) >= 64 - u64::from(params.moduli[i].leading_zeros());
            for (k, plan) in params.plans[..limbs].iter().enumerate() {
                let q = plan.q();
                let dst = &mut digits[(t * limbs + k) * n..(t * limbs + k + 1) * n];
                if whole_limb && k == i {
                    // The only digit of limb i is c1 mod q_i itself: already in NTT form.
                    dst.copy_from_slice(&ct.c1[i * n..(i + 1) * n]);
                    continue;
                }
                for (d, &c) in dst.iter_mut().zip(src) {
                    let v = (c >> off) & mask;
                    *d = if v >= q { v - q } else { v };
                }
                plan.forward(dst);
            }
        }
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
        let full = params.max_level();
        let mut acc0 = vec![0u64; limbs * n];
        let mut acc1 = vec![0u64; limbs * n];
        // Digits of limb i < limbs are the first ones in params.digits (limb-major order).
        for t in 0..self.num_digits {
            for (k, plan) in params.plans[..limbs].iter().enumerate() {
                let d = &self.digits[(t * limbs + k) * n..(t * limbs + k + 1) * n];
                let ko = (t * full + k) * n;
                let r = k * n..(k + 1) * n;
                plan.mul_acc_prepared(
                    &mut acc0[r.clone()],
                    d,
                    &key.b_perm[ko..ko + n],
                    &key.b_perm_shoup[ko..ko + n],
                );
                plan.mul_acc_prepared(
                    &mut acc1[r],
                    d,
                    &key.a_perm[ko..ko + n],
                    &key.a_perm_shoup[ko..ko + n],
                );
            }
        }
        let mut c0 = vec![0u64; limbs * n];
        let mut c1 = vec![0u64; limbs * n];
        for (k, plan) in params.plans[..limbs].iter().enumerate() {
            let q = plan.q();
            let r = k * n..(k + 1) * n;
            let (s0, a0, a1) = (&self.c0[r.clone()], &acc0[r.clone()], &acc1[r.clone()]);
            let (o0, o1) = (&mut c0[r.clone()], &mut c1[r]);
            for (i, &src) in key.table.iter().enumerate() {
                let s = src as usize;
                let v = s0[s] + a0[s];
                o0[i] = if v >= q { v - q } else { v };
                o1[i] = a1[s];
            }
        }
        Ok(Ciphertext {
            params: params.clone(),
            limbs,
            c0,
            c1,
            seed: None,
        })
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
