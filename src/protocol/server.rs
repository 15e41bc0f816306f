//! The server's side of the protocol: holds the model, prepares its weights once, and runs
//! sessions (setup, then any number of queries, each an offline and an online phase).
//!
//! Every message from the client is length-bounded by what the plan expects before anything
//! is allocated, and validated (ciphertexts and keys by `he::serial`, OT messages by `ot`);
//! any failure ends this session only, with a reason sent to the client.
use super::{
    decode_cts, encode_cts, layer_weights, linear_noise, max_cts_bytes, random_mod, Plan,
    ProtocolError, Result, Stage,
};
use crate::channel::Channel;
use crate::gc::{Garbler, Party};
use crate::he::{
    params::ParamSetId, sampling, Ciphertext, GaloisKeys, NoiseBound, Plaintext, PreparedPlaintext,
    PublicKey,
};
use crate::linalg::PreparedLayer;
use crate::net::{self, ChunkWriter, Hello};
use crate::nn::Model;
use crate::ot::{io as ot_io, CotSender, ExtParams, OtRng, SenderCots};
use crate::sched::Scheduler;
use kernels::Block;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const TAG_PK: u8 = 0x10;
pub(crate) const TAG_GK: u8 = 0x11;
pub(crate) const TAG_QUERY: u8 = 0x12;
pub(crate) const TAG_TABLES: u8 = 0x13;
pub(crate) const TAG_GLABELS: u8 = 0x14;
pub(crate) const TAG_CTS_UP: u8 = 0x15;
pub(crate) const TAG_CTS_DOWN: u8 = 0x16;

pub(crate) const REQ_BYE: u8 = 0;
pub(crate) const REQ_QUERY: u8 = 1;
pub(crate) const REQ_PRECOMPUTE: u8 = 2;
pub(crate) const REQ_QUERY_PRECOMPUTED: u8 = 3;

/// Most offline phases a client may have the server precompute ahead of its queries (each
/// holds the garbling's input labels and OT pools of one query).
pub const MAX_AHEAD: usize = 4;

/// OT-extension parameters of the protocol.
pub(crate) const OT_PARAMS: ExtParams = ExtParams::SOFTSPOKEN_4;

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// HE parameter set.
    pub param_set: ParamSetId,
    /// Circuit privacy: re-randomise and flood every reply (on by default; off only for
    /// measuring its cost).
    pub circuit_privacy: bool,
    /// Switch replies down one prime (smaller replies).
    pub switch_down: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            param_set: ParamSetId::default(),
            circuit_privacy: true,
            switch_down: true,
        }
    }
}

/// A server for one model: weights encoded once, shared by all sessions.
pub struct Server {
    model: Arc<Model>,
    plan: Plan,
    config: ServerConfig,
    prepared: Vec<Option<PreparedLayer>>,
    noise: Vec<NoiseBound>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("model", &self.model.name())
            .field("stages", &self.plan.stages.len())
            .finish_non_exhaustive()
    }
}

/// Per-query server state prepared offline.
enum Prep {
    Linear {
        share_pts: Vec<Plaintext>,
        mask_pts: Vec<Plaintext>,
    },
    Square {
        two_s: Vec<PreparedPlaintext>,
        s2_plus_r: Vec<Plaintext>,
    },
    Local,
    Nonlinear {
        pool: SenderCots,
        zero_labels: Vec<Block>,
    },
}

/// Session state after setup.
struct Session {
    pk: PublicKey,
    /// Galois keys of each linear stage, in order.
    gk: Vec<GaloisKeys>,
    garbler: Garbler,
    cot: CotSender,
}

/// How a session ended.
#[derive(Debug, Clone, Default)]
pub struct SessionSummary {
    /// Queries answered.
    pub queries: usize,
    /// Online time of each query (server side).
    pub online: Vec<Duration>,
    /// Offline time of each query (server side).
    pub offline: Vec<Duration>,
}

