//! OT extension to random correlated OT with the sender's global `Δ`: SoftSpokenOT
//! (Roy, "SoftSpokenOT: Quieter OT Extension from Small-Field Silent VOLE in the Minicrypt
//! Model", CRYPTO 2022, eprint 2022/192), semi-honest variant; `k = 1` is IKNP (CRYPTO 2003)
//! with the ALSZ (CCS 2013) optimisations.
//!
//! # Roles
//! The OT-extension *receiver* (GC evaluator) is the base-OT *sender*, and the OT-extension
//! *sender* (garbler, holder of `Δ`) is the base-OT *receiver* whose choice bits come from `Δ`.
//!
//! # Setup (once per session)
//! The 128 bits of `Δ` are cut into `128/k` chunks of `k` bits, chunk `i` being the integer
//! `a_i = (Δ >> k·i) mod 2^k`. For each chunk the receiver grows a GGM tree of depth `k`
//! (children `H(s, 0)`, `H(s, 1)` with the fixed-key TCCR hash) with `2^k` leaves, and for each
//! level `l` sends the XOR of all left children and of all right children, each masked by one
//! of its two base-OT keys. The sender, whose base-OT choice at level `l` is the complement of
//! bit `l` (MSB first) of `a_i`, rebuilds every leaf except leaf `a_i` (a punctured PRF). Each
//! leaf seeds an AES-CTR PRG; `k = 1` degenerates to IKNP's two seeds per base OT.
//!
//! # Extension (any number of times)
//! For a batch of `ℓ` OTs (a multiple of 128) each leaf `x` of chunk `i` expands to an `ℓ`-bit
//! string `R_x`. The receiver computes `u_i = ⊕_x R_x` and, for each bit `b < k`,
//! `v_{i,b} = ⊕_{x : x_b = 1} R_x`; the sender, missing only `R_{a_i}`, computes
//! `w_{i,b} = ⊕_{x ≠ a_i : (x ⊕ a_i)_b = 1} R_x = v_{i,b} ⊕ (a_i)_b·u_i` (small-field VOLE).
//! The receiver's random choice bits are `r = u_0`; for `i ≥ 1` it sends `c_i = u_0 ⊕ u_i`
//! (`(128/k − 1)·ℓ` bits: 3.875 bytes per OT at `k = 4`), and the sender adds `(a_i)_b·c_i` to
//! its `w_{i,b}`. Column `k·i + b` of the two 128-column matrices is `v_{i,b}` resp. `w_{i,b}`;
//! transposed, row `j` gives `t_j` (receiver) and `q_j` (sender) with `t_j = q_j ⊕ r_j·Δ`.
//! The sender's view (`c_i`) is uniformly random whatever `r` is, because each `u_i` is masked
//! by the PRG output of the leaf the sender lacks.
//!
//! # Costs (per OT and party, `k = 4`)
//! `2^k/k = 4` AES blocks of PRG (IKNP: 1 for the sender, 2 for the receiver), about
//! `2^k·(1 + k/2)/k = 12` block XORs, one 128-bit transpose row; 3.875 bytes sent.
use kernels::{Aes128, Block};
use zeroize::Zeroize;

use super::base::{BaseReceiver, BaseReceiverMsg, BaseSender, BaseSenderMsg};
use super::msg::{Reader, Writer};
use super::rng::{AesCtrPrg, OtRng};
use super::transpose::transpose_columns;
use super::{OtError, Result};

/// Number of base OTs (one per bit of `Δ`).
pub const BASE_OTS: usize = 128;

/// Largest number of OTs in one extension call (bounds every allocation a peer drives; an
/// IKNP message for this many is 133 MB, under the channel's frame limit).
pub const MAX_EXTEND: usize = 1 << 23;

/// OTs per internal sub-batch (keeps the 128 columns of a sub-batch in L2).
const SUB_BATCH: usize = 1 << 13;

/// Distance in blocks between two columns of a sub-batch: 64 bytes more than a column, so
/// that the transpose's 128 loads from one row of tiles fall in different L1 sets (a stride
/// of exactly 1 KiB maps them all to 4 of the 64 sets).
const STRIDE: usize = SUB_BATCH / 128 + 4;

