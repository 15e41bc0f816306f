//! A linear stage (conv, fc) evaluated homomorphically.
//!
//! Offline, the server draws a mask `r` for every slot of every output ciphertext and
//! prepares its share `s` (packed in the layer's input layout) and the masks as plaintext
//! addends; its next share is `−r` at each output element's slot. Online, the client sends
//! `Enc(c)`; the server adds `s`, evaluates the layer, adds `r`, and replies privately (see
//! [`super::send_reply`]); the client decrypts `W·x + b + r` and unpacks its next share.
use super::{
    draw_rerandomizers, par_map_seeded, recv_reply, send_reply, Addend, ClientOnline,
    ServerOffline, ServerOnline,
};
use crate::channel::Channel;
use crate::he::NoiseBound;
use crate::he::{Parameters, Plaintext, Rerandomizer};
use crate::linalg::{LayerWeights, PreparedLayer, Schedule};
use crate::net;
use crate::nn::{LayerKind, Model};
use crate::protocol::noise;
use crate::protocol::server::Session;
use crate::protocol::wire::{decode_cts, encode_cts, max_cts_bytes, TAG_CTS_UP};
use crate::protocol::{random_mod, ProtocolError, Result};
use crate::sched::Scheduler;

/// A linear stage's server side, prepared once per server: the encoded weights and the
/// worst-case noise its replies are flooded for.
pub(crate) struct ServerLayer {
    layer: PreparedLayer,
    noise: NoiseBound,
}

impl ServerLayer {
    /// Bytes of the layer's prepared weights (see `PreparedLayer::weight_bytes`).
    pub(crate) fn weight_bytes(&self) -> usize {
        self.layer.weight_bytes()
    }

    /// Plaintexts kept as coefficients.
    pub(crate) fn coefficient_plaintexts(&self) -> usize {
        self.layer.coefficient_plaintexts()
    }

    /// Plaintexts (one per product).
    pub(crate) fn plaintexts(&self) -> usize {
        self.layer.schedule().cost().mults
    }

    /// Encodes model layer `layer`'s weights for `schedule` (`dense`: a convolution as its
    /// dense matrix), `kept` of its plaintexts as coefficients.
    pub(crate) fn new(
        model: &Model,
        params: &Parameters,
        layer: usize,
        schedule: &Schedule,
        dense: bool,
        kept: usize,
        sched: &Scheduler,
    ) -> Result<ServerLayer> {
        let weights = layer_weights(model, layer, dense);
        let layer = PreparedLayer::with_coefficients(schedule, &weights, sched, kept)?;
        Ok(ServerLayer {
            // The flooding must not depend on the weights: any-weights worst case.
            noise: noise::linear_stage_any_weights(params, schedule),
            layer,
        })
    }
}

/// The server's per-query state: its share in the input layout and the output masks, both
/// as addends.
pub(crate) struct ServerPrep {
    share: Vec<Addend>,
    masks: Vec<Addend>,
    /// One per reply ciphertext with circuit privacy on (see `draw_rerandomizers`).
    rerandomizers: Vec<Rerandomizer>,
}

/// Draws the masks and the replies' re-randomisers, prepares the share and mask addends, and
/// sets the server's next share.
pub(crate) fn server_offline(
    cx: &mut ServerOffline<'_>,
    s: &Session,
    schedule: &Schedule,
    layer: &ServerLayer,
) -> Result<ServerPrep> {
    let (params, p, n) = (cx.params, cx.params.p(), cx.params.n());
    let share = schedule
        .input_layout()
        .pack(&cx.share)?
        .iter()
        .map(|v| Addend::new(params, v))
        .collect::<Result<Vec<_>>>()?;
    let out = schedule.output_layout();
    if out.positions().iter().any(Option::is_none) {
        return Err(ProtocolError::Unsupported(
            "an output element has no slot".into(),
        ));
    }
    let masks: Vec<Vec<u64>> = (0..out.num_cts())
        .map(|_| random_mod(&mut cx.rng, p, n))
        .collect();
    // The client reads its share off the masked slots as `unpack_output` says (one slot per
    // element, or the sum of its partial sums): the server's share is minus the same map of
    // the masks.
    cx.share = schedule
        .unpack_output(&masks)?
        .iter()
        .map(|&m| (p - m) % p)
        .collect();
    let masks = masks
        .iter()
        .map(|v| Addend::new(params, v))
        .collect::<Result<Vec<_>>>()?;
    let rerandomizers = draw_rerandomizers(s, cx, out.num_cts(), layer.noise)?;
    Ok(ServerPrep {
        share,
        masks,
        rerandomizers,
    })
}

