//! Fused three-halves kernels for x86-64 ([`super::Aes128::garble_ands_three_halves`],
//! [`super::Aes128::evaluate_ands_three_halves`]) over the register widths of
//! [`super::x86_halfgates`]'s [`Lanes`] (1, 2 or 4 gates per register). The slicing algebra of
//! [`super::threehalves`] is done on whole blocks with per-block masks, every gate alike (no
//! table of cases, no branch): with `x = (A_L, A_R)`, `y = (B_L, B_R)`,
//!
//! ```text
//! R·(A, B) = r1·(A_L⊕A_R⊕B_L, A_L⊕B_R) ⊕ r2·(A_L⊕B_R, A_R⊕B_L⊕B_R) ⊕ (ī·B_L, j̄·A_R)
//!          = r1·(swap(x) ⊕ y ⊕ (x & LO)) ⊕ r2·(x ⊕ swap(y) ⊕ (y & HI)) ⊕ ((B_L, A_R) & ¬(i, j))
//! ```
//!
//! The garbler computes the output zero-label as the evaluator would at colours (0, 0), and
//! `G0 ‖ G1`, `G2` from colours (1, 1) and (0, 1) (the decoded dice `r` at colours (i, j) are
//! `ρ1 ⊕ i·p̄a ⊕ (i⊕j)·(pa⊕pb)` and `ρ2 ⊕ j·p̄b ⊕ (i⊕j)·(pa⊕pb)`, which
//! [`super::threehalves`] solves for and tests). Garbling steps hash 4 registers of gates
//! six ways, evaluation steps 8 registers three ways; the gates that fill no whole step go
//! through [`super::threehalves`], which every kernel is checked against.
//!
//! Reached only through [`super::Aes128`] with the token of each width's features.
use super::threehalves;
use super::x86_halfgates::{tccr8, Lanes};
use super::{x86_aesni, Aes128};
use crate::block::Block;
use core::arch::x86_64::*;

/// How far ahead of the evaluation the table bytes are prefetched.
const PREFETCH: usize = 4096;

/// The constant block `(lo, hi)` in every lane.
///
/// # Safety
/// `L`'s CPU features.
#[inline(always)]
unsafe fn constant<L: Lanes>(lo: i64, hi: i64) -> L {
    // SAFETY: `L`'s features are the caller's contract.
    unsafe { L::splat(_mm_set_epi64x(hi, lo)) }
}

/// The round keys of `aes`, each in every lane.
///
/// # Safety
/// `L`'s CPU features (they include AES-NI).
#[inline(always)]
unsafe fn round_keys<L: Lanes>(aes: &Aes128) -> [L; 11] {
    // SAFETY: `L`'s features, which include AES-NI, are the caller's contract.
    unsafe {
        let rk = x86_aesni::load_keys(aes.round_keys());
        let mut k = [L::splat(rk[0]); 11];
        for i in 1..11 {
            k[i] = L::splat(rk[i]);
        }
        k
    }
}

/// `(a.lo, b.hi)` per block.
///
/// # Safety
/// `L`'s CPU features.
#[inline(always)]
unsafe fn blend<L: Lanes>(a: L, b: L, hi: L) -> L {
    // SAFETY: `L`'s features are the caller's contract.
    unsafe { L::xor(a, L::and(L::xor(a, b), hi)) }
}

/// `R·(x, y)` for decoded dice masks `r1`, `r2` and the colour masks `(i, j)` as one
/// block mask `ij` (low half `i`, high half `j`); see the module docs.
///
/// # Safety
/// `L`'s CPU features.
#[inline(always)]
unsafe fn sliced<L: Lanes>(x: L, y: L, r1: L, r2: L, ij: L, (lo, hi, ones): (L, L, L)) -> L {
    // SAFETY: `L`'s features are the caller's contract.
    unsafe {
        let p1 = L::xor(L::xor(L::swap_halves(x), y), L::and(x, lo));
        let p2 = L::xor(L::xor(x, L::swap_halves(y)), L::and(y, hi));
        let rp = L::and(blend(y, x, hi), L::xor(ij, ones));
        L::xor(L::xor(L::and(p1, r1), L::and(p2, r2)), rp)
    }
}

/// The mask of bit `k` of each block's byte `v` ([`Lanes::load_bytes`]).
///
/// # Safety
/// `L`'s CPU features.
#[inline(always)]
unsafe fn bit<L: Lanes>(v: L, k: i32) -> L {
    // SAFETY: `L`'s features are the caller's contract.
    unsafe { L::lsb_mask(L::srl(v, k)) }
}