const TAG_SEEDS: u8 = 0x11;
const TAG_EXTEND: u8 = 0x12;

/// Parameters of the extension: `k`, the bits per small-field VOLE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExtParams {
    k: u8,
}

impl Default for ExtParams {
    /// SoftSpokenOT with `k = 4`: 3.875 bytes per OT.
    fn default() -> ExtParams {
        ExtParams::SOFTSPOKEN_4
    }
}

impl ExtParams {
    /// IKNP with the ALSZ optimisations (`k = 1`): 15.875 bytes per OT, the least computation.
    pub const IKNP: ExtParams = ExtParams { k: 1 };
    /// SoftSpokenOT with `k = 2`: 7.875 bytes per OT.
    pub const SOFTSPOKEN_2: ExtParams = ExtParams { k: 2 };
    /// SoftSpokenOT with `k = 4`: 3.875 bytes per OT (the default).
    pub const SOFTSPOKEN_4: ExtParams = ExtParams { k: 4 };
    /// SoftSpokenOT with `k = 8`: 1.875 bytes per OT, 32 PRG blocks per OT and party.
    pub const SOFTSPOKEN_8: ExtParams = ExtParams { k: 8 };

    /// `k` ∈ {1, 2, 4, 8}.
    pub fn new(k: u8) -> Result<ExtParams> {
        match k {
            1 | 2 | 4 | 8 => Ok(ExtParams { k }),
            _ => Err(OtError::BadParams(format!(
                "SoftSpokenOT k = {k}: supported are 1, 2, 4, 8"
            ))),
        }
    }

    /// Bits per small-field VOLE.
    pub fn k(self) -> u8 {
        self.k
    }

    fn k_usize(self) -> usize {
        self.k as usize
    }

    /// Number of chunks of `Δ` (`128 / k`).
    pub fn chunks(self) -> usize {
        BASE_OTS / self.k_usize()
    }

    fn leaves(self) -> usize {
        1 << self.k
    }

    /// Bytes the receiver sends per extended OT (asymptotically).
    pub fn bytes_per_ot(self) -> f64 {
        (self.chunks() - 1) as f64 / 8.0
    }

    /// A short name for reports: `iknp` or `softspoken-k`.
    pub fn name(self) -> String {
        if self.k == 1 {
            "iknp".into()
        } else {
            format!("softspoken-{}", self.k)
        }
    }
}

use super::wipe_blocks as zeroize_blocks;

/// Wipes `v[keep..]` (the part of an old pool that a refill of `keep` items leaves behind).
fn wipe_tail(v: &mut [Block], keep: usize) {
    if v.len() > keep {
        zeroize_blocks(&mut v[keep..]);
    }
}

/// The level-`l` (1-based) GGM path bit of leaf `x` in a depth-`k` tree (MSB first).
fn path_bit(x: usize, k: usize, l: usize) -> usize {
    (x >> (k - l)) & 1
}

/// Expands every node of a GGM level into its two children (`H(s,0)`, `H(s,1)`); nodes equal to
/// `None` (unknown) stay unknown.
fn ggm_expand(hash: &Aes128, level: &[Option<Block>]) -> Vec<Option<Block>> {
    let mut xs: Vec<Block> = level
        .iter()
        .flat_map(|n| {
            let s = n.unwrap_or(Block::ZERO);
            [s, s]
        })
        .collect();
    let tweaks: Vec<Block> = (0..xs.len())
        .map(|j| Block::from_u128((j & 1) as u128))
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

/// The receiver's setup message: for each chunk and level, the two masked level sums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedMsg {
    k: u8,
    /// `(K0 ⊕ m0, K1 ⊕ m1)` per base OT, in base-OT order (chunk-major, level 1 first).
    corrections: Vec<[Block; 2]>,
}

