//! Bit-matrix transpose for OT extension, in safe Rust (the kernels crate has no transpose
//! yet): 128 columns of `ℓ` bits (column-major, one [`Block`] per 128 rows) become `ℓ` rows of
//! 128 bits, by 128×128 tiles with Eklundh's recursive block swap (7 rounds of mask/shift/XOR
//! over pairs of 64-bit lanes, which the compiler vectorises).
use kernels::Block;

const MASKS: [(usize, u64); 6] = [
    (32, 0x0000_0000_ffff_ffff),
    (16, 0x0000_ffff_0000_ffff),
    (8, 0x00ff_00ff_00ff_00ff),
    (4, 0x0f0f_0f0f_0f0f_0f0f),
    (2, 0x3333_3333_3333_3333),
    (1, 0x5555_5555_5555_5555),
];

/// Transposes a 128×128 bit matrix in place: bit `c` of `m[r]` (lane `c / 64`, bit `c % 64`)
/// moves to bit `r` of `m[c]`.
#[inline]
pub(crate) fn transpose128(m: &mut [[u64; 2]; 128]) {
    for r in 0..64 {
        let t = m[r][1];
        m[r][1] = m[r + 64][0];
        m[r + 64][0] = t;
    }
    for (j, mask) in MASKS {
        let mut start = 0;
        while start < 128 {
            let (upper, lower) = m[start..start + 2 * j].split_at_mut(j);
            for (a, b) in upper.iter_mut().zip(lower.iter_mut()) {
                for (x, y) in a.iter_mut().zip(b.iter_mut()) {
                    let t = ((*x >> j) ^ *y) & mask;
                    *y ^= t;
                    *x ^= t << j;
                }
            }
            start += 2 * j;
        }
    }
}

#[inline]
fn to_lanes(b: Block) -> [u64; 2] {
    let x = b.to_u128();
    [x as u64, (x >> 64) as u64]
}

#[inline]
fn from_lanes(l: [u64; 2]) -> Block {
    Block::from_u64s(l[0], l[1])
}

/// `cols` holds 128 columns of `nb` blocks each (column `c` is `cols[c·nb .. (c+1)·nb]`, row
/// `r` of it is bit `r % 128` of block `r / 128`); writes the `128·nb` rows to `rows`
/// (bit `c` of `rows[r]` = bit `r` of column `c`).
///
/// # Panics
/// If `cols.len() != 128·nb` or `rows.len() != 128·nb` (internal callers size both).
pub(crate) fn transpose_columns(cols: &[Block], nb: usize, rows: &mut [Block]) {
    assert_eq!(cols.len(), 128 * nb);
    assert_eq!(rows.len(), 128 * nb);
    let mut tile = [[0u64; 2]; 128];
    for t in 0..nb {
        for (c, lane) in tile.iter_mut().enumerate() {
            *lane = to_lanes(cols[c * nb + t]);
        }
        transpose128(&mut tile);
        for (row, lane) in rows[128 * t..128 * (t + 1)].iter_mut().zip(tile.iter()) {
            *row = from_lanes(*lane);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ot::rng::OtRng;

    fn bit(b: Block, i: usize) -> bool {
        (b.to_u128() >> i) & 1 == 1
    }

    #[test]
    fn transpose_matches_naive() {
        let mut rng = OtRng::from_seed(Block::from_u128(5)).unwrap();
        for nb in [1usize, 3] {
            let mut cols = vec![Block::ZERO; 128 * nb];
            rng.fill_blocks(&mut cols);
            let mut rows = vec![Block::ZERO; 128 * nb];
            transpose_columns(&cols, nb, &mut rows);
            for (r, row) in rows.iter().enumerate() {
                for c in 0..128 {
                    assert_eq!(bit(*row, c), bit(cols[c * nb + r / 128], r % 128));
                }
            }
        }
    }
}
