//! Negacyclic NTT plans over Z_q[X]/(X^n + 1), dispatched to a backend chosen once per plan.
//!
//! * [`NttPlan64`]: primes q < 2^62 (lazy values in [0, 4q) need 4q < 2^64).
//! * [`NttPlan32`]: primes q < 2^30 (4q < 2^32).
//!
//! The forward transform maps coefficients (natural order) to evaluations in bit-reversed
//! order: output slot i holds a(ψ^(2·brv(i)+1)), ψ the plan's primitive 2n-th root of unity.
//! The inverse undoes it exactly (n⁻¹ included). Both are in place; inputs and outputs are
//! fully reduced to [0, q) unless a function says otherwise.
use crate::backend::Backend;
use crate::error::KernelError;
use crate::modarith::{Modulus32, Modulus64};
use crate::prime::{bit_reverse, primitive_root_of_unity};

pub(crate) mod scalar;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
#[cfg(any(target_arch = "x86_64", test))]
pub(crate) mod shuffle;

/// Smallest supported ring dimension.
pub const MIN_N: usize = 256;
/// Largest supported ring dimension.
pub const MAX_N: usize = 32768;

/// How a butterfly reduces its twiddle product. Both use the same traversal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// Shoup (Barrett with a per-twiddle precomputed quotient constant): 1 high + 2 low products.
    Shoup,
    /// Signed Montgomery REDC with twiddles in Montgomery form: 2 high + 1 low products.
    Montgomery,
}

impl Reduction {
    /// Both reductions.
    pub const ALL: [Reduction; 2] = [Reduction::Shoup, Reduction::Montgomery];

    /// Lower-case name for reports.
    pub const fn name(self) -> &'static str {
        match self {
            Reduction::Shoup => "shoup",
            Reduction::Montgomery => "montgomery",
        }
    }
}

/// Precomputed tables shared by all backends (twiddles in bit-reversed order, index k in 1..n).
#[derive(Debug, Clone)]
pub(crate) struct Tables<W> {
    pub(crate) q: W,
    pub(crate) two_q: W,
    /// q⁻¹ mod 2^W (Montgomery).
    pub(crate) q_inv: W,
    /// ψ^brv(k), its Shoup constant and Montgomery form.
    pub(crate) tw: Vec<W>,
    pub(crate) tw_shoup: Vec<W>,
    pub(crate) tw_mont: Vec<W>,
    /// ψ^−brv(k), its Shoup constant and Montgomery form.
    pub(crate) itw: Vec<W>,
    pub(crate) itw_shoup: Vec<W>,
    pub(crate) itw_mont: Vec<W>,
    /// n⁻¹ mod q, its Shoup constant and Montgomery form.
    pub(crate) n_inv: W,
    pub(crate) n_inv_shoup: W,
    pub(crate) n_inv_mont: W,
}

impl<W> Tables<W> {
    /// (twiddles, Shoup constants) of the forward or inverse transform, or (Montgomery-form
    /// twiddles, the same again: unused) for Montgomery butterflies.
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
    ($(#[$doc:meta])* $Plan:ident, $W:ty, $Modulus:ident, $max_bits:expr, $suffix:ident) => {
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
        }

        impl $Plan {
            /// Largest modulus width (exclusive, in bits) this plan accepts.
            pub const MAX_BITS: u32 = $max_bits;

            /// A plan for (n, q) on the process-wide backend (`GAZELLE_BACKEND` or the best the
            /// CPU has) with Shoup butterflies.
            pub fn try_new(n: usize, q: u64) -> Result<Self, KernelError> {
                Self::with_backend(n, q, default_backend()?, Reduction::Shoup)
            }

            /// A plan on an explicit backend and reduction; errors if the CPU lacks the backend.
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
                let shoup = |v: &[$W]| v.iter().map(|&w| m.shoup(w)).collect::<Vec<_>>();
                let mont = |v: &[$W]| v.iter().map(|&w| m.to_montgomery(w)).collect::<Vec<_>>();
                let n_inv = m.inv((n as u64 % q) as $W).expect("n is a unit mod q");
                let t = Tables {
                    q: q as $W,
                    two_q: (2 * q) as $W,
                    q_inv: m.q_inv(),
                    tw_shoup: shoup(&tw),
                    tw_mont: mont(&tw),
                    itw_shoup: shoup(&itw),
                    itw_mont: mont(&itw),
                    tw,
                    itw,
                    n_inv,
                    n_inv_shoup: m.shoup(n_inv),
                    n_inv_mont: m.to_montgomery(n_inv),
                };
                Ok(Self { n, log_n, modulus, psi: psi_w, backend, reduction, t })
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
                match self.backend {
                    #[cfg(target_arch = "x86_64")]
                    Backend::Avx2 => avx2::$suffix::forward(&self.t, self.reduction, a),
                    #[cfg(target_arch = "x86_64")]
                    Backend::Avx512 => avx512::$suffix::forward(&self.t, self.reduction, a),
                    #[cfg(target_arch = "aarch64")]
                    Backend::Neon => neon::$suffix::forward(&self.t, self.reduction, a),
                    _ => self.forward_scalar(a),
                }
            }

            /// Inverse negacyclic NTT in place (n⁻¹ included): evaluations in [0, q),
            /// bit-reversed → coefficients in [0, q). Accepts inputs in [0, 2q).
            pub fn inverse(&self, a: &mut [$W]) {
                self.check_len(a.len());
                match self.backend {
                    #[cfg(target_arch = "x86_64")]
                    Backend::Avx2 => avx2::$suffix::inverse(&self.t, self.reduction, a),
                    #[cfg(target_arch = "x86_64")]
                    Backend::Avx512 => avx512::$suffix::inverse(&self.t, self.reduction, a),
                    #[cfg(target_arch = "aarch64")]
                    Backend::Neon => neon::$suffix::inverse(&self.t, self.reduction, a),
                    _ => self.inverse_scalar(a),
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
                }
            }

            /// Shoup constants of an operand that will multiply many others (e.g. a plaintext
            /// in NTT form): `prepared[i] = ⌊b[i]·2^W / q⌋`. Requires b in [0, q).
            pub fn prepare(&self, b: &[$W]) -> Vec<$W> {
                self.check_len(b.len());
                b.iter().map(|&x| self.modulus.shoup(x)).collect()
            }

            /// out = a ⊙ b mod q; a, b in [0, q) → [0, q).
            pub fn mul(&self, out: &mut [$W], a: &[$W], b: &[$W]) {
                self.check_len(out.len());
                self.check_len(a.len());
                self.check_len(b.len());
                let m = &self.modulus;
                for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                    *o = m.mul(x, y);
                }
            }

