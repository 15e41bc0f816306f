//! Ciphertexts (always in NTT form, one limb per prime) and their additive and ct×pt
//! operations, plus the modulus switch to fewer primes.
use super::encoding::{Plaintext, PreparedPlaintext};
use super::error::{HeError, Result};
use super::params::{check_same, Parameters};
use super::poly::{Poly, Representation};
use super::sampling::Seed;
use std::sync::Arc;

/// A BFV ciphertext (c0, c1) with c0 + c1·s = (q/p)·m + v (mod q), both halves in NTT form on
/// the same first primes (its level). A fresh ciphertext remembers the seed of its
/// uniform half c1 so that serialisation sends 32 bytes instead of c1.
#[derive(Clone, PartialEq, Eq)]
pub struct Ciphertext {
    pub(crate) params: Arc<Parameters>,
    pub(crate) c0: Poly,
    pub(crate) c1: Poly,
    pub(crate) seed: Option<Seed>,
}

impl zeroize::Zeroize for Ciphertext {
    /// Overwrites both halves with zeros and empties them (for ciphertexts that carry a secret
    /// in the clear, such as a transparent encryption of a server's mask).
    fn zeroize(&mut self) {
        self.c0.zeroize();
        self.c1.zeroize();
    }
}

impl std::fmt::Debug for Ciphertext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ciphertext")
            .field("params", &self.params.name())
            .field("limbs", &self.level())
            .field("seeded", &self.seed.is_some())
            .finish_non_exhaustive()
    }
}

impl Ciphertext {
    /// The transparent encryption of zero at `limbs` primes: an accumulator to add into.
    /// (Never send it as is: re-randomise first, see [`crate::he::PublicKey::make_private`].)
    pub fn zero(params: &Arc<Parameters>, limbs: usize) -> Result<Ciphertext> {
        params.level_ctx(limbs)?;
        Ok(Ciphertext::from_halves(
            params,
            Poly::zero(params, limbs, Representation::Ntt),
            Poly::zero(params, limbs, Representation::Ntt),
        ))
    }

    /// The unseeded ciphertext (c0, c1) (both in NTT form, on the same primes).
    pub(crate) fn from_halves(params: &Arc<Parameters>, c0: Poly, c1: Poly) -> Ciphertext {
        debug_assert_eq!(c0.representation(), Representation::Ntt);
        debug_assert_eq!(c1.representation(), Representation::Ntt);
        debug_assert_eq!(c0.num_limbs(), c1.num_limbs());
        Ciphertext {
            params: params.clone(),
            c0,
            c1,
            seed: None,
        }
    }

    /// The parameter set.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }

    /// Number of primes the ciphertext lives on.
    pub fn level(&self) -> usize {
        self.c0.num_limbs()
    }

    /// Whether c1 is still the expansion of a seed (a fresh, unmodified encryption).
    pub fn is_seeded(&self) -> bool {
        self.seed.is_some()
    }

    fn check_compatible(&self, other: &Ciphertext) -> Result<()> {
        check_same(&self.params, &other.params)?;
        if self.level() != other.level() {
            return Err(HeError::ParameterMismatch {
                expected: format!("level {}", self.level()),
                found: format!("level {}", other.level()),
            });
        }
        Ok(())
    }

    /// self += other.
    pub fn add_assign(&mut self, other: &Ciphertext) -> Result<()> {
        self.check_compatible(other)?;
        self.c0.add_assign(&self.params, &other.c0);
        self.c1.add_assign(&self.params, &other.c1);
        self.seed = None;
        Ok(())
    }

    /// self −= other.
    pub fn sub_assign(&mut self, other: &Ciphertext) -> Result<()> {
        self.check_compatible(other)?;
        self.c0.sub_assign(&self.params, &other.c0);
        self.c1.sub_assign(&self.params, &other.c1);
        self.seed = None;
        Ok(())
    }

    /// self + other.
    pub fn add(&self, other: &Ciphertext) -> Result<Ciphertext> {
        let mut r = self.clone();
        r.add_assign(other)?;
        Ok(r)
    }

    /// self − other.
    pub fn sub(&self, other: &Ciphertext) -> Result<Ciphertext> {
        let mut r = self.clone();
        r.sub_assign(other)?;
        Ok(r)
    }

    /// −self.
    pub fn neg(&self) -> Ciphertext {
        let p = &self.params;
        Ciphertext::from_halves(p, self.c0.neg(p), self.c1.neg(p))
    }

    fn scaled_ntt(&self, pt: &Plaintext) -> Result<Poly> {
        check_same(&self.params, &pt.params)?;
        let mut d = pt.scaled(self.level())?;
        d.forward(&self.params);
        Ok(d)
    }

    /// self += Enc(pt) transparently (only c0 changes; a seeded ciphertext stays seeded).
    pub fn add_plain_assign(&mut self, pt: &Plaintext) -> Result<()> {
        let d = self.scaled_ntt(pt)?;
        self.c0.add_assign(&self.params, &d);
        Ok(())
    }

    /// self −= Enc(pt) transparently.
    pub fn sub_plain_assign(&mut self, pt: &Plaintext) -> Result<()> {
        let d = self.scaled_ntt(pt)?;
        self.c0.sub_assign(&self.params, &d);
        Ok(())
    }

    /// self ⊙ pt (SIMD product of the slots; negacyclic product of the coefficients).
    pub fn mul_plain(&self, pt: &PreparedPlaintext) -> Result<Ciphertext> {
        check_same(&self.params, &pt.params)?;
        let limbs = self.level();
        let mut r = Ciphertext::zero(&self.params, limbs)?;
        pt.mul_pair([&mut r.c0, &mut r.c1], [&self.c0, &self.c1], limbs, false);
        Ok(r)
    }

    /// self += ct ⊙ pt (fused multiply-accumulate, no temporary).
    pub fn mul_plain_acc(&mut self, ct: &Ciphertext, pt: &PreparedPlaintext) -> Result<()> {
        self.check_compatible(ct)?;
        check_same(&self.params, &pt.params)?;
        let limbs = self.level();
        pt.mul_pair([&mut self.c0, &mut self.c1], [&ct.c0, &ct.c1], limbs, true);
        self.seed = None;
        Ok(())
    }

    /// Switches to one prime fewer (drops the last): c' = round(c · q'/q), computed per limb as
    /// (c − ⟦c⟧_{q_last}) · q_last⁻¹ with ⟦·⟧ the centered residue. The invariant noise becomes
    /// v·q'/q + e_round with |e_round| ≤ (1 + n)/2 (ternary s).
    pub fn mod_switch_down(&self) -> Result<Ciphertext> {
        if self.level() < 2 {
            return Err(HeError::LevelTooLow {
                level: self.level(),
            });
        }
        let params = &self.params;
        let l = self.level() - 1;
        let (mut c0, mut c1) = (self.c0.clone(), self.c1.clone());
        c0.divide_drop_last(params, l)?;
        c1.divide_drop_last(params, l)?;
        Ok(Ciphertext::from_halves(params, c0, c1))
    }
}
