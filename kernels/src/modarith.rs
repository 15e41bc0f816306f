//! Scalar modular arithmetic: Barrett, Shoup and Montgomery multiplication, exact and lazy.
//!
//! Ranges are part of each function's contract and are `debug_assert!`ed:
//! * [`Modulus64`]: q odd, 3 ≤ q < 2^62 (so 4q < 2^64: lazy values in [0, 4q) fit a word).
//! * [`Modulus32`]: q odd, 3 ≤ q < 2^31 for the exact operations; the lazy NTT path needs
//!   q < 2^30 (4q < 2^32), which [`crate::ntt::NttPlan32`] enforces.
//!
//! Shoup multiplication is Barrett reduction with the quotient constant precomputed for a fixed
//! operand w: w' = ⌊w·2^W / q⌋; then a·w − ⌊a·w'/2^W⌋·q ∈ [0, 2q) for every a < 2^W.
//! Montgomery uses R = 2^W and the signed REDC (hi(a·b) − hi(m·q), m = lo(a·b)·q⁻¹).
//! The 52-bit Shoup variant (w' = ⌊w·2^52 / q⌋, q < 2^50, a < 2^52) is the scalar reference of
//! the AVX-512 IFMA52 butterflies: the same integers, so SIMD and scalar agree bit for bit.
use crate::error::KernelError;
use crate::prime::{inv_mod_prime, is_prime};

/// Largest modulus width (exclusive, bits) of [`Modulus64`].
pub const MAX_BITS_64: u32 = 62;
/// Largest modulus width (exclusive, bits) of [`Modulus32`].
pub const MAX_BITS_32: u32 = 31;
/// Largest modulus width (exclusive, bits) of the 52-bit Shoup products
/// ([`Modulus64::mul_shoup52_lazy`], the IFMA52 butterflies): lazy values in [0, 4q) must fit
/// the 52 bits that `vpmadd52{lo,hi}uq` multiply.
pub const SHOUP52_MAX_BITS: u32 = 50;
const MASK52: u64 = (1 << 52) - 1;

/// `Ok` if q is an odd prime below 2^`max_bits`.
fn check_prime(q: u64, max_bits: u32) -> Result<(), KernelError> {
    if q >= 1 << max_bits {
        return Err(KernelError::ModulusTooLarge { q, max_bits });
    }
    if q < 3 || !is_prime(q) {
        return Err(KernelError::NotPrime { q });
    }
    Ok(())
}

/// Inverse of an odd `q` modulo 2^64 (Newton iteration).
const fn inv_pow2_64(q: u64) -> u64 {
    let mut x = q; // correct to 3 bits for odd q
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(q.wrapping_mul(x)));
        i += 1;
    }
    x
}

