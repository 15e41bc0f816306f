//! gazelle: Gazelle-style private neural-network inference (USENIX Security 2018).
//!
//! Layers, bottom to top (a layer only uses those below it): `kernels` (separate crate:
//! SIMD backends), then the protocol layers. The `gazelle` command (bench harness, plots,
//! profiling) is the separate `gazelle-cli` crate; the bundled models and images are the
//! `gazelle-bundled` crate behind the default feature `bundled`.
#![forbid(unsafe_code)]

pub use kernels;

pub mod channel;
pub mod codec;
pub mod data;
pub mod gc;
pub mod he;
pub mod linalg;
pub mod net;
pub mod nn;
pub mod ot;
pub mod protocol;
pub mod sched;
