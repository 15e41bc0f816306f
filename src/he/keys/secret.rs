//! Secret key (ternary, zeroized on drop), symmetric-key encryption with seeded `a`, decryption
//! and noise measurement.
use crate::he::ciphertext::Ciphertext;
use crate::he::encoding::Plaintext;
use crate::he::error::Result;
use crate::he::noise::NoiseMeasurement;
use crate::he::params::{check_same, Parameters};
use crate::he::poly::{Poly, Representation};
use crate::he::sampling::{self, Seed};
use rand_chacha::rand_core::CryptoRng;
use std::sync::Arc;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Stream index of a ciphertext's `a` expanded from its seed.
pub(crate) const STREAM_CIPHERTEXT: u64 = 0;

/// The client's secret key: a uniform ternary polynomial, kept also in NTT form on every prime
/// (prepared, as it multiplies every ciphertext it decrypts and every `a` it encrypts). Every
/// copy of the secret is overwritten with zeros when the key is dropped; `Debug` prints
/// no key material.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey {
    #[zeroize(skip)]
    pub(crate) params: Arc<Parameters>,
    pub(crate) coeffs: Vec<i8>,
    /// s in NTT form on every prime (the special prime included), prepared.
    pub(crate) ntt: Poly,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("params", &self.params.name())
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// Samples a fresh ternary secret key.
    pub fn generate<R: CryptoRng + ?Sized>(params: &Arc<Parameters>, rng: &mut R) -> SecretKey {
        let coeffs = sampling::sample_ternary(rng, params.n);
        let mut wide: Vec<i64> = coeffs.iter().map(|&c| c as i64).collect();
        let mut ntt = Poly::lift_signed(params, &wide, params.key_limbs());
        wide.zeroize();
        ntt.forward(params);
        SecretKey {
            params: params.clone(),
            coeffs,
            ntt: ntt.prepare(params),
        }
    }

    /// The parameter set.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }

    /// out = a ⊙ s over out's limbs (NTT form).
    pub(crate) fn mul_s(&self, a: &Poly, out: &mut Poly) {
        out.set_product(&self.params, a, &self.ntt);
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
        let limbs = params.max_level();
        let seed: Seed = sampling::fresh_seed(rng);
        let a = sampling::expand_uniform(params, &seed, STREAM_CIPHERTEXT, limbs);
        let mut e = sampling::sample_cbd(rng, params.n);
        let mut c0 = pt.scaled_plus(limbs, Some(&e))?;
        e.zeroize();
        let mut tmp = Poly::zero(params, limbs, Representation::Ntt);
        c0.forward(params);
        self.mul_s(&a, &mut tmp);
        c0.sub_assign(params, &tmp);
        tmp.zeroize();
        Ok(Ciphertext {
            params: params.clone(),
            c0,
            c1: a,
            seed: Some(seed),
        })
    }

    /// c0 + c1·s in coefficient form.
    fn phase(&self, ct: &Ciphertext) -> Result<Poly> {
        check_same(&self.params, &ct.params)?;
        let mut x = ct.c0.clone();
        x.add_product(&self.params, &ct.c1, &self.ntt);
        x.inverse(&self.params);
        Ok(x)
    }

    /// Decrypts to the message polynomial mod p: m = round(p·x/q) mod p with x = c0 + c1·s,
    /// computed from the RNS residues by Garner's mixed radix and a 2^−s fixed-point scale.
    pub fn decrypt(&self, ct: &Ciphertext) -> Result<Plaintext> {
        let mut x = self.phase(ct)?;
        let coeffs = self.scale_round(&x)?;
        x.zeroize();
        Ok(Plaintext {
            params: self.params.clone(),
            coeffs,
        })
    }

    /// round(p·x/q) mod p of the phase x (coefficient form).
    fn scale_round(&self, x: &Poly) -> Result<Vec<u64>> {
        let params = &self.params;
        let lvl = params.level_ctx(x.num_limbs())?;
        if let Some(limbs) = &lvl.scale {
            let mut out = vec![0; params.n];
            let views: Vec<&[u64]> = (0..x.num_limbs()).map(|i| x.limb(i)).collect();
            kernels::vecops::scale_round(&mut out, &views, limbs, params.p);
            return Ok(out);
        }
        if lvl.garner.is_none() && x.num_limbs() > 1 {
            return Ok(self.scale_round_rns(x, lvl));
        }
        // p·x/q < p, so the rounded quotient t is at most p: one subtraction reduces it.
        let (n, p) = (params.n, params.p);
        let half = 1u128 << (lvl.shift - 1);
        // s = 126 − bits(p) ≥ 96 (p < 2^30), so the quotient lives in the high word.
        debug_assert!(lvl.shift >= 64);
        let hi_shift = lvl.shift - 64;
        let mut out = Vec::with_capacity(n);
        match lvl.garner {
            None => {
                for &x0 in x.limb(0) {
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
                for (&x0, &x1) in x.limb(0).iter().zip(x.limb(1)) {
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

    /// round(p·x/q) mod p for any number of limbs (three or more: Q exceeds a u128), by the
    /// CRT: p·x/Q ≡ Σ_i y_i·p/q_i (mod p) with y_i = [x_i·(Q/q_i)⁻¹]_{q_i}. Each term splits
    /// into ⌊y_i·p/q_i⌋ and a fraction kept to 2^−64; the summed truncation error (< ℓ·2^−63)
    /// is far below the 2^−42 margin the decryption bound keeps from a rounding boundary.
    fn scale_round_rns(&self, x: &Poly, lvl: &crate::he::params::Level) -> Vec<u64> {
        // The CRT overflow is a multiple of p. Each term in fixed point from y·⌊p·2^128/q_i⌋:
        // the reciprocal's truncation costs < y·2^−128 < 2^−66 (q_i < 2^62), the dropped low
        // word < 2^−64, and the integer part is exact (a nonzero fraction of y·p/q_i is at
        // least 1/q_i > 2^−62). With at most three primes the sum is within 2^−61 of the
        // exact one, far inside the 2^−42 relative margin of the decryption bound.
        let params = &self.params;
        let p = params.p;
        let limbs = x.num_limbs();
        debug_assert!(limbs <= 3);
        // Per limb: the modulus, [(Q/q_i)⁻¹] with its Shoup constant, ⌊p·2^128/q_i⌋.
        let consts: Vec<_> = (0..limbs)
            .map(|i| {
                let md = params.plans[i].modulus();
                let w = lvl.crt_inv[i];
                (md, w, md.shoup(w), lvl.p_over_q[i])
            })
            .collect();
        let mut out = Vec::with_capacity(params.n);
        for c in 0..params.n {
            let (mut int, mut frac) = (0u128, 0u128);
            for (i, &(md, w, ws, (hi, lo))) in consts.iter().enumerate() {
                let y = md.mul_shoup(x.limb(i)[c], w, ws) as u128;
                let s = y * hi as u128 + ((y * lo as u128) >> 64);
                int += s >> 64;
                frac += s & u64::MAX as u128;
            }
            // t < (limbs + 1)·p ≤ 4p: two conditional subtractions, no division.
            let mut t = (int + ((frac + (1u128 << 63)) >> 64)) as u64;
            if t >= 2 * p {
                t -= 2 * p;
            }
            if t >= p {
                t -= p;
            }
            out.push(t);
        }
        out
    }

    /// The invariant noise vector v (centered, one entry per coefficient), for analysis and
    /// tests of flooding. It reveals the noise, so only the key holder can compute it.
    ///
    /// v is computed modulo each prime, v_i = x_i − (⌊Q/p⌋·m + round((Q mod p)·m/p)), and put
    /// together by a balanced mixed radix (centered digits), which yields the centered
    /// representative exactly; a |v| of 2^126 or more saturates to ±(2^126).
    pub fn noise_vector(&self, ct: &Ciphertext) -> Result<Vec<i128>> {
        let params = &self.params;
        let mut x = self.phase(ct)?;
        let m = self.scale_round(&x)?;
        let limbs = x.num_limbs();
        let lvl = params.level_ctx(limbs)?;
        let p = params.p as u128;
        let mut out = Vec::with_capacity(params.n);
        let mut digits = vec![0i64; limbs];
        for (c, &mi) in m.iter().enumerate() {
            let round = ((lvl.r_t as u128 * mi as u128 + p / 2) / p) as u64;
            for i in 0..limbs {
                let md = params.plans[i].modulus();
                let qi = md.value();
                let target = md.add(md.mul(lvl.delta_mod[i], md.reduce(mi)), md.reduce(round));
                // (v − Σ_{j<i} d_j·q_0⋯q_{j−1}) / (q_0⋯q_{i−1}) mod q_i, centered.
                let mut r = md.sub(x.limb(i)[c], target);
                let mut radix = 1u64;
                for (j, &d) in digits[..i].iter().enumerate() {
                    let dm = if d < 0 {
                        md.sub(0, md.reduce(d.unsigned_abs()))
                    } else {
                        md.reduce(d as u64)
                    };
                    r = md.sub(r, md.mul(dm, radix));
                    radix = md.mul(radix, md.reduce(params.moduli[j]));
                }
                let r = md.mul(r, lvl.mixed_inv[i]);
                digits[i] = if r > qi / 2 {
                    -((qi - r) as i64)
                } else {
                    r as i64
                };
            }
            // v = d_0 + q_0·(d_1 + q_1·(d_2 + …)), evaluated from the top.
            let (mut v, mut approx) = (0i128, 0f64);
            for i in (0..limbs).rev() {
                let qi = params.moduli[i];
                approx = approx * qi as f64 + digits[i] as f64;
                v = v.wrapping_mul(qi as i128).wrapping_add(digits[i] as i128);
            }
            let cap = 2f64.powi(126);
            out.push(if approx.abs() >= cap {
                (approx.signum() as i128) << 126
            } else {
                v
            });
        }
        digits.zeroize();
        x.zeroize();
        Ok(out)
    }

    /// Measures the invariant noise v = c0 + c1·s − round(q·m/p) (mod q, centered) of a
    /// ciphertext against the message it decrypts to.
    pub fn noise(&self, ct: &Ciphertext) -> Result<NoiseMeasurement> {
        let v = self.noise_vector(ct)?;
        let max_abs = v.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
        Ok(NoiseMeasurement::new(
            max_abs,
            self.params.decryption_bound(ct.level()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::he::params::ParamSetId;
    use rand_chacha::rand_core::{RngCore, SeedableRng};

    /// The scaling by long division (the previous implementation): each term's integer part
    /// and 64 fraction bits exactly.
    fn scale_round_by_division(sk: &SecretKey, x: &Poly) -> Vec<u64> {
        let params = &sk.params;
        let lvl = params.level_ctx(x.num_limbs()).unwrap();
        let p = params.p as u128;
        (0..params.n)
            .map(|c| {
                let (mut int, mut frac) = (0u128, 0u128);
                for i in 0..x.num_limbs() {
                    let md = params.plans[i].modulus();
                    let qi = md.value() as u128;
                    let t = md.mul(x.limb(i)[c], lvl.crt_inv[i]) as u128 * p;
                    int += t / qi;
                    frac += ((t % qi) << 64) / qi;
                }
                ((int + ((frac + (1u128 << 63)) >> 64)) % p) as u64
            })
            .collect()
    }

    #[test]
    fn scalings_match_long_division() {
        let params = ParamSetId::Gazelle8192Hybrid.params().unwrap();
        let sk = SecretKey::generate(&params, &mut sampling::secret_rng().unwrap());
        let seed = sampling::secret_rng().unwrap().next_u64();
        eprintln!("seed {seed}");
        for s in [1u64, 2, seed] {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(s);
            for limbs in 1..=params.max_level() {
                let mut x = Poly::zero(&params, limbs, Representation::Coefficient);
                for i in 0..limbs {
                    let q = params.moduli[i];
                    for (k, v) in x.limb_mut(i).iter_mut().enumerate() {
                        // Uniform residues, and the edges 0 and q − 1.
                        *v = match k {
                            0 => 0,
                            1 => q - 1,
                            _ => rng.next_u64() % q,
                        };
                    }
                }
                let lvl = params.level_ctx(limbs).unwrap();
                let expect = scale_round_by_division(&sk, &x);
                assert!(
                    lvl.scale.is_some(),
                    "50-bit primes take the vectorised scaling"
                );
                assert_eq!(
                    sk.scale_round(&x).unwrap(),
                    expect,
                    "seed {s}, {limbs} limbs"
                );
                if limbs > 2 {
                    assert_eq!(sk.scale_round_rns(&x, lvl), expect, "seed {s}");
                }
            }
        }
    }
}
