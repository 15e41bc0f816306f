//! Oblivious transfer: how the client (GC evaluator) obtains the wire labels of its inputs
//! without revealing them, and how the server (garbler) hands them over without revealing the
//! other label.
//!
//! Layers, each a sans-I/O core with typed messages (`to_bytes` / `from_bytes` with full
//! validation, through the crate's [`codec`](crate::codec)), plus thin blocking drivers over a [`Channel`](crate::channel::Channel):
//! * [`base`] — Chou–Orlandi "simplest OT" over Ristretto255 (128 random base OTs, SHA-256
//!   under a domain-separation label).
//! * [`ext`] — OT extension producing *random correlated OT* with the sender's global `Δ`:
//!   SoftSpokenOT (Roy, CRYPTO 2022, semi-honest) with `k` bits per small-field VOLE; `k = 1`
//!   is exactly IKNP with the ALSZ optimisations (PRG-expanded base seeds, one-time base OTs,
//!   no message for the first column block). The OT-extension sender uses the garbler's
//!   free-XOR `Δ` as its correlation: it obtains `q_j` and the receiver obtains its random
//!   choice `r_j` and `t_j = q_j ⊕ r_j·Δ` — i.e. `m0 = q_j`, `m1 = q_j ⊕ Δ`. Random OTs with
//!   independent messages come from hashing (`H(q_j)`, `H(q_j ⊕ Δ)`, the TCCR hash of GKWY).
//! * [`online`] — Beaver derandomisation: the receiver sends `d = b ⊕ r` (one bit per OT), the
//!   sender answers `y_j = w0_j ⊕ q_j ⊕ d_j·Δ` (16 bytes per OT), and the receiver's label is
//!   `y_j ⊕ t_j = w0_j ⊕ b_j·Δ`. No public-key operation online.
//! * [`io`] — the blocking drivers; [`bench`](mod@bench) — the measurements behind `gazelle bench ot`.
//! * [`rng`] — AES-CTR PRG and the parties' CSPRNG; [`transpose`] — the bit-matrix transpose.
//!
//! Primitives from the `kernels` crate: [`kernels::Aes128`] (fixed-key hashes, keyed AES for
//! the CTR PRG) and [`kernels::Block`]. The transpose is written here in safe Rust. The
//! channel abstraction is [`crate::channel`].
//!
//! # What the protocol calls
//! Garbler (server, OT sender), with its free-XOR `Δ` (lsb 1):
//! ```text
//! let mut s = io::setup_sender(&mut ch, ExtParams::default(), delta, &mut rng)?;   // once
//! let mut pool = io::extend_sender(&mut ch, &mut s, n)?;        // offline: n random COTs
//! io::send_labels(&mut ch, &mut pool, &zero_labels)?;           // online: one round trip
//! ```
//! Evaluator (client, OT receiver):
//! ```text
//! let mut r = io::setup_receiver(&mut ch, ExtParams::default(), &mut rng)?;
//! let mut pool = io::extend_receiver(&mut ch, &mut r, n)?;
//! let labels = io::receive_labels(&mut ch, &mut pool, &choice_bits)?;  // w0 ⊕ b·Δ
//! ```
//! The sans-I/O equivalents are [`CotSender::extend`] / [`CotReceiver::extend`] and
//! [`ReceiverCots::choose_labels`] → [`SenderCots::send_labels`] → [`PendingLabels::finish`];
//! the `_into` / `_with` / `_reusing` variants keep their buffers across calls. Pools are
//! consumed front to back, each OT once; every message names its first OT index, so parties
//! out of step get [`OtError::OutOfStep`].
pub mod base;
pub mod bench;
pub mod ext;
pub mod io;
pub mod online;
pub mod rng;
pub mod transpose;

pub use ext::{CotReceiver, CotSender, ExtParams, ReceiverCots, SenderCots};
pub use online::{ChoiceMsg, ChosenMsg, FoldedLabels, LabelMsg, PendingChosen, PendingLabels};
pub use rng::{AesCtrPrg, OtRng};

use crate::channel::ChannelError;
use crate::codec::CodecError;
use kernels::KernelError;

