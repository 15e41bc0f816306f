//! RNS polynomials: the limbs of an element of R_q = Z_q[X]/(X^n + 1) modulo each prime of a
//! parameter set, with the representation they are in (coefficients, NTT values, or NTT values
//! with the Shoup constants of a fixed multiplicand).
//!
//! Ciphertext halves, key components, prepared plaintexts and the temporaries of the scheme are
//! all [`Poly`]s; limb k is always the residue modulo `Parameters::moduli()[k]`, so a
//! polynomial with ℓ limbs lives on the first ℓ primes; a key polynomial of a set with a
//! special prime has one more limb, modulo that prime. A `Poly` does not hold its parameter
//! set: the object that owns it (ciphertext, key) does, and hands it to the operations that
//! need the moduli or the NTT plans.
use super::params::Parameters;
use kernels::AlignedVec;
use zeroize::Zeroize;

/// The representation of a [`Poly`]'s limbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Representation {
    /// Coefficients in [0, q_k).
    Coefficient,
    /// NTT values (bit-reversed evaluation order of the kernels' transforms) in [0, q_k).
    Ntt,
    /// NTT values in [0, q_k) together with their Shoup constants for the limb's plan: a
    /// fixed multiplicand (plaintext, key component) prepared for many products.
    Prepared,
}

/// An RNS polynomial: `num_limbs()` limbs of n words, limb-major, in one representation.
///
/// Invariants: the data holds exactly `num_limbs() · n` words; the Shoup constants are present
/// (same layout) exactly when the representation is [`Representation::Prepared`]. Values are
/// reduced modulo their limb's prime, except in the key-switching digits of a decomposition,
/// which are lazy NTT values (below 4q_k, or `NttPlan64::forward_lazy`'s bound; documented
/// where they are made).
#[derive(Clone, PartialEq, Eq)]
pub struct Poly {
    repr: Representation,
    n: usize,
    data: AlignedVec<u64>,
    shoup: AlignedVec<u64>,
}

impl std::fmt::Debug for Poly {
    /// Shape only: a polynomial may be secret (a key, an error), so no value is printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poly")
            .field("repr", &self.repr)
            .field("n", &self.n)
            .field("limbs", &self.num_limbs())
            .finish_non_exhaustive()
    }
}

impl Zeroize for Poly {
    /// Overwrites the values and Shoup constants with zeros and empties both.
    fn zeroize(&mut self) {
        self.data.zeroize();
        self.shoup.zeroize();
    }
}

impl Poly {
    /// The zero polynomial on the first `limbs` primes of `params` (in any representation:
    /// zero is zero in each, and its Shoup constants are zero).
    pub fn zero(params: &Parameters, limbs: usize, repr: Representation) -> Poly {
        debug_assert!(limbs <= params.key_limbs());
        let len = limbs * params.n;
        Poly {
            repr,
            n: params.n,
            data: AlignedVec::zeroed(len),
            shoup: if repr == Representation::Prepared {
                AlignedVec::zeroed(len)
            } else {
                AlignedVec::new()
            },
        }
    }

    /// An empty polynomial (no limbs), e.g. a scratch buffer before its first use.
    pub(crate) const fn empty() -> Poly {
        Poly {
            repr: Representation::Coefficient,
            n: 0,
            data: AlignedVec::new(),
            shoup: AlignedVec::new(),
        }
    }

    /// Wraps limb-major `data` (a whole number of limbs of n words, reduced) in `repr`, which
    /// must not be [`Representation::Prepared`] (see [`Poly::prepare`]).
    pub(crate) fn from_limbs(n: usize, data: AlignedVec<u64>, repr: Representation) -> Poly {
        debug_assert!(n > 0 && data.len().is_multiple_of(n));
        debug_assert!(repr != Representation::Prepared);
        Poly {
            repr,
            n,
            data,
            shoup: AlignedVec::new(),
        }
    }

    /// Reshapes a scratch polynomial to `limbs` limbs of n words in `repr` (not prepared),
    /// reusing its allocation; the values are unspecified.
    pub(crate) fn reshape(&mut self, n: usize, limbs: usize, repr: Representation) {
        debug_assert!(repr != Representation::Prepared);
        self.n = n;
        self.repr = repr;
        self.shoup.clear();
        self.data.resize(limbs * n, 0);
    }

    /// The representation.
    pub fn representation(&self) -> Representation {
        self.repr
    }

    /// Ring dimension n (words per limb).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of limbs (primes).
    pub fn num_limbs(&self) -> usize {
        self.data.len().checked_div(self.n).unwrap_or(0)
    }

    /// Limb k: the n residues modulo q_k.
    pub fn limb(&self, k: usize) -> &[u64] {
        &self.data[k * self.n..(k + 1) * self.n]
    }

    /// Limb k, mutable. Changing a prepared polynomial's values would invalidate its Shoup
    /// constants, so it must not be prepared.
    pub(crate) fn limb_mut(&mut self, k: usize) -> &mut [u64] {
        debug_assert!(self.repr != Representation::Prepared);
        &mut self.data[k * self.n..(k + 1) * self.n]
    }

