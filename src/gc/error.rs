//! The garbled-circuit layer's typed error.
use kernels::KernelError;
use thiserror::Error;

/// Why garbling, evaluation or circuit construction failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GcError {
    /// An input vector had the wrong length.
    #[error("expected {expected} input values or labels, found {found}")]
    InputLength {
        /// Expected length.
        expected: usize,
        /// Length given.
        found: usize,
    },
    /// Output labels and decoding bits do not match in length.
    #[error("expected {expected} output labels, found {found}")]
    OutputLength {
        /// Expected length.
        expected: usize,
        /// Length given.
        found: usize,
    },
    /// The table stream ended before every AND gate's table was read.
    #[error("garbled table stream truncated: expected {expected} bytes, got {found}")]
    TruncatedTables {
        /// Bytes the circuit needs.
        expected: usize,
        /// Bytes the stream held.
        found: usize,
    },
    /// Bytes were left in the table stream after the last AND gate.
    #[error("garbled table stream too long: at least {extra} bytes past the {expected} expected")]
    TrailingBytes {
        /// Bytes the circuit needs.
        expected: usize,
        /// Extra bytes seen (a lower bound: reading stops at the first surplus).
        extra: usize,
    },
    /// The sink or source failed.
    #[error("garbled table I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The AES kernel could not be set up (e.g. `GAZELLE_BACKEND` names an unavailable one).
    #[error("AES kernel: {0}")]
    Kernel(#[from] KernelError),
    /// The operating system's random number generator failed.
    #[error("OS random number generator: {0}")]
    Rng(String),
    /// A circuit parameter is out of range.
    #[error("invalid circuit parameters: {0}")]
    InvalidParams(String),
    /// A value is outside the range its encoding allows (e.g. a share ≥ p).
    #[error("value {value} out of range: must be below {bound}")]
    ValueOutOfRange {
        /// The value.
        value: u64,
        /// Exclusive upper bound.
        bound: u64,
    },
}

/// Result with [`GcError`].
pub type Result<T> = std::result::Result<T, GcError>;
