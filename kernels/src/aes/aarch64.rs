//! AES-128 with the ARMv8 cryptographic extension (`aese` + `aesmc`), eight blocks in
//! flight, for plain encryption and the fused hashes of [`super::mode`].
//!
//! ARMv8's `aese` is AddRoundKey, SubBytes and ShiftRows (the key comes *first*), `aesmc` is
//! MixColumns; so the ten FIPS-197 rounds are nine `aesmc(aese(s, k_i))`, one `aese(s, k_9)`,
//! and a final XOR with `k_10`.
//!
//! Reached only through [`super::Aes128`] after [`super::AesBackend::ArmV8`] was checked
//! available.
use super::mode::{ENCRYPT, TCCR, TMMO};
use crate::block::Block;
use core::arch::aarch64::{
    uint8x16_t, vaeseq_u8, vaesmcq_u8, vdupq_n_u64, veorq_u8, vextq_u8, vld1q_u8,
    vreinterpretq_u64_u8, vreinterpretq_u8_u64, vst1q_u8, vzip2q_u64,
};

/// σ of [`Block::sigma`] on a register.
#[inline]
#[target_feature(enable = "neon,aes")]
fn sigma(x: uint8x16_t) -> uint8x16_t {
    let swapped = vextq_u8::<8>(x, x);
    let high_only = vreinterpretq_u8_u64(vzip2q_u64(vdupq_n_u64(0), vreinterpretq_u64_u8(x)));
    veorq_u8(swapped, high_only)
}

/// Processes `N` consecutive blocks in place in `MODE` (see the x86 `process_n`).
///
/// # Safety
/// The CPU must support NEON and AES; `blocks.len() == N`, and `tweaks.len() == N` unless
/// `ENCRYPT`.
#[inline]
#[target_feature(enable = "neon,aes")]
unsafe fn process_n<const N: usize, const MODE: u8>(
    k: &[uint8x16_t; 11],
    blocks: &mut [Block],
    tweaks: &[Block],
) {
    debug_assert_eq!(blocks.len(), N);
    debug_assert!(MODE == ENCRYPT || tweaks.len() == N);
    let p = blocks.as_mut_ptr();
    let t = tweaks.as_ptr();
    // SAFETY: `blocks` (and unless ENCRYPT `tweaks`) hold N blocks of 16 bytes; `vld1q_u8`
    // needs no alignment.
    let tweak = |i: usize| unsafe { vld1q_u8(t.add(i).cast::<u8>()) };
    // SAFETY: as above.
    let y: [uint8x16_t; N] = core::array::from_fn(|i| unsafe {
        let x = vld1q_u8(p.add(i).cast::<u8>());
        if MODE == TMMO {
            veorq_u8(sigma(x), tweak(i))
        } else {
            x
        }
    });
    let mut s = y;
    rounds(k, &mut s);
    if MODE == TCCR {
        let px = s;
        let mut s2: [uint8x16_t; N] = core::array::from_fn(|i| veorq_u8(px[i], tweak(i)));
        rounds(k, &mut s2);
        s = core::array::from_fn(|i| veorq_u8(s2[i], px[i]));
    } else if MODE == TMMO {
        s = core::array::from_fn(|i| veorq_u8(s[i], y[i]));
    }
    for (i, x) in s.iter().enumerate() {
        // SAFETY: as for the loads above.
        unsafe { vst1q_u8(p.add(i).cast::<u8>(), *x) };
    }
}

/// The ten rounds (with the whitening, which `aese` includes) on `N` states.
#[inline]
#[target_feature(enable = "neon,aes")]
fn rounds<const N: usize>(k: &[uint8x16_t; 11], s: &mut [uint8x16_t; N]) {
    for key in &k[..9] {
        for x in s.iter_mut() {
            *x = vaesmcq_u8(vaeseq_u8(*x, *key));
        }
    }
    for x in s.iter_mut() {
        *x = veorq_u8(vaeseq_u8(*x, k[9]), k[10]);
    }
}

/// The tweaks for blocks `from..from + n` (or fewer at the end), empty for `ENCRYPT`.
#[inline(always)]
fn tail(tweaks: &[Block], from: usize, n: usize, mode: u8) -> &[Block] {
    if mode != ENCRYPT {
        &tweaks[from..(from + n).min(tweaks.len())]
    } else {
        &[]
    }
}

/// Processes every block in place, eight at a time, then 4, 2, 1.
///
/// # Safety
/// Unless `ENCRYPT`, `tweaks.len() == blocks.len()`. (The token proves NEON and the AES
/// extension.)
#[target_feature(enable = "neon,aes")]
pub(crate) unsafe fn process_blocks<const MODE: u8>(
    _: crate::isa::ArmAes,
    rk: &[Block; 11],
    blocks: &mut [Block],
    tweaks: &[Block],
) {
    // SAFETY: (whole body) the features are guaranteed by the token; every round
    // key is 16 readable bytes, and each `process_n::<N>` call gets exactly N blocks (and
    // tweaks).
    unsafe {
        let k: [uint8x16_t; 11] = core::array::from_fn(|i| vld1q_u8(rk[i].as_bytes().as_ptr()));
        let mut done = 0;
        let mut chunks = blocks.chunks_exact_mut(8);
        for c in &mut chunks {
            process_n::<8, MODE>(&k, c, tail(tweaks, done, 8, MODE));
            done += 8;
        }
        let mut rest = chunks.into_remainder();
        for n in [4usize, 2, 1] {
            if rest.len() >= n {
                let (a, b) = rest.split_at_mut(n);
                let ta = tail(tweaks, done, n, MODE);
                match n {
                    4 => process_n::<4, MODE>(&k, a, ta),
                    2 => process_n::<2, MODE>(&k, a, ta),
                    _ => process_n::<1, MODE>(&k, a, ta),
                }
                rest = b;
                done += n;
            }
        }
    }
}
