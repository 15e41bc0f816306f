//! AVX-512 (F + DQ) NTT kernels: 8 lanes of u64 (`vpmullq` for low products, high products
//! from `vpmuludq`: four exact, or three for the approximate quotient of the Shoup kinds) and 16
//! lanes of u32; for u64 plans with q < 2^50 and
//! [`Reduction::Shoup52`](crate::ntt::Reduction::Shoup52), IFMA52 butterflies (module
//! `u64::ifma52`: three `vpmadd52{lo,hi}uq` per 8 lanes). Same lazy bounds as
//! [`super::scalar`] and the same fully reduced results (lazy intermediates may differ by
//! multiples of q); stages whose butterfly halves share a vector use two-source permutes driven
//! by [`super::shuffle::stage_lanes`]. The traversal is written once (`avx512_traversal!`) and
//! compiled per target-feature set: F+DQ, and F+DQ+IFMA for the 52-bit products, where two
//! stages run per pass (radix 4) and the three stages whose halves share a vector run in
//! registers — both measured faster there and slower with the 64-bit products, whose
//! butterflies need more registers (`gazelle bench kernels`, perf/RESULTS.md). The IFMA passes
//! run several independent butterfly chains side by side (up to four chunks per radix-4
//! quarter, eight 16-element blocks in the register stages): one chain's two dependent 52-bit products
//! leave the multiplier idle. A 64-bit Shoup plan with 2^56 ≤ q < 2^61 takes the
//! `kind::LAZY8` forward transform (values below 8q, one conditional subtraction per
//! butterfly).
//!
//! Reached only through the dispatch tables that `kernels` builds from an
//! [`crate::isa::Avx512`] token (avx512f + avx512dq) and `ifma52::kernels` from an
//! [`crate::isa::Avx512Ifma`] token, and through `permute_blocks_raw`, which takes one. Tested against scalar,
//! bit for bit, on an Intel Xeon with AVX-512 F/DQ/IFMA (`tests/backends.rs`, `tests/ntt.rs`).

/// The lane-width parts of a u64 (8 lanes) or u32 (16 lanes) module: loads and stores, constants,
/// index vectors, permutes, add/sub and the conditional subtraction, from the intrinsics of that
/// lane width (`$I` the signed lane type), then the traversal.
macro_rules! avx512_common {
    ($W:ty, $L:expr, $I:ty, radix4 = $radix4:literal, fuse3 = $fuse3:literal, [
        $set1:ident,
        $permutex2var:ident,
        $permutexvar:ident,
        $add:ident,
        $sub:ident,
        $min:ident $(,)?
    ]) => {
        use crate::isa::Avx512;
        use crate::ntt::dispatch::SimdKernels;
        use crate::ntt::kind;
        use crate::ntt::shuffle::stage_lanes;
        use crate::ntt::{Reduction, SumBase, Tables};
        use core::arch::x86_64::*;

        const L: usize = $L;

        #[inline(always)]
        fn ld(p: &[$W], i: usize) -> __m512i {
            assert!(i + L <= p.len());
            // SAFETY: bounds checked above; unaligned 64-byte load.
            unsafe { _mm512_loadu_si512(p.as_ptr().add(i) as *const _) }
        }

        /// Unaligned load of L words at p + i.
        ///
        /// # Safety
        /// p + i .. p + i + L lies within one live allocation of initialised words.
        #[inline(always)]
        unsafe fn ld_raw(p: *const $W, i: usize) -> __m512i {
            // SAFETY: as the caller promises.
            unsafe { _mm512_loadu_si512(p.add(i) as *const _) }
        }

        #[inline(always)]
        fn st(p: &mut [$W], i: usize, v: __m512i) {
            assert!(i + L <= p.len());
            // SAFETY: bounds checked above; unaligned 64-byte store.
            unsafe { _mm512_storeu_si512(p.as_mut_ptr().add(i) as *mut _, v) }
        }

        struct Consts {
            q: __m512i,
            two_q: __m512i,
            four_q: __m512i,
            qinv: __m512i,
            /// 32q, 16q, 8q (wrapping; used by the `WIDE` traversal only, where q < 2^56).
            big_q: [__m512i; 3],
        }

        #[inline]
        #[target_feature(enable = "avx512f,avx512dq")]
        fn consts(t: &Tables<$W>) -> Consts {
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
            }
        }

        /// Index vectors for half-size h < L: (x gather, y gather, lane groups, back low, back high).
        #[inline]
        #[target_feature(enable = "avx512f,avx512dq")]
        fn lane_tables(h: usize) -> [__m512i; 5] {
            let s = stage_lanes::<L, { 2 * L }>(h);
            let mut back_lo = [0usize; L];
            let mut back_hi = [0usize; L];
            back_lo.copy_from_slice(&s.back[..L]);
            back_hi.copy_from_slice(&s.back[L..]);
            [
                idx(&s.x),
                idx(&s.y),
                idx(&s.group),
                idx(&back_lo),
                idx(&back_hi),
            ]
        }

        #[inline]
        #[target_feature(enable = "avx512f,avx512dq")]
        fn splat(v: $W) -> __m512i {
            $set1(v as $I)
        }

        #[inline]
        #[target_feature(enable = "avx512f,avx512dq")]
        fn idx(v: &[usize; L]) -> __m512i {
            let mut a = [0 as $I; L];
            for (d, &s) in a.iter_mut().zip(v) {
                *d = s as $I;
            }
            // SAFETY: `a` is L lanes = 64 bytes; unaligned load.
            unsafe { _mm512_loadu_si512(a.as_ptr() as *const _) }
        }

        #[inline]
        #[target_feature(enable = "avx512f,avx512dq")]
        fn permute2(a: __m512i, i: __m512i, b: __m512i) -> __m512i {
            $permutex2var(a, i, b)
        }

        #[inline]
        #[target_feature(enable = "avx512f,avx512dq")]
        fn permute1(i: __m512i, a: __m512i) -> __m512i {
            $permutexvar(i, a)
        }

        #[inline]
        #[target_feature(enable = "avx512f,avx512dq")]
        fn add(a: __m512i, b: __m512i) -> __m512i {
            $add(a, b)
        }

        #[inline]
        #[target_feature(enable = "avx512f,avx512dq")]
        fn sub(a: __m512i, b: __m512i) -> __m512i {
            $sub(a, b)
        }

        /// x − c if x ≥ c else x (unsigned min with the wrapped difference; needs c < 2^(W−1)).
        #[inline]
        #[target_feature(enable = "avx512f,avx512dq")]
        fn csub(x: __m512i, c: __m512i) -> __m512i {
            $min(x, $sub(x, c))
        }

        avx512_traversal!($W, "avx512f,avx512dq", radix4 = $radix4, fuse3 = $fuse3);
    };
}

