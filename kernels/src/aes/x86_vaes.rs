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
pub(crate) unsafe fn rounds256_8(k: &[__m256i; 11], s: &mut [__m256i; 8]) {
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
pub(crate) fn rounds512<const R: usize>(k: &[__m512i; 11], s: &mut [__m512i; R]) {
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
