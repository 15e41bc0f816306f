//! Ciphertexts (always in NTT form, one limb per prime) and their additive and ct×pt
//! operations, plus the modulus switch to fewer primes.
use super::encoding::{Plaintext, PreparedPlaintext};
use super::error::{HeError, Result};
use super::keys::check_same;
use super::params::Parameters;
use super::sampling::{self, Seed};
use std::sync::Arc;

/// A BFV ciphertext (c0, c1) with c0 + c1·s = (q/p)·m + v (mod q), both halves in NTT form,
/// limb-major over the first `limbs` primes. A fresh ciphertext remembers the seed of its
/// uniform half c1 so that serialisation sends 32 bytes instead of c1.
#[derive(Clone, PartialEq, Eq)]
pub struct Ciphertext {
    pub(crate) params: Arc<Parameters>,
    pub(crate) limbs: usize,
    pub(crate) c0: Vec<u64>,
    pub(crate) c1: Vec<u64>,
    pub(crate) seed: Option<Seed>,
}

impl std::fmt::Debug for Ciphertext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ciphertext")
            .field("params", &self.params.name())
            .field("limbs", &self.limbs)
            .field("seeded", &self.seed.is_some())
            .finish_non_exhaustive()
    }
}

impl Ciphertext {
    /// The transparent encryption of zero at `limbs` primes: an accumulator to add into.
    /// (Never send it as is: re-randomise first, see [`crate::he::PublicKey::make_private`].)
    pub fn zero(params: &Arc<Parameters>, limbs: usize) -> Result<Ciphertext> {
        params.level_ctx(limbs)?;
        Ok(Ciphertext {
            params: params.clone(),
            limbs,
            c0: vec![0; limbs * params.n],
            c1: vec![0; limbs * params.n],
            seed: None,
        })
    }

    /// The parameter set.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }

    /// Number of primes the ciphertext lives on.
    pub fn level(&self) -> usize {
        self.limbs
    }

    /// Whether c1 is still the expansion of a seed (a fresh, unmodified encryption).
    pub fn is_seeded(&self) -> bool {
        self.seed.is_some()
    }

    fn check_compatible(&self, other: &Ciphertext) -> Result<()> {
        check_same(&self.params, &other.params)?;
        if self.limbs != other.limbs {
            return Err(HeError::ParameterMismatch {
                expected: format!("level {}", self.limbs),
                found: format!("level {}", other.limbs),
            });
        }
        Ok(())
    }

    /// self += other.
    pub fn add_assign(&mut self, other: &Ciphertext) -> Result<()> {
        self.check_compatible(other)?;
        sampling::add_limbs(&self.params, &mut self.c0, &other.c0, self.limbs);
        sampling::add_limbs(&self.params, &mut self.c1, &other.c1, self.limbs);
        self.seed = None;
        Ok(())
    }

    /// self −= other.
    pub fn sub_assign(&mut self, other: &Ciphertext) -> Result<()> {
        self.check_compatible(other)?;
        sampling::sub_limbs(&self.params, &mut self.c0, &other.c0, self.limbs);
        sampling::sub_limbs(&self.params, &mut self.c1, &other.c1, self.limbs);
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
        let mut r = Ciphertext {
            params: self.params.clone(),
            limbs: self.limbs,
            c0: vec![0; self.c0.len()],
            c1: vec![0; self.c1.len()],
            seed: None,
        };
        sampling::sub_limbs(&self.params, &mut r.c0, &self.c0, self.limbs);
        sampling::sub_limbs(&self.params, &mut r.c1, &self.c1, self.limbs);
        r
    }

    fn scaled_ntt(&self, pt: &Plaintext) -> Result<Vec<u64>> {
        check_same(&self.params, &pt.params)?;
        let mut d = pt.scaled(self.limbs)?;
        sampling::forward_limbs(&self.params, &mut d, self.limbs);
        Ok(d)
    }

    /// self += Enc(pt) transparently (only c0 changes; a seeded ciphertext stays seeded).
    pub fn add_plain_assign(&mut self, pt: &Plaintext) -> Result<()> {
        let d = self.scaled_ntt(pt)?;
        sampling::add_limbs(&self.params, &mut self.c0, &d, self.limbs);
        Ok(())
    }

