//! The protocol's messages on the wire: frame tags, query requests, and the codecs of the
//! payloads both sides exchange (ciphertext lists, the garbler's labels with the output
//! decoding bits) with the size bounds a receiver checks before allocating.
//!
//! Framing itself (one tag byte, then the payload; error frames; chunked streams) is
//! [`crate::net`]'s; bytes are read and written through [`crate::codec`]. Every `decode_*`
//! here validates counts and lengths and fails with [`ProtocolError::Malformed`] (or the
//! ciphertext decoder's own error), never panics.
use super::{ProtocolError, Result};
use crate::codec::{Reader, Writer};
use crate::gc::LabelSeed;
use crate::he::{Ciphertext, Parameters};
use crate::ot::ExtParams;
use std::sync::Arc;

/// Client hello (see [`super::handshake`]).
pub const TAG_HELLO: u8 = 0x01;
/// Server's hello in reply, sent when the two agree.
pub const TAG_HELLO_OK: u8 = 0x02;
/// The served model's architecture (`nn::format::encode_architecture`, no weight), right
/// after [`TAG_HELLO_OK`].
pub const TAG_ARCH: u8 = 0x03;
/// The client's public key (setup).
pub const TAG_PK: u8 = 0x10;
/// One linear stage's Galois keys (setup, one message per linear stage).
pub const TAG_GK: u8 = 0x11;
/// A one-byte query request (`REQ_*`).
pub const TAG_QUERY: u8 = 0x12;
/// A chunk of garbled tables (offline).
pub const TAG_TABLES: u8 = 0x13;
/// The seed of the garbler's input labels and the output decoding bits of one stage (offline).
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
    64 + count * (params.num_digits() * params.n() * params.key_limbs() * 8 + 4)
}

/// Encodes ciphertexts as `count (u32) || (len (u32) || bytes)*`, little-endian.
pub fn encode_cts(cts: &[Ciphertext]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(cts.len() as u32);
    for c in cts {
        w.bytes_u32(&c.to_bytes());
    }
    w.into_vec()
}

/// Decodes and validates exactly `count` ciphertexts.
pub fn decode_cts(
    params: &Arc<Parameters>,
    bytes: &[u8],
    count: usize,
    what: &'static str,
) -> Result<Vec<Ciphertext>> {
    let mut r = Reader::new(bytes, what);
    let n = r.u32()? as usize;
    if n != count {
        return malformed(what, format!("{n} ciphertexts, expected {count}"));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let ct = r.bytes_u32(max_ct_bytes(params))?;
        out.push(Ciphertext::from_bytes(params, ct)?);
    }
    r.finish()?;
    Ok(out)
}

/// Bytes of a garbler-seed message with `bits` decoding bits.
pub fn garbler_seed_len(bits: usize) -> usize {
    16 + bits.div_ceil(8)
}

/// Encodes what the garbler sends after one non-linear stage's tables: the [`LabelSeed`] of
/// its own active input labels (16 bytes; the client derives them,
/// [`crate::gc::seeded_input_labels`]), then the output decoding bits packed LSB-first
/// ([`crate::codec::pack_bits`]).
pub fn encode_garbler_seed(seed: &LabelSeed, decoding: &[bool]) -> Vec<u8> {
    let mut w = Writer::with_capacity(garbler_seed_len(decoding.len()));
    w.bytes(&seed.0);
    w.bits(decoding);
    w.into_vec()
}

/// Decodes a message of [`encode_garbler_seed`] holding exactly `bits` decoding bits (padding
/// bits zero).
pub fn decode_garbler_seed(msg: &[u8], bits: usize) -> Result<(LabelSeed, Vec<bool>)> {
    let what = "garbler seed";
    let expect = garbler_seed_len(bits);
    if msg.len() != expect {
        return malformed(what, format!("{} bytes, expected {expect}", msg.len()));
    }
    let mut r = Reader::new(msg, what);
    let seed = LabelSeed(r.take_items(1, 16)?.try_into().expect("16 bytes"));
    let decoding = crate::codec::unpack_bits(r.bits(bits)?, bits);
    r.finish()?;
    Ok((seed, decoding))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbler_seed_round_trips_and_rejects_bad_lengths() {
        let seed = LabelSeed([7; 16]);
        let decoding = vec![true, false, true, true, false];
        let msg = encode_garbler_seed(&seed, &decoding);
        assert_eq!(msg.len(), garbler_seed_len(5));
        assert_eq!(decode_garbler_seed(&msg, 5).unwrap(), (seed, decoding));
        assert!(decode_garbler_seed(&msg[1..], 5).is_err());
        assert!(decode_garbler_seed(&msg, 9).is_err());
        // A set padding bit.
        let mut bad = msg.clone();
        *bad.last_mut().unwrap() |= 0x80;
        assert!(matches!(
            decode_garbler_seed(&bad, 5),
            Err(ProtocolError::Malformed { .. })
        ));
    }
}
