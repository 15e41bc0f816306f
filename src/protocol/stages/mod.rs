//! One module per stage kind, each with the stage's four parts: the server's offline phase
//! (input-independent preparation, returning the server's next share), the server's online
//! phase, the client's offline phase, and the client's online phase (returning the client's
//! next share). Each module has its own prepared-state types; this module dispatches on
//! [`Stage`] and holds what the homomorphic stages share (prepared plaintext addends, the
//! server's private reply, the client's decryption of it).
//!
//! Shares are vectors mod p (see the protocol's module docs): the server's offline phase maps
//! the server's share `s` before a stage to its share after it; the client's online phase
//! maps its share `c` likewise, or reveals the class (or the logits) at the last stage.
pub(crate) mod linear;
pub(crate) mod local;
pub(crate) mod nonlinear;
pub(crate) use nonlinear::{LabelBuffers, TableBuffers};
pub(crate) mod square;

use super::server::{ServerConfig, Session};
use super::wire::{decode_cts, encode_cts, max_cts_bytes, TAG_CTS_DOWN};
use super::{ProtocolError, Result, Stage};
use crate::channel::Channel;
use crate::gc::{Evaluator, Scheme};
use crate::he::sampling::{self, SecretRng, Seed};
use crate::he::{Ciphertext, NoiseBound, Parameters, Plaintext, Rerandomizer, SecretKey};
use crate::net;
use crate::ot::{io::IoBuffers, CotReceiver};
use crate::sched::Scheduler;
use std::sync::Arc;

/// A slot-encoded plaintext prepared offline for adding to ciphertexts at the full level:
/// scaled by q/p and in NTT form, held as its transparent encryption (c1 = 0), so that
/// adding it online is one addition per limb (the same result as
/// `Ciphertext::add_plain_assign`, without the scaling and NTTs).
pub(crate) struct Addend(Ciphertext);

impl Drop for Addend {
    /// An addend holds the server's share or mask in the clear (a transparent ciphertext).
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl Addend {
    /// Prepares the slot vector `slots` (at most n values mod p).
    pub(crate) fn new(params: &Arc<Parameters>, slots: &[u64]) -> Result<Addend> {
        let mut ct = Ciphertext::zero(params, params.max_level())?;
        ct.add_plain_assign(&Plaintext::encode_slots(params, slots)?)?;
        Ok(Addend(ct))
    }

    /// ct += Enc(pt) transparently; ct must be at the full level.
    pub(crate) fn add_to(&self, ct: &mut Ciphertext, what: &'static str) -> Result<()> {
        if ct.level() != self.0.level() {
            return Err(ProtocolError::Malformed {
                what,
                reason: format!(
                    "a ciphertext at level {}, expected {}",
                    ct.level(),
                    self.0.level()
                ),
            });
        }
        ct.add_assign(&self.0)?;
        Ok(())
    }
}

/// The server's per-query state of one stage, prepared offline.
pub(crate) enum ServerPrep {
    Linear(linear::ServerPrep),
    Square(square::ServerPrep),
    /// A local stage (sum-pool, keep, load, add): nothing prepared.
    Local,
    Nonlinear(nonlinear::ServerPrep),
}

/// A party's kept tensors (residual shortcuts, branches): tensor index → share. Secret
/// (shares), zeroized on drop.
#[derive(Default)]
pub(crate) struct Kept(std::collections::BTreeMap<usize, Vec<u64>>);

impl Drop for Kept {
    fn drop(&mut self) {
        for v in self.0.values_mut() {
            zeroize::Zeroize::zeroize(v);
        }
    }
}

impl Kept {
    fn keep(&mut self, tensor: usize, share: &[u64]) {
        if let Some(mut old) = self.0.insert(tensor, share.to_vec()) {
            zeroize::Zeroize::zeroize(&mut old);
        }
    }

    fn get(&self, tensor: usize) -> Result<&[u64]> {
        self.0.get(&tensor).map(|v| &v[..]).ok_or_else(|| {
            ProtocolError::Unsupported(format!("the plan reads tensor {tensor} before keeping it"))
        })
    }

