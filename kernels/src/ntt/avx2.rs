//! AVX2 NTT kernels: 4 lanes of u64 (64×64-bit products emulated with `vpmuludq`) and 8 lanes
//! of u32. Same traversal and lazy bounds as [`super::scalar`]; the last two (u64) or three
//! (u32) stages, where a butterfly's halves sit in one vector, use in-register shuffles.
//!
//! Reached only through the dispatch table that `kernels` builds from an [`crate::isa::Avx2`]
//! token, and through `gather_raw`, which takes one.

/// u64 lanes: q < 2^62, values in [0, 4q). Compiled for avx2 and fma (the backend needs both).
pub(crate) mod u64 {
    use crate::isa::Avx2;
    use crate::ntt::dispatch::SimdKernels;
    use crate::ntt::fp52::MAGIC;
    use crate::ntt::kind::{FP, MONT, WIDE};
    use crate::ntt::{Reduction, SumBase, Tables};
    use core::arch::x86_64::*;

    /// The avx2 kernels of a u64 plan with reduction `red` and modulus q: `Fp52` transforms
    /// with `WIDE` prepared products (q < 2^50 < 2^56), else `u64_kernels!`.
    pub(crate) fn kernels(_: Avx2, red: Reduction, q: u64) -> SimdKernels<u64> {
        if red == Reduction::Fp52 {
            debug_assert!(crate::ntt::kind::wide_q(q));
            return SimdKernels {
                isa: "avx2",
                forward: forward_impl::<FP>,
                inverse: inverse_impl::<FP>,
                mul_prepared: mul_prepared_impl::<WIDE>,
                mul_prepared_pair: Some(mul_prepared_pair_impl::<WIDE>),
                mul_prepared_sum: Some(mul_sum_impl::<WIDE>),
            };
        }
        u64_kernels!("avx2", red, q)
    }

    #[inline(always)]
    fn ld(p: &[u64], i: usize) -> __m256i {
        assert!(i + 4 <= p.len());
        // SAFETY: bounds checked above; unaligned load of 4 u64.
        unsafe { _mm256_loadu_si256(p.as_ptr().add(i) as *const __m256i) }
    }

    #[inline(always)]
    fn st(p: &mut [u64], i: usize, v: __m256i) {
        assert!(i + 4 <= p.len());
        // SAFETY: bounds checked above; unaligned store of 4 u64.
        unsafe { _mm256_storeu_si256(p.as_mut_ptr().add(i) as *mut __m256i, v) }
    }

