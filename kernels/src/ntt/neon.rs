//! NEON (aarch64 Advanced SIMD) NTT kernels: 2 lanes of u64 (64×64-bit products from
//! `umull` pieces) and 4 lanes of u32. Same traversal and lazy bounds as [`super::scalar`];
//! the stages whose butterfly halves share a vector use zip/unzip shuffles.
//!
//! Reached only through the dispatch table that `kernels` builds from an [`crate::isa::Neon`]
//! token.
//! Checked against scalar under qemu by `examples/backend_check.rs`.

/// u64 lanes: q < 2^62, values in [0, 4q).
pub(crate) mod u64 {
    use crate::isa::Neon;
    use crate::ntt::dispatch::SimdKernels;
    use crate::ntt::{Reduction, Tables};
    use core::arch::aarch64::*;

    /// The neon kernels of a u64 plan with reduction `red` (no fused pair or sum kernels:
    /// the plan runs `mul_prepared` per product).
    pub(crate) fn kernels(_: Neon, red: Reduction) -> SimdKernels<u64> {
        /// Forward/inverse with Montgomery (`MONT`) or Shoup butterflies.
        fn table<const MONT: bool>() -> SimdKernels<u64> {
            SimdKernels {
                isa: "neon",
                forward: forward_impl::<MONT>,
                inverse: inverse_impl::<MONT>,
                mul_prepared: mul_prepared_impl,
                mul_prepared_pair: None,
                mul_prepared_sum: None,
            }
        }
        match red {
            Reduction::Shoup => table::<false>(),
            Reduction::Montgomery => table::<true>(),
            Reduction::Shoup52 | Reduction::Fp52 => {
                unreachable!("with_backend rejects shoup52 and fp52 on neon")
            }
        }
    }

    #[inline(always)]
    fn ld(p: &[u64], i: usize) -> uint64x2_t {
        assert!(i + 2 <= p.len());
        // SAFETY: bounds checked above; NEON loads have no alignment requirement.
        unsafe { vld1q_u64(p.as_ptr().add(i)) }
    }

    #[inline(always)]
    fn st(p: &mut [u64], i: usize, v: uint64x2_t) {
        assert!(i + 2 <= p.len());
        // SAFETY: bounds checked above.
        unsafe { vst1q_u64(p.as_mut_ptr().add(i), v) }
    }

    /// High 64 bits of the 64×64-bit lane products.
    #[inline]
    #[target_feature(enable = "neon")]
    fn mul_hi(a: uint64x2_t, b: uint64x2_t) -> uint64x2_t {
        let (a0, a1) = (vmovn_u64(a), vshrn_n_u64::<32>(a));
        let (b0, b1) = (vmovn_u64(b), vshrn_n_u64::<32>(b));
        let mask = vdupq_n_u64(0xffff_ffff);
        // t1 = a1·b0 + ⌊a0·b0/2^32⌋ and t2 = a0·b1 + (t1 mod 2^32) are each at most
        // (2^32−1)² + 2^32−1 < 2^64: multiply-accumulates lose no carries.
        let t1 = vmlal_u32(vshrq_n_u64::<32>(vmull_u32(a0, b0)), a1, b0);
        let t2 = vmlal_u32(vandq_u64(t1, mask), a0, b1);
        let hi = vmlal_u32(vshrq_n_u64::<32>(t1), a1, b1);
        vsraq_n_u64::<32>(hi, t2)
    }

    /// Low 64 bits of the lane products.
    #[inline]
    #[target_feature(enable = "neon")]
    fn mul_lo(a: uint64x2_t, b: uint64x2_t) -> uint64x2_t {
        let (a0, a1) = (vmovn_u64(a), vshrn_n_u64::<32>(a));
        let (b0, b1) = (vmovn_u64(b), vshrn_n_u64::<32>(b));
        let ll = vmull_u32(a0, b0);
        let cross = vaddq_u64(vmull_u32(a0, b1), vmull_u32(a1, b0));
        vaddq_u64(ll, vshlq_n_u64::<32>(cross))
    }

