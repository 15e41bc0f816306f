//! Fused half-gates kernels for x86-64 ([`super::Aes128::garble_ands`],
//! [`super::Aes128::evaluate_ands`]): one generic body over the register width ([`Lanes`]:
//! AES-NI xmm, VAES ymm and zmm, holding 1, 2 or 4 gates' blocks), with each gate's labels,
//! tweaks, hashes and tables in registers from load to store. Eight registers go through the
//! AES rounds together (each width's interleaved round code): a garbling step hashes
//! `a, a ⊕ Δ, b, b ⊕ Δ` of 2 registers' worth of gates, an evaluation step `a, b` of 4.
//! The last gates that fill no whole step go through [`super::halfgates`].
//!
//! Reached only through [`super::Aes128`] with the token of each width's features.
use super::halfgates::{self, TABLE_BYTES};
use super::{x86_aesni, x86_vaes, Aes128};
use crate::block::Block;
use core::arch::x86_64::*;

/// How far ahead of the evaluation the table bytes are prefetched.
const PREFETCH: usize = 4096;

/// One register of `B` blocks (one per gate) and the operations the kernels need (the
/// three-halves kernels of [`super::x86_threehalves`] too).
///
/// # Safety
/// Every method needs its width's CPU features (the implementing type's `#[target_feature]`s).
pub(super) trait Lanes: Copy {
    /// Blocks per register.
    const B: usize;
    unsafe fn load(p: *const Block) -> Self;
    unsafe fn store(p: *mut Block, v: Self);
    unsafe fn splat(x: __m128i) -> Self;
    unsafe fn xor(a: Self, b: Self) -> Self;
    unsafe fn and(a: Self, b: Self) -> Self;
    /// Each block's bit 0 (the point-and-permute bit) spread over the block.
    unsafe fn lsb_mask(a: Self) -> Self;
    /// The tweaks `(2·(gate + j) + half) mod 2^64 + 2^64 · domain` of gates `gate + j`,
    /// `j < B`, one per block.
    unsafe fn tweaks(gate: u64, half: u64, domain: u64) -> Self;
    /// Gates' `T_G` and `T_E` registers → the table bytes in stream order (`T_G ‖ T_E` per
    /// gate), as two registers.
    unsafe fn interleave(tg: Self, te: Self) -> (Self, Self);
    /// The inverse of [`Lanes::interleave`].
    unsafe fn deinterleave(lo: Self, hi: Self) -> (Self, Self);
    /// AES rounds 1–10 on eight registers.
    unsafe fn rounds8(k: &[Self; 11], s: &mut [Self; 8]);
    /// Per block `(a.lo, b.lo)` (64-bit halves, low first).
    unsafe fn unpacklo(a: Self, b: Self) -> Self;
    /// Per block `(a.hi, a.lo)`.
    unsafe fn swap_halves(a: Self) -> Self;
    /// Each block's bit 127 spread over the block.
    unsafe fn msb_mask(a: Self) -> Self;
    /// Each 64-bit lane shifted right by `k` bits.
    unsafe fn srl(a: Self, k: i32) -> Self;
    /// `p[j]` (j < B) zero-extended into both halves of block `j`.
    unsafe fn load_bytes(p: *const u8) -> Self;
    /// The low byte of block `j`'s low half to `p[j]`, j < B.
    unsafe fn store_bytes(p: *mut u8, v: Self);
    /// The 8-byte words at `p + 8j` (j < B) into both halves of block `j`.
    unsafe fn load_words_dup(p: *const u8) -> Self;
    /// Block `j`'s low half to the 8 bytes at `p + 8j`, j < B.
    unsafe fn store_low_words(p: *mut u8, v: Self);
    /// The three-halves tweaks `(4·(gate + j) + k) mod 2^64 + 2^64 · domain`, j < B.
    unsafe fn tweaks4(gate: u64, k: u64, domain: u64) -> Self;
}

