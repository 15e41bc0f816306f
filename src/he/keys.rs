//! Secret key (ternary, zeroized on drop), symmetric-key encryption with seeded `a`, decryption
//! and noise measurement.
use super::ciphertext::Ciphertext;
use super::encoding::Plaintext;
use super::error::{HeError, Result};
use super::noise::NoiseMeasurement;
use super::params::Parameters;
use super::sampling::{self, Seed};
use rand_chacha::rand_core::CryptoRng;
use std::sync::Arc;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Stream index of a ciphertext's `a` expanded from its seed.
pub(crate) const STREAM_CIPHERTEXT: u64 = 0;

/// The client's secret key: a uniform ternary polynomial, kept also in NTT form per prime.
/// Every copy of the secret is overwritten with zeros when the key is dropped; `Debug` prints
/// no key material.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey {
    #[zeroize(skip)]
    pub(crate) params: Arc<Parameters>,
    pub(crate) coeffs: Vec<i8>,
    pub(crate) ntt: Vec<u64>,
    pub(crate) ntt_shoup: Vec<u64>,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("params", &self.params.name())
            .finish_non_exhaustive()
    }
}

pub(crate) fn check_same(a: &Parameters, b: &Parameters) -> Result<()> {
    if a.id != b.id {
        return Err(HeError::ParameterMismatch {
            expected: a.name().into(),
            found: b.name().into(),
        });
    }
    Ok(())
}

impl SecretKey {
    /// Samples a fresh ternary secret key.
    pub fn generate<R: CryptoRng + ?Sized>(params: &Arc<Parameters>, rng: &mut R) -> SecretKey {
        let n = params.n;
        let limbs = params.max_level();
        let coeffs = sampling::sample_ternary(rng, n);
        let mut wide: Vec<i64> = coeffs.iter().map(|&c| c as i64).collect();
        let mut ntt = vec![0u64; limbs * n];
        sampling::lift_signed(params, &wide, limbs, &mut ntt);
        wide.zeroize();
        sampling::forward_limbs(params, &mut ntt, limbs);
        let mut ntt_shoup = Vec::with_capacity(limbs * n);
        for (k, plan) in params.plans.iter().enumerate() {
            ntt_shoup.extend(plan.prepare(&ntt[k * n..(k + 1) * n]));
        }
        SecretKey {
            params: params.clone(),
            coeffs,
            ntt,
            ntt_shoup,
        }
    }

    /// The parameter set.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }

    /// out = a ⊙ s per limb (NTT form).
    pub(crate) fn mul_s(&self, a: &[u64], out: &mut [u64], limbs: usize) {
        let n = self.params.n;
        for (k, plan) in self.params.plans[..limbs].iter().enumerate() {
            let r = k * n..(k + 1) * n;
            plan.mul_prepared(
                &mut out[r.clone()],
                &a[r.clone()],
                &self.ntt[r.clone()],
                &self.ntt_shoup[r],
            );
        }
    }