    /// x − c if x ≥ c else x.
    #[inline]
    #[target_feature(enable = "neon")]
    fn csub(x: uint64x2_t, c: uint64x2_t) -> uint64x2_t {
        vsubq_u64(x, vandq_u64(vcgeq_u64(x, c), c))
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn mulw<const MONT: bool>(
        y: uint64x2_t,
        w: uint64x2_t,
        ws: uint64x2_t,
        q: uint64x2_t,
        qinv: uint64x2_t,
    ) -> uint64x2_t {
        if MONT {
            let m = mul_lo(mul_lo(y, w), qinv);
            vaddq_u64(vsubq_u64(mul_hi(y, w), mul_hi(m, q)), q)
        } else {
            vsubq_u64(mul_lo(y, w), mul_lo(mul_hi(y, ws), q))
        }
    }

    struct Consts {
        q: uint64x2_t,
        two_q: uint64x2_t,
        qinv: uint64x2_t,
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn bf_fwd<const MONT: bool>(
        x: uint64x2_t,
        y: uint64x2_t,
        w: uint64x2_t,
        ws: uint64x2_t,
        c: &Consts,
    ) -> (uint64x2_t, uint64x2_t) {
        let x = csub(x, c.two_q);
        let v = mulw::<MONT>(y, w, ws, c.q, c.qinv);
        (vaddq_u64(x, v), vsubq_u64(vaddq_u64(x, c.two_q), v))
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn bf_inv<const MONT: bool>(
        x: uint64x2_t,
        y: uint64x2_t,
        w: uint64x2_t,
        ws: uint64x2_t,
        c: &Consts,
    ) -> (uint64x2_t, uint64x2_t) {
        let u = csub(vaddq_u64(x, y), c.two_q);
        let v = vsubq_u64(vaddq_u64(x, c.two_q), y);
        (u, mulw::<MONT>(v, w, ws, c.q, c.qinv))
    }

    #[target_feature(enable = "neon")]
    fn forward_impl<const MONT: bool>(t: &Tables<u64>, a: &mut [u64], _reduce: bool) {
        let n = a.len();
        let c = Consts {
            q: vdupq_n_u64(t.q),
            two_q: vdupq_n_u64(t.two_q),
            qinv: vdupq_n_u64(t.q_inv),
        };
        let (tw, tws) = t.twiddles(true, MONT);
        let mut m = 1;
        let mut half = n;
        while half > 2 {
            half >>= 1;
            for i in 0..m {
                let k = m + i;
                let (w, ws) = (vdupq_n_u64(tw[k]), vdupq_n_u64(tws[k]));
                let base = 2 * i * half;
                for j in (base..base + half).step_by(2) {
                    let (x, y) = bf_fwd::<MONT>(ld(a, j), ld(a, j + half), w, ws, &c);
                    st(a, j, x);
                    st(a, j + half, y);
                }
            }
            m <<= 1;
        }
        // half = 1: [x0 y0] [x1 y1] → x = [x0 x1], y = [y0 y1]; reduce to [0, q).
        for b in (0..n).step_by(4) {
            let k = m + b / 2;
            let (v0, v1) = (ld(a, b), ld(a, b + 2));
            let (x, y) = (vzip1q_u64(v0, v1), vzip2q_u64(v0, v1));
            let (x, y) = bf_fwd::<MONT>(x, y, ld(tw, k), ld(tws, k), &c);
            let x = csub(csub(x, c.two_q), c.q);
            let y = csub(csub(y, c.two_q), c.q);
            st(a, b, vzip1q_u64(x, y));
            st(a, b + 2, vzip2q_u64(x, y));
        }
    }

    #[target_feature(enable = "neon")]
    fn inverse_impl<const MONT: bool>(t: &Tables<u64>, a: &mut [u64]) {
        let n = a.len();
        let c = Consts {
            q: vdupq_n_u64(t.q),
            two_q: vdupq_n_u64(t.two_q),
            qinv: vdupq_n_u64(t.q_inv),
        };
        let (tw, tws) = t.twiddles(false, MONT);
        let mut m = n >> 1;
        for b in (0..n).step_by(4) {
            let k = m + b / 2;
            let (v0, v1) = (ld(a, b), ld(a, b + 2));
            let (x, y) = (vzip1q_u64(v0, v1), vzip2q_u64(v0, v1));
            let (x, y) = bf_inv::<MONT>(x, y, ld(tw, k), ld(tws, k), &c);
            st(a, b, vzip1q_u64(x, y));
            st(a, b + 2, vzip2q_u64(x, y));
        }
        m >>= 1;
        let mut half = 2;
        while m >= 1 {
            for i in 0..m {
                let k = m + i;
                let (w, ws) = (vdupq_n_u64(tw[k]), vdupq_n_u64(tws[k]));
                let base = 2 * i * half;
                for j in (base..base + half).step_by(2) {
                    let (x, y) = bf_inv::<MONT>(ld(a, j), ld(a, j + half), w, ws, &c);
                    st(a, j, x);
                    st(a, j + half, y);
                }
            }
            half <<= 1;
            m >>= 1;
        }
        let (ni, nis) = if MONT {
            (vdupq_n_u64(t.n_inv_mont), c.q)
        } else {
            (vdupq_n_u64(t.n_inv), vdupq_n_u64(t.n_inv_shoup))
        };
        for j in (0..n).step_by(2) {
            let v = mulw::<MONT>(ld(a, j), ni, nis, c.q, c.qinv);
            st(a, j, csub(v, c.q));
        }
    }

    #[target_feature(enable = "neon")]
    fn mul_prepared_impl(
        t: &Tables<u64>,
        out: &mut [u64],
        a: &[u64],
        b: &[u64],
        bs: &[u64],
        acc: bool,
    ) {
        let q = vdupq_n_u64(t.q);
        let zero = vdupq_n_u64(0);
        for j in (0..out.len()).step_by(2) {
            let r = csub(mulw::<false>(ld(a, j), ld(b, j), ld(bs, j), q, zero), q);
            let r = if acc {
                csub(vaddq_u64(ld(out, j), r), q)
            } else {
                r
            };
            st(out, j, r);
        }
    }
}

/// u32 lanes: q < 2^30, values in [0, 4q).
pub(crate) mod u32 {
    use crate::isa::Neon;
    use crate::ntt::dispatch::SimdKernels;
    use crate::ntt::{Reduction, Tables};
    use core::arch::aarch64::*;

    /// The neon kernels of a u32 plan with reduction `red` (no fused pair or sum kernels:
    /// the plan runs `mul_prepared` per product).
    pub(crate) fn kernels(_: Neon, red: Reduction) -> SimdKernels<u32> {
        /// Forward/inverse with Montgomery (`MONT`) or Shoup butterflies.
        fn table<const MONT: bool>() -> SimdKernels<u32> {
            SimdKernels {
                isa: "neon",
                forward: forward_impl::<MONT>,
                inverse: inverse_impl::<MONT>,
                mul_prepared: mul_prepared_impl,
                mul_prepared_pair: None,
                mul_prepared_sum: None,
            }
        }
        match red {
            Reduction::Shoup => table::<false>(),
            Reduction::Montgomery => table::<true>(),
            Reduction::Shoup52 | Reduction::Fp52 => {
                unreachable!("with_backend rejects shoup52 and fp52 on neon")
            }
        }
    }

    #[inline(always)]
    fn ld(p: &[u32], i: usize) -> uint32x4_t {
        assert!(i + 4 <= p.len());
        // SAFETY: bounds checked above; NEON loads have no alignment requirement.
        unsafe { vld1q_u32(p.as_ptr().add(i)) }
    }

    #[inline(always)]
    fn ld2(p: &[u32], i: usize) -> uint32x2_t {
        assert!(i + 2 <= p.len());
        // SAFETY: bounds checked above.
        unsafe { vld1_u32(p.as_ptr().add(i)) }
    }

    #[inline(always)]
    fn st(p: &mut [u32], i: usize, v: uint32x4_t) {
        assert!(i + 4 <= p.len());
        // SAFETY: bounds checked above.
        unsafe { vst1q_u32(p.as_mut_ptr().add(i), v) }
    }

    /// High 32 bits of the 32×32-bit lane products.
    #[inline]
    #[target_feature(enable = "neon")]
    fn mul_hi(a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        let lo = vmull_u32(vget_low_u32(a), vget_low_u32(b));
        let hi = vmull_high_u32(a, b);
        vuzp2q_u32(vreinterpretq_u32_u64(lo), vreinterpretq_u32_u64(hi))
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn csub(x: uint32x4_t, c: uint32x4_t) -> uint32x4_t {
        vminq_u32(x, vsubq_u32(x, c))
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn mulw<const MONT: bool>(
        y: uint32x4_t,
        w: uint32x4_t,
        ws: uint32x4_t,
        q: uint32x4_t,
        qinv: uint32x4_t,
    ) -> uint32x4_t {
        if MONT {
            let m = vmulq_u32(vmulq_u32(y, w), qinv);
            vaddq_u32(vsubq_u32(mul_hi(y, w), mul_hi(m, q)), q)
        } else {
            vsubq_u32(vmulq_u32(y, w), vmulq_u32(mul_hi(y, ws), q))
        }
    }

    struct Consts {
        q: uint32x4_t,
        two_q: uint32x4_t,
        qinv: uint32x4_t,
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn bf<const MONT: bool, const FWD: bool>(
        x: uint32x4_t,
        y: uint32x4_t,
        w: uint32x4_t,
        ws: uint32x4_t,
        c: &Consts,
    ) -> (uint32x4_t, uint32x4_t) {
        if FWD {
            let x = csub(x, c.two_q);
            let v = mulw::<MONT>(y, w, ws, c.q, c.qinv);
            (vaddq_u32(x, v), vsubq_u32(vaddq_u32(x, c.two_q), v))
        } else {
            let u = csub(vaddq_u32(x, y), c.two_q);
            let v = vsubq_u32(vaddq_u32(x, c.two_q), y);
            (u, mulw::<MONT>(v, w, ws, c.q, c.qinv))
        }
    }

    /// Twiddles [w_k, w_k, w_k+1, w_k+1] for half-size 2.
    #[inline]
    #[target_feature(enable = "neon")]
    fn pairs(tw: &[u32], k: usize) -> uint32x4_t {
        let w = ld2(tw, k);
        vzip1q_u32(vcombine_u32(w, w), vcombine_u32(w, w))
    }

    /// Stages with half-size 2 and 1 over blocks of 8 elements; `last` reduces to [0, q).
    #[inline]
    #[target_feature(enable = "neon")]
    fn small_stage<const MONT: bool, const FWD: bool>(
        a: &mut [u32],
        half: usize,
        m: usize,
        tw: &[u32],
        tws: &[u32],
        c: &Consts,
        last: bool,
    ) {
        for b in (0..a.len()).step_by(8) {
            let k = m + b / (2 * half);
            let (v0, v1) = (ld(a, b), ld(a, b + 4));
            let (x, y, w, ws) = if half == 2 {
                let (p0, p1) = (vreinterpretq_u64_u32(v0), vreinterpretq_u64_u32(v1));
                (
                    vreinterpretq_u32_u64(vzip1q_u64(p0, p1)),
                    vreinterpretq_u32_u64(vzip2q_u64(p0, p1)),
                    pairs(tw, k),
                    pairs(tws, k),
                )
            } else {
                (
                    vuzp1q_u32(v0, v1),
                    vuzp2q_u32(v0, v1),
                    ld(tw, k),
                    ld(tws, k),
                )
            };
            let (mut x, mut y) = bf::<MONT, FWD>(x, y, w, ws, c);
            if last {
                x = csub(csub(x, c.two_q), c.q);
                y = csub(csub(y, c.two_q), c.q);
            }
            let (o0, o1) = if half == 2 {
                let (p0, p1) = (vreinterpretq_u64_u32(x), vreinterpretq_u64_u32(y));
                (
                    vreinterpretq_u32_u64(vzip1q_u64(p0, p1)),
                    vreinterpretq_u32_u64(vzip2q_u64(p0, p1)),
                )
            } else {
                (vzip1q_u32(x, y), vzip2q_u32(x, y))
            };
            st(a, b, o0);
            st(a, b + 4, o1);
        }
    }

    #[target_feature(enable = "neon")]
    fn forward_impl<const MONT: bool>(t: &Tables<u32>, a: &mut [u32], _reduce: bool) {
        let n = a.len();
        let c = Consts {
            q: vdupq_n_u32(t.q),
            two_q: vdupq_n_u32(t.two_q),
            qinv: vdupq_n_u32(t.q_inv),
        };
        let (tw, tws) = t.twiddles(true, MONT);
        let mut m = 1;
        let mut half = n;
        while half > 4 {
            half >>= 1;
            for i in 0..m {
                let k = m + i;
                let (w, ws) = (vdupq_n_u32(tw[k]), vdupq_n_u32(tws[k]));
                let base = 2 * i * half;
                for j in (base..base + half).step_by(4) {
                    let (x, y) = bf::<MONT, true>(ld(a, j), ld(a, j + half), w, ws, &c);
                    st(a, j, x);
                    st(a, j + half, y);
                }
            }
            m <<= 1;
        }
        small_stage::<MONT, true>(a, 2, m, tw, tws, &c, false);
        small_stage::<MONT, true>(a, 1, 2 * m, tw, tws, &c, true);
    }

    #[target_feature(enable = "neon")]
    fn inverse_impl<const MONT: bool>(t: &Tables<u32>, a: &mut [u32]) {
        let n = a.len();
        let c = Consts {
            q: vdupq_n_u32(t.q),
            two_q: vdupq_n_u32(t.two_q),
            qinv: vdupq_n_u32(t.q_inv),
        };
        let (tw, tws) = t.twiddles(false, MONT);
        let mut m = n >> 1;
        small_stage::<MONT, false>(a, 1, m, tw, tws, &c, false);
        m >>= 1;
        small_stage::<MONT, false>(a, 2, m, tw, tws, &c, false);
        m >>= 1;
        let mut half = 4;
        while m >= 1 {
            for i in 0..m {
                let k = m + i;
                let (w, ws) = (vdupq_n_u32(tw[k]), vdupq_n_u32(tws[k]));
                let base = 2 * i * half;
                for j in (base..base + half).step_by(4) {
                    let (x, y) = bf::<MONT, false>(ld(a, j), ld(a, j + half), w, ws, &c);
                    st(a, j, x);
                    st(a, j + half, y);
                }
            }
            half <<= 1;
            m >>= 1;
        }
        let (ni, nis) = if MONT {
            (vdupq_n_u32(t.n_inv_mont), c.q)
        } else {
            (vdupq_n_u32(t.n_inv), vdupq_n_u32(t.n_inv_shoup))
        };
        for j in (0..n).step_by(4) {
            let v = mulw::<MONT>(ld(a, j), ni, nis, c.q, c.qinv);
            st(a, j, csub(v, c.q));
        }
    }

    #[target_feature(enable = "neon")]
    fn mul_prepared_impl(
        t: &Tables<u32>,
        out: &mut [u32],
        a: &[u32],
        b: &[u32],
        bs: &[u32],
        acc: bool,
    ) {
        let q = vdupq_n_u32(t.q);
        let zero = vdupq_n_u32(0);
        for j in (0..out.len()).step_by(4) {
            let r = csub(mulw::<false>(ld(a, j), ld(b, j), ld(bs, j), q, zero), q);
            let r = if acc {
                csub(vaddq_u32(ld(out, j), r), q)
            } else {
                r
            };
            st(out, j, r);
        }
    }
}
