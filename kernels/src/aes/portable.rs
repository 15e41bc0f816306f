//! Portable, constant-time AES-128: a bitsliced implementation in plain Rust, the reference
//! every hardware backend is tested against.
//!
//! Four blocks are processed at once as eight 64-bit *bit planes*: bit `16·b + j` of plane `i`
//! is bit `i` of byte `j` of block `b` (state bytes in FIPS-197 column-major order,
//! `j = 4·column + row`). The S-box is computed arithmetically, `S(x) = A(x^254) ⊕ 0x63`, with
//! bitsliced GF(2^8) multiplications (an addition chain of 7 squarings and 4 products), so no
//! memory access depends on data or key: no table lookups, no secret-dependent branches.
//! It is slow next to AES-NI (~0.5 µs per block) and meant as a fallback and oracle.
use crate::block::Block;

/// Bit planes of four AES states.
type Planes = [u64; 8];

/// Replicates a 16-bit lane pattern into the four lanes of a `u64`.
const fn lanes(x: u16) -> u64 {
    (x as u64) * 0x0001_0001_0001_0001
}

/// The bits of row `r` (positions r, r+4, r+8, r+12 of each lane).
const ROW: [u64; 4] = [lanes(0x1111), lanes(0x2222), lanes(0x4444), lanes(0x8888)];

/// Rotates each 16-bit lane right by `s` (0 < s < 16).
#[inline(always)]
fn rotr_lanes(x: u64, s: u32) -> u64 {
    let lo = lanes(0xffff >> s);
    let hi = lanes(((0xffffu32 << (16 - s)) & 0xffff) as u16);
    ((x >> s) & lo) | ((x << (16 - s)) & hi)
}

/// Within each column (nibble), row `r` of the result takes row `r + 1 mod 4` of `x`.
#[inline(always)]
fn rot_rows1(x: u64) -> u64 {
    ((x >> 1) & lanes(0x7777)) | ((x << 3) & lanes(0x8888))
}

/// Within each column, row `r` of the result takes row `r + 2 mod 4` of `x`.
#[inline(always)]
fn rot_rows2(x: u64) -> u64 {
    ((x >> 2) & lanes(0x3333)) | ((x << 2) & lanes(0xcccc))
}

/// Within each column, row `r` of the result takes row `r + 3 mod 4` of `x`.
#[inline(always)]
fn rot_rows3(x: u64) -> u64 {
    ((x >> 3) & lanes(0x1111)) | ((x << 1) & lanes(0xeeee))
}

/// Reduces a 15-coefficient bitsliced polynomial modulo x^8 + x^4 + x^3 + x + 1.
#[inline(always)]
fn reduce(mut c: [u64; 15]) -> Planes {
    for k in (8..15).rev() {
        let t = c[k];
        c[k - 4] ^= t;
        c[k - 5] ^= t;
        c[k - 7] ^= t;
        c[k - 8] ^= t;
    }
    [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]
}

/// Bitsliced GF(2^8) product.
#[inline(always)]
fn gf_mul(a: &Planes, b: &Planes) -> Planes {
    let mut c = [0u64; 15];
    for i in 0..8 {
        for j in 0..8 {
            c[i + j] ^= a[i] & b[j];
        }
    }
    reduce(c)
}

/// Bitsliced GF(2^8) square (linear: coefficient i moves to 2i).
#[inline(always)]
fn gf_sqr(a: &Planes) -> Planes {
    let mut c = [0u64; 15];
    for i in 0..8 {
        c[2 * i] = a[i];
    }
    reduce(c)
}

/// The AES S-box on every byte: `A(x^254) ⊕ 0x63` (x^254 = x⁻¹, and 0 ↦ 0).
#[inline(always)]
fn sub_bytes(x: &Planes) -> Planes {
    let x2 = gf_sqr(x);
    let x3 = gf_mul(&x2, x);
    let x6 = gf_sqr(&x3);
    let x12 = gf_sqr(&x6);
    let x15 = gf_mul(&x12, &x3);
    let x30 = gf_sqr(&x15);
    let x60 = gf_sqr(&x30);
    let x120 = gf_sqr(&x60);
    let x240 = gf_sqr(&x120);
    let x252 = gf_mul(&x240, &x12);
    let b = gf_mul(&x252, &x2);
    let mut s = [0u64; 8];
    for i in 0..8 {
        let c = if (0x63 >> i) & 1 == 1 { u64::MAX } else { 0 };
        s[i] = b[i] ^ b[(i + 4) % 8] ^ b[(i + 5) % 8] ^ b[(i + 6) % 8] ^ b[(i + 7) % 8] ^ c;
    }
    s
}

/// ShiftRows: row r rotates left by r columns, i.e. lane bits move right by 4r.
#[inline(always)]
fn shift_rows(x: &mut Planes) {
    for p in x.iter_mut() {
        let v = *p;
        *p = (v & ROW[0])
            | rotr_lanes(v & ROW[1], 4)
            | rotr_lanes(v & ROW[2], 8)
            | rotr_lanes(v & ROW[3], 12);
    }
}

/// MixColumns: `b_r = 2·(a_r ⊕ a_{r+1}) ⊕ a_{r+1} ⊕ a_{r+2} ⊕ a_{r+3}`.
#[inline(always)]
fn mix_columns(x: &mut Planes) {
    let r1: Planes = core::array::from_fn(|i| rot_rows1(x[i]));
    let t: Planes = core::array::from_fn(|i| x[i] ^ r1[i]);
    // xtime(t): multiply by x modulo x^8 + x^4 + x^3 + x + 1.
    let t2: Planes = [
        t[7],
        t[0] ^ t[7],
        t[1],
        t[2] ^ t[7],
        t[3] ^ t[7],
        t[4],
        t[5],
        t[6],
    ];
    for i in 0..8 {
        x[i] = t2[i] ^ r1[i] ^ rot_rows2(x[i]) ^ rot_rows3(x[i]);
    }
}