/// `x` with only bit 0 of its low 64-bit lane(s), negated: all ones where the bit is set.
macro_rules! lsb_mask_via {
    ($and:ident, $sub:ident, $zero:ident, $shuffle:ident, $splat:expr, $a:expr) => {{
        let bit = $and($a, $splat(_mm_set_epi64x(0, 1)));
        $shuffle::<0b01_00_01_00>($sub($zero(), bit))
    }};
}

impl Lanes for __m128i {
    const B: usize = 1;
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn load(p: *const Block) -> Self {
        // SAFETY: the caller passes a readable block.
        unsafe { _mm_loadu_si128(p.cast()) }
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn store(p: *mut Block, v: Self) {
        // SAFETY: the caller passes a writable block.
        unsafe { _mm_storeu_si128(p.cast(), v) }
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn splat(x: __m128i) -> Self {
        x
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn xor(a: Self, b: Self) -> Self {
        _mm_xor_si128(a, b)
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn and(a: Self, b: Self) -> Self {
        _mm_and_si128(a, b)
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn lsb_mask(a: Self) -> Self {
        let id = |x| x;
        lsb_mask_via!(
            _mm_and_si128,
            _mm_sub_epi64,
            _mm_setzero_si128,
            _mm_shuffle_epi32,
            id,
            a
        )
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn tweaks(gate: u64, half: u64, domain: u64) -> Self {
        _mm_set_epi64x(domain as i64, (gate.wrapping_mul(2) | half) as i64)
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn interleave(tg: Self, te: Self) -> (Self, Self) {
        (tg, te)
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn deinterleave(lo: Self, hi: Self) -> (Self, Self) {
        (lo, hi)
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn rounds8(k: &[Self; 11], s: &mut [Self; 8]) {
        // SAFETY: AES-NI is this method's contract.
        unsafe { x86_aesni::rounds_8(k, s) }
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn unpacklo(a: Self, b: Self) -> Self {
        _mm_unpacklo_epi64(a, b)
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn swap_halves(a: Self) -> Self {
        _mm_shuffle_epi32::<0x4e>(a)
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn msb_mask(a: Self) -> Self {
        _mm_srai_epi32::<31>(_mm_shuffle_epi32::<0xff>(a))
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn srl(a: Self, k: i32) -> Self {
        _mm_srl_epi64(a, _mm_cvtsi32_si128(k))
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn load_bytes(p: *const u8) -> Self {
        // SAFETY: the caller passes 1 readable byte.
        _mm_set1_epi64x(i64::from(unsafe { *p }))
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn store_bytes(p: *mut u8, v: Self) {
        // SAFETY: the caller passes 1 writable byte.
        unsafe { *p = _mm_cvtsi128_si32(v) as u8 }
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn load_words_dup(p: *const u8) -> Self {
        // SAFETY: the caller passes 8 readable bytes.
        _mm_set1_epi64x(unsafe { p.cast::<i64>().read_unaligned() })
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn store_low_words(p: *mut u8, v: Self) {
        // SAFETY: the caller passes 8 writable bytes.
        unsafe { _mm_storel_epi64(p.cast(), v) }
    }
    #[inline]
    #[target_feature(enable = "aes")]
    unsafe fn tweaks4(gate: u64, k: u64, domain: u64) -> Self {
        _mm_set_epi64x(domain as i64, (gate.wrapping_mul(4) | k) as i64)
    }
}

impl Lanes for __m256i {
    const B: usize = 2;
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn load(p: *const Block) -> Self {
        // SAFETY: the caller passes 2 readable blocks.
        unsafe { _mm256_loadu_si256(p.cast()) }
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn store(p: *mut Block, v: Self) {
        // SAFETY: the caller passes 2 writable blocks.
        unsafe { _mm256_storeu_si256(p.cast(), v) }
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn splat(x: __m128i) -> Self {
        _mm256_broadcastsi128_si256(x)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn xor(a: Self, b: Self) -> Self {
        _mm256_xor_si256(a, b)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn and(a: Self, b: Self) -> Self {
        _mm256_and_si256(a, b)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn lsb_mask(a: Self) -> Self {
        let splat = |x| _mm256_broadcastsi128_si256(x);
        lsb_mask_via!(
            _mm256_and_si256,
            _mm256_sub_epi64,
            _mm256_setzero_si256,
            _mm256_shuffle_epi32,
            splat,
            a
        )
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn tweaks(gate: u64, half: u64, domain: u64) -> Self {
        let t = gate.wrapping_mul(2) | half;
        let d = domain as i64;
        _mm256_set_epi64x(d, t.wrapping_add(2) as i64, d, t as i64)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn interleave(tg: Self, te: Self) -> (Self, Self) {
        (
            _mm256_permute2x128_si256::<0x20>(tg, te),
            _mm256_permute2x128_si256::<0x31>(tg, te),
        )
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn deinterleave(lo: Self, hi: Self) -> (Self, Self) {
        (
            _mm256_permute2x128_si256::<0x20>(lo, hi),
            _mm256_permute2x128_si256::<0x31>(lo, hi),
        )
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn rounds8(k: &[Self; 11], s: &mut [Self; 8]) {
        // SAFETY: VAES and AVX2 are this method's contract.
        unsafe { x86_vaes::rounds256_8(k, s) }
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn unpacklo(a: Self, b: Self) -> Self {
        _mm256_unpacklo_epi64(a, b)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn swap_halves(a: Self) -> Self {
        _mm256_shuffle_epi32::<0x4e>(a)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn msb_mask(a: Self) -> Self {
        _mm256_srai_epi32::<31>(_mm256_shuffle_epi32::<0xff>(a))
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn srl(a: Self, k: i32) -> Self {
        _mm256_srl_epi64(a, _mm_cvtsi32_si128(k))
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn load_bytes(p: *const u8) -> Self {
        // SAFETY: the caller passes 2 readable bytes.
        let (b0, b1) = unsafe { (i64::from(*p), i64::from(*p.add(1))) };
        _mm256_set_epi64x(b1, b1, b0, b0)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn store_bytes(p: *mut u8, v: Self) {
        // SAFETY: the caller passes 2 writable bytes.
        unsafe {
            *p = _mm256_extract_epi8::<0>(v) as u8;
            *p.add(1) = _mm256_extract_epi8::<16>(v) as u8;
        }
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn load_words_dup(p: *const u8) -> Self {
        // SAFETY: the caller passes 16 readable bytes.
        let w = unsafe { _mm_loadu_si128(p.cast()) };
        _mm256_permute4x64_epi64::<0b01_01_00_00>(_mm256_castsi128_si256(w))
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn store_low_words(p: *mut u8, v: Self) {
        let w = _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b00_00_10_00>(v));
        // SAFETY: the caller passes 16 writable bytes.
        unsafe { _mm_storeu_si128(p.cast(), w) }
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx2")]
    unsafe fn tweaks4(gate: u64, k: u64, domain: u64) -> Self {
        let t = gate.wrapping_mul(4) | k;
        let d = domain as i64;
        _mm256_set_epi64x(d, t.wrapping_add(4) as i64, d, t as i64)
    }
}

impl Lanes for __m512i {
    const B: usize = 4;
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn load(p: *const Block) -> Self {
        // SAFETY: the caller passes 4 readable blocks.
        unsafe { _mm512_loadu_si512(p.cast()) }
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn store(p: *mut Block, v: Self) {
        // SAFETY: the caller passes 4 writable blocks.
        unsafe { _mm512_storeu_si512(p.cast(), v) }
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn splat(x: __m128i) -> Self {
        _mm512_broadcast_i32x4(x)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn xor(a: Self, b: Self) -> Self {
        _mm512_xor_si512(a, b)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn and(a: Self, b: Self) -> Self {
        _mm512_and_si512(a, b)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn lsb_mask(a: Self) -> Self {
        let low = _mm512_srai_epi64::<63>(_mm512_slli_epi64::<63>(a));
        _mm512_shuffle_epi32::<_MM_PERM_BABA>(low)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn tweaks(gate: u64, half: u64, domain: u64) -> Self {
        let t = (gate.wrapping_mul(2) | half) as i64;
        let d = domain as i64;
        _mm512_add_epi64(
            _mm512_setr_epi64(t, d, t, d, t, d, t, d),
            _mm512_setr_epi64(0, 0, 2, 0, 4, 0, 6, 0),
        )
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn interleave(tg: Self, te: Self) -> (Self, Self) {
        let lo = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
        let hi = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
        (
            _mm512_permutex2var_epi64(tg, lo, te),
            _mm512_permutex2var_epi64(tg, hi, te),
        )
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn deinterleave(lo: Self, hi: Self) -> (Self, Self) {
        let even = _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13);
        let odd = _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15);
        (
            _mm512_permutex2var_epi64(lo, even, hi),
            _mm512_permutex2var_epi64(lo, odd, hi),
        )
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn rounds8(k: &[Self; 11], s: &mut [Self; 8]) {
        x86_vaes::rounds512(k, s)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn unpacklo(a: Self, b: Self) -> Self {
        _mm512_unpacklo_epi64(a, b)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn swap_halves(a: Self) -> Self {
        _mm512_shuffle_epi32::<_MM_PERM_BADC>(a)
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn msb_mask(a: Self) -> Self {
        _mm512_srai_epi32::<31>(_mm512_shuffle_epi32::<_MM_PERM_DDDD>(a))
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn srl(a: Self, k: i32) -> Self {
        _mm512_srl_epi64(a, _mm_cvtsi32_si128(k))
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn load_bytes(p: *const u8) -> Self {
        // SAFETY: the caller passes 4 readable bytes.
        let b: [i64; 4] = core::array::from_fn(|j| i64::from(unsafe { *p.add(j) }));
        _mm512_setr_epi64(b[0], b[0], b[1], b[1], b[2], b[2], b[3], b[3])
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn store_bytes(p: *mut u8, v: Self) {
        let mut w = [0u64; 8];
        // SAFETY: `w` holds 64 bytes; the caller passes 4 writable bytes.
        unsafe {
            _mm512_storeu_si512(w.as_mut_ptr().cast(), v);
            for j in 0..4 {
                *p.add(j) = w[2 * j] as u8;
            }
        }
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn load_words_dup(p: *const u8) -> Self {
        // SAFETY: the caller passes 32 readable bytes.
        let w = unsafe { _mm256_loadu_si256(p.cast()) };
        let idx = _mm512_setr_epi64(0, 0, 1, 1, 2, 2, 3, 3);
        _mm512_permutexvar_epi64(idx, _mm512_castsi256_si512(w))
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn store_low_words(p: *mut u8, v: Self) {
        let idx = _mm512_setr_epi64(0, 2, 4, 6, 0, 2, 4, 6);
        let w = _mm512_castsi512_si256(_mm512_permutexvar_epi64(idx, v));
        // SAFETY: the caller passes 32 writable bytes.
        unsafe { _mm256_storeu_si256(p.cast(), w) }
    }
    #[inline]
    #[target_feature(enable = "aes,vaes,avx512f")]
    unsafe fn tweaks4(gate: u64, k: u64, domain: u64) -> Self {
        let t = (gate.wrapping_mul(4) | k) as i64;
        let d = domain as i64;
        _mm512_add_epi64(
            _mm512_setr_epi64(t, d, t, d, t, d, t, d),
            _mm512_setr_epi64(0, 0, 4, 0, 8, 0, 12, 0),
        )
    }
}

/// `x ← π(π(x) ⊕ t) ⊕ π(x)` on eight registers.
///
/// # Safety
/// `L`'s CPU features.
#[inline(always)]
pub(super) unsafe fn tccr8<L: Lanes>(k: &[L; 11], x: [L; 8], t: &[L; 8]) -> [L; 8] {
    // SAFETY: (whole body) `L`'s features are the caller's contract.
    // (Loops, not `array::from_fn` closures: a closure does not inherit the target features,
    // so the `Lanes` calls inside it may stay calls.)
    unsafe {
        let mut px = x;
        for v in px.iter_mut() {
            *v = L::xor(*v, k[0]);
        }
        L::rounds8(k, &mut px);
        let mut s = px;
        for (v, tw) in s.iter_mut().zip(t) {
            *v = L::xor(L::xor(*v, *tw), k[0]);
        }
        L::rounds8(k, &mut s);
        for (v, p) in s.iter_mut().zip(&px) {
            *v = L::xor(*v, *p);
        }
        s
    }
}

/// The fused garbling loop over whole steps of `2·L::B` gates; returns the gates done.
///
/// # Safety
/// `L`'s CPU features; `b`, `out` as long as `a`, `tables.len() == 32 · a.len()`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn garble_steps<L: Lanes>(
    aes: &Aes128,
    delta: Block,
    flips: [Block; 2],
    (a, b): (&[Block], &[Block]),
    gate: u64,
    domain: u64,
    out: &mut [Block],
    tables: &mut [u8],
) -> usize {
    let step = 2 * L::B;
    let whole = a.len() - a.len() % step;
    // SAFETY: (whole body) `L`'s features are the caller's contract; every load and store is
    // at a block index < `whole` of `a`, `b`, `out` or a byte offset < 32 · `whole` of
    // `tables`, in bounds by the contract; unaligned accesses are allowed.
    unsafe {
        let rk = x86_aesni::load_keys(aes.round_keys());
        let k: [L; 11] = core::array::from_fn(|i| L::splat(rk[i]));
        let bc = |x: Block| L::splat(_mm_loadu_si128(x.as_bytes().as_ptr().cast()));
        let (d, fa, fb) = (bc(delta), bc(flips[0]), bc(flips[1]));
        let (ap, bp, op) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
        let tp = tables.as_mut_ptr().cast::<Block>();
        for s in (0..whole).step_by(step) {
            let a0 = [
                L::xor(L::load(ap.add(s)), fa),
                L::xor(L::load(ap.add(s + L::B)), fa),
            ];
            let b0 = [
                L::xor(L::load(bp.add(s)), fb),
                L::xor(L::load(bp.add(s + L::B)), fb),
            ];
            let g = [
                gate.wrapping_add(s as u64),
                gate.wrapping_add((s + L::B) as u64),
            ];
            let (t0a, t0b) = (L::tweaks(g[0], 0, domain), L::tweaks(g[1], 0, domain));
            let (t1a, t1b) = (L::tweaks(g[0], 1, domain), L::tweaks(g[1], 1, domain));
            let x = [
                a0[0],
                L::xor(a0[0], d),
                a0[1],
                L::xor(a0[1], d),
                b0[0],
                L::xor(b0[0], d),
                b0[1],
                L::xor(b0[1], d),
            ];
            let h = tccr8(&k, x, &[t0a, t0a, t0b, t0b, t1a, t1a, t1b, t1b]);
            for j in 0..2 {
                let (h0, h1, h2, h3) = (h[2 * j], h[2 * j + 1], h[4 + 2 * j], h[5 + 2 * j]);
                let (mpa, mpb) = (L::lsb_mask(a0[j]), L::lsb_mask(b0[j]));
                let tg = L::xor(L::xor(h0, h1), L::and(d, mpb));
                let wg = L::xor(h0, L::and(tg, mpa));
                let h23 = L::xor(h2, h3);
                let te = L::xor(h23, a0[j]);
                let we = L::xor(h2, L::and(h23, mpb));
                let first = s + j * L::B;
                L::store(op.add(first), L::xor(wg, we));
                let (lo, hi) = L::interleave(tg, te);
                // Two blocks of table per gate.
                L::store(tp.add(2 * first), lo);
                L::store(tp.add(2 * first + L::B), hi);
            }
        }
        whole
    }
}

/// The fused evaluation loop over whole steps of `4·L::B` gates; returns the gates done.
///
/// # Safety
/// `L`'s CPU features; `b`, `out` as long as `a`, `tables.len() == 32 · a.len()`.
#[inline(always)]
unsafe fn evaluate_steps<L: Lanes>(
    aes: &Aes128,
    (a, b): (&[Block], &[Block]),
    tables: &[u8],
    gate: u64,
    domain: u64,
    out: &mut [Block],
) -> usize {
    let step = 4 * L::B;
    let whole = a.len() - a.len() % step;
    // SAFETY: (whole body) as in `garble_steps`.
    unsafe {
        let rk = x86_aesni::load_keys(aes.round_keys());
        let k: [L; 11] = core::array::from_fn(|i| L::splat(rk[i]));
        let (ap, bp, op) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
        let tp = tables.as_ptr().cast::<Block>();
        let tb = tables.as_ptr();
        for s in (0..whole).step_by(step) {
            // The tables stream from memory (a layer's are far larger than the caches):
            // fetch PREFETCH bytes ahead (a hint; past the end it is dropped, never faults).
            for line in (0..TABLE_BYTES * step).step_by(64) {
                _mm_prefetch::<_MM_HINT_T0>(
                    tb.wrapping_add(TABLE_BYTES * s + PREFETCH + line).cast(),
                );
            }
            let x: [L; 8] = core::array::from_fn(|i| {
                let p = if i < 4 { ap } else { bp };
                L::load(p.add(s + (i % 4) * L::B))
            });
            let t: [L; 8] = core::array::from_fn(|i| {
                let g = gate.wrapping_add((s + (i % 4) * L::B) as u64);
                L::tweaks(g, (i / 4) as u64, domain)
            });
            let h = tccr8(&k, x, &t);
            for j in 0..4 {
                let first = s + j * L::B;
                let lo = L::load(tp.add(2 * first));
                let hi = L::load(tp.add(2 * first + L::B));
                let (tg, te) = L::deinterleave(lo, hi);
                let (xa, xb) = (x[j], x[4 + j]);
                let wg = L::xor(h[j], L::and(tg, L::lsb_mask(xa)));
                let we = L::xor(h[4 + j], L::and(L::xor(te, xa), L::lsb_mask(xb)));
                L::store(op.add(first), L::xor(wg, we));
            }
        }
        whole
    }
}

macro_rules! entry_points {
    ($lanes:ty, $token:ty, $features:literal, $garble:ident, $evaluate:ident) => {
        /// [`super::Aes128::garble_ands`] with this width's fused kernel.
        ///
        /// # Safety
        /// The lengths of [`super::Aes128::garble_ands`] (checked by it); the features are the
        /// token's.
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn $garble(
            _: $token,
            aes: &Aes128,
            (delta, flips): (Block, [Block; 2]),
            (a, b): (&[Block], &[Block]),
            gate: u64,
            domain: u64,
            out: &mut [Block],
            tables: &mut [u8],
        ) {
            // SAFETY: the token proves the features; the lengths are the caller's contract.
            let done = unsafe {
                garble_steps::<$lanes>(aes, delta, flips, (a, b), gate, domain, out, tables)
            };
            halfgates::garble(
                aes,
                delta,
                flips,
                &a[done..],
                &b[done..],
                gate.wrapping_add(done as u64),
                domain,
                &mut out[done..],
                &mut tables[TABLE_BYTES * done..],
            );
        }

        /// [`super::Aes128::evaluate_ands`] with this width's fused kernel.
        ///
        /// # Safety
        /// The lengths of [`super::Aes128::evaluate_ands`] (checked by it); the features are
        /// the token's.
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
            // SAFETY: as above.
            let done = unsafe { evaluate_steps::<$lanes>(aes, (a, b), tables, gate, domain, out) };
            halfgates::evaluate(
                aes,
                &a[done..],
                &b[done..],
                &tables[TABLE_BYTES * done..],
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
