//! A square stage (x² activations), by the HE-only method.
//!
//! With `x = c + s`: the client sends `Enc(c)` and `Enc(c²)`; the server computes
//! `Enc(c²) + 2s·Enc(c) + (s² + r) = Enc(x² + r)` and replies privately; its next share is
//! `−r`. The plaintexts `2s` (for the product) and `s² + r` (an addend) depend only on the
//! server's share, so they are prepared offline.
use super::{recv_reply, send_reply, Addend, ClientOnline, ServerOffline, ServerOnline};
use crate::channel::Channel;
use crate::he::{Plaintext, PreparedPlaintext};
use crate::net;
use crate::protocol::noise;
use crate::protocol::server::Session;
use crate::protocol::wire::{decode_cts, encode_cts, max_cts_bytes, TAG_CTS_UP};
use crate::protocol::{random_mod, Result};

/// The server's per-query state: per ciphertext of n values, `2s` and `s² + r`.
pub(crate) struct ServerPrep {
    two_s: Vec<PreparedPlaintext>,
    s2_plus_r: Vec<Addend>,
}

/// Draws the masks `r` for `len` values, prepares `2s` and `s² + r`, and sets the server's
/// next share to `−r`.
pub(crate) fn server_offline(cx: &mut ServerOffline<'_>, len: usize) -> Result<ServerPrep> {
    let (params, p, n) = (cx.params, cx.params.p(), cx.params.n());
    let r = random_mod(&mut cx.rng, p, len);
    let mut two_s = Vec::new();
    let mut s2_plus_r = Vec::new();
    for (sc, rc) in cx.share.chunks(n).zip(r.chunks(n)) {
        let mut a = vec![0u64; n];
        let mut b = vec![0u64; n];
        for (j, (&sv, &rv)) in sc.iter().zip(rc).enumerate() {
            a[j] = 2 * sv % p;
            b[j] = ((sv as u128 * sv as u128 + rv as u128) % p as u128) as u64;
        }
        two_s.push(PreparedPlaintext::new(&Plaintext::encode_slots(
            params, &a,
        )?));
        s2_plus_r.push(Addend::new(params, &b)?);
    }
    cx.share = r.iter().map(|&v| (p - v) % p).collect();
    Ok(ServerPrep { two_s, s2_plus_r })
}

/// Receives `Enc(c)` and `Enc(c²)` (k ciphertexts each), replies `Enc(x² + r)`.
pub(crate) fn server_online<C: Channel>(
    ch: &mut C,
    s: &Session,
    cx: &mut ServerOnline<'_>,
    prep: ServerPrep,
) -> Result<()> {
    let params = cx.params;
    let k = prep.two_s.len();
    let msg = net::recv_msg(ch, TAG_CTS_UP, max_cts_bytes(params, 2 * k), "square input")?;
    let cts = decode_cts(params, &msg, 2 * k, "square input")?;
    let mut out = Vec::with_capacity(k);
    for j in 0..k {
        let mut y = cts[k + j].clone();
        y.add_assign(&cts[j].mul_plain(&prep.two_s[j])?)?;
        prep.s2_plus_r[j].add_to(&mut y, "square input")?;
        out.push(y);
    }
    send_reply(ch, s, cx, out, noise::square_stage(params), Vec::new())
}

/// Sends `Enc(c)` and `Enc(c²)` and returns the decrypted `x² + r` (the client's next
/// share) for the `len` values.
pub(crate) fn client_online<C: Channel>(
    ch: &mut C,
    cx: &mut ClientOnline<'_>,
    len: usize,
    c: &[u64],
) -> Result<Vec<u64>> {
    let (params, p, n) = (cx.params, cx.params.p(), cx.params.n());
    let sq: Vec<u64> = c
        .iter()
        .map(|&v| ((v as u128 * v as u128) % p as u128) as u64)
        .collect();
    let mut cts = Vec::new();
    for src in [c, &sq] {
        for chunk in src.chunks(n) {
            let mut v = chunk.to_vec();
            v.resize(n, 0);
            cts.push(
                cx.sk
                    .encrypt(&Plaintext::encode_slots(params, &v)?, &mut cx.rng)?,
            );
        }
    }
    net::send_msg(ch, TAG_CTS_UP, &encode_cts(&cts))?;
    let k = len.div_ceil(n);
    let mut out: Vec<u64> = recv_reply(ch, cx, k, "square output")?.concat();
    out.truncate(len);
    Ok(out)
}
