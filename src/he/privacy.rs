//! Circuit privacy: re-randomisation with a public key and noise flooding, optionally followed
//! by a modulus switch to fewer primes before the reply goes back to the client.
//!
//! # What is hidden, and how well
//!
//! The server's result ct = (c0, c1) depends on its weights through c1 (a combination of the
//! client's own c1's) and through the noise v (a combination of the client's errors). The
//! server therefore
//! 1. adds u·pk + (e1, e2) with pk = (−a·s + e, a) from the client, u uniform ternary and e2
//!    from the error distribution: c1 becomes c1 + u·a + e2, an RLWE sample in u, so c1 is
//!    computationally independent of the weights;
//! 2. draws e1 uniform in [−B, B] per coefficient (flooding): the decrypted noise
//!    v + u·e + e2·s + e1 then has statistical distance at most n·‖v‖∞ / (2B + 1) from a
//!    distribution that does not depend on v (per coefficient, uniform noise of half-width B
//!    shifted by |v| ≤ b differs in at most b/(2B+1); a union over the n coefficients).
//!
//! B is chosen as large as correctness allows: B = bound − ‖v‖ − 2·n·21 (and, when switching
//! down, the same on one prime scaled back up), so the reported distance is the best this
//! parameter set can give for the caller's noise bound; decryption stays correct with certainty
//! (worst-case bounds, no failure probability). The mask the protocol adds hides the message
//! itself; flooding only concerns the noise. At `gazelle-8192-hybrid` B ≈ 2^129, beyond 128-bit
//! integers: it is drawn as hi·2^64 + lo (uniform on 2B consecutive integers).
//!
//! What a whole plan gets, summed over a session, is `protocol::budget`'s (`gazelle plan`).
//! Switching the reply down to one prime afterwards (a deterministic function of the flooded
//! ciphertext, so the distance is kept) shrinks it by the dropped primes.
use super::ciphertext::Ciphertext;
use super::error::{HeError, Result};
use super::noise::{rerandomize_bound, NoiseBound};
use super::params::{check_same, Parameters};
use super::poly::Poly;
use super::sampling;
use rand_chacha::rand_core::CryptoRng;
use zeroize::Zeroize;

pub use super::keys::PublicKey;

/// What flooding did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodReport {
    /// Half-width B of the uniform flooding noise.
    pub flood_bound: f64,
    /// Worst-case noise bound of the reply (at its final level).
    pub noise_after: NoiseBound,
    /// log2 of the statistical-distance bound n·b/(2B) for the caller's noise bound b.
    pub statistical_distance_log2: f64,
    /// Primes of the reply.
    pub limbs: usize,
}

/// Statistical distance between flooding noise uniform on 2B consecutive integers (or 2B + 1)
/// and the same shifted by at most `noise`: noise/(2B) per coefficient (a bound above 1
/// guarantees nothing).
pub fn flood_distance(noise: f64, flood: f64) -> f64 {
    noise.max(1.0) / (2.0 * flood)
}

/// Flooding noise of width ≥ 2^126 is drawn as hi·2^64 + lo, hi uniform in [−H, H), lo in
/// [0, 2^64): uniform on [−H·2^64, H·2^64), 2B integers for B = H·2^64.
const WIDE_FLOOD: f64 = 1.0e38; // < 2^126.3

/// An encryption of zero under a [`PublicKey`] carrying the flooding noise of one reply:
/// `(u·b + e1, u·a + e2)` in NTT form (u ternary, e2 from the error distribution, e1 uniform of
/// half-width B sized for a noise bound and level). It does not depend on the ciphertext it
/// will hide, so it is drawn ahead ([`PublicKey::rerandomizer`]) and used once
/// ([`PublicKey::make_private_with`] takes it by value). Wiped on drop.
pub struct Rerandomizer {
    z: Ciphertext,
    /// The noise bound B was sized for.
    noise: NoiseBound,
    flood: f64,
    switch_down: bool,
}

impl Rerandomizer {
    /// Half-width B of its flooding noise.
    pub fn flood_bound(&self) -> f64 {
        self.flood
    }
}

impl std::fmt::Debug for Rerandomizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rerandomizer")
            .field("limbs", &self.z.level())
            .field("noise_bits", &self.noise.bits())
            .field("flood_bits", &self.flood.log2())
            .finish_non_exhaustive()
    }
}

impl Drop for Rerandomizer {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.z);
    }
}

impl PublicKey {
    /// The largest flooding half-width that keeps a ciphertext with noise `noise` at `limbs`
    /// primes decryptable, and (with `switch_down`) decryptable after the switch down to one
    /// prime. Above 2^126 it is rounded down to a multiple of 2^64 (the wide sampler's grid).
    pub fn flood_bound(
        params: &Parameters,
        noise: NoiseBound,
        limbs: usize,
        switch_down: bool,
    ) -> Result<f64> {
        let extra = rerandomize_bound(params);
        let mut allowed = params.decryption_bound(limbs);
        if switch_down && limbs >= 2 {
            // From one prime upwards: the switch from k + 1 to k primes maps v to
            // v/q_k + (1 + n)/2 (NoiseBound::mod_switch).
            let round = (1.0 + params.n as f64) / 2.0;
            let mut a = params.decryption_bound(1);
            for &q in &params.moduli[1..limbs] {
                a = (a - round) * q as f64;
            }
            allowed = allowed.min(a);
        }
        // Keep a relative margin for the f64 arithmetic of the bounds.
        let b = (allowed - noise.value() - extra) * (1.0 - 1e-9);
        if b.is_nan() || b < 1.0 {
            return Err(HeError::NoRoomForFlooding {
                noise_bits: noise.bits(),
                limit_bits: params.decryption_bound(limbs).log2(),
            });
        }
        if b >= WIDE_FLOOD {
            let h = (b / 2f64.powi(64)).floor();
            return Ok(h * 2f64.powi(64));
        }
        Ok(b.floor())
    }

