//! The GGM trees of the setup: the receiver grows one of depth `k` per chunk of `Δ`, the
//! sender rebuilds it punctured at the chunk's value.
use kernels::{Aes128, Block};

use super::ExtParams;
use crate::ot::wipe_blocks as zeroize_blocks;

/// The level-`l` (1-based) GGM path bit of leaf `x` in a depth-`k` tree (MSB first).
pub(super) fn path_bit(x: usize, k: usize, l: usize) -> usize {
    (x >> (k - l)) & 1
}

/// Expands every node of a GGM level into its two children (`H(s,0)`, `H(s,1)`); nodes equal to
/// `None` (unknown) stay unknown.
pub(super) fn ggm_expand(hash: &Aes128, level: &[Option<Block>]) -> Vec<Option<Block>> {
    let mut xs: Vec<Block> = level
        .iter()
        .flat_map(|n| {
            let s = n.unwrap_or(Block::ZERO);
            [s, s]
        })
        .collect();
    let tweaks: Vec<Block> = (0..xs.len())
        .map(|j| Block::from_u64s((j & 1) as u64, crate::ot::GGM_TWEAK_DOMAIN))
        .collect();
    hash.tccr_many(&mut xs, &tweaks);
    let out = xs
        .iter()
        .enumerate()
        .map(|(j, &c)| level[j / 2].map(|_| c))
        .collect();
    zeroize_blocks(&mut xs);
    out
}

/// The chunk `a_i = (Δ >> k·i) mod 2^k` of `Δ`: the leaf the sender lacks in tree `i`.
pub(super) fn chunk_of(delta: Block, params: ExtParams, i: usize) -> usize {
    let k = params.k_usize();
    ((delta.to_u128() >> (k * i)) as usize) & (params.leaves() - 1)
}