    /// A local stage on the share `x`: the next share.
    fn apply(&mut self, stage: &Stage, x: &[u64], p: u64) -> Result<Vec<u64>> {
        Ok(match stage {
            Stage::SumPool { windows, k2 } => local::window_sums(x, windows, *k2, p),
            Stage::Keep { tensor } => {
                self.keep(*tensor, x);
                x.to_vec()
            }
            Stage::Load { tensor } => self.get(*tensor)?.to_vec(),
            Stage::Add {
                tensor,
                lshift_current,
                lshift_kept,
            } => {
                let y = self.get(*tensor)?;
                if y.len() != x.len() {
                    return Err(ProtocolError::Unsupported(format!(
                        "adding tensor {tensor} of {} values to {}",
                        y.len(),
                        x.len()
                    )));
                }
                local::shifted_sum(x, y, *lshift_current, *lshift_kept, p)
            }
            _ => return Err(ProtocolError::Unsupported("not a local stage".into())),
        })
    }
}

/// The client's per-query state of one stage, received offline.
pub(crate) enum ClientPrep {
    /// A homomorphic or local stage: nothing to receive ahead.
    None,
    Nonlinear(nonlinear::ClientPrep),
}

/// The server's offline phase of one query, carried from stage to stage.
pub(crate) struct ServerOffline<'a> {
    pub params: &'a Arc<Parameters>,
    pub config: &'a ServerConfig,
    pub rng: SecretRng,
    /// The server's share of the current activations.
    pub share: Vec<u64>,
    /// Its shares of the kept tensors.
    pub kept: Kept,
}

impl Drop for ServerOffline<'_> {
    /// The last share is secret (the negated masks of the query).
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.share);
    }
}

/// The server's online phase of one query.
pub(crate) struct ServerOnline<'a> {
    pub params: &'a Arc<Parameters>,
    pub config: &'a ServerConfig,
    pub sched: &'a Scheduler,
    pub rng: SecretRng,
    /// The session's OT message buffers, kept from stage to stage and query to query.
    pub io: &'a mut IoBuffers,
}

/// The client's online phase of one query.
pub(crate) struct ClientOnline<'a> {
    pub params: &'a Arc<Parameters>,
    pub sk: &'a SecretKey,
    pub evaluator: &'a mut Evaluator,
    /// Where evaluated stages' table buffers go for the next query.
    pub tables: &'a mut nonlinear::TableBuffers,
    /// The session's OT message and input-label buffers, kept from stage to stage.
    pub labels: &'a mut nonlinear::LabelBuffers,
    pub rng: SecretRng,
    /// Its shares of the kept tensors.
    pub kept: Kept,
}

/// What a stage leaves the client with.
pub(crate) enum ClientStep {
    /// The client's share of the next activations.
    Share(Vec<u64>),
    /// The logits (the last stage, when the server reveals them).
    Reveal(Vec<i64>),
    /// The class (the last stage by default: the argmax).
    Class(usize),
}

/// The server's offline phase of `stage`: prepares its state and advances `cx.share`;
/// `layer` is the stage's prepared weights (linear stages only).
pub(crate) fn server_offline<C: Channel>(
    stage: &Stage,
    layer: Option<&linear::ServerLayer>,
    ch: &mut C,
    s: &mut Session,
    cx: &mut ServerOffline<'_>,
) -> Result<ServerPrep> {
    Ok(match stage {
        Stage::Linear { schedule, .. } => {
            let layer = layer
                .ok_or_else(|| ProtocolError::Unsupported("linear stage without weights".into()))?;
            ServerPrep::Linear(linear::server_offline(cx, s, schedule, layer)?)
        }
        Stage::Square { len } => ServerPrep::Square(square::server_offline(cx, *len)?),
        Stage::SumPool { .. } | Stage::Keep { .. } | Stage::Load { .. } | Stage::Add { .. } => {
            let next = cx.kept.apply(stage, &cx.share, cx.params.p())?;
            zeroize::Zeroize::zeroize(&mut cx.share);
            cx.share = next;
            ServerPrep::Local
        }
        Stage::Nonlinear { circuit, gather } => {
            ServerPrep::Nonlinear(nonlinear::server_offline(ch, s, cx, circuit, gather)?)
        }
        Stage::Argmax { circuit, gather } => ServerPrep::Nonlinear(
            nonlinear::server_offline_argmax(ch, s, cx, circuit, gather)?,
        ),
    })
}

/// The server's online phase of `stage` with its prepared state; `layer` is the stage's
/// prepared weights (linear stages only).
pub(crate) fn server_online<C: Channel>(
    stage: &Stage,
    prep: ServerPrep,
    layer: Option<&linear::ServerLayer>,
    ch: &mut C,
    s: &Session,
    cx: &mut ServerOnline<'_>,
) -> Result<()> {
    match (stage, prep) {
        (Stage::Linear { schedule, .. }, ServerPrep::Linear(prep)) => {
            let layer = layer
                .ok_or_else(|| ProtocolError::Unsupported("linear stage without weights".into()))?;
            linear::server_online(ch, s, cx, schedule, layer, prep)
        }
        (Stage::Square { .. }, ServerPrep::Square(prep)) => square::server_online(ch, s, cx, prep),
        (
            Stage::SumPool { .. } | Stage::Keep { .. } | Stage::Load { .. } | Stage::Add { .. },
            ServerPrep::Local,
        ) => Ok(()),
        (Stage::Nonlinear { .. } | Stage::Argmax { .. }, ServerPrep::Nonlinear(prep)) => {
            nonlinear::server_online(ch, cx, prep)
        }
        _ => Err(ProtocolError::Unsupported(
            "offline state does not match the plan".into(),
        )),
    }
}

