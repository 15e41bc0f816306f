//! A 16-byte block: the unit of fixed-key AES, of garbled-circuit wire labels and of OT
//! messages.
//!
//! The bytes are kept in memory order (`Block::as_bytes()[0]` is the first AES input byte);
//! integer views are little-endian, so bit 0 of byte 0 is the *least significant bit*
//! [`Block::lsb`], the point-and-permute bit of a garbled label.
use core::fmt;
use core::ops::{BitAnd, BitAndAssign, BitXor, BitXorAssign, Not};

/// 16 bytes, 16-byte aligned so that SIMD loads of a `[Block]` are aligned.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(C, align(16))]
pub struct Block([u8; 16]);

/// Zeroizing a block sets it to [`Block::ZERO`] (its `Default`), through volatile writes.
impl zeroize::DefaultIsZeroes for Block {}

impl Block {
    /// The all-zero block.
    pub const ZERO: Block = Block([0; 16]);
    /// The all-ones block.
    pub const ONES: Block = Block([0xff; 16]);
    /// The block whose only set bit is the least significant one (`lsb() == true`).
    pub const ONE: Block = Block::from_u128(1);
    /// Size in bytes.
    pub const LEN: usize = 16;

    /// The block with these bytes.
    #[inline(always)]
    pub const fn new(bytes: [u8; 16]) -> Block {
        Block(bytes)
    }

    /// The block whose little-endian integer value is `x`.
    #[inline(always)]
    pub const fn from_u128(x: u128) -> Block {
        Block(x.to_le_bytes())
    }

    /// The block's little-endian integer value.
    #[inline(always)]
    pub const fn to_u128(self) -> u128 {
        u128::from_le_bytes(self.0)
    }

    /// The block `lo + 2^64 · hi`.
    #[inline(always)]
    pub fn from_u64s(lo: u64, hi: u64) -> Block {
        Block(lanes::from_u64s(lo, hi))
    }

    /// The bytes, in memory order.
    #[inline(always)]
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// The bytes, borrowed.
    #[inline(always)]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The bytes, mutably borrowed.
    #[inline(always)]
    pub fn as_bytes_mut(&mut self) -> &mut [u8; 16] {
        &mut self.0
    }

    /// Reads a block from the first 16 bytes of `bytes` (`None` when shorter).
    #[inline]
    pub fn try_from_slice(bytes: &[u8]) -> Option<Block> {
        let b: [u8; 16] = bytes.get(..16)?.try_into().ok()?;
        Some(Block(b))
    }

    /// The least significant bit (bit 0 of byte 0): the point-and-permute ("colour") bit.
    #[inline(always)]
    pub fn lsb(self) -> bool {
        lanes::low_byte(self.0) & 1 == 1
    }

    /// This block with its least significant bit set to `bit`.
    #[inline(always)]
    pub const fn with_lsb(mut self, bit: bool) -> Block {
        self.0[0] = (self.0[0] & !1) | bit as u8;
        self
    }

    /// `self` if `bit`, else zero — without a branch.
    #[inline(always)]
    pub fn and_bit(self, bit: bool) -> Block {
        // A two-entry table: one load and one AND, cheaper than broadcasting the bit.
        static MASKS: [Block; 2] = [Block::ZERO, Block::ONES];
        self & MASKS[bit as usize]
    }

    /// The linear orthomorphism σ of Guo–Katz–Wang–Yu (eprint 2019/074, §7.3):
    /// writing `x = x_L ‖ x_R` as two 64-bit halves (high ‖ low),
    /// `σ(x_L ‖ x_R) = (x_L ⊕ x_R) ‖ x_L`. It is linear over GF(2), a permutation, and
    /// `x ↦ σ(x) ⊕ x` is a permutation too.
    #[inline(always)]
    pub fn sigma(self) -> Block {
        Block(lanes::sigma(self.0))
    }

