//! Negacyclic NTT plans over Z_q[X]/(X^n + 1), dispatched to a backend chosen once per plan.
//!
//! * [`NttPlan64`]: primes q < 2^62 (lazy values in [0, 4q) need 4q < 2^64).
//! * [`NttPlan32`]: primes q < 2^30 (4q < 2^32).
//!
//! Butterflies reduce their twiddle products with a [`Reduction`]: Shoup or Montgomery on every
//! backend, and for u64 plans with q < 2^50 the 52-bit Shoup variant ([`Reduction::Shoup52`]),
//! which the avx512 backend runs on AVX-512 IFMA52 (`vpmadd52{lo,hi}uq`: 3 multiply-adds per 8
//! lanes instead of 4 `vpmuludq` + 2 `vpmullq`) and scalar runs as its bit-exact reference.
//! [`NttPlan64::try_new`] picks it by itself where the CPU has IFMA52 and q < 2^50; on avx2 it
//! picks [`Reduction::Fp52`] for q < 2^50 (the Shoup quotient in double precision: 1 multiply
//! and 3 FMAs per 4 lanes instead of 10 `vpmuludq`, module [`fp52`]).
//! A u64 Shoup plan with q < 2^56 runs, on avx2 and avx512, an approximate-quotient variant
//! (three `vpmuludq` for the high product, products in [0, 4q), forward stages without
//! reductions: `kind::WIDE`); its results are the same, fully reduced.
//!
//! The forward transform maps coefficients (natural order) to evaluations in bit-reversed
//! order: output slot i holds a(ψ^(2·brv(i)+1)), ψ the plan's primitive 2n-th root of unity.
//! The inverse undoes it exactly (n⁻¹ included). Both are in place; inputs and outputs are
//! fully reduced to [0, q) unless a function says otherwise.
use crate::aligned::{AlignedVec, Word};
use crate::backend::Backend;
use crate::error::KernelError;
use crate::modarith::{Modulus32, Modulus64, SHOUP52_MAX_BITS};
use crate::prime::{bit_reverse, primitive_root_of_unity};
use dispatch::SimdKernels;

mod compact;
#[macro_use]
mod dispatch;
mod fp52;
pub use compact::{pack, packed_bytes, unpack_one, COMPACT_MAX_BITS, FLOAT_TERMS, PACKED_PAD};
pub use fp52::FP52_MAX_BITS;
pub(crate) mod scalar;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
#[cfg(any(target_arch = "x86_64", test))]
pub(crate) mod shuffle;

/// Where [`NttPlan64::mul_prepared_sum`] (and the u32 one) starts its sum.
#[derive(Debug, Clone, Copy)]
pub enum SumBase<'a, W> {
    /// The output's own values (accumulate in place).
    Acc,
    /// Another slice of n values in [0, q).
    From(&'a [W]),
    /// Zero.
    Zero,
}

/// Lane-product kinds of the SIMD traversals (a const parameter, resolved at compile time).
#[cfg(target_arch = "x86_64")]
pub(crate) mod kind {
    /// Shoup: y·w mod q in [0, 2q) for y in [0, 4q).
    pub(crate) const SHOUP: u8 = 0;
    /// Montgomery: as Shoup, twiddles in Montgomery form.
    pub(crate) const MONT: u8 = 1;
    /// Approximate-quotient Shoup (u64 lanes, q < 2^56 only: [`wide_q`]): the high product
    /// ⌊y·w'/2^64⌋ from three 32×32-bit products instead of four (it may come out up to 2 low),
    /// so y·w mod q lands in [0, 4q), for *any* y < 2^64. The forward transform then needs no
    /// per-stage reduction: values grow by 4q per stage from [0, 4q), to at most 64q < 2^62
    /// after 15 stages, and the last stage reduces to [0, q). The inverse keeps values in
    /// [0, 4q) between stages.
    pub(crate) const WIDE: u8 = 2;
    /// Shoup with the quotient in double precision (u64 lanes, q < 2^50, avx2 with FMA; module
    /// [`super::fp52`]): y·w mod q in [0, 2q) for y < 2^52, from f64 twiddle constants.
    pub(crate) const FP: u8 = 3;

    /// Approximate-quotient Shoup (as `WIDE`) for the forward transform of a u64 Shoup plan
    /// with 2^56 ≤ q < 2^61 on avx512 ([`lazy8_q`]): values stay in [0, 8q) between stages
    /// (< 2^64), so a butterfly needs one conditional subtraction (of 4q, on x) instead of
    /// two (x by 2q, the product by 2q); the last stage reduces to [0, q). The inverse and the
    /// prepared products of such a plan are `SHOUP`'s.
    pub(crate) const LAZY8: u8 = 4;

    /// Whether a u64 Shoup plan for prime q takes the `WIDE` kind.
    pub(crate) const fn wide_q(q: u64) -> bool {
        q < 1 << 56
    }

    /// Whether a u64 Shoup plan for prime q takes the `LAZY8` forward transform on avx512.
    pub(crate) const fn lazy8_q(q: u64) -> bool {
        !wide_q(q) && q < 1 << 61
    }
}

/// Smallest supported ring dimension.
pub const MIN_N: usize = 256;
/// Largest supported ring dimension.
pub const MAX_N: usize = 32768;

/// How a butterfly reduces its twiddle product. All use the same traversal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// Shoup (Barrett with a per-twiddle precomputed quotient constant ⌊w·2^W/q⌋): 1 high +
    /// 2 low products.
    Shoup,
    /// Signed Montgomery REDC with twiddles in Montgomery form: 2 high + 1 low products.
    Montgomery,
    /// Shoup with 52-bit quotient constants ⌊w·2^52/q⌋, for u64 plans with q < 2^50 (lazy
    /// values in [0, 4q) then fit 52 bits): on avx512 three IFMA52 multiply-adds per 8 lanes
    /// (needs avx512ifma); on scalar the bit-exact reference. Other backends reject it.
    Shoup52,
    /// Shoup with the quotient ⌊y·w/q⌉ computed in double precision from (w, fl(w/q)) and the
    /// remainder made exact with FMAs, for u64 plans with q < 2^50: on avx2 one multiply and
    /// three FMAs per 4 lanes (module `fp52`); on scalar the bit-exact reference. Prepared
    /// products keep the 64-bit Shoup constants. Other backends reject it.
    Fp52,
}

impl Reduction {
    /// Every reduction. Not every one fits every plan: see [`NttPlan64::check_reduction`].
    pub const ALL: [Reduction; 4] = [
        Reduction::Shoup,
        Reduction::Montgomery,
        Reduction::Shoup52,
        Reduction::Fp52,
    ];