/// The NTT traversal (forward, inverse) and the prepared product, compiled with the target
/// features `$feat`, over the lane product `mulw::<R>(y, w, ws, c)` of the module it expands in
/// (see [`crate::ntt::kind`]). Values stay in [0, 4q) (forward) and [0, 2q) (inverse) between stages, as in
/// [`super::scalar`], except for `kind::WIDE` and the forward `kind::LAZY8` (documented there).
macro_rules! avx512_traversal {
    ($W:ty, $feat:literal, radix4 = $radix4:literal, fuse3 = $fuse3:literal) => {
        use crate::ntt::kind::{LAZY8, MONT, WIDE};

        /// Whether the big stages run two at a time ([`stage2`]): fewer
        /// loads and stores, more live registers (a loss where the product needs many).
        const RADIX4: bool = $radix4;
        /// Whether the stages with half 4, 2, 1 run in registers ([`fwd_last3`], [`inv_first3`];
        /// u64 lanes only).
        const FUSE3: bool = $fuse3 && L == 8;

        #[inline]
        #[target_feature(enable = $feat)]
        fn bf_fwd<const R: u8>(
            x: __m512i,
            y: __m512i,
            w: __m512i,
            ws: __m512i,
            c: &Consts,
        ) -> (__m512i, __m512i) {
            if R == WIDE {
                // v in [0, 4q): both outputs grow by at most 4q.
                let v = mulw::<R>(y, w, ws, c);
                return (add(x, v), sub(add(x, c.four_q), v));
            }
            if R == LAZY8 {
                // x, y in [0, 8q): x to [0, 4q), v in [0, 4q); both outputs in [0, 8q).
                let x = csub(x, c.four_q);
                let v = mulw::<R>(y, w, ws, c);
                return (add(x, v), sub(add(x, c.four_q), v));
            }
            let x = csub(x, c.two_q);
            let v = mulw::<R>(y, w, ws, c);
            (add(x, v), sub(add(x, c.two_q), v))
        }

        #[inline]
        #[target_feature(enable = $feat)]
        fn bf_inv<const R: u8>(
            x: __m512i,
            y: __m512i,
            w: __m512i,
            ws: __m512i,
            c: &Consts,
        ) -> (__m512i, __m512i) {
            debug_assert!(R != LAZY8, "LAZY8 products are not reduced below 2q");
            if R == WIDE {
                // x, y in [0, 4q) → u in [0, 4q), v in (0, 8q) → product in [0, 4q).
                let u = csub(add(x, y), c.four_q);
                let v = sub(add(x, c.four_q), y);
                return (u, mulw::<R>(v, w, ws, c));
            }
            let u = csub(add(x, y), c.two_q);
            let v = sub(add(x, c.two_q), y);
            (u, mulw::<R>(v, w, ws, c))
        }

        /// [0, 64q) → [0, q) (the last forward stage of a `WIDE` transform).
        #[inline]
        #[target_feature(enable = $feat)]
        fn reduce_64q(x: __m512i, c: &Consts) -> __m512i {
            let x = csub(csub(csub(x, c.big_q[0]), c.big_q[1]), c.big_q[2]);
            csub(csub(csub(x, c.four_q), c.two_q), c.q)
        }

        /// A forward output of kind `R` (below 64q, 8q or 4q) reduced to [0, q).
        #[inline]
        #[target_feature(enable = $feat)]
        fn reduce_out<const R: u8>(x: __m512i, c: &Consts) -> __m512i {
            match R {
                WIDE => reduce_64q(x, c),
                LAZY8 => csub(csub(csub(x, c.four_q), c.two_q), c.q),
                _ => csub(csub(x, c.two_q), c.q),
            }
        }

        /// Runs the stages with half-size h < L over blocks of 2L elements.
        #[inline]
        #[target_feature(enable = $feat)]
        fn small_stage<const R: u8, const FWD: bool>(
            a: &mut [$W],
            h: usize,
            m: usize,
            tw: &[$W],
            tws: &[$W],
            c: &Consts,
            last: bool,
        ) {
            let [ix, iy, ig, ib0, ib1] = lane_tables(h);
            // Group index b / 2h as a shift: a runtime `div` per block cost more than the
            // butterfly's arithmetic here.
            debug_assert!(h.is_power_of_two());
            let group_shift = (2 * h).trailing_zeros();
            for b in (0..a.len()).step_by(2 * L) {
                let k = m + (b >> group_shift);
                let (v0, v1) = (ld(a, b), ld(a, b + L));
                let x = permute2(v0, ix, v1);
                let y = permute2(v0, iy, v1);
                let w = permute1(ig, ld(tw, k));
                let ws = permute1(ig, ld(tws, k));
                let (mut x, mut y) = if FWD {
                    bf_fwd::<R>(x, y, w, ws, c)
                } else {
                    bf_inv::<R>(x, y, w, ws, c)
                };
                if last {
                    x = reduce_out::<R>(x, c);
                    y = reduce_out::<R>(y, c);
                }
                st(a, b, permute2(x, ib0, y));
                st(a, b + L, permute2(x, ib1, y));
            }
        }

        /// Pins the eight chains' x and y vectors in registers at this point of the program: an
        /// empty `asm!` that LLVM cannot schedule across, so that the stages of [`fwd_last3`]
        /// and [`inv_first3`] run as written (all chains' first butterflies, then all second
        /// ones, …). Without it LLVM interleaves the chains' stages itself and spills.
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn pin(x: &mut [__m512i; 8], y: &mut [__m512i; 8]) {
            for v in [x, y] {
                // SAFETY: an empty instruction sequence; it reads and writes only these registers.
                unsafe {
                    core::arch::asm!(
                        "/* {0} {1} {2} {3} {4} {5} {6} {7} */",
                        inout(zmm_reg) v[0],
                        inout(zmm_reg) v[1],
                        inout(zmm_reg) v[2],
                        inout(zmm_reg) v[3],
                        inout(zmm_reg) v[4],
                        inout(zmm_reg) v[5],
                        inout(zmm_reg) v[6],
                        inout(zmm_reg) v[7],
                        options(pure, nomem, nostack, preserves_flags)
                    );
                }
            }
        }

        /// `(x[s], y[s]) = f(s, x[s], y[s])` for every chain s of the register stages.
        #[inline(always)]
        fn each<const S: usize>(
            x: &mut [__m512i; S],
            y: &mut [__m512i; S],
            f: impl Fn(usize, __m512i, __m512i) -> (__m512i, __m512i),
        ) {
            for s in 0..S {
                (x[s], y[s]) = f(s, x[s], y[s]);
            }
        }

        /// Eight u64 lanes at p[i..] (the lane-ordered twiddles: u64 in every expansion).
        #[inline(always)]
        fn ld64(p: &[u64], i: usize) -> __m512i {
            assert!(i + 8 <= p.len());
            // SAFETY: bounds checked above; unaligned 64-byte load.
            unsafe { _mm512_loadu_si512(p.as_ptr().add(i) as *const _) }
        }

        /// The forward stages with half-size 4, 2 and 1 of `a` (u64 lanes: L = 8) in registers,
        /// one load and one store per 16 elements instead of one per stage. Lane layouts (element
        /// indices of a 16-element block): half 4: x = [0..4, 8..12], y = [4..8, 12..16]; half 2:
        /// x = [0,1,4,5,8,9,12,13], y = x + 2; half 1: x = the even elements in order, y = the odd
        /// ones. The half-4 and half-2 twiddles come from `lanes` (block β of the transform at
        /// entries 8β.., `a` starting at block `lane0` / 8), the half-1 ones from the bit-reversed
        /// table (4·k4.., k4 = the half-4 twiddle index of `a`'s first group), all without
        /// permutes. `S` = 8 blocks of 16 at a time: eight independent chains of three dependent
        /// butterflies and their permutes, each step run for all chains before the next
        /// ([`pin`]), so that the 52-bit products' latencies overlap (with [`radix4_chunks`]' four
        /// chains: forward n = 4096 3.05–3.14 → 2.46–2.52 µs on a Zen 4; perf/RESULTS.md,
        /// sixteenth session). `a.len()` is a multiple of 128 (a transform block: n ≥ 256).
        #[inline]
        #[target_feature(enable = $feat)]
        #[allow(clippy::too_many_arguments)]
        fn fwd_last3<const R: u8>(
            a: &mut [$W],
            k4: usize,
            lanes: &crate::ntt::LaneTwiddles,
            lane0: usize,
            tw: &[$W],
            tws: &[$W],
            c: &Consts,
            reduce: bool,
        ) {
            const S: usize = 8;
            assert!(L == 8 && a.len().is_multiple_of(16 * S), "a whole number of 8-block chunks");
            let to2_x = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
            let to2_y = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
            let out0 = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
            let out1 = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
            let ([l4, l4s], [l2, l2s]) = (&lanes.fwd4, &lanes.fwd2);
            for (i, chunk) in a.chunks_exact_mut(16 * S).enumerate() {
                // Chain s's lane-twiddle and half-1 twiddle offsets.
                let l = |s: usize| lane0 + (16 * S * i + 16 * s) / 2;
                let k1 = |s: usize| 4 * k4 + (16 * S * i + 16 * s) / 2;
                let mut x = [_mm512_setzero_si512(); S];
                let mut y = [_mm512_setzero_si512(); S];
                each(&mut x, &mut y, |s, _, _| {
                    let (v0, v1) = (ld(chunk, 16 * s), ld(chunk, 16 * s + 8));
                    (_mm512_shuffle_i64x2::<0x44>(v0, v1), _mm512_shuffle_i64x2::<0xEE>(v0, v1))
                });
                each(&mut x, &mut y, |s, x, y| {
                    bf_fwd::<R>(x, y, ld64(l4, l(s)), ld64(l4s, l(s)), c)
                });
                pin(&mut x, &mut y);
                each(&mut x, &mut y, |_, x, y| {
                    (_mm512_permutex2var_epi64(x, to2_x, y), _mm512_permutex2var_epi64(x, to2_y, y))
                });
                each(&mut x, &mut y, |s, x, y| {
                    bf_fwd::<R>(x, y, ld64(l2, l(s)), ld64(l2s, l(s)), c)
                });
                pin(&mut x, &mut y);
                each(&mut x, &mut y, |_, x, y| {
                    (_mm512_unpacklo_epi64(x, y), _mm512_unpackhi_epi64(x, y))
                });
                each(&mut x, &mut y, |s, x, y| {
                    bf_fwd::<R>(x, y, ld(tw, k1(s)), ld(tws, k1(s)), c)
                });
                pin(&mut x, &mut y);
                if reduce {
                    each(&mut x, &mut y, |_, x, y| (reduce_out::<R>(x, c), reduce_out::<R>(y, c)));
                }
                for s in 0..S {
                    st(chunk, 16 * s, _mm512_permutex2var_epi64(x[s], out0, y[s]));
                    st(chunk, 16 * s + 8, _mm512_permutex2var_epi64(x[s], out1, y[s]));
                }
            }
        }

        /// The inverse stages with half-size 1, 2 and 4 of `a` (u64 lanes: L = 8) in registers,
        /// the layouts, twiddle sources and blocking of [`fwd_last3`] in reverse order.
        #[inline]
        #[target_feature(enable = $feat)]
        #[allow(clippy::too_many_arguments)]
        fn inv_first3<const R: u8>(
            a: &mut [$W],
            k4: usize,
            lanes: &crate::ntt::LaneTwiddles,
            lane0: usize,
            tw: &[$W],
            tws: &[$W],
            c: &Consts,
        ) {
            const S: usize = 8;
            assert!(L == 8 && a.len().is_multiple_of(16 * S), "a whole number of 8-block chunks");
            let evens = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
            let odds = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
            let to4_x = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
            let to4_y = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
            let ([l4, l4s], [l2, l2s]) = (&lanes.inv4, &lanes.inv2);
            for (i, chunk) in a.chunks_exact_mut(16 * S).enumerate() {
                let l = |s: usize| lane0 + (16 * S * i + 16 * s) / 2;
                let k1 = |s: usize| 4 * k4 + (16 * S * i + 16 * s) / 2;
                let mut x = [_mm512_setzero_si512(); S];
                let mut y = [_mm512_setzero_si512(); S];
                each(&mut x, &mut y, |s, _, _| {
                    let (v0, v1) = (ld(chunk, 16 * s), ld(chunk, 16 * s + 8));
                    (_mm512_permutex2var_epi64(v0, evens, v1), _mm512_permutex2var_epi64(v0, odds, v1))
                });
                each(&mut x, &mut y, |s, x, y| {
                    bf_inv::<R>(x, y, ld(tw, k1(s)), ld(tws, k1(s)), c)
                });
                pin(&mut x, &mut y);
                each(&mut x, &mut y, |_, x, y| {
                    (_mm512_unpacklo_epi64(x, y), _mm512_unpackhi_epi64(x, y))
                });
                each(&mut x, &mut y, |s, x, y| {
                    bf_inv::<R>(x, y, ld64(l2, l(s)), ld64(l2s, l(s)), c)
                });
                pin(&mut x, &mut y);
                each(&mut x, &mut y, |_, x, y| {
                    (_mm512_permutex2var_epi64(x, to4_x, y), _mm512_permutex2var_epi64(x, to4_y, y))
                });
                each(&mut x, &mut y, |s, x, y| {
                    bf_inv::<R>(x, y, ld64(l4, l(s)), ld64(l4s, l(s)), c)
                });
                pin(&mut x, &mut y);
                for s in 0..S {
                    st(chunk, 16 * s, _mm512_shuffle_i64x2::<0x44>(x[s], y[s]));
                    st(chunk, 16 * s + 8, _mm512_shuffle_i64x2::<0xEE>(x[s], y[s]));
                }
            }
        }

        /// Elements of the blocks whose stages run one block at a time (16 KiB of u64): the
        /// forward transform runs its stages with groups larger than a block over the whole
        /// array, then every later stage of one block before the next block (the inverse the
        /// other way round), so that those stages find their data in L1 (no change measured at
        /// n ≤ 8192 on a Zen 4, whose stages are bound by the butterflies' arithmetic).
        const BLOCK: usize = 2048;

        /// A stage over `a` (forward or inverse butterflies, `FWD`): groups of 2·`half`
        /// elements, group i with twiddle k0 + i.
        #[inline]
        #[target_feature(enable = $feat)]
        fn stage<const R: u8, const FWD: bool>(
            a: &mut [$W],
            half: usize,
            k0: usize,
            tw: &[$W],
            tws: &[$W],
            c: &Consts,
        ) {
            for (i, group) in a.chunks_exact_mut(2 * half).enumerate() {
                let (w, ws) = (splat(tw[k0 + i]), splat(tws[k0 + i]));
                let (xs, ys) = group.split_at_mut(half);
                // Exact L-element chunks: the loads and stores need no bounds checks.
                for (xc, yc) in xs.chunks_exact_mut(L).zip(ys.chunks_exact_mut(L)) {
                    let (x, y) = if FWD {
                        bf_fwd::<R>(ld(xc, 0), ld(yc, 0), w, ws, c)
                    } else {
                        bf_inv::<R>(ld(xc, 0), ld(yc, 0), w, ws, c)
                    };
                    st(xc, 0, x);
                    st(yc, 0, y);
                }
            }
        }

        /// Two stages over `a` at once (radix 4: four loads and stores per four butterflies
        /// instead of eight): groups of 4·`qtr` elements; group i's stage of half 2·qtr takes
        /// twiddle k = k0 + i, the stage of half qtr in its two halves 2k and 2k + 1. Forward
        /// (`FWD`): the half-2·qtr stage first; inverse: the half-qtr stage first.
        #[inline]
        #[target_feature(enable = $feat)]
        fn stage2<const R: u8, const FWD: bool>(
            a: &mut [$W],
            qtr: usize,
            k0: usize,
            tw: &[$W],
            tws: &[$W],
            c: &Consts,
        ) {
            for (i, group) in a.chunks_exact_mut(4 * qtr).enumerate() {
                let k = k0 + i;
                let w = [
                    (splat(tw[k]), splat(tws[k])),
                    (splat(tw[2 * k]), splat(tws[2 * k])),
                    (splat(tw[2 * k + 1]), splat(tws[2 * k + 1])),
                ];
                if qtr.is_multiple_of(4 * L) {
                    radix4_chunks::<R, FWD, 4>(group, qtr, &w, c);
                } else if qtr.is_multiple_of(2 * L) {
                    radix4_chunks::<R, FWD, 2>(group, qtr, &w, c);
                } else {
                    radix4_chunks::<R, FWD, 1>(group, qtr, &w, c);
                }
            }
        }

        /// The radix-4 butterflies of one group of [`stage2`] (quarters of `qtr` elements,
        /// twiddles `w` = [half 2·qtr, first half qtr, second half qtr]), `S` chunks of L lanes
        /// of each quarter at a time: S independent pairs of dependent butterflies, so that the
        /// 52-bit products' latencies overlap (S = 4: forward transforms ~2 % faster than with
        /// S = 1 on a Zen 4; perf/RESULTS.md, sixteenth session).
        #[inline]
        #[target_feature(enable = $feat)]
        fn radix4_chunks<const R: u8, const FWD: bool, const S: usize>(
            group: &mut [$W],
            qtr: usize,
            w: &[(__m512i, __m512i); 3],
            c: &Consts,
        ) {
            let [(w, ws), (w0, ws0), (w1, ws1)] = *w;
            let (g01, g23) = group.split_at_mut(2 * qtr);
            let (g0, g1) = g01.split_at_mut(qtr);
            let (g2, g3) = g23.split_at_mut(qtr);
            let chunks = g0
                .chunks_exact_mut(S * L)
                .zip(g1.chunks_exact_mut(S * L))
                .zip(g2.chunks_exact_mut(S * L).zip(g3.chunks_exact_mut(S * L)));
            for ((c0, c1), (c2, c3)) in chunks {
                let mut x = [[_mm512_setzero_si512(); S]; 4];
                for s in 0..S {
                    x[0][s] = ld(c0, s * L);
                    x[1][s] = ld(c1, s * L);
                    x[2][s] = ld(c2, s * L);
                    x[3][s] = ld(c3, s * L);
                }
                // Each loop: one butterfly of each chain.
                if FWD {
                    for s in 0..S {
                        (x[0][s], x[2][s]) = bf_fwd::<R>(x[0][s], x[2][s], w, ws, c);
                    }
                    for s in 0..S {
                        (x[1][s], x[3][s]) = bf_fwd::<R>(x[1][s], x[3][s], w, ws, c);
                    }
                    for s in 0..S {
                        (x[0][s], x[1][s]) = bf_fwd::<R>(x[0][s], x[1][s], w0, ws0, c);
                    }
                    for s in 0..S {
                        (x[2][s], x[3][s]) = bf_fwd::<R>(x[2][s], x[3][s], w1, ws1, c);
                    }
                } else {
                    for s in 0..S {
                        (x[0][s], x[1][s]) = bf_inv::<R>(x[0][s], x[1][s], w0, ws0, c);
                    }
                    for s in 0..S {
                        (x[2][s], x[3][s]) = bf_inv::<R>(x[2][s], x[3][s], w1, ws1, c);
                    }
                    for s in 0..S {
                        (x[0][s], x[2][s]) = bf_inv::<R>(x[0][s], x[2][s], w, ws, c);
                    }
                    for s in 0..S {
                        (x[1][s], x[3][s]) = bf_inv::<R>(x[1][s], x[3][s], w, ws, c);
                    }
                }
                for s in 0..S {
                    st(c0, s * L, x[0][s]);
                    st(c1, s * L, x[1][s]);
                    st(c2, s * L, x[2][s]);
                    st(c3, s * L, x[3][s]);
                }
            }
        }

        #[target_feature(enable = $feat)]
        /// `reduce`: the last stage reduces to [0, q); otherwise it leaves lazy values
        /// (< 64q for `WIDE`, < 8q for `LAZY8`, < 4q for the other kinds).
        fn forward_impl<const R: u8>(t: &Tables<$W>, a: &mut [$W], reduce: bool) {
            let n = a.len();
            debug_assert!(R != WIDE || n <= 1 << 15);
            let c = consts(t);
            let (tw, tws) = t.twiddles(true, R == MONT);
            let block = BLOCK.min(n);
            // The stage with m groups of 2·half uses twiddles m.., group g twiddle m + g; two
            // stages at a time while both have half ≥ L.
            let mut m = 1;
            let mut half = n / 2;
            while 2 * half > block {
                if RADIX4 && half / 2 >= L && half > block {
                    stage2::<R, true>(a, half / 2, m, tw, tws, &c);
                    half >>= 2;
                    m <<= 2;
                } else {
                    stage::<R, true>(a, half, m, tw, tws, &c);
                    half >>= 1;
                    m <<= 1;
                }
            }
            for (j, blk) in a.chunks_exact_mut(block).enumerate() {
                let (mut h, mut mh) = (half, m);
                while h >= 1 {
                    // This block's groups are j·block/(2h).. of the stage's mh.
                    let k0 = mh + j * (block / (2 * h));
                    if RADIX4 && h / 2 >= L {
                        stage2::<R, true>(blk, h / 2, k0, tw, tws, &c);
                        h >>= 2;
                        mh <<= 2;
                        continue;
                    }
                    if h >= L {
                        stage::<R, true>(blk, h, k0, tw, tws, &c);
                    } else if let (true, Some(lanes)) = (FUSE3, t.lanes.as_ref()) {
                        // h = 4: this and the last two stages at once; the block's first
                        // 16-element block is (k0 − n/8)/2.
                        fwd_last3::<R>(blk, k0, lanes, 4 * (k0 - n / 8), tw, tws, &c, reduce);
                        break;
                    } else {
                        small_stage::<R, true>(blk, h, k0, tw, tws, &c, reduce && h == 1);
                    }
                    h >>= 1;
                    mh <<= 1;
                }
            }
        }

        #[target_feature(enable = $feat)]
        fn inverse_impl<const R: u8>(t: &Tables<$W>, a: &mut [$W]) {
            let n = a.len();
            let c = consts(t);
            let (tw, tws) = t.twiddles(false, R == MONT);
            // Shoup kinds fold n⁻¹ into the last stage (below); Montgomery scales in a pass.
            let last = if R == MONT { 0 } else { 1 };
            let block = BLOCK.min(n);
            // The stage with m groups of 2·half uses twiddles m.., group g twiddle m + g.
            let stages_in_block = |h: usize| 2 * h <= block && n / (2 * h) > last;
            for (j, blk) in a.chunks_exact_mut(block).enumerate() {
                let mut h = 1;
                if let (true, Some(lanes)) = (FUSE3, t.lanes.as_ref()) {
                    // The stages with h = 1, 2, 4 at once (never the last stage: n ≥ 16).
                    let k4 = n / 8 + j * (block / 8);
                    inv_first3::<R>(blk, k4, lanes, 4 * (k4 - n / 8), tw, tws, &c);
                    h = 8;
                }
                while stages_in_block(h) {
                    if RADIX4 && h >= L && stages_in_block(2 * h) {
                        // Stages h and 2h; the second's groups are j·block/(4h).. of n/(4h).
                        let k0 = n / (4 * h) + j * (block / (4 * h));
                        stage2::<R, false>(blk, h, k0, tw, tws, &c);
                        h <<= 2;
                        continue;
                    }
                    let k0 = n / (2 * h) + j * (block / (2 * h));
                    if h < L {
                        small_stage::<R, false>(blk, h, k0, tw, tws, &c, false);
                    } else {
                        stage::<R, false>(blk, h, k0, tw, tws, &c);
                    }
                    h <<= 1;
                }
            }
            let mut half = 1;
            while stages_in_block(half) {
                half <<= 1;
            }
            let mut m = n / (2 * half);
            while m > last {
                if RADIX4 && m / 2 > last {
                    stage2::<R, false>(a, half, m / 2, tw, tws, &c);
                    half <<= 2;
                    m >>= 2;
                } else {
                    stage::<R, false>(a, half, m, tw, tws, &c);
                    half <<= 1;
                    m >>= 1;
                }
            }
            // Reduces a product (< 2q, or < 4q for WIDE) to [0, q).
            let finish = |v: __m512i| {
                let v = if R == WIDE { csub(v, c.two_q) } else { v };
                csub(v, c.q)
            };
            if R == MONT {
                let (ni, nis) = (splat(t.n_inv_mont), c.q);
                for j in (0..n).step_by(L) {
                    st(a, j, finish(mulw::<R>(ld(a, j), ni, nis, &c)));
                }
            } else {
                // Last stage with the scaling: x' = (x + y)·n⁻¹, y' = (x − y)·(w_1·n⁻¹), from
                // x, y in [0, 2q) ([0, 4q) for WIDE): both multiplicands below 4q (8q for WIDE).
                let (ni, nis) = (splat(t.n_inv), splat(t.n_inv_shoup));
                let (wn, wns) = (splat(t.itw1_n_inv), splat(t.itw1_n_inv_shoup));
                let bound = if R == WIDE { c.four_q } else { c.two_q };
                let (xs, ys) = a.split_at_mut(n / 2);
                for (xc, yc) in xs.chunks_exact_mut(L).zip(ys.chunks_exact_mut(L)) {
                    let (x, y) = (ld(xc, 0), ld(yc, 0));
                    let u = mulw::<R>(add(x, y), ni, nis, &c);
                    let v = mulw::<R>(sub(add(x, bound), y), wn, wns, &c);
                    st(xc, 0, finish(u));
                    st(yc, 0, finish(v));
                }
            }
        }

        /// o = x·b mod q, or o += x·b mod q (`acc`), reduced to [0, q), for one L-lane chunk.
        #[inline]
        #[target_feature(enable = $feat)]
        fn product_store<const R: u8>(
            o: &mut [$W],
            x: __m512i,
            b: __m512i,
            bs: __m512i,
            c: &Consts,
            acc: bool,
        ) {
            debug_assert!(R != LAZY8, "LAZY8 products are not reduced below 2q");
            let r = mulw::<R>(x, b, bs, c);
            let r = if R == WIDE { csub(r, c.two_q) } else { r };
            let r = csub(r, c.q);
            let r = if acc { csub(add(ld(o, 0), r), c.q) } else { r };
            st(o, 0, r);
        }

        /// out = a·b mod q (acc: out += a·b mod q) with b's Shoup constants `bs`; `R` is
        /// `SHOUP` or `WIDE`.
        #[target_feature(enable = $feat)]
        fn mul_prepared_impl<const R: u8>(
            t: &Tables<$W>,
            out: &mut [$W],
            a: &[$W],
            b: &[$W],
            bs: &[$W],
            acc: bool,
        ) {
            debug_assert!(R != MONT);
            let c = consts(t);
            let ins = a
                .chunks_exact(L)
                .zip(b.chunks_exact(L))
                .zip(bs.chunks_exact(L));
            for (o, ((ac, bc), bsc)) in out.chunks_exact_mut(L).zip(ins) {
                product_store::<R>(o, ld(ac, 0), ld(bc, 0), ld(bsc, 0), &c, acc);
            }
        }

        /// out[i] = a[i]·b mod q for i = 0, 1 (acc: out[i] += …) in one pass over b and bs.
        #[target_feature(enable = $feat)]
        fn mul_prepared_pair_impl<const R: u8>(
            t: &Tables<$W>,
            out: [&mut [$W]; 2],
            a: [&[$W]; 2],
            b: &[$W],
            bs: &[$W],
            acc: bool,
        ) {
            debug_assert!(R != MONT);
            let c = consts(t);
            let [o0, o1] = out;
            let outs = o0.chunks_exact_mut(L).zip(o1.chunks_exact_mut(L));
            let ins = (a[0].chunks_exact(L).zip(a[1].chunks_exact(L)))
                .zip(b.chunks_exact(L).zip(bs.chunks_exact(L)));
            for ((p0, p1), ((x0, x1), (bc, bsc))) in outs.zip(ins) {
                let (bv, bsv) = (ld(bc, 0), ld(bsc, 0));
                product_store::<R>(p0, ld(x0, 0), bv, bsv, &c, acc);
                product_store::<R>(p1, ld(x1, 0), bv, bsv, &c, acc);
            }
        }

        /// acc = base + Σ a·b mod q over `terms` = [a, b, b's Shoup constants], one pass: the partial
        /// sum stays in a register, in [0, 2q) (`SHOUP`: products < 2q) or [0, 4q) (`WIDE`:
        /// products < 4q), reduced once per term by one conditional subtraction.
        #[target_feature(enable = $feat)]
        fn mul_sum_impl<const R: u8>(
            t: &Tables<$W>,
            acc: &mut [$W],
            base: SumBase<'_, $W>,
            terms: &[[&[$W]; 3]],
        ) {
            debug_assert!(R != LAZY8, "LAZY8 products are not reduced below 2q");
            debug_assert!(R != MONT);
            let c = consts(t);
            let n = acc.len();
            // Every operand checked once here, so the loop loads without per-load checks.
            assert!(terms.iter().all(|t| t.iter().all(|x| x.len() == n)) && n.is_multiple_of(L));
            if let SumBase::From(b) = base {
                assert_eq!(b.len(), n);
            }
            let ptrs: Vec<[*const $W; 3]> = terms
                .iter()
                .map(|[a, b, bs]| [a.as_ptr(), b.as_ptr(), bs.as_ptr()])
                .collect();
            for j in (0..n).step_by(L) {
                let mut s = match base {
                    SumBase::Acc => ld(acc, j),
                    SumBase::From(b) => ld(b, j),
                    SumBase::Zero => _mm512_setzero_si512(),
                };
                for &[a, b, bs] in &ptrs {
                    // SAFETY: j + L ≤ n and every operand holds n elements (asserted above).
                    let (x, y, ys) = unsafe { (ld_raw(a, j), ld_raw(b, j), ld_raw(bs, j)) };
                    let r = mulw::<R>(x, y, ys, &c);
                    s = if R == WIDE {
                        csub(add(s, r), c.four_q)
                    } else {
                        csub(add(s, r), c.two_q)
                    };
                }
                let s = if R == WIDE { csub(s, c.two_q) } else { s };
                st(acc, j, csub(s, c.q));
            }
        }
    };
}

