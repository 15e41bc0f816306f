//! The OT-extension receiver's core (the GC evaluator): expands its leaf PRGs, sends the
//! corrections, keeps the choice bits and `t_j`.
use kernels::Block;

use super::msg::ExtendMsg;
use super::pool::{wipe_tail, ReceiverCots};
use super::vole::{small_vole, Scratch};
use super::{check_extend_count, padded, ExtParams, STRIDE, SUB_BATCH};
use crate::ot::rng::AesCtrPrg;
use crate::ot::transpose::transpose_columns;
use crate::ot::wipe_blocks as zeroize_blocks;
use crate::ot::Result;

/// Test hook over the receiver's leaf PRG outputs.
pub(super) type LeafHook<'a> = dyn Fn(usize, usize, usize, &mut [Block]) + 'a;

/// The OT-extension receiver after setup: extends random correlated OTs on demand.
pub struct CotReceiver {
    pub(super) params: ExtParams,
    /// The leaf PRGs of each chunk's GGM tree, by leaf.
    pub(super) chunks: Vec<Vec<AesCtrPrg>>,
    pub(super) next: u64,
    pub(super) scratch: Scratch,
}

impl std::fmt::Debug for CotReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CotReceiver")
            .field("params", &self.params)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl CotReceiver {
    /// The parameters.
    pub fn params(&self) -> ExtParams {
        self.params
    }

    /// Index of the next OT to be extended.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// Extends `n` random correlated OTs (1 ≤ n ≤ [`MAX_EXTEND`]): returns them and the message
    /// for the sender.
    pub fn extend(&mut self, n: usize) -> Result<(ReceiverCots, ExtendMsg)> {
        let mut out = ReceiverCots::default();
        let msg = self.extend_hooked(n, None, &mut out, Vec::new())?;
        Ok((out, msg))
    }

    /// [`CotReceiver::extend`] into an existing pool, whose previous OTs are overwritten and
    /// whose memory is reused, encoding the message into `msg_buf` (e.g. the previous
    /// message's [`ExtendMsg::into_bytes`]): repeated extensions touch no fresh memory.
    pub fn extend_into(
        &mut self,
        n: usize,
        out: &mut ReceiverCots,
        msg_buf: Vec<u8>,
    ) -> Result<ExtendMsg> {
        self.extend_hooked(n, None, out, msg_buf)
    }

    /// [`CotReceiver::extend`] with a hook that may alter each leaf's PRG output
    /// (`hook(chunk, leaf, first block index, blocks)`): the structural privacy test uses it.
    pub(super) fn extend_hooked(
        &mut self,
        n: usize,
        hook: Option<&LeafHook<'_>>,
        out: &mut ReceiverCots,
        msg_buf: Vec<u8>,
    ) -> Result<ExtendMsg> {
        check_extend_count(n)?;
        let params = self.params;
        let k = params.k_usize();
        let total = padded(n);
        let start = self.next;
        // The new OTs overwrite the old ones in place; only a longer old tail needs wiping.
        wipe_tail(&mut out.choices, total / 128);
        wipe_tail(&mut out.t, n);
        out.choices.clear();
        out.choices.resize(total / 128, Block::ZERO);
        out.t.clear();
        out.t.reserve(total);
        let (choices, t) = (&mut out.choices, &mut out.t);
        let mut encoded = ExtendMsg::begin(msg_buf, params, start, n);
        let Scratch { cols, stack } = &mut self.scratch;
        let mut done = 0;
        while done < total {
            let len = (total - done).min(SUB_BATCH);
            let nb = len / 128;
            let range = done / 128..done / 128 + nb;
            for (i, prgs) in self.chunks.iter_mut().enumerate() {
                let planes = &mut cols[k * i * STRIDE..k * (i + 1) * STRIDE];
                let u = small_vole(k, nb, STRIDE, planes, stack, |x, buf| {
                    prgs[x].fill_blocks(buf);
                    if let Some(h) = hook {
                        h(i, x, done / 128, buf);
                    }
                });
                if i == 0 {
                    choices[range.clone()].copy_from_slice(u);
                } else {
                    let u0 = &choices[range.clone()];
                    for (a, b) in u0.iter().zip(u.iter()) {
                        encoded.bytes((*a ^ *b).as_bytes());
                    }
                }
            }
            transpose_columns(cols, STRIDE, nb, t);
            done += len;
        }
        zeroize_blocks(&mut t[n..]);
        t.truncate(n);
        out.start = start;
        out.used = 0;
        self.next += total as u64;
        Ok(ExtendMsg::from_writer(encoded, start, n))
    }
}