    /// Lower-case name for reports.
    pub const fn name(self) -> &'static str {
        match self {
            Reduction::Shoup => "shoup",
            Reduction::Montgomery => "montgomery",
            Reduction::Shoup52 => "shoup52",
            Reduction::Fp52 => "fp52",
        }
    }
}

/// The parts of [`Reduction::Shoup52`] the shared plan code names for both word sizes.
/// [`Modulus64`] has them as inherent methods (which take precedence); u32 plans reject
/// `Shoup52` in `check_reduction`, so the [`Modulus32`] impl is never reached.
trait Shoup52Ops<W> {
    fn shoup52(&self, w: W) -> W;
    fn mul_shoup52_lazy(&self, a: W, w: W, ws: W) -> W;
    fn mul_shoup52(&self, a: W, w: W, ws: W) -> W;
}

impl Shoup52Ops<u32> for Modulus32 {
    fn shoup52(&self, _: u32) -> u32 {
        unreachable!("NttPlan32::check_reduction rejects Reduction::Shoup52")
    }
    fn mul_shoup52_lazy(&self, _: u32, _: u32, _: u32) -> u32 {
        unreachable!("NttPlan32::check_reduction rejects Reduction::Shoup52")
    }
    fn mul_shoup52(&self, _: u32, _: u32, _: u32) -> u32 {
        unreachable!("NttPlan32::check_reduction rejects Reduction::Shoup52")
    }
}

/// Precomputed tables shared by all backends (twiddles in bit-reversed order, index k in 1..n).
#[derive(Debug, Clone)]
pub(crate) struct Tables<W> {
    pub(crate) q: W,
    pub(crate) two_q: W,
    /// q⁻¹ mod 2^W (Montgomery).
    pub(crate) q_inv: W,
    /// ψ^brv(k), its Shoup constant (⌊w·2^W/q⌋, or ⌊w·2^52/q⌋ in a `Shoup52` plan) and
    /// Montgomery form.
    pub(crate) tw: AlignedVec<W>,
    pub(crate) tw_shoup: AlignedVec<W>,
    pub(crate) tw_mont: AlignedVec<W>,
    /// ψ^−brv(k), its Shoup constant (as for `tw_shoup`) and Montgomery form.
    pub(crate) itw: AlignedVec<W>,
    pub(crate) itw_shoup: AlignedVec<W>,
    pub(crate) itw_mont: AlignedVec<W>,
    /// n⁻¹ mod q, its Shoup constant (as for `tw_shoup`) and Montgomery form.
    pub(crate) n_inv: W,
    pub(crate) n_inv_shoup: W,
    pub(crate) n_inv_mont: W,
    /// ψ^−brv(1)·n⁻¹ (the last inverse stage's twiddle with the scaling folded in) and its
    /// Shoup constant (as for `tw_shoup`); read by the x86-64 kernels only.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) itw1_n_inv: W,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) itw1_n_inv_shoup: W,
    /// The double twiddle constants of a [`Reduction::Fp52`] plan; `None` in other plans.
    pub(crate) fp: Option<fp52::FpTwiddles>,
    /// The lane-ordered twiddles of the stages with half 4 and 2 of a [`Reduction::Shoup52`]
    /// plan (the avx512 IFMA kernels run those stages in registers); `None` in other plans.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) lanes: Option<LaneTwiddles>,
}

/// Twiddles (and their Shoup constants) of the stages with half 4 and 2, laid out per
/// 16-element block as the avx512 kernels hold the butterflies in a vector, so that they load
/// them without a permute: block β's 8 entries, in lanes 0..8, are
/// * half 4: ψ(n/8 + 2β + l/4) (x = elements 0..4 and 8..12 of the block);
/// * half 2: ψ(n/4 + 4β + l/2) (x = elements 0, 1, 4, 5, 8, 9, 12, 13),
///
/// forward (`fwd`) and inverse (`inv`, ψ^−1), each as (twiddles, Shoup constants).
#[derive(Debug, Clone)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) struct LaneTwiddles {
    pub(crate) fwd4: [AlignedVec<u64>; 2],
    pub(crate) fwd2: [AlignedVec<u64>; 2],
    pub(crate) inv4: [AlignedVec<u64>; 2],
    pub(crate) inv2: [AlignedVec<u64>; 2],
}

impl LaneTwiddles {
    /// From the bit-reversed tables (n entries each) and their Shoup constants.
    fn new(tw: [&[u64]; 2], itw: [&[u64]; 2]) -> LaneTwiddles {
        let n = tw[0].len();
        let lay = |t: &[u64], base: usize, per: usize| -> AlignedVec<u64> {
            (0..n / 2)
                .map(|i| t[base + (i / 8) * (8 / per) + (i % 8) / per])
                .collect()
        };
        let both =
            |t: [&[u64]; 2], base: usize, per: usize| [lay(t[0], base, per), lay(t[1], base, per)];
        LaneTwiddles {
            fwd4: both(tw, n / 8, 4),
            fwd2: both(tw, n / 4, 2),
            inv4: both(itw, n / 8, 4),
            inv2: both(itw, n / 4, 2),
        }
    }
}

impl<W: Word> Tables<W> {
    /// (twiddles, Shoup constants) of the forward or inverse transform, or (Montgomery-form
    /// twiddles, the same again: unused) for Montgomery butterflies. The Shoup constants are
    /// those of the plan's reduction (64-, 32- or 52-bit).
    pub(crate) fn twiddles(&self, fwd: bool, mont: bool) -> (&[W], &[W]) {
        match (fwd, mont) {
            (true, false) => (&self.tw, &self.tw_shoup),
            (true, true) => (&self.tw_mont, &self.tw_mont),
            (false, false) => (&self.itw, &self.itw_shoup),
            (false, true) => (&self.itw_mont, &self.itw_mont),
        }
    }
}

fn check_dimension(n: usize) -> Result<u32, KernelError> {
    if !n.is_power_of_two() || !(MIN_N..=MAX_N).contains(&n) {
        return Err(KernelError::InvalidDimension {
            n,
            min: MIN_N,
            max: MAX_N,
        });
    }
    Ok(n.trailing_zeros())
}

/// Resolves the process-wide backend (override or best) for a new plan.
fn default_backend() -> Result<Backend, KernelError> {
    Backend::selected()
}

