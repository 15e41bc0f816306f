//! The kernels crate's typed error.
use core::fmt;

/// Why a plan or a backend could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KernelError {
    /// The ring dimension is not a power of two in the supported range.
    InvalidDimension {
        /// Requested dimension.
        n: usize,
        /// Smallest supported dimension.
        min: usize,
        /// Largest supported dimension.
        max: usize,
    },
    /// The modulus is not prime.
    NotPrime {
        /// The modulus.
        q: u64,
    },
    /// `q` is not ≡ 1 mod 2n, so no primitive 2n-th root of unity exists.
    NoRootOfUnity {
        /// The modulus.
        q: u64,
        /// The ring dimension.
        n: usize,
    },
    /// The modulus exceeds what the lazy-reduction bounds of this plan allow.
    ModulusTooLarge {
        /// The modulus.
        q: u64,
        /// Exclusive upper bound on the modulus, in bits.
        max_bits: u32,
    },
    /// The requested backend name is unknown.
    UnknownBackend {
        /// The name given.
        name: String,
    },
    /// The requested backend exists but this CPU lacks its instructions.
    BackendUnavailable {
        /// The backend's name.
        name: &'static str,
        /// The CPU features it needs.
        needs: &'static str,
    },
    /// The requested butterfly reduction does not fit this plan, backend or CPU.
    ReductionUnavailable {
        /// The reduction's name.
        reduction: &'static str,
        /// The backend's name.
        backend: &'static str,
        /// What it needs.
        needs: &'static str,
    },
    /// A slice had the wrong length for the plan.
    LengthMismatch {
        /// Expected length.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// A Galois element must be odd and in [1, 2n).
    InvalidGaloisElement {
        /// The element given.
        g: usize,
        /// The ring dimension.
        n: usize,
    },
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidDimension { n, min, max } => {
                write!(
                    f,
                    "ring dimension {n} is not a power of two in [{min}, {max}]"
                )
            }
            Self::NotPrime { q } => write!(f, "modulus {q} is not prime"),
            Self::NoRootOfUnity { q, n } => write!(
                f,
                "modulus {q} has no primitive {}-th root of unity (needs q ≡ 1 mod {})",
                2 * n,
                2 * n
            ),
            Self::ModulusTooLarge { q, max_bits } => {
                write!(
                    f,
                    "modulus {q} is too large: this plan needs q < 2^{max_bits}"
                )
            }
            Self::UnknownBackend { name } => write!(
                f,
                "unknown backend {name:?} (expected one of scalar, avx2, avx512, neon)"
            ),
            Self::BackendUnavailable { name, needs } => {
                write!(
                    f,
                    "backend {name} is not available on this CPU (needs {needs})"
                )
            }
            Self::ReductionUnavailable {
                reduction,
                backend,
                needs,
            } => write!(
                f,
                "reduction {reduction} is not available with backend {backend} (needs {needs})"
            ),
            Self::LengthMismatch { expected, found } => {
                write!(f, "slice length {found}, expected {expected}")
            }
            Self::InvalidGaloisElement { g, n } => {
                write!(f, "Galois element {g} must be odd and below {}", 2 * n)
            }
        }
    }
}

impl std::error::Error for KernelError {}

impl KernelError {
    /// `Ok(value)` if `available`, else [`KernelError::BackendUnavailable`] for the backend
    /// called `name` that needs `needs`.
    pub(crate) fn require<T>(
        value: T,
        available: bool,
        name: &'static str,
        needs: &'static str,
    ) -> Result<T, KernelError> {
        if available {
            Ok(value)
        } else {
            Err(KernelError::BackendUnavailable { name, needs })
        }
    }
}