/// The fused garbling loop over whole steps of `4·L::B` gates; returns the gates done.
///
/// # Safety
/// `L`'s CPU features; `b`, `dice`, `out` as long as `a`; the regions hold 16, 8 and 1 bytes
/// per gate of `a`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn garble_steps<L: Lanes>(
    aes: &Aes128,
    delta: Block,
    flips: [Block; 2],
    (a, b, dice): (&[Block], &[Block], &[u8]),
    gate: u64,
    domain: u64,
    out: &mut [Block],
    (g01, g2, zs): (&mut [u8], &mut [u8], &mut [u8]),
) -> usize {
    let step = 4 * L::B;
    let whole = a.len() - a.len() % step;
    // SAFETY: (whole body) `L`'s features are the caller's contract; every load and store is
    // at a gate index < `whole` of the slices (blocks), the dice, or the regions at 16, 8 and
    // 1 bytes per gate, in bounds by the contract; unaligned accesses are allowed.
    unsafe {
        // (No closure calls a `Lanes` method: a closure does not inherit the target features,
        // and the calls inside it would stay calls.)
        let k = round_keys::<L>(aes);
        let d = L::splat(_mm_loadu_si128(delta.as_bytes().as_ptr().cast()));
        let fa = L::splat(_mm_loadu_si128(flips[0].as_bytes().as_ptr().cast()));
        let fb = L::splat(_mm_loadu_si128(flips[1].as_bytes().as_ptr().cast()));
        let (lo, hi, ones) = (
            constant::<L>(-1, 0),
            constant::<L>(0, -1),
            constant::<L>(-1, -1),
        );
        let mut bits = [lo; 5];
        for (i, b) in bits.iter_mut().enumerate() {
            *b = constant::<L>(1 << i, 0);
        }
        let (ap, bp, op) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
        let (gp01, gp2, zp) = (g01.as_mut_ptr(), g2.as_mut_ptr(), zs.as_mut_ptr());
        for s in (0..whole).step_by(step) {
            let first = |j: usize| s + j * L::B;
            // Per hash kind, [colour 0 of 4 registers, colour 1 of 4 registers] of A, B, A ⊕ B;
            // the zero-labels' colour masks.
            let (mut xa, mut xb, mut xx) = ([d; 8], [d; 8], [d; 8]);
            let (mut ta, mut tb, mut tx) = ([d; 8], [d; 8], [d; 8]);
            let (mut pa, mut pb) = ([d; 4], [d; 4]);
            for j in 0..4 {
                let a0 = L::xor(L::load(ap.add(first(j))), fa);
                let b0 = L::xor(L::load(bp.add(first(j))), fb);
                (pa[j], pb[j]) = (L::lsb_mask(a0), L::lsb_mask(b0));
                let ac = L::xor(a0, L::and(d, pa[j]));
                let bc = L::xor(b0, L::and(d, pb[j]));
                (xa[j], xa[4 + j]) = (ac, L::xor(ac, d));
                (xb[j], xb[4 + j]) = (bc, L::xor(bc, d));
                (xx[j], xx[4 + j]) = (L::xor(ac, bc), L::xor(L::xor(ac, bc), d));
                let g = gate.wrapping_add(first(j) as u64);
                (ta[j], tb[j], tx[j]) = (
                    L::tweaks4(g, 0, domain),
                    L::tweaks4(g, 1, domain),
                    L::tweaks4(g, 2, domain),
                );
                (ta[4 + j], tb[4 + j], tx[4 + j]) = (ta[j], tb[j], tx[j]);
            }
            let ha = tccr8(&k, xa, &ta);
            let hb = tccr8(&k, xb, &tb);
            let hx = tccr8(&k, xx, &tx);
            let (ac, bcol) = (&xa[..4], &xb[..4]);
            for j in 0..4 {
                let (pa, pb) = (pa[j], pb[j]);
                let (npa, npb) = (L::xor(pa, ones), L::xor(pb, ones));
                let dz = L::load_bytes(dice.as_ptr().add(first(j)));
                let (rho1, rho2) = (bit(dz, 0), bit(dz, 1));
                let (a1, b1) = (L::xor(ac[j], d), L::xor(bcol[j], d));
                let (ha0, ha1, hb0, hb1, hx0, hx1) =
                    (ha[j], ha[4 + j], hb[j], hb[4 + j], hx[j], hx[4 + j]);
                let consts = (lo, hi, ones);
                let zero = L::xor(ones, ones);
                // Colours (0, 0): the output zero-label.
                let e00 = sliced(ac[j], bcol[j], rho1, rho2, zero, consts);
                let c0 = L::xor(
                    L::xor(L::unpacklo(ha0, hb0), L::unpacklo(hx0, hx0)),
                    L::xor(e00, L::and(d, L::and(pa, pb))),
                );
                // Colours (1, 1): G0 ‖ G1.
                let e11 = sliced(a1, b1, L::xor(rho1, npa), L::xor(rho2, npb), ones, consts);
                let g01v = L::xor(
                    L::xor(c0, L::and(d, L::and(npa, npb))),
                    L::xor(L::xor(L::unpacklo(ha1, hb1), L::unpacklo(hx0, hx0)), e11),
                );
                // Colours (0, 1): G2 in the low half.
                let r1 = L::xor(rho1, L::xor(pa, pb));
                let e01 = sliced(ac[j], b1, r1, L::xor(rho2, npa), hi, consts);
                let g2v = L::xor(
                    L::xor(c0, L::and(d, L::and(pa, npb))),
                    L::xor(L::xor(L::unpacklo(ha0, hb0), L::unpacklo(hx1, hx1)), e01),
                );
                // Control bits.
                let (ma0, ma1) = (L::msb_mask(ha0), L::msb_mask(ha1));
                let (mb0, mb1) = (L::msb_mask(hb0), L::msb_mask(hb1));
                let (mx0, mx1) = (L::msb_mask(hx0), L::msb_mask(hx1));
                let z = [
                    L::xor(rho1, L::xor(ma0, mx0)),
                    L::xor(rho2, L::xor(mb0, mx0)),
                    L::xor(npa, L::xor(ma0, ma1)),
                    L::xor(npb, L::xor(mb0, mb1)),
                    L::xor(L::xor(pa, pb), L::xor(mx0, mx1)),
                ];
                let mut zb = zero;
                for i in 0..5 {
                    zb = L::xor(zb, L::and(z[i], bits[i]));
                }
                let f = first(j);
                L::store(op.add(f), c0);
                L::store(gp01.add(16 * f).cast(), g01v);
                L::store_low_words(gp2.add(8 * f), g2v);
                L::store_bytes(zp.add(f), zb);
            }
        }
        whole
    }
}