macro_rules! ntt_plan {
    ($(#[$doc:meta])* $Plan:ident, $W:ty, $Modulus:ident, $max_bits:expr, $simd:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $Plan {
            n: usize,
            log_n: u32,
            modulus: $Modulus,
            psi: $W,
            backend: Backend,
            reduction: Reduction,
            t: Tables<$W>,
            /// The SIMD kernels of (backend, reduction, q), resolved once; `None`: scalar.
            simd: Option<SimdKernels<$W>>,
            /// Compact products (u64 plans with q < 2^50 only): the constants and the SIMD
            /// kernel of the backend, if it has one. Always `None` in (and unread by) u32 plans.
            #[allow(dead_code)]
            compact: Option<(compact::Consts, Option<compact::Kernels>)>,
        }

        impl $Plan {
            /// Largest modulus width (exclusive, in bits) this plan accepts.
            pub const MAX_BITS: u32 = $max_bits;

            /// A plan for (n, q) on the process-wide backend (`GAZELLE_BACKEND` or the best the
            /// CPU has) with the fastest reduction it has for q ([`Self::default_reduction`]).
            pub fn try_new(n: usize, q: u64) -> Result<Self, KernelError> {
                let backend = default_backend()?;
                Self::with_backend(n, q, backend, Self::default_reduction(backend, q))
            }

            /// The reduction [`Self::try_new`] uses: [`Reduction::Shoup52`] on avx512 when the
            /// CPU has avx512ifma, the plan is u64 and q < 2^50; [`Reduction::Fp52`] on avx2
            /// when the plan is u64 and q < 2^50; Shoup otherwise.
            pub fn default_reduction(backend: Backend, q: u64) -> Reduction {
                if backend == Backend::Avx512
                    && Self::check_reduction(backend, Reduction::Shoup52, q).is_ok()
                {
                    Reduction::Shoup52
                } else if backend == Backend::Avx2
                    && Self::check_reduction(backend, Reduction::Fp52, q).is_ok()
                {
                    Reduction::Fp52
                } else {
                    Reduction::Shoup
                }
            }

            /// Whether a plan of this word size on `backend` can use `reduction` for q:
            /// Shoup and Montgomery always; [`Reduction::Shoup52`] only for u64 plans with
            /// q < 2^50, on scalar (the reference) or on avx512 where the CPU has avx512ifma;
            /// [`Reduction::Fp52`] only for u64 plans with q < 2^50, on scalar (the reference)
            /// or avx2. Does not check the backend itself (see [`Backend::check`]).
            pub fn check_reduction(
                backend: Backend,
                reduction: Reduction,
                q: u64,
            ) -> Result<(), KernelError> {
                if !matches!(reduction, Reduction::Shoup52 | Reduction::Fp52) {
                    return Ok(());
                }
                let unavailable = |needs| KernelError::ReductionUnavailable {
                    reduction: reduction.name(),
                    backend: backend.name(),
                    needs,
                };
                if <$W>::BITS != 64 {
                    return Err(unavailable("a u64 plan (NttPlan64)"));
                }
                if q >= 1u64 << SHOUP52_MAX_BITS {
                    return Err(KernelError::ModulusTooLarge { q, max_bits: SHOUP52_MAX_BITS });
                }
                if reduction == Reduction::Fp52 {
                    return match backend {
                        Backend::Scalar | Backend::Avx2 => Ok(()),
                        _ => Err(unavailable("the scalar or avx2 backend")),
                    };
                }
                match backend {
                    Backend::Scalar => Ok(()),
                    Backend::Avx512 if crate::backend::cpu::has_avx512ifma() => Ok(()),
                    Backend::Avx512 => Err(unavailable("a CPU with avx512ifma")),
                    _ => Err(unavailable("the scalar or avx512 backend")),
                }
            }

            /// A plan on an explicit backend and reduction; errors if the CPU lacks the backend
            /// or the reduction does not fit ([`Self::check_reduction`]).
            pub fn with_backend(
                n: usize,
                q: u64,
                backend: Backend,
                reduction: Reduction,
            ) -> Result<Self, KernelError> {
                let log_n = check_dimension(n)?;
                if q >= 1u64 << $max_bits {
                    return Err(KernelError::ModulusTooLarge { q, max_bits: $max_bits });
                }
                let modulus = $Modulus::new(q)?;
                let backend = backend.check()?;
                Self::check_reduction(backend, reduction, q)?;
                let simd = $simd(backend, reduction, q)?;
                let psi = primitive_root_of_unity(2 * n as u64, q)
                    .ok_or(KernelError::NoRootOfUnity { q, n })?;
                let m = &modulus;
                let psi_w = psi as $W;
                let psi_inv = m.inv(psi_w).expect("ψ is a unit");
                let mut tw = vec![0 as $W; n];
                let mut itw = vec![0 as $W; n];
                // Powers ψ^j and ψ^−j for j < n, then scatter to bit-reversed positions.
                let (mut p, mut ip) = (1 as $W, 1 as $W);
                let mut pw = vec![0 as $W; n];
                let mut ipw = vec![0 as $W; n];
                for j in 0..n {
                    pw[j] = p;
                    ipw[j] = ip;
                    p = m.mul(p, psi_w);
                    ip = m.mul(ip, psi_inv);
                }
                for k in 0..n {
                    let e = bit_reverse(k, log_n);
                    tw[k] = pw[e];
                    itw[k] = ipw[e];
                }
                // Shoup constants of the plan's reduction (52-bit ones for Shoup52).
                let shoup_of = |w: $W| {
                    if reduction == Reduction::Shoup52 {
                        m.shoup52(w)
                    } else {
                        m.shoup(w)
                    }
                };
                let shoup = |v: &[$W]| v.iter().map(|&w| shoup_of(w)).collect::<AlignedVec<_>>();
                let mont = |v: &[$W]| v.iter().map(|&w| m.to_montgomery(w)).collect::<AlignedVec<_>>();
                let n_inv = m.inv((n as u64 % q) as $W).expect("n is a unit mod q");
                let itw1_n_inv = m.mul(itw[1], n_inv);
                let (tw_shoup, itw_shoup) = (shoup(&tw), shoup(&itw));
                let wide = |v: &[$W]| v.iter().map(|&w| w as u64).collect::<Vec<_>>();
                let lanes = (reduction == Reduction::Shoup52).then(|| {
                    LaneTwiddles::new(
                        [&wide(&tw), &wide(&tw_shoup)],
                        [&wide(&itw), &wide(&itw_shoup)],
                    )
                });
                let t = Tables {
                    q: q as $W,
                    two_q: (2 * q) as $W,
                    q_inv: m.q_inv(),
                    tw_shoup,
                    tw_mont: mont(&tw),
                    itw_shoup,
                    itw_mont: mont(&itw),
                    tw: AlignedVec::from_slice(&tw),
                    itw: AlignedVec::from_slice(&itw),
                    n_inv,
                    n_inv_shoup: shoup_of(n_inv),
                    n_inv_mont: m.to_montgomery(n_inv),
                    itw1_n_inv,
                    itw1_n_inv_shoup: shoup_of(itw1_n_inv),
                    lanes,
                    fp: (reduction == Reduction::Fp52).then(|| {
                        fp52::FpTwiddles::new(
                            q,
                            &wide(&tw),
                            &wide(&itw),
                            n_inv as u64,
                            itw1_n_inv as u64,
                        )
                    }),
                };
                let compact = if <$W>::BITS == 64 {
                    compact::Consts::new(q).map(|c| (c, compact::select(backend)))
                } else {
                    None
                };
                Ok(Self { n, log_n, modulus, psi: psi_w, backend, reduction, t, simd, compact })
            }

            /// Ring dimension n.
            pub fn n(&self) -> usize {
                self.n
            }

            /// log2 n.
            pub fn log_n(&self) -> u32 {
                self.log_n
            }

            /// The modulus q.
            pub fn q(&self) -> $W {
                self.t.q
            }

            /// The modulus with its reduction constants.
            pub fn modulus(&self) -> &$Modulus {
                &self.modulus
            }

            /// The primitive 2n-th root of unity ψ used by this plan.
            pub fn psi(&self) -> $W {
                self.psi
            }

            /// The backend this plan dispatches to.
            pub fn backend(&self) -> Backend {
                self.backend
            }

            /// The butterfly reduction in use.
            pub fn reduction(&self) -> Reduction {
                self.reduction
            }

            fn check_len(&self, len: usize) {
                assert_eq!(len, self.n, "slice length must equal the plan's n");
            }

            /// Forward negacyclic NTT in place: coefficients in [0, q) → evaluations in [0, q),
            /// bit-reversed order. Accepts inputs in [0, 4q). Panics if `a.len() != n`.
            pub fn forward(&self, a: &mut [$W]) {
                self.check_len(a.len());
                match &self.simd {
                    Some(k) => k.forward(&self.t, a, true),
                    None => self.forward_scalar(a),
                }
            }

            /// [`Self::forward`] without the final reduction: each output is congruent to the
            /// transform mod q and below 64q where q < 2^56 (below 8q for q < 2^61 on avx512,
            /// below 4q for larger q and in a [`Reduction::Shoup52`] or [`Reduction::Fp52`]
            /// plan), which
            /// every prepared product accepts as its first operand (`mul_prepared`, `_pair`,
            /// `_sum`): for operands that are only ever multiplied. Lazy on avx2 (u64) and
            /// avx512; other backends return reduced values.
            pub fn forward_lazy(&self, a: &mut [$W]) {
                self.check_len(a.len());
                match &self.simd {
                    Some(k) => k.forward(&self.t, a, false),
                    None => self.forward_scalar(a),
                }
            }

            /// Inverse negacyclic NTT in place (n⁻¹ included): evaluations in [0, q),
            /// bit-reversed → coefficients in [0, q). Accepts inputs in [0, 2q).
            pub fn inverse(&self, a: &mut [$W]) {
                self.check_len(a.len());
                match &self.simd {
                    Some(k) => k.inverse(&self.t, a),
                    None => self.inverse_scalar(a),
                }
            }

            fn forward_scalar(&self, a: &mut [$W]) {
                let (t, m) = (&self.t, &self.modulus);
                debug_assert!(a.iter().all(|&x| x < 2 * t.two_q));
                match self.reduction {
                    Reduction::Shoup => scalar::forward_lazy(a, t.two_q, |y, k| {
                        m.mul_shoup_lazy(y, t.tw[k], t.tw_shoup[k])
                    }),
                    Reduction::Montgomery => scalar::forward_lazy(a, t.two_q, |y, k| {
                        m.mul_montgomery_lazy(y, t.tw_mont[k])
                    }),
                    Reduction::Shoup52 => scalar::forward_lazy(a, t.two_q, |y, k| {
                        m.mul_shoup52_lazy(y, t.tw[k], t.tw_shoup[k])
                    }),
                    Reduction::Fp52 => {
                        let (q, fp) = (t.q as u64, t.fp.as_ref().expect("an fp52 plan"));
                        scalar::forward_lazy(a, t.two_q, |y, k| {
                            fp52::mul_lazy(y as u64, (fp.tw[k], fp.tw_q[k]), q) as $W
                        })
                    }
                }
                scalar::reduce_4q(a, t.q, t.two_q);
            }

            fn inverse_scalar(&self, a: &mut [$W]) {
                let (t, m) = (&self.t, &self.modulus);
                debug_assert!(a.iter().all(|&x| x < t.two_q));
                match self.reduction {
                    Reduction::Shoup => {
                        scalar::inverse_lazy(a, t.two_q, |v, k| {
                            m.mul_shoup_lazy(v, t.itw[k], t.itw_shoup[k])
                        });
                        for x in a.iter_mut() {
                            *x = m.mul_shoup(*x, t.n_inv, t.n_inv_shoup);
                        }
                    }
                    Reduction::Montgomery => {
                        scalar::inverse_lazy(a, t.two_q, |v, k| {
                            m.mul_montgomery_lazy(v, t.itw_mont[k])
                        });
                        for x in a.iter_mut() {
                            *x = m.mul_montgomery(*x, t.n_inv_mont);
                        }
                    }
                    Reduction::Shoup52 => {
                        scalar::inverse_lazy(a, t.two_q, |v, k| {
                            m.mul_shoup52_lazy(v, t.itw[k], t.itw_shoup[k])
                        });
                        for x in a.iter_mut() {
                            *x = m.mul_shoup52(*x, t.n_inv, t.n_inv_shoup);
                        }
                    }
                    Reduction::Fp52 => {
                        let (q, fp) = (t.q as u64, t.fp.as_ref().expect("an fp52 plan"));
                        scalar::inverse_lazy(a, t.two_q, |v, k| {
                            fp52::mul_lazy(v as u64, (fp.itw[k], fp.itw_q[k]), q) as $W
                        });
                        for x in a.iter_mut() {
                            *x = m.mul_shoup(*x, t.n_inv, t.n_inv_shoup);
                        }
                    }
                }
            }

            /// Shoup constants of an operand that will multiply many others (e.g. a plaintext
            /// in NTT form), for this plan's reduction: `prepared[i] = ⌊b[i]·2^W / q⌋`, or
            /// ⌊b[i]·2^52 / q⌋ in a [`Reduction::Shoup52`] plan. Requires b in [0, q). Use them
            /// only with a plan of the same q and reduction.
            pub fn prepare(&self, b: &[$W]) -> Vec<$W> {
                let mut out = vec![0; b.len()];
                self.prepare_into(b, &mut out);
                out
            }

            /// [`Self::prepare`] into `out` (n words).
            pub fn prepare_into(&self, b: &[$W], out: &mut [$W]) {
                self.check_len(b.len());
                self.check_len(out.len());
                if self.prepare_simd(b, out) {
                    return;
                }
                let m = &self.modulus;
                if self.reduction == Reduction::Shoup52 {
                    for (o, &x) in out.iter_mut().zip(b) {
                        *o = m.shoup52(x);
                    }
                } else {
                    for (o, &x) in out.iter_mut().zip(b) {
                        *o = m.shoup(x);
                    }
                }
            }

            /// out = a ⊙ b mod q; a, b in [0, q) → [0, q).
            pub fn mul(&self, out: &mut [$W], a: &[$W], b: &[$W]) {
                self.mul_into(out, a, b, false);
            }

            /// acc = acc + a ⊙ b mod q; all in [0, q) → [0, q).
            pub fn mul_acc(&self, acc: &mut [$W], a: &[$W], b: &[$W]) {
                self.mul_into(acc, a, b, true);
            }

            /// [`Self::mul`] (`acc` false) or [`Self::mul_acc`] (`acc` true).
            fn mul_into(&self, out: &mut [$W], a: &[$W], b: &[$W], acc: bool) {
                self.check_len(out.len());
                self.check_len(a.len());
                self.check_len(b.len());
                let m = &self.modulus;
                for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                    let p = m.mul(x, y);
                    *o = if acc { m.add(*o, p) } else { p };
                }
            }

            /// out = a ⊙ b mod q with `b_shoup = prepare(b)`; a any word (a < 2^52 in a
            /// [`Reduction::Shoup52`] plan: true of any a in [0, 4q)), b in [0, q) → [0, q).
            pub fn mul_prepared(&self, out: &mut [$W], a: &[$W], b: &[$W], b_shoup: &[$W]) {
                self.mul_prepared_into(out, a, b, b_shoup, false);
            }

            /// acc = acc + a ⊙ b mod q with `b_shoup = prepare(b)`; acc in [0, q) → [0, q);
            /// a as in [`Self::mul_prepared`].
            pub fn mul_acc_prepared(&self, acc: &mut [$W], a: &[$W], b: &[$W], b_shoup: &[$W]) {
                self.mul_prepared_into(acc, a, b, b_shoup, true);
            }

            /// [`Self::mul_prepared`] (`acc` false) or [`Self::mul_acc_prepared`] (`acc` true).
            fn mul_prepared_into(
                &self,
                out: &mut [$W],
                a: &[$W],
                b: &[$W],
                b_shoup: &[$W],
                acc: bool,
            ) {
                self.check_len(out.len());
                self.check_len(a.len());
                self.check_len(b.len());
                self.check_len(b_shoup.len());
                let m = &self.modulus;
                let store = |o: &mut $W, p: $W| *o = if acc { m.add(*o, p) } else { p };
                match &self.simd {
                    Some(k) => k.mul_prepared(&self.t, out, a, (b, b_shoup), acc),
                    None if self.reduction == Reduction::Shoup52 => {
                        for (((o, &x), &y), &ys) in out.iter_mut().zip(a).zip(b).zip(b_shoup) {
                            store(o, m.mul_shoup52(x, y, ys));
                        }
                    }
                    None => {
                        for (((o, &x), &y), &ys) in out.iter_mut().zip(a).zip(b).zip(b_shoup) {
                            store(o, m.mul_shoup(x, y, ys));
                        }
                    }
                }
            }

            /// out[i] = a[i] ⊙ b mod q for i = 0, 1 (`acc`: out[i] += a[i] ⊙ b), with
            /// `b_shoup = prepare(b)`: the same results as two [`Self::mul_prepared`] (or
            /// [`Self::mul_acc_prepared`]) calls, in one pass over b and its constants on avx2 and
            /// avx512 (e.g. both halves of a ciphertext times one plaintext). Panics if a slice's
            /// length is not n.
            pub fn mul_prepared_pair(
                &self,
                out: [&mut [$W]; 2],
                a: [&[$W]; 2],
                (b, b_shoup): (&[$W], &[$W]),
                acc: bool,
            ) {
                for x in a.iter().chain([&b, &b_shoup]) {
                    self.check_len(x.len());
                }
                for o in &out {
                    self.check_len(o.len());
                }
                let fused = match &self.simd {
                    Some(k) => k.mul_prepared_pair(&self.t, out, a, (b, b_shoup), acc),
                    None => Err(out),
                };
                match fused {
                    Ok(()) => {}
                    Err(out) => {
                        let [o0, o1] = out;
                        if acc {
                            self.mul_acc_prepared(o0, a[0], b, b_shoup);
                            self.mul_acc_prepared(o1, a[1], b, b_shoup);
                        } else {
                            self.mul_prepared(o0, a[0], b, b_shoup);
                            self.mul_prepared(o1, a[1], b, b_shoup);
                        }
                    }
                }
            }

            /// out = base + Σ_t a_t ⊙ b_t mod q over `terms` = [a_t, b_t, prepare(b_t)], where
            /// base is out's own values ([`SumBase::Acc`]), another slice or zero: the same result
            /// as copying base and calling [`Self::mul_acc_prepared`] once per term, in one pass
            /// on avx2 and avx512 (partial sums stay unreduced in registers; other backends loop
            /// over the terms). base in [0, q) → [0, q); each a_t as in [`Self::mul_prepared`].
            /// Panics if a slice's length is not n.
            pub fn mul_prepared_sum(
                &self,
                out: &mut [$W],
                base: SumBase<'_, $W>,
                terms: &[[&[$W]; 3]],
            ) {
                self.check_len(out.len());
                if let SumBase::From(b) = base {
                    self.check_len(b.len());
                }
                for t in terms {
                    for s in t {
                        self.check_len(s.len());
                    }
                }
                let fused = match &self.simd {
                    Some(k) => k.mul_prepared_sum(&self.t, out, base, terms),
                    None => false,
                };
                if !fused {
                    match base {
                        SumBase::Acc => {}
                        SumBase::From(b) => out.copy_from_slice(b),
                        SumBase::Zero => out.fill(0),
                    }
                    for [a, b, bs] in terms {
                        self.mul_acc_prepared(out, a, b, bs);
                    }
                }
            }

            /// out(X) = a(X^g) in coefficient form; g odd in [1, 2n).
            pub fn automorphism_coeff(
                &self,
                g: usize,
                a: &[$W],
                out: &mut [$W],
            ) -> Result<(), KernelError> {
                check_galois(g, self.n)?;
                self.check_len(a.len());
                self.check_len(out.len());
                let (n, mask) = (self.n, 2 * self.n - 1);
                let q = self.t.q;
                for (i, &c) in a.iter().enumerate() {
                    let j = (i * g) & mask;
                    if j < n {
                        out[j] = c;
                    } else {
                        out[j - n] = if c == 0 { 0 } else { q - c };
                    }
                }
                Ok(())
            }

            /// out = a(X^g) in NTT form: a permutation of the evaluations; g odd in [1, 2n).
            pub fn automorphism_ntt(
                &self,
                g: usize,
                a: &[$W],
                out: &mut [$W],
            ) -> Result<(), KernelError> {
                let table = automorphism_ntt_table(self.n, g)?;
                self.check_len(a.len());
                self.check_len(out.len());
                for (o, &src) in out.iter_mut().zip(table.iter()) {
                    *o = a[src as usize];
                }
                Ok(())
            }
        }
    };
}