/// Errors of the OT layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtError {
    /// A message ended early.
    #[error("{what}: message truncated")]
    Truncated {
        /// Which message.
        what: &'static str,
    },
    /// A message has the wrong length.
    #[error("{what}: expected {expected} more bytes, got {got}")]
    BadLength {
        /// Which message.
        what: &'static str,
        /// Bytes expected.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// A message has the wrong type tag.
    #[error("{what}: tag {got:#04x}, expected {expected:#04x}")]
    BadTag {
        /// Which message.
        what: &'static str,
        /// Tag expected.
        expected: u8,
        /// Tag present.
        got: u8,
    },
    /// A message carries a different number of items than the protocol state expects.
    #[error("{what}: expected {expected} items, got {got}")]
    CountMismatch {
        /// Which message.
        what: &'static str,
        /// Items expected.
        expected: usize,
        /// Items present.
        got: usize,
    },
    /// A message refers to OTs other than the next ones (the parties are out of step).
    #[error("{what}: message for OT index {got}, expected {expected}")]
    OutOfStep {
        /// Which message.
        what: &'static str,
        /// Index expected.
        expected: u64,
        /// Index in the message.
        got: u64,
    },
    /// A requested or announced count is zero or over the limit.
    #[error("{what}: count {n} is not in 1..={max}")]
    BadCount {
        /// What was counted.
        what: &'static str,
        /// The count.
        n: usize,
        /// The limit.
        max: usize,
    },
    /// More OTs were asked for than remain in an offline pool.
    #[error("offline pool exhausted: {wanted} OTs wanted, {available} left")]
    PoolExhausted {
        /// OTs asked for.
        wanted: usize,
        /// OTs left.
        available: usize,
    },
    /// A group element failed to decode or is the identity.
    #[error("invalid Ristretto point at index {index}")]
    InvalidPoint {
        /// Position in its message.
        index: usize,
    },
    /// Unused bits of a packed bit string are not zero, or a field is out of range.
    #[error("{what}: malformed field")]
    Malformed {
        /// Which message.
        what: &'static str,
    },
    /// Parameters the two parties disagree on, or that are not supported.
    #[error("bad parameters: {0}")]
    BadParams(String),
    /// The operating system's randomness failed.
    #[error("entropy source failed: {0}")]
    Entropy(String),
    /// A kernel failed (AES backend unavailable).
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// The transport failed.
    #[error(transparent)]
    Channel(#[from] ChannelError),
}

impl From<CodecError> for OtError {
    /// Message decoding errors keep the message name the reader was given.
    fn from(e: CodecError) -> OtError {
        match e {
            CodecError::Truncated { what, .. } => OtError::Truncated { what },
            CodecError::LengthMismatch {
                what,
                expected,
                got,
                ..
            } => OtError::BadLength {
                what,
                expected,
                got,
            },
            CodecError::TrailingBytes { what, count, .. } => OtError::BadLength {
                what,
                expected: 0,
                got: count,
            },
            CodecError::BadTag {
                what,
                expected,
                got,
            } => OtError::BadTag {
                what,
                expected,
                got,
            },
            CodecError::TooLong { what, len, max } => OtError::BadCount { what, n: len, max },
            CodecError::Padding { what, .. } => OtError::Malformed { what },
        }
    }
}

/// High word of the tweaks of the GGM trees' PRG (`ext::ggm`): `(j mod 2, GGM_TWEAK_DOMAIN)`.
/// The OT's hash, the GGM PRG and garbling (`gc::hash::TWEAK_DOMAIN`) each have their own
/// domain, so no hash input of one is ever a hash input of another.
pub(crate) const GGM_TWEAK_DOMAIN: u64 = 0x4f54_4747_4d00_0001;

/// High word of the tweaks of the OT's correlation-robust hash (random OTs and the online
/// derandomisation): `(index, OT_TWEAK_DOMAIN)`.
pub(crate) const OT_TWEAK_DOMAIN: u64 = 0x4f54_4841_5348_0001;

/// The OT hash's tweak of correlated OT number `index`.
pub(crate) fn ot_tweak(index: u64) -> kernels::Block {
    kernels::Block::from_u64s(index, OT_TWEAK_DOMAIN)
}

/// Overwrites secret blocks with zeros. `fill` plus an opaque use of the slice
/// ([`std::hint::black_box`]) and a compiler fence keep the stores from being elided, at memory
/// speed (the per-byte volatile writes of `zeroize` cost ~1 ns per byte on the 16 MB pools of
/// a million OTs). Switch to `Zeroize` on `[Block]` once the kernels' `Block` implements it.
pub(crate) fn wipe_blocks(blocks: &mut [kernels::Block]) {
    blocks.fill(kernels::Block::ZERO);
    std::hint::black_box(&*blocks);
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// Result of OT operations.
pub type Result<T> = std::result::Result<T, OtError>;
