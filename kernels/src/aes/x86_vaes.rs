//! AES-128 with VAES: `vaesenc` on 256-bit (two blocks) and 512-bit (four blocks) registers,
//! eight registers in flight, for plain encryption and the fused hashes of [`super::mode`].
//! Tails shorter than one register go through AES-NI.
//!
//! Reached only through [`super::Aes128`] after [`super::AesBackend::Vaes256`] /
//! [`super::AesBackend::Vaes512`] was checked available (that check includes AES-NI).
use super::mode::{ENCRYPT, TCCR, TMMO};
use super::x86_aesni::{self, tail};
use crate::block::Block;
use core::arch::asm;
use core::arch::x86_64::{
    __m256i, __m512i, _mm256_aesenc_epi128, _mm256_aesenclast_epi128, _mm256_broadcastsi128_si256,
    _mm256_loadu_si256, _mm256_setzero_si256, _mm256_shuffle_epi32, _mm256_storeu_si256,
    _mm256_unpackhi_epi64, _mm256_xor_si256, _mm512_aesenc_epi128, _mm512_aesenclast_epi128,
    _mm512_broadcast_i32x4, _mm512_loadu_si512, _mm512_setzero_si512, _mm512_shuffle_epi32,
    _mm512_storeu_si512, _mm512_unpackhi_epi64, _mm512_xor_si512, _MM_PERM_BADC,
};
use core::arch::x86_64::{
    _mm512_add_epi64, _mm512_and_si512, _mm512_permutex2var_epi64, _mm512_setr_epi64,
    _mm512_slli_epi64, _mm512_srai_epi64, _mm_loadu_si128, _MM_PERM_BABA,
};

/// σ on each 128-bit lane of a ymm register (see [`x86_aesni::sigma128`]).
#[inline]
#[target_feature(enable = "aes,vaes,avx2")]
fn sigma256(x: __m256i) -> __m256i {
    let swapped = _mm256_shuffle_epi32::<0b01_00_11_10>(x);
    _mm256_xor_si256(swapped, _mm256_unpackhi_epi64(_mm256_setzero_si256(), x))
}

/// Processes `2·R` consecutive blocks (R ymm registers) in place in `MODE` (see
/// [`x86_aesni::process_n`]).
///
/// # Safety
/// The CPU must support VAES and AVX2; `blocks.len() == 2 * R`, and the same for `tweaks`
/// unless `ENCRYPT`.
#[inline]
#[target_feature(enable = "aes,vaes,avx2")]
unsafe fn process256_n<const R: usize, const MODE: u8>(
    k: &[__m256i; 11],
    blocks: &mut [Block],
    tweaks: &[Block],
) {
    debug_assert_eq!(blocks.len(), 2 * R);
    debug_assert!(MODE == ENCRYPT || tweaks.len() == 2 * R);
    let p = blocks.as_mut_ptr();
    let t = tweaks.as_ptr();
    // SAFETY: `blocks` (and unless ENCRYPT `tweaks`) hold 2R blocks, R · 32 bytes; unaligned
    // accesses are allowed.
    let tweak = |i: usize| unsafe { _mm256_loadu_si256(t.add(2 * i).cast::<__m256i>()) };
    // SAFETY: as above.
    let y: [__m256i; R] = core::array::from_fn(|i| unsafe {
        let x = _mm256_loadu_si256(p.add(2 * i).cast::<__m256i>());
        if MODE == TMMO {
            _mm256_xor_si256(sigma256(x), tweak(i))
        } else {
            x
        }
    });
    let mut s: [__m256i; R] = core::array::from_fn(|i| _mm256_xor_si256(y[i], k[0]));
    // SAFETY: VAES and AVX2 are the caller's contract.
    unsafe { rounds256(k, &mut s) };
    if MODE == TCCR {
        let px = s;
        let mut s2: [__m256i; R] =
            core::array::from_fn(|i| _mm256_xor_si256(_mm256_xor_si256(px[i], tweak(i)), k[0]));
        // SAFETY: as above.
        unsafe { rounds256(k, &mut s2) };
        s = core::array::from_fn(|i| _mm256_xor_si256(s2[i], px[i]));
    } else if MODE == TMMO {
        s = core::array::from_fn(|i| _mm256_xor_si256(s[i], y[i]));
    }
    for (i, x) in s.iter().enumerate() {
        // SAFETY: as for the loads above.
        unsafe { _mm256_storeu_si256(p.add(2 * i).cast::<__m256i>(), *x) };
    }
}

