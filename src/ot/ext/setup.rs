//! The setup (once per session): base OTs with the roles reversed, then the GGM trees whose
//! leaves seed the extension's PRGs.
use kernels::{Aes128, Block};
use zeroize::Zeroize;

use super::ggm::{chunk_of, ggm_expand, path_bit};
use super::receiver::CotReceiver;
use super::sender::{CotSender, SenderChunk};
use super::vole::Scratch;
use super::{ExtParams, SeedMsg, BASE_OTS};
use crate::ot::base::{BaseReceiver, BaseReceiverMsg, BaseSender, BaseSenderMsg};
use crate::ot::rng::{AesCtrPrg, OtRng};
use crate::ot::wipe_blocks as zeroize_blocks;
use crate::ot::{OtError, Result};

/// Receiver (base-OT sender) during setup, waiting for the base-OT receiver's points.
#[derive(Debug)]
pub struct ExtReceiverSetup {
    params: ExtParams,
    base: BaseSender,
}

impl ExtReceiverSetup {
    /// Starts the setup: returns the state and the base-OT message `A` for the sender.
    pub fn start(params: ExtParams, rng: &mut OtRng) -> Result<(ExtReceiverSetup, BaseSenderMsg)> {
        let (base, msg) = BaseSender::new(BASE_OTS, rng)?;
        Ok((ExtReceiverSetup { params, base }, msg))
    }

    /// Finishes the base OTs, grows the GGM trees: returns the receiver and the seed message.
    pub fn finish(self, msg: &BaseReceiverMsg, rng: &mut OtRng) -> Result<(CotReceiver, SeedMsg)> {
        let params = self.params;
        let (k, leaves) = (params.k_usize(), params.leaves());
        let mut keys = self.base.finish(msg)?;
        let hash = Aes128::fixed()?;
        let mut corrections = Vec::with_capacity(BASE_OTS);
        let mut chunks = Vec::with_capacity(params.chunks());
        for i in 0..params.chunks() {
            let mut level = vec![Some(rng.block())];
            for l in 1..=k {
                level = ggm_expand(&hash, &level);
                let mut sums = [Block::ZERO; 2];
                for (j, n) in level.iter().enumerate() {
                    sums[j & 1] ^= n.unwrap_or(Block::ZERO);
                }
                let [m0, m1] = keys[i * k + l - 1];
                corrections.push([sums[0] ^ m0, sums[1] ^ m1]);
                zeroize_blocks(&mut sums);
            }
            debug_assert_eq!(level.len(), leaves);
            let prgs = level
                .iter_mut()
                .map(|s| {
                    let mut seed = s.take().unwrap_or(Block::ZERO);
                    let prg = AesCtrPrg::new(seed);
                    seed.as_bytes_mut().zeroize();
                    prg
                })
                .collect::<Result<Vec<_>>>()?;
            chunks.push(prgs);
        }
        for pair in keys.iter_mut() {
            zeroize_blocks(pair);
        }
        Ok((
            CotReceiver {
                params,
                chunks,
                next: 0,
                scratch: Scratch::new(params),
            },
            SeedMsg {
                k: params.k(),
                corrections,
            },
        ))
    }
}

/// Sender (base-OT receiver, holder of `Δ`) during setup, waiting for the seed message.
pub struct ExtSenderSetup {
    params: ExtParams,
    delta: Block,
    keys: Vec<Block>,
}

impl std::fmt::Debug for ExtSenderSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtSenderSetup")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Drop for ExtSenderSetup {
    fn drop(&mut self) {
        self.delta.as_bytes_mut().zeroize();
        zeroize_blocks(&mut self.keys);
    }
}

impl ExtSenderSetup {
    /// Answers the receiver's base-OT message `A`, with `Δ` (non-zero) as the correlation:
    /// returns the state and the base-OT points for the receiver.
    pub fn start(
        params: ExtParams,
        delta: Block,
        msg: &BaseSenderMsg,
        rng: &mut OtRng,
    ) -> Result<(ExtSenderSetup, BaseReceiverMsg)> {
        if delta == Block::ZERO {
            return Err(OtError::BadParams("Δ must be non-zero".into()));
        }
        let k = params.k_usize();
        let mut choices = Vec::with_capacity(BASE_OTS);
        for i in 0..params.chunks() {
            let a = chunk_of(delta, params, i);
            for l in 1..=k {
                choices.push(path_bit(a, k, l) == 0);
            }
        }
        let (reply, keys) = BaseReceiver::receive(msg, &choices, rng)?;
        choices.zeroize();
        Ok((
            ExtSenderSetup {
                params,
                delta,
                keys,
            },
            reply,
        ))
    }

    /// Rebuilds the punctured GGM trees from the seed message: returns the sender.
    pub fn finish(self, msg: &SeedMsg) -> Result<CotSender> {
        let params = self.params;
        if msg.k != params.k() || msg.corrections.len() != BASE_OTS {
            return Err(OtError::BadParams(
                "seed message for other parameters".into(),
            ));
        }
        let k = params.k_usize();
        let hash = Aes128::fixed()?;
        let mut chunks = Vec::with_capacity(params.chunks());
        for i in 0..params.chunks() {
            let a = chunk_of(self.delta, params, i);
            let mut level: Vec<Option<Block>> = vec![None];
            for l in 1..=k {
                level = ggm_expand(&hash, &level);
                let on_path = a >> (k - l);
                let sibling = on_path ^ 1;
                let side = sibling & 1;
                let mut sum = msg.corrections[i * k + l - 1][side] ^ self.keys[i * k + l - 1];
                for (j, n) in level.iter().enumerate() {
                    if j & 1 == side && j != sibling {
                        sum ^= n.unwrap_or(Block::ZERO);
                    }
                }
                level[sibling] = Some(sum);
                level[on_path] = None;
            }
            let mut prgs = Vec::with_capacity(params.leaves() - 1);
            for (x, s) in level.iter_mut().enumerate() {
                if let Some(mut seed) = s.take() {
                    prgs.push(((x ^ a) as u16, AesCtrPrg::new(seed)?));
                    seed.as_bytes_mut().zeroize();
                }
            }
            prgs.sort_by_key(|(d, _)| *d);
            chunks.push(SenderChunk { a, prgs });
        }
        Ok(CotSender {
            params,
            delta: self.delta,
            chunks,
            next: 0,
            scratch: Scratch::new(params),
        })
    }
}
