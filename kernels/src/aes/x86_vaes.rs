//! AES-128 encryption with VAES: `vaesenc` on 256-bit (two blocks) and 512-bit (four blocks)
//! registers, eight registers in flight. Tails shorter than one batch go through AES-NI.
//!
//! Reached only through [`super::Aes128`] after [`super::AesBackend::Vaes256`] /
//! [`super::AesBackend::Vaes512`] was checked available (that check includes AES-NI).
use super::x86_aesni;
use crate::block::Block;
use core::arch::x86_64::{
    __m256i, __m512i, _mm256_aesenc_epi128, _mm256_aesenclast_epi128, _mm256_broadcastsi128_si256,
    _mm256_loadu_si256, _mm256_storeu_si256, _mm256_xor_si256, _mm512_aesenc_epi128,
    _mm512_aesenclast_epi128, _mm512_broadcast_i32x4, _mm512_loadu_si512, _mm512_storeu_si512,
    _mm512_xor_si512,
};

/// Encrypts `2·R` consecutive blocks (R ymm registers) in place.
///
/// # Safety
/// The CPU must support VAES and AVX2; `blocks.len() == 2 * R`.
#[inline]
#[target_feature(enable = "aes,vaes,avx2")]
unsafe fn encrypt256_n<const R: usize>(k: &[__m256i; 11], blocks: &mut [Block]) {
    debug_assert_eq!(blocks.len(), 2 * R);
    let p = blocks.as_mut_ptr();
    // SAFETY: `blocks` holds 2R blocks, i.e. R · 32 bytes; unaligned accesses are allowed.
    let mut s: [__m256i; R] =
        core::array::from_fn(|i| unsafe { _mm256_loadu_si256(p.add(2 * i).cast::<__m256i>()) });
    for x in s.iter_mut() {
        *x = _mm256_xor_si256(*x, k[0]);
    }
    for key in &k[1..10] {
        for x in s.iter_mut() {
            *x = _mm256_aesenc_epi128(*x, *key);
        }
    }
    for (i, x) in s.iter().enumerate() {
        let y = _mm256_aesenclast_epi128(*x, k[10]);
        // SAFETY: as for the loads above.
        unsafe { _mm256_storeu_si256(p.add(2 * i).cast::<__m256i>(), y) };
    }
}

/// Encrypts every block in place with 256-bit VAES: 16 blocks per step, then 8, 4, 2, and a
/// final single block with AES-NI.
///
/// # Safety
/// The CPU must support AES-NI, VAES and AVX2.
#[target_feature(enable = "aes,vaes,avx2")]
pub(crate) unsafe fn encrypt_blocks_256(rk: &[Block; 11], blocks: &mut [Block]) {
    // SAFETY (whole body): the features are guaranteed by this function's contract; each
    // `encrypt256_n::<R>` call is given exactly 2R blocks, `encrypt_n::<1>` exactly one.
    unsafe {
        let k128 = x86_aesni::load_keys(rk);
        let k: [__m256i; 11] = core::array::from_fn(|i| _mm256_broadcastsi128_si256(k128[i]));
        let mut chunks = blocks.chunks_exact_mut(16);
        for c in &mut chunks {
            encrypt256_n::<8>(&k, c);
        }
        let mut rest = chunks.into_remainder();
        for (n, r) in [(8, 4), (4, 2), (2, 1)] {
            if rest.len() >= n {
                let (a, b) = rest.split_at_mut(n);
                match r {
                    4 => encrypt256_n::<4>(&k, a),
                    2 => encrypt256_n::<2>(&k, a),
                    _ => encrypt256_n::<1>(&k, a),
                }
                rest = b;
            }
        }
        if !rest.is_empty() {
            x86_aesni::encrypt_n::<1>(&k128, rest);
        }
    }
}

/// Encrypts `4·R` consecutive blocks (R zmm registers) in place.
///
/// # Safety
/// The CPU must support VAES and AVX-512F; `blocks.len() == 4 * R`.
#[inline]
#[target_feature(enable = "aes,vaes,avx512f")]
unsafe fn encrypt512_n<const R: usize>(k: &[__m512i; 11], blocks: &mut [Block]) {
    debug_assert_eq!(blocks.len(), 4 * R);
    let p = blocks.as_mut_ptr();
    // SAFETY: `blocks` holds 4R blocks, i.e. R · 64 bytes; unaligned accesses are allowed.
    let mut s: [__m512i; R] =
        core::array::from_fn(|i| unsafe { _mm512_loadu_si512(p.add(4 * i).cast::<__m512i>()) });
    for x in s.iter_mut() {
        *x = _mm512_xor_si512(*x, k[0]);
    }
    for key in &k[1..10] {
        for x in s.iter_mut() {
            *x = _mm512_aesenc_epi128(*x, *key);
        }
    }
    for (i, x) in s.iter().enumerate() {
        let y = _mm512_aesenclast_epi128(*x, k[10]);
        // SAFETY: as for the loads above.
        unsafe { _mm512_storeu_si512(p.add(4 * i).cast::<__m512i>(), y) };
    }
}

/// Encrypts every block in place with 512-bit VAES: 32 blocks per step, then 16, 8, 4, and the
/// last fewer-than-four blocks with AES-NI.
///
/// # Safety
/// The CPU must support AES-NI, VAES and AVX-512F.
#[target_feature(enable = "aes,vaes,avx512f")]
pub(crate) unsafe fn encrypt_blocks_512(rk: &[Block; 11], blocks: &mut [Block]) {
    // SAFETY (whole body): the features are guaranteed by this function's contract; each
    // `encrypt512_n::<R>` call is given exactly 4R blocks, the AES-NI tail fewer than four.
    unsafe {
        let k128 = x86_aesni::load_keys(rk);
        let k: [__m512i; 11] = core::array::from_fn(|i| _mm512_broadcast_i32x4(k128[i]));
        let mut chunks = blocks.chunks_exact_mut(32);
        for c in &mut chunks {
            encrypt512_n::<8>(&k, c);
        }
        let mut rest = chunks.into_remainder();
        for (n, r) in [(16, 4), (8, 2), (4, 1)] {
            if rest.len() >= n {
                let (a, b) = rest.split_at_mut(n);
                match r {
                    4 => encrypt512_n::<4>(&k, a),
                    2 => encrypt512_n::<2>(&k, a),
                    _ => encrypt512_n::<1>(&k, a),
                }
                rest = b;
            }
        }
        x86_aesni::encrypt_tail(&k128, rest);
    }
}
