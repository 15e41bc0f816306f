//! Packed additively homomorphic encryption (PAHE): a BFV-style RLWE scheme with SIMD slots,
//! the homomorphic half of Gazelle.
//!
//! * [`params`]: parameter sets with their security level and noise analysis
//!   (`gazelle-8192-hybrid` default: ≥ 128-bit, special-prime key switching, flooding that
//!   meets the session budget; `gazelle-4096`, `gazelle-4096-fast` and `gazelle-8192` are
//!   faster but miss it; `gazelle-2048` is the paper's set, below 128-bit, for comparison).
//! * [`poly`]: the RNS polynomial [`Poly`] (limbs per prime, in coefficient, NTT or prepared
//!   form) that ciphertexts, keys and prepared plaintexts are made of.
//! * [`keys`]: [`SecretKey`] (ternary secret, symmetric-key encryption with seeded `a`,
//!   decryption, noise measurement), [`PublicKey`], [`GaloisKeys`] (generation and storage).
//! * [`keyswitch`]: rotations with the [`GaloisKeys`] by keyed steps, any step by power-of-two
//!   composition, the row swap, and [`Hoisted`] (decompose once, rotate many).
//! * [`privacy`]: re-randomisation with the [`PublicKey`] and flooding for circuit privacy (with
//!   the statistical distance each set achieves).
//! * [`Plaintext`] (slot and coefficient encodings) and [`PreparedPlaintext`] (NTT form, for
//!   ct×pt products).
//! * [`Ciphertext`]: add/sub, ct±pt, ct×pt (and fused multiply-accumulate), modulus switch;
//!   compact serialisation in [`serial`].
//! * [`noise`]: worst-case bounds per operation. [`mod@bench`]: timings for `gazelle bench he`.
//!
//! ```
//! use gazelle::he::{params::ParamSetId, sampling, Ciphertext, GaloisKeys, Plaintext,
//!     PreparedPlaintext, SecretKey};
//! let params = ParamSetId::Gazelle4096.params()?;
//! let mut rng = sampling::secret_rng()?;
//! let sk = SecretKey::generate(&params, &mut rng);
//! let gk = GaloisKeys::for_steps(&sk, &[1], false, &mut rng)?;
//! let x: Vec<u64> = (0..params.n() as u64).collect();
//! let ct = sk.encrypt(&Plaintext::encode_slots(&params, &x)?, &mut rng)?;
//! let w = PreparedPlaintext::new(&Plaintext::encode_slots(&params, &vec![2; params.n()])?);
//! let y = gk.rotate_rows(&ct.mul_plain(&w)?, 1)?;
//! let out = sk.decrypt(&y)?.decode_slots();
//! assert_eq!(out[0], 2 * x[1]);
//! # Ok::<(), gazelle::he::HeError>(())
//! ```
pub mod bench;
pub mod ciphertext;
pub mod encoding;
pub mod error;
pub mod float_sum;
pub mod keys;
pub mod keyswitch;
pub mod noise;
pub mod params;
pub mod poly;
pub mod privacy;
pub mod sampling;
pub mod serial;

pub use ciphertext::Ciphertext;
pub use encoding::{Plaintext, PreparedPlaintext};
pub use error::{DeserializeError, HeError, Result};
pub use float_sum::{FloatCiphertext, ProductSum};
pub use keys::{GaloisKeys, PublicKey, SecretKey};
pub use keyswitch::{Hoisted, RotationSum};
pub use noise::{NoiseBound, NoiseMeasurement};
pub use params::{ParamSetId, Parameters, SecurityLevel};
pub use poly::{Poly, Representation};
pub use privacy::{FloodReport, Rerandomizer};

#[cfg(test)]
mod tests;