impl SeedMsg {
    /// Encodes the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(TAG_SEEDS, 1 + 32 * self.corrections.len());
        w.bytes(&[self.k]);
        for [c0, c1] in &self.corrections {
            w.bytes(c0.as_bytes());
            w.bytes(c1.as_bytes());
        }
        w.finish()
    }

    /// Decodes and validates against the parameters the decoder expects.
    pub fn from_bytes(bytes: &[u8], params: ExtParams) -> Result<SeedMsg> {
        let what = "OT-extension seed message";
        let mut r = Reader::new(bytes, TAG_SEEDS, what)?;
        let [k] = r.array::<1>()?;
        if k != params.k {
            return Err(OtError::BadParams(format!(
                "peer uses k = {k}, this party k = {}",
                params.k
            )));
        }
        r.expect_remaining(32 * BASE_OTS)?;
        let mut corrections = Vec::with_capacity(BASE_OTS);
        for _ in 0..BASE_OTS {
            let c0 = Block::new(r.array::<16>()?);
            let c1 = Block::new(r.array::<16>()?);
            corrections.push([c0, c1]);
        }
        r.end()?;
        Ok(SeedMsg { k, corrections })
    }
}

/// One extension message: the corrections `c_i = u_0 ⊕ u_i`, `i ≥ 1`, of every sub-batch
/// (16 bytes per block, sub-batch-major, chunk 1 first), kept in its encoded form — tag,
/// `start` (u64), `n` (u32), corrections — so that sending and receiving it copies nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtendMsg {
    start: u64,
    n: u32,
    encoded: Vec<u8>,
}

/// Bytes before the corrections of an encoded [`ExtendMsg`].
const EXTEND_HEADER: usize = 1 + 8 + 4;

/// Number of padded OTs (a multiple of 128) for `n` requested.
fn padded(n: usize) -> usize {
    n.div_ceil(128) * 128
}

impl ExtendMsg {
    fn correction_blocks(params: ExtParams, n: usize) -> usize {
        (params.chunks() - 1) * padded(n) / 128
    }

    /// Encoded length of the message for `n` OTs.
    pub fn len_for(params: ExtParams, n: usize) -> usize {
        1 + 8 + 4 + 16 * ExtendMsg::correction_blocks(params, n)
    }

    /// Index of the first OT this message extends (both parties count OTs from 0).
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Number of OTs requested.
    pub fn n(&self) -> usize {
        self.n as usize
    }

    /// The correction bytes.
    fn corrections(&self) -> &[u8] {
        &self.encoded[EXTEND_HEADER..]
    }

    /// The encoding, borrowed (what goes on the wire).
    pub fn as_bytes(&self) -> &[u8] {
        &self.encoded
    }

    /// The encoding, copied.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encoded.clone()
    }

    /// The encoding, its buffer handed back (for reuse).
    pub fn into_bytes(self) -> Vec<u8> {
        self.encoded
    }

    /// Decodes and validates: at most `max_n` OTs, and exactly the bytes `n` OTs need.
    pub fn from_bytes(bytes: &[u8], params: ExtParams, max_n: usize) -> Result<ExtendMsg> {
        ExtendMsg::from_vec(bytes.to_vec(), params, max_n)
    }

    /// As [`ExtendMsg::from_bytes`], keeping the buffer it is given.
    pub fn from_vec(bytes: Vec<u8>, params: ExtParams, max_n: usize) -> Result<ExtendMsg> {
        let what = "OT-extension message";
        let mut r = Reader::new(&bytes, TAG_EXTEND, what)?;
        let start = r.u64()?;
        let n32 = r.u32()?;
        let n = n32 as usize;
        let max = max_n.min(MAX_EXTEND);
        if n == 0 || n > max {
            return Err(OtError::BadCount {
                what: "OTs in an extension message",
                n,
                max,
            });
        }
        r.expect_remaining(16 * ExtendMsg::correction_blocks(params, n))?;
        Ok(ExtendMsg {
            start,
            n: n32,
            encoded: bytes,
        })
    }
}

/// XORs 16-byte little-endian blocks read from `src` into `dst`.
#[inline]
fn xor_bytes_into(dst: &mut [Block], src: &[u8]) {
    for (d, c) in dst.iter_mut().zip(src.chunks_exact(16)) {
        let mut b = [0u8; 16];
        b.copy_from_slice(c);
        *d ^= Block::new(b);
    }
}