/// Bytes of garbled tables of each garbled stage of `plan` under `scheme`, in plan order.
pub(crate) fn table_sizes(plan: &super::Plan, scheme: Scheme) -> Vec<usize> {
    plan.stages
        .iter()
        .filter_map(|st| match st {
            Stage::Nonlinear { circuit, gather } => {
                Some(nonlinear::table_bytes(circuit, gather, scheme))
            }
            Stage::Argmax { circuit, .. } => Some(nonlinear::argmax_table_bytes(circuit, scheme)),
            _ => None,
        })
        .collect()
}

/// The client's offline phase of `stage`.
pub(crate) fn client_offline<C: Channel>(
    stage: &Stage,
    ch: &mut C,
    cot: &mut CotReceiver,
    tables: &mut nonlinear::TableBuffers,
    scheme: Scheme,
) -> Result<ClientPrep> {
    Ok(match stage {
        Stage::Nonlinear { circuit, gather } => ClientPrep::Nonlinear(nonlinear::client_offline(
            ch, cot, tables, circuit, gather, scheme,
        )?),
        Stage::Argmax { circuit, gather } => ClientPrep::Nonlinear(
            nonlinear::client_offline_argmax(ch, cot, tables, circuit, gather, scheme)?,
        ),
        Stage::Linear { .. }
        | Stage::Square { .. }
        | Stage::SumPool { .. }
        | Stage::Keep { .. }
        | Stage::Load { .. }
        | Stage::Add { .. } => ClientPrep::None,
    })
}

/// The client's online phase of `stage` on its share `c`.
pub(crate) fn client_online<C: Channel>(
    stage: &Stage,
    prep: ClientPrep,
    ch: &mut C,
    cx: &mut ClientOnline<'_>,
    c: &[u64],
) -> Result<ClientStep> {
    match (stage, prep) {
        (Stage::Linear { schedule, .. }, _) => {
            linear::client_online(ch, cx, schedule, c).map(ClientStep::Share)
        }
        (Stage::Square { len }, _) => square::client_online(ch, cx, *len, c).map(ClientStep::Share),
        (
            Stage::SumPool { .. } | Stage::Keep { .. } | Stage::Load { .. } | Stage::Add { .. },
            _,
        ) => {
            let p = cx.params.p();
            cx.kept.apply(stage, c, p).map(ClientStep::Share)
        }
        (Stage::Nonlinear { circuit, gather }, ClientPrep::Nonlinear(prep)) => {
            nonlinear::client_online(ch, cx, circuit, gather, prep, c)
        }
        (Stage::Argmax { circuit, gather }, ClientPrep::Nonlinear(prep)) => {
            nonlinear::client_online_argmax(ch, cx, circuit, gather, prep, c)
        }
        (Stage::Nonlinear { .. } | Stage::Argmax { .. }, ClientPrep::None) => Err(
            ProtocolError::Unsupported("offline state does not match the plan".into()),
        ),
    }
}

/// The server's reply of a homomorphic stage: each ciphertext (of noise at most `noise`)
/// re-randomised and flooded (circuit privacy), switched down one prime if configured, sent.
fn send_reply<C: Channel>(
    ch: &mut C,
    s: &Session,
    cx: &mut ServerOnline<'_>,
    cts: Vec<Ciphertext>,
    noise: NoiseBound,
    rerandomizers: Vec<Rerandomizer>,
) -> Result<()> {
    use rayon::prelude::*;
    let config = cx.config;
    let out = if config.circuit_privacy && !rerandomizers.is_empty() {
        // Drawn offline for exactly these replies (see `draw_rerandomizers`).
        if rerandomizers.len() != cts.len() {
            return Err(ProtocolError::Unsupported(
                "re-randomisers drawn for another number of replies".into(),
            ));
        }
        let pk = &s.pk;
        cx.sched.install(|| {
            cts.par_iter()
                .zip(rerandomizers)
                .map(|(c, r)| Ok(pk.make_private_with(c, noise, r)?.0))
                .collect::<Result<Vec<_>>>()
        })?
    } else if config.circuit_privacy {
        // One generator per reply ciphertext, seeded from the session's CSPRNG, so that the
        // replies are flooded on the scheduler's workers.
        let (pk, switch_down) = (&s.pk, config.switch_down);
        par_map_seeded(cx.sched, &mut cx.rng, &cts, |c, rng| {
            Ok(pk.make_private(c, noise, switch_down, rng)?.0)
        })?
    } else if config.switch_down {
        cts.iter()
            .map(|c| c.mod_switch_down())
            .collect::<std::result::Result<Vec<_>, _>>()?
    } else {
        cts
    };
    net::send_msg(ch, TAG_CTS_DOWN, &encode_cts(&out))?;
    Ok(())
}

