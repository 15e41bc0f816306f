//! Hardware backends of gazelle: the only crate with `unsafe` SIMD.
//!
//! * [`backend`] — runtime CPU detection (once, cached) and the `GAZELLE_BACKEND` override.
//! * [`modarith`] — Montgomery, Barrett and Shoup modular multiplication for 64-bit primes
//!   (< 2^62) and 32-bit primes (< 2^31), with lazy variants whose ranges are documented.
//! * [`ntt`] — negacyclic NTT plans ([`ntt::NttPlan64`], [`ntt::NttPlan32`]) with Harvey lazy
//!   butterflies, pointwise products and Galois automorphisms, dispatched per backend.
//!
//! Every `#[target_feature]` function is reached only through a [`backend::Backend`] that
//! was checked against the running CPU.
#![warn(missing_docs)]

pub mod backend;
pub mod error;
pub mod modarith;
pub mod ntt;
pub mod prime;
pub mod testing;

pub use backend::Backend;
pub use error::KernelError;
