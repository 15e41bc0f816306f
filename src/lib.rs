//! gazelle: Gazelle-style private neural-network inference (USENIX Security 2018).
//!
//! Layers, bottom to top (a layer only uses those below it): `kernels` (separate crate:
//! SIMD backends), `he`, `linalg`, `gc`, `ot`, `nn`, `protocol` / `net`, and the CLI.
pub use kernels;
pub mod he;
pub mod linalg;
pub mod sched;