    /// High 64 bits of the 64×64-bit lane products (four `vpmuludq`).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn mul_hi(a: __m256i, b: __m256i) -> __m256i {
        let mask = _mm256_set1_epi64x(0xffff_ffff);
        // Swapping the 32-bit halves (rather than shifting) feeds the high halves to
        // `vpmuludq` and keeps LLVM from rewriting the sequence into scalar `mulq`s.
        let a_hi = _mm256_shuffle_epi32::<0b1011_0001>(a);
        let b_hi = _mm256_shuffle_epi32::<0b1011_0001>(b);
        let ll = _mm256_mul_epu32(a, b);
        let lh = _mm256_mul_epu32(a, b_hi);
        let hl = _mm256_mul_epu32(a_hi, b);
        let hh = _mm256_mul_epu32(a_hi, b_hi);
        // hl + ⌊ll/2^32⌋ ≤ (2^32−1)² + 2^32−1 < 2^64, and likewise lh + (t1 mod 2^32): no
        // carries lost, 8 non-multiply µops instead of 11.
        let t1 = _mm256_add_epi64(hl, _mm256_srli_epi64::<32>(ll));
        let t2 = _mm256_add_epi64(lh, _mm256_and_si256(t1, mask));
        let hi = _mm256_add_epi64(hh, _mm256_srli_epi64::<32>(t1));
        _mm256_add_epi64(hi, _mm256_srli_epi64::<32>(t2))
    }

    /// Low 64 bits of the 64×64-bit lane products (three `vpmuludq`).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn mul_lo(a: __m256i, b: __m256i) -> __m256i {
        let ll = _mm256_mul_epu32(a, b);
        let lh = _mm256_mul_epu32(a, _mm256_shuffle_epi32::<0b1011_0001>(b));
        let hl = _mm256_mul_epu32(_mm256_shuffle_epi32::<0b1011_0001>(a), b);
        _mm256_add_epi64(ll, _mm256_slli_epi64::<32>(_mm256_add_epi64(lh, hl)))
    }

    /// ⌊a·b/2^64⌋ − e with e ∈ {0, 1, 2} (three `vpmuludq`; see [`kind::WIDE`]).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn mul_hi_approx(a: __m256i, b: __m256i) -> __m256i {
        let a_hi = _mm256_shuffle_epi32::<0b1011_0001>(a);
        let b_hi = _mm256_shuffle_epi32::<0b1011_0001>(b);
        let lh = _mm256_mul_epu32(a, b_hi);
        let hl = _mm256_mul_epu32(a_hi, b);
        let hh = _mm256_mul_epu32(a_hi, b_hi);
        let mid = _mm256_add_epi64(_mm256_srli_epi64::<32>(lh), _mm256_srli_epi64::<32>(hl));
        _mm256_add_epi64(hh, mid)
    }

    /// Lane-wise `mul_hi_approx` and the `WIDE` product on 8 inputs (for the tests).
    #[cfg(test)]
    pub(crate) fn wide_lanes(
        _: crate::isa::Avx2,
        y: [u64; 8],
        w: [u64; 8],
        ws: [u64; 8],
        q: u64,
    ) -> ([u64; 8], [u64; 8]) {
        #[target_feature(enable = "avx2,fma")]
        fn run(y: [u64; 8], w: [u64; 8], ws: [u64; 8], q: u64) -> ([u64; 8], [u64; 8]) {
            let (mut hi, mut r) = ([0u64; 8], [0u64; 8]);
            let qv = splat(q);
            for j in [0, 4] {
                let (yv, wv, wsv) = (ld(&y, j), ld(&w, j), ld(&ws, j));
                st(&mut hi, j, mul_hi_approx(yv, wsv));
                st(&mut r, j, mulw::<WIDE>(yv, wv, wsv, qv, qv));
            }
            (hi, r)
        }
        // SAFETY: the token proves avx2 on this CPU.
        unsafe { run(y, w, ws, q) }
    }

    /// x − c if x ≥ c else x, for x < 2c and c < 2^63 (the sign of x − c decides).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn csub(x: __m256i, c: __m256i) -> __m256i {
        let d = _mm256_sub_epi64(x, c);
        _mm256_castpd_si256(_mm256_blendv_pd(
            _mm256_castsi256_pd(d),
            _mm256_castsi256_pd(x),
            _mm256_castsi256_pd(d),
        ))
    }

    /// y·w mod q in [0, 2q) for y < 4q: Shoup (w, ws) or Montgomery (w in Montgomery form);
    /// `WIDE`: in [0, 4q) for any y.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn mulw<const R: u8>(
        y: __m256i,
        w: __m256i,
        ws: __m256i,
        q: __m256i,
        qinv: __m256i,
    ) -> __m256i {
        if R == WIDE {
            let qhat = mul_hi_approx(y, ws);
            _mm256_sub_epi64(mul_lo(y, w), mul_lo(qhat, q))
        } else if R == MONT {
            let m = mul_lo(mul_lo(y, w), qinv);
            let r = _mm256_sub_epi64(mul_hi(y, w), mul_hi(m, q));
            _mm256_add_epi64(r, q)
        } else {
            let qhat = mul_hi(y, ws);
            _mm256_sub_epi64(mul_lo(y, w), mul_lo(qhat, q))
        }
    }

    /// y·w mod q in [0, 2q) for y < 2^52 from w's double constants (w, fl(w/q)) as f64 bits:
    /// [`crate::ntt::fp52::mul_lazy`] on 4 lanes, the same operations in the same order.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn mulw_fp(y: __m256i, w: __m256i, wq: __m256i, c: &Consts) -> __m256i {
        let y = _mm256_sub_pd(
            _mm256_castsi256_pd(_mm256_or_si256(y, c.magic_bits)),
            c.magic,
        );
        let (w, wq) = (_mm256_castsi256_pd(w), _mm256_castsi256_pd(wq));
        let h = _mm256_mul_pd(y, w);
        let l = _mm256_fmsub_pd(y, w, h);
        let k = _mm256_sub_pd(_mm256_fmadd_pd(y, wq, c.magic), c.magic);
        let r = _mm256_add_pd(_mm256_fnmadd_pd(k, c.qf, h), l);
        _mm256_xor_si256(
            _mm256_castpd_si256(_mm256_add_pd(r, c.q_magic)),
            c.magic_bits,
        )
    }

    /// A butterfly's twiddle product: [`mulw_fp`] for `FP`, else [`mulw`].
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn mul_tw<const R: u8>(y: __m256i, w: __m256i, ws: __m256i, c: &Consts) -> __m256i {
        if R == FP {
            mulw_fp(y, w, ws, c)
        } else {
            mulw::<R>(y, w, ws, c.q, c.qinv)
        }
    }

    /// Cooley–Tukey butterfly: x in [0,4q), y in [0,4q) → (x + wy, x − wy + 2q) in [0, 4q);
    /// `WIDE`: (x + wy, x − wy + 4q), each output at most 4q above x's bound.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn bf_fwd<const R: u8>(
        x: __m256i,
        y: __m256i,
        w: __m256i,
        ws: __m256i,
        c: &Consts,
    ) -> (__m256i, __m256i) {
        if R == WIDE {
            let v = mulw::<R>(y, w, ws, c.q, c.qinv);
            return (
                _mm256_add_epi64(x, v),
                _mm256_sub_epi64(_mm256_add_epi64(x, c.four_q), v),
            );
        }
        let x = csub(x, c.two_q);
        let v = mul_tw::<R>(y, w, ws, c);
        (
            _mm256_add_epi64(x, v),
            _mm256_sub_epi64(_mm256_add_epi64(x, c.two_q), v),
        )
    }

    /// Gentleman–Sande butterfly: x, y in [0, 2q) → (x + y, (x − y + 2q)·w) in [0, 2q);
    /// `WIDE`: x, y in [0, 4q) → (x + y, (x − y + 4q)·w) in [0, 4q).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn bf_inv<const R: u8>(
        x: __m256i,
        y: __m256i,
        w: __m256i,
        ws: __m256i,
        c: &Consts,
    ) -> (__m256i, __m256i) {
        if R == WIDE {
            let u = csub(_mm256_add_epi64(x, y), c.four_q);
            let v = _mm256_sub_epi64(_mm256_add_epi64(x, c.four_q), y);
            return (u, mulw::<R>(v, w, ws, c.q, c.qinv));
        }
        let u = csub(_mm256_add_epi64(x, y), c.two_q);
        let v = _mm256_sub_epi64(_mm256_add_epi64(x, c.two_q), y);
        (u, mul_tw::<R>(v, w, ws, c))
    }

    /// The last Gentleman–Sande stage with n⁻¹ folded in, fully reduced: ((x + y)·n⁻¹,
    /// (x − y)·w·n⁻¹) in [0, q), `s` = [(n⁻¹, its Shoup constant), (w·n⁻¹, its Shoup constant)];
    /// x, y as for [`bf_inv`]. Shoup kinds only.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn bf_inv_scaled<const R: u8>(
        x: __m256i,
        y: __m256i,
        s: [(__m256i, __m256i); 2],
        c: &Consts,
    ) -> (__m256i, __m256i) {
        debug_assert!(R != MONT);
        let bound = if R == WIDE { c.four_q } else { c.two_q };
        let u = mul_tw::<R>(_mm256_add_epi64(x, y), s[0].0, s[0].1, c);
        let d = _mm256_sub_epi64(_mm256_add_epi64(x, bound), y);
        let v = mul_tw::<R>(d, s[1].0, s[1].1, c);
        let finish = |r: __m256i| {
            let r = if R == WIDE { csub(r, c.two_q) } else { r };
            csub(r, c.q)
        };
        (finish(u), finish(v))
    }

    struct Consts {
        q: __m256i,
        two_q: __m256i,
        four_q: __m256i,
        qinv: __m256i,
        /// 32q, 16q, 8q (wrapping; used by `WIDE` only, where q < 2^56).
        big_q: [__m256i; 3],
        /// `FP` only: q, 2^52 and q + 2^52 as doubles, and the bits of 2^52.
        qf: __m256d,
        magic: __m256d,
        q_magic: __m256d,
        magic_bits: __m256i,
    }

    /// [0, 64q) → [0, q) (the last forward stage of a `WIDE` transform).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn reduce_64q(x: __m256i, c: &Consts) -> __m256i {
        let x = csub(csub(csub(x, c.big_q[0]), c.big_q[1]), c.big_q[2]);
        csub(csub(csub(x, c.four_q), c.two_q), c.q)
    }

    /// Loads and stores of one 4-lane chunk (from `chunks_exact(4)`, so in bounds).
    #[inline(always)]
    fn ldc(c: &[u64]) -> __m256i {
        ld(c, 0)
    }

    #[inline(always)]
    fn stc(c: &mut [u64], v: __m256i) {
        st(c, 0, v)
    }

    /// Two Cooley–Tukey stages at once (radix 4) on a block of 4·h elements: stage 1 pairs
    /// quarter 0 with 2 and 1 with 3 (twiddle w1); stage 2 pairs 0 with 1 (w2), 2 with 3 (w3).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn radix4_fwd<const R: u8>(block: &mut [u64], w: [(__m256i, __m256i); 3], c: &Consts) {
        let h = block.len() / 4;
        let (q01, q23) = block.split_at_mut(2 * h);
        let (q0, q1) = q01.split_at_mut(h);
        let (q2, q3) = q23.split_at_mut(h);
        let chunks = q0
            .chunks_exact_mut(4)
            .zip(q1.chunks_exact_mut(4))
            .zip(q2.chunks_exact_mut(4).zip(q3.chunks_exact_mut(4)));
        for ((c0, c1), (c2, c3)) in chunks {
            let (a0, b0) = bf_fwd::<R>(ldc(c0), ldc(c2), w[0].0, w[0].1, c);
            let (a1, b1) = bf_fwd::<R>(ldc(c1), ldc(c3), w[0].0, w[0].1, c);
            let (a0, a1) = bf_fwd::<R>(a0, a1, w[1].0, w[1].1, c);
            let (b0, b1) = bf_fwd::<R>(b0, b1, w[2].0, w[2].1, c);
            stc(c0, a0);
            stc(c1, a1);
            stc(c2, b0);
            stc(c3, b1);
        }
    }

    /// Inverse of [`radix4_fwd`]'s stage order: stage 1 pairs 0–1 (w2) and 2–3 (w3), stage 2
    /// pairs 0–2 and 1–3 (w1).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn radix4_inv<const R: u8>(
        block: &mut [u64],
        w: [(__m256i, __m256i); 3],
        scale: Option<[(__m256i, __m256i); 2]>,
        c: &Consts,
    ) {
        let h = block.len() / 4;
        let (q01, q23) = block.split_at_mut(2 * h);
        let (q0, q1) = q01.split_at_mut(h);
        let (q2, q3) = q23.split_at_mut(h);
        let chunks = q0
            .chunks_exact_mut(4)
            .zip(q1.chunks_exact_mut(4))
            .zip(q2.chunks_exact_mut(4).zip(q3.chunks_exact_mut(4)));
        for ((c0, c1), (c2, c3)) in chunks {
            let (a0, a1) = bf_inv::<R>(ldc(c0), ldc(c1), w[1].0, w[1].1, c);
            let (b0, b1) = bf_inv::<R>(ldc(c2), ldc(c3), w[2].0, w[2].1, c);
            let ((a0, b0), (a1, b1)) = match scale {
                None => (
                    bf_inv::<R>(a0, b0, w[0].0, w[0].1, c),
                    bf_inv::<R>(a1, b1, w[0].0, w[0].1, c),
                ),
                Some(s) => (
                    bf_inv_scaled::<R>(a0, b0, s, c),
                    bf_inv_scaled::<R>(a1, b1, s, c),
                ),
            };
            stc(c0, a0);
            stc(c1, a1);
            stc(c2, b0);
            stc(c3, b1);
        }
    }

    /// One stage with a broadcast twiddle per group of 2·half elements (half ≥ 4).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn radix2<const R: u8, const FWD: bool>(
        a: &mut [u64],
        half: usize,
        m: usize,
        tw: &[u64],
        tws: &[u64],
        c: &Consts,
    ) {
        for (i, block) in a.chunks_exact_mut(2 * half).enumerate() {
            let (w, ws) = (splat(tw[m + i]), splat(tws[m + i]));
            let (x, y) = block.split_at_mut(half);
            for (cx, cy) in x.chunks_exact_mut(4).zip(y.chunks_exact_mut(4)) {
                let (u, v) = if FWD {
                    bf_fwd::<R>(ldc(cx), ldc(cy), w, ws, c)
                } else {
                    bf_inv::<R>(ldc(cx), ldc(cy), w, ws, c)
                };
                stc(cx, u);
                stc(cy, v);
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn splat(v: u64) -> __m256i {
        _mm256_set1_epi64x(v as i64)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn consts(t: &Tables<u64>) -> Consts {
        Consts {
            q: splat(t.q),
            two_q: splat(t.two_q),
            four_q: splat(t.q.wrapping_mul(4)),
            qinv: splat(t.q_inv),
            big_q: [
                splat(t.q.wrapping_mul(32)),
                splat(t.q.wrapping_mul(16)),
                splat(t.q.wrapping_mul(8)),
            ],
            qf: _mm256_set1_pd(t.q as f64),
            magic: _mm256_set1_pd(MAGIC),
            q_magic: _mm256_set1_pd(t.q as f64 + MAGIC),
            magic_bits: splat(MAGIC.to_bits()),
        }
    }

    #[target_feature(enable = "avx2,fma")]
    /// `reduce`: the last stage reduces to [0, q); otherwise lazy values (< 64q for `WIDE`,
    /// < 4q otherwise) are left.
    fn forward_impl<const R: u8>(t: &Tables<u64>, a: &mut [u64], reduce: bool) {
        let n = a.len();
        let c = consts(t);
        let (tw, tws) = twiddles::<R>(t, true);
        let tw2 = |k: usize| (splat(tw[k]), splat(tws[k]));
        let mut m = 1;
        let mut half = n / 2;
        // Pairs of stages while the second one still has half ≥ 4.
        while half >= 8 {
            for (i, block) in a.chunks_exact_mut(2 * half).enumerate() {
                radix4_fwd::<R>(
                    block,
                    [tw2(m + i), tw2(2 * m + 2 * i), tw2(2 * m + 2 * i + 1)],
                    &c,
                );
            }
            m <<= 2;
            half >>= 2;
        }
        if half == 4 {
            radix2::<R, true>(a, 4, m, tw, tws, &c);
            m <<= 1;
        }
        // Last two stages (half = 2, then 1) on 8 elements held in registers; the outputs are
        // reduced from [0, 4q) to [0, q) before the store.
        let (m2, m1) = (m, 2 * m);
        for (blk, ch) in a.chunks_exact_mut(8).enumerate() {
            let (v0, v1) = (ld(ch, 0), ld(ch, 4));
            let k = m2 + 2 * blk;
            let x = _mm256_permute2x128_si256::<0x20>(v0, v1);
            let y = _mm256_permute2x128_si256::<0x31>(v0, v1);
            let w = _mm256_permute4x64_epi64::<0b0101_0000>(_mm256_castsi128_si256(ld2(tw, k)));
            let ws = _mm256_permute4x64_epi64::<0b0101_0000>(_mm256_castsi128_si256(ld2(tws, k)));
            let (x, y) = bf_fwd::<R>(x, y, w, ws, &c);
            let (v0, v1) = (
                _mm256_permute2x128_si256::<0x20>(x, y),
                _mm256_permute2x128_si256::<0x31>(x, y),
            );
            // half = 1: lanes hold groups 0, 2, 1, 3 of the block.
            let k = m1 + 4 * blk;
            let x = _mm256_unpacklo_epi64(v0, v1);
            let y = _mm256_unpackhi_epi64(v0, v1);
            let w = _mm256_permute4x64_epi64::<0b1101_1000>(ld(tw, k));
            let ws = _mm256_permute4x64_epi64::<0b1101_1000>(ld(tws, k));
            let (x, y) = bf_fwd::<R>(x, y, w, ws, &c);
            let (x, y) = if !reduce {
                (x, y)
            } else if R == WIDE {
                (reduce_64q(x, &c), reduce_64q(y, &c))
            } else {
                (csub(csub(x, c.two_q), c.q), csub(csub(y, c.two_q), c.q))
            };
            st(ch, 0, _mm256_unpacklo_epi64(x, y));
            st(ch, 4, _mm256_unpackhi_epi64(x, y));
        }
    }

    /// The twiddle tables of kind `R`: (w, Shoup constants), Montgomery forms, or for `FP` the
    /// double constants (w, fl(w/q)) as bits.
    fn twiddles<const R: u8>(t: &Tables<u64>, fwd: bool) -> (&[u64], &[u64]) {
        if R == FP {
            t.fp.as_ref()
                .expect("an fp52 plan has double twiddles")
                .twiddles(fwd)
        } else {
            t.twiddles(fwd, R == MONT)
        }
    }

    #[inline(always)]
    fn ld2(p: &[u64], i: usize) -> __m128i {
        assert!(i + 2 <= p.len());
        // SAFETY: bounds checked above; unaligned load of 2 u64.
        unsafe { _mm_loadu_si128(p.as_ptr().add(i) as *const __m128i) }
    }

    #[target_feature(enable = "avx2,fma")]
    fn inverse_impl<const R: u8>(t: &Tables<u64>, a: &mut [u64]) {
        let n = a.len();
        let c = consts(t);
        let (tw, tws) = twiddles::<R>(t, false);
        let tw2 = |k: usize| (splat(tw[k]), splat(tws[k]));
        // First two stages (half = 1, then 2) in registers.
        let (m1, m2) = (n / 2, n / 4);
        for (blk, ch) in a.chunks_exact_mut(8).enumerate() {
            let (v0, v1) = (ld(ch, 0), ld(ch, 4));
            let k = m1 + 4 * blk;
            let x = _mm256_unpacklo_epi64(v0, v1);
            let y = _mm256_unpackhi_epi64(v0, v1);
            let w = _mm256_permute4x64_epi64::<0b1101_1000>(ld(tw, k));
            let ws = _mm256_permute4x64_epi64::<0b1101_1000>(ld(tws, k));
            let (x, y) = bf_inv::<R>(x, y, w, ws, &c);
            let (v0, v1) = (_mm256_unpacklo_epi64(x, y), _mm256_unpackhi_epi64(x, y));
            let k = m2 + 2 * blk;
            let x = _mm256_permute2x128_si256::<0x20>(v0, v1);
            let y = _mm256_permute2x128_si256::<0x31>(v0, v1);
            let w = _mm256_permute4x64_epi64::<0b0101_0000>(_mm256_castsi128_si256(ld2(tw, k)));
            let ws = _mm256_permute4x64_epi64::<0b0101_0000>(_mm256_castsi128_si256(ld2(tws, k)));
            let (x, y) = bf_inv::<R>(x, y, w, ws, &c);
            st(ch, 0, _mm256_permute2x128_si256::<0x20>(x, y));
            st(ch, 4, _mm256_permute2x128_si256::<0x31>(x, y));
        }
        let mut m = n / 8;
        let mut half = 4;
        // Remaining stages: half = 4 … n/2, i.e. log2(m) + 1 of them; if odd, one radix-2 first.
        if m.trailing_zeros().is_multiple_of(2) {
            radix2::<R, false>(a, 4, m, tw, tws, &c);
            m >>= 1;
            half <<= 1;
        }
        // Shoup kinds fold n⁻¹ (and the reduction to [0, q)) into the last stage, which is the
        // second half of the last radix-4 pass (m = 2); Montgomery scales in a pass after.
        let scale = (R != MONT).then(|| match &t.fp {
            Some(fp) if R == FP => [
                (splat(fp.n_inv.0), splat(fp.n_inv.1)),
                (splat(fp.itw1_n_inv.0), splat(fp.itw1_n_inv.1)),
            ],
            _ => [
                (splat(t.n_inv), splat(t.n_inv_shoup)),
                (splat(t.itw1_n_inv), splat(t.itw1_n_inv_shoup)),
            ],
        });
        while m >= 2 {
            // Stages (half, m groups) and (2·half, m/2 groups) merged: blocks of 4·half.
            let mq = m / 2;
            let last = if m == 2 { scale } else { None };
            for (i, block) in a.chunks_exact_mut(4 * half).enumerate() {
                let w = [tw2(mq + i), tw2(m + 2 * i), tw2(m + 2 * i + 1)];
                radix4_inv::<R>(block, w, last, &c);
            }
            m >>= 2;
            half <<= 2;
        }
        if R == MONT {
            // Scale by n⁻¹ and reduce to [0, q).
            let (ni, nis) = (splat(t.n_inv_mont), c.q);
            for ch in a.chunks_exact_mut(4) {
                let v = mulw::<R>(ldc(ch), ni, nis, c.q, c.qinv);
                stc(ch, csub(v, c.q));
            }
        }
    }

    /// out = a·b mod q (acc: out += a·b mod q); `R` is `SHOUP` or `WIDE`.
    #[target_feature(enable = "avx2,fma")]
    fn mul_prepared_impl<const R: u8>(
        t: &Tables<u64>,
        out: &mut [u64],
        a: &[u64],
        b: &[u64],
        bs: &[u64],
        acc: bool,
    ) {
        let c = consts(t);
        let ins = a
            .chunks_exact(4)
            .zip(b.chunks_exact(4))
            .zip(bs.chunks_exact(4));
        for (o, ((ac, bc), bsc)) in out.chunks_exact_mut(4).zip(ins) {
            product_store::<R>(o, ldc(ac), ldc(bc), ldc(bsc), &c, acc);
        }
    }

    /// o = x·b mod q, or o += x·b mod q (`acc`), reduced to [0, q), for one 4-lane chunk.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn product_store<const R: u8>(
        o: &mut [u64],
        x: __m256i,
        b: __m256i,
        bs: __m256i,
        c: &Consts,
        acc: bool,
    ) {
        let r = mulw::<R>(x, b, bs, c.q, c.qinv);
        let r = if R == WIDE { csub(r, c.two_q) } else { r };
        let r = csub(r, c.q);
        let r = if acc {
            csub(_mm256_add_epi64(ldc(o), r), c.q)
        } else {
            r
        };
        stc(o, r);
    }

    /// out[i] = a[i]·b mod q (acc: +=) for i = 0, 1, in one pass over b and bs.
    #[target_feature(enable = "avx2,fma")]
    fn mul_prepared_pair_impl<const R: u8>(
        t: &Tables<u64>,
        out: [&mut [u64]; 2],
        a: [&[u64]; 2],
        b: &[u64],
        bs: &[u64],
        acc: bool,
    ) {
        let c = consts(t);
        let [o0, o1] = out;
        // Exact 4-element chunks: the loads and stores need no bounds checks.
        let outs = o0.chunks_exact_mut(4).zip(o1.chunks_exact_mut(4));
        let ins = (a[0].chunks_exact(4).zip(a[1].chunks_exact(4)))
            .zip(b.chunks_exact(4).zip(bs.chunks_exact(4)));
        for ((p0, p1), ((x0, x1), (bc, bsc))) in outs.zip(ins) {
            let (bv, bsv) = (ldc(bc), ldc(bsc));
            product_store::<R>(p0, ldc(x0), bv, bsv, &c, acc);
            product_store::<R>(p1, ldc(x1), bv, bsv, &c, acc);
        }
    }

    /// acc = base + Σ a·b mod q over `terms`, one pass: the partial sum stays in a register, in
    /// [0, 2q) (`SHOUP`) or [0, 4q) (`WIDE`), one conditional subtraction per term.
    #[target_feature(enable = "avx2,fma")]
    fn mul_sum_impl<const R: u8>(
        t: &Tables<u64>,
        acc: &mut [u64],
        base: SumBase<'_, u64>,
        terms: &[[&[u64]; 3]],
    ) {
        let c = consts(t);
        let n = acc.len();
        // Every operand checked once here, so the loop loads without per-load checks.
        assert!(terms.iter().all(|t| t.iter().all(|x| x.len() == n)) && n.is_multiple_of(4));
        let ptrs: Vec<[*const u64; 3]> = terms
            .iter()
            .map(|[a, b, bs]| [a.as_ptr(), b.as_ptr(), bs.as_ptr()])
            .collect();
        for j in (0..n).step_by(4) {
            let mut s = match base {
                SumBase::Acc => ld(acc, j),
                SumBase::From(b) => ld(b, j),
                SumBase::Zero => _mm256_setzero_si256(),
            };
            for &[a, b, bs] in &ptrs {
                // SAFETY: j + 4 ≤ n and every operand holds n u64 (asserted above); unaligned.
                let (x, y, ys) = unsafe {
                    (
                        _mm256_loadu_si256(a.add(j) as *const __m256i),
                        _mm256_loadu_si256(b.add(j) as *const __m256i),
                        _mm256_loadu_si256(bs.add(j) as *const __m256i),
                    )
                };
                let r = mulw::<R>(x, y, ys, c.q, c.qinv);
                let bound = if R == WIDE { c.four_q } else { c.two_q };
                s = csub(_mm256_add_epi64(s, r), bound);
            }
            let s = if R == WIDE { csub(s, c.two_q) } else { s };
            st(acc, j, csub(s, c.q));
        }
    }
}

/// u32 lanes: q < 2^30, values in [0, 4q).
pub(crate) mod u32 {
    use crate::isa::Avx2;
    use crate::ntt::dispatch::SimdKernels;
    use crate::ntt::{Reduction, Tables};
    use core::arch::x86_64::*;

    /// The avx2 kernels of a u32 plan with reduction `red` (no fused pair or sum kernels:
    /// the plan runs `mul_prepared` per product).
    pub(crate) fn kernels(_: Avx2, red: Reduction, _q: u64) -> SimdKernels<u32> {
        /// Forward/inverse with Montgomery (`MONT`) or Shoup butterflies.
        fn table<const MONT: bool>() -> SimdKernels<u32> {
            SimdKernels {
                isa: "avx2",
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
                unreachable!("NttPlan32 rejects shoup52 and fp52")
            }
        }
    }

    #[inline(always)]
    fn ld(p: &[u32], i: usize) -> __m256i {
        assert!(i + 8 <= p.len());
        // SAFETY: bounds checked above; unaligned load of 8 u32.
        unsafe { _mm256_loadu_si256(p.as_ptr().add(i) as *const __m256i) }
    }

    #[inline(always)]
    fn ld4(p: &[u32], i: usize) -> __m128i {
        assert!(i + 4 <= p.len());
        // SAFETY: bounds checked above; unaligned load of 4 u32.
        unsafe { _mm_loadu_si128(p.as_ptr().add(i) as *const __m128i) }
    }

    #[inline(always)]
    fn st(p: &mut [u32], i: usize, v: __m256i) {
        assert!(i + 8 <= p.len());
        // SAFETY: bounds checked above; unaligned store of 8 u32.
        unsafe { _mm256_storeu_si256(p.as_mut_ptr().add(i) as *mut __m256i, v) }
    }

    /// High 32 bits of the 32×32-bit lane products.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mul_hi(a: __m256i, b: __m256i) -> __m256i {
        let even = _mm256_srli_epi64::<32>(_mm256_mul_epu32(a, b));
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), _mm256_srli_epi64::<32>(b));
        _mm256_blend_epi32::<0b1010_1010>(even, odd)
    }

    /// x − c if x ≥ c else x (unsigned min of x and the wrapped difference).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn csub(x: __m256i, c: __m256i) -> __m256i {
        _mm256_min_epu32(x, _mm256_sub_epi32(x, c))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn mulw<const MONT: bool>(
        y: __m256i,
        w: __m256i,
        ws: __m256i,
        q: __m256i,
        qinv: __m256i,
    ) -> __m256i {
        if MONT {
            let m = _mm256_mullo_epi32(_mm256_mullo_epi32(y, w), qinv);
            let r = _mm256_sub_epi32(mul_hi(y, w), mul_hi(m, q));
            _mm256_add_epi32(r, q)
        } else {
            let qhat = mul_hi(y, ws);
            _mm256_sub_epi32(_mm256_mullo_epi32(y, w), _mm256_mullo_epi32(qhat, q))
        }
    }

    struct Consts {
        q: __m256i,
        two_q: __m256i,
        qinv: __m256i,
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn bf_fwd<const MONT: bool>(
        x: __m256i,
        y: __m256i,
        w: __m256i,
        ws: __m256i,
        c: &Consts,
    ) -> (__m256i, __m256i) {
        let x = csub(x, c.two_q);
        let v = mulw::<MONT>(y, w, ws, c.q, c.qinv);
        (
            _mm256_add_epi32(x, v),
            _mm256_sub_epi32(_mm256_add_epi32(x, c.two_q), v),
        )
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn bf_inv<const MONT: bool>(
        x: __m256i,
        y: __m256i,
        w: __m256i,
        ws: __m256i,
        c: &Consts,
    ) -> (__m256i, __m256i) {
        let u = csub(_mm256_add_epi32(x, y), c.two_q);
        let v = _mm256_sub_epi32(_mm256_add_epi32(x, c.two_q), y);
        (u, mulw::<MONT>(v, w, ws, c.q, c.qinv))
    }

    /// Splits 16 elements for a stage whose butterfly half-size is `half` ∈ {4, 2, 1}, returning
    /// (x lanes, y lanes); `join` is its inverse. Lane → group orders: half=4: [0×4, 1×4];
    /// half=2: groups [0,0,2,2,1,1,3,3]; half=1: groups [0,4,1,5,2,6,3,7].
    #[inline]
    #[target_feature(enable = "avx2")]
    fn split(half: usize, v0: __m256i, v1: __m256i) -> (__m256i, __m256i) {
        match half {
            4 => (
                _mm256_permute2x128_si256::<0x20>(v0, v1),
                _mm256_permute2x128_si256::<0x31>(v0, v1),
            ),
            2 => (_mm256_unpacklo_epi64(v0, v1), _mm256_unpackhi_epi64(v0, v1)),
            _ => (
                _mm256_blend_epi32::<0b1010_1010>(v0, _mm256_slli_epi64::<32>(v1)),
                _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(v0), v1),
            ),
        }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn join(half: usize, x: __m256i, y: __m256i) -> (__m256i, __m256i) {
        match half {
            4 => (
                _mm256_permute2x128_si256::<0x20>(x, y),
                _mm256_permute2x128_si256::<0x31>(x, y),
            ),
            2 => (_mm256_unpacklo_epi64(x, y), _mm256_unpackhi_epi64(x, y)),
            _ => (
                _mm256_blend_epi32::<0b1010_1010>(x, _mm256_slli_epi64::<32>(y)),
                _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(x), y),
            ),
        }
    }

    /// Per-lane twiddles for 16 elements at butterfly half-size `half` ∈ {4, 2, 1}, starting at
    /// twiddle index k (the block's first group), in `split`'s lane order.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn lane_twiddles(half: usize, tw: &[u32], k: usize) -> __m256i {
        match half {
            4 => {
                let w0 = _mm_set1_epi32(tw[k] as i32);
                let w1 = _mm_set1_epi32(tw[k + 1] as i32);
                _mm256_set_m128i(w1, w0)
            }
            2 => _mm256_permutevar8x32_epi32(
                _mm256_castsi128_si256(ld4(tw, k)),
                _mm256_setr_epi32(0, 0, 2, 2, 1, 1, 3, 3),
            ),
            _ => _mm256_permutevar8x32_epi32(ld(tw, k), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)),
        }
    }

    #[target_feature(enable = "avx2")]
    fn forward_impl<const MONT: bool>(t: &Tables<u32>, a: &mut [u32], _reduce: bool) {
        let n = a.len();
        let c = Consts {
            q: _mm256_set1_epi32(t.q as i32),
            two_q: _mm256_set1_epi32(t.two_q as i32),
            qinv: _mm256_set1_epi32(t.q_inv as i32),
        };
        let (tw, tws) = t.twiddles(true, MONT);
        let mut m = 1;
        let mut half = n;
        while half > 8 {
            half >>= 1;
            for i in 0..m {
                let k = m + i;
                let w = _mm256_set1_epi32(tw[k] as i32);
                let ws = _mm256_set1_epi32(tws[k] as i32);
                let base = 2 * i * half;
                for j in (base..base + half).step_by(8) {
                    let (x, y) = bf_fwd::<MONT>(ld(a, j), ld(a, j + half), w, ws, &c);
                    st(a, j, x);
                    st(a, j + half, y);
                }
            }
            m <<= 1;
        }
        for half in [4usize, 2, 1] {
            for b in (0..n).step_by(16) {
                let k = m + b / (2 * half);
                let (x, y) = split(half, ld(a, b), ld(a, b + 8));
                let w = lane_twiddles(half, tw, k);
                let ws = lane_twiddles(half, tws, k);
                let (mut x, mut y) = bf_fwd::<MONT>(x, y, w, ws, &c);
                if half == 1 {
                    x = csub(csub(x, c.two_q), c.q);
                    y = csub(csub(y, c.two_q), c.q);
                }
                let (v0, v1) = join(half, x, y);
                st(a, b, v0);
                st(a, b + 8, v1);
            }
            m <<= 1;
        }
    }

    #[target_feature(enable = "avx2")]
    fn inverse_impl<const MONT: bool>(t: &Tables<u32>, a: &mut [u32]) {
        let n = a.len();
        let c = Consts {
            q: _mm256_set1_epi32(t.q as i32),
            two_q: _mm256_set1_epi32(t.two_q as i32),
            qinv: _mm256_set1_epi32(t.q_inv as i32),
        };
        let (tw, tws) = t.twiddles(false, MONT);
        let mut m = n >> 1;
        for half in [1usize, 2, 4] {
            for b in (0..n).step_by(16) {
                let k = m + b / (2 * half);
                let (x, y) = split(half, ld(a, b), ld(a, b + 8));
                let w = lane_twiddles(half, tw, k);
                let ws = lane_twiddles(half, tws, k);
                let (x, y) = bf_inv::<MONT>(x, y, w, ws, &c);
                let (v0, v1) = join(half, x, y);
                st(a, b, v0);
                st(a, b + 8, v1);
            }
            m >>= 1;
        }
        let mut half = 8;
        while m >= 1 {
            for i in 0..m {
                let k = m + i;
                let w = _mm256_set1_epi32(tw[k] as i32);
                let ws = _mm256_set1_epi32(tws[k] as i32);
                let base = 2 * i * half;
                for j in (base..base + half).step_by(8) {
                    let (x, y) = bf_inv::<MONT>(ld(a, j), ld(a, j + half), w, ws, &c);
                    st(a, j, x);
                    st(a, j + half, y);
                }
            }
            half <<= 1;
            m >>= 1;
        }
        let (ni, nis) = if MONT {
            (_mm256_set1_epi32(t.n_inv_mont as i32), c.q)
        } else {
            (
                _mm256_set1_epi32(t.n_inv as i32),
                _mm256_set1_epi32(t.n_inv_shoup as i32),
            )
        };
        for j in (0..n).step_by(8) {
            let v = mulw::<MONT>(ld(a, j), ni, nis, c.q, c.qinv);
            st(a, j, csub(v, c.q));
        }
    }

    #[target_feature(enable = "avx2")]
    fn mul_prepared_impl(
        t: &Tables<u32>,
        out: &mut [u32],
        a: &[u32],
        b: &[u32],
        bs: &[u32],
        acc: bool,
    ) {
        let q = _mm256_set1_epi32(t.q as i32);
        let zero = _mm256_setzero_si256();
        for j in (0..out.len()).step_by(8) {
            let r = csub(mulw::<false>(ld(a, j), ld(b, j), ld(bs, j), q, zero), q);
            let r = if acc {
                csub(_mm256_add_epi32(ld(out, j), r), q)
            } else {
                r
            };
            st(out, j, r);
        }
    }
}

