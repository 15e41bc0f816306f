//! The protocol's messages on the wire: frame tags, query requests, and the codecs of the
//! payloads both sides exchange (ciphertext lists, the garbler's labels with the output
//! decoding bits) with the size bounds a receiver checks before allocating.
//!
//! Framing itself (one tag byte, then the payload; error frames; chunked streams) is
//! [`crate::net`]'s. Every `decode_*` here validates counts and lengths and fails with
//! [`ProtocolError::Malformed`] (or the codec's own error), never panics.
use super::{ProtocolError, Result};
use crate::he::{Ciphertext, Parameters};
use crate::ot::ExtParams;
use kernels::Block;
use std::sync::Arc;

/// Client hello (see [`super::handshake`]).
pub const TAG_HELLO: u8 = 0x01;
/// Server's hello in reply, sent when the two agree.
pub const TAG_HELLO_OK: u8 = 0x02;
/// The client's public key (setup).
pub const TAG_PK: u8 = 0x10;
/// One linear stage's Galois keys (setup, one message per linear stage).
pub const TAG_GK: u8 = 0x11;
/// A one-byte query request (`REQ_*`).
pub const TAG_QUERY: u8 = 0x12;
/// A chunk of garbled tables (offline).
pub const TAG_TABLES: u8 = 0x13;
/// The garbler's input labels and the output decoding bits of one stage (offline).
pub const TAG_GLABELS: u8 = 0x14;
/// Ciphertexts client → server (online).
pub const TAG_CTS_UP: u8 = 0x15;
/// Ciphertexts server → client (online).
pub const TAG_CTS_DOWN: u8 = 0x16;

/// Request: end the session.
pub const REQ_BYE: u8 = 0;
/// Request: run a query's offline phase, then its online phase.
pub const REQ_QUERY: u8 = 1;
/// Request: run an offline phase ahead and keep it.
pub const REQ_PRECOMPUTE: u8 = 2;
/// Request: the online phase of the oldest precomputed offline phase.
pub const REQ_QUERY_PRECOMPUTED: u8 = 3;

/// OT-extension parameters of the protocol (both sides must use the same).
pub const OT_PARAMS: ExtParams = ExtParams::SOFTSPOKEN_4;

fn malformed<T>(what: &'static str, reason: String) -> Result<T> {
    Err(ProtocolError::Malformed { what, reason })
}

/// Upper bound on one serialised ciphertext.
pub fn max_ct_bytes(params: &Parameters) -> usize {
    64 + 2 * params.n() * params.max_level() * 8
}

/// Max bytes of a message of `count` ciphertexts.
pub fn max_cts_bytes(params: &Parameters, count: usize) -> usize {
    4 + count * (4 + max_ct_bytes(params))
}

/// Max bytes of the public-key message.
pub fn max_pk_bytes(params: &Parameters) -> usize {
    64 + params.n() * params.max_level() * 8
}

/// Max bytes of a Galois-key message holding `count` keys.
pub fn max_gk_bytes(params: &Parameters, count: usize) -> usize {
    64 + count * (params.num_digits() * params.n() * params.max_level() * 8 + 4)
}

/// Encodes ciphertexts as `count (u32) || (len (u32) || bytes)*`, little-endian.
pub fn encode_cts(cts: &[Ciphertext]) -> Vec<u8> {
    let mut v = (cts.len() as u32).to_le_bytes().to_vec();
    for c in cts {
        let b = c.to_bytes();
        v.extend_from_slice(&(b.len() as u32).to_le_bytes());
        v.extend_from_slice(&b);
    }
    v
}

/// Decodes and validates exactly `count` ciphertexts.
pub fn decode_cts(
    params: &Arc<Parameters>,
    bytes: &[u8],
    count: usize,
    what: &'static str,
) -> Result<Vec<Ciphertext>> {
    let mut cur = crate::net::Cursor::new(bytes, what);
    let n = cur.u32()? as usize;
    if n != count {
        return malformed(what, format!("{n} ciphertexts, expected {count}"));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = cur.u32()? as usize;
        out.push(Ciphertext::from_bytes(params, cur.take(len)?)?);
    }
    cur.end()?;
    Ok(out)
}