/// u64 lanes: q < 2^62, values in [0, 4q) (below 64q in a `WIDE` forward transform, 8q in a
/// `LAZY8` one).
pub(crate) mod u64 {
    avx512_common!(
        u64,
        8,
        i64,
        radix4 = false,
        fuse3 = false,
        [
            _mm512_set1_epi64,
            _mm512_permutex2var_epi64,
            _mm512_permutexvar_epi64,
            _mm512_add_epi64,
            _mm512_sub_epi64,
            _mm512_min_epu64,
        ]
    );

    /// The avx512 kernels of a u64 plan with reduction `red` and modulus q: [`ifma52::kernels`]
    /// for `Shoup52` (an error if the CPU lacks avx512ifma), the `LAZY8` forward transform with
    /// `SHOUP`'s inverse and products for `Shoup` with 2^56 ≤ q < 2^61, else `u64_kernels!`.
    pub(crate) fn kernels(
        _: Avx512,
        red: Reduction,
        q: u64,
    ) -> Result<SimdKernels<u64>, crate::KernelError> {
        if red == Reduction::Shoup52 {
            let ifma = crate::isa::Avx512Ifma::try_new().ok_or(
                crate::KernelError::ReductionUnavailable {
                    reduction: red.name(),
                    backend: "avx512",
                    needs: "a CPU with avx512ifma",
                },
            )?;
            return Ok(ifma52::kernels(ifma));
        }
        if red == Reduction::Shoup && kind::lazy8_q(q) {
            return Ok(SimdKernels {
                isa: "avx512",
                forward: forward_impl::<{ kind::LAZY8 }>,
                inverse: inverse_impl::<{ kind::SHOUP }>,
                mul_prepared: mul_prepared_impl::<{ kind::SHOUP }>,
                mul_prepared_pair: Some(mul_prepared_pair_impl::<{ kind::SHOUP }>),
                mul_prepared_sum: Some(mul_sum_impl::<{ kind::SHOUP }>),
            });
        }
        Ok(u64_kernels!("avx512", red, q))
    }

