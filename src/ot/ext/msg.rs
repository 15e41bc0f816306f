//! The extension's two messages: the receiver's setup [`SeedMsg`] and the per-batch
//! [`ExtendMsg`] (both a one-byte tag, then little-endian fields, through [`crate::codec`]).
use kernels::Block;

use super::{padded, ExtParams, BASE_OTS, MAX_EXTEND};
use crate::codec::{Reader, Writer};
use crate::ot::{OtError, Result};

pub(super) const TAG_SEEDS: u8 = 0x11;
pub(super) const TAG_EXTEND: u8 = 0x12;

/// The receiver's setup message: for each chunk and level, the two masked level sums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedMsg {
    pub(super) k: u8,
    /// `(K0 ⊕ m0, K1 ⊕ m1)` per base OT, in base-OT order (chunk-major, level 1 first).
    pub(super) corrections: Vec<[Block; 2]>,
}

impl SeedMsg {
    /// Encodes the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(2 + 32 * self.corrections.len());
        w.u8(TAG_SEEDS);
        w.u8(self.k);
        for [c0, c1] in &self.corrections {
            w.bytes(c0.as_bytes());
            w.bytes(c1.as_bytes());
        }
        w.into_vec()
    }

    /// Decodes and validates against the parameters the decoder expects.
    pub fn from_bytes(bytes: &[u8], params: ExtParams) -> Result<SeedMsg> {
        let what = "OT-extension seed message";
        let mut r = Reader::new(bytes, what);
        r.tag(TAG_SEEDS)?;
        let k = r.u8()?;
        if k != params.k() {
            return Err(OtError::BadParams(format!(
                "peer uses k = {k}, this party k = {}",
                params.k()
            )));
        }
        r.expect_remaining(32 * BASE_OTS)?;
        let mut corrections = Vec::with_capacity(BASE_OTS);
        for _ in 0..BASE_OTS {
            let c0 = Block::new(r.array::<16>()?);
            let c1 = Block::new(r.array::<16>()?);
            corrections.push([c0, c1]);
        }
        r.finish()?;
        Ok(SeedMsg { k, corrections })
    }
}

/// One extension message: the corrections `c_i = u_0 ⊕ u_i`, `i ≥ 1`, of every sub-batch
/// (16 bytes per block, sub-batch-major, chunk 1 first), kept in its encoded form — tag,
/// `start` (u64), `n` (u32), corrections — so that sending and receiving it copies nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtendMsg {
    pub(super) start: u64,
    pub(super) n: u32,
    pub(super) encoded: Vec<u8>,
}

/// Bytes before the corrections of an encoded [`ExtendMsg`].
const EXTEND_HEADER: usize = 1 + 8 + 4;

impl ExtendMsg {
    /// Correction blocks of a message for `n` OTs: `128/k − 1` per 128 OTs (padded).
    pub(super) fn correction_blocks(params: ExtParams, n: usize) -> usize {
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
    pub(super) fn corrections(&self) -> &[u8] {
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
        let mut r = Reader::new(&bytes, what);
        r.tag(TAG_EXTEND)?;
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

    /// Starts encoding the message for OTs `start..start + n` in `buf`'s memory: writes the
    /// header and reserves room for the corrections, which the caller appends (16 bytes per
    /// block, in the order documented on [`ExtendMsg`]) before [`ExtendMsg::from_writer`].
    pub(super) fn begin(buf: Vec<u8>, params: ExtParams, start: u64, n: usize) -> Writer {
        let mut w = Writer::reuse(buf);
        w.reserve(ExtendMsg::len_for(params, n));
        w.u8(TAG_EXTEND);
        w.u64(start);
        w.u32(n as u32);
        w
    }

    /// The message [`ExtendMsg::begin`] started, once its corrections are written.
    pub(super) fn from_writer(w: Writer, start: u64, n: usize) -> ExtendMsg {
        let encoded = w.into_vec();
        debug_assert_eq!((encoded.len() - EXTEND_HEADER) % 16, 0);
        ExtendMsg {
            start,
            n: n as u32,
            encoded,
        }
    }
}

/// XORs 16-byte little-endian blocks read from `src` into `dst`.
#[inline]
pub(super) fn xor_bytes_into(dst: &mut [Block], src: &[u8]) {
    for (d, c) in dst.iter_mut().zip(src.chunks_exact(16)) {
        let mut b = [0u8; 16];
        b.copy_from_slice(c);
        *d ^= Block::new(b);
    }
}
