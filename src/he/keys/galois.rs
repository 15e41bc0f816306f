//! Galois (rotation) keys: their generation and storage. Rotations with them (key switching,
//! hoisting) are in [`crate::he::keyswitch`].
//!
//! Key switching decomposes c1 by RNS limb and, within limb i, into base-2^w digits
//! d_{i,j} ∈ [0, 2^w): c1 ≡ Σ d_{i,j} · 2^{wj} · (q/q_i)·[(q/q_i)⁻¹]_{q_i} (mod q). The key for
//! Galois element g holds, per digit, (b, a) with b = −a·s + e + 2^{wj}·σ_g(s) on limb i and
//! −a·s + e on the other limbs, a expanded from the key set's seed. No special prime: all of q
//! stays with the ciphertext; the price is the additive noise Σ d·e (see
//! [`crate::he::noise`]).
//!
//! With a special prime P (hybrid key switching, as SEAL and fhe.rs do), the digits are the RNS
//! limbs themselves, d_i = [c1]_{q_i} ∈ [0, q_i), and the key for digit i is, modulo q·P,
//! b = −a·s + e + P·σ_g(s) on limb i and −a·s + e on the other limbs and on P's: the sum
//! Σ d_i·(b_i, a_i) is P·σ_g(c1)·s plus Σ d_i·e_i, and dividing by P (ModDown) leaves the
//! error Σ d_i·e_i / P plus a rounding term ([`crate::he::noise::key_switch_bound`]).
//!
//! For hoisting, the keys are also stored pre-permuted by π_g⁻¹ (σ_g in NTT form is the
//! permutation π_g), prepared for products, and folded on each limb's own prime (see
//! [`GaloisKey::from_parts`]).
use super::secret::SecretKey;
use crate::he::error::{HeError, Result};
use crate::he::params::Parameters;
use crate::he::poly::{Poly, Representation};
use crate::he::sampling::{self, Seed};
use kernels::aligned::AlignedVec;
use kernels::ntt::{automorphism_ntt_table, NttPermutation};
use rand_chacha::rand_core::CryptoRng;
use std::collections::BTreeMap;
use std::sync::Arc;
use zeroize::Zeroize;

/// One key-switching key for σ_g: per key-switching digit t (in the order of
/// `Parameters::digits`), polynomials on every prime.
#[derive(Clone)]
pub(crate) struct GaloisKey {
    /// π_g as a gather: π(x)[i] = x[table[i]].
    pub(crate) perm: NttPermutation,
    /// π_g⁻¹(b_t), folded, prepared (the canonical b_t, what is serialised, is made back
    /// from it: [`GaloisKey::canonical_b`]).
    pub(crate) b_perm: Vec<KeyPoly>,
    /// π_g⁻¹(a_t), folded, prepared.
    pub(crate) a_perm: Vec<KeyPoly>,
}

/// A key polynomial as the key-switching sums read it: every limb's values (NTT form), and
/// Shoup constants only for the limbs whose prime has no compact products (q ≥ 2^50, e.g. the
/// special prime): compact limbs take half the memory and half the bandwidth per rotation.
#[derive(Clone)]
pub(crate) struct KeyPoly {
    values: Poly,
    /// Per limb: its Shoup constants, or None where the limb's plan has compact products.
    shoup: Vec<Option<AlignedVec<u64>>>,
}

impl KeyPoly {
    /// Prepares `values` (NTT form, one limb per prime of `params.plans`).
    fn new(params: &Parameters, values: Poly) -> KeyPoly {
        let shoup = values
            .limbs()
            .zip(&params.plans)
            .map(|(limb, plan)| {
                (!plan.has_compact()).then(|| {
                    let mut s = AlignedVec::zeroed(limb.len());
                    plan.prepare_into(limb, &mut s);
                    s
                })
            })
            .collect();
        KeyPoly { values, shoup }
    }

    /// Bytes of memory: values and Shoup constants.
    fn memory_bytes(&self) -> usize {
        8 * (self.values.num_limbs() * self.values.n()
            + self.shoup.iter().flatten().map(|s| s.len()).sum::<usize>())
    }

    /// Limb k's values, with its Shoup constants unless the limb's prime has compact products.
    pub(crate) fn limb(&self, k: usize) -> (&[u64], Option<&[u64]>) {
        (self.values.limb(k), self.shoup[k].as_deref())
    }
}

