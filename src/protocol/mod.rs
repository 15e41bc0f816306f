//! The two-party secure-inference protocol (DESIGN.md, "What the system does"): a client with a
//! private input and a server with a private model run, stage by stage, homomorphic linear
//! layers and garbled non-linear layers, switching between them through additive shares mod p.
//!
//! # Shares and stages
//! Between stages both parties hold additive shares of the current activation vector:
//! `x = c + s (mod p)`, the client holding `c`, the server `s`. At the start `c` is the
//! client's input and `s = 0`. The server's shares never depend on the input (they are
//! negated masks and local linear functions of them), so everything the server does with them
//! is prepared in the offline phase. [`Plan::new`] cuts a model into [`Stage`]s:
//!
//! * [`Stage::Linear`] (conv, fc): the client encrypts `c` in the layer's input packing
//!   (`linalg::Schedule`), the server adds `s`, evaluates the layer homomorphically, adds a
//!   fresh mask `r` in every slot, re-randomises and floods the noise (circuit privacy, sized by
//!   the worst-case bounds of [`noise`]), switches
//!   the reply down one prime and sends it; the client decrypts `W·x + b + r`, the server's new
//!   share is `−r`.
//! * [`Stage::Square`] (x² activations): the client sends `Enc(c)` and `Enc(c²)`; the server
//!   computes `Enc(c²) + 2s·Enc(c) + s² + r = Enc(x² + r)`, masks and floods as above.
//! * [`Stage::SumPool`] (avg-pool, whose integer layer is a window sum): local — each party sums
//!   its own shares.
//! * [`Stage::Keep`], [`Stage::Load`], [`Stage::Add`] (graphs: residual shortcuts, branches):
//!   local — each party keeps a copy of its share of a tensor read later, switches to it, or
//!   adds it (times a public power of two) to its current share.
//! * [`Stage::Nonlinear`]: one garbled circuit per output value (`gc::gazelle`) reconstructs
//!   `x` from the shares, applies the pending requantisation (floor shift, clamp), ReLU and
//!   max-pool fused in, and outputs `y + r'` to the client (server share `−r'`), or `y` itself
//!   for the last layer when the server reveals the logits ([`Reveal::Logits`]).
//! * [`Stage::Argmax`] (the last layer by default, [`Reveal::Class`]): the same per-logit
//!   computation for all the logits in one garbled circuit that outputs only the index of the
//!   largest — the class. The client's input labels come from the offline random
//!   OTs, derandomised online; the garbled tables and the server's own input labels are sent
//!   offline.
//!
//! # Phases
//! *Setup* (once per session): handshake, the client's public key (for re-randomisation) and
//! Galois keys, OT base setup with the garbler's Δ. *Offline* (per query, input-independent):
//! server masks and share plaintexts (scaled and in NTT form, ready to add), garbling and
//! table transfer, random OT extension. *Online*: the stages above. [`QueryReport`] holds
//! time and bytes per stage, phase and direction.
//!
//! # Layout
//! * [`plan`]: [`Plan`] and [`Stage`], built by both parties from the architecture;
//!   [`noise`]: the worst-case noise each reply is flooded for (linalg's noise walk);
//!   [`budget`]: the statistical distance those replies add up to over a session.
//! * `stages/` (private): one module per stage kind (`linear`, `square`, `sum_pool`,
//!   `nonlinear`), each with the server's offline and online phases and the client's offline
//!   and online phases and its own prepared-state types; [`Server`] and [`Client`] loop over
//!   the plan's stages and dispatch to them.
//! * [`wire`]: message tags, query requests and the payload codecs (ciphertext lists, garbler
//!   labels); [`handshake`]: the session hello (version, parameter set, model) and the
//!   server's terms (circuit privacy, logits or class only, garbling hash key).
//!   Framing, error frames and chunked streams are [`crate::net`]'s, which knows nothing of HE.
//! * [`metrics`]: [`PhaseMetrics`], [`StageMetrics`], [`QueryReport`].
//! * `cli` (feature `bundled`): the `demo`, `serve` and `infer` commands.
//! * [`exporter`]: the server's Prometheus metrics and `/healthz` (`serve --metrics`).
pub mod access;
pub mod budget;
#[cfg(feature = "bundled")]
pub mod cli;
pub mod client;
pub mod exporter;
pub mod handshake;
pub mod metrics;
pub mod noise;
pub mod plan;
pub mod server;
mod stages;
pub mod wire;