/// The fused evaluation loop over whole steps of `8·L::B` gates; returns the gates done.
///
/// # Safety
/// `L`'s CPU features; `b`, `out` as long as `a`; the regions hold 16, 8 and 1 bytes per gate.
#[inline(always)]
unsafe fn evaluate_steps<L: Lanes>(
    aes: &Aes128,
    (a, b): (&[Block], &[Block]),
    (g01, g2, zs): (&[u8], &[u8], &[u8]),
    gate: u64,
    domain: u64,
    out: &mut [Block],
) -> usize {
    let step = 8 * L::B;
    let whole = a.len() - a.len() % step;
    // SAFETY: (whole body) as in `garble_steps`; prefetches are hints and never fault.
    unsafe {
        let k = round_keys::<L>(aes);
        let (lo, hi, ones) = (
            constant::<L>(-1, 0),
            constant::<L>(0, -1),
            constant::<L>(-1, -1),
        );
        let (ap, bp, op) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
        let (gp01, gp2, zp) = (g01.as_ptr(), g2.as_ptr(), zs.as_ptr());
        for s in (0..whole).step_by(step) {
            // The tables stream from memory: fetch PREFETCH bytes ahead.
            for line in (0..16 * step).step_by(64) {
                _mm_prefetch::<_MM_HINT_T0>(gp01.wrapping_add(16 * s + PREFETCH + line).cast());
            }
            for line in (0..8 * step).step_by(64) {
                _mm_prefetch::<_MM_HINT_T0>(gp2.wrapping_add(8 * s + PREFETCH + line).cast());
            }
            let first = |j: usize| s + j * L::B;
            let (mut x, mut y, mut xy) = ([lo; 8], [lo; 8], [lo; 8]);
            let (mut ta, mut tb, mut tx) = ([lo; 8], [lo; 8], [lo; 8]);
            for j in 0..8 {
                (x[j], y[j]) = (L::load(ap.add(first(j))), L::load(bp.add(first(j))));
                xy[j] = L::xor(x[j], y[j]);
                let g = gate.wrapping_add(first(j) as u64);
                (ta[j], tb[j], tx[j]) = (
                    L::tweaks4(g, 0, domain),
                    L::tweaks4(g, 1, domain),
                    L::tweaks4(g, 2, domain),
                );
            }
            let ha = tccr8(&k, x, &ta);
            let hb = tccr8(&k, y, &tb);
            let hx = tccr8(&k, xy, &tx);
            for j in 0..8 {
                let f = first(j);
                let (x, y) = (L::load(ap.add(f)), L::load(bp.add(f)));
                let (mi, mj) = (L::lsb_mask(x), L::lsb_mask(y));
                let ij = blend(mi, mj, hi);
                let mx = L::xor(mi, mj);
                let z = L::load_bytes(zp.add(f));
                let mxh = L::msb_mask(hx[j]);
                let z4 = L::and(mx, bit(z, 4));
                let r1 = L::xor(
                    L::xor(bit(z, 0), L::and(mi, bit(z, 2))),
                    L::xor(z4, L::xor(L::msb_mask(ha[j]), mxh)),
                );
                let r2 = L::xor(
                    L::xor(bit(z, 1), L::and(mj, bit(z, 3))),
                    L::xor(z4, L::xor(L::msb_mask(hb[j]), mxh)),
                );
                let e = sliced(x, y, r1, r2, ij, (lo, hi, ones));
                let g01v = L::load(gp01.add(16 * f).cast());
                let g2v = L::load_words_dup(gp2.add(8 * f));
                let c = L::xor(
                    L::xor(L::unpacklo(ha[j], hb[j]), L::unpacklo(hx[j], hx[j])),
                    L::xor(L::xor(L::and(g01v, ij), L::and(g2v, mx)), e),
                );
                L::store(op.add(f), c);
            }
        }
        whole
    }
}

