//! AES-128 encryption with AES-NI (128-bit `aesenc`), eight blocks in flight to fill the
//! pipeline (`aesenc` has a latency of ~4 cycles and a throughput of 1–2 per cycle), and the
//! fused hashes that keep their blocks in registers ([`super::mode`]).
//!
//! Reached only through [`super::Aes128`] after [`super::AesBackend::AesNi`] (or a VAES
//! backend, which uses these for short tails) was checked available.
use super::mode::{ENCRYPT, TCCR, TMMO};
use crate::block::Block;
use core::arch::asm;
use core::arch::x86_64::{
    __m128i, _mm_aesenc_si128, _mm_aesenclast_si128, _mm_loadu_si128, _mm_setzero_si128,
    _mm_shuffle_epi32, _mm_storeu_si128, _mm_unpackhi_epi64, _mm_xor_si128,
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

/// σ of [`Block::sigma`] on a register: swap the 64-bit halves, XOR the old high half into
/// the new high half.
#[inline]
#[target_feature(enable = "aes")]
pub(crate) fn sigma128(x: __m128i) -> __m128i {
    let swapped = _mm_shuffle_epi32::<0b01_00_11_10>(x);
    _mm_xor_si128(swapped, _mm_unpackhi_epi64(_mm_setzero_si128(), x))
}

/// Processes `N` consecutive blocks in place, in [`super::mode`] `MODE`: encrypts them
/// (`ENCRYPT`), replaces each `x_j` by `π(y_j) ⊕ y_j` with `y_j = σ(x_j) ⊕ tweaks[j]`
/// (`TMMO`), or by `π(π(x_j) ⊕ tweaks[j]) ⊕ π(x_j)` (`TCCR`, two passes of the rounds). The
/// `N` independent blocks go through the rounds interleaved.
///
/// # Safety
/// The CPU must support AES-NI; `blocks.len() == N`, and `tweaks.len() == N` unless `ENCRYPT`.
#[inline]
#[target_feature(enable = "aes")]
pub(crate) unsafe fn process_n<const N: usize, const MODE: u8>(
    k: &[__m128i; 11],
    blocks: &mut [Block],
    tweaks: &[Block],
) {
    debug_assert_eq!(blocks.len(), N);
    debug_assert!(MODE == ENCRYPT || tweaks.len() == N);
    let p = blocks.as_mut_ptr();
    let t = tweaks.as_ptr();
    // SAFETY: `blocks` (and unless ENCRYPT `tweaks`) hold N blocks of 16 bytes each (the
    // caller's contract, asserted in debug builds); unaligned loads and stores are allowed.
    let tweak = |i: usize| unsafe { _mm_loadu_si128(t.add(i).cast::<__m128i>()) };
    // SAFETY: as above.
    let y: [__m128i; N] = core::array::from_fn(|i| unsafe {
        let x = _mm_loadu_si128(p.add(i).cast::<__m128i>());
        if MODE == TMMO {
            _mm_xor_si128(sigma128(x), tweak(i))
        } else {
            x
        }
    });
    let mut s: [__m128i; N] = core::array::from_fn(|i| _mm_xor_si128(y[i], k[0]));
    // SAFETY: AES-NI is the caller's contract.
    unsafe { rounds_n(k, &mut s) };
    if MODE == TCCR {
        let px = s;
        let mut s2: [__m128i; N] =
            core::array::from_fn(|i| _mm_xor_si128(_mm_xor_si128(px[i], tweak(i)), k[0]));
        // SAFETY: as above.
        unsafe { rounds_n(k, &mut s2) };
        s = core::array::from_fn(|i| _mm_xor_si128(s2[i], px[i]));
    } else if MODE == TMMO {
        s = core::array::from_fn(|i| _mm_xor_si128(s[i], y[i]));
    }
    for (i, x) in s.iter().enumerate() {
        // SAFETY: as for the loads above.
        unsafe { _mm_storeu_si128(p.add(i).cast::<__m128i>(), *x) };
    }
}

/// Rounds 1–10 on `N` states (after the whitening with round key 0); eight through
/// [`rounds_8`].
///
/// # Safety
/// The CPU must support AES-NI.
#[inline]
#[target_feature(enable = "aes")]
unsafe fn rounds_n<const N: usize>(k: &[__m128i; 11], s: &mut [__m128i; N]) {
    if let Ok(s8) = <&mut [__m128i; 8]>::try_from(&mut s[..]) {
        // SAFETY: AES-NI is the caller's contract.
        unsafe { rounds_8(k, s8) };
    } else {
        for key in &k[1..10] {
            for x in s.iter_mut() {
                *x = _mm_aesenc_si128(*x, *key);
            }
        }
        for x in s.iter_mut() {
            *x = _mm_aesenclast_si128(*x, k[10]);
        }
    }
}

/// Rounds 1–10 on eight states (after the whitening with round key 0), one `asm!` block per
/// round so that the eight `aesenc` of a round stay together. Written with intrinsics, LLVM's
/// scheduler splits the eight chains into four sequential pairs to save registers (11 round
/// keys + 8 states > 16 xmm registers), which leaves two blocks in flight on a 4-cycle
/// latency: 4.04 ns per block on the Zen 1 VM (`gazelle bench gc`, `aes-128 encrypt`).
///
/// # Safety
/// The CPU must support AES-NI.
#[inline]
#[target_feature(enable = "aes")]
pub(crate) unsafe fn rounds_8(k: &[__m128i; 11], s: &mut [__m128i; 8]) {
    let [mut s0, mut s1, mut s2, mut s3, mut s4, mut s5, mut s6, mut s7] = *s;
    for key in &k[1..10] {
        // SAFETY: register-only AES rounds (no memory, stack or flags touched); AES-NI is the
        // caller's contract.
        unsafe {
            asm!(
                "aesenc {s0}, {k}",
                "aesenc {s1}, {k}",
                "aesenc {s2}, {k}",
                "aesenc {s3}, {k}",
                "aesenc {s4}, {k}",
                "aesenc {s5}, {k}",
                "aesenc {s6}, {k}",
                "aesenc {s7}, {k}",
                s0 = inout(xmm_reg) s0, s1 = inout(xmm_reg) s1,
                s2 = inout(xmm_reg) s2, s3 = inout(xmm_reg) s3,
                s4 = inout(xmm_reg) s4, s5 = inout(xmm_reg) s5,
                s6 = inout(xmm_reg) s6, s7 = inout(xmm_reg) s7,
                k = in(xmm_reg) *key,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
    }
    // SAFETY: as above, the last round.
    unsafe {
        asm!(
            "aesenclast {s0}, {k}",
            "aesenclast {s1}, {k}",
            "aesenclast {s2}, {k}",
            "aesenclast {s3}, {k}",
            "aesenclast {s4}, {k}",
            "aesenclast {s5}, {k}",
            "aesenclast {s6}, {k}",
            "aesenclast {s7}, {k}",
            s0 = inout(xmm_reg) s0, s1 = inout(xmm_reg) s1,
            s2 = inout(xmm_reg) s2, s3 = inout(xmm_reg) s3,
            s4 = inout(xmm_reg) s4, s5 = inout(xmm_reg) s5,
            s6 = inout(xmm_reg) s6, s7 = inout(xmm_reg) s7,
            k = in(xmm_reg) k[10],
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    *s = [s0, s1, s2, s3, s4, s5, s6, s7];
}

/// Processes every block in `MODE` ([`process_n`]), eight at a time, then the tail 4/2/1 at
/// a time.
///
/// # Safety
/// Unless `ENCRYPT`, `tweaks.len() == blocks.len()`. (The token proves AES-NI.)
#[target_feature(enable = "aes")]
pub(crate) unsafe fn process_blocks<const MODE: u8>(
    _: crate::isa::AesNi,
    rk: &[Block; 11],
    blocks: &mut [Block],
    tweaks: &[Block],
) {
    // SAFETY: (whole body) the token guarantees AES-NI; `process_n::<N>` is
    // given exactly N blocks and, unless ENCRYPT, the N matching tweaks.
    unsafe {
        let k = load_keys(rk);
        let mut done = 0;
        let mut chunks = blocks.chunks_exact_mut(8);
        for c in &mut chunks {
            process_n::<8, MODE>(&k, c, tail(tweaks, done, 8, MODE));
            done += 8;
        }
        process_tail::<MODE>(&k, chunks.into_remainder(), tail(tweaks, done, 7, MODE));
    }
}

/// The tweaks for blocks `from..from + n` (or fewer at the end), empty for `ENCRYPT`.
#[inline(always)]
pub(crate) fn tail(tweaks: &[Block], from: usize, n: usize, mode: u8) -> &[Block] {
    if mode != ENCRYPT {
        &tweaks[from..(from + n).min(tweaks.len())]
    } else {
        &[]
    }
}

/// Processes fewer than eight blocks (4, then 2, then 1 at a time).
///
/// # Safety
/// The CPU must support AES-NI; unless `ENCRYPT`, `tweaks.len() == rest.len()`.
#[inline]
#[target_feature(enable = "aes")]
pub(crate) unsafe fn process_tail<const MODE: u8>(
    k: &[__m128i; 11],
    mut rest: &mut [Block],
    mut tweaks: &[Block],
) {
    // SAFETY: (whole body) AES-NI is guaranteed by the contract; each `process_n::<N>` call gets
    // exactly N blocks split off `rest`, and the N matching tweaks unless ENCRYPT.
    unsafe {
        for n in [4usize, 2, 1] {
            if rest.len() >= n {
                let (a, b) = rest.split_at_mut(n);
                let (ta, tb) = if MODE != ENCRYPT {
                    tweaks.split_at(n)
                } else {
                    (tweaks, tweaks)
                };
                match n {
                    4 => process_n::<4, MODE>(k, a, ta),
                    2 => process_n::<2, MODE>(k, a, ta),
                    _ => process_n::<1, MODE>(k, a, ta),
                }
                rest = b;
                tweaks = tb;
            }
        }
    }
}
