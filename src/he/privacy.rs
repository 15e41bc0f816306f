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
//! For the largest layer (576 products, a rotation, the mask; worst-case ‖v‖ from
//! [`NoiseBound`]), [`FloodReport::statistical_distance_log2`] is:
//! * `gazelle-8192`: 2^−43.4 over the whole ciphertext — the ≤ 2^−40 target;
//! * `gazelle-4096` (default): 2^−30.0 over the whole ciphertext, 2^−42 per coefficient. The
//!   measured noise of that chain is ~2^36.5, and a distance ≤ 2^−40 over all n coefficients
//!   needs ‖v‖ ≤ about 2^36 at this modulus, so the target holds there only for smaller layers or
//!   under a high-probability (not worst-case) bound on v; use `gazelle-8192` where the
//!   worst-case guarantee is required;
//! * `gazelle-4096-fast`: 2^−4.6 after a rotation — no circuit privacy for rotated results.
//!
//! Switching the reply down to one prime afterwards halves its size (110,600 → 55,304 bytes at
//! `gazelle-4096`) and keeps it decryptable: the flooding bound accounts for the switch.
use super::ciphertext::Ciphertext;
use super::error::{HeError, Result};
use super::keys::{check_same, SecretKey};
use super::noise::{rerandomize_bound, NoiseBound};
use super::params::Parameters;
use super::sampling::{self, Seed};
use rand_chacha::rand_core::CryptoRng;
use std::sync::Arc;
use zeroize::Zeroize;

/// Stream index of the public key's a.
const STREAM_PUBLIC_KEY: u64 = 1 << 40;

/// An encryption of zero under the secret key, used by the server to re-randomise replies.
#[derive(Clone)]
pub struct PublicKey {
    pub(crate) params: Arc<Parameters>,
    pub(crate) seed: Seed,
    pub(crate) b: Vec<u64>,
    b_shoup: Vec<u64>,
    a: Vec<u64>,
    a_shoup: Vec<u64>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("params", &self.params.name())
            .finish_non_exhaustive()
    }
}

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
    /// Generates the public key (client side).
    pub fn generate<R: CryptoRng + ?Sized>(sk: &SecretKey, rng: &mut R) -> PublicKey {
        let params = &sk.params;
        let (n, limbs) = (params.n, params.max_level());
        let seed = sampling::fresh_seed(rng);
        let a = sampling::expand_uniform(params, &seed, STREAM_PUBLIC_KEY, limbs);
        let mut e = sampling::sample_cbd(rng, n);
        let mut b = vec![0u64; limbs * n];
        sampling::lift_signed(params, &e, limbs, &mut b);
        e.zeroize();
        sampling::forward_limbs(params, &mut b, limbs);
        let mut as_ = vec![0u64; limbs * n];
        sk.mul_s(&a, &mut as_, limbs);
        sampling::sub_limbs(params, &mut b, &as_, limbs);
        as_.zeroize();
        Self::from_parts(params, seed, b)
    }

    pub(crate) fn from_parts(params: &Arc<Parameters>, seed: Seed, b: Vec<u64>) -> PublicKey {
        let (n, limbs) = (params.n, params.max_level());
        let a = sampling::expand_uniform(params, &seed, STREAM_PUBLIC_KEY, limbs);
        let mut b_shoup = Vec::with_capacity(limbs * n);
        let mut a_shoup = Vec::with_capacity(limbs * n);
        for (k, plan) in params.plans.iter().enumerate() {
            b_shoup.extend(plan.prepare(&b[k * n..(k + 1) * n]));
            a_shoup.extend(plan.prepare(&a[k * n..(k + 1) * n]));
        }
        PublicKey {
            params: params.clone(),
            seed,
            b,
            b_shoup,
            a,
            a_shoup,
        }
    }

    /// The parameter set.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }

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
        let (n, limbs) = (params.n, ct.limbs);
        let switch_down = switch_down && limbs >= 2;
        let flood = Self::flood_bound(params, noise, limbs, switch_down)?;
        let flood_i = flood as u128;

        let u = sampling::sample_ternary(rng, n);
        let u64s: Vec<i64> = u.iter().map(|&x| x as i64).collect();
        let mut u_ntt = vec![0u64; limbs * n];
        sampling::lift_signed(params, &u64s, limbs, &mut u_ntt);
        sampling::forward_limbs(params, &mut u_ntt, limbs);
        let e1: Vec<i128> = (0..n)
            .map(|_| sampling::sample_wide(rng, flood_i))
            .collect();
        let mut e1_ntt = vec![0u64; limbs * n];
        sampling::lift_wide(params, &e1, limbs, &mut e1_ntt);
        sampling::forward_limbs(params, &mut e1_ntt, limbs);
        let e2 = sampling::sample_cbd(rng, n);
        let mut e2_ntt = vec![0u64; limbs * n];
        sampling::lift_signed(params, &e2, limbs, &mut e2_ntt);
        sampling::forward_limbs(params, &mut e2_ntt, limbs);

        let mut out = ct.clone();
        out.seed = None;
        for (k, plan) in params.plans[..limbs].iter().enumerate() {
            let r = k * n..(k + 1) * n;
            plan.mul_acc_prepared(
                &mut out.c0[r.clone()],
                &u_ntt[r.clone()],
                &self.b[r.clone()],
                &self.b_shoup[r.clone()],
            );
            plan.mul_acc_prepared(
                &mut out.c1[r.clone()],
                &u_ntt[r.clone()],
                &self.a[r.clone()],
                &self.a_shoup[r],
            );
        }
        sampling::add_limbs(params, &mut out.c0, &e1_ntt, limbs);
        sampling::add_limbs(params, &mut out.c1, &e2_ntt, limbs);

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