/// The operations [`Modulus64`] and [`Modulus32`] share, for word `$W` (`$BITS` bits) with
/// double word `$D`: both store `q` and `q_inv` = q⁻¹ mod 2^`$BITS` and `r2` = 2^(2·`$BITS`)
/// mod q, and keep q < 2^(`$BITS` − 1) so that a + b < 2q never overflows.
macro_rules! modulus_common {
    ($W:ty, $D:ty, $BITS:literal) => {
        /// The modulus.
        #[inline(always)]
        pub const fn value(&self) -> $W {
            self.q
        }

        #[doc = concat!("q⁻¹ mod 2^", $BITS, " (Montgomery constant).")]
        #[inline(always)]
        pub const fn q_inv(&self) -> $W {
            self.q_inv
        }

        /// r − q if r ≥ q else r: [0, 2q) → [0, q).
        #[inline(always)]
        fn reduce_once(&self, r: $W) -> $W {
            if r >= self.q {
                r - self.q
            } else {
                r
            }
        }

        /// (a + b) mod q; a, b in [0, q) → [0, q).
        #[inline(always)]
        pub fn add(&self, a: $W, b: $W) -> $W {
            debug_assert!(a < self.q && b < self.q);
            self.reduce_once(a + b) // a + b < 2q < 2^W
        }

        /// (a − b) mod q; a, b in [0, q) → [0, q).
        #[inline(always)]
        pub fn sub(&self, a: $W, b: $W) -> $W {
            debug_assert!(a < self.q && b < self.q);
            if a >= b {
                a - b
            } else {
                a + self.q - b
            }
        }

        /// −a mod q; a in [0, q) → [0, q).
        #[inline(always)]
        pub fn neg(&self, a: $W) -> $W {
            debug_assert!(a < self.q);
            if a == 0 {
                0
            } else {
                self.q - a
            }
        }

        #[doc = concat!("Lazy Shoup product: any a < 2^", $BITS, ", w in [0, q) with `ws = shoup(w)` → a·w mod q in [0, 2q).")]
        #[inline(always)]
        pub fn mul_shoup_lazy(&self, a: $W, w: $W, ws: $W) -> $W {
            debug_assert!(w < self.q);
            let qhat = ((a as $D * ws as $D) >> $BITS) as $W;
            let r = a.wrapping_mul(w).wrapping_sub(qhat.wrapping_mul(self.q));
            debug_assert!(r < 2 * self.q);
            r
        }

        #[doc = concat!("Shoup product: any a < 2^", $BITS, ", w in [0, q) → a·w mod q in [0, q).")]
        #[inline(always)]
        pub fn mul_shoup(&self, a: $W, w: $W, ws: $W) -> $W {
            self.reduce_once(self.mul_shoup_lazy(a, w, ws))
        }

        #[doc = concat!("a·2^", $BITS, " mod q: a in [0, q) → Montgomery form in [0, q).")]
        #[inline(always)]
        pub fn to_montgomery(&self, a: $W) -> $W {
            debug_assert!(a < self.q);
            self.mul_montgomery(a, self.r2)
        }

        #[doc = concat!("a·2^−", $BITS, " mod q: Montgomery form in [0, q) → [0, q).")]
        #[inline(always)]
        pub fn from_montgomery(&self, a: $W) -> $W {
            self.mul_montgomery(a, 1)
        }

        #[doc = concat!("Lazy Montgomery product a·b·2^−", $BITS, " mod q for a·b < q·2^", $BITS, " (e.g. a < 4q, b < q) → [0, 2q).")]
        #[inline(always)]
        pub fn mul_montgomery_lazy(&self, a: $W, b: $W) -> $W {
            let t = a as $D * b as $D;
            debug_assert!(t < (self.q as $D) << $BITS);
            let m = (t as $W).wrapping_mul(self.q_inv);
            let mq_hi = ((m as $D * self.q as $D) >> $BITS) as $W;
            // (t − m·q)/2^W ∈ (−q, q): shift by q into (0, 2q).
            let r = ((t >> $BITS) as $W).wrapping_sub(mq_hi).wrapping_add(self.q);
            debug_assert!(r < 2 * self.q);
            r
        }

        #[doc = concat!("Montgomery product a·b·2^−", $BITS, " mod q, a·b < q·2^", $BITS, " → [0, q).")]
        #[inline(always)]
        pub fn mul_montgomery(&self, a: $W, b: $W) -> $W {
            self.reduce_once(self.mul_montgomery_lazy(a, b))
        }
    };
}

/// A prime modulus q < 2^62 with its Barrett and Montgomery constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modulus64 {
    q: u64,
    /// ⌊2^128 / q⌋, high and low words.
    barrett_hi: u64,
    barrett_lo: u64,
    /// ⌊2^64 / q⌋ for reducing single words.
    barrett_word: u64,
    /// q⁻¹ mod 2^64.
    q_inv: u64,
    /// 2^128 mod q (converts to Montgomery form with one REDC).
    r2: u64,
}

impl Modulus64 {
    /// Checks that `q` is an odd prime below 2^62 and precomputes its constants.
    pub fn new(q: u64) -> Result<Self, KernelError> {
        check_prime(q, MAX_BITS_64)?;
        let mu = u128::MAX / q as u128; // = ⌊(2^128 − 1)/q⌋ = ⌊2^128/q⌋ since q is not a power of 2
        let r = ((1u128 << 64) % q as u128) as u64;
        Ok(Self {
            q,
            barrett_hi: (mu >> 64) as u64,
            barrett_lo: mu as u64,
            barrett_word: u64::MAX / q,
            q_inv: inv_pow2_64(q),
            r2: ((r as u128 * r as u128) % q as u128) as u64,
        })
    }