    /// High 64 bits of the lane products (four `vpmuludq`).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn mul_hi(a: __m512i, b: __m512i) -> __m512i {
        let mask = _mm512_set1_epi64(0xffff_ffff);
        // Half swaps, not shifts: keeps LLVM from scalarising the pattern into `mulq`s.
        let a_hi = _mm512_shuffle_epi32::<0b1011_0001>(a);
        let b_hi = _mm512_shuffle_epi32::<0b1011_0001>(b);
        let ll = _mm512_mul_epu32(a, b);
        let lh = _mm512_mul_epu32(a, b_hi);
        let hl = _mm512_mul_epu32(a_hi, b);
        let hh = _mm512_mul_epu32(a_hi, b_hi);
        // hl + ⌊ll/2^32⌋ ≤ (2^32−1)² + 2^32−1 < 2^64, and likewise lh + (t1 mod 2^32): no
        // carries lost, 8 non-multiply µops instead of 11.
        let t1 = _mm512_add_epi64(hl, _mm512_srli_epi64::<32>(ll));
        let t2 = _mm512_add_epi64(lh, _mm512_and_si512(t1, mask));
        let hi = _mm512_add_epi64(hh, _mm512_srli_epi64::<32>(t1));
        _mm512_add_epi64(hi, _mm512_srli_epi64::<32>(t2))
    }

    /// ⌊a·b/2^64⌋ − e with e ∈ {0, 1, 2}: three `vpmuludq` (the low×low partial product and
    /// the carry out of the two middle products' low halves are dropped; each is < 2^64, so
    /// together they lose at most 2).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn mul_hi_approx(a: __m512i, b: __m512i) -> __m512i {
        let a_hi = _mm512_shuffle_epi32::<0b1011_0001>(a);
        let b_hi = _mm512_shuffle_epi32::<0b1011_0001>(b);
        let lh = _mm512_mul_epu32(a, b_hi);
        let hl = _mm512_mul_epu32(a_hi, b);
        let hh = _mm512_mul_epu32(a_hi, b_hi);
        let mid = _mm512_add_epi64(_mm512_srli_epi64::<32>(lh), _mm512_srli_epi64::<32>(hl));
        _mm512_add_epi64(hh, mid)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn mulw<const R: u8>(y: __m512i, w: __m512i, ws: __m512i, c: &Consts) -> __m512i {
        let (q, qinv) = (c.q, c.qinv);
        if R == WIDE {
            // ⌊y·w/q⌋ − 3 ≤ qhat ≤ ⌊y·w/q⌋ (Shoup's −1 plus the approximation's −2), so
            // y·w − qhat·q ∈ [0, 4q) for every y < 2^64.
            let qhat = mul_hi_approx(y, ws);
            _mm512_sub_epi64(_mm512_mullo_epi64(y, w), _mm512_mullo_epi64(qhat, q))
        } else if R == kind::MONT {
            let m = _mm512_mullo_epi64(_mm512_mullo_epi64(y, w), qinv);
            let r = _mm512_sub_epi64(mul_hi(y, w), mul_hi(m, q));
            _mm512_add_epi64(r, q)
        } else {
            // As WIDE: y·w − qhat·q ∈ [0, 4q) with the approximate high product (three
            // `vpmuludq` instead of four), < 2^64 for q < 2^62; one conditional subtraction
            // brings it to the Shoup kind's [0, 2q) (as HEXL's 64-bit butterfly). `LAZY8`
            // keeps [0, 4q).
            let qhat = mul_hi_approx(y, ws);
            let r = _mm512_sub_epi64(_mm512_mullo_epi64(y, w), _mm512_mullo_epi64(qhat, q));
            if R == kind::LAZY8 {
                r
            } else {
                csub(r, c.two_q)
            }
        }
    }

    /// dst[i] = ⌊src[i]·2^64/q⌋ >> shift for src[i] < q (Shoup constants: shift 0, or 12 for
    /// the 52-bit ones), bit for bit the scalar `Modulus64::shoup`: with μ = ⌊2^128/q⌋ =
    /// (hi, lo), est = w·hi + ⌊w·lo/2^64⌋ = ⌊w·μ/2^64⌋ is the quotient or one below it (w·hi <
    /// 2^64 as hi = ⌊2^64/q⌋ and w < q); the remainder w·2^64 − est·q ∈ [0, 2q) is the low word
    /// −est·q mod 2^64, and one conditional step corrects est. Panics if the lengths differ or
    /// are not multiples of 8.
    pub(crate) fn shoup_constants(
        _: Avx512,
        m: &crate::modarith::Modulus64,
        shift: u32,
        src: &[u64],
        dst: &mut [u64],
    ) {
        assert!(src.len() == dst.len() && src.len().is_multiple_of(8) && shift < 64);
        #[target_feature(enable = "avx512f,avx512dq")]
        fn run(q: u64, (hi, lo): (u64, u64), shift: u32, src: &[u64], dst: &mut [u64]) {
            let (qv, hiv, lov) = (splat(q), splat(hi), splat(lo));
            let (one, sh) = (splat(1), splat(shift as u64));
            for (d, s) in dst.chunks_exact_mut(8).zip(src.chunks_exact(8)) {
                let w = ld(s, 0);
                let est = _mm512_add_epi64(_mm512_mullo_epi64(w, hiv), mul_hi(w, lov));
                let r = _mm512_sub_epi64(_mm512_setzero_si512(), _mm512_mullo_epi64(est, qv));
                let low = _mm512_cmpge_epu64_mask(r, qv);
                let est = _mm512_mask_add_epi64(est, low, est, one);
                st(d, 0, _mm512_srlv_epi64(est, sh));
            }
        }
        // SAFETY: the token proves avx512f and avx512dq.
        unsafe { run(m.value(), m.barrett(), shift, src, dst) }
    }

    /// Lane-wise `mul_hi_approx` and the `WIDE` product on 8 inputs (for the tests).
    #[cfg(test)]
    pub(crate) fn wide_lanes(
        _: crate::isa::Avx512,
        y: [u64; 8],
        w: [u64; 8],
        ws: [u64; 8],
        q: u64,
    ) -> ([u64; 8], [u64; 8]) {
        #[target_feature(enable = "avx512f,avx512dq")]
        fn run(y: [u64; 8], w: [u64; 8], ws: [u64; 8], q: u64) -> ([u64; 8], [u64; 8]) {
            let (mut hi, mut r) = ([0u64; 8], [0u64; 8]);
            let c = Consts {
                q: splat(q),
                two_q: splat(2 * q),
                four_q: splat(4 * q),
                qinv: splat(0),
                big_q: [splat(32 * q), splat(16 * q), splat(8 * q)],
            };
            let (yv, wv, wsv) = (ld(&y, 0), ld(&w, 0), ld(&ws, 0));
            st(&mut hi, 0, mul_hi_approx(yv, wsv));
            st(&mut r, 0, mulw::<{ kind::WIDE }>(yv, wv, wsv, &c));
            (hi, r)
        }
        // SAFETY: the token proves avx512f and avx512dq on this CPU.
        unsafe { run(y, w, ws, q) }
    }

    /// IFMA52 butterflies for [`Reduction::Shoup52`] plans (u64, q < 2^50): the same traversal
    /// compiled with avx512ifma, over the 52-bit Shoup product
    /// [`crate::modarith::Modulus64::mul_shoup52_lazy`] (its scalar reference, bit for bit).
    pub(crate) mod ifma52 {
        use super::*;
        use crate::isa::Avx512Ifma;

        avx512_traversal!(
            u64,
            "avx512f,avx512dq,avx512ifma",
            radix4 = true,
            fuse3 = true
        );

        /// The kernels of a `Shoup52` plan (u64, q < 2^50): every product in the 52-bit Shoup
        /// form.
        pub(crate) fn kernels(_: Avx512Ifma) -> SimdKernels<u64> {
            SimdKernels {
                isa: "avx512ifma",
                forward: forward_impl::<{ kind::SHOUP }>,
                inverse: inverse_impl::<{ kind::SHOUP }>,
                mul_prepared: mul_prepared_impl::<{ kind::SHOUP }>,
                mul_prepared_pair: Some(mul_prepared_pair_impl::<{ kind::SHOUP }>),
                mul_prepared_sum: Some(mul_sum_impl::<{ kind::SHOUP }>),
            }
        }

        /// 2^52 − 1.
        const MASK52: i64 = (1 << 52) - 1;

        /// Whether every lane is below `bound` (for the debug assertions).
        #[inline]
        #[target_feature(enable = "avx512f,avx512dq")]
        fn all_below(v: __m512i, bound: __m512i) -> bool {
            _mm512_cmpge_epu64_mask(v, bound) == 0
        }

        /// 52-bit lazy Shoup product y·w mod q in [0, 2q) for y < 2^52 (lazy values in [0, 4q)
        /// with q < 2^50), w in [0, q), ws = ⌊w·2^52/q⌋: hi = ⌊y·ws/2^52⌋ (`vpmadd52huq`), then
        /// y·w − hi·q ∈ [0, 2q) ⊂ [0, 2^52) is the low 52 bits of lo52(y·w) + lo52(hi·(2^52 − q))
        /// (two `vpmadd52luq` into one accumulator, then a mask): 3 IFMA + 1 AND for 8 lanes.
        #[inline]
        #[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
        fn mulw<const R: u8>(y: __m512i, w: __m512i, ws: __m512i, c: &Consts) -> __m512i {
            const { assert!(R == kind::SHOUP, "Shoup52 has only the Shoup form") };
            debug_assert!(all_below(y, _mm512_set1_epi64(1 << 52)));
            debug_assert!(all_below(ws, _mm512_set1_epi64(1 << 52)));
            let zero = _mm512_setzero_si512();
            let neg_q = _mm512_sub_epi64(_mm512_set1_epi64(1 << 52), c.q);
            let hi = _mm512_madd52hi_epu64(zero, y, ws);
            let lo = _mm512_madd52lo_epu64(zero, y, w);
            let r = _mm512_madd52lo_epu64(lo, hi, neg_q);
            let r = _mm512_and_si512(r, _mm512_set1_epi64(MASK52));
            debug_assert!(all_below(r, c.two_q));
            r
        }
    }
}