/// Transposes up to four 16-byte blocks into bit planes (missing blocks read as zero).
#[inline(always)]
fn to_planes(blocks: &[Block]) -> Planes {
    let mut p = [0u64; 8];
    for (b, block) in blocks.iter().enumerate().take(4) {
        for (j, &byte) in block.as_bytes().iter().enumerate() {
            let pos = 16 * b + j;
            for (i, plane) in p.iter_mut().enumerate() {
                *plane |= (((byte >> i) & 1) as u64) << pos;
            }
        }
    }
    p
}

/// Inverse of [`to_planes`], writing `blocks.len()` (≤ 4) blocks.
#[inline(always)]
fn from_planes(p: &Planes, blocks: &mut [Block]) {
    for (b, block) in blocks.iter_mut().enumerate().take(4) {
        for (j, byte) in block.as_bytes_mut().iter_mut().enumerate() {
            let pos = 16 * b + j;
            let mut v = 0u8;
            for (i, plane) in p.iter().enumerate() {
                v |= (((plane >> pos) & 1) as u8) << i;
            }
            *byte = v;
        }
    }
}

/// AES-128 round keys in bit-plane form, each replicated into the four lanes.
#[derive(Clone)]
pub(crate) struct PlaneKeys([Planes; 11]);

impl zeroize::Zeroize for PlaneKeys {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
impl PlaneKeys {
    /// Whether every plane word is zero (after `zeroize`).
    pub(crate) fn is_zero(&self) -> bool {
        self.0.iter().flatten().all(|&w| w == 0)
    }
}

impl PlaneKeys {
    pub(crate) fn new(rk: &[Block; 11]) -> PlaneKeys {
        PlaneKeys(core::array::from_fn(|r| {
            let one = to_planes(&rk[r..r + 1]);
            core::array::from_fn(|i| (one[i] & 0xffff) * 0x0001_0001_0001_0001)
        }))
    }
}

/// Encrypts up to four blocks in place.
#[inline]
fn encrypt4(keys: &PlaneKeys, blocks: &mut [Block]) {
    debug_assert!(blocks.len() <= 4);
    let mut s = to_planes(blocks);
    for (p, k) in s.iter_mut().zip(&keys.0[0]) {
        *p ^= k;
    }
    for round in 1..=10 {
        s = sub_bytes(&s);
        shift_rows(&mut s);
        if round != 10 {
            mix_columns(&mut s);
        }
        for (p, k) in s.iter_mut().zip(&keys.0[round]) {
            *p ^= k;
        }
    }
    from_planes(&s, blocks);
}

/// Encrypts every block in place, four at a time.
pub(crate) fn encrypt_blocks(keys: &PlaneKeys, blocks: &mut [Block]) {
    for chunk in blocks.chunks_mut(4) {
        encrypt4(keys, chunk);
    }
}

/// AES-128 key expansion (FIPS-197 §5.2), constant time (bitsliced S-box).
pub(crate) fn expand_key(key: Block) -> [Block; 11] {
    const RCON: [u8; 10] = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36];
    let k = key.to_bytes();
    let mut w = [[0u8; 4]; 44];
    for (i, wi) in w.iter_mut().take(4).enumerate() {
        wi.copy_from_slice(&k[4 * i..4 * i + 4]);
    }
    for i in 4..44 {
        let mut t = w[i - 1];
        if i % 4 == 0 {
            t = sub_word([t[1], t[2], t[3], t[0]]);
            t[0] ^= RCON[i / 4 - 1];
        }
        for b in 0..4 {
            w[i][b] = w[i - 4][b] ^ t[b];
        }
    }
    core::array::from_fn(|r| {
        let mut bytes = [0u8; 16];
        for c in 0..4 {
            bytes[4 * c..4 * c + 4].copy_from_slice(&w[4 * r + c]);
        }
        Block::new(bytes)
    })
}

/// The S-box on four bytes, through the same bitsliced circuit.
fn sub_word(word: [u8; 4]) -> [u8; 4] {
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&word);
    let s = sub_bytes(&to_planes(&[Block::new(bytes)]));
    let mut out = [Block::ZERO];
    from_planes(&s, &mut out);
    let o = out[0].to_bytes();
    [o[0], o[1], o[2], o[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbox_known_values() {
        // FIPS-197 Figure 7: S(00)=63, S(01)=7c, S(53)=ed, S(ff)=16.
        assert_eq!(sub_word([0x00, 0x01, 0x53, 0xff]), [0x63, 0x7c, 0xed, 0x16]);
    }

    #[test]
    fn planes_round_trip() {
        let blocks: Vec<Block> = (0..4u128)
            .map(|i| Block::from_u128(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)))
            .collect();
        let p = to_planes(&blocks);
        let mut out = [Block::ZERO; 4];
        from_planes(&p, &mut out);
        assert_eq!(&out[..], &blocks[..]);
    }

    #[test]
    fn key_expansion_fips197_a1() {
        // FIPS-197 Appendix A.1: last round key of 2b7e1516 28aed2a6 abf71588 09cf4f3c.
        let key = Block::new([
            0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf,
            0x4f, 0x3c,
        ]);
        let rk = expand_key(key);
        assert_eq!(rk[0], key);
        assert_eq!(rk[1].to_string(), "a0fafe1788542cb123a339392a6c7605");
        assert_eq!(rk[10].to_string(), "d014f9a8c9ee2589e13f0cc8b6630ca6");
    }
}