fn check_galois(g: usize, n: usize) -> Result<(), KernelError> {
    if g.is_multiple_of(2) || g >= 2 * n {
        return Err(KernelError::InvalidGaloisElement { g, n });
    }
    Ok(())
}

/// σ_g in NTT form as a checked gather table, out[i] = a[table[i]]: `vpgatherdq` on avx2, one
/// load and `vpermq` per 8 outputs on avx512 (the backend selected when it is built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NttPermutation {
    table: Vec<u32>,
    backend: Backend,
    gather: Gather,
}

/// The gather kernel of an [`NttPermutation`], holding the token that allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gather {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2(crate::isa::Avx2),
    #[cfg(target_arch = "x86_64")]
    Avx512(crate::isa::Avx512),
}

impl NttPermutation {
    /// The permutation of σ_g (g odd in [1, 2n)) on bit-reversed evaluations
    /// ([`automorphism_ntt_table`]).
    pub fn automorphism(n: usize, g: usize) -> Result<Self, KernelError> {
        Self::with_backend(n, g, default_backend()?)
    }

    /// The same permutation on the given backend (for tests and benchmarks).
    pub fn with_backend(n: usize, g: usize, backend: Backend) -> Result<Self, KernelError> {
        backend.check()?;
        let gather = match backend {
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => Gather::Avx2(
                crate::isa::Avx2::try_new().ok_or_else(|| dispatch::unavailable(backend))?,
            ),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => Gather::Avx512(
                crate::isa::Avx512::try_new().ok_or_else(|| dispatch::unavailable(backend))?,
            ),
            _ => Gather::Scalar,
        };
        let table = automorphism_ntt_table(n, g)?;
        // The SIMD kernels read a[table[i]] unchecked: every entry must be below n; and the
        // avx512 one relies on every aligned block of 8 entries pointing into one aligned block
        // of 8 (so for 4), which σ_g's table always satisfies (see `permute_blocks_raw`).
        assert!(table.iter().all(|&i| (i as usize) < n));
        assert!(table
            .chunks_exact(8)
            .all(|b| b.iter().all(|&i| i / 8 == b[0] / 8)));
        Ok(NttPermutation {
            table,
            backend,
            gather,
        })
    }

