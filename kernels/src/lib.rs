//! Hardware backends of gazelle: the only crate with `unsafe` SIMD.
//!
//! * [`backend`] — runtime CPU detection (once, cached) and the `GAZELLE_BACKEND` override.
//! * [`modarith`] — Montgomery, Barrett and Shoup modular multiplication for 64-bit primes
//!   (< 2^62) and 32-bit primes (< 2^31), with lazy variants whose ranges are documented; the
//!   52-bit Shoup product (q < 2^50) that the AVX-512 IFMA52 butterflies compute.
//! * [`ntt`] — negacyclic NTT plans ([`ntt::NttPlan64`], [`ntt::NttPlan32`]) with Harvey lazy
//!   butterflies (Shoup, Montgomery, or 52-bit Shoup on IFMA52: [`ntt::Reduction`]), pointwise
//!   products and Galois automorphisms, dispatched per backend.
//! * [`aes`] — fixed-key AES-128 (portable bitsliced, AES-NI, VAES-256/512, ARMv8) and the
//!   correlation-robust hashes of garbling and OT extension, over the 16-byte [`block::Block`].
//! * `testing` (feature `testing`) — test-vector PRNG, naive reference product and the
//!   backend-vs-scalar checks for tests, examples and benchmarks.
//! * [`aligned`] — 64-byte-aligned word buffers ([`AlignedVec`]) for polynomials and tables.
//! * [`mem`] — allocator settings for the engine's allocation pattern (keep freed memory).
//! * [`vecops`] — element-wise add/sub mod q, compiled per ISA (`multiversion`).
//! * [`isa`] — zero-sized tokens that prove a CPU feature (created only by runtime detection).
//!
//! Every `#[target_feature]` function is reached only through a function that takes the
//! [`isa`] token of its features, or through a dispatch table built from one; every `unsafe`
//! block states why it is sound in a `// SAFETY:` comment (enforced by clippy).
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod aes;
pub mod aligned;
pub mod backend;
pub mod block;
pub mod error;
pub mod isa;
pub mod mem;
pub mod modarith;
pub mod ntt;
pub mod prime;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod vecops;

pub use aes::{Aes128, AesBackend};
pub use aligned::AlignedVec;
pub use backend::Backend;
pub use block::Block;
pub use error::KernelError;
