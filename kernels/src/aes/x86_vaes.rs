//! AES-128 with VAES: `vaesenc` on 256-bit (two blocks) and 512-bit (four blocks) registers,
//! eight registers in flight, for plain encryption and the fused tweaked-MMO hash
//! `π(σ(x) ⊕ i) ⊕ σ(x) ⊕ i`. Tails shorter than one register go through AES-NI.
//!
//! Reached only through [`super::Aes128`] after [`super::AesBackend::Vaes256`] /
//! [`super::AesBackend::Vaes512`] was checked available (that check includes AES-NI).
use super::x86_aesni::{self, tail};
use crate::block::Block;
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

/// Processes `2·R` consecutive blocks (R ymm registers) in place; see
/// [`x86_aesni::process_n`] for `TMMO`.
///
/// # Safety
/// The CPU must support VAES and AVX2; `blocks.len() == 2 * R`, and the same for `tweaks`
/// with `TMMO`.
#[inline]
#[target_feature(enable = "aes,vaes,avx2")]
unsafe fn process256_n<const R: usize, const TMMO: bool>(
    k: &[__m256i; 11],
    blocks: &mut [Block],
    tweaks: &[Block],
) {
    debug_assert_eq!(blocks.len(), 2 * R);
    debug_assert!(!TMMO || tweaks.len() == 2 * R);
    let p = blocks.as_mut_ptr();
    let t = tweaks.as_ptr();
    // SAFETY: `blocks` (and with TMMO `tweaks`) hold 2R blocks, R · 32 bytes; unaligned
    // accesses are allowed.
    let y: [__m256i; R] = core::array::from_fn(|i| unsafe {
        let x = _mm256_loadu_si256(p.add(2 * i).cast::<__m256i>());
        if TMMO {
            _mm256_xor_si256(
                sigma256(x),
                _mm256_loadu_si256(t.add(2 * i).cast::<__m256i>()),
            )
        } else {
            x
        }
    });
    let mut s: [__m256i; R] = core::array::from_fn(|i| _mm256_xor_si256(y[i], k[0]));
    for key in &k[1..10] {
        for x in s.iter_mut() {
            *x = _mm256_aesenc_epi128(*x, *key);
        }
    }
    for (i, x) in s.iter().enumerate() {
        let mut out = _mm256_aesenclast_epi128(*x, k[10]);
        if TMMO {
            out = _mm256_xor_si256(out, y[i]);
        }
        // SAFETY: as for the loads above.
        unsafe { _mm256_storeu_si256(p.add(2 * i).cast::<__m256i>(), out) };
    }
}

/// Processes every block with 256-bit VAES: 16 blocks per step, then 8, 4, 2, and a final
/// single block with AES-NI.
///
/// # Safety
/// With `TMMO`, `tweaks.len() == blocks.len()`. (The token proves AES-NI, VAES and AVX2.)
#[target_feature(enable = "aes,vaes,avx2")]
pub(crate) unsafe fn process_blocks_256<const TMMO: bool>(
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
            process256_n::<8, TMMO>(&k, c, tail(tweaks, done, 16, TMMO));
            done += 16;
        }
        let mut rest = chunks.into_remainder();
        for n in [8usize, 4, 2] {
            if rest.len() >= n {
                let (a, b) = rest.split_at_mut(n);
                let ta = tail(tweaks, done, n, TMMO);
                match n {
                    8 => process256_n::<4, TMMO>(&k, a, ta),
                    4 => process256_n::<2, TMMO>(&k, a, ta),
                    _ => process256_n::<1, TMMO>(&k, a, ta),
                }
                rest = b;
                done += n;
            }
        }
        if !rest.is_empty() {
            x86_aesni::process_n::<1, TMMO>(&k128, rest, tail(tweaks, done, 1, TMMO));
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

/// Processes `4·R` consecutive blocks (R zmm registers) in place.
///
/// # Safety
/// The CPU must support VAES and AVX-512F; `blocks.len() == 4 * R`, and the same for
/// `tweaks` with `TMMO`.
#[inline]
#[target_feature(enable = "aes,vaes,avx512f")]
unsafe fn process512_n<const R: usize, const TMMO: bool>(
    k: &[__m512i; 11],
    blocks: &mut [Block],
    tweaks: &[Block],
) {
    debug_assert_eq!(blocks.len(), 4 * R);
    debug_assert!(!TMMO || tweaks.len() == 4 * R);
    let p = blocks.as_mut_ptr();
    let t = tweaks.as_ptr();
    // SAFETY: `blocks` (and with TMMO `tweaks`) hold 4R blocks, R · 64 bytes; unaligned
    // accesses are allowed.
    let y: [__m512i; R] = core::array::from_fn(|i| unsafe {
        let x = _mm512_loadu_si512(p.add(4 * i).cast::<__m512i>());
        if TMMO {
            _mm512_xor_si512(
                sigma512(x),
                _mm512_loadu_si512(t.add(4 * i).cast::<__m512i>()),
            )
        } else {
            x
        }
    });
    let mut s: [__m512i; R] = core::array::from_fn(|i| _mm512_xor_si512(y[i], k[0]));
    for key in &k[1..10] {
        for x in s.iter_mut() {
            *x = _mm512_aesenc_epi128(*x, *key);
        }
    }
    for (i, x) in s.iter().enumerate() {
        let mut out = _mm512_aesenclast_epi128(*x, k[10]);
        if TMMO {
            out = _mm512_xor_si512(out, y[i]);
        }
        // SAFETY: as for the loads above.
        unsafe { _mm512_storeu_si512(p.add(4 * i).cast::<__m512i>(), out) };
    }
}

/// Processes every block with 512-bit VAES: 32 blocks per step, then 16, 8, 4, and the last
/// fewer-than-four blocks with AES-NI.
///
/// # Safety
/// With `TMMO`, `tweaks.len() == blocks.len()`. (The token proves AES-NI, VAES and AVX-512F.)
#[target_feature(enable = "aes,vaes,avx512f")]
pub(crate) unsafe fn process_blocks_512<const TMMO: bool>(
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
            process512_n::<8, TMMO>(&k, c, tail(tweaks, done, 32, TMMO));
            done += 32;
        }
        let mut rest = chunks.into_remainder();
        for n in [16usize, 8, 4] {
            if rest.len() >= n {
                let (a, b) = rest.split_at_mut(n);
                let ta = tail(tweaks, done, n, TMMO);
                match n {
                    16 => process512_n::<4, TMMO>(&k, a, ta),
                    8 => process512_n::<2, TMMO>(&k, a, ta),
                    _ => process512_n::<1, TMMO>(&k, a, ta),
                }
                rest = b;
                done += n;
            }
        }
        x86_aesni::process_tail::<TMMO>(&k128, rest, tail(tweaks, done, 3, TMMO));
    }
}
