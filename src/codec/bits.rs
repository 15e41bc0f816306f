//! LSB-first bit packing.
#[cfg(doc)]
use super::Reader;

/// Packs `bits` LSB-first: bit `j` is bit `j % 8` of byte `j / 8`; the padding bits of the
/// last byte are zero. `⌈bits.len()/8⌉` bytes.
pub fn pack_bits(bits: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    pack_bits_into(bits, &mut out);
    out
}

/// [`pack_bits`] into `out`, which must be exactly `⌈bits.len()/8⌉` bytes (overwritten).
///
/// # Panics
/// If `out` has another length.
pub fn pack_bits_into(bits: &[bool], out: &mut [u8]) {
    assert_eq!(
        out.len(),
        bits.len().div_ceil(8),
        "packed bit string length"
    );
    for (byte, chunk) in out.iter_mut().zip(bits.chunks(8)) {
        *byte = chunk
            .iter()
            .enumerate()
            .fold(0u8, |acc, (i, &b)| acc | ((b as u8) << i));
    }
}

/// The first `n` bits of a packed bit string (LSB-first, as [`pack_bits`] writes them).
///
/// # Panics
/// If `packed` is shorter than `⌈n/8⌉` bytes (use [`Reader::bits`] to take it checked).
pub fn unpack_bits(packed: &[u8], n: usize) -> Vec<bool> {
    assert!(packed.len() >= n.div_ceil(8), "packed bit string too short");
    (0..n).map(|j| bit(packed, j)).collect()
}

/// Bit `j` of a packed bit string.
///
/// # Panics
/// If `j / 8` is out of bounds.
#[inline]
pub fn bit(packed: &[u8], j: usize) -> bool {
    (packed[j / 8] >> (j % 8)) & 1 == 1
}

/// Zeroes the padding bits of the last byte of an `n`-bit packed string (after an operation
/// that may have set them, such as XOR with a longer string).
pub fn clear_padding(packed: &mut [u8], n: usize) {
    if !n.is_multiple_of(8) {
        packed[n / 8] &= (1u8 << (n % 8)) - 1;
    }
}
