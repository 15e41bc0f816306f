//! Online phase: Beaver derandomisation of the offline random correlated OTs.
//!
//! The receiver holds `(r_j, t_j = q_j ⊕ r_j·Δ)`, the sender `q_j` and `Δ`. With its real
//! choices `b_j` the receiver sends `d_j = b_j ⊕ r_j` ([`ChoiceMsg`], one bit per OT — a one-time
//! pad of `b_j`, since `r_j` is uniform and hidden from the sender). Then either
//! * **labels** ([`LabelMsg`], 16 bytes per OT): for free-XOR labels `(w0_j, w0_j ⊕ Δ)` the
//!   sender sends `y_j = w0_j ⊕ q_j ⊕ d_j·Δ`, and the receiver's label is
//!   `y_j ⊕ t_j = w0_j ⊕ b_j·Δ`; or
//! * **chosen messages** ([`ChosenMsg`], 32 bytes per OT): for arbitrary `(x0_j, x1_j)` the
//!   sender sends `z_{j,e} = x_{j,e} ⊕ H(q_j ⊕ (e ⊕ d_j)·Δ, i_j)` for `e ∈ {0, 1}` (H the
//!   TCCR hash, `i_j` the global OT index), and the receiver gets `x_{j,b_j} = z_{j,b_j} ⊕
//!   H(t_j, i_j)`.
//!
//! Each offline OT is consumed once: both parties' pools keep a cursor and every message
//! names the index of its first OT, checked by the sender.
use kernels::{Aes128, Block};

use super::ext::{ReceiverCots, SenderCots, MAX_EXTEND};
use super::{wipe_blocks, OtError, Result};
use crate::codec::{self, Reader, Writer};

const TAG_CHOICE: u8 = 0x21;
const TAG_LABELS: u8 = 0x22;
const TAG_CHOSEN: u8 = 0x23;

/// The receiver's online message: `d = b ⊕ r`, packed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChoiceMsg {
    /// Global index of the first OT used.
    pub start: u64,
    /// Number of OTs.
    pub n: u32,
    /// `d_j` is bit `j % 8` of byte `j / 8`; unused bits are zero.
    bits: Vec<u8>,
}

impl ChoiceMsg {
    /// The flip bit `d_j`.
    pub fn bit(&self, j: usize) -> bool {
        codec::bit(&self.bits, j)
    }

    /// Encoded length for `n` OTs.
    pub const fn len_for(n: usize) -> usize {
        1 + 8 + 4 + n.div_ceil(8)
    }

    /// Checks one frame of the sender's chunked label answer to this message, the labels
    /// `offset..offset + n` (an encoded [`LabelMsg`] for exactly that range), as
    /// [`PendingLabels::finish_chunk`] does, without decoding it.
    pub fn check_label_frame(&self, offset: usize, n: usize, frame: &[u8]) -> Result<()> {
        let what = "OT label message";
        if offset
            .checked_add(n)
            .is_none_or(|end| end > self.n as usize)
        {
            return Err(OtError::CountMismatch {
                what,
                expected: (self.n as usize).saturating_sub(offset),
                got: n,
            });
        }
        let mut r = Reader::new(frame, what);
        check_header(&mut r, TAG_LABELS, what, self.start + offset as u64, n)?;
        r.expect_remaining(16 * n)?;
        r.take(16 * n)?;
        r.finish()?;
        Ok(())
    }

    /// Encodes the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(ChoiceMsg::len_for(self.n as usize));
        w.u8(TAG_CHOICE);
        w.u64(self.start);
        w.u32(self.n);
        w.bytes(&self.bits);
        w.into_vec()
    }

    /// Decodes and validates: 1 ≤ n ≤ `max_n`, exact length, zero padding bits.
    pub fn from_bytes(bytes: &[u8], max_n: usize) -> Result<ChoiceMsg> {
        let what = "OT choice message";
        let mut r = Reader::new(bytes, what);
        r.tag(TAG_CHOICE)?;
        let start = r.u64()?;
        let n32 = r.u32()?;
        let n = n32 as usize;
        let max = max_n.min(MAX_EXTEND);
        if n == 0 || n > max {
            return Err(OtError::BadCount {
                what: "OTs in a choice message",
                n,
                max,
            });
        }
        r.expect_remaining(n.div_ceil(8))?;
        let bits = r.bits(n)?.to_vec();
        r.finish()?;
        Ok(ChoiceMsg {
            start,
            n: n32,
            bits,
        })
    }
}