/// dst[i] = a[table[i]] for i < n = table.len() = a.len(), 4-lane gathers. `table` is a
/// permutation of 0..n (an [`crate::ntt::NttPermutation`]'s), n a multiple of 4, and `dst`
/// points to n writable u64 (initialised or not).
///
/// # Safety
/// Every table entry is below a.len(); table.len() is a multiple of 4; `dst` is valid for
/// table.len() writes of u64. (The token proves avx2.)
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn gather_raw(_: crate::isa::Avx2, table: &[u32], a: &[u64], dst: *mut u64) {
    use core::arch::x86_64::*;
    debug_assert!(table.iter().all(|&i| (i as usize) < a.len()));
    for (c, ix) in table.chunks_exact(4).enumerate() {
        // SAFETY: 4 u32 read from a chunk of exactly 4; the gather reads a[ix[l]], every
        // ix[l] < a.len() (a checked permutation); the store writes dst[4c..4c + 4] < n,
        // valid by the caller's contract.
        unsafe {
            let idx = _mm_loadu_si128(ix.as_ptr() as *const __m128i);
            let v = _mm256_i32gather_epi64::<8>(a.as_ptr() as *const i64, idx);
            let d = dst.add(4 * c);
            _mm256_storeu_si256(d as *mut __m256i, v);
        }
    }
}