use crate::he::HeError;
use crate::linalg::LinalgError;
use crate::net::NetError;
use crate::nn::NnError;

pub use budget::{PrivacyBudget, StageBudget, SESSION_QUERIES, SESSION_SD_LOG2};
pub use client::Client;
pub use metrics::{PhaseMetrics, QueryReport, StageMetrics};
pub use plan::{choose_schedule, Plan, Reveal, Stage, MAX_DENSE, MAX_KEYS_PER_STAGE};
pub use server::{
    MemoryPlan, OpenGate, Server, ServerConfig, SessionEvent, SessionGate, SessionSummary,
    WeightsMemory,
};

/// Errors of the protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Transport, framing or handshake failure.
    #[error(transparent)]
    Net(#[from] NetError),
    /// Homomorphic encryption failure (including malformed ciphertexts and keys).
    #[error("homomorphic encryption: {0}")]
    He(#[from] HeError),
    /// Homomorphic linear algebra failure.
    #[error("linear layer: {0}")]
    Linalg(#[from] LinalgError),
    /// Garbling failure (including truncated tables).
    #[error("garbled circuit: {0}")]
    Gc(#[from] crate::gc::GcError),
    /// Oblivious transfer failure (including malformed OT messages).
    #[error("oblivious transfer: {0}")]
    Ot(#[from] crate::ot::OtError),
    /// Model failure.
    #[error("model: {0}")]
    Nn(#[from] NnError),
    /// A model the protocol cannot evaluate.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// A message with the wrong number of items or out-of-range values.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which message.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The plan cannot give the circuit-privacy guarantee (see [`budget`]).
    #[error("no circuit privacy: {0}")]
    NoCircuitPrivacy(String),
    /// The session has made all the queries its privacy budget covers.
    #[error("session query limit reached ({limit} queries): start a new session with fresh keys")]
    QueryLimit {
        /// Queries allowed per session.
        limit: u64,
    },
    /// The server's admission control refused a query (rate limit); the client was told.
    #[error("refused: {0}")]
    Refused(String),
    /// The server is shutting down and starts no further query (the client was told).
    #[error("server shutting down: no further query in this session")]
    ShuttingDown,
    /// The operating system's randomness failed.
    #[error("entropy source failed: {0}")]
    Entropy(String),
    /// The prepared weights cannot be kept within the memory limit the operator set.
    #[error("prepared weights over their memory limit: {0}")]
    WeightsMemory(String),
}

impl From<crate::channel::ChannelError> for ProtocolError {
    fn from(e: crate::channel::ChannelError) -> Self {
        ProtocolError::Net(NetError::Channel(e))
    }
}

impl From<crate::codec::CodecError> for ProtocolError {
    /// A payload that does not decode is malformed, under the name its reader was given.
    fn from(e: crate::codec::CodecError) -> Self {
        use crate::codec::CodecError as C;
        let what = match e {
            C::Truncated { what, .. }
            | C::LengthMismatch { what, .. }
            | C::TrailingBytes { what, .. }
            | C::BadTag { what, .. }
            | C::TooLong { what, .. }
            | C::Padding { what, .. } => what,
        };
        ProtocolError::Malformed {
            what,
            reason: e.to_string(),
        }
    }
}

/// Result of protocol operations.
pub type Result<T> = std::result::Result<T, ProtocolError>;

/// Uniform values in [0, p) from a CSPRNG.
pub(crate) fn random_mod<R: rand::Rng + ?Sized>(rng: &mut R, p: u64, n: usize) -> Vec<u64> {
    (0..n).map(|_| rng.random_range(0..p)).collect()
}

#[cfg(test)]
mod tests;
