//! The per-plan dispatch table: the SIMD kernels of one (backend, reduction, q), resolved once
//! when the plan is built, so the plan's methods make one indirect call instead of matching on
//! the backend and the reduction each time.
use super::{Reduction, SumBase, Tables};
use crate::backend::Backend;
use crate::error::KernelError;

/// Forward transform: (tables, values, reduce to [0, q) at the end).
pub(crate) type ForwardFn<W> = unsafe fn(&Tables<W>, &mut [W], bool);
/// Inverse transform: (tables, values).
pub(crate) type InverseFn<W> = unsafe fn(&Tables<W>, &mut [W]);
/// Prepared product: (tables, out, a, b, b's Shoup constants, accumulate).
pub(crate) type MulFn<W> = unsafe fn(&Tables<W>, &mut [W], &[W], &[W], &[W], bool);
/// Prepared pair product: (tables, outs, as, b, b's Shoup constants, accumulate).
pub(crate) type PairFn<W> = unsafe fn(&Tables<W>, [&mut [W]; 2], [&[W]; 2], &[W], &[W], bool);
/// Prepared sum: (tables, out, base, terms).
pub(crate) type SumFn<W> = unsafe fn(&Tables<W>, &mut [W], SumBase<'_, W>, &[[&[W]; 3]]);

/// `#[target_feature]` kernels of one instruction set for one plan, as `unsafe fn` pointers
/// (the only pointer type such functions coerce to).
///
/// Invariant: a value exists only on a CPU that has every feature its pointers were compiled
/// with. The ISA modules' `kernels` functions are the only constructors, and each takes the
/// [`crate::isa`] token of its features as an argument; so the safe methods below may call
/// the pointers. Inputs beyond the features (lengths, ranges) are the kernels' own checks or
/// the plan's contract, as for a direct call.
#[derive(Clone, Copy)]
pub(crate) struct SimdKernels<W> {
    /// Instruction set name, for `Debug`.
    pub(super) isa: &'static str,
    pub(super) forward: ForwardFn<W>,
    pub(super) inverse: InverseFn<W>,
    pub(super) mul_prepared: MulFn<W>,
    /// `None`: the ISA has no fused kernel; the plan runs two `mul_prepared`.
    pub(super) mul_prepared_pair: Option<PairFn<W>>,
    /// `None`: the ISA has no fused kernel; the plan runs one `mul_prepared` per term.
    pub(super) mul_prepared_sum: Option<SumFn<W>>,
}

impl<W> std::fmt::Debug for SimdKernels<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.isa)
    }
}

impl<W> SimdKernels<W> {
    /// Forward NTT in place (`reduce` false: [`super::NttPlan64::forward_lazy`]'s bounds).
    #[inline]
    pub(super) fn forward(&self, t: &Tables<W>, a: &mut [W], reduce: bool) {
        // SAFETY: the table exists, so the CPU has the kernels' features (type invariant).
        unsafe { (self.forward)(t, a, reduce) }
    }

    /// Inverse NTT in place.
    #[inline]
    pub(super) fn inverse(&self, t: &Tables<W>, a: &mut [W]) {
        // SAFETY: as in `forward`.
        unsafe { (self.inverse)(t, a) }
    }

    /// out = a ⊙ b (acc: out += a ⊙ b) mod q, b with Shoup constants `bs`.
    #[inline]
    pub(super) fn mul_prepared(
        &self,
        t: &Tables<W>,
        out: &mut [W],
        a: &[W],
        (b, bs): (&[W], &[W]),
        acc: bool,
    ) {
        // SAFETY: as in `forward`.
        unsafe { (self.mul_prepared)(t, out, a, b, bs, acc) }
    }

    /// The fused pair product, if the ISA has one: `Err` hands `out` back.
    #[inline]
    pub(super) fn mul_prepared_pair<'o>(
        &self,
        t: &Tables<W>,
        out: [&'o mut [W]; 2],
        a: [&[W]; 2],
        (b, bs): (&[W], &[W]),
        acc: bool,
    ) -> Result<(), [&'o mut [W]; 2]> {
        match self.mul_prepared_pair {
            Some(f) => {
                // SAFETY: as in `forward`.
                unsafe { f(t, out, a, b, bs, acc) };
                Ok(())
            }
            None => Err(out),
        }
    }