    modulus_common!(u64, u128, 64);

    /// ⌊2^128 / q⌋ as (high, low) words (for kernels that compute Shoup constants in bulk).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) fn barrett(&self) -> (u64, u64) {
        (self.barrett_hi, self.barrett_lo)
    }

    /// a mod q for any word (Barrett with ⌊2^64/q⌋): any u64 → [0, q).
    #[inline(always)]
    pub fn reduce(&self, a: u64) -> u64 {
        let qhat = ((a as u128 * self.barrett_word as u128) >> 64) as u64;
        self.reduce_once(a - qhat * self.q) // a − qhat·q in [0, 2q)
    }

    /// Lazy Barrett reduction of a double word: any `t < 2^128` → [0, 2q).
    #[inline(always)]
    pub fn reduce_u128_lazy(&self, t: u128) -> u64 {
        let (t_lo, t_hi) = (t as u64, (t >> 64) as u64);
        // ⌊t·μ / 2^128⌋ from the four partial products (exact).
        let p_ll = (t_lo as u128 * self.barrett_lo as u128) >> 64;
        let p_lh = t_lo as u128 * self.barrett_hi as u128;
        let p_hl = t_hi as u128 * self.barrett_lo as u128;
        let p_hh = t_hi as u128 * self.barrett_hi as u128;
        let mid = p_ll + (p_lh as u64 as u128) + (p_hl as u64 as u128);
        let qhat = p_hh + (p_lh >> 64) + (p_hl >> 64) + (mid >> 64);
        // t − qhat·q < 2q < 2^63, so the low words suffice.
        let r = (t as u64).wrapping_sub((qhat as u64).wrapping_mul(self.q));
        debug_assert!(r < 2 * self.q);
        r
    }

    /// t mod q for any `t < 2^128` → [0, q).
    #[inline(always)]
    pub fn reduce_u128(&self, t: u128) -> u64 {
        self.reduce_once(self.reduce_u128_lazy(t))
    }

    /// Barrett product: a, b in [0, q) → a·b mod q in [0, q).
    #[inline(always)]
    pub fn mul(&self, a: u64, b: u64) -> u64 {
        debug_assert!(a < self.q && b < self.q);
        self.reduce_u128(a as u128 * b as u128)
    }

    /// Lazy Barrett product: a·b < 2^128 (e.g. a < 4q, b < q) → [0, 2q).
    #[inline(always)]
    pub fn mul_lazy(&self, a: u64, b: u64) -> u64 {
        self.reduce_u128_lazy(a as u128 * b as u128)
    }

    /// Shoup constant ⌊w·2^64 / q⌋ of a fixed operand w in [0, q).
    ///
    /// From the Barrett constant μ = ⌊2^128/q⌋: w·μ/2^64 underestimates by less than 2, and
    /// at most two corrections make it exact — no 128-bit division (which costs ~10× more).
    #[inline(always)]
    pub fn shoup(&self, w: u64) -> u64 {
        debug_assert!(w < self.q);
        // w·μ_hi < 2^64 because μ_hi = ⌊2^64/q⌋ and w < q.
        let mut est = w * self.barrett_hi + ((w as u128 * self.barrett_lo as u128) >> 64) as u64;
        let mut r = ((w as u128) << 64) - est as u128 * self.q as u128;
        while r >= self.q as u128 {
            est += 1;
            r -= self.q as u128;
        }
        debug_assert_eq!(est as u128, ((w as u128) << 64) / self.q as u128);
        est
    }

    /// 52-bit Shoup constant ⌊w·2^52 / q⌋ of a fixed operand w in [0, q), for the IFMA52
    /// butterflies (`vpmadd52huq` multiplies 52-bit lane values). Requires q < 2^50.
    ///
    /// Equals `shoup(w) >> 12`: ⌊⌊x⌋ / 2^12⌋ = ⌊x / 2^12⌋ for x = w·2^64/q.
    #[inline(always)]
    pub fn shoup52(&self, w: u64) -> u64 {
        debug_assert!(self.q < 1 << SHOUP52_MAX_BITS);
        let ws = self.shoup(w) >> 12;
        debug_assert!(ws < 1 << 52);
        ws
    }

    /// Lazy 52-bit Shoup product: a < 2^52, w in [0, q) with `ws = shoup52(w)`, q < 2^50 →
    /// a·w mod q in [0, 2q).
    ///
    /// With hi = ⌊a·ws / 2^52⌋: ws > w·2^52/q − 1 and a < 2^52 give a·w/q − 2 < hi ≤ a·w/q, so
    /// a·w − hi·q ∈ [0, 2q) ⊂ [0, 2^52): its low 52 bits (what `vpmadd52luq` sums give) are the
    /// whole value.
    #[inline(always)]
    pub fn mul_shoup52_lazy(&self, a: u64, w: u64, ws: u64) -> u64 {
        debug_assert!(self.q < 1 << SHOUP52_MAX_BITS && w < self.q);
        debug_assert!(a < 1 << 52 && ws < 1 << 52);
        let hi = ((a as u128 * ws as u128) >> 52) as u64;
        let r = a.wrapping_mul(w).wrapping_sub(hi.wrapping_mul(self.q)) & MASK52;
        debug_assert!(r < 2 * self.q);
        r
    }

    /// 52-bit Shoup product: a < 2^52, w in [0, q), `ws = shoup52(w)` → a·w mod q in [0, q).
    #[inline(always)]
    pub fn mul_shoup52(&self, a: u64, w: u64, ws: u64) -> u64 {
        self.reduce_once(self.mul_shoup52_lazy(a, w, ws))
    }

    /// a^e mod q.
    pub fn pow(&self, a: u64, e: u64) -> u64 {
        crate::prime::pow_mod(a, e, self.q)
    }

    /// a⁻¹ mod q, `None` for 0.
    pub fn inv(&self, a: u64) -> Option<u64> {
        inv_mod_prime(a, self.q)
    }
}