    /// The gather table (a permutation of 0..n).
    pub fn table(&self) -> &[u32] {
        &self.table
    }

    /// n.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Never true (n ≥ 256).
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Appends a[table[0]], …, a[table[n−1]] to `out` (no zeroing pass). Panics if
    /// `a.len() != n`.
    pub fn gather_extend(&self, a: &[u64], out: &mut Vec<u64>) {
        let n = self.table.len();
        assert_eq!(a.len(), n, "slice length must equal n");
        out.reserve(n);
        let len = out.len();
        let dst = out.spare_capacity_mut()[..n].as_mut_ptr() as *mut u64;
        // SAFETY: `dst` is the start of n reserved (spare) elements of `out`.
        unsafe { self.gather_to(a, dst) };
        // SAFETY: `gather_to` initialised those n elements.
        unsafe { out.set_len(len + n) };
    }

    /// out[i] = a[table[i]]. Panics if `a` or `out` is not n long.
    pub fn gather(&self, a: &[u64], out: &mut [u64]) {
        assert_eq!(a.len(), self.table.len(), "slice length must equal n");
        assert_eq!(out.len(), self.table.len(), "slice length must equal n");
        // SAFETY: `out` holds n elements.
        unsafe { self.gather_to(a, out.as_mut_ptr()) };
    }