    /// Re-randomises `ct` and floods its noise (server side, before the reply); with
    /// `switch_down`, then switches down to one prime to shrink the reply. `noise` is the
    /// caller's worst-case bound on ct's noise (from [`NoiseBound`]). The same as
    /// [`PublicKey::rerandomizer`] then [`PublicKey::make_private_with`].
    pub fn make_private<R: CryptoRng + ?Sized>(
        &self,
        ct: &Ciphertext,
        noise: NoiseBound,
        switch_down: bool,
        rng: &mut R,
    ) -> Result<(Ciphertext, FloodReport)> {
        let r = self.rerandomizer(noise, ct.level(), switch_down, rng)?;
        self.make_private_with(ct, noise, r)
    }

    /// The input-independent part of [`PublicKey::make_private`] for a ciphertext at `limbs`
    /// primes whose noise is at most `noise`: an encryption of zero carrying the flooding
    /// noise, to be drawn ahead of the reply (the server does so in its offline phase).
    pub fn rerandomizer<R: CryptoRng + ?Sized>(
        &self,
        noise: NoiseBound,
        limbs: usize,
        switch_down: bool,
        rng: &mut R,
    ) -> Result<Rerandomizer> {
        let params = &self.params;
        let n = params.n;
        let switch_down = switch_down && limbs >= 2;
        let flood = Self::flood_bound(params, noise, limbs, switch_down)?;

        let u = sampling::sample_ternary(rng, n);
        let u64s: Vec<i64> = u.iter().map(|&x| x as i64).collect();
        let mut u_ntt = Poly::lift_signed(params, &u64s, limbs);
        u_ntt.forward(params);
        let mut e1_ntt = if flood >= WIDE_FLOOD {
            let h = (flood / 2f64.powi(64)) as u128;
            let (hi, lo): (Vec<i128>, Vec<u64>) = (0..n)
                .map(|_| {
                    (
                        sampling::sample_below(rng, 2 * h) as i128 - h as i128,
                        rng.next_u64(),
                    )
                })
                .unzip();
            Poly::lift_split(params, &hi, &lo, limbs)
        } else {
            let e1: Vec<i128> = (0..n)
                .map(|_| sampling::sample_wide(rng, flood as u128))
                .collect();
            Poly::lift_wide(params, &e1, limbs)
        };
        e1_ntt.forward(params);
        let e2 = sampling::sample_cbd(rng, n);
        let mut e2_ntt = Poly::lift_signed(params, &e2, limbs);
        e2_ntt.forward(params);

        let mut z = Ciphertext::zero(params, limbs)?;
        z.c0.add_product(params, &u_ntt, &self.b);
        z.c1.add_product(params, &u_ntt, &self.a);
        z.c0.add_assign(params, &e1_ntt);
        z.c1.add_assign(params, &e2_ntt);
        u_ntt.zeroize();
        e1_ntt.zeroize();
        e2_ntt.zeroize();
        Ok(Rerandomizer {
            z,
            noise,
            flood,
            switch_down,
        })
    }

    /// [`PublicKey::make_private`] with a re-randomiser drawn ahead for this ciphertext's
    /// level and a noise bound at least `noise` (else an error: the flooding would not fit).
    pub fn make_private_with(
        &self,
        ct: &Ciphertext,
        noise: NoiseBound,
        r: Rerandomizer,
    ) -> Result<(Ciphertext, FloodReport)> {
        let params = &self.params;
        check_same(params, &ct.params)?;
        check_same(params, &r.z.params)?;
        let (n, limbs) = (params.n, ct.level());
        if r.z.level() != limbs || noise.value() > r.noise.value() {
            return Err(HeError::ParameterMismatch {
                expected: format!(
                    "a re-randomiser for level {limbs} and noise ≥ 2^{:.1}",
                    noise.bits()
                ),
                found: format!("level {} and noise 2^{:.1}", r.z.level(), r.noise.bits()),
            });
        }
        let flood = r.flood;
        let mut out = ct.clone();
        out.seed = None;
        out.add_assign(&r.z)?;

        let mut after = noise.rerandomize(params, flood);
        let mut final_limbs = limbs;
        if r.switch_down {
            while final_limbs > 1 {
                out = out.mod_switch_down()?;
                after = after.mod_switch(params, final_limbs);
                final_limbs -= 1;
            }
        }
        let sd = (n as f64 * flood_distance(noise.value(), flood)).log2();
        Ok((
            out,
            FloodReport {
                flood_bound: flood,
                noise_after: after,
                statistical_distance_log2: sd,
                limbs: final_limbs,
            },
        ))
    }
}