    /// Symmetric-key encryption: c1 = a (expanded from a fresh 32-byte seed, which is what
    /// gets serialised), c0 = −a·s + e + round(q·m/p). Both halves in NTT form.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &self,
        pt: &Plaintext,
        rng: &mut R,
    ) -> Result<Ciphertext> {
        let params = &self.params;
        check_same(params, &pt.params)?;
        let (n, limbs) = (params.n, params.max_level());
        let seed: Seed = sampling::fresh_seed(rng);
        let a = sampling::expand_uniform(params, &seed, STREAM_CIPHERTEXT, limbs);
        let mut e = sampling::sample_cbd(rng, n);
        let mut c0 = pt.scaled_plus(limbs, Some(&e))?;
        e.zeroize();
        let mut tmp = vec![0u64; limbs * n];
        sampling::forward_limbs(params, &mut c0, limbs);
        self.mul_s(&a, &mut tmp, limbs);
        sampling::sub_limbs(params, &mut c0, &tmp, limbs);
        tmp.zeroize();
        Ok(Ciphertext {
            params: params.clone(),
            limbs,
            c0,
            c1: a,
            seed: Some(seed),
        })
    }

    /// c0 + c1·s in coefficient form, limb-major.
    fn phase(&self, ct: &Ciphertext) -> Result<Vec<u64>> {
        check_same(&self.params, &ct.params)?;
        let (n, limbs) = (self.params.n, ct.limbs);
        let mut x = ct.c0.clone();
        for (k, plan) in self.params.plans[..limbs].iter().enumerate() {
            let r = k * n..(k + 1) * n;
            plan.mul_acc_prepared(
                &mut x[r.clone()],
                &ct.c1[r.clone()],
                &self.ntt[r.clone()],
                &self.ntt_shoup[r],
            );
        }
        sampling::inverse_limbs(&self.params, &mut x, limbs);
        Ok(x)
    }

    /// Decrypts to the message polynomial mod p: m = round(p·x/q) mod p with x = c0 + c1·s,
    /// computed from the RNS residues by Garner's mixed radix and a 2^−s fixed-point scale.
    pub fn decrypt(&self, ct: &Ciphertext) -> Result<Plaintext> {
        let mut x = self.phase(ct)?;
        let coeffs = self.scale_round(&x, ct.limbs)?;
        x.zeroize();
        Ok(Plaintext {
            params: self.params.clone(),
            coeffs,
        })
    }

    fn scale_round(&self, x: &[u64], limbs: usize) -> Result<Vec<u64>> {
        let params = &self.params;
        let lvl = params.level_ctx(limbs)?;
        // p·x/q < p, so the rounded quotient t is at most p: one subtraction reduces it.
        let (n, p) = (params.n, params.p);
        let half = 1u128 << (lvl.shift - 1);
        // s = 126 − bits(p) ≥ 96 (p < 2^30), so the quotient lives in the high word.
        debug_assert!(lvl.shift >= 64);
        let hi_shift = lvl.shift - 64;
        let mut out = Vec::with_capacity(n);
        match lvl.garner {
            None => {
                for &x0 in &x[..n] {
                    let sum = x0 as u128 * lvl.frac[0] + half;
                    let t = ((sum >> 64) as u64) >> hi_shift;
                    out.push(if t >= p { t - p } else { t });
                }
            }
            Some((_, inv)) => {
                let m1 = params.plans[1].modulus();
                let inv_s = m1.shoup(inv);
                let q1 = m1.value();
                let small = params.moduli[0] < 2 * q1;
                for (&x0, &x1) in x[..n].iter().zip(&x[n..2 * n]) {
                    let x0r = if !small {
                        m1.reduce(x0)
                    } else if x0 >= q1 {
                        x0 - q1
                    } else {
                        x0
                    };
                    let k = m1.mul_shoup(m1.sub(x1, x0r), inv, inv_s);
                    let sum = x0 as u128 * lvl.frac[0] + k as u128 * lvl.frac[1] + half;
                    let t = ((sum >> 64) as u64) >> hi_shift;
                    out.push(if t >= p { t - p } else { t });
                }
            }
        }
        Ok(out)
    }

    /// The invariant noise vector v (centered, one entry per coefficient), for analysis and
    /// tests of flooding. It reveals the noise, so only the key holder can compute it.
    pub fn noise_vector(&self, ct: &Ciphertext) -> Result<Vec<i128>> {
        let params = &self.params;
        let mut x = self.phase(ct)?;
        let m = self.scale_round(&x, ct.limbs)?;
        let lvl = params.level_ctx(ct.limbs)?;
        let n = params.n;
        let p = params.p as u128;
        let mut out = Vec::with_capacity(n);
        for (i, &mi) in m.iter().enumerate().take(n) {
            let xi = self.crt(&x, i, ct.limbs);
            let mi = mi as u128;
            let target = lvl.delta * mi + (lvl.r_t as u128 * mi + p / 2) / p;
            let v = if xi >= target {
                xi - target
            } else {
                xi + lvl.q - target
            };
            out.push(if v > lvl.q / 2 {
                -((lvl.q - v) as i128)
            } else {
                v as i128
            });
        }
        x.zeroize();
        Ok(out)
    }

    fn crt(&self, x: &[u64], i: usize, limbs: usize) -> u128 {
        let n = self.params.n;
        if limbs == 1 {
            return x[i] as u128;
        }
        let m1 = self.params.plans[1].modulus();
        let inv = self.params.levels[1].garner.map_or(0, |g| g.1);
        let k = m1.mul(m1.sub(x[n + i], m1.reduce(x[i])), inv);
        x[i] as u128 + self.params.moduli[0] as u128 * k as u128
    }

    /// Measures the invariant noise v = c0 + c1·s − round(q·m/p) (mod q, centered) of a
    /// ciphertext against the message it decrypts to.
    pub fn noise(&self, ct: &Ciphertext) -> Result<NoiseMeasurement> {
        let v = self.noise_vector(ct)?;
        let max_abs = v.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
        Ok(NoiseMeasurement::new(
            max_abs,
            self.params.decryption_bound(ct.limbs),
        ))
    }
}