    /// Writes dst[i] = a[table[i]] for i < n.
    ///
    /// # Safety
    /// `dst` is valid for n writes of u64; `a.len() == n`.
    unsafe fn gather_to(&self, a: &[u64], dst: *mut u64) {
        debug_assert_eq!(a.len(), self.table.len());
        match self.gather {
            // SAFETY: the table is a permutation of 0..n = 0..a.len() (checked when built);
            // n ≥ 256 is a multiple of the lane count; `dst` as promised by the caller.
            #[cfg(target_arch = "x86_64")]
            Gather::Avx2(tok) => unsafe { avx2::gather_raw(tok, &self.table, a, dst) },
            // SAFETY: as above, and the block property was checked when built.
            #[cfg(target_arch = "x86_64")]
            Gather::Avx512(tok) => unsafe { avx512::permute_blocks_raw(tok, &self.table, a, dst) },
            Gather::Scalar => {
                for (i, &src) in self.table.iter().enumerate() {
                    // SAFETY: i < n, within `dst` as promised by the caller.
                    unsafe { dst.add(i).write(a[src as usize]) };
                }
            }
        }
    }
}

/// The permutation that applies X → X^g to a vector in NTT form (bit-reversed evaluation
/// order): `out[i] = a[table[i]]`. Computing it costs O(n); callers may cache it per g.
pub fn automorphism_ntt_table(n: usize, g: usize) -> Result<Vec<u32>, KernelError> {
    let log_n = check_dimension(n)?;
    check_galois(g, n)?;
    let mask = 2 * n - 1;
    // Slot i evaluates at ψ^(2·brv(i)+1); σ_g(a) there equals a at ψ^((2·brv(i)+1)·g).
    Ok((0..n)
        .map(|i| {
            let e = ((2 * bit_reverse(i, log_n) + 1) * g) & mask;
            bit_reverse((e - 1) / 2, log_n) as u32
        })
        .collect())
}

ntt_plan!(
    /// NTT plan for a prime q < 2^62 and n = 2^k in [256, 32768].
    NttPlan64, u64, Modulus64, 62, dispatch::simd_u64
);
ntt_plan!(
    /// NTT plan for a prime q < 2^30 and n = 2^k in [256, 32768].
    NttPlan32, u32, Modulus32, 30, dispatch::simd_u32
);

impl NttPlan32 {
    /// No bulk Shoup kernel for u32 plans: `prepare_into` computes them one by one.
    fn prepare_simd(&self, _: &[u32], _: &mut [u32]) -> bool {
        false
    }
}

impl NttPlan64 {
    /// `prepare_into` on avx512 (8 Shoup constants per step, bit for bit the scalar ones);
    /// false elsewhere.
    fn prepare_simd(&self, b: &[u64], out: &mut [u64]) -> bool {
        #[cfg(target_arch = "x86_64")]
        if self.backend == Backend::Avx512 {
            if let Some(t) = crate::isa::Avx512::try_new() {
                let shift = if self.reduction == Reduction::Shoup52 {
                    12
                } else {
                    0
                };
                avx512::u64::shoup_constants(t, &self.modulus, shift, b, out);
                return true;
            }
        }
        let _ = (b, out);
        false
    }