/// Reads a message's header (tag, index of its first OT, count) and checks it against the
/// `start` and `n` the state expects.
fn check_header(
    r: &mut Reader<'_>,
    tag: u8,
    what: &'static str,
    start: u64,
    n: usize,
) -> Result<()> {
    r.tag(tag)?;
    let got_start = r.u64()?;
    let got_n = r.u32()? as usize;
    if got_start != start {
        return Err(OtError::OutOfStep {
            what,
            expected: start,
            got: got_start,
        });
    }
    if got_n != n {
        return Err(OtError::CountMismatch {
            what,
            expected: n,
            got: got_n,
        });
    }
    Ok(())
}

/// Decodes `start`, `n` and `n·width` bytes of blocks for a message whose `n` is known.
fn decode_blocks(
    bytes: &[u8],
    tag: u8,
    what: &'static str,
    start: u64,
    n: usize,
    width: usize,
) -> Result<Vec<Block>> {
    let mut r = Reader::new(bytes, what);
    check_header(&mut r, tag, what, start, n)?;
    r.expect_remaining(16 * width * n)?;
    let raw = r.take(16 * width * n)?;
    let blocks = blocks_from_bytes(raw);
    r.finish()?;
    Ok(blocks)
}

/// Blocks from bytes whose length is a multiple of 16 (checked by the caller; a ragged tail
/// would be dropped).
pub(crate) fn blocks_from_bytes(raw: &[u8]) -> Vec<Block> {
    let mut out = Vec::with_capacity(raw.len() / 16);
    out.extend(raw.chunks_exact(16).map(|c| {
        let mut b = [0u8; 16];
        b.copy_from_slice(c);
        Block::new(b)
    }));
    out
}

fn encode_blocks(tag: u8, start: u64, n: usize, blocks: &[Block]) -> Vec<u8> {
    let mut w = Writer::with_capacity(13 + 16 * blocks.len());
    w.u8(tag);
    w.u64(start);
    w.u32(n as u32);
    w.bytes(Block::slice_as_bytes(blocks));
    w.into_vec()
}

/// The sender's answer with masked free-XOR labels `y_j = w0_j ⊕ q_j ⊕ d_j·Δ`, kept in its
/// encoded form (tag, start, count, then 16 bytes per label) so that sending and receiving it
/// copies nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelMsg {
    /// Global index of the first OT used.
    pub start: u64,
    encoded: Vec<u8>,
}

/// Bytes before the first label of an encoded [`LabelMsg`].
const LABEL_HEADER: usize = 1 + 8 + 4;

impl LabelMsg {
    /// Number of labels.
    pub fn len(&self) -> usize {
        (self.encoded.len() - LABEL_HEADER) / 16
    }

    /// Encoded length of a message with `n` labels.
    pub const fn len_for(n: usize) -> usize {
        LABEL_HEADER + 16 * n
    }

    /// Whether it carries none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The masked labels `y_j`.
    pub fn masked(&self) -> impl Iterator<Item = Block> + '_ {
        self.encoded[LABEL_HEADER..].chunks_exact(16).map(|c| {
            let mut b = [0u8; 16];
            b.copy_from_slice(c);
            Block::new(b)
        })
    }

    /// The encoding, borrowed (what goes on the wire).
    pub fn as_bytes(&self) -> &[u8] {
        &self.encoded
    }

    /// The encoding, copied.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encoded.clone()
    }

    /// Decodes and validates (tag, start, count and exact length against what the receiver
    /// is waiting for), copying `bytes`.
    pub fn from_bytes(bytes: &[u8], pending: &PendingLabels) -> Result<LabelMsg> {
        LabelMsg::from_vec(bytes.to_vec(), pending)
    }

    /// The encoding, its buffer handed back (for reuse).
    pub fn into_bytes(self) -> Vec<u8> {
        self.encoded
    }

    /// As [`LabelMsg::from_bytes`], keeping the buffer it is given.
    pub fn from_vec(bytes: Vec<u8>, pending: &PendingLabels) -> Result<LabelMsg> {
        let (start, n) = (pending.start, pending.t.len());
        let mut r = Reader::new(&bytes, "OT label message");
        check_header(&mut r, TAG_LABELS, "OT label message", start, n)?;
        r.expect_remaining(16 * n)?;
        Ok(LabelMsg {
            start,
            encoded: bytes,
        })
    }
}

/// The sender's answer with two masked chosen messages per OT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenMsg {
    /// Global index of the first OT used.
    pub start: u64,
    /// `z_{j,0}, z_{j,1}` for each OT `j`, flattened.
    pub masked: Vec<Block>,
}

