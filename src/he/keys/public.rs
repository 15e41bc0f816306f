//! The public key: an encryption of zero under the secret key, (b, a) = (−a·s + e, a) with a
//! expanded from a seed. The server uses it to re-randomise replies (see
//! [`crate::he::privacy`]).
use super::secret::SecretKey;
use crate::he::params::Parameters;
use crate::he::poly::{Poly, Representation};
use crate::he::sampling::{self, Seed};
use rand_chacha::rand_core::CryptoRng;
use std::sync::Arc;
use zeroize::Zeroize;

/// Stream index of the public key's a.
const STREAM_PUBLIC_KEY: u64 = 1 << 40;

/// An encryption of zero under the secret key, used by the server to re-randomise replies.
#[derive(Clone)]
pub struct PublicKey {
    pub(crate) params: Arc<Parameters>,
    /// The seed of a (what is serialised with b).
    pub(crate) seed: Seed,
    /// b = −a·s + e on every prime, prepared.
    pub(crate) b: Poly,
    /// a on every prime, prepared.
    pub(crate) a: Poly,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("params", &self.params.name())
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// Generates the public key (client side).
    pub fn generate<R: CryptoRng + ?Sized>(sk: &SecretKey, rng: &mut R) -> PublicKey {
        let params = &sk.params;
        let limbs = params.max_level();
        let seed = sampling::fresh_seed(rng);
        let a = sampling::expand_uniform(params, &seed, STREAM_PUBLIC_KEY, limbs);
        let mut e = sampling::sample_cbd(rng, params.n);
        let mut b = Poly::lift_signed(params, &e, limbs);
        e.zeroize();
        b.forward(params);
        let mut as_ = Poly::zero(params, limbs, Representation::Ntt);
        sk.mul_s(&a, &mut as_);
        b.sub_assign(params, &as_);
        as_.zeroize();
        Self::from_parts(params, seed, b)
    }

    /// Completes a key from its b (NTT form, every prime) and the seed of its a.
    pub(crate) fn from_parts(params: &Arc<Parameters>, seed: Seed, b: Poly) -> PublicKey {
        let a = sampling::expand_uniform(params, &seed, STREAM_PUBLIC_KEY, params.max_level());
        PublicKey {
            params: params.clone(),
            seed,
            b: b.prepare(params),
            a: a.prepare(params),
        }
    }

    /// The parameter set.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }
}