/// Receives `Enc(c)`, evaluates the layer on `Enc(c + s)`, masks and replies.
pub(crate) fn server_online<C: Channel>(
    ch: &mut C,
    s: &Session,
    cx: &mut ServerOnline<'_>,
    schedule: &Schedule,
    layer: &ServerLayer,
    prep: ServerPrep,
) -> Result<()> {
    let params = cx.params;
    let k = schedule.input_layout().num_cts();
    let msg = net::recv_msg(ch, TAG_CTS_UP, max_cts_bytes(params, k), "layer input")?;
    let mut cts = decode_cts(params, &msg, k, "layer input")?;
    for (ct, share) in cts.iter_mut().zip(&prep.share) {
        share.add_to(ct, "layer input")?;
    }
    let mut out = layer.layer.eval(&cts, &s.gk, cx.sched)?;
    for (ct, mask) in out.iter_mut().zip(&prep.masks) {
        mask.add_to(ct, "layer output")?;
    }
    send_reply(ch, s, cx, out, layer.noise, prep.rerandomizers)
}

/// Sends `Enc(c)` in the layer's input layout and returns the decrypted, unpacked
/// `W·x + b + r` (the client's next share).
pub(crate) fn client_online<C: Channel>(
    ch: &mut C,
    cx: &mut ClientOnline<'_>,
    schedule: &Schedule,
    c: &[u64],
) -> Result<Vec<u64>> {
    let params = cx.params;
    let sk = cx.sk;
    let cts = par_map_seeded(
        Scheduler::global(),
        &mut cx.rng,
        &schedule.input_layout().pack(c)?,
        |v, rng| Ok(sk.encrypt(&Plaintext::encode_slots(params, v)?, rng)?),
    )?;
    net::send_msg(ch, TAG_CTS_UP, &encode_cts(&cts))?;
    let k = schedule.output_layout().num_cts();
    let slots = recv_reply(ch, cx, k, "layer output")?;
    Ok(schedule.unpack_output(&slots)?)
}

/// The server's weights for a linear stage, in `linalg`'s layout; with `dense`, a
/// convolution unrolled into its `(out_c·oh·ow) × (in_c·h·w)` matrix (CHW on both sides).
fn layer_weights(model: &Model, layer: usize, dense: bool) -> LayerWeights {
    let l = &model.layers()[layer];
    let (ins, outs) = (l.input_shape(), l.output_shape());
    match (dense, l.kind()) {
        (
            true,
            LayerKind::Conv2d {
                in_c,
                out_c,
                k,
                stride,
                pad,
            },
        ) => {
            let (n_in, plane) = (ins.numel(), outs.h * outs.w);
            let mut w = vec![0i64; outs.numel() * n_in];
            let mut bias = Vec::with_capacity(outs.numel());
            for o in 0..out_c {
                for oy in 0..outs.h {
                    for ox in 0..outs.w {
                        let row = &mut w[(o * plane + oy * outs.w + ox) * n_in..][..n_in];
                        for c in 0..in_c {
                            for i in 0..k {
                                let Some(iy) =
                                    (oy * stride + i).checked_sub(pad).filter(|&r| r < ins.h)
                                else {
                                    continue;
                                };
                                for j in 0..k {
                                    let Some(ix) =
                                        (ox * stride + j).checked_sub(pad).filter(|&r| r < ins.w)
                                    else {
                                        continue;
                                    };
                                    row[(c * ins.h + iy) * ins.w + ix] =
                                        l.weights()[((o * in_c + c) * k + i) * k + j];
                                }
                            }
                        }
                        bias.push(l.bias()[o]);
                    }
                }
            }
            LayerWeights { weights: w, bias }
        }
        _ => LayerWeights {
            weights: l.weights().to_vec(),
            bias: l.bias().to_vec(),
        },
    }
}
