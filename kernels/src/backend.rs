//! Runtime backend selection: detection happens once and is cached; `GAZELLE_BACKEND`
//! (`scalar|avx2|avx512|neon`) forces one, and asking for one the CPU lacks is an error.
//!
//! A [`Backend`] is a name, not a proof: plans turn it into the [`crate::isa`] token of its
//! features at construction (an error if the CPU lacks them), and only that token reaches the
//! backend's `#[target_feature]` functions.
use crate::error::KernelError;
use std::sync::OnceLock;

/// Name of the environment variable that forces a backend.
pub const BACKEND_ENV: &str = "GAZELLE_BACKEND";

/// A family of kernels, each tied to an instruction set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Backend {
    /// Portable Rust, the reference every other backend is tested against.
    Scalar,
    /// x86-64 AVX2 (+ AES-NI / VAES-256 for the AES kernels when present).
    Avx2,
    /// x86-64 AVX-512 F/DQ (IFMA52 where present; VAES-512 for AES when present).
    Avx512,
    /// aarch64 Advanced SIMD (+ ARMv8 AES when present).
    Neon,
}

impl Backend {
    /// Every backend, in order of preference from worst to best.
    pub const ALL: [Backend; 4] = [
        Backend::Scalar,
        Backend::Avx2,
        Backend::Avx512,
        Backend::Neon,
    ];

    /// The lower-case name used by `GAZELLE_BACKEND` and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Avx2 => "avx2",
            Backend::Avx512 => "avx512",
            Backend::Neon => "neon",
        }
    }

    /// The CPU features this backend's NTT kernels need.
    pub const fn needs(self) -> &'static str {
        match self {
            Backend::Scalar => "nothing",
            Backend::Avx2 => "x86-64 with avx2 and fma",
            Backend::Avx512 => "x86-64 with avx512f and avx512dq",
            Backend::Neon => "aarch64 with neon",
        }
    }

    /// Parses a backend name (case-insensitive).
    pub fn parse(name: &str) -> Result<Backend, KernelError> {
        let lower = name.trim().to_ascii_lowercase();
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == lower)
            .ok_or(KernelError::UnknownBackend {
                name: name.to_string(),
            })
    }

    /// Whether the running CPU can execute this backend (std caches the CPUID results).
    pub fn is_available(self) -> bool {
        match self {
            Backend::Scalar => true,
            Backend::Avx2 => cpu::has_avx2(),
            Backend::Avx512 => cpu::has_avx512(),
            Backend::Neon => cpu::has_neon(),
        }
    }

    /// `self` if the CPU runs it, else [`KernelError::BackendUnavailable`].
    pub fn check(self) -> Result<Backend, KernelError> {
        KernelError::require(self, self.is_available(), self.name(), self.needs())
    }

    /// The backends this CPU can run, scalar first.
    pub fn available() -> Vec<Backend> {
        Backend::ALL
            .into_iter()
            .filter(|b| b.is_available())
            .collect()
    }

    /// The best backend this CPU can run, ignoring the override.
    pub fn best() -> Backend {
        *Backend::available().last().unwrap_or(&Backend::Scalar)
    }

    /// The process-wide backend: `GAZELLE_BACKEND` if set (an error if unknown or unavailable),
    /// otherwise the best available. Resolved once and cached.
    pub fn selected() -> Result<Backend, KernelError> {
        static SELECTED: OnceLock<Result<Backend, KernelError>> = OnceLock::new();
        SELECTED
            .get_or_init(|| match std::env::var(BACKEND_ENV) {
                Ok(name) if !name.trim().is_empty() => Backend::parse(&name)?.check(),
                _ => Ok(Backend::best()),
            })
            .clone()
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Cached CPU feature queries, for backends and machine reports.
pub mod cpu {
    /// AVX2 and FMA (the NTT's avx2 backend: x86-64-v3's vector features; its `Fp52`
    /// butterflies use FMA).
    pub fn has_avx2() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// AVX-512 F and DQ (the NTT's avx512 backend).
    pub fn has_avx512() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512dq")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// AVX-512 IFMA52 (52-bit multiply-add, used for primes < 2^50 when present).
    pub fn has_avx512ifma() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            has_avx512() && std::arch::is_x86_feature_detected!("avx512ifma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// NEON (Advanced SIMD), always present on aarch64 Linux.
    pub fn has_neon() -> bool {
        #[cfg(target_arch = "aarch64")]
        {
            std::arch::is_aarch64_feature_detected!("neon")
        }
        #[cfg(not(target_arch = "aarch64"))]
        {
            false
        }
    }

    /// Names of the SIMD/crypto features this CPU reports that gazelle's kernels can use.
    pub fn detected_features() -> Vec<&'static str> {
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            macro_rules! probe {
                ($($f:tt),*) => {$(
                    if std::arch::is_x86_feature_detected!($f) { v.push($f); }
                )*};
            }
            probe!(
                "sse4.1",
                "avx",
                "avx2",
                "fma",
                "bmi2",
                "adx",
                "aes",
                "pclmulqdq",
                "vaes",
                "vpclmulqdq",
                "avx512f",
                "avx512dq",
                "avx512vl",
                "avx512bw",
                "avx512ifma"
            );
        }
        #[cfg(target_arch = "aarch64")]
        {
            macro_rules! probe {
                ($($f:tt),*) => {$(
                    if std::arch::is_aarch64_feature_detected!($f) { v.push($f); }
                )*};
            }
            probe!("neon", "aes", "pmull", "sha2");
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names() {
        for b in Backend::ALL {
            assert_eq!(Backend::parse(b.name()).unwrap(), b);
            assert_eq!(Backend::parse(&b.name().to_uppercase()).unwrap(), b);
        }
        assert!(matches!(
            Backend::parse("sse9"),
            Err(KernelError::UnknownBackend { .. })
        ));
    }

    #[test]
    fn scalar_always_available_and_best_is_available() {
        assert!(Backend::Scalar.is_available());
        assert!(Backend::best().is_available());
        assert_eq!(Backend::available()[0], Backend::Scalar);
    }

    #[test]
    fn unavailable_backend_is_an_error() {
        for b in Backend::ALL {
            if !b.is_available() {
                let e = b.check().unwrap_err();
                assert!(e.to_string().contains(b.name()), "{e}");
            }
        }
    }
}