/// u32 lanes: q < 2^30, values in [0, 4q).
pub(crate) mod u32 {
    avx512_common!(
        u32,
        16,
        i32,
        radix4 = false,
        fuse3 = false,
        [
            _mm512_set1_epi32,
            _mm512_permutex2var_epi32,
            _mm512_permutexvar_epi32,
            _mm512_add_epi32,
            _mm512_sub_epi32,
            _mm512_min_epu32,
        ]
    );

    /// The avx512 kernels of a u32 plan with reduction `red` (prepared products: Shoup); never
    /// an error (the `Result` matches the u64 one).
    pub(crate) fn kernels(
        _: Avx512,
        red: Reduction,
        _q: u64,
    ) -> Result<SimdKernels<u32>, crate::KernelError> {
        /// Forward/inverse of kind `F`.
        fn table<const F: u8>() -> SimdKernels<u32> {
            SimdKernels {
                isa: "avx512",
                forward: forward_impl::<F>,
                inverse: inverse_impl::<F>,
                mul_prepared: mul_prepared_impl::<{ kind::SHOUP }>,
                mul_prepared_pair: Some(mul_prepared_pair_impl::<{ kind::SHOUP }>),
                mul_prepared_sum: Some(mul_sum_impl::<{ kind::SHOUP }>),
            }
        }
        Ok(match red {
            Reduction::Shoup => table::<{ kind::SHOUP }>(),
            Reduction::Montgomery => table::<{ kind::MONT }>(),
            Reduction::Shoup52 | Reduction::Fp52 => {
                unreachable!("NttPlan32 rejects shoup52 and fp52")
            }
        })
    }