impl ChosenMsg {
    /// Encodes the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_blocks(TAG_CHOSEN, self.start, self.masked.len() / 2, &self.masked)
    }

    /// Decodes and validates against what the receiver is waiting for.
    pub fn from_bytes(bytes: &[u8], pending: &PendingChosen) -> Result<ChosenMsg> {
        let masked = decode_blocks(
            bytes,
            TAG_CHOSEN,
            "OT chosen-message message",
            pending.start,
            pending.t.len(),
            2,
        )?;
        Ok(ChosenMsg {
            start: pending.start,
            masked,
        })
    }
}

/// What the receiver keeps between its choice message and the sender's answer.
pub struct PendingLabels {
    start: u64,
    t: Vec<Block>,
}

/// What the receiver keeps for a chosen-message answer.
pub struct PendingChosen {
    start: u64,
    choices: Vec<bool>,
    t: Vec<Block>,
}

macro_rules! secret_debug_drop {
    ($t:ty) => {
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("start", &self.start)
                    .field("n", &self.t.len())
                    .finish_non_exhaustive()
            }
        }
        impl Drop for $t {
            fn drop(&mut self) {
                wipe_blocks(&mut self.t);
            }
        }
    };
}
secret_debug_drop!(PendingLabels);
secret_debug_drop!(PendingChosen);

impl ReceiverCots {
    /// Takes the next `choices.len()` offline OTs: returns the choice message for the sender
    /// and the state that decodes its answer. The used OTs are erased from the pool.
    fn take(&mut self, choices: &[bool], buf: Vec<Block>) -> Result<(ChoiceMsg, Vec<Block>)> {
        let n = choices.len();
        if n == 0 || n > MAX_EXTEND {
            return Err(OtError::BadCount {
                what: "OTs per online message",
                n,
                max: MAX_EXTEND,
            });
        }
        if n > self.remaining() {
            return Err(OtError::PoolExhausted {
                wanted: n,
                available: self.remaining(),
            });
        }
        let first = self.used;
        // d = b ⊕ r, packed like b.
        let mut bits = codec::pack_bits(choices);
        if first.is_multiple_of(8) {
            // Byte-aligned: r is stored packed LSB-first, like d; XOR whole bytes.
            let r = &Block::slice_as_bytes(&self.choices)[first / 8..];
            for (d, r) in bits.iter_mut().zip(r) {
                *d ^= r;
            }
            codec::clear_padding(&mut bits, n);
        } else {
            for j in 0..n {
                bits[j / 8] ^= (self.choice(first + j) as u8) << (j % 8);
            }
        }
        let msg = ChoiceMsg {
            start: self.start + first as u64,
            n: n as u32,
            bits,
        };
        let t = if first == 0 && n == self.t.len() {
            // The whole pool at once (the common case): move it out rather than copy, leaving
            // an empty pool positioned after it.
            wipe_blocks(&mut self.choices);
            self.choices.clear();
            self.start += n as u64;
            std::mem::take(&mut self.t)
        } else {
            let mut t = buf;
            t.clear();
            t.extend_from_slice(&self.t[first..first + n]);
            wipe_blocks(&mut self.t[first..first + n]);
            self.used += n;
            t
        };
        Ok((msg, t))
    }

    /// Online, for free-XOR labels: the choice message and the pending state.
    pub fn choose_labels(&mut self, choices: &[bool]) -> Result<(ChoiceMsg, PendingLabels)> {
        self.choose_labels_reusing(choices, Vec::new())
    }

    /// [`ReceiverCots::choose_labels`] keeping the pending state in `buf`'s memory (e.g. the
    /// previous call's labels, which [`PendingLabels::finish`] computes in that same buffer).
    pub fn choose_labels_reusing(
        &mut self,
        choices: &[bool],
        buf: Vec<Block>,
    ) -> Result<(ChoiceMsg, PendingLabels)> {
        let (msg, t) = self.take(choices, buf)?;
        Ok((
            msg.clone(),
            PendingLabels {
                start: msg.start,
                t,
            },
        ))
    }

    /// Takes the next `n` offline OTs for a choice message whose labels are received but never
    /// decoded (a rehearsal of a protocol, e.g. a server's warm-up, where the sender's side
    /// is a real transfer's): the choices are all zero, so the message carries the pool's
    /// uniform `r_j`, and the used OTs are erased now rather than held until the answer.
    /// Check the answer's frames with [`ChoiceMsg::check_label_frame`].
    pub fn choose_blind(&mut self, n: usize) -> Result<ChoiceMsg> {
        let (msg, mut t) = self.take(&vec![false; n], Vec::new())?;
        wipe_blocks(&mut t);
        Ok(msg)
    }

