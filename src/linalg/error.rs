//! The typed error of the `linalg` module.
use crate::he::HeError;
use crate::sched::SchedError;

/// Everything that can go wrong when planning or evaluating a homomorphic linear layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LinalgError {
    /// An HE operation failed.
    #[error("he: {0}")]
    He(#[from] HeError),
    /// The scheduler could not start.
    #[error("scheduler: {0}")]
    Sched(#[from] SchedError),
    /// A layer shape is inconsistent (zero sizes, kernel larger than the padded input, ...).
    #[error("invalid layer shape: {reason}")]
    Shape {
        /// What is wrong.
        reason: String,
    },
    /// The method cannot evaluate this shape with these parameters.
    #[error("method {method} does not apply: {reason}")]
    Unsupported {
        /// The method.
        method: String,
        /// Why.
        reason: String,
    },
    /// A vector had the wrong length.
    #[error("{what}: length {found}, expected {expected}")]
    Length {
        /// Which vector.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// The layer's worst-case output noise would not decrypt at these parameters.
    #[error("worst-case noise 2^{bound_bits:.1} exceeds the decryption bound 2^{limit_bits:.1}")]
    NoiseBudget {
        /// log2 of the worst-case output noise for a fresh input.
        bound_bits: f64,
        /// log2 of the decryption bound.
        limit_bits: f64,
    },
    /// The wrong number of ciphertexts (or slot vectors) was supplied.
    #[error("expected {expected} ciphertexts, found {found}")]
    CiphertextCount {
        /// Expected count.
        expected: usize,
        /// Count found.
        found: usize,
    },
}

/// Result alias of the module.
pub type Result<T> = std::result::Result<T, LinalgError>;