    /// Views a slice of blocks as bytes.
    #[inline]
    pub fn slice_as_bytes(blocks: &[Block]) -> &[u8] {
        // Block is `repr(C)` over `[u8; 16]` (alignment only adds no padding: size 16).
        let len = core::mem::size_of_val(blocks);
        let ptr = blocks.as_ptr().cast::<u8>();
        // SAFETY: `Block` is `repr(C, align(16))` around `[u8; 16]` with size exactly 16 and
        // no padding, so the memory of `blocks` is `len` initialised bytes borrowed for the same
        // lifetime; `u8` has alignment 1.
        unsafe { core::slice::from_raw_parts(ptr, len) }
    }

    /// Views a slice of blocks as mutable bytes (every byte pattern is a valid block).
    #[inline]
    pub fn slice_as_bytes_mut(blocks: &mut [Block]) -> &mut [u8] {
        let len = core::mem::size_of_val(blocks);
        let ptr = blocks.as_mut_ptr().cast::<u8>();
        // SAFETY: as in `slice_as_bytes`: `len` initialised bytes with no padding, exclusively
        // borrowed for the same lifetime; any byte values form a valid `Block`.
        unsafe { core::slice::from_raw_parts_mut(ptr, len) }
    }
}

const _: () = assert!(core::mem::size_of::<Block>() == 16);

/// Block operations in a 128-bit vector register where the target guarantees one (SSE2 on
/// x86-64, NEON on aarch64: both part of the baseline, so no runtime detection is involved).
/// A `u128` would live in two general registers, and writing it as two halves right before a
/// 16-byte vector load (as the AES kernels do) stalls store forwarding.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod lanes {
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cvtsi128_si32, _mm_set_epi64x, _mm_setzero_si128,
        _mm_shuffle_epi32, _mm_unpackhi_epi64, _mm_xor_si128,
    };

    #[inline(always)]
    fn v(b: [u8; 16]) -> __m128i {
        // SAFETY: `[u8; 16]` and `__m128i` have the same size and every bit pattern is valid
        // for both.
        unsafe { core::mem::transmute::<[u8; 16], __m128i>(b) }
    }

    #[inline(always)]
    fn b(x: __m128i) -> [u8; 16] {
        // SAFETY: as in `v`.
        unsafe { core::mem::transmute::<__m128i, [u8; 16]>(x) }
    }

    #[inline(always)]
    pub(super) fn xor(x: [u8; 16], y: [u8; 16]) -> [u8; 16] {
        // SAFETY: SSE2 is enabled at compile time (checked by the `cfg` on this module),
        // so its intrinsics can run on every CPU this binary runs on.
        unsafe { b(_mm_xor_si128(v(x), v(y))) }
    }

    #[inline(always)]
    pub(super) fn and(x: [u8; 16], y: [u8; 16]) -> [u8; 16] {
        // SAFETY: SSE2 is enabled at compile time (checked by the `cfg` on this module),
        // so its intrinsics can run on every CPU this binary runs on.
        unsafe { b(_mm_and_si128(v(x), v(y))) }
    }

    /// Byte 0, read from the register (no round trip through memory).
    #[inline(always)]
    pub(super) fn low_byte(x: [u8; 16]) -> u8 {
        // SAFETY: SSE2 is enabled at compile time (checked by the `cfg` on this module),
        // so its intrinsics can run on every CPU this binary runs on.
        unsafe { _mm_cvtsi128_si32(v(x)) as u8 }
    }

    /// The block `lo + 2^64·hi`, built in a vector register.
    #[inline(always)]
    pub(super) fn from_u64s(lo: u64, hi: u64) -> [u8; 16] {
        // SAFETY: as above.
        unsafe { b(_mm_set_epi64x(hi as i64, lo as i64)) }
    }

    /// σ(x_L ‖ x_R) = (x_L ⊕ x_R) ‖ x_L: swap the halves, then XOR x_L into the high half.
    #[inline(always)]
    pub(super) fn sigma(x: [u8; 16]) -> [u8; 16] {
        // SAFETY: SSE2 is enabled at compile time (checked by the `cfg` on this module),
        // so its intrinsics can run on every CPU this binary runs on.
        unsafe {
            let x = v(x);
            let swapped = _mm_shuffle_epi32::<0b01_00_11_10>(x); // (x_R ‖ x_L)
            let high_only = _mm_unpackhi_epi64(_mm_setzero_si128(), x); // (x_L ‖ 0)
            b(_mm_xor_si128(swapped, high_only))
        }
    }
}

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
mod lanes {
    use core::arch::aarch64::{
        uint8x16_t, vandq_u8, vcombine_u64, vcreate_u64, vdupq_n_u64, veorq_u8, vextq_u8,
        vgetq_lane_u8, vreinterpretq_u64_u8, vreinterpretq_u8_u64, vzip2q_u64,
    };

