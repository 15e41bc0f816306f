//! gazelle: Gazelle-style private neural-network inference (USENIX Security 2018).
//!
//! Layers, bottom to top (a layer only uses those below it): `kernels` (separate crate:
//! SIMD backends), then the protocol layers, and [`bench`] (measurement harness of the CLI).
#![forbid(unsafe_code)]

pub mod bench;

pub use kernels;

pub mod gc;

pub mod data;
pub mod nn;
