//! Zero-sized proofs of CPU features: one token type per instruction set the kernels use.
//!
//! A token has a private field, so the only way to get one is its `try_new`, which returns
//! `Some` only after runtime detection (`is_x86_feature_detected!` /
//! `is_aarch64_feature_detected!`, cached by std) saw every feature the type names. Every
//! `#[target_feature]` kernel is reached only through a function that takes the token (or a
//! dispatch table built from one), so holding a token is what makes calling it sound — the
//! scheme of pulp's `Simd` types and concrete-ntt's `V3`/`V4`.
//!
//! Tokens are `Copy`: a proof, once had, stays true for the process.

macro_rules! tokens {
    ($($(#[$doc:meta])* $Name:ident => $detect:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $Name {
            _proof: (),
        }

        impl $Name {
            /// The token if the running CPU has every feature this type names, else `None`.
            #[inline]
            pub fn try_new() -> Option<Self> {
                if $detect {
                    Some(Self { _proof: () })
                } else {
                    None
                }
            }
        }
    )*};
}

#[cfg(target_arch = "x86_64")]
tokens! {
    /// x86-64 AVX2 and FMA: the avx2 NTT kernels and the gather of [`crate::ntt::NttPermutation`].
    Avx2 => crate::backend::cpu::has_avx2();
    /// x86-64 AVX2 and FMA: the double-precision compact products
    /// ([`crate::ntt::NttPlan64::mul_compact_pair`]).
    Avx2Fma => crate::backend::cpu::has_avx2() && std::arch::is_x86_feature_detected!("fma");
    /// x86-64 AVX-512 F and DQ: the avx512 NTT kernels and the block permutation.
    Avx512 => crate::backend::cpu::has_avx512();
    /// x86-64 AVX-512 F, DQ and BW: the products with packed 50-bit multiplicands
    /// ([`crate::ntt::NttPlan64::mul_compact_pair_float_packed`]; word permutes).
    Avx512Bw => crate::backend::cpu::has_avx512() && std::arch::is_x86_feature_detected!("avx512bw");
    /// x86-64 AVX-512 F, DQ and IFMA52: the 52-bit Shoup butterflies
    /// ([`crate::ntt::Reduction::Shoup52`]).
    Avx512Ifma => crate::backend::cpu::has_avx512ifma();
    /// x86-64 AES-NI: the 128-bit AES kernels.
    AesNi => std::arch::is_x86_feature_detected!("aes");
    /// x86-64 AES-NI, VAES and AVX2: the 256-bit AES kernels.
    Vaes256 => std::arch::is_x86_feature_detected!("aes")
        && std::arch::is_x86_feature_detected!("vaes")
        && std::arch::is_x86_feature_detected!("avx2");
    /// x86-64 AES-NI, VAES and AVX-512F: the 512-bit AES kernels.
    Vaes512 => std::arch::is_x86_feature_detected!("aes")
        && std::arch::is_x86_feature_detected!("vaes")
        && std::arch::is_x86_feature_detected!("avx512f");
}

#[cfg(target_arch = "aarch64")]
tokens! {
    /// aarch64 Advanced SIMD: the neon NTT kernels.
    Neon => crate::backend::cpu::has_neon();
    /// aarch64 Advanced SIMD and the ARMv8 AES extension: the AES kernels.
    ArmAes => std::arch::is_aarch64_feature_detected!("neon")
        && std::arch::is_aarch64_feature_detected!("aes");
}