impl Server {
    /// Prepares a server for `model` (encodes every linear layer's weights).
    pub fn new(model: Model, config: ServerConfig) -> Result<Server> {
        let params = config.param_set.params()?;
        let plan = Plan::new(&model, &params)?;
        let sched = Scheduler::global();
        let mut prepared = Vec::with_capacity(plan.stages.len());
        let mut noise = Vec::with_capacity(plan.stages.len());
        for st in &plan.stages {
            match st {
                Stage::Linear {
                    layer,
                    schedule,
                    dense,
                } => {
                    let w = layer_weights(&model, *layer, *dense);
                    prepared.push(Some(PreparedLayer::new(schedule, &w, sched)?));
                    noise.push(linear_noise(&params, schedule));
                }
                Stage::Square { .. } => {
                    prepared.push(None);
                    noise.push(NoiseBound(
                        NoiseBound::fresh().mul_any_plain(&params).value()
                            + NoiseBound::fresh().value()
                            + 1.0,
                    ));
                }
                _ => {
                    prepared.push(None);
                    noise.push(NoiseBound::zero());
                }
            }
        }
        Ok(Server {
            model: Arc::new(model),
            plan,
            config,
            prepared,
            noise,
        })
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    fn hello(&self) -> Hello {
        Hello::new(self.config.param_set, self.model.name())
    }

    /// Runs one session over `ch` until the client says goodbye. On any error the client is
    /// told why (best effort) and the error is returned; nothing else is affected.
    pub fn serve_session<C: Channel>(
        &self,
        ch: &mut C,
        mut log: impl FnMut(&str),
    ) -> Result<SessionSummary> {
        let r = self.session_inner(ch, &mut log);
        if let Err(e) = &r {
            if !matches!(e, ProtocolError::Net(net::NetError::PeerError(_))) {
                net::send_error(ch, &e.to_string());
            }
        }
        r
    }

    fn session_inner<C: Channel>(
        &self,
        ch: &mut C,
        log: &mut impl FnMut(&str),
    ) -> Result<SessionSummary> {
        net::handshake_server(ch, &self.hello())?;
        let params = &self.plan.params;
        let pk_bytes = net::recv_msg(
            ch,
            TAG_PK,
            64 + params.n() * params.max_level() * 8,
            "public key",
        )?;
        let pk = PublicKey::from_bytes(params, &pk_bytes)?;
        let per_key = params.num_digits() * params.n() * params.max_level() * 8 + 4;
        let mut gk = Vec::new();
        for need in self.plan.galois_groups() {
            let bytes = net::recv_msg(ch, TAG_GK, 64 + need.len() * per_key, "Galois keys")?;
            let keys = GaloisKeys::from_bytes(params, &bytes)?;
            let have = keys.elements();
            if let Some(g) = need.iter().find(|g| !have.contains(g)) {
                return Err(ProtocolError::Malformed {
                    what: "Galois keys",
                    reason: format!("no key for Galois element {g}"),
                });
            }
            gk.push(keys);
        }
        let garbler = Garbler::new()?;
        let mut ot_rng = OtRng::from_entropy()?;
        let cot = ot_io::setup_sender(ch, OT_PARAMS, garbler.delta(), &mut ot_rng)?;
        let mut s = Session {
            pk,
            gk,
            garbler,
            cot,
        };
        let mut summary = SessionSummary::default();
        let mut ahead: VecDeque<Vec<Prep>> = VecDeque::new();
        loop {
            let q = net::recv_msg(ch, TAG_QUERY, 1, "query request")?;
            let t0 = Instant::now();
            let preps = match q.as_slice() {
                [REQ_BYE] => return Ok(summary),
                [REQ_QUERY] => self.offline(ch, &mut s)?,
                [REQ_PRECOMPUTE] => {
                    if ahead.len() >= MAX_AHEAD {
                        return Err(ProtocolError::Malformed {
                            what: "precompute request",
                            reason: format!("more than {MAX_AHEAD} queries ahead"),
                        });
                    }
                    let prep = self.offline(ch, &mut s)?;
                    ahead.push_back(prep);
                    log(&format!(
                        "offline phase precomputed in {:.1} ms ({} ahead)",
                        t0.elapsed().as_secs_f64() * 1e3,
                        ahead.len()
                    ));
                    continue;
                }
                [REQ_QUERY_PRECOMPUTED] => {
                    ahead.pop_front().ok_or_else(|| ProtocolError::Malformed {
                        what: "query request",
                        reason: "no precomputed offline phase left".into(),
                    })?
                }
                _ => {
                    return Err(ProtocolError::Malformed {
                        what: "query request",
                        reason: "unknown request".into(),
                    })
                }
            };
            let t1 = Instant::now();
            self.online(ch, &mut s, preps)?;
            let t2 = Instant::now();
            summary.queries += 1;
            summary.offline.push(t1 - t0);
            summary.online.push(t2 - t1);
            log(&format!(
                "query {}: offline {:.1} ms, online {:.1} ms",
                summary.queries,
                (t1 - t0).as_secs_f64() * 1e3,
                (t2 - t1).as_secs_f64() * 1e3
            ));
        }
    }

    fn offline<C: Channel>(&self, ch: &mut C, s: &mut Session) -> Result<Vec<Prep>> {
        let params = &self.plan.params;
        let p = params.p();
        let n = params.n();
        let mut rng = sampling::secret_rng()?;
        let mut share = vec![0u64; self.plan.input_len];
        let mut preps = Vec::with_capacity(self.plan.stages.len());
        for st in &self.plan.stages {
            match st {
                Stage::Linear { schedule, .. } => {
                    let share_pts = schedule
                        .input_layout()
                        .pack(&share)?
                        .iter()
                        .map(|v| Plaintext::encode_slots(params, v))
                        .collect::<std::result::Result<Vec<_>, _>>()?;
                    let out = schedule.output_layout();
                    let masks: Vec<Vec<u64>> = (0..out.num_cts())
                        .map(|_| random_mod(&mut rng, p, n))
                        .collect();
                    share = out
                        .positions()
                        .iter()
                        .map(|pos| {
                            let (c, sl) = pos.ok_or_else(|| {
                                ProtocolError::Unsupported("an output element has no slot".into())
                            })?;
                            Ok((p - masks[c][sl]) % p)
                        })
                        .collect::<Result<Vec<u64>>>()?;
                    let mask_pts = masks
                        .iter()
                        .map(|v| Plaintext::encode_slots(params, v))
                        .collect::<std::result::Result<Vec<_>, _>>()?;
                    preps.push(Prep::Linear {
                        share_pts,
                        mask_pts,
                    });
                }
                Stage::Square { len } => {
                    let r = random_mod(&mut rng, p, *len);
                    let mut two_s = Vec::new();
                    let mut s2_plus_r = Vec::new();
                    for (sc, rc) in share.chunks(n).zip(r.chunks(n)) {
                        let mut a = vec![0u64; n];
                        let mut b = vec![0u64; n];
                        for (j, (&sv, &rv)) in sc.iter().zip(rc).enumerate() {
                            a[j] = 2 * sv % p;
                            b[j] = ((sv as u128 * sv as u128 + rv as u128) % p as u128) as u64;
                        }
                        two_s.push(PreparedPlaintext::new(&Plaintext::encode_slots(
                            params, &a,
                        )?));
                        s2_plus_r.push(Plaintext::encode_slots(params, &b)?);
                    }
                    share = r.iter().map(|&v| (p - v) % p).collect();
                    preps.push(Prep::Square { two_s, s2_plus_r });
                }
                Stage::SumPool { windows, k2 } => {
                    share = windows
                        .chunks(*k2)
                        .map(|w| w.iter().fold(0, |a, &i| (a + share[i]) % p))
                        .collect();
                    preps.push(Prep::Local);
                }
                Stage::Nonlinear { circuit, gather } => {
                    let spec = circuit.spec();
                    let inst = gather.len() / spec.window;
                    let eval_bits = inst * spec.window * crate::gc::arith::modulus_bits(p);
                    let pool = ot_io::extend_sender(ch, &mut s.cot, eval_bits)?;
                    let sg: Vec<u64> = gather.iter().map(|&i| share[i]).collect();
                    let reveal = spec.output == crate::gc::gazelle::Output::Reveal;
                    let r = if reveal {
                        vec![]
                    } else {
                        random_mod(&mut rng, p, inst)
                    };
                    let mut w = ChunkWriter::new(ch, TAG_TABLES);
                    let garbling = s.garbler.garble(circuit.circuit(), inst, &mut w)?;
                    w.finish()?;
                    let gbits = circuit.garbler_bits(&sg, &r)?;
                    let glabels =
                        garbling.encode_party(circuit.circuit(), Party::Garbler, &gbits)?;
                    let mut msg =
                        Vec::with_capacity(16 * glabels.len() + garbling.decoding().len() / 8 + 1);
                    for l in &glabels {
                        msg.extend_from_slice(l.as_bytes());
                    }
                    let mut packed = vec![0u8; garbling.decoding().len().div_ceil(8)];
                    for (j, &b) in garbling.decoding().iter().enumerate() {
                        packed[j / 8] |= (b as u8) << (j % 8);
                    }
                    msg.extend_from_slice(&packed);
                    net::send_msg(ch, TAG_GLABELS, &msg)?;
                    let zero_labels = garbling
                        .evaluator_label_pairs(circuit.circuit())
                        .into_iter()
                        .map(|(z, _)| z)
                        .collect();
                    share = r.iter().map(|&v| (p - v) % p).collect();
                    preps.push(Prep::Nonlinear { pool, zero_labels });
                }
            }
        }
        Ok(preps)
    }

    fn reply<C: Channel>(
        &self,
        ch: &mut C,
        s: &Session,
        cts: Vec<Ciphertext>,
        noise: NoiseBound,
        rng: &mut sampling::SecretRng,
    ) -> Result<()> {
        let out = if self.config.circuit_privacy {
            cts.iter()
                .map(|c| Ok(s.pk.make_private(c, noise, self.config.switch_down, rng)?.0))
                .collect::<Result<Vec<_>>>()?
        } else if self.config.switch_down {
            cts.iter()
                .map(|c| c.mod_switch_down())
                .collect::<std::result::Result<Vec<_>, _>>()?
        } else {
            cts
        };
        net::send_msg(ch, TAG_CTS_DOWN, &encode_cts(&out))?;
        Ok(())
    }

    fn online<C: Channel>(&self, ch: &mut C, s: &mut Session, preps: Vec<Prep>) -> Result<()> {
        let params = &self.plan.params;
        let sched = Scheduler::global();
        let mut rng = sampling::secret_rng()?;
        let mut lin = 0;
        for (i, (st, prep)) in self.plan.stages.iter().zip(preps).enumerate() {
            match (st, prep) {
                (
                    Stage::Linear { schedule, .. },
                    Prep::Linear {
                        share_pts,
                        mask_pts,
                    },
                ) => {
                    let k = schedule.input_layout().num_cts();
                    let msg =
                        net::recv_msg(ch, TAG_CTS_UP, max_cts_bytes(params, k), "layer input")?;
                    let mut cts = decode_cts(params, &msg, k, "layer input")?;
                    for (ct, pt) in cts.iter_mut().zip(&share_pts) {
                        ct.add_plain_assign(pt)?;
                    }
                    let layer = self.prepared[i].as_ref().ok_or_else(|| {
                        ProtocolError::Unsupported("linear stage without weights".into())
                    })?;
                    let keys = s.gk.get(lin).ok_or_else(|| {
                        ProtocolError::Unsupported("no Galois keys for a linear stage".into())
                    })?;
                    lin += 1;
                    let mut out = layer.eval(&cts, keys, sched)?;
                    for (ct, m) in out.iter_mut().zip(&mask_pts) {
                        ct.add_plain_assign(m)?;
                    }
                    self.reply(ch, s, out, self.noise[i], &mut rng)?;
                }
                (Stage::Square { .. }, Prep::Square { two_s, s2_plus_r }) => {
                    let k = two_s.len();
                    let msg = net::recv_msg(
                        ch,
                        TAG_CTS_UP,
                        max_cts_bytes(params, 2 * k),
                        "square input",
                    )?;
                    let cts = decode_cts(params, &msg, 2 * k, "square input")?;
                    let mut out = Vec::with_capacity(k);
                    for j in 0..k {
                        let mut y = cts[k + j].clone();
                        y.add_assign(&cts[j].mul_plain(&two_s[j])?)?;
                        y.add_plain_assign(&s2_plus_r[j])?;
                        out.push(y);
                    }
                    self.reply(ch, s, out, self.noise[i], &mut rng)?;
                }
                (Stage::SumPool { .. }, Prep::Local) => {}
                (
                    Stage::Nonlinear { .. },
                    Prep::Nonlinear {
                        mut pool,
                        zero_labels,
                    },
                ) => {
                    ot_io::send_labels(ch, &mut pool, &zero_labels)?;
                }
                _ => {
                    return Err(ProtocolError::Unsupported(
                        "offline state does not match the plan".into(),
                    ))
                }
            }
        }
        Ok(())
    }
}