/// With circuit privacy on, one re-randomiser per reply ciphertext of a stage at full level
/// whose noise is at most `noise` (the input-independent part of the flooding, drawn in the
/// offline phase on the global scheduler's workers); none otherwise.
pub(crate) fn draw_rerandomizers(
    s: &Session,
    cx: &mut ServerOffline<'_>,
    replies: usize,
    noise: NoiseBound,
) -> Result<Vec<Rerandomizer>> {
    if !cx.config.circuit_privacy {
        return Ok(Vec::new());
    }
    let (pk, limbs, switch_down) = (&s.pk, cx.params.max_level(), cx.config.switch_down);
    par_map_seeded(
        Scheduler::global(),
        &mut cx.rng,
        &vec![(); replies],
        |(), rng| Ok(pk.rerandomizer(noise, limbs, switch_down, rng)?),
    )
}

/// `f` over `items` on `sched`'s workers, each call with its own [`SecretRng`] seeded from
/// `rng` (the seed vector is wiped after use; the generators' states are dropped unwiped, as
/// the session's own generator is); results in input order.
pub(crate) fn par_map_seeded<T: Sync, U: Send>(
    sched: &Scheduler,
    rng: &mut SecretRng,
    items: &[T],
    f: impl Fn(&T, &mut SecretRng) -> Result<U> + Sync,
) -> Result<Vec<U>> {
    use rand_core::SeedableRng;
    use rayon::prelude::*;
    let mut seeds: Vec<Seed> = items.iter().map(|_| sampling::fresh_seed(rng)).collect();
    let out = sched.install(|| {
        items
            .par_iter()
            .zip(seeds.par_iter())
            .map(|(x, seed)| f(x, &mut SecretRng::from_seed(*seed)))
            .collect::<Result<Vec<U>>>()
    });
    zeroize::Zeroize::zeroize(&mut seeds);
    out
}

/// The client's side of [`send_reply`]: receives exactly `count` ciphertexts and decrypts
/// each to its slot vector (on the global scheduler's workers).
fn recv_reply<C: Channel>(
    ch: &mut C,
    cx: &ClientOnline<'_>,
    count: usize,
    what: &'static str,
) -> Result<Vec<Vec<u64>>> {
    use rayon::prelude::*;
    let msg = net::recv_msg(ch, TAG_CTS_DOWN, max_cts_bytes(cx.params, count), what)?;
    let cts = decode_cts(cx.params, &msg, count, what)?;
    Scheduler::global().install(|| {
        cts.par_iter()
            .map(|ct| Ok(cx.sk.decrypt(ct)?.decode_slots()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::he::{params::ParamSetId, sampling};

    #[test]
    fn addend_adds_like_add_plain_assign_and_checks_the_level() {
        let params = ParamSetId::default().params().unwrap();
        let mut rng = sampling::secret_rng().unwrap();
        let sk = SecretKey::generate(&params, &mut rng);
        let p = params.p();
        let slots: Vec<u64> = (0..params.n() as u64).map(|i| i * 7919 % p).collect();
        let x = Plaintext::encode_slots(&params, &[1, 2, p - 3]).unwrap();
        let ct = sk.encrypt(&x, &mut rng).unwrap();
        let mut expect = ct.clone();
        expect
            .add_plain_assign(&Plaintext::encode_slots(&params, &slots).unwrap())
            .unwrap();
        let addend = Addend::new(&params, &slots).unwrap();
        let mut got = ct.clone();
        addend.add_to(&mut got, "t").unwrap();
        assert_eq!(
            sk.decrypt(&got).unwrap().decode_slots(),
            sk.decrypt(&expect).unwrap().decode_slots()
        );
        assert_eq!(sk.noise(&got).unwrap(), sk.noise(&expect).unwrap());
        let mut low = ct.mod_switch_down().unwrap();
        assert!(matches!(
            addend.add_to(&mut low, "t"),
            Err(ProtocolError::Malformed { .. })
        ));
    }
}
