//! Bit-matrix transpose for OT extension, in safe Rust (the kernels crate has no transpose
//! yet): 128 columns of `ℓ` bits (column-major, one [`Block`] per 128 rows) become `ℓ` rows of
//! 128 bits, by 128×128 tiles with Eklundh's recursive block swap (7 rounds of mask/shift/XOR
//! over pairs of 64-bit lanes, which the compiler vectorises).
use kernels::Block;

/// One round of the block-swap transpose with the swap distance `J` a constant (so the
/// shifts are immediates and the loops have known trip counts).
#[inline(always)]
fn round<const J: usize>(m: &mut [[u64; 4]; 64], mask: u64) {
    for group in m.chunks_exact_mut(2 * J) {
        let (upper, lower) = group.split_at_mut(J);
        for (x, y) in upper.iter_mut().zip(lower.iter_mut()) {
            for (x, y) in x.iter_mut().zip(y.iter_mut()) {
                let t = ((*x >> J) ^ *y) & mask;
                *y ^= t;
                *x ^= t << J;
            }
        }
    }
}

/// Transposes four 64×64 bit matrices at once, interleaved: bit `c` of `m[r][i]` moves to
/// bit `r` of `m[c][i]` for each `i < 4`. Round `j` swaps the off-diagonal `j×j` sub-blocks
/// of every `2j×2j` block; interleaving the four matrices makes every round, `j = 1`
/// included, work on runs of at least four contiguous words, which the compiler vectorises.
#[inline]
pub fn transpose4x64(m: &mut [[u64; 4]; 64]) {
    round::<32>(m, 0x0000_0000_ffff_ffff);
    round::<16>(m, 0x0000_ffff_0000_ffff);
    round::<8>(m, 0x00ff_00ff_00ff_00ff);
    round::<4>(m, 0x0f0f_0f0f_0f0f_0f0f);
    round::<2>(m, 0x3333_3333_3333_3333);
    round::<1>(m, 0x5555_5555_5555_5555);
}

/// `cols` holds 128 columns of `nb` blocks each, `stride` blocks apart (column `c` is
/// `cols[c·stride ..][..nb]`, row `r` of it is bit `r % 128` of block `r / 128`); appends the
/// `128·nb` rows to `rows` (bit `c` of row `r` = bit `r` of column `c`). Each 128×128 tile
/// is four 64×64 transposes (quarters by column half × row half), the off-diagonal quarters
/// trading places.
///
/// # Panics
/// If `stride < nb` or `cols.len() < 127·stride + nb` (internal callers size both).
pub fn transpose_columns(cols: &[Block], stride: usize, nb: usize, rows: &mut Vec<Block>) {
    assert!(stride >= nb && cols.len() >= 127 * stride + nb);
    // m[c] = [rows 0..64 of column c, rows 64..128 of column c, the same of column c + 64].
    let mut m = [[0u64; 4]; 64];
    rows.reserve(128 * nb);
    for t in 0..nb {
        for (c, w) in m.iter_mut().enumerate() {
            let lo = cols[c * stride + t].to_u128();
            let hi = cols[(c + 64) * stride + t].to_u128();
            *w = [lo as u64, (lo >> 64) as u64, hi as u64, (hi >> 64) as u64];
        }
        transpose4x64(&mut m);
        rows.extend(m.iter().map(|w| Block::from_u64s(w[0], w[2])));
        rows.extend(m.iter().map(|w| Block::from_u64s(w[1], w[3])));
    }
    for w in m.iter_mut() {
        *w = [0; 4];
    }
    std::hint::black_box(&m);
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
            let mut rows = Vec::new();
            transpose_columns(&cols, nb, nb, &mut rows);
            assert_eq!(rows.len(), 128 * nb);
            for (r, row) in rows.iter().enumerate() {
                for c in 0..128 {
                    assert_eq!(bit(*row, c), bit(cols[c * nb + r / 128], r % 128));
                }
            }
        }
    }
}
