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
//! down, the same on the smaller modulus scaled back up), so the reported distance is the best
//! this parameter set can give for the caller's noise bound; decryption stays correct with
//! certainty (worst-case bounds, no failure probability). The mask the protocol adds hides the
//! message itself; flooding only concerns the noise.
//!
//! The figures for one chain of operations (576 products with one rotation *after* them) are
//! far better than what the protocol's layers reach: their layouts rotate *before* multiplying,
//! so the key-switching noise meets the plaintext norm. What a whole plan gets, summed over a
//! session, is `protocol::budget`'s (`gazelle plan`); no parameter set meets 2^−40 there yet.
//!
//! Switching the reply down to one prime afterwards halves its size (110,600 → 55,304 bytes at
//! `gazelle-4096`) and keeps it decryptable: the flooding bound accounts for the switch.
use super::ciphertext::Ciphertext;
use super::error::{HeError, Result};
use super::noise::{rerandomize_bound, NoiseBound};
use super::params::{check_same, Parameters};
use super::poly::Poly;
use super::sampling;
use rand_chacha::rand_core::CryptoRng;

pub use super::keys::PublicKey;

/// What flooding did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodReport {
    /// Half-width B of the uniform flooding noise.
    pub flood_bound: f64,
    /// Worst-case noise bound of the reply (at its final level).
    pub noise_after: NoiseBound,
    /// log2 of the statistical-distance bound n·b/(2B+1) for the caller's noise bound b.
    pub statistical_distance_log2: f64,
    /// Primes of the reply.
    pub limbs: usize,
}

impl PublicKey {
    /// The largest flooding half-width that keeps a ciphertext with noise `noise` at `limbs`
    /// primes decryptable (after the optional switch down by one prime).
    pub fn flood_bound(
        params: &Parameters,
        noise: NoiseBound,
        limbs: usize,
        switch_down: bool,
    ) -> Result<f64> {
        let extra = rerandomize_bound(params);
        let mut b = params.decryption_bound(limbs) - noise.value() - extra;
        if switch_down && limbs >= 2 {
            let q_last = params.moduli[limbs - 1] as f64;
            let after = (params.decryption_bound(limbs - 1) - (1.0 + params.n as f64) / 2.0)
                * q_last
                - noise.value()
                - extra;
            b = b.min(after);
        }
        // Keep a relative margin for the f64 arithmetic of the bounds.
        let b = b * (1.0 - 1e-9);
        if b.is_nan() || b < 1.0 {
            return Err(HeError::NoRoomForFlooding {
                noise_bits: noise.bits(),
                limit_bits: params.decryption_bound(limbs).log2(),
            });
        }
        Ok(b.floor())
    }

    /// Re-randomises `ct` and floods its noise (server side, before the reply); with
    /// `switch_down`, then drops one prime to shrink the reply. `noise` is the caller's
    /// worst-case bound on ct's noise (from [`NoiseBound`]).
    pub fn make_private<R: CryptoRng + ?Sized>(
        &self,
        ct: &Ciphertext,
        noise: NoiseBound,
        switch_down: bool,
        rng: &mut R,
    ) -> Result<(Ciphertext, FloodReport)> {
        let params = &self.params;
        check_same(params, &ct.params)?;
        let (n, limbs) = (params.n, ct.level());
        let switch_down = switch_down && limbs >= 2;
        let flood = Self::flood_bound(params, noise, limbs, switch_down)?;
        let flood_i = flood as u128;

        let u = sampling::sample_ternary(rng, n);
        let u64s: Vec<i64> = u.iter().map(|&x| x as i64).collect();
        let mut u_ntt = Poly::lift_signed(params, &u64s, limbs);
        u_ntt.forward(params);
        let e1: Vec<i128> = (0..n)
            .map(|_| sampling::sample_wide(rng, flood_i))
            .collect();
        let mut e1_ntt = Poly::lift_wide(params, &e1, limbs);
        e1_ntt.forward(params);
        let e2 = sampling::sample_cbd(rng, n);
        let mut e2_ntt = Poly::lift_signed(params, &e2, limbs);
        e2_ntt.forward(params);

        let mut out = ct.clone();
        out.seed = None;
        out.c0.add_product(params, &u_ntt, &self.b);
        out.c1.add_product(params, &u_ntt, &self.a);
        out.c0.add_assign(params, &e1_ntt);
        out.c1.add_assign(params, &e2_ntt);

        let mut after = noise.rerandomize(params, flood);
        let mut final_limbs = limbs;
        if switch_down {
            out = out.mod_switch_down()?;
            after = after.mod_switch(params, limbs);
            final_limbs = limbs - 1;
        }
        let sd = (n as f64 * noise.value().max(1.0) / (2.0 * flood + 1.0)).log2();
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
