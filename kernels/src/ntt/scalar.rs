//! Portable NTT traversals: the reference every SIMD backend is tested against.
//!
//! Forward: Cooley–Tukey, natural order in, bit-reversed order out, Harvey lazy butterflies.
//! Values stay in [0, 4q) between stages (requires 4q < 2^W); the last pass reduces to [0, q).
//! Inverse: Gentleman–Sande, bit-reversed in, natural out, values in [0, 2q) between stages;
//! the n⁻¹ scaling is applied with the final reduction.
//! The butterfly's twiddle product is a closure, so one traversal serves Shoup and Montgomery.

/// Unsigned machine word of an NTT (u32 or u64).
pub(crate) trait Word:
    Copy + PartialOrd + core::ops::Add<Output = Self> + core::ops::Sub<Output = Self> + core::fmt::Debug
{
}
impl Word for u32 {}
impl Word for u64 {}

/// In-place forward transform; `mul(y, k)` must return y·w_k mod q in [0, 2q) for y < 4q, where
/// w_k is the k-th bit-reversed twiddle. Input in [0, 4q); output in [0, 4q) (call
/// [`reduce_4q`] for [0, q)).
#[inline(always)]
pub(crate) fn forward_lazy<W: Word>(a: &mut [W], two_q: W, mul: impl Fn(W, usize) -> W) {
    let n = a.len();
    let mut t = n;
    let mut m = 1;
    while m < n {
        t >>= 1;
        for i in 0..m {
            let k = m + i;
            let (x, y) = a[2 * i * t..2 * i * t + 2 * t].split_at_mut(t);
            for (xj, yj) in x.iter_mut().zip(y.iter_mut()) {
                let mut u = *xj;
                if u >= two_q {
                    u = u - two_q;
                }
                let v = mul(*yj, k);
                *xj = u + v;
                *yj = u + two_q - v;
            }
        }
        m <<= 1;
    }
}

/// In-place inverse transform without the n⁻¹ scaling; `mul(v, k)` must return v·w⁻¹_k mod q in
/// [0, 2q) for v < 4q. Input in [0, 2q); output in [0, 2q).
#[inline(always)]
pub(crate) fn inverse_lazy<W: Word>(a: &mut [W], two_q: W, mul: impl Fn(W, usize) -> W) {
    let n = a.len();
    let mut t = 1;
    let mut m = n >> 1;
    while m >= 1 {
        for i in 0..m {
            let k = m + i;
            let (x, y) = a[2 * i * t..2 * i * t + 2 * t].split_at_mut(t);
            for (xj, yj) in x.iter_mut().zip(y.iter_mut()) {
                let (u0, v0) = (*xj, *yj);
                let mut u = u0 + v0;
                if u >= two_q {
                    u = u - two_q;
                }
                *xj = u;
                *yj = mul(u0 + two_q - v0, k);
            }
        }
        t <<= 1;
        m >>= 1;
    }
}

/// [0, 4q) → [0, q) in place.
#[inline(always)]
pub(crate) fn reduce_4q<W: Word>(a: &mut [W], q: W, two_q: W) {
    for x in a.iter_mut() {
        let mut v = *x;
        if v >= two_q {
            v = v - two_q;
        }
        if v >= q {
            v = v - q;
        }
        *x = v;
    }
}