    #[inline(always)]
    fn v(b: [u8; 16]) -> uint8x16_t {
        // SAFETY: `[u8; 16]` and `uint8x16_t` have the same size and every bit pattern is valid
        // for both.
        unsafe { core::mem::transmute::<[u8; 16], uint8x16_t>(b) }
    }

    #[inline(always)]
    fn b(x: uint8x16_t) -> [u8; 16] {
        // SAFETY: as in `v`.
        unsafe { core::mem::transmute::<uint8x16_t, [u8; 16]>(x) }
    }

    #[inline(always)]
    pub(super) fn xor(x: [u8; 16], y: [u8; 16]) -> [u8; 16] {
        // SAFETY: NEON is enabled at compile time (checked by the `cfg` on this module),
        // so its intrinsics can run on every CPU this binary runs on.
        unsafe { b(veorq_u8(v(x), v(y))) }
    }

    #[inline(always)]
    pub(super) fn and(x: [u8; 16], y: [u8; 16]) -> [u8; 16] {
        // SAFETY: NEON is enabled at compile time (checked by the `cfg` on this module),
        // so its intrinsics can run on every CPU this binary runs on.
        unsafe { b(vandq_u8(v(x), v(y))) }
    }

    /// Byte 0, read from the register.
    #[inline(always)]
    pub(super) fn low_byte(x: [u8; 16]) -> u8 {
        // SAFETY: NEON is enabled at compile time (checked by the `cfg` on this module),
        // so its intrinsics can run on every CPU this binary runs on.
        unsafe { vgetq_lane_u8::<0>(v(x)) }
    }

    /// The block `lo + 2^64·hi`, built in a vector register.
    #[inline(always)]
    pub(super) fn from_u64s(lo: u64, hi: u64) -> [u8; 16] {
        // SAFETY: as above.
        unsafe {
            b(vreinterpretq_u8_u64(vcombine_u64(
                vcreate_u64(lo),
                vcreate_u64(hi),
            )))
        }
    }

    /// σ(x_L ‖ x_R) = (x_L ⊕ x_R) ‖ x_L.
    #[inline(always)]
    pub(super) fn sigma(x: [u8; 16]) -> [u8; 16] {
        // SAFETY: NEON is enabled at compile time (checked by the `cfg` on this module),
        // so its intrinsics can run on every CPU this binary runs on.
        unsafe {
            let x = v(x);
            let swapped = vextq_u8::<8>(x, x); // (x_R ‖ x_L)
            let x64 = vreinterpretq_u64_u8(x);
            let high_only = vreinterpretq_u8_u64(vzip2q_u64(vdupq_n_u64(0), x64)); // (x_L ‖ 0)
            b(veorq_u8(swapped, high_only))
        }
    }
}

/// Portable fallback for other targets.
#[cfg(not(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "aarch64", target_feature = "neon")
)))]
mod lanes {
    #[inline(always)]
    pub(super) fn xor(x: [u8; 16], y: [u8; 16]) -> [u8; 16] {
        (u128::from_le_bytes(x) ^ u128::from_le_bytes(y)).to_le_bytes()
    }

    #[inline(always)]
    pub(super) fn and(x: [u8; 16], y: [u8; 16]) -> [u8; 16] {
        (u128::from_le_bytes(x) & u128::from_le_bytes(y)).to_le_bytes()
    }

    #[inline(always)]
    pub(super) fn low_byte(x: [u8; 16]) -> u8 {
        x[0]
    }