    /// self −= Enc(pt) transparently.
    pub fn sub_plain_assign(&mut self, pt: &Plaintext) -> Result<()> {
        let d = self.scaled_ntt(pt)?;
        sampling::sub_limbs(&self.params, &mut self.c0, &d, self.limbs);
        Ok(())
    }

    /// self ⊙ pt (SIMD product of the slots; negacyclic product of the coefficients).
    pub fn mul_plain(&self, pt: &PreparedPlaintext) -> Result<Ciphertext> {
        check_same(&self.params, &pt.params)?;
        let n = self.params.n;
        let mut r = Ciphertext {
            params: self.params.clone(),
            limbs: self.limbs,
            c0: vec![0; self.c0.len()],
            c1: vec![0; self.c1.len()],
            seed: None,
        };
        for (k, plan) in self.params.plans[..self.limbs].iter().enumerate() {
            let rg = k * n..(k + 1) * n;
            plan.mul_prepared_pair(
                [&mut r.c0[rg.clone()], &mut r.c1[rg.clone()]],
                [&self.c0[rg.clone()], &self.c1[rg.clone()]],
                (&pt.ntt[rg.clone()], &pt.shoup[rg]),
                false,
            );
        }
        Ok(r)
    }

    /// self += ct ⊙ pt (fused multiply-accumulate, no temporary).
    pub fn mul_plain_acc(&mut self, ct: &Ciphertext, pt: &PreparedPlaintext) -> Result<()> {
        self.check_compatible(ct)?;
        check_same(&self.params, &pt.params)?;
        let n = self.params.n;
        for (k, plan) in self.params.plans[..self.limbs].iter().enumerate() {
            let rg = k * n..(k + 1) * n;
            plan.mul_prepared_pair(
                [&mut self.c0[rg.clone()], &mut self.c1[rg.clone()]],
                [&ct.c0[rg.clone()], &ct.c1[rg.clone()]],
                (&pt.ntt[rg.clone()], &pt.shoup[rg]),
                true,
            );
        }
        self.seed = None;
        Ok(())
    }

    /// Switches to one prime fewer (drops the last): c' = round(c · q'/q), computed per limb as
    /// (c − ⟦c⟧_{q_last}) · q_last⁻¹ with ⟦·⟧ the centered residue. The invariant noise becomes
    /// v·q'/q + e_round with |e_round| ≤ (1 + n)/2 (ternary s).
    pub fn mod_switch_down(&self) -> Result<Ciphertext> {
        if self.limbs < 2 {
            return Err(HeError::LevelTooLow { level: self.limbs });
        }
        let params = &self.params;
        let n = params.n;
        let l = self.limbs - 1;
        let q_last = params.moduli[l];
        let mut out = Ciphertext {
            params: params.clone(),
            limbs: l,
            c0: self.c0[..l * n].to_vec(),
            c1: self.c1[..l * n].to_vec(),
            seed: None,
        };
        for (src, dst) in [(&self.c0, &mut out.c0), (&self.c1, &mut out.c1)] {
            let mut last = src[l * n..(l + 1) * n].to_vec();
            params.plans[l].inverse(&mut last);
            for (k, plan) in params.plans[..l].iter().enumerate() {
                let md = plan.modulus();
                let qk = md.value();
                let mut t: Vec<u64> = last
                    .iter()
                    .map(|&v| {
                        if v > q_last / 2 {
                            // v − q_last (negative) mod q_k
                            md.sub(md.reduce(v), md.reduce(q_last))
                        } else {
                            md.reduce(v)
                        }
                    })
                    .collect();
                plan.forward(&mut t);
                let inv = md
                    .inv(q_last % qk)
                    .ok_or_else(|| HeError::InvalidParameters {
                        reason: "primes not coprime".into(),
                    })?;
                let inv_s = md.shoup(inv);
                for (d, &tv) in dst[k * n..(k + 1) * n].iter_mut().zip(&t) {
                    *d = md.mul_shoup(md.sub(*d, tv), inv, inv_s);
                }
            }
        }
        Ok(out)
    }
}