    /// High 32 bits of the 32×32-bit lane products.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn mul_hi(a: __m512i, b: __m512i) -> __m512i {
        // Both products leave their high halves in the odd dwords; one two-source permute
        // gathers them (instead of a shift and a blend).
        let even = _mm512_mul_epu32(a, b);
        let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(a), _mm512_srli_epi64::<32>(b));
        let idx = _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
        _mm512_permutex2var_epi32(even, idx, odd)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn mulw<const R: u8>(y: __m512i, w: __m512i, ws: __m512i, c: &Consts) -> __m512i {
        const { assert!(R != kind::WIDE, "no WIDE kind for u32 lanes") };
        let (q, qinv) = (c.q, c.qinv);
        if R == kind::MONT {
            let m = _mm512_mullo_epi32(_mm512_mullo_epi32(y, w), qinv);
            let r = _mm512_sub_epi32(mul_hi(y, w), mul_hi(m, q));
            _mm512_add_epi32(r, q)
        } else {
            let qhat = mul_hi(y, ws);
            _mm512_sub_epi32(_mm512_mullo_epi32(y, w), _mm512_mullo_epi32(qhat, q))
        }
    }
}

/// dst[i] = a[table[i]] for a table whose every aligned block of 8 entries points into one
/// aligned block of 8 (true of σ_g on bit-reversed evaluations: the low bits of an NTT index
/// are the high bits of its evaluation exponent, and multiplying by g maps low bits to low
/// bits): one load and one `vpermq` per 8 outputs instead of a gather.
///
/// # Safety
/// table.len() == a.len() == n with n a multiple of 8; every entry is below n; the block
/// property holds; `dst` is valid for n writes of u64. (The token proves avx512f.)
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn permute_blocks_raw(
    _: crate::isa::Avx512,
    table: &[u32],
    a: &[u64],
    dst: *mut u64,
) {
    use core::arch::x86_64::*;
    debug_assert!(table
        .chunks_exact(8)
        .all(|b| b.iter().all(|&i| i / 8 == b[0] / 8)));
    let seven = _mm512_set1_epi64(7);
    for (c, ix) in table.chunks_exact(8).enumerate() {
        let base = (ix[0] & !7) as usize;
        // SAFETY: 8 u32 read from a chunk of exactly 8; base + 8 ≤ n (base is a multiple of 8
        // below n, n a multiple of 8) so the source load stays in `a`; the store writes
        // dst[8c..8c + 8], c < n/8, valid by the caller's contract.
        unsafe {
            let idx = _mm512_cvtepu32_epi64(_mm256_loadu_si256(ix.as_ptr() as *const __m256i));
            let src = _mm512_loadu_si512(a.as_ptr().add(base) as *const _);
            let v = _mm512_permutexvar_epi64(_mm512_and_si512(idx, seven), src);
            _mm512_storeu_si512(dst.add(8 * c) as *mut _, v);
        }
    }
}