/// For each limb i whose first digit t0 has offset 0 and each later digit t_j of that limb:
/// digit t_j −= 2^{off_j} · digit t0 on limb i (`subtract`; the folding of
/// [`GaloisKey::from_parts`]) or += (its inverse), in every list of `polys` (one polynomial
/// per digit, NTT form, values reduced).
fn fold_digits(params: &Parameters, polys: &mut [&mut Vec<Poly>], subtract: bool) {
    for (t0, &(i, off0)) in params.digits.iter().enumerate() {
        if off0 != 0 {
            continue;
        }
        let plan = &params.plans[i];
        let md = plan.modulus();
        for (tj, &(li, off)) in params.digits.iter().enumerate().skip(t0 + 1) {
            if li != i {
                break;
            }
            // n copies of ∓2^off mod q_i, with the plan's own Shoup constants.
            let w = md.reduce_u128(1u128 << off);
            let c = vec![if subtract { md.sub(0, w) } else { w }; params.n];
            let cs = plan.prepare(&c);
            for list in polys.iter_mut() {
                let (head, tail) = list.split_at_mut(tj);
                plan.mul_acc_prepared(tail[0].limb_mut(i), head[t0].limb(i), &c, &cs);
            }
        }
    }
}

/// Stream index of digit `digit`'s a in the key for g.
fn key_stream(g: usize, digit: usize) -> u64 {
    ((g as u64) << 16) | digit as u64
}

impl GaloisKey {
    /// Completes a key from its canonical b's (one per digit, NTT form, every prime) and the
    /// seed of its a's.
    pub(crate) fn from_parts(
        params: &Parameters,
        seed: &Seed,
        g: usize,
        b: Vec<Poly>,
    ) -> Result<GaloisKey> {
        let limbs = params.key_limbs();
        let perm = NttPermutation::automorphism(params.n, g)?;
        let table = perm.table();
        let mut b_perm = Vec::with_capacity(b.len());
        let mut a_perm = Vec::with_capacity(b.len());
        for (t, bt) in b.iter().enumerate() {
            let a = sampling::expand_uniform(params, seed, key_stream(g, t), limbs);
            let mut bp = Poly::zero(params, limbs, Representation::Ntt);
            let mut ap = Poly::zero(params, limbs, Representation::Ntt);
            for k in 0..limbs {
                let (bpk, apk) = (bp.limb_mut(k), ap.limb_mut(k));
                for ((&src, &bv), &av) in table.iter().zip(bt.limb(k)).zip(a.limb(k)) {
                    bpk[src as usize] = bv;
                    apk[src as usize] = av;
                }
            }
            b_perm.push(bp);
            a_perm.push(ap);
        }
        // Fold the offset-0 digit of each limb i on its own prime (see
        // `keyswitch::decompose_limb`): there the rotation multiplies NTT(c1_i) =
        // Σ_j 2^{off_j}·D_j by the first key and each higher digit D_j by K_j − 2^{off_j}·K_0,
        // which sums to the same Σ_j D_j ⊙ K_j mod q_i.
        fold_digits(params, &mut [&mut b_perm, &mut a_perm], true);
        let prepare = |v: Vec<Poly>| -> Vec<KeyPoly> {
            v.into_iter().map(|p| KeyPoly::new(params, p)).collect()
        };
        Ok(GaloisKey {
            perm,
            b_perm: prepare(b_perm),
            a_perm: prepare(a_perm),
        })
    }

    /// The canonical b_t (NTT form, every prime) that [`GaloisKey::from_parts`] was given:
    /// `b_perm` unfolded and permuted back by π_g.
    pub(crate) fn canonical_b(&self, params: &Parameters) -> Vec<Poly> {
        let limbs = params.key_limbs();
        let mut folded: Vec<Poly> = self.b_perm.iter().map(|k| k.values.clone()).collect();
        fold_digits(params, &mut [&mut folded], false);
        let table = self.perm.table();
        folded
            .iter()
            .map(|bp| {
                let mut b = Poly::zero(params, limbs, Representation::Ntt);
                for k in 0..limbs {
                    let (src, dst) = (bp.limb(k), b.limb_mut(k));
                    for (d, &t) in dst.iter_mut().zip(table) {
                        *d = src[t as usize];
                    }
                }
                b
            })
            .collect()
    }
}

