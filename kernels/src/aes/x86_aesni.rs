//! AES-128 encryption with AES-NI (128-bit `aesenc`), eight blocks in flight to fill the
//! pipeline (`aesenc` has a latency of ~4 cycles and a throughput of 1–2 per cycle).
//!
//! Reached only through [`super::Aes128`] after [`super::AesBackend::AesNi`] (or a VAES
//! backend, which uses these for short tails) was checked available.
use crate::block::Block;
use core::arch::x86_64::{
    __m128i, _mm_aesenc_si128, _mm_aesenclast_si128, _mm_loadu_si128, _mm_storeu_si128,
    _mm_xor_si128,
};

/// Loads the 11 round keys.
///
/// # Safety
/// The CPU must support AES-NI (SSE2 is part of x86-64).
#[inline]
#[target_feature(enable = "aes")]
pub(crate) unsafe fn load_keys(rk: &[Block; 11]) -> [__m128i; 11] {
    // SAFETY: each `Block` is 16 readable bytes; `loadu` has no alignment requirement.
    core::array::from_fn(|i| unsafe { _mm_loadu_si128(rk[i].as_bytes().as_ptr().cast()) })
}

/// Encrypts `N` consecutive blocks in place, interleaving the `N` independent rounds.
///
/// # Safety
/// The CPU must support AES-NI; `blocks.len() == N`.
#[inline]
#[target_feature(enable = "aes")]
pub(crate) unsafe fn encrypt_n<const N: usize>(k: &[__m128i; 11], blocks: &mut [Block]) {
    debug_assert_eq!(blocks.len(), N);
    let p = blocks.as_mut_ptr();
    // SAFETY: `blocks` holds N blocks of 16 bytes each (checked by the caller, asserted in debug
    // builds); unaligned loads and stores are allowed.
    let mut s: [__m128i; N] =
        core::array::from_fn(|i| unsafe { _mm_loadu_si128(p.add(i).cast::<__m128i>()) });
    for x in s.iter_mut() {
        *x = _mm_xor_si128(*x, k[0]);
    }
    for key in &k[1..10] {
        for x in s.iter_mut() {
            *x = _mm_aesenc_si128(*x, *key);
        }
    }
    for (i, x) in s.iter().enumerate() {
        // SAFETY: as for the loads above.
        unsafe { _mm_storeu_si128(p.add(i).cast::<__m128i>(), _mm_aesenclast_si128(*x, k[10])) };
    }
}

/// Encrypts every block of `blocks` in place, eight at a time, then the tail 4/2/1 at a time.
///
/// # Safety
/// The CPU must support AES-NI.
#[target_feature(enable = "aes")]
pub(crate) unsafe fn encrypt_blocks(rk: &[Block; 11], blocks: &mut [Block]) {
    // SAFETY (whole body): this function's own contract guarantees AES-NI; every call to
    // `encrypt_n::<N>` passes a slice of exactly N blocks.
    unsafe {
        let k = load_keys(rk);
        let mut chunks = blocks.chunks_exact_mut(8);
        for c in &mut chunks {
            encrypt_n::<8>(&k, c);
        }
        encrypt_tail(&k, chunks.into_remainder());
    }
}

/// Encrypts fewer than eight blocks (4, then 2, then 1 at a time).
///
/// # Safety
/// The CPU must support AES-NI.
#[inline]
#[target_feature(enable = "aes")]
pub(crate) unsafe fn encrypt_tail(k: &[__m128i; 11], mut rest: &mut [Block]) {
    // SAFETY (whole body): AES-NI is guaranteed by the contract; each `encrypt_n::<N>` call gets
    // exactly N blocks, split off `rest`.
    unsafe {
        if rest.len() >= 4 {
            let (a, b) = rest.split_at_mut(4);
            encrypt_n::<4>(k, a);
            rest = b;
        }
        if rest.len() >= 2 {
            let (a, b) = rest.split_at_mut(2);
            encrypt_n::<2>(k, a);
            rest = b;
        }
        if !rest.is_empty() {
            encrypt_n::<1>(k, rest);
        }
    }
}