    /// Online, for arbitrary message pairs: the choice message and the pending state.
    pub fn choose_messages(&mut self, choices: &[bool]) -> Result<(ChoiceMsg, PendingChosen)> {
        let (msg, t) = self.take(choices, Vec::new())?;
        Ok((
            msg.clone(),
            PendingChosen {
                start: msg.start,
                choices: choices.to_vec(),
                t,
            },
        ))
    }
}

impl PendingLabels {
    /// Number of labels awaited.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// Whether none are awaited.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// The receiver's labels `w0_j ⊕ b_j·Δ` from the sender's answer.
    ///
    /// The labels are computed in place in the pending state's buffer, which is returned.
    pub fn finish(mut self, msg: &LabelMsg) -> Result<Vec<Block>> {
        if msg.start != self.start {
            return Err(OtError::OutOfStep {
                what: "OT label message",
                expected: self.start,
                got: msg.start,
            });
        }
        if msg.len() != self.t.len() {
            return Err(OtError::CountMismatch {
                what: "OT label message",
                expected: self.t.len(),
                got: msg.len(),
            });
        }
        let mut labels = std::mem::take(&mut self.t);
        for (t, y) in labels.iter_mut().zip(msg.masked()) {
            *t ^= y;
        }
        Ok(labels)
    }
}

impl PendingLabels {
    /// The pending state's buffer, wiped, for the next [`ReceiverCots::choose_labels_reusing`].
    pub fn into_buffer(mut self) -> Vec<Block> {
        wipe_blocks(&mut self.t);
        std::mem::take(&mut self.t)
    }

    /// One frame of a chunked answer ([`SenderCots::send_labels_chunked`]): the labels
    /// `offset..offset + out.len()` of this choice message into `out`, from `frame`, an
    /// encoded [`LabelMsg`] for exactly that range (its start and count checked). The pending
    /// state is left as it is, so the chunks may come in any order, each range once.
    pub fn finish_chunk(&self, offset: usize, frame: &[u8], out: &mut [Block]) -> Result<()> {
        let what = "OT label message";
        let n = out.len();
        if offset.checked_add(n).is_none_or(|end| end > self.t.len()) {
            return Err(OtError::CountMismatch {
                what,
                expected: self.t.len().saturating_sub(offset),
                got: n,
            });
        }
        let mut r = Reader::new(frame, what);
        check_header(&mut r, TAG_LABELS, what, self.start + offset as u64, n)?;
        r.expect_remaining(16 * n)?;
        let raw = r.take(16 * n)?;
        r.finish()?;
        for ((o, t), y) in out
            .iter_mut()
            .zip(&self.t[offset..offset + n])
            .zip(raw.chunks_exact(16))
        {
            let mut b = [0u8; 16];
            b.copy_from_slice(y);
            *o = *t ^ Block::new(b);
        }
        Ok(())
    }
}

impl PendingChosen {
    /// The chosen messages `x_{j,b_j}` from the sender's answer.
    pub fn finish(self, msg: &ChosenMsg) -> Result<Vec<Block>> {
        if msg.start != self.start {
            return Err(OtError::OutOfStep {
                what: "OT chosen-message message",
                expected: self.start,
                got: msg.start,
            });
        }
        if msg.masked.len() != 2 * self.t.len() {
            return Err(OtError::CountMismatch {
                what: "OT chosen-message message",
                expected: 2 * self.t.len(),
                got: msg.masked.len(),
            });
        }
        let hash = Aes128::fixed()?;
        let tweaks: Vec<Block> = (0..self.t.len() as u64)
            .map(|j| crate::ot::ot_tweak(self.start.wrapping_add(j)))
            .collect();
        let mut pads = self.t.clone();
        hash.tccr_many(&mut pads, &tweaks);
        let out = pads
            .iter()
            .zip(&self.choices)
            .zip(msg.masked.chunks_exact(2))
            .map(|((p, &b), z)| z[b as usize] ^ *p)
            .collect();
        wipe_blocks(&mut pads);
        Ok(out)
    }
}

/// A sender's OT pool with the zero labels of its OTs folded in ([`SenderCots::fold_labels`]):
/// answers the receiver's choices with the labels of its choice bits.
#[derive(Debug)]
pub struct FoldedLabels {
    cots: SenderCots,
}

impl FoldedLabels {
    /// Labels the pool holds (OTs not yet used).
    pub fn len(&self) -> usize {
        self.cots.remaining()
    }