    #[inline(always)]
    pub(super) fn from_u64s(lo: u64, hi: u64) -> [u8; 16] {
        (lo as u128 | ((hi as u128) << 64)).to_le_bytes()
    }

    #[inline(always)]
    pub(super) fn sigma(x: [u8; 16]) -> [u8; 16] {
        let x = u128::from_le_bytes(x);
        let hi = x >> 64;
        (((x ^ hi) << 64) | hi).to_le_bytes()
    }
}

impl From<[u8; 16]> for Block {
    #[inline(always)]
    fn from(b: [u8; 16]) -> Block {
        Block(b)
    }
}

impl From<Block> for [u8; 16] {
    #[inline(always)]
    fn from(b: Block) -> [u8; 16] {
        b.0
    }
}

impl From<u128> for Block {
    #[inline(always)]
    fn from(x: u128) -> Block {
        Block::from_u128(x)
    }
}

impl BitXor for Block {
    type Output = Block;
    #[inline(always)]
    fn bitxor(self, rhs: Block) -> Block {
        Block(lanes::xor(self.0, rhs.0))
    }
}

impl BitXorAssign for Block {
    #[inline(always)]
    fn bitxor_assign(&mut self, rhs: Block) {
        *self = *self ^ rhs;
    }
}

impl BitAnd for Block {
    type Output = Block;
    #[inline(always)]
    fn bitand(self, rhs: Block) -> Block {
        Block(lanes::and(self.0, rhs.0))
    }
}

impl BitAndAssign for Block {
    #[inline(always)]
    fn bitand_assign(&mut self, rhs: Block) {
        *self = *self & rhs;
    }
}

impl Not for Block {
    type Output = Block;
    #[inline(always)]
    fn not(self) -> Block {
        Block(lanes::xor(self.0, [0xff; 16]))
    }
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Block({self})")
    }
}

/// Lower-case hex of the bytes in memory order (as FIPS-197 writes blocks).
impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsb_and_views() {
        let b = Block::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f11);
        assert!(b.lsb());
        assert_eq!(b.as_bytes()[0], 0x11);
        assert!(!b.with_lsb(false).lsb());
        assert_eq!(b.with_lsb(true), b);
        assert_eq!(Block::from_u64s(7, 9).to_u128(), 7 | (9 << 64));
        assert_eq!(b.and_bit(true), b);
        assert_eq!(b.and_bit(false), Block::ZERO);
        assert_eq!(b ^ b, Block::ZERO);
        assert_eq!(!Block::ZERO, Block::ONES);
        assert_eq!(
            Block::try_from_slice(&[1u8; 17]).unwrap(),
            Block::new([1; 16])
        );
        assert!(Block::try_from_slice(&[1u8; 15]).is_none());
        assert_eq!(
            format!("{}", Block::ONE),
            "01000000000000000000000000000000"
        );
        let blocks = [Block::ONE, Block::ONES];
        assert_eq!(Block::slice_as_bytes(&blocks).len(), 32);
        assert_eq!(Block::slice_as_bytes(&blocks)[16], 0xff);
        let mut blocks = blocks;
        Block::slice_as_bytes_mut(&mut blocks)[0] = 0xfe;
        assert_eq!(blocks[0], Block::from_u128(0xfe));
    }

    #[test]
    fn sigma_is_linear_orthomorphism() {
        let x = Block::from_u64s(0xdead_beef, 0x1234_5678_9abc);
        let y = Block::from_u64s(0x0bad_f00d, 0x4321);
        assert_eq!((x ^ y).sigma(), x.sigma() ^ y.sigma());
        // σ(x) = (x_L ⊕ x_R) ‖ x_L, with x_L the high half.
        assert_eq!(
            x.sigma(),
            Block::from_u64s(0x1234_5678_9abc, 0x1234_5678_9abc ^ 0xdead_beef)
        );
        // σ has order 6 (its matrix satisfies M² + M + 1 = 0 over GF(2)), so σ^3 = id and
        // σ(x) ⊕ x = σ²(x) is a permutation.
        assert_eq!(x.sigma().sigma().sigma(), x);
        assert_eq!(x.sigma() ^ x, x.sigma().sigma());
    }
}
