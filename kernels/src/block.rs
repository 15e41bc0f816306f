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
    pub const fn from_u64s(lo: u64, hi: u64) -> Block {
        Block::from_u128(lo as u128 | ((hi as u128) << 64))
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
    pub const fn lsb(self) -> bool {
        self.0[0] & 1 == 1
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
        let mask = (bit as u128).wrapping_neg();
        Block::from_u128(self.to_u128() & mask)
    }

    /// The linear orthomorphism σ of Guo–Katz–Wang–Yu (eprint 2019/074, §7.3):
    /// writing `x = x_L ‖ x_R` as two 64-bit halves (high ‖ low),
    /// `σ(x_L ‖ x_R) = (x_L ⊕ x_R) ‖ x_L`. It is linear over GF(2), a permutation, and
    /// `x ↦ σ(x) ⊕ x` is a permutation too.
    #[inline(always)]
    pub const fn sigma(self) -> Block {
        let x = self.to_u128();
        let hi = (x >> 64) as u64;
        let lo = x as u64;
        Block::from_u64s(hi, hi ^ lo)
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
}

const _: () = assert!(core::mem::size_of::<Block>() == 16);

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
        Block::from_u128(self.to_u128() ^ rhs.to_u128())
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
        Block::from_u128(self.to_u128() & rhs.to_u128())
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
        Block::from_u128(!self.to_u128())
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