    /// The compact constants and SIMD kernels; panics where q ≥ 2^50 (see `has_compact`).
    fn compact_parts(&self) -> (&compact::Consts, &Option<compact::Kernels>) {
        let (c, k) = self
            .compact
            .as_ref()
            .expect("compact products need q < 2^50 (see has_compact)");
        (c, k)
    }

    /// Whether this plan has compact products ([`Self::mul_compact_pair`],
    /// [`Self::mul_compact_sum`]): q < 2^50.
    pub fn has_compact(&self) -> bool {
        self.compact.is_some()
    }

    /// out_i = a_i ⊙ b (acc: out_i += a_i ⊙ b) mod q for i = 0, 1, with b given by its values
    /// alone (no Shoup constants: a compact fixed multiplicand); every operand in [0, q), out
    /// in [0, q). One pass per half on avx2 (with FMA) and avx512: double-precision quotient
    /// and exact remainder, or with IFMA a Shoup product whose constant is estimated in double
    /// precision (see `ntt/compact.rs`); scalar elsewhere. Panics if the plan has no
    /// compact products or a slice's length is not n.
    pub fn mul_compact_pair(&self, out: [&mut [u64]; 2], a: [&[u64]; 2], b: &[u64], acc: bool) {
        let (c, simd) = self.compact_parts();
        for x in a.iter().chain([&b]) {
            self.check_len(x.len());
        }
        for o in &out {
            self.check_len(o.len());
        }
        match simd {
            // SAFETY: `compact::select` returns a kernel only after taking the token of the
            // features it was compiled with.
            Some(k) => unsafe { (k.pair)(c, out, a, b, acc) },
            None => compact::pair_scalar(c, out, a, b, acc),
        }
    }

    /// [`Self::mul_compact_pair`] with b packed at 50 bits per value ([`pack`]), the same
    /// results. Panics if the plan has no compact products, a slice's length is not n, or `b`
    /// is not [`packed_bytes`]`(n)` long.
    pub fn mul_compact_pair_packed(
        &self,
        out: [&mut [u64]; 2],
        a: [&[u64]; 2],
        b: &[u8],
        acc: bool,
    ) {
        let (c, simd) = self.compact_parts();
        self.check_packed_pair(&out, &a, b);
        match simd.and_then(|k| k.pair_packed) {
            // SAFETY: `compact::select` sets the packed kernel only after taking the AVX-512BW
            // token (and, for its IFMA variant, the IFMA one); the lengths are checked above.
            Some(f) => unsafe { f(c, out, a, b, acc) },
            None => compact::packed_scalar(compact::pair_scalar, c, out, a, b, acc),
        }
    }

    /// The double-precision form of values in [0, q) for [`Self::mul_compact_pair_float`]
    /// (exact; f64 bit patterns in u64 words). Panics if the plan has no compact products or a
    /// slice's length is not n.
    pub fn to_float(&self, src: &[u64], dst: &mut [u64]) {
        assert!(
            self.has_compact(),
            "double-precision products need q < 2^50"
        );
        self.check_len(src.len());
        self.check_len(dst.len());
        compact::to_float(src, dst);
    }

    /// acc_i += a_i ⊙ b for i = 0, 1 without reducing: the accumulators hold integers in
    /// double precision (f64 bits; zeros, or [`Self::to_float`] values, to start) and each
    /// product adds its exact remainder a·b − round(a·b/q)·q ∈ (−q, q); `reduce`: then every
    /// accumulator is brought to at most q/2 + 1 in magnitude (exact). An accumulator must be
    /// reduced at least once every [`FLOAT_TERMS`] products (it stays below 2^53); read it with
    /// [`Self::from_float`]. a_i in double form ([`Self::to_float`]), b values in [0, q). On
    /// avx2 (with FMA) and avx512 the loads and stores of the accumulators and a_i need no
    /// conversion and no reduction: about half the work of [`Self::mul_compact_pair`] per
    /// product. Panics if the plan has no compact products or a slice's length is not n.
    pub fn mul_compact_pair_float(
        &self,
        acc: [&mut [u64]; 2],
        a: [&[u64]; 2],
        b: &[u64],
        reduce: bool,
    ) {
        let (c, simd) = self.compact_parts();
        for x in a.iter().chain([&b]) {
            self.check_len(x.len());
        }
        for o in &acc {
            self.check_len(o.len());
        }
        match simd {
            // SAFETY: as in `mul_compact_pair`.
            Some(k) => unsafe { (k.pair_float)(c, acc, a, b, reduce) },
            None => compact::pair_float_scalar(c, acc, a, b, reduce),
        }
    }

    /// Whether [`Self::mul_compact_pair_float_packed`] has a SIMD kernel here (avx512 with
    /// AVX-512BW): where it has none, packing multiplicands only saves memory.
    pub fn has_packed_kernel(&self) -> bool {
        self.compact
            .as_ref()
            .is_some_and(|(_, k)| k.is_some_and(|k| k.pair_float_packed.is_some()))
    }

    /// [`Self::mul_compact_pair_float`] with b packed at 50 bits per value ([`pack`]: 22 %
    /// fewer bytes to stream than 64-bit words), the same sums bit for bit. Panics if the plan
    /// has no compact products, a slice's length is not n, or `b` is not
    /// [`packed_bytes`]`(n)` long.
    pub fn mul_compact_pair_float_packed(
        &self,
        acc: [&mut [u64]; 2],
        a: [&[u64]; 2],
        b: &[u8],
        reduce: bool,
    ) {
        let (c, simd) = self.compact_parts();
        self.check_packed_pair(&acc, &a, b);
        match simd.and_then(|k| k.pair_float_packed) {
            // SAFETY: `compact::select` sets the packed kernel only after taking the AVX-512BW
            // token; the lengths are checked above.
            Some(f) => unsafe { f(c, acc, a, b, reduce) },
            None => compact::packed_scalar(compact::pair_float_scalar, c, acc, a, b, reduce),
        }
    }

    /// Panics unless the outputs and `a` hold n values each and `b` is [`packed_bytes`]`(n)`
    /// long (the packed products' contract).
    fn check_packed_pair(&self, out: &[&mut [u64]; 2], a: &[&[u64]; 2], b: &[u8]) {
        for len in out.iter().map(|o| o.len()).chain(a.iter().map(|x| x.len())) {
            self.check_len(len);
        }
        assert_eq!(
            b.len(),
            packed_bytes(self.n()),
            "packed multiplicand length"
        );
    }

