//! Half-gates AND gates (Zahur–Rosulek–Evans 2015) under the tweakable CCR hash
//! `H(x, i) = π(π(x) ⊕ i) ⊕ π(x)` ([`super::Aes128::tccr_many`]): the portable reference
//! of [`super::Aes128::garble_ands`] / [`super::Aes128::evaluate_ands`], and the path of every
//! backend without a fused kernel (it batches the hashes through `tccr_many`).
use super::Aes128;
use crate::block::Block;
use zeroize::Zeroize;

/// Gates per hashing batch (the garbler hashes four blocks per gate).
const BATCH: usize = 16;

/// Bytes of one garbled AND gate: the garbler half-table `T_G`, then the evaluator's `T_E`.
pub const TABLE_BYTES: usize = 32;

/// The tweak of half `half` (0: garbler's, 1: evaluator's) of AND gate number `gate`:
/// the block `(2·gate + half) mod 2^64 + 2^64 · domain`.
#[inline(always)]
pub fn tweak(gate: u64, half: bool, domain: u64) -> Block {
    Block::from_u64s(gate.wrapping_mul(2) | u64::from(half), domain)
}

/// See [`Aes128::garble_ands`]; lengths checked by the caller.
#[allow(clippy::too_many_arguments)]
pub(super) fn garble(
    aes: &Aes128,
    delta: Block,
    flips: [Block; 2],
    a: &[Block],
    b: &[Block],
    gate: u64,
    domain: u64,
    out: &mut [Block],
    tables: &mut [u8],
) {
    let mut h = [Block::ZERO; 4 * BATCH];
    let mut tw = [Block::ZERO; 4 * BATCH];
    for c0 in (0..a.len()).step_by(BATCH) {
        let n = BATCH.min(a.len() - c0);
        for i in 0..n {
            let t = gate.wrapping_add((c0 + i) as u64);
            let (a0, b0) = (a[c0 + i] ^ flips[0], b[c0 + i] ^ flips[1]);
            h[4 * i..4 * i + 4].copy_from_slice(&[a0, a0 ^ delta, b0, b0 ^ delta]);
            let (j0, j1) = (tweak(t, false, domain), tweak(t, true, domain));
            tw[4 * i..4 * i + 4].copy_from_slice(&[j0, j0, j1, j1]);
        }
        aes.tccr_many(&mut h[..4 * n], &tw[..4 * n]);
        for i in 0..n {
            let (a0, b0) = (a[c0 + i] ^ flips[0], b[c0 + i] ^ flips[1]);
            let (pa, pb) = (a0.lsb(), b0.lsb());
            let h = &h[4 * i..4 * i + 4];
            let tg = h[0] ^ h[1] ^ delta.and_bit(pb);
            let wg = h[0] ^ tg.and_bit(pa);
            let te = h[2] ^ h[3] ^ a0;
            let we = h[2] ^ (te ^ a0).and_bit(pb);
            out[c0 + i] = wg ^ we;
            let t = &mut tables[TABLE_BYTES * (c0 + i)..][..TABLE_BYTES];
            t[..16].copy_from_slice(tg.as_bytes());
            t[16..].copy_from_slice(te.as_bytes());
        }
    }
    h.zeroize();
}

/// See [`Aes128::evaluate_ands`]; lengths checked by the caller.
pub(super) fn evaluate(
    aes: &Aes128,
    a: &[Block],
    b: &[Block],
    tables: &[u8],
    gate: u64,
    domain: u64,
    out: &mut [Block],
) {
    let mut h = [Block::ZERO; 2 * BATCH];
    let mut tw = [Block::ZERO; 2 * BATCH];
    for c0 in (0..a.len()).step_by(BATCH) {
        let n = BATCH.min(a.len() - c0);
        for i in 0..n {
            let t = gate.wrapping_add((c0 + i) as u64);
            h[2 * i] = a[c0 + i];
            h[2 * i + 1] = b[c0 + i];
            tw[2 * i] = tweak(t, false, domain);
            tw[2 * i + 1] = tweak(t, true, domain);
        }
        aes.tccr_many(&mut h[..2 * n], &tw[..2 * n]);
        for i in 0..n {
            let (x, y) = (a[c0 + i], b[c0 + i]);
            let t = &tables[TABLE_BYTES * (c0 + i)..][..TABLE_BYTES];
            let tg = Block::try_from_slice(&t[..16]).expect("16 bytes");
            let te = Block::try_from_slice(&t[16..]).expect("16 bytes");
            let wg = h[2 * i] ^ tg.and_bit(x.lsb());
            let we = h[2 * i + 1] ^ (te ^ x).and_bit(y.lsb());
            out[c0 + i] = wg ^ we;
        }
    }
    h.zeroize();
}
