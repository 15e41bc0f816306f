//! AES-128 encryption with the ARMv8 cryptographic extension (`aese` + `aesmc`), eight blocks
//! in flight.
//!
//! ARMv8's `aese` is AddRoundKey, SubBytes and ShiftRows (the key comes *first*), `aesmc` is
//! MixColumns; so the ten FIPS-197 rounds are nine `aesmc(aese(s, k_i))`, one `aese(s, k_9)`,
//! and a final XOR with `k_10`.
//!
//! Reached only through [`super::Aes128`] after [`super::AesBackend::ArmV8`] was checked
//! available.
use crate::block::Block;
use core::arch::aarch64::{uint8x16_t, vaeseq_u8, vaesmcq_u8, veorq_u8, vld1q_u8, vst1q_u8};

/// Encrypts `N` consecutive blocks in place.
///
/// # Safety
/// The CPU must support NEON and AES; `blocks.len() == N`.
#[inline]
#[target_feature(enable = "neon,aes")]
unsafe fn encrypt_n<const N: usize>(k: &[uint8x16_t; 11], blocks: &mut [Block]) {
    debug_assert_eq!(blocks.len(), N);
    let p = blocks.as_mut_ptr();
    // SAFETY: `blocks` holds N blocks of 16 bytes; `vld1q_u8` needs no alignment.
    let mut s: [uint8x16_t; N] =
        core::array::from_fn(|i| unsafe { vld1q_u8(p.add(i).cast::<u8>()) });
    for key in &k[..9] {
        for x in s.iter_mut() {
            *x = vaesmcq_u8(vaeseq_u8(*x, *key));
        }
    }
    for (i, x) in s.iter().enumerate() {
        let y = veorq_u8(vaeseq_u8(*x, k[9]), k[10]);
        // SAFETY: as for the loads above.
        unsafe { vst1q_u8(p.add(i).cast::<u8>(), y) };
    }
}

/// Encrypts every block in place, eight at a time, then 4, 2, 1.
///
/// # Safety
/// The CPU must support NEON and the AES extension.
#[target_feature(enable = "neon,aes")]
pub(crate) unsafe fn encrypt_blocks(rk: &[Block; 11], blocks: &mut [Block]) {
    // SAFETY (whole body): the features are guaranteed by this function's contract; every round
    // key is 16 readable bytes, and each `encrypt_n::<N>` call gets exactly N blocks.
    unsafe {
        let k: [uint8x16_t; 11] = core::array::from_fn(|i| vld1q_u8(rk[i].as_bytes().as_ptr()));
        let mut chunks = blocks.chunks_exact_mut(8);
        for c in &mut chunks {
            encrypt_n::<8>(&k, c);
        }
        let mut rest = chunks.into_remainder();
        if rest.len() >= 4 {
            let (a, b) = rest.split_at_mut(4);
            encrypt_n::<4>(&k, a);
            rest = b;
        }
        if rest.len() >= 2 {
            let (a, b) = rest.split_at_mut(2);
            encrypt_n::<2>(&k, a);
            rest = b;
        }
        if !rest.is_empty() {
            encrypt_n::<1>(&k, rest);
        }
    }
}
