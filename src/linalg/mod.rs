//! Gazelle's homomorphic linear algebra: matrix–vector products (naive, diagonal, hybrid) and
//! 2-D convolutions (channel-packed, input- or output-rotation, stride, padding, sum pooling)
//! on packed BFV ciphertexts, with hoisted rotations, a cost model that picks the cheapest
//! method, and the packing helpers the protocol needs.
//!
//! Per layer, both parties build the same [`Schedule`] from the (public) shape:
//! * client: [`Schedule::pack_input`] lays its activation tensor out in slot vectors, which it
//!   encrypts and sends; it generates rotation keys for [`Schedule::galois_elements`] once;
//! * server: [`PreparedLayer::new`] encodes the weights (offline), [`PreparedLayer::eval`]
//!   computes the output ciphertexts;
//! * client: after decryption, [`Schedule::unpack_output`] reads output element k from the
//!   slot [`Schedule::output_layout`] assigns it (other slots carry partial sums and must be
//!   masked by the server like the rest), or, for a schedule whose rotate-and-add tails are
//!   left to the parties ([`Schedule::with_client_tail`], what the protocol uses), adds up
//!   all its slots mod p.
//!
//! ```
//! use gazelle::he::{params::ParamSetId, sampling, GaloisKeys, Plaintext, SecretKey};
//! use gazelle::linalg::{LayerShape, LayerWeights, PreparedLayer, Schedule};
//! use gazelle::sched::Scheduler;
//! let params = ParamSetId::Gazelle4096.params()?;
//! let shape = LayerShape::Fc { n_in: 5, n_out: 3 };
//! let schedule = Schedule::best(&params, &shape)?;
//! let w = LayerWeights { weights: (0..15).map(|v| v - 7).collect(), bias: vec![1, 2, 3] };
//! let sched = Scheduler::new(Some(1))?;
//! let layer = PreparedLayer::new(&schedule, &w, &sched)?;
//! let mut rng = sampling::secret_rng()?;
//! let sk = SecretKey::generate(&params, &mut rng);
//! let keys = GaloisKeys::generate(&sk, &schedule.galois_elements(), &mut rng)?;
//! let x = [1, -2, 3, 0, 5];
//! let cts = schedule
//!     .pack_input(&x)?
//!     .iter()
//!     .map(|v| sk.encrypt(&Plaintext::encode_slots(&params, v)?, &mut rng))
//!     .collect::<Result<Vec<_>, _>>()?;
//! let out = layer.eval(&cts, &keys, &sched)?;
//! let slots = out
//!     .iter()
//!     .map(|c| Ok(sk.decrypt(c)?.decode_slots()))
//!     .collect::<Result<Vec<_>, gazelle::he::HeError>>()?;
//! let y = schedule.unpack_output(&slots)?;
//! let expect = gazelle::linalg::reference(&shape, &w, &x)?;
//! let p = params.p() as i64;
//! assert_eq!(y, expect.iter().map(|v| v.rem_euclid(p) as u64).collect::<Vec<_>>());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
pub mod bench;
pub mod error;
pub mod eval;
pub mod layout;
pub mod plan;
pub mod shape;

pub use error::{LinalgError, Result};
pub use eval::PreparedLayer;
pub use layout::{Layout, Rot};
pub use plan::{Cost, Method, Schedule};
pub use shape::{reference, ConvShape, LayerShape, LayerWeights};

#[cfg(test)]
mod tests;