            /// acc = acc + a ⊙ b mod q; all in [0, q) → [0, q).
            pub fn mul_acc(&self, acc: &mut [$W], a: &[$W], b: &[$W]) {
                self.check_len(acc.len());
                self.check_len(a.len());
                self.check_len(b.len());
                let m = &self.modulus;
                for ((o, &x), &y) in acc.iter_mut().zip(a).zip(b) {
                    *o = m.add(*o, m.mul(x, y));
                }
            }

            /// out = a ⊙ b mod q with `b_shoup = prepare(b)`; a any word, b in [0, q) → [0, q).
            pub fn mul_prepared(&self, out: &mut [$W], a: &[$W], b: &[$W], b_shoup: &[$W]) {
                self.check_len(out.len());
                self.check_len(a.len());
                self.check_len(b.len());
                self.check_len(b_shoup.len());
                match self.backend {
                    #[cfg(target_arch = "x86_64")]
                    Backend::Avx2 => avx2::$suffix::mul_prepared(&self.t, out, a, b, b_shoup, false),
                    #[cfg(target_arch = "x86_64")]
                    Backend::Avx512 => {
                        avx512::$suffix::mul_prepared(&self.t, out, a, b, b_shoup, false)
                    }
                    #[cfg(target_arch = "aarch64")]
                    Backend::Neon => neon::$suffix::mul_prepared(&self.t, out, a, b, b_shoup, false),
                    _ => {
                        let m = &self.modulus;
                        for (((o, &x), &y), &ys) in out.iter_mut().zip(a).zip(b).zip(b_shoup) {
                            *o = m.mul_shoup(x, y, ys);
                        }
                    }
                }
            }

            /// acc = acc + a ⊙ b mod q with `b_shoup = prepare(b)`; acc in [0, q) → [0, q).
            pub fn mul_acc_prepared(&self, acc: &mut [$W], a: &[$W], b: &[$W], b_shoup: &[$W]) {
                self.check_len(acc.len());
                self.check_len(a.len());
                self.check_len(b.len());
                self.check_len(b_shoup.len());
                match self.backend {
                    #[cfg(target_arch = "x86_64")]
                    Backend::Avx2 => avx2::$suffix::mul_prepared(&self.t, acc, a, b, b_shoup, true),
                    #[cfg(target_arch = "x86_64")]
                    Backend::Avx512 => {
                        avx512::$suffix::mul_prepared(&self.t, acc, a, b, b_shoup, true)
                    }
                    #[cfg(target_arch = "aarch64")]
                    Backend::Neon => neon::$suffix::mul_prepared(&self.t, acc, a, b, b_shoup, true),
                    _ => {
                        let m = &self.modulus;
                        for (((o, &x), &y), &ys) in acc.iter_mut().zip(a).zip(b).zip(b_shoup) {
                            *o = m.add(*o, m.mul_shoup(x, y, ys));
                        }
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
    NttPlan64, u64, Modulus64, 62, u64
);
ntt_plan!(
    /// NTT plan for a prime q < 2^30 and n = 2^k in [256, 32768].
    NttPlan32, u32, Modulus32, 30, u32
);