/// Packs bits least-significant first: bit j is bit `j % 8` of byte `j / 8`; the padding
/// bits of the last byte are zero.
pub fn pack_bits(bits: &[bool]) -> Vec<u8> {
    let mut packed = vec![0u8; bits.len().div_ceil(8)];
    for (j, &b) in bits.iter().enumerate() {
        packed[j / 8] |= (b as u8) << (j % 8);
    }
    packed
}

/// Unpacks exactly `len` bits packed by [`pack_bits`]; `bytes` must be `⌈len/8⌉` bytes with
/// zero padding bits.
pub fn unpack_bits(bytes: &[u8], len: usize, what: &'static str) -> Result<Vec<bool>> {
    if bytes.len() != len.div_ceil(8) {
        return malformed(
            what,
            format!(
                "{} bytes of bits, expected {}",
                bytes.len(),
                len.div_ceil(8)
            ),
        );
    }
    if !len.is_multiple_of(8) && bytes[bytes.len() - 1] >> (len % 8) != 0 {
        return malformed(what, "non-zero padding bits".into());
    }
    Ok((0..len)
        .map(|j| (bytes[j / 8] >> (j % 8)) & 1 == 1)
        .collect())
}

/// Bytes of a garbler-labels message with `labels` labels and `bits` decoding bits.
pub fn garbler_labels_len(labels: usize, bits: usize) -> usize {
    16 * labels + bits.div_ceil(8)
}

/// Encodes the garbler's input labels and the output decoding bits of one non-linear stage:
/// the labels (16 bytes each), then the decoding bits packed by [`pack_bits`].
pub fn encode_garbler_labels(labels: &[Block], decoding: &[bool]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(garbler_labels_len(labels.len(), decoding.len()));
    for l in labels {
        msg.extend_from_slice(l.as_bytes());
    }
    msg.extend_from_slice(&pack_bits(decoding));
    msg
}

/// Decodes a message of [`encode_garbler_labels`] holding exactly `labels` labels and
/// `bits` decoding bits.
pub fn decode_garbler_labels(
    msg: &[u8],
    labels: usize,
    bits: usize,
) -> Result<(Vec<Block>, Vec<bool>)> {
    let what = "garbler labels";
    let expect = garbler_labels_len(labels, bits);
    if msg.len() != expect {
        return malformed(what, format!("{} bytes, expected {expect}", msg.len()));
    }
    let (lab, dec) = msg.split_at(16 * labels);
    let labels = lab
        .chunks_exact(16)
        .map(|b| Block::try_from_slice(b).unwrap_or(Block::ZERO))
        .collect();
    Ok((labels, unpack_bits(dec, bits, what)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_and_reject_padding_and_lengths() {
        for len in [0usize, 1, 7, 8, 9, 23] {
            let bits: Vec<bool> = (0..len).map(|j| (j * 7 + 3) % 5 < 2).collect();
            let packed = pack_bits(&bits);
            assert_eq!(packed.len(), len.div_ceil(8));
            assert_eq!(unpack_bits(&packed, len, "t").unwrap(), bits);
        }
        assert!(unpack_bits(&[0b1000_0000], 7, "t").is_err());
        assert!(unpack_bits(&[0, 0], 7, "t").is_err());
        assert!(unpack_bits(&[], 1, "t").is_err());
    }

    #[test]
    fn garbler_labels_round_trip_and_reject_bad_lengths() {
        let labels: Vec<Block> = (0..3u8)
            .map(|i| Block::try_from_slice(&[i; 16]).unwrap())
            .collect();
        let decoding = vec![true, false, true, true, false];
        let msg = encode_garbler_labels(&labels, &decoding);
        assert_eq!(msg.len(), garbler_labels_len(3, 5));
        let (l, d) = decode_garbler_labels(&msg, 3, 5).unwrap();
        assert_eq!((l, d), (labels, decoding));
        assert!(decode_garbler_labels(&msg[1..], 3, 5).is_err());
        assert!(decode_garbler_labels(&msg, 2, 5).is_err());
    }
}