    /// The fused sum, if the ISA has one; `false` if the plan must loop over the terms.
    #[inline]
    pub(super) fn mul_prepared_sum(
        &self,
        t: &Tables<W>,
        out: &mut [W],
        base: SumBase<'_, W>,
        terms: &[[&[W]; 3]],
    ) -> bool {
        match self.mul_prepared_sum {
            Some(f) => {
                // SAFETY: as in `forward`.
                unsafe { f(t, out, base, terms) };
                true
            }
            None => false,
        }
    }
}

/// The kernels of a u64 plan on an ISA module whose traversal is generic over the lane-product
/// kind (`forward_impl::<K>` … `mul_sum_impl::<K>`, see [`super::kind`]): `WIDE` for Shoup
/// plans and prepared products when q < 2^56 ([`super::kind::wide_q`]), Montgomery
/// butterflies for Montgomery plans. Expands in the ISA module, after its token was taken.
#[cfg(target_arch = "x86_64")]
macro_rules! u64_kernels {
    ($isa:literal, $red:expr, $q:expr) => {{
        use crate::ntt::kind::{self, MONT, SHOUP, WIDE};
        /// Forward/inverse of kind `F`, prepared products of kind `M`.
        fn table<const F: u8, const M: u8>() -> SimdKernels<u64> {
            SimdKernels {
                isa: $isa,
                forward: forward_impl::<F>,
                inverse: inverse_impl::<F>,
                mul_prepared: mul_prepared_impl::<M>,
                mul_prepared_pair: Some(mul_prepared_pair_impl::<M>),
                mul_prepared_sum: Some(mul_sum_impl::<M>),
            }
        }
        match ($red, kind::wide_q($q)) {
            (Reduction::Shoup, true) => table::<WIDE, WIDE>(),
            (Reduction::Shoup, false) => table::<SHOUP, SHOUP>(),
            (Reduction::Montgomery, true) => table::<MONT, WIDE>(),
            (Reduction::Montgomery, false) => table::<MONT, SHOUP>(),
            (Reduction::Shoup52, _) => unreachable!("Shoup52 plans take the IFMA52 kernels"),
            (Reduction::Fp52, _) => unreachable!("Fp52 plans take the avx2 FMA kernels"),
        }
    }};
}

/// The error of a backend the CPU lacks (as [`Backend::check`] gives it).
pub(super) fn unavailable(backend: Backend) -> KernelError {
    KernelError::BackendUnavailable {
        name: backend.name(),
        needs: backend.needs(),
    }
}

/// The token of `backend`, or [`unavailable`] when the CPU lacks it.
#[allow(unused_macros)]
macro_rules! token {
    ($Token:ident, $backend:expr) => {
        crate::isa::$Token::try_new().ok_or_else(|| unavailable($backend))?
    };
}

/// `fn $name(backend, reduction, q)`: the SIMD kernels of a plan of word `$W` (`None`:
/// scalar), for a backend that passed [`Backend::check`] and a reduction that passed the plan's
/// `check_reduction`; each ISA module's `kernels` gets the token of its backend.
macro_rules! simd_resolver {
    ($name:ident, $W:ident) => {
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
        pub(crate) fn $name(
            backend: Backend,
            reduction: Reduction,
            q: u64,
        ) -> Result<Option<SimdKernels<$W>>, KernelError> {
            Ok(Some(match backend {
                Backend::Scalar => return Ok(None),
                #[cfg(target_arch = "x86_64")]
                Backend::Avx2 => super::avx2::$W::kernels(token!(Avx2, backend), reduction, q),
                #[cfg(target_arch = "x86_64")]
                Backend::Avx512 => {
                    super::avx512::$W::kernels(token!(Avx512, backend), reduction, q)?
                }
                #[cfg(target_arch = "aarch64")]
                Backend::Neon => super::neon::$W::kernels(token!(Neon, backend), reduction),
                #[allow(unreachable_patterns)]
                other => return Err(unavailable(other)),
            }))
        }
    };
}

simd_resolver!(simd_u64, u64);
simd_resolver!(simd_u32, u32);