    /// Whether no label is left.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`SenderCots::send_labels_chunked`] for all the folded labels at once.
    pub fn send_labels_chunked<E>(
        &mut self,
        msg: &ChoiceMsg,
        chunk: usize,
        buf: &mut Vec<u8>,
        emit: impl FnMut(&[u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E>
    where
        E: From<OtError>,
    {
        let n = self.len();
        self.cots.answer_chunked(None, n, msg, chunk, buf, emit)
    }
}

impl SenderCots {
    /// Checks the choice message against the pool and `n`: returns the first pool position.
    fn take(&mut self, msg: &ChoiceMsg, n: usize) -> Result<usize> {
        let what = "OT choice message";
        let expected = self.start + self.used as u64;
        if msg.start != expected {
            return Err(OtError::OutOfStep {
                what,
                expected,
                got: msg.start,
            });
        }
        if msg.n as usize != n || msg.bits.len() != n.div_ceil(8) {
            return Err(OtError::CountMismatch {
                what,
                expected: n,
                got: msg.n as usize,
            });
        }
        if n > self.remaining() {
            return Err(OtError::PoolExhausted {
                wanted: n,
                available: self.remaining(),
            });
        }
        let first = self.used;
        self.used += n;
        Ok(first)
    }

    /// Online, for free-XOR labels `(w0_j, w0_j ⊕ Δ)` given by their zero labels: answers the
    /// receiver's choice message. The used OTs are erased from the pool.
    pub fn send_labels(&mut self, zero_labels: &[Block], msg: &ChoiceMsg) -> Result<LabelMsg> {
        self.send_labels_reusing(zero_labels, msg, Vec::new())
    }

    /// [`SenderCots::send_labels`] encoding into `buf`'s memory (e.g. the previous answer's
    /// [`LabelMsg::into_bytes`]).
    pub fn send_labels_reusing(
        &mut self,
        zero_labels: &[Block],
        msg: &ChoiceMsg,
        buf: Vec<u8>,
    ) -> Result<LabelMsg> {
        let n = zero_labels.len();
        let first = self.take(msg, n)?;
        let delta = self.delta;
        let q = &mut self.q[first..first + n];
        let mut encoded = Writer::reuse(buf);
        encoded.reserve(LABEL_HEADER + 16 * n);
        encoded.u8(TAG_LABELS);
        encoded.u64(msg.start);
        encoded.u32(n as u32);
        let mut encoded = encoded.into_vec();
        encoded.resize(LABEL_HEADER + 16 * n, 0);
        // Eight labels per byte of choice bits (the message's length was checked above).
        let out = encoded[LABEL_HEADER..].chunks_mut(8 * 16);
        for (((out, w0), q), &d) in out
            .zip(zero_labels.chunks(8))
            .zip(q.chunks(8))
            .zip(&msg.bits)
        {
            for (k, ((o, w0), q)) in out.chunks_exact_mut(16).zip(w0).zip(q).enumerate() {
                let y = *w0 ^ *q ^ delta.and_bit((d >> k) & 1 == 1);
                o.copy_from_slice(y.as_bytes());
            }
        }
        wipe_blocks(q);
        Ok(LabelMsg {
            start: msg.start,
            encoded,
        })
    }

    /// [`SenderCots::send_labels`] in frames of at most `chunk` labels (`chunk ≥ 1`): each an
    /// encoded [`LabelMsg`] for its range of the choice message (start and count of that
    /// range), encoded into `buf` and handed to `emit` in order. The receiver decodes them with
    /// [`PendingLabels::finish_chunk`] as they arrive. The OTs are consumed up front.
    pub fn send_labels_chunked<E>(
        &mut self,
        zero_labels: &[Block],
        msg: &ChoiceMsg,
        chunk: usize,
        buf: &mut Vec<u8>,
        emit: impl FnMut(&[u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E>
    where
        E: From<OtError>,
    {
        self.answer_chunked(Some(zero_labels), zero_labels.len(), msg, chunk, buf, emit)
    }

    /// Folds the zero labels of every remaining OT into the pool (q_j ← q_j ⊕ w0_j; as many
    /// labels as OTs remain, else refused): the online answer then needs neither, and the
    /// sender holds 16 bytes per label until then instead of 32. The labels are wiped (also
    /// when refused).
    pub fn fold_labels(mut self, zero_labels: &mut [Block]) -> Result<FoldedLabels> {
        if zero_labels.len() != self.remaining() {
            wipe_blocks(zero_labels);
            return Err(OtError::CountMismatch {
                what: "labels folded into the OT pool",
                expected: self.remaining(),
                got: zero_labels.len(),
            });
        }
        let used = self.used;
        for (q, w0) in self.q[used..].iter_mut().zip(zero_labels.iter()) {
            *q ^= *w0;
        }
        wipe_blocks(zero_labels);
        Ok(FoldedLabels { cots: self })
    }

    /// The frames of [`SenderCots::send_labels_chunked`]; `zero_labels` None: already folded
    /// into the pool ([`SenderCots::fold_labels`]), `n` of them.
    fn answer_chunked<E>(
        &mut self,
        zero_labels: Option<&[Block]>,
        n: usize,
        msg: &ChoiceMsg,
        chunk: usize,
        buf: &mut Vec<u8>,
        mut emit: impl FnMut(&[u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E>
    where
        E: From<OtError>,
    {
        if chunk == 0 {
            return Err(OtError::BadCount {
                what: "labels per frame",
                n: chunk,
                max: MAX_EXTEND,
            }
            .into());
        }
        let first = self.take(msg, n)?;
        let delta = self.delta;
        let q = &mut self.q[first..first + n];
        let mut off = 0;
        let mut result = Ok(());
        while off < n {
            let len = chunk.min(n - off);
            let mut w = Writer::reuse(std::mem::take(buf));
            w.reserve(LABEL_HEADER + 16 * len);
            w.u8(TAG_LABELS);
            w.u64(msg.start + off as u64);
            w.u32(len as u32);
            *buf = w.into_vec();
            buf.resize(LABEL_HEADER + 16 * len, 0);
            let out = buf[LABEL_HEADER..].chunks_exact_mut(16);
            match zero_labels {
                Some(zero_labels) => {
                    for (j, ((o, w0), q)) in out
                        .zip(&zero_labels[off..off + len])
                        .zip(&q[off..off + len])
                        .enumerate()
                    {
                        let y = *w0 ^ *q ^ delta.and_bit(msg.bit(off + j));
                        o.copy_from_slice(y.as_bytes());
                    }
                }
                None => {
                    for (j, (o, q)) in out.zip(&q[off..off + len]).enumerate() {
                        let y = *q ^ delta.and_bit(msg.bit(off + j));
                        o.copy_from_slice(y.as_bytes());
                    }
                }
            }
            if let Err(e) = emit(buf) {
                result = Err(e);
                break;
            }
            off += len;
        }
        wipe_blocks(q);
        result
    }

    /// Online, for arbitrary pairs `(x0_j, x1_j)`: answers the receiver's choice message.
    pub fn send_messages(&mut self, pairs: &[[Block; 2]], msg: &ChoiceMsg) -> Result<ChosenMsg> {
        let n = pairs.len();
        let first = self.take(msg, n)?;
        let delta = self.delta;
        let hash = Aes128::fixed()?;
        let q = &mut self.q[first..first + n];
        // pads[2j + e] = H(q_j ⊕ (e ⊕ d_j)·Δ, i_j)
        let mut pads = Vec::with_capacity(2 * n);
        let mut tweaks = Vec::with_capacity(2 * n);
        for (j, qj) in q.iter().enumerate() {
            let d = msg.bit(j);
            let tw = crate::ot::ot_tweak(msg.start.wrapping_add(j as u64));
            pads.push(*qj ^ delta.and_bit(d));
            pads.push(*qj ^ delta.and_bit(!d));
            tweaks.push(tw);
            tweaks.push(tw);
        }
        hash.tccr_many(&mut pads, &tweaks);
        let masked = pads
            .iter()
            .zip(pairs.iter().flatten())
            .map(|(p, x)| *p ^ *x)
            .collect();
        wipe_blocks(q);
        wipe_blocks(&mut pads);
        Ok(ChosenMsg {
            start: msg.start,
            masked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ot::ext::tests::{rng, setup};
    use crate::ot::ext::ExtParams;

    fn pools(n: usize, seed: u128) -> (SenderCots, ReceiverCots) {
        let delta = rng(seed + 7).block().with_lsb(true);
        let (mut s, mut r) = setup(ExtParams::default(), delta, seed);
        let (rc, msg) = r.extend(n).unwrap();
        (s.extend(&msg).unwrap(), rc)
    }

    fn choices(n: usize, seed: u128) -> Vec<bool> {
        let mut bytes = vec![0u8; n];
        rng(seed).fill_bytes(&mut bytes);
        bytes.iter().map(|b| b & 1 == 1).collect()
    }

    #[test]
    fn labels_receiver_gets_exactly_its_label() {
        let (mut sp, mut rp) = pools(1000, 20);
        let delta = sp.delta();
        let mut zero = vec![Block::ZERO; 1000];
        rng(21).fill_blocks(&mut zero);
        // Two online rounds from the same pool, sizes 1 and 999.
        let b = choices(1000, 22);
        let mut off = 0;
        for n in [1usize, 999] {
            let (cm, pending) = rp.choose_labels(&b[off..off + n]).unwrap();
            let cm = ChoiceMsg::from_bytes(&cm.to_bytes(), n).unwrap();
            let lm = sp.send_labels(&zero[off..off + n], &cm).unwrap();
            let lm = LabelMsg::from_bytes(&lm.to_bytes(), &pending).unwrap();
            let labels = pending.finish(&lm).unwrap();
            for j in 0..n {
                let w0 = zero[off + j];
                let want = if b[off + j] { w0 ^ delta } else { w0 };
                assert_eq!(labels[j], want);
                assert_ne!(labels[j], want ^ delta);
            }
            off += n;
        }
        assert_eq!(rp.remaining(), 0);
        assert!(matches!(
            rp.choose_labels(&[true]),
            Err(OtError::PoolExhausted { .. })
        ));
    }

    #[test]
    fn chunked_answer_gives_the_same_labels_and_checks_each_frame() {
        for (n, chunk) in [
            (1000usize, 1usize),
            (1000, 128),
            (1000, 999),
            (1000, 1000),
            (7, 64),
        ] {
            let (mut sp, mut rp) = pools(n, 40);
            let delta = sp.delta();
            let mut zero = vec![Block::ZERO; n];
            rng(41).fill_blocks(&mut zero);
            let b = choices(n, 42);
            let (cm, pending) = rp.choose_labels(&b).unwrap();
            let mut frames = Vec::new();
            let mut buf = Vec::new();
            sp.send_labels_chunked(&zero, &cm, chunk, &mut buf, |f| {
                frames.push(f.to_vec());
                Ok::<(), OtError>(())
            })
            .unwrap();
            assert_eq!(frames.len(), n.div_ceil(chunk));
            let mut labels = vec![Block::ZERO; n];
            // Frames decode in any order, each into its own range.
            for (k, f) in frames.iter().enumerate().rev() {
                let off = k * chunk;
                let len = chunk.min(n - off);
                assert_eq!(f.len(), LabelMsg::len_for(len));
                pending
                    .finish_chunk(off, f, &mut labels[off..off + len])
                    .unwrap();
            }
            for j in 0..n {
                assert_eq!(
                    labels[j],
                    zero[j] ^ delta.and_bit(b[j]),
                    "n {n} chunk {chunk} OT {j}"
                );
            }
            if frames.len() > 1 {
                let len = chunk.min(n);
                let mut out = vec![Block::ZERO; len];
                // A frame decoded as another range, or with a count other than asked, fails.
                assert!(matches!(
                    pending.finish_chunk(chunk, &frames[0], &mut out[..chunk.min(n - chunk)]),
                    Err(OtError::OutOfStep { .. }) | Err(OtError::CountMismatch { .. })
                ));
                assert!(matches!(
                    pending.finish_chunk(0, &frames[0], &mut out[..len - 1]),
                    Err(OtError::CountMismatch { .. })
                ));
                let mut short = frames[0].clone();
                short.pop();
                assert!(pending.finish_chunk(0, &short, &mut out).is_err());
                let mut tagged = frames[0].clone();
                tagged[0] ^= 1;
                assert!(matches!(
                    pending.finish_chunk(0, &tagged, &mut out),
                    Err(OtError::BadTag { .. })
                ));
            }
            // A range past the end is refused before the frame is read.
            let mut out = vec![Block::ZERO; 2];
            assert!(matches!(
                pending.finish_chunk(n - 1, &frames[0], &mut out),
                Err(OtError::CountMismatch { .. })
            ));
        }
        let (mut sp, mut rp) = pools(10, 43);
        let (cm, _pending) = rp.choose_labels(&[true; 10]).unwrap();
        let r = sp.send_labels_chunked(&[Block::ONE; 10], &cm, 0, &mut Vec::new(), |_| {
            Ok::<(), OtError>(())
        });
        assert!(matches!(r, Err(OtError::BadCount { .. })));
    }

    #[test]
    fn whole_pool_is_moved_out_and_stays_in_step() {
        let (mut sp, mut rp) = pools(300, 25);
        let delta = sp.delta();
        let zero = vec![Block::ONE; 300];
        let b = choices(300, 26);
        let (cm, pending) = rp.choose_labels(&b).unwrap();
        assert_eq!((rp.len(), rp.remaining()), (0, 0));
        assert!(matches!(
            rp.choose_labels(&[false]),
            Err(OtError::PoolExhausted { .. })
        ));
        let lm = sp.send_labels(&zero, &cm).unwrap();
        let labels = pending.finish(&lm).unwrap();
        for j in 0..300 {
            assert_eq!(labels[j], Block::ONE ^ delta.and_bit(b[j]));
        }
    }

    #[test]
    fn chosen_messages_receiver_gets_exactly_m_b() {
        let (mut sp, mut rp) = pools(500, 30);
        let mut flat = vec![Block::ZERO; 1000];
        rng(31).fill_blocks(&mut flat);
        let pairs: Vec<[Block; 2]> = flat.chunks(2).map(|c| [c[0], c[1]]).collect();
        let b = choices(500, 32);
        let (cm, pending) = rp.choose_messages(&b).unwrap();
        let zm = sp.send_messages(&pairs, &cm).unwrap();
        let zm = ChosenMsg::from_bytes(&zm.to_bytes(), &pending).unwrap();
        let got = pending.finish(&zm).unwrap();
        for j in 0..500 {
            assert_eq!(got[j], pairs[j][b[j] as usize]);
            assert_ne!(got[j], pairs[j][!b[j] as usize]);
        }
    }

    #[test]
    fn online_choice_message_is_a_one_time_pad() {
        // The sender's online view is d = b ⊕ r with r the offline random choices: for all-zero
        // and all-one choices the message is r and its complement, both uniform.
        let (_, mut rp) = pools(4096, 40);
        let r: Vec<bool> = (0..4096).map(|j| rp.choice(j)).collect();
        let (m0, _) = rp.choose_labels(&vec![false; 2048]).unwrap();
        let (m1, _) = rp.choose_labels(&vec![true; 2048]).unwrap();
        for j in 0..2048 {
            assert_eq!(m0.bit(j), r[j]);
            assert_eq!(m1.bit(j), !r[2048 + j]);
        }
        let ones = (0..2048).filter(|&j| m1.bit(j)).count();
        assert!((900..1150).contains(&ones), "{ones}");
    }

    #[test]
    fn online_rejects_malformed_and_out_of_step() {
        let (mut sp, mut rp) = pools(300, 50);
        let zero = vec![Block::ONE; 10];
        let (cm, pending) = rp.choose_labels(&[true; 10]).unwrap();
        let bytes = cm.to_bytes();
        assert!(ChoiceMsg::from_bytes(&bytes, 9).is_err());
        assert!(ChoiceMsg::from_bytes(&bytes[..bytes.len() - 1], 10).is_err());
        let mut pad = bytes.clone();
        *pad.last_mut().unwrap() |= 0x80;
        assert!(matches!(
            ChoiceMsg::from_bytes(&pad, 10),
            Err(OtError::Malformed { .. })
        ));
        let mut huge = bytes.clone();
        huge[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(ChoiceMsg::from_bytes(&huge, usize::MAX).is_err());
        // Count mismatch with the labels offered, replay, skip.
        assert!(matches!(
            sp.send_labels(&zero[..9], &cm),
            Err(OtError::CountMismatch { .. })
        ));
        let mut skipped = cm.clone();
        skipped.start += 1;
        assert!(matches!(
            sp.send_labels(&zero, &skipped),
            Err(OtError::OutOfStep { .. })
        ));
        let lm = sp.send_labels(&zero, &cm).unwrap();
        assert!(matches!(
            sp.send_labels(&zero, &cm),
            Err(OtError::OutOfStep { .. })
        ));
        let lb = lm.to_bytes();
        assert!(LabelMsg::from_bytes(&lb[..lb.len() - 1], &pending).is_err());
        let mut wrong_start = lb.clone();
        wrong_start[1] ^= 1;
        assert!(matches!(
            LabelMsg::from_bytes(&wrong_start, &pending),
            Err(OtError::OutOfStep { .. })
        ));
        let mut tag = lb.clone();
        tag[0] = TAG_CHOSEN;
        assert!(LabelMsg::from_bytes(&tag, &pending).is_err());
        let mut short = lm.clone();
        short.encoded.truncate(short.encoded.len() - 16);
        assert!(pending.finish(&short).is_err());
        assert!(rp.choose_labels(&[]).is_err());
        // The sender's pool runs out too.
        let cm = ChoiceMsg {
            start: 10,
            n: 291,
            bits: vec![0; 37],
        };
        assert!(matches!(
            sp.send_labels(&vec![Block::ZERO; 291], &cm),
            Err(OtError::PoolExhausted { .. })
        ));
    }
}