/// A prime modulus q < 2^31 with its Shoup, Barrett and Montgomery (R = 2^32) constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modulus32 {
    q: u32,
    /// ⌊2^64 / q⌋ (fits 34 bits for q ≥ 2^30; kept as u64).
    barrett: u64,
    /// q⁻¹ mod 2^32.
    q_inv: u32,
    /// 2^64 mod q.
    r2: u32,
}

impl Modulus32 {
    /// Checks that `q` is an odd prime below 2^31 and precomputes its constants.
    pub fn new(q: u64) -> Result<Self, KernelError> {
        check_prime(q, MAX_BITS_32)?;
        let r = (1u64 << 32) % q;
        Ok(Self {
            q: q as u32,
            barrett: u64::MAX / q,
            q_inv: inv_pow2_64(q) as u32,
            r2: ((r * r) % q) as u32,
        })
    }

    modulus_common!(u32, u64, 32);

    /// t mod q for any t < 2^64 (Barrett with ⌊2^64/q⌋) → [0, q).
    #[inline(always)]
    pub fn reduce_u64(&self, t: u64) -> u32 {
        let qhat = ((t as u128 * self.barrett as u128) >> 64) as u64;
        self.reduce_once((t - qhat * self.q as u64) as u32) // in [0, 2q)
    }

    /// Barrett product: a, b in [0, q) → a·b mod q in [0, q).
    #[inline(always)]
    pub fn mul(&self, a: u32, b: u32) -> u32 {
        debug_assert!(a < self.q && b < self.q);
        self.reduce_u64(a as u64 * b as u64)
    }

    /// Shoup constant ⌊w·2^32 / q⌋ of a fixed operand w in [0, q).
    #[inline(always)]
    pub fn shoup(&self, w: u32) -> u32 {
        debug_assert!(w < self.q);
        (((w as u64) << 32) / self.q as u64) as u32
    }

    /// a^e mod q.
    pub fn pow(&self, a: u32, e: u64) -> u32 {
        crate::prime::pow_mod(a as u64, e, self.q as u64) as u32
    }

    /// a⁻¹ mod q, `None` for 0.
    pub fn inv(&self, a: u32) -> Option<u32> {
        inv_mod_prime(a as u64, self.q as u64).map(|x| x as u32)
    }
}
