//! The OT-extension sender's core (the garbler, holder of `Δ`): expands the leaf PRGs of its
//! punctured trees, applies the receiver's corrections, obtains `q_j`.
use kernels::Block;
use zeroize::Zeroize;

use super::msg::{xor_bytes_into, ExtendMsg};
use super::pool::{wipe_tail, SenderCots};
use super::vole::{small_vole, Scratch};
use super::{check_extend_count, padded, ExtParams, STRIDE, SUB_BATCH};
use crate::ot::rng::AesCtrPrg;
use crate::ot::transpose::transpose_columns;
use crate::ot::wipe_blocks as zeroize_blocks;
use crate::ot::{OtError, Result};

/// One chunk of `Δ` as the sender holds it after the setup.
pub(super) struct SenderChunk {
    /// The punctured leaf (`Δ`'s bits of this chunk).
    pub(super) a: usize,
    /// `(x ⊕ a, PRG of leaf x)` for every leaf `x ≠ a`.
    pub(super) prgs: Vec<(u16, AesCtrPrg)>,
}

/// The OT-extension sender after setup: extends random correlated OTs with its `Δ`.
pub struct CotSender {
    pub(super) params: ExtParams,
    pub(super) delta: Block,
    pub(super) chunks: Vec<SenderChunk>,
    pub(super) next: u64,
    pub(super) scratch: Scratch,
}

impl std::fmt::Debug for CotSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CotSender")
            .field("params", &self.params)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Drop for CotSender {
    fn drop(&mut self) {
        self.delta.as_bytes_mut().zeroize();
    }
}

impl CotSender {
    /// The parameters.
    pub fn params(&self) -> ExtParams {
        self.params
    }

    /// The correlation `Δ`.
    pub fn delta(&self) -> Block {
        self.delta
    }

    /// Index of the next OT to be extended.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// Consumes the receiver's extension message (which must continue where the previous one
    /// ended): returns the `n` correlated OTs.
    pub fn extend(&mut self, msg: &ExtendMsg) -> Result<SenderCots> {
        let mut out = SenderCots::default();
        self.extend_into(msg, &mut out)?;
        Ok(out)
    }

    /// [`CotSender::extend`] into an existing pool, whose previous OTs are wiped and whose
    /// memory is reused.
    pub fn extend_into(&mut self, msg: &ExtendMsg, out: &mut SenderCots) -> Result<()> {
        let params = self.params;
        let n = msg.n as usize;
        check_extend_count(n)?;
        if msg.start != self.next {
            return Err(OtError::OutOfStep {
                what: "OT-extension message",
                expected: self.next,
                got: msg.start,
            });
        }
        let expected = ExtendMsg::correction_blocks(params, n);
        if msg.corrections().len() != 16 * expected {
            return Err(OtError::CountMismatch {
                what: "OT-extension message blocks",
                expected,
                got: msg.corrections().len() / 16,
            });
        }
        let k = params.k_usize();
        let total = padded(n);
        wipe_tail(&mut out.q, n);
        out.q.clear();
        out.q.reserve(total);
        let q = &mut out.q;
        let Scratch { cols, stack } = &mut self.scratch;
        let mut done = 0;
        let mut corr = msg.corrections();
        while done < total {
            let len = (total - done).min(SUB_BATCH);
            let nb = len / 128;
            for (i, chunk) in self.chunks.iter_mut().enumerate() {
                let planes = &mut cols[k * i * STRIDE..k * (i + 1) * STRIDE];
                // Leaves re-indexed by d = x ⊕ a: w_b = ⊕_{d : d_b = 1} R_{a ⊕ d}, and the
                // missing leaf (d = 0) enters no w_b, so it may be taken as zero.
                let prgs = &mut chunk.prgs;
                small_vole(k, nb, STRIDE, planes, stack, |d, buf| match d {
                    0 => buf.fill(Block::ZERO),
                    d => prgs[d - 1].1.fill_blocks(buf),
                });
                if i > 0 {
                    let (c, rest) = corr.split_at(16 * nb);
                    corr = rest;
                    for b in 0..k {
                        if (chunk.a >> b) & 1 == 1 {
                            xor_bytes_into(&mut planes[b * STRIDE..b * STRIDE + nb], c);
                        }
                    }
                }
            }
            transpose_columns(cols, STRIDE, nb, q);
            done += len;
        }
        zeroize_blocks(&mut q[n..]);
        q.truncate(n);
        out.start = self.next;
        out.delta = self.delta;
        out.used = 0;
        self.next += total as u64;
        Ok(())
    }
}