pub(crate) fn check_extend_count(n: usize) -> Result<()> {
    if n == 0 || n > MAX_EXTEND {
        return Err(OtError::BadCount {
            what: "OTs per extension",
            n,
            max: MAX_EXTEND,
        });
    }
    Ok(())
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
        .map(|j| Block::from_u128(start.wrapping_add(j) as u128))
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
                k: params.k,
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

fn chunk_of(delta: Block, params: ExtParams, i: usize) -> usize {
    let k = params.k_usize();
    ((delta.to_u128() >> (k * i)) as usize) & (params.leaves() - 1)
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
        if msg.k != params.k || msg.corrections.len() != BASE_OTS {
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

struct SenderChunk {
    /// The punctured leaf (`Δ`'s bits of this chunk).
    a: usize,
    /// `(x ⊕ a, PRG of leaf x)` for every leaf `x ≠ a`.
    prgs: Vec<(u16, AesCtrPrg)>,
}

/// Test hook over the receiver's leaf PRG outputs.
type LeafHook<'a> = dyn Fn(usize, usize, usize, &mut [Block]) + 'a;

/// The OT-extension receiver after setup: extends random correlated OTs on demand.
pub struct CotReceiver {
    params: ExtParams,
    chunks: Vec<Vec<AesCtrPrg>>,
    next: u64,
    scratch: Scratch,
}

/// Working memory of one sub-batch, kept between extensions (it holds PRG outputs: wiped on
/// drop).
struct Scratch {
    /// 128 columns, [`STRIDE`] blocks apart.
    cols: Vec<Block>,
    /// The small-VOLE tree stack: `k + 1` buffers of a sub-batch's blocks.
    stack: Vec<Block>,
}

impl Scratch {
    fn new(params: ExtParams) -> Scratch {
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

impl std::fmt::Debug for CotReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CotReceiver")
            .field("params", &self.params)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// One small-field VOLE over `nb` blocks: `leaf(x, buf)` writes leaf `x`'s PRG output `R_x`;
/// sets plane `b` (`planes[b·stride ..][..nb]`) to `⊕_{x : x_b = 1} R_x` for `b < k` and returns `u = ⊕_x R_x`.
///
/// Leaves are summed up their binary tree as they stream in (a stack of `k + 1` buffers): a
/// node that is a right child at level `b` is the sum of the leaves with `x_b = 1` under it,
/// so it is added to plane `b` before being merged into its parent — `2·(2^k − 1)` block XORs
/// per chunk instead of `(1 + k/2)·2^k`.
fn small_vole<'s>(
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
fn xor_into(dst: &mut [Block], src: &[Block]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= *s;
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
    fn extend_hooked(
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
        let mut encoded = msg_buf;
        encoded.clear();
        encoded.reserve(ExtendMsg::len_for(params, n));
        encoded.push(TAG_EXTEND);
        encoded.extend_from_slice(&start.to_le_bytes());
        encoded.extend_from_slice(&(n as u32).to_le_bytes());
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
                        encoded.extend_from_slice((*a ^ *b).as_bytes());
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
        Ok(ExtendMsg {
            start,
            n: n as u32,
            encoded,
        })
    }
}

/// The OT-extension sender after setup: extends random correlated OTs with its `Δ`.
pub struct CotSender {
    params: ExtParams,
    delta: Block,
    chunks: Vec<SenderChunk>,
    next: u64,
    scratch: Scratch,
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn rng(seed: u128) -> OtRng {
        OtRng::from_seed(Block::from_u128(seed)).unwrap()
    }

    /// Runs the setup in memory, through the byte encodings.
    pub(crate) fn setup(params: ExtParams, delta: Block, seed: u128) -> (CotSender, CotReceiver) {
        let (mut rs, mut rr) = (rng(seed), rng(seed + 1));
        let (rsetup, a) = ExtReceiverSetup::start(params, &mut rr).unwrap();
        let a = BaseSenderMsg::from_bytes(&a.to_bytes()).unwrap();
        let (ssetup, b) = ExtSenderSetup::start(params, delta, &a, &mut rs).unwrap();
        let b = BaseReceiverMsg::from_bytes(&b.to_bytes(), BASE_OTS).unwrap();
        let (receiver, seeds) = rsetup.finish(&b, &mut rr).unwrap();
        let seeds = SeedMsg::from_bytes(&seeds.to_bytes(), params).unwrap();
        let sender = ssetup.finish(&seeds).unwrap();
        (sender, receiver)
    }

    fn delta() -> Block {
        Block::from_u128(0x0123_4567_89ab_cdef_fedc_ba98_7654_3211)
    }

    pub(crate) fn check_cot(s: &SenderCots, r: &ReceiverCots) {
        assert_eq!(s.len(), r.len());
        assert_eq!(s.start(), r.start());
        let mut ones = 0;
        for j in 0..s.len() {
            let c = r.choice(j);
            ones += c as usize;
            let m0 = s.messages()[j];
            let m1 = m0 ^ s.delta();
            assert_eq!(r.messages()[j], if c { m1 } else { m0 }, "OT {j}");
        }
        if s.len() >= 1000 {
            let frac = ones as f64 / s.len() as f64;
            assert!((0.45..0.55).contains(&frac), "choice bits biased: {frac}");
        }
    }

    #[test]
    fn cot_correlation_holds_for_every_k() {
        for params in [
            ExtParams::IKNP,
            ExtParams::SOFTSPOKEN_2,
            ExtParams::SOFTSPOKEN_4,
            ExtParams::SOFTSPOKEN_8,
        ] {
            let (mut s, mut r) = setup(params, delta(), 10);
            for n in [1usize, 127, 128, 129, 3000, SUB_BATCH + 1] {
                let (rc, msg) = r.extend(n).unwrap();
                let bytes = msg.to_bytes();
                assert_eq!(bytes.len(), ExtendMsg::len_for(params, n));
                let msg = ExtendMsg::from_bytes(&bytes, params, n).unwrap();
                let sc = s.extend(&msg).unwrap();
                check_cot(&sc, &rc);
                assert_eq!(sc.len(), n);
            }
        }
    }

    #[test]
    fn cot_large_batch_within_four_bytes_per_ot() {
        // (10^6 OTs end to end over TCP: `io::tests::labels_over_tcp_loopback_million`.)
        let n = 200_000;
        let (mut s, mut r) = setup(ExtParams::default(), delta().with_lsb(true), 11);
        let (rc, msg) = r.extend(n).unwrap();
        let sc = s.extend(&msg).unwrap();
        check_cot(&sc, &rc);
        let bytes = msg.to_bytes().len() as f64 / n as f64;
        assert!(bytes <= 4.0, "{bytes} bytes per OT");
    }

    #[test]
    fn extend_into_reuses_pools_across_sizes() {
        let (mut s, mut r) = setup(ExtParams::default(), delta(), 15);
        let (mut sp, mut rp) = (SenderCots::default(), ReceiverCots::default());
        let mut buf = Vec::new();
        for n in [5000usize, 130, 1, 9000] {
            let msg = r.extend_into(n, &mut rp, buf).unwrap();
            s.extend_into(&msg, &mut sp).unwrap();
            assert_eq!(rp.len(), n);
            check_cot(&sp, &rp);
            buf = msg.into_bytes();
        }
    }

    #[test]
    fn random_ot_hashes_match() {
        let (mut s, mut r) = setup(ExtParams::default(), delta(), 12);
        let (rc, msg) = r.extend(300).unwrap();
        let sc = s.extend(&msg).unwrap();
        let pairs = sc.random_ot().unwrap();
        let got = rc.random_ot().unwrap();
        for j in 0..300 {
            let [m0, m1] = pairs[j];
            assert_eq!(got[j], if rc.choice(j) { m1 } else { m0 });
            assert_ne!(m0 ^ m1, sc.delta(), "hashed messages are not Δ-correlated");
        }
    }

    #[test]
    fn extension_rejects_bad_messages() {
        let params = ExtParams::default();
        let (mut s, mut r) = setup(params, delta(), 13);
        let (_, msg) = r.extend(256).unwrap();
        let bytes = msg.to_bytes();
        // Truncated, extended, wrong tag, count over the limit or zero, wrong k.
        assert!(ExtendMsg::from_bytes(&bytes[..bytes.len() - 1], params, 256).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(ExtendMsg::from_bytes(&long, params, 256).is_err());
        let mut tag = bytes.clone();
        tag[0] = TAG_SEEDS;
        assert!(matches!(
            ExtendMsg::from_bytes(&tag, params, 256),
            Err(OtError::BadTag { .. })
        ));
        assert!(matches!(
            ExtendMsg::from_bytes(&bytes, params, 255),
            Err(OtError::BadCount { .. })
        ));
        let mut huge = bytes.clone();
        huge[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(ExtendMsg::from_bytes(&huge, params, usize::MAX).is_err());
        let mut zero = bytes.clone();
        zero[9..13].copy_from_slice(&0u32.to_le_bytes());
        assert!(ExtendMsg::from_bytes(&zero, params, 256).is_err());
        assert!(ExtendMsg::from_bytes(&bytes, ExtParams::IKNP, 256).is_err());
        assert!(ExtendMsg::from_bytes(&[], params, 256).is_err());
        // Out of step: a replayed or skipped message.
        let mut skipped = msg.clone();
        skipped.start = 256;
        assert!(matches!(s.extend(&skipped), Err(OtError::OutOfStep { .. })));
        let mut short = msg.clone();
        short.encoded.truncate(short.encoded.len() - 16);
        assert!(matches!(
            s.extend(&short),
            Err(OtError::CountMismatch { .. })
        ));
        s.extend(&msg).unwrap();
        assert!(matches!(s.extend(&msg), Err(OtError::OutOfStep { .. })));
        // Seed message of other parameters, truncated.
        let (_, mut rr) = (rng(1), rng(2));
        let (rsetup, a) = ExtReceiverSetup::start(params, &mut rr).unwrap();
        let (_, b) = ExtSenderSetup::start(params, delta(), &a, &mut rng(3)).unwrap();
        let (_, seeds) = rsetup.finish(&b, &mut rr).unwrap();
        let sb = seeds.to_bytes();
        assert!(SeedMsg::from_bytes(&sb, ExtParams::IKNP).is_err());
        assert!(SeedMsg::from_bytes(&sb[..sb.len() - 16], params).is_err());
        assert!(ExtSenderSetup::start(params, Block::ZERO, &a, &mut rng(3)).is_err());
        assert!(r.extend(0).is_err());
        assert!(r.extend(MAX_EXTEND + 1).is_err());
        assert!(ExtParams::new(3).is_err());
    }

    #[test]
    fn sender_view_is_independent_of_receiver_choices() {
        // Structural check with fixed randomness: the sender never sees the PRG output of the
        // punctured leaf a_i of any chunk. Adding the same string δ to that output in every
        // chunk turns the receiver's choice vector r into r ⊕ δ (any vector at all), yet every
        // byte the sender receives (setup and extension) is unchanged, and the sender's q is
        // still correctly correlated with the new receiver. So the sender's view is the same
        // for every choice vector: it carries no information about the choices.
        let params = ExtParams::default();
        let d = delta();
        let n = 1000;
        let (mut s, mut r) = setup(params, d, 14);
        let (_, mut r2) = setup(params, d, 14);
        let (rc, msg) = r.extend(n).unwrap();
        let mut offsets = vec![Block::ZERO; padded(n) / 128];
        rng(99).fill_blocks(&mut offsets);
        let hook = |i: usize, x: usize, first: usize, buf: &mut [Block]| {
            if x == chunk_of(d, params, i) {
                xor_into(buf, &offsets[first..first + buf.len()]);
            }
        };
        let mut rc2 = ReceiverCots::default();
        let msg2 = r2
            .extend_hooked(n, Some(&hook), &mut rc2, Vec::new())
            .unwrap();
        assert_eq!(msg.to_bytes(), msg2.to_bytes(), "sender's view changed");
        let sc = s.extend(&msg).unwrap();
        check_cot(&sc, &rc);
        check_cot(&sc, &rc2);
        for j in 0..n {
            let flip = (offsets[j / 128].to_u128() >> (j % 128)) & 1 == 1;
            assert_eq!(rc2.choice(j), rc.choice(j) ^ flip);
        }
    }
}