/// Rounds 1–10 on `R` ymm states; eight through [`rounds256_8`].
///
/// # Safety
/// The CPU must support VAES and AVX2.
#[inline]
#[target_feature(enable = "aes,vaes,avx2")]
unsafe fn rounds256<const R: usize>(k: &[__m256i; 11], s: &mut [__m256i; R]) {
    if let Ok(s8) = <&mut [__m256i; 8]>::try_from(&mut s[..]) {
        // SAFETY: the caller's contract.
        unsafe { rounds256_8(k, s8) };
    } else {
        for key in &k[1..10] {
            for x in s.iter_mut() {
                *x = _mm256_aesenc_epi128(*x, *key);
            }
        }
        for x in s.iter_mut() {
            *x = _mm256_aesenclast_epi128(*x, k[10]);
        }
    }
}

/// Rounds 1–10 on eight ymm states, one `asm!` block per round: with intrinsics LLVM splits
/// the eight chains into sequential pairs to fit 16 ymm registers (as for AES-NI, see
/// [`x86_aesni`]'s `rounds_8`).
///
/// # Safety
/// The CPU must support VAES and AVX2.
#[inline]
#[target_feature(enable = "aes,vaes,avx2")]
unsafe fn rounds256_8(k: &[__m256i; 11], s: &mut [__m256i; 8]) {
    let [mut s0, mut s1, mut s2, mut s3, mut s4, mut s5, mut s6, mut s7] = *s;
    for key in &k[1..10] {
        // SAFETY: register-only AES rounds (no memory, stack or flags touched); VAES is the
        // caller's contract.
        unsafe {
            asm!(
                "vaesenc {s0}, {s0}, {k}",
                "vaesenc {s1}, {s1}, {k}",
                "vaesenc {s2}, {s2}, {k}",
                "vaesenc {s3}, {s3}, {k}",
                "vaesenc {s4}, {s4}, {k}",
                "vaesenc {s5}, {s5}, {k}",
                "vaesenc {s6}, {s6}, {k}",
                "vaesenc {s7}, {s7}, {k}",
                s0 = inout(ymm_reg) s0, s1 = inout(ymm_reg) s1,
                s2 = inout(ymm_reg) s2, s3 = inout(ymm_reg) s3,
                s4 = inout(ymm_reg) s4, s5 = inout(ymm_reg) s5,
                s6 = inout(ymm_reg) s6, s7 = inout(ymm_reg) s7,
                k = in(ymm_reg) *key,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
    }
    // SAFETY: as above, the last round.
    unsafe {
        asm!(
            "vaesenclast {s0}, {s0}, {k}",
            "vaesenclast {s1}, {s1}, {k}",
            "vaesenclast {s2}, {s2}, {k}",
            "vaesenclast {s3}, {s3}, {k}",
            "vaesenclast {s4}, {s4}, {k}",
            "vaesenclast {s5}, {s5}, {k}",
            "vaesenclast {s6}, {s6}, {k}",
            "vaesenclast {s7}, {s7}, {k}",
            s0 = inout(ymm_reg) s0, s1 = inout(ymm_reg) s1,
            s2 = inout(ymm_reg) s2, s3 = inout(ymm_reg) s3,
            s4 = inout(ymm_reg) s4, s5 = inout(ymm_reg) s5,
            s6 = inout(ymm_reg) s6, s7 = inout(ymm_reg) s7,
            k = in(ymm_reg) k[10],
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    *s = [s0, s1, s2, s3, s4, s5, s6, s7];
}

/// Processes every block with 256-bit VAES: 16 blocks per step, then 8, 4, 2, and a final
/// single block with AES-NI.
///
/// # Safety
/// Unless `ENCRYPT`, `tweaks.len() == blocks.len()`. (The token proves AES-NI, VAES and AVX2.)
#[target_feature(enable = "aes,vaes,avx2")]
pub(crate) unsafe fn process_blocks_256<const MODE: u8>(
    _: crate::isa::Vaes256,
    rk: &[Block; 11],
    blocks: &mut [Block],
    tweaks: &[Block],
) {
    // SAFETY: (whole body) the features are guaranteed by the token; each
    // `process256_n::<R>` call is given exactly 2R blocks (and tweaks), the AES-NI call one.
    unsafe {
        let k128 = x86_aesni::load_keys(rk);
        let k: [__m256i; 11] = core::array::from_fn(|i| _mm256_broadcastsi128_si256(k128[i]));
        let mut done = 0;
        let mut chunks = blocks.chunks_exact_mut(16);
        for c in &mut chunks {
            process256_n::<8, MODE>(&k, c, tail(tweaks, done, 16, MODE));
            done += 16;
        }
        let mut rest = chunks.into_remainder();
        for n in [8usize, 4, 2] {
            if rest.len() >= n {
                let (a, b) = rest.split_at_mut(n);
                let ta = tail(tweaks, done, n, MODE);
                match n {
                    8 => process256_n::<4, MODE>(&k, a, ta),
                    4 => process256_n::<2, MODE>(&k, a, ta),
                    _ => process256_n::<1, MODE>(&k, a, ta),
                }
                rest = b;
                done += n;
            }
        }
        if !rest.is_empty() {
            x86_aesni::process_n::<1, MODE>(&k128, rest, tail(tweaks, done, 1, MODE));
        }
    }
}

/// σ on each 128-bit lane of a zmm register.
#[inline]
#[target_feature(enable = "aes,vaes,avx512f")]
fn sigma512(x: __m512i) -> __m512i {
    let swapped = _mm512_shuffle_epi32::<_MM_PERM_BADC>(x);
    _mm512_xor_si512(swapped, _mm512_unpackhi_epi64(_mm512_setzero_si512(), x))
}

/// Processes `4·R` consecutive blocks (R zmm registers) in place in `MODE` (see
/// [`x86_aesni::process_n`]).
///
/// # Safety
/// The CPU must support VAES and AVX-512F; `blocks.len() == 4 * R`, and the same for `tweaks`
/// unless `ENCRYPT`.
#[inline]
#[target_feature(enable = "aes,vaes,avx512f")]
unsafe fn process512_n<const R: usize, const MODE: u8>(
    k: &[__m512i; 11],
    blocks: &mut [Block],
    tweaks: &[Block],
) {
    debug_assert_eq!(blocks.len(), 4 * R);
    debug_assert!(MODE == ENCRYPT || tweaks.len() == 4 * R);
    let p = blocks.as_mut_ptr();
    let t = tweaks.as_ptr();
    // SAFETY: `blocks` (and unless ENCRYPT `tweaks`) hold 4R blocks, R · 64 bytes; unaligned
    // accesses are allowed.
    let tweak = |i: usize| unsafe { _mm512_loadu_si512(t.add(4 * i).cast::<__m512i>()) };
    // SAFETY: as above.
    let y: [__m512i; R] = core::array::from_fn(|i| unsafe {
        let x = _mm512_loadu_si512(p.add(4 * i).cast::<__m512i>());
        if MODE == TMMO {
            _mm512_xor_si512(sigma512(x), tweak(i))
        } else {
            x
        }
    });
    let mut s: [__m512i; R] = core::array::from_fn(|i| _mm512_xor_si512(y[i], k[0]));
    rounds512(k, &mut s);
    if MODE == TCCR {
        let px = s;
        let mut s2: [__m512i; R] =
            core::array::from_fn(|i| _mm512_xor_si512(_mm512_xor_si512(px[i], tweak(i)), k[0]));
        rounds512(k, &mut s2);
        s = core::array::from_fn(|i| _mm512_xor_si512(s2[i], px[i]));
    } else if MODE == TMMO {
        s = core::array::from_fn(|i| _mm512_xor_si512(s[i], y[i]));
    }
    for (i, x) in s.iter().enumerate() {
        // SAFETY: as for the loads above.
        unsafe { _mm512_storeu_si512(p.add(4 * i).cast::<__m512i>(), *x) };
    }
}

/// Rounds 1–10 on `R` zmm states (32 zmm registers hold eight states and the 11 keys, so the
/// intrinsics stay interleaved).
#[inline]
#[target_feature(enable = "aes,vaes,avx512f")]
fn rounds512<const R: usize>(k: &[__m512i; 11], s: &mut [__m512i; R]) {
    for key in &k[1..10] {
        for x in s.iter_mut() {
            *x = _mm512_aesenc_epi128(*x, *key);
        }
    }
    for x in s.iter_mut() {
        *x = _mm512_aesenclast_epi128(*x, k[10]);
    }
}

/// Processes every block with 512-bit VAES: 32 blocks per step, then 16, 8, 4, and the last
/// fewer-than-four blocks with AES-NI.
///
/// # Safety
/// Unless `ENCRYPT`, `tweaks.len() == blocks.len()`. (The token proves AES-NI, VAES and
/// AVX-512F.)
#[target_feature(enable = "aes,vaes,avx512f")]
pub(crate) unsafe fn process_blocks_512<const MODE: u8>(
    _: crate::isa::Vaes512,
    rk: &[Block; 11],
    blocks: &mut [Block],
    tweaks: &[Block],
) {
    // SAFETY: (whole body) the features are guaranteed by the token; each
    // `process512_n::<R>` call is given exactly 4R blocks (and tweaks), the AES-NI tail the rest.
    unsafe {
        let k128 = x86_aesni::load_keys(rk);
        let k: [__m512i; 11] = core::array::from_fn(|i| _mm512_broadcast_i32x4(k128[i]));
        let mut done = 0;
        let mut chunks = blocks.chunks_exact_mut(32);
        for c in &mut chunks {
            process512_n::<8, MODE>(&k, c, tail(tweaks, done, 32, MODE));
            done += 32;
        }
        let mut rest = chunks.into_remainder();
        for n in [16usize, 8, 4] {
            if rest.len() >= n {
                let (a, b) = rest.split_at_mut(n);
                let ta = tail(tweaks, done, n, MODE);
                match n {
                    16 => process512_n::<4, MODE>(&k, a, ta),
                    8 => process512_n::<2, MODE>(&k, a, ta),
                    _ => process512_n::<1, MODE>(&k, a, ta),
                }
                rest = b;
                done += n;
            }
        }
        x86_aesni::process_tail::<MODE>(&k128, rest, tail(tweaks, done, 3, MODE));
    }
}

/// Bit 0 of each 128-bit lane (the point-and-permute bit), spread over the whole lane.
#[inline]
#[target_feature(enable = "avx512f")]
fn lsb_mask512(x: __m512i) -> __m512i {
    let low = _mm512_srai_epi64::<63>(_mm512_slli_epi64::<63>(x));
    _mm512_shuffle_epi32::<_MM_PERM_BABA>(low)
}

/// The tweaks `(2·(g + j) + half, domain)` of four consecutive gates `g..g + 4`, one per lane,
/// with `g` = `gate`.
#[inline]
#[target_feature(enable = "avx512f")]
fn tweaks512(gate: u64, half: u64, domain: u64) -> __m512i {
    let t = gate.wrapping_mul(2) | half;
    let d = domain as i64;
    _mm512_add_epi64(
        _mm512_setr_epi64(t as i64, d, t as i64, d, t as i64, d, t as i64, d),
        _mm512_setr_epi64(0, 0, 2, 0, 4, 0, 6, 0),
    )
}

/// One TCCR pass over eight zmm registers: `x ← π(π(x) ⊕ t) ⊕ π(x)`.
#[inline]
#[target_feature(enable = "aes,vaes,avx512f")]
fn tccr512_8(k: &[__m512i; 11], x: [__m512i; 8], t: &[__m512i; 8]) -> [__m512i; 8] {
    let mut px: [__m512i; 8] = core::array::from_fn(|i| _mm512_xor_si512(x[i], k[0]));
    rounds512(k, &mut px);
    let mut s: [__m512i; 8] =
        core::array::from_fn(|i| _mm512_xor_si512(_mm512_xor_si512(px[i], t[i]), k[0]));
    rounds512(k, &mut s);
    core::array::from_fn(|i| _mm512_xor_si512(s[i], px[i]))
}

/// Half-gates garbling with labels, tweaks and hashes in zmm registers, eight gates (32
/// hashed blocks) per step; the last `n mod 8` gates through [`super::halfgates::garble`].
///
/// # Safety
/// The CPU must support VAES and AVX-512F (the token); `b`, `out` as long as `a`,
/// `tables.len() == 32 · a.len()`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "aes,vaes,avx512f")]
pub(crate) unsafe fn garble_ands_512(
    _: crate::isa::Vaes512,
    aes: &super::Aes128,
    (delta, flips): (Block, [Block; 2]),
    (a, b): (&[Block], &[Block]),
    gate: u64,
    domain: u64,
    out: &mut [Block],
    tables: &mut [u8],
) {
    let n = a.len();
    let whole = n - n % 8;
    // SAFETY: (whole body) the features are the token's; every load and store below is at a
    // block index < `whole` of `a`, `b`, `out` (8 per step) or a byte offset < 32 · `whole` of
    // `tables` (256 per step), all in bounds by the contract; unaligned accesses are allowed.
    unsafe {
        let k128 = x86_aesni::load_keys(aes.round_keys());
        let k: [__m512i; 11] = core::array::from_fn(|i| _mm512_broadcast_i32x4(k128[i]));
        let bc = |x: Block| _mm512_broadcast_i32x4(_mm_loadu_si128(x.as_bytes().as_ptr().cast()));
        let (d, fa, fb) = (bc(delta), bc(flips[0]), bc(flips[1]));
        let lo_idx = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
        let hi_idx = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
        let (ap, bp, op) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
        let tp = tables.as_mut_ptr();
        for s in (0..whole).step_by(8) {
            let ld = |p: *const Block, i: usize| _mm512_loadu_si512(p.add(s + i).cast());
            let a0 = [
                _mm512_xor_si512(ld(ap, 0), fa),
                _mm512_xor_si512(ld(ap, 4), fa),
            ];
            let b0 = [
                _mm512_xor_si512(ld(bp, 0), fb),
                _mm512_xor_si512(ld(bp, 4), fb),
            ];
            let g = gate.wrapping_add(s as u64);
            let (t0a, t0b) = (
                tweaks512(g, 0, domain),
                tweaks512(g.wrapping_add(4), 0, domain),
            );
            let (t1a, t1b) = (
                tweaks512(g, 1, domain),
                tweaks512(g.wrapping_add(4), 1, domain),
            );
            let x = [
                a0[0],
                _mm512_xor_si512(a0[0], d),
                a0[1],
                _mm512_xor_si512(a0[1], d),
                b0[0],
                _mm512_xor_si512(b0[0], d),
                b0[1],
                _mm512_xor_si512(b0[1], d),
            ];
            let h = tccr512_8(&k, x, &[t0a, t0a, t0b, t0b, t1a, t1a, t1b, t1b]);
            for j in 0..2 {
                let (h0, h1, h2, h3) = (h[2 * j], h[2 * j + 1], h[4 + 2 * j], h[5 + 2 * j]);
                let (mpa, mpb) = (lsb_mask512(a0[j]), lsb_mask512(b0[j]));
                let tg = _mm512_xor_si512(_mm512_xor_si512(h0, h1), _mm512_and_si512(d, mpb));
                let wg = _mm512_xor_si512(h0, _mm512_and_si512(tg, mpa));
                let h23 = _mm512_xor_si512(h2, h3);
                let te = _mm512_xor_si512(h23, a0[j]);
                let we = _mm512_xor_si512(h2, _mm512_and_si512(h23, mpb));
                _mm512_storeu_si512(op.add(s + 4 * j).cast(), _mm512_xor_si512(wg, we));
                let t = tp.add(32 * (s + 4 * j));
                _mm512_storeu_si512(t.cast(), _mm512_permutex2var_epi64(tg, lo_idx, te));
                _mm512_storeu_si512(t.add(64).cast(), _mm512_permutex2var_epi64(tg, hi_idx, te));
            }
        }
    }
    super::halfgates::garble(
        aes,
        delta,
        flips,
        &a[whole..],
        &b[whole..],
        gate.wrapping_add(whole as u64),
        domain,
        &mut out[whole..],
        &mut tables[32 * whole..],
    );
}

/// Half-gates evaluation with labels, tweaks and hashes in zmm registers, sixteen gates (32
/// hashed blocks) per step; the last `n mod 16` gates through [`super::halfgates::evaluate`].
///
/// # Safety
/// The CPU must support VAES and AVX-512F (the token); `b`, `out` as long as `a`,
/// `tables.len() == 32 · a.len()`.
#[target_feature(enable = "aes,vaes,avx512f")]
pub(crate) unsafe fn evaluate_ands_512(
    _: crate::isa::Vaes512,
    aes: &super::Aes128,
    (a, b): (&[Block], &[Block]),
    tables: &[u8],
    gate: u64,
    domain: u64,
    out: &mut [Block],
) {
    let n = a.len();
    let whole = n - n % 16;
    // SAFETY: (whole body) the features are the token's; every load and store below is at a
    // block index < `whole` of `a`, `b`, `out` (16 per step) or a byte offset < 32 · `whole` of
    // `tables` (512 per step), all in bounds by the contract; unaligned accesses are allowed.
    unsafe {
        let k128 = x86_aesni::load_keys(aes.round_keys());
        let k: [__m512i; 11] = core::array::from_fn(|i| _mm512_broadcast_i32x4(k128[i]));
        let even = _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13);
        let odd = _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15);
        let (ap, bp, op) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
        let tp = tables.as_ptr();
        for s in (0..whole).step_by(16) {
            let x: [__m512i; 8] = core::array::from_fn(|i| {
                let p = if i < 4 {
                    ap.add(s + 4 * i)
                } else {
                    bp.add(s + 4 * (i - 4))
                };
                _mm512_loadu_si512(p.cast())
            });
            let g = gate.wrapping_add(s as u64);
            let t: [__m512i; 8] = core::array::from_fn(|i| {
                tweaks512(g.wrapping_add(4 * (i % 4) as u64), (i / 4) as u64, domain)
            });
            let h = tccr512_8(&k, x, &t);
            for j in 0..4 {
                let p = tp.add(32 * (s + 4 * j));
                let (lo, hi) = (
                    _mm512_loadu_si512(p.cast()),
                    _mm512_loadu_si512(p.add(64).cast()),
                );
                let tg = _mm512_permutex2var_epi64(lo, even, hi);
                let te = _mm512_permutex2var_epi64(lo, odd, hi);
                let (xa, xb) = (x[j], x[4 + j]);
                let wg = _mm512_xor_si512(h[j], _mm512_and_si512(tg, lsb_mask512(xa)));
                let we = _mm512_xor_si512(
                    h[4 + j],
                    _mm512_and_si512(_mm512_xor_si512(te, xa), lsb_mask512(xb)),
                );
                _mm512_storeu_si512(op.add(s + 4 * j).cast(), _mm512_xor_si512(wg, we));
            }
        }
    }
    super::halfgates::evaluate(
        aes,
        &a[whole..],
        &b[whole..],
        &tables[32 * whole..],
        gate.wrapping_add(whole as u64),
        domain,
        &mut out[whole..],
    );
}