/// The rotation keys a client generates for the Galois elements a network needs.
#[derive(Clone)]
pub struct GaloisKeys {
    pub(crate) params: Arc<Parameters>,
    /// The seed every key's a's are expanded from (one stream per element and digit).
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

/// Checks that g is a Galois element of the ring (odd, below 2n).
pub(crate) fn check_galois(params: &Parameters, g: usize) -> Result<()> {
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
        let seed = sampling::fresh_seed(rng);
        Self::generate_with_seed(sk, elements, seed, rng)
    }

    /// [`GaloisKeys::generate`] with the a's expanded from `seed` (one stream per element and
    /// digit): sets of one seed can be made and sent part by part, then put together with
    /// [`GaloisKeys::merge`]. The seed must be fresh for the secret key.
    pub(crate) fn generate_with_seed<R: CryptoRng + ?Sized>(
        sk: &SecretKey,
        elements: &[usize],
        seed: Seed,
        rng: &mut R,
    ) -> Result<GaloisKeys> {
        let params = &sk.params;
        let (n, limbs) = (params.n, params.key_limbs());
        let mut keys = BTreeMap::new();
        for &g in elements {
            check_galois(params, g)?;
            if g == 1 || keys.contains_key(&g) {
                continue;
            }
            let table = automorphism_ntt_table(n, g)?;
            let mut b = Vec::with_capacity(params.digits.len());
            let mut e_l = Poly::zero(params, limbs, Representation::Coefficient);
            let mut as_ = Poly::zero(params, limbs, Representation::Ntt);
            for (t, &(i, off)) in params.digits.iter().enumerate() {
                let a = sampling::expand_uniform(params, &seed, key_stream(g, t), limbs);
                let mut e = sampling::sample_cbd(rng, n);
                e_l.set_signed(params, &e);
                e.zeroize();
                e_l.forward(params);
                sk.mul_s(&a, &mut as_);
                let mut bt = e_l.clone();
                bt.sub_assign(params, &as_);
                // + 2^off · σ_g(s) on limb i (P · σ_g(s) with a special prime P).
                let md = params.plans[i].modulus();
                let w = match params.special {
                    Some(sp) => md.reduce(sp),
                    None => md.reduce_u128(1u128 << off),
                };
                let ws = md.shoup(w);
                let s_i = sk.ntt.limb(i);
                for (x, &src) in bt.limb_mut(i).iter_mut().zip(&table) {
                    *x = md.add(*x, md.mul_shoup(s_i[src as usize], w, ws));
                }
                b.push(bt);
            }
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

    /// Adds `other`'s keys: keys of one generation sent in parts (each part serialised by
    /// [`GaloisKeys::subset_to_bytes`]). Refused unless both have the same parameters and
    /// seed and no element in common.
    pub fn merge(&mut self, other: GaloisKeys) -> Result<()> {
        crate::he::params::check_same(&self.params, &other.params)?;
        if self.seed != other.seed {
            return Err(HeError::InvalidRotation {
                reason: "Galois keys of different seeds cannot be merged".into(),
            });
        }
        if let Some(g) = other.keys.keys().find(|g| self.keys.contains_key(g)) {
            return Err(HeError::InvalidRotation {
                reason: format!("Galois element {g} given twice"),
            });
        }
        self.keys.extend(other.keys);
        Ok(())
    }

    /// A set without keys (a model without rotations).
    pub(crate) fn empty(params: &Arc<Parameters>) -> GaloisKeys {
        GaloisKeys {
            params: params.clone(),
            seed: Seed::default(),
            keys: BTreeMap::new(),
        }
    }

    /// Bytes of memory one key of `params` takes (its permuted b and a per digit on every
    /// prime of the key, plus Shoup constants on the primes without compact products).
    pub fn bytes_per_key(params: &Parameters) -> usize {
        let limbs = params.key_limbs();
        let shoup = params.plans[..limbs]
            .iter()
            .filter(|p| !p.has_compact())
            .count();
        2 * params.digits.len() * (limbs + shoup) * params.n * 8
    }

    /// Bytes of memory the keys take (see [`GaloisKeys::bytes_per_key`]).
    pub fn memory_bytes(&self) -> usize {
        self.keys
            .values()
            .flat_map(|k| k.b_perm.iter().chain(&k.a_perm))
            .map(KeyPoly::memory_bytes)
            .sum()
    }

    /// The Galois elements held.
    pub fn elements(&self) -> Vec<usize> {
        self.keys.keys().copied().collect()
    }

    /// The parameter set.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }

    /// The key for g.
    pub(crate) fn key(&self, g: usize) -> Result<&GaloisKey> {
        self.keys.get(&g).ok_or(HeError::MissingGaloisKey { g })
    }
}