    /// Limb k's values and Shoup constants (a prepared polynomial only).
    pub(crate) fn prepared_limb(&self, k: usize) -> (&[u64], &[u64]) {
        debug_assert_eq!(self.repr, Representation::Prepared);
        let r = k * self.n..(k + 1) * self.n;
        (&self.data[r.clone()], &self.shoup[r])
    }

    /// The limbs in order.
    pub fn limbs(&self) -> std::slice::ChunksExact<'_, u64> {
        self.data.chunks_exact(self.n.max(1))
    }

    /// The limbs in order, mutable (not prepared, see [`Poly::limb_mut`]).
    pub(crate) fn limbs_mut(&mut self) -> std::slice::ChunksExactMut<'_, u64> {
        debug_assert!(self.repr != Representation::Prepared);
        self.data.chunks_exact_mut(self.n.max(1))
    }

    /// Whether the values and Shoup constants are gone (after [`Zeroize::zeroize`]).
    #[cfg(test)]
    pub(crate) fn is_wiped(&self) -> bool {
        self.data.is_empty() && self.shoup.is_empty()
    }

    /// Writes a signed small polynomial (|v| < every q_k; n values) into every limb, in
    /// coefficient form.
    pub(crate) fn set_signed(&mut self, params: &Parameters, vals: &[i64]) {
        debug_assert_eq!(vals.len(), self.n);
        self.repr = Representation::Coefficient;
        self.shoup.clear();
        for (limb, &q) in self.data.chunks_exact_mut(self.n).zip(&params.all_moduli) {
            for (o, &v) in limb.iter_mut().zip(vals) {
                debug_assert!(v.unsigned_abs() < q);
                // Branch-free: v mod q = v + q·[v < 0].
                *o = (v as u64).wrapping_add(q & ((v >> 63) as u64));
            }
        }
    }

    /// A signed small polynomial (|v| < every q_k) on the first `limbs` primes, in coefficient
    /// form.
    pub(crate) fn lift_signed(params: &Parameters, vals: &[i64], limbs: usize) -> Poly {
        let mut p = Poly::zero(params, limbs, Representation::Coefficient);
        p.set_signed(params, vals);
        p
    }

    /// A signed wide polynomial (|v| < 2^127) on the first `limbs` primes, in coefficient form.
    pub(crate) fn lift_wide(params: &Parameters, vals: &[i128], limbs: usize) -> Poly {
        let mut p = Poly::zero(params, limbs, Representation::Coefficient);
        for (limb, &q) in p.data.chunks_exact_mut(p.n).zip(&params.all_moduli) {
            let q128 = q as i128;
            for (o, &v) in limb.iter_mut().zip(vals) {
                *o = v.rem_euclid(q128) as u64;
            }
        }
        p
    }

    /// The wide signed polynomial hi·2^64 + lo (|hi| < 2^127) on the first `limbs` primes, in
    /// coefficient form.
    pub(crate) fn lift_split(params: &Parameters, hi: &[i128], lo: &[u64], limbs: usize) -> Poly {
        let mut p = Poly::zero(params, limbs, Representation::Coefficient);
        for (limb, plan) in p.data.chunks_exact_mut(p.n).zip(&params.plans) {
            let md = plan.modulus();
            let q = md.value() as i128;
            let r64 = md.reduce_u128(1u128 << 64);
            for ((o, &h), &l) in limb.iter_mut().zip(hi).zip(lo) {
                let h = h.rem_euclid(q) as u64;
                *o = md.add(md.mul(h, r64), md.reduce(l));
            }
        }
        p
    }

    /// Divides by the modulus of the last limb and drops it (NTT form): with ℓ = num_limbs − 1
    /// and that limb modulo `all_moduli[last_prime]` = Q_last, each limb k < ℓ becomes
    /// (x_k − ⟦x_ℓ⟧)·Q_last⁻¹ mod q_k, ⟦·⟧ the centered residue: round(x/Q_last) with
    /// |rounding| ≤ 1/2 per coefficient. The modulus switch and hybrid key switching's ModDown.
    pub(crate) fn divide_drop_last(
        &mut self,
        params: &Parameters,
        last_prime: usize,
    ) -> std::result::Result<(), super::error::HeError> {
        debug_assert_eq!(self.repr, Representation::Ntt);
        let l = self.num_limbs() - 1;
        let q_last = params.all_moduli[last_prime];
        let mut last = self.limb(l).to_vec();
        params.plans[last_prime].inverse(&mut last);
        let mut t = vec![0u64; self.n];
        for k in 0..l {
            let plan = &params.plans[k];
            let md = plan.modulus();
            let q_last_k = md.reduce(q_last);
            if plan.has_compact() && q_last < 1 << 62 && md.value() >= 1 << 12 {
                // The per-ISA loop with a double-precision quotient.
                kernels::vecops::centered_mod(&mut t, &last, q_last, md.value());
            } else {
                for (d, &v) in t.iter_mut().zip(&last) {
                    *d = if v > q_last / 2 {
                        // v − Q_last (negative) mod q_k
                        md.sub(md.reduce(v), q_last_k)
                    } else {
                        md.reduce(v)
                    };
                }
            }
            plan.forward(&mut t);
            let inv = md
                .inv(q_last_k)
                .ok_or_else(|| super::error::HeError::InvalidParameters {
                    reason: "primes not coprime".into(),
                })?;
            if plan.has_compact() {
                // q_k < 2^50: the per-ISA loop with a double-precision quotient.
                kernels::vecops::sub_mul_const_mod(self.limb_mut(k), &t, inv, md.value());
            } else {
                let inv_s = md.shoup(inv);
                for (d, &tv) in self.limb_mut(k).iter_mut().zip(&t) {
                    *d = md.mul_shoup(md.sub(*d, tv), inv, inv_s);
                }
            }
        }
        self.data.truncate(l * self.n);
        Ok(())
    }

    /// Coefficient → NTT form, every limb.
    pub(crate) fn forward(&mut self, params: &Parameters) {
        debug_assert_eq!(self.repr, Representation::Coefficient);
        for (limb, plan) in self.data.chunks_exact_mut(self.n).zip(&params.plans) {
            plan.forward(limb);
        }
        self.repr = Representation::Ntt;
    }

    /// NTT → coefficient form, every limb.
    pub(crate) fn inverse(&mut self, params: &Parameters) {
        debug_assert_eq!(self.repr, Representation::Ntt);
        for (limb, plan) in self.data.chunks_exact_mut(self.n).zip(&params.plans) {
            plan.inverse(limb);
        }
        self.repr = Representation::Coefficient;
    }

    /// NTT → prepared: computes each limb's Shoup constants for its plan.
    pub(crate) fn prepare(mut self, params: &Parameters) -> Poly {
        self.prepare_in_place(params);
        self
    }

    /// [`Poly::prepare`] in place, reusing the Shoup constants' allocation.
    pub(crate) fn prepare_in_place(&mut self, params: &Parameters) {
        debug_assert_eq!(self.repr, Representation::Ntt);
        self.shoup.resize(self.data.len(), 0);
        for ((limb, out), plan) in self
            .data
            .chunks_exact(self.n)
            .zip(self.shoup.chunks_exact_mut(self.n))
            .zip(&params.plans)
        {
            plan.prepare_into(limb, out);
        }
        self.repr = Representation::Prepared;
    }

    /// self += other limb-wise (same representation, values in [0, q) → [0, q); a prepared
    /// `other` contributes its values): `kernels::vecops::add_mod`, built per ISA.
    pub(crate) fn add_assign(&mut self, params: &Parameters, other: &Poly) {
        self.check_operand(other);
        for ((x, y), &q) in self
            .limbs_mut()
            .zip(other.data.chunks_exact(other.n))
            .zip(&params.all_moduli)
        {
            kernels::vecops::add_mod(x, y, q);
        }
    }

    /// self −= other limb-wise (as [`Poly::add_assign`]).
    pub(crate) fn sub_assign(&mut self, params: &Parameters, other: &Poly) {
        self.check_operand(other);
        for ((x, y), &q) in self
            .limbs_mut()
            .zip(other.data.chunks_exact(other.n))
            .zip(&params.all_moduli)
        {
            kernels::vecops::sub_mod(x, y, q);
        }
    }

    /// −self (same representation, not prepared).
    pub(crate) fn neg(&self, params: &Parameters) -> Poly {
        let mut r = Poly {
            repr: self.repr,
            n: self.n,
            data: AlignedVec::zeroed(self.data.len()),
            shoup: AlignedVec::new(),
        };
        r.sub_assign(params, self);
        r
    }

    /// self = a ⊙ b limb-wise over self's limbs (NTT form; b prepared, with at least as many
    /// limbs).
    pub(crate) fn set_product(&mut self, params: &Parameters, a: &Poly, b: &Poly) {
        debug_assert_eq!(a.repr, Representation::Ntt);
        self.repr = Representation::Ntt;
        for (k, (out, plan)) in self.limbs_mut().zip(&params.plans).enumerate() {
            let (bk, bs) = b.prepared_limb(k);
            plan.mul_prepared(out, a.limb(k), bk, bs);
        }
    }

    /// self += a ⊙ b limb-wise over self's limbs (NTT form; b prepared, with at least as many
    /// limbs).
    pub(crate) fn add_product(&mut self, params: &Parameters, a: &Poly, b: &Poly) {
        debug_assert!(self.repr == Representation::Ntt && a.repr == Representation::Ntt);
        for (k, (acc, plan)) in self.limbs_mut().zip(&params.plans).enumerate() {
            let (bk, bs) = b.prepared_limb(k);
            plan.mul_acc_prepared(acc, a.limb(k), bk, bs);
        }
    }

    fn check_operand(&self, other: &Poly) {
        debug_assert_eq!(self.n, other.n);
        debug_assert_eq!(self.data.len(), other.data.len());
        debug_assert!(
            self.repr == other.repr
                || (self.repr == Representation::Ntt && other.repr == Representation::Prepared)
        );
    }
}