macro_rules! entry_points {
    ($lanes:ty, $token:ty, $features:literal, $garble:ident, $evaluate:ident) => {
        /// [`super::Aes128::garble_ands_three_halves`] with this width's fused kernel.
        ///
        /// # Safety
        /// The lengths of [`super::Aes128::garble_ands_three_halves`] (checked by it); the
        /// features are the token's.
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn $garble(
            _: $token,
            aes: &Aes128,
            (delta, flips): (Block, [Block; 2]),
            (a, b, dice): (&[Block], &[Block], &[u8]),
            gate: u64,
            domain: u64,
            out: &mut [Block],
            tables: &mut [u8],
        ) {
            let (g01, g2, z) = threehalves::regions_mut(tables, a.len());
            // SAFETY: the token proves the features; the lengths are the caller's contract.
            let done = unsafe {
                garble_steps::<$lanes>(
                    aes,
                    delta,
                    flips,
                    (a, b, dice),
                    gate,
                    domain,
                    out,
                    (&mut *g01, &mut *g2, &mut *z),
                )
            };
            threehalves::garble(
                aes,
                delta,
                flips,
                &a[done..],
                &b[done..],
                &dice[done..],
                gate.wrapping_add(done as u64),
                domain,
                &mut out[done..],
                (&mut g01[16 * done..], &mut g2[8 * done..], &mut z[done..]),
            );
        }

        /// [`super::Aes128::evaluate_ands_three_halves`] with this width's fused kernel.
        ///
        /// # Safety
        /// The lengths of [`super::Aes128::evaluate_ands_three_halves`] (checked by it); the
        /// features are the token's.
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn $evaluate(
            _: $token,
            aes: &Aes128,
            (a, b): (&[Block], &[Block]),
            tables: &[u8],
            gate: u64,
            domain: u64,
            out: &mut [Block],
        ) {
            let (g01, g2, z) = threehalves::regions(tables, a.len());
            let regions = (g01, g2, z);
            // SAFETY: as above.
            let done = unsafe { evaluate_steps::<$lanes>(aes, (a, b), regions, gate, domain, out) };
            threehalves::evaluate(
                aes,
                &a[done..],
                &b[done..],
                (&g01[16 * done..], &g2[8 * done..], &z[done..]),
                gate.wrapping_add(done as u64),
                domain,
                &mut out[done..],
            );
        }
    };
}

entry_points!(
    __m128i,
    crate::isa::AesNi,
    "aes",
    garble_aesni,
    evaluate_aesni
);
entry_points!(
    __m256i,
    crate::isa::Vaes256,
    "aes,vaes,avx2",
    garble_vaes256,
    evaluate_vaes256
);
entry_points!(
    __m512i,
    crate::isa::Vaes512,
    "aes,vaes,avx512f",
    garble_vaes512,
    evaluate_vaes512
);
