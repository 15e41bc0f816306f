//! The small-field VOLE both extension cores run per chunk and sub-batch, and the sub-batch
//! working memory they keep.
use kernels::Block;

use super::{ExtParams, STRIDE, SUB_BATCH};
use crate::ot::wipe_blocks as zeroize_blocks;

/// Working memory of one sub-batch, kept between extensions (it holds PRG outputs: wiped on
/// drop).
pub(super) struct Scratch {
    /// 128 columns, [`STRIDE`] blocks apart.
    pub(super) cols: Vec<Block>,
    /// The small-VOLE tree stack: `k + 1` buffers of a sub-batch's blocks.
    pub(super) stack: Vec<Block>,
}

impl Scratch {
    pub(super) fn new(params: ExtParams) -> Scratch {
        Scratch {
            cols: vec![Block::ZERO; 128 * STRIDE],
            stack: vec![Block::ZERO; (params.k_usize() + 1) * (SUB_BATCH / 128)],
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        zeroize_blocks(&mut self.cols);
        zeroize_blocks(&mut self.stack);
    }
}

/// One small-field VOLE over `nb` blocks: `leaf(x, buf)` writes leaf `x`'s PRG output `R_x`;
/// sets plane `b` (`planes[b·stride ..][..nb]`) to `⊕_{x : x_b = 1} R_x` for `b < k` and returns `u = ⊕_x R_x`.
///
/// Leaves are summed up their binary tree as they stream in (a stack of `k + 1` buffers): a
/// node that is a right child at level `b` is the sum of the leaves with `x_b = 1` under it,
/// so it is added to plane `b` before being merged into its parent — `2·(2^k − 1)` block XORs
/// per chunk instead of `(1 + k/2)·2^k`.
pub(super) fn small_vole<'s>(
    k: usize,
    nb: usize,
    stride: usize,
    planes: &mut [Block],
    stack: &'s mut [Block],
    mut leaf: impl FnMut(usize, &mut [Block]),
) -> &'s [Block] {
    let mut first = [true; 8];
    let mut sp = 0;
    for x in 0..1usize << k {
        leaf(x, &mut stack[sp * nb..(sp + 1) * nb]);
        let mut idx = x;
        let mut level = 0;
        while idx & 1 == 1 {
            let (left, right) = stack.split_at_mut(sp * nb);
            let left = &mut left[(sp - 1) * nb..];
            let right = &right[..nb];
            let plane = &mut planes[level * stride..level * stride + nb];
            if first[level] {
                plane.copy_from_slice(right);
                first[level] = false;
            } else {
                xor_into(plane, right);
            }
            xor_into(left, right);
            sp -= 1;
            idx >>= 1;
            level += 1;
        }
        sp += 1;
    }
    debug_assert_eq!(sp, 1);
    &stack[..nb]
}

/// XORs `src` into `dst` block by block.
#[inline]
pub(super) fn xor_into(dst: &mut [Block], src: &[Block]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= *s;
    }
}
