//! The output of an extension: pools of random correlated OTs, consumed front to back by the
//! online phase (`ot::online`).
use kernels::{Aes128, Block};
use zeroize::Zeroize;

use crate::ot::wipe_blocks as zeroize_blocks;
use crate::ot::Result;

/// Wipes `v[keep..]` (the part of an old pool that a refill of `keep` items leaves behind).
pub(super) fn wipe_tail(v: &mut [Block], keep: usize) {
    if v.len() > keep {
        zeroize_blocks(&mut v[keep..]);
    }
}

/// The receiver's random correlated OTs: choice bits `r_j` and `t_j = q_j ⊕ r_j·Δ`
/// (`Default`: an empty pool, to be filled by [`CotReceiver::extend_into`]).
#[derive(Default)]
pub struct ReceiverCots {
    pub(crate) start: u64,
    /// Packed choice bits: `r_j` is bit `j % 128` of `choices[j / 128]`.
    pub(crate) choices: Vec<Block>,
    pub(crate) t: Vec<Block>,
    /// OTs already consumed by derandomisation.
    pub(crate) used: usize,
}

impl std::fmt::Debug for ReceiverCots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverCots")
            .field("start", &self.start)
            .field("len", &self.t.len())
            .field("used", &self.used)
            .finish_non_exhaustive()
    }
}

impl Drop for ReceiverCots {
    fn drop(&mut self) {
        zeroize_blocks(&mut self.choices);
        zeroize_blocks(&mut self.t);
    }
}

impl ReceiverCots {
    /// Index of the first OT.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Number of OTs.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// OTs not yet consumed online.
    pub fn remaining(&self) -> usize {
        self.t.len().saturating_sub(self.used)
    }

    /// The random choice bit `r_j`.
    ///
    /// # Panics
    /// If `j >= self.len()`.
    pub fn choice(&self, j: usize) -> bool {
        (self.choices[j / 128].to_u128() >> (j % 128)) & 1 == 1
    }

    /// The received messages `t_j = m_{r_j}`.
    pub fn messages(&self) -> &[Block] {
        &self.t
    }

    /// Random OT with independent messages: `H(t_j, start + j)` (the TCCR hash), which equals
    /// the sender's [`SenderCots::random_ot`] message `r_j`.
    pub fn random_ot(&self) -> Result<Vec<Block>> {
        let hash = Aes128::fixed()?;
        let mut out = self.t.clone();
        let tweaks = tweaks(self.start, out.len());
        hash.tccr_many(&mut out, &tweaks);
        Ok(out)
    }
}

fn tweaks(start: u64, n: usize) -> Vec<Block> {
    (0..n as u64)
        .map(|j| crate::ot::ot_tweak(start.wrapping_add(j)))
        .collect()
}

/// The sender's random correlated OTs: `q_j`, i.e. `m0 = q_j` and `m1 = q_j ⊕ Δ`
/// (`Default`: an empty pool, to be filled by [`CotSender::extend_into`]).
#[derive(Default)]
pub struct SenderCots {
    pub(crate) start: u64,
    pub(crate) delta: Block,
    pub(crate) q: Vec<Block>,
    pub(crate) used: usize,
}

impl std::fmt::Debug for SenderCots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderCots")
            .field("start", &self.start)
            .field("len", &self.q.len())
            .field("used", &self.used)
            .finish_non_exhaustive()
    }
}

impl Drop for SenderCots {
    fn drop(&mut self) {
        self.delta.as_bytes_mut().zeroize();
        zeroize_blocks(&mut self.q);
    }
}

impl SenderCots {
    /// Index of the first OT.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Number of OTs.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// OTs not yet consumed online.
    pub fn remaining(&self) -> usize {
        self.q.len() - self.used
    }

    /// The zero messages `q_j` (the one messages are `q_j ⊕ Δ`): usable directly as the
    /// zero labels of free-XOR input wires.
    pub fn messages(&self) -> &[Block] {
        &self.q
    }

    /// The global correlation `Δ`.
    pub fn delta(&self) -> Block {
        self.delta
    }

    /// Random OT with independent messages: `(H(q_j, start + j), H(q_j ⊕ Δ, start + j))`.
    pub fn random_ot(&self) -> Result<Vec<[Block; 2]>> {
        let hash = Aes128::fixed()?;
        let tw = tweaks(self.start, self.q.len());
        let mut m0 = self.q.clone();
        let mut m1: Vec<Block> = self.q.iter().map(|&q| q ^ self.delta).collect();
        hash.tccr_many(&mut m0, &tw);
        hash.tccr_many(&mut m1, &tw);
        Ok(m0.into_iter().zip(m1).map(|(a, b)| [a, b]).collect())
    }
}
