//! Garbled circuits for Gazelle's non-linear layers.
//!
//! * [`circuit`] — the circuit description ([`Gates`] trait, [`Builder`], [`Circuit`]) and its
//!   plaintext interpreters;
//! * [`garble`] — garbler and evaluator with free-XOR and point-and-permute, AND gates by
//!   half gates or three halves ([`Scheme`]), streaming tables (see the module docs for the
//!   schemes and the stream format);
//! * [`hash`] — the garbling hash (TCCR under a per-session [`HashKey`]) and its tweak domain;
//! * [`arith`] — building blocks on little-endian bit vectors: adders, comparators,
//!   multiplexers, arithmetic mod p;
//! * [`gazelle`] — the protocol's circuits (ReLU with re-masking, truncation and clamp,
//!   max-pool, the class-only argmax of the last layer), parameterised by the plaintext
//!   modulus p, with their integer references;
//! * [`bench`](mod@bench) — measured throughput rows for `gazelle bench gc`.
//!
//! AES and [`kernels::Block`] live in the `kernels` crate.
pub mod arith;
pub mod bench;
pub mod circuit;
pub mod error;
pub mod garble;
pub mod gazelle;
pub mod hash;

pub use circuit::{Builder, Circuit, GateCounts, Gates, Party, Plain, Wire};
pub use error::{GcError, Result};
pub use garble::{
    decode, merge_inputs, run_local, seeded_input_labels, seeded_input_labels_into, Evaluator,
    Garbler, Garbling, InputLabels, LabelSeed, Scheme, GROUP, TABLE_BYTES,
};
pub use hash::{GcHash, HashKey};
pub use kernels::Block;