    /// out = acc mod q in [0, q) for a double-precision accumulator of
    /// [`Self::mul_compact_pair_float`]. Panics if the plan has no compact products or a
    /// slice's length is not n.
    pub fn from_float(&self, acc: &[u64], out: &mut [u64]) {
        let (c, _) = self.compact_parts();
        self.check_len(acc.len());
        self.check_len(out.len());
        compact::from_float(c, acc, out);
    }

    /// out = base + Σ_t a_t ⊙ b_t mod q over `terms` = [a_t, b_t], b_t by its values alone (a
    /// compact fixed multiplicand, e.g. a key-switching key); every operand and base in
    /// [0, q), out in [0, q). One pass on avx2 (with FMA) and avx512: the exact remainders are
    /// summed in double precision and reduced once per 7 terms (see `ntt/compact.rs`); scalar
    /// elsewhere. Panics if the plan has no compact products or a slice's length is not n.
    pub fn mul_compact_sum(&self, out: &mut [u64], base: SumBase<'_, u64>, terms: &[[&[u64]; 2]]) {
        let (c, simd) = self.compact_parts();
        self.check_len(out.len());
        if let SumBase::From(b) = base {
            self.check_len(b.len());
        }
        for s in terms.iter().flatten() {
            self.check_len(s.len());
        }
        match simd {
            // SAFETY: as in `mul_compact_pair`.
            Some(k) => unsafe { (k.sum)(c, out, base, terms) },
            None => compact::sum_scalar(c, out, base, terms),
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod wide_tests {
    use crate::modarith::Modulus64;

    /// (y, w, w', q) → (approximate high products, `WIDE` products), 8 lanes.
    type Lanes<'a> = &'a dyn Fn([u64; 8], [u64; 8], [u64; 8], u64) -> ([u64; 8], [u64; 8]);
    use crate::testing::TestRng;

    /// The approximate high product loses 0, 1 or 2, and the `WIDE` Shoup product is y·w mod q
    /// plus a multiple of q below 4q, for any 64-bit y, including inputs built to maximise the
    /// dropped low halves (low words all ones), the largest prime of the `WIDE` range and
    /// primes of 60 and 61 bits (the `LAZY8` forward transform's products, the same lanes).
    #[test]
    fn wide_product_bounds() {
        if let Some(avx2) = crate::isa::Avx2::try_new() {
            wide_product_bounds_on("avx2", &|y, w, ws, q| {
                super::avx2::u64::wide_lanes(avx2, y, w, ws, q)
            });
        }
        if let Some(avx512) = crate::isa::Avx512::try_new() {
            wide_product_bounds_on("avx512", &|y, w, ws, q| {
                super::avx512::u64::wide_lanes(avx512, y, w, ws, q)
            });
        }
    }

    /// The avx512 bulk Shoup constants (`prepare_into`) equal the scalar ones, 64- and 52-bit,
    /// for primes of 30 to 61 bits, on random values and the edges 0, 1, q − 1 and the values
    /// whose quotient estimate lands just below an integer.
    #[test]
    fn bulk_shoup_constants_match_scalar() {
        let Some(t) = crate::isa::Avx512::try_new() else {
            return;
        };
        let seed = TestRng::fresh_seed();
        let mut rng = TestRng::new(seed);
        for bits in [30u32, 40, 49, 50, 54, 59, 60, 61] {
            let q = crate::prime::ntt_primes(bits, 1 << 14, 1)[0];
            let m = Modulus64::new(q).unwrap();
            let mut src = rng.vec_below(4096, q);
            src[..6].copy_from_slice(&[0, 1, 2, q - 1, q - 2, q / 2]);
            // w = k·2^−64 mod q: w·2^64 ≡ k (mod q), a quotient just above an integer, where
            // the estimate comes out one low and the correction step is needed.
            let inv_2_64 = m.inv(((1u128 << 64) % q as u128) as u64).unwrap();
            for (k, v) in src[6..64].iter_mut().enumerate() {
                *v = m.mul(k as u64 + 1, inv_2_64);
            }
            for shift in [0u32, 12] {
                if shift == 12 && bits > 50 {
                    continue;
                }
                let mut got = vec![0u64; src.len()];
                super::avx512::u64::shoup_constants(t, &m, shift, &src, &mut got);
                for (&w, &g) in src.iter().zip(&got) {
                    assert_eq!(
                        g,
                        m.shoup(w) >> shift,
                        "q {q} w {w} shift {shift} seed {seed:#x}"
                    );
                }
            }
        }
    }

    fn wide_product_bounds_on(name: &str, lanes: Lanes<'_>) {
        let seed = TestRng::fresh_seed();
        let mut rng = TestRng::new(seed);
        let mut seen_err = [0usize; 3];
        for &q in &[
            crate::prime::ntt_primes(56, 1 << 16, 1)[0],
            18014398509309953,
            crate::prime::ntt_primes(40, 1 << 16, 1)[0],
            crate::prime::ntt_primes(60, 1 << 16, 1)[0],
            crate::prime::ntt_primes(61, 1 << 16, 1)[0],
        ] {
            let m = Modulus64::new(q).unwrap();
            for round in 0..4000 {
                let mut y = [0u64; 8];
                let mut w = [0u64; 8];
                let mut ws = [0u64; 8];
                for l in 0..8 {
                    y[l] = match (round + l) % 4 {
                        0 => rng.next_u64(),
                        1 => rng.next_u64() | 0xffff_ffff,
                        2 => u64::MAX - rng.below(1 << 20),
                        _ => rng.below(q.saturating_mul(64)),
                    };
                    w[l] = if l % 3 == 0 {
                        q - 1 - rng.below(16)
                    } else {
                        rng.below(q)
                    };
                    ws[l] = m.shoup(w[l]);
                }
                let (hi, r) = lanes(y, w, ws, q);
                for l in 0..8 {
                    let exact = ((y[l] as u128 * ws[l] as u128) >> 64) as u64;
                    let err = exact - hi[l];
                    assert!(
                        err <= 2,
                        "{name}: mul_hi_approx lost {err} (seed {seed:#x})"
                    );
                    seen_err[err as usize] += 1;
                    let want = (y[l] as u128 * w[l] as u128 % q as u128) as u64;
                    assert!(
                        r[l] < 4 * q,
                        "{name}: WIDE product {} ≥ 4q (seed {seed:#x})",
                        r[l]
                    );
                    assert_eq!(
                        r[l] % q,
                        want,
                        "{name}: WIDE product wrong (seed {seed:#x})"
                    );
                }
            }
        }
        // The adversarial inputs do reach the largest error.
        assert!(seen_err[2] > 0, "{name}: no input lost 2: {seen_err:?}");
    }
}
