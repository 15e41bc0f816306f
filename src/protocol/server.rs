//! The server's side of the protocol: holds the model, prepares its weights once, and runs
//! sessions (setup, then any number of queries, each an offline and an online phase).
//!
//! Every message from the client is length-bounded by what the plan expects before anything
//! is allocated, and validated (ciphertexts and keys by `he::serial`, OT messages by `ot`);
//! any failure ends this session only, with a reason sent to the client.
use super::budget::PrivacyBudget;
use super::handshake::{handshake_server, Credential, Hello, ServerTerms};
use super::stages::{self, linear::ServerLayer, ServerOffline, ServerOnline, ServerPrep};
use super::wire::{
    max_gk_bytes, max_pk_bytes, OT_PARAMS, REQ_BYE, REQ_PRECOMPUTE, REQ_QUERY,
    REQ_QUERY_PRECOMPUTED, TAG_GK, TAG_PK, TAG_QUERY,
};
use super::{Plan, ProtocolError, Result, Reveal, Stage};
use crate::channel::Channel;
use crate::gc::{Garbler, Scheme};
use crate::he::{params::ParamSetId, sampling, GaloisKeys, PublicKey};
use crate::net;
use crate::nn::Model;
use crate::ot::{io as ot_io, io::IoBuffers, CotSender, OtRng};
use crate::sched::Scheduler;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most offline phases a client may have the server precompute ahead of its queries (each
/// holds the garbling's input labels and OT pools of one query).
pub const MAX_AHEAD: usize = 4;

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// HE parameter set.
    pub param_set: ParamSetId,
    /// Circuit privacy: re-randomise and flood every reply (on by default; off only for
    /// measuring its cost).
    pub circuit_privacy: bool,
    /// Switch replies down to one prime (smaller replies).
    pub switch_down: bool,
    /// Queries one session may make (at most [`super::budget::SESSION_QUERIES`], which the
    /// privacy budget is computed for; [`Server::new`] refuses more). The next query request
    /// ends the session with [`ProtocolError::QueryLimit`].
    pub session_queries: u64,
    /// Serve even when the plan does not meet the circuit-privacy budget (or replies are not
    /// flooded): `--insecure-no-circuit-privacy`. Off by default: [`Server::new`] then refuses
    /// such a plan. The handshake tells every client, which shows it to its user.
    pub insecure_no_circuit_privacy: bool,
    /// Reveal the logits to the client (`serve --reveal logits`). Off by default: the last
    /// garbled circuit then computes the argmax and the client learns only the class (the
    /// logits make model extraction by equation solving cheap). The handshake tells the
    /// client which.
    pub reveal_logits: bool,
    /// How AND gates are garbled (`serve --garbling`; default three halves: 22 % fewer
    /// table bytes than half gates); the handshake tells the client.
    pub garbling: Scheme,
    /// The prepared weights' memory (`serve --weights-memory`).
    pub weights_memory: WeightsMemory,
}

/// How much memory the server's prepared weights may take. Plaintexts beyond the limit are
/// kept as their coefficients (`PreparedPlaintext::new_coefficients`: ⌈log2 p⌉ bits per
/// coefficient instead of 50 per coefficient and prime, 7.5× less at the default parameters)
/// and transformed at each product (three forward NTTs more per product at the default); the
/// replies are the same bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsMemory {
    /// Every plaintext in NTT form (the fastest products).
    Unlimited,
    /// At most `bytes`: the fewest plaintexts that bring the weights under it are kept as
    /// coefficients, taken from the layers with the most products first (they spread best over
    /// the workers). Where even all of them as coefficients exceed it, [`Server::new`] refuses
    /// when `strict` (a limit the operator set), else keeps all as coefficients and
    /// [`Server::weights_memory_note`] says so.
    Limit {
        /// Bytes (decimal: `--weights-memory 600` is 600,000,000).
        bytes: usize,
        /// Refuse to start when the limit cannot be met.
        strict: bool,
    },
}

impl WeightsMemory {
    /// The default: 400 MB, not strict (MiniONN-CIFAR's weights are 1151 MB in NTT form; at
    /// 400 MB a server with one of its sessions and the warm-up peaks at 0.97 GB, with the
    /// online time of 500 MB, perf/RESULTS.md fourteenth session).
    pub const DEFAULT: WeightsMemory = WeightsMemory::Limit {
        bytes: 400_000_000,
        strict: false,
    };
}

impl Default for WeightsMemory {
    fn default() -> Self {
        WeightsMemory::DEFAULT
    }
}

/// What a server for `plan` holds in memory before and per session, from the plan alone
/// (`gazelle plan` prints it): its prepared weights under a [`WeightsMemory`] limit and each
/// session's Galois keys.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryPlan {
    /// Per linear stage, in order: its plaintexts kept as coefficients under the limit.
    pub kept_per_stage: Vec<usize>,
    /// Plaintexts of the linear stages (one per ct×pt product).
    pub plaintexts: usize,
    /// Of those, kept as coefficients under the limit.
    pub kept_as_coefficients: usize,
    /// Bytes of the prepared weights under the limit (at most: every linear stage counted
    /// with a bias).
    pub weights_bytes: usize,
    /// The same with every plaintext in NTT form.
    pub weights_ntt_bytes: usize,
    /// Set when a non-strict limit cannot be met: by how much.
    pub note: Option<String>,
    /// Galois keys a session uploads (one per element).
    pub galois_keys: usize,
    /// Bytes the server holds for them per session.
    pub galois_key_bytes: usize,
}

impl MemoryPlan {
    /// The memory plan of `plan` under `limit`: the fewest plaintexts kept as coefficients
    /// that bring the weights under it, from the stages with the most products first. A
    /// strict limit that cannot be met is refused (as [`Server::new`] refuses it); a
    /// non-strict one keeps them all as coefficients and says so in `note`.
    pub fn of(
        plan: &Plan,
        params: &crate::he::Parameters,
        limit: WeightsMemory,
    ) -> Result<MemoryPlan> {
        let costs: Vec<_> = plan
            .stages
            .iter()
            .filter_map(|st| match st {
                Stage::Linear { schedule, .. } => Some(schedule.cost()),
                _ => None,
            })
            .collect();
        let ntt = crate::he::PreparedPlaintext::ntt_bytes(params);
        let coeff = crate::he::PreparedPlaintext::coefficient_bytes(params);
        let bias: usize = costs.iter().map(|c| c.out_cts * 8 * params.n()).sum();
        let mults: Vec<usize> = costs.iter().map(|c| c.mults).collect();
        let plaintexts: usize = mults.iter().sum();
        let all_ntt = bias + plaintexts * ntt;
        let all_coeff = bias + plaintexts * coeff;
        let saving = ntt.saturating_sub(coeff);
        let mut kept = vec![0; costs.len()];
        let mut note = None;
        match limit {
            WeightsMemory::Limit { bytes, .. } if all_ntt <= bytes => {}
            WeightsMemory::Unlimited => {}
            WeightsMemory::Limit { bytes, strict } if all_coeff > bytes || saving == 0 => {
                let msg = format!(
                    "{:.1} MB even with every plaintext kept as coefficients (limit {:.1} MB; \
                     {:.1} MB all in NTT form)",
                    all_coeff as f64 / 1e6,
                    bytes as f64 / 1e6,
                    all_ntt as f64 / 1e6
                );
                if strict {
                    return Err(ProtocolError::WeightsMemory(msg));
                }
                kept.clone_from(&mults);
                note = Some(msg);
            }
            WeightsMemory::Limit { bytes, .. } => {
                let mut excess = all_ntt - bytes;
                let mut order: Vec<usize> = (0..costs.len()).collect();
                order.sort_by_key(|&i| std::cmp::Reverse(mults[i]));
                for i in order {
                    if excess == 0 {
                        break;
                    }
                    kept[i] = excess.div_ceil(saving).min(mults[i]);
                    excess = excess.saturating_sub(kept[i] * saving);
                }
            }
        }
        let kept_as_coefficients: usize = kept.iter().sum();
        let galois_keys = plan.galois_frames().iter().map(Vec::len).sum();
        Ok(MemoryPlan {
            kept_per_stage: kept,
            plaintexts,
            kept_as_coefficients,
            weights_bytes: all_ntt - kept_as_coefficients * saving,
            weights_ntt_bytes: all_ntt,
            note,
            galois_keys,
            galois_key_bytes: galois_keys * crate::he::GaloisKeys::bytes_per_key(params),
        })
    }
}

impl ServerConfig {
    /// The default configuration with `insecure_no_circuit_privacy` set (tests, demos of sets
    /// that miss the budget).
    pub fn insecure(param_set: ParamSetId) -> ServerConfig {
        ServerConfig {
            param_set,
            insecure_no_circuit_privacy: true,
            ..ServerConfig::default()
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            param_set: ParamSetId::default(),
            circuit_privacy: true,
            switch_down: true,
            session_queries: super::budget::SESSION_QUERIES,
            insecure_no_circuit_privacy: false,
            reveal_logits: false,
            garbling: Scheme::ThreeHalves,
            weights_memory: WeightsMemory::DEFAULT,
        }
    }
}

/// A server for one model: weights encoded once, shared by all sessions.
pub struct Server {
    model: Arc<Model>,
    plan: Plan,
    config: ServerConfig,
    /// Per stage: the prepared weights of a linear stage, `None` for the others.
    layers: Vec<Option<ServerLayer>>,
    /// The plan's circuit-privacy budget.
    budget: PrivacyBudget,
    /// The model's architecture as sent in every handshake (no weight).
    architecture: Vec<u8>,
    /// Set by [`Server::drain`]: sessions start no further query.
    draining: std::sync::atomic::AtomicBool,
    /// Why the weights exceed a non-strict memory limit, if they do.
    weights_note: Option<String>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("model", &self.model.name())
            .field("stages", &self.plan.stages.len())
            .finish_non_exhaustive()
    }
}

/// Session state after setup.
pub(crate) struct Session {
    /// The client's public key (re-randomisation).
    pub(crate) pk: PublicKey,
    /// Galois keys: one per element any linear stage needs.
    pub(crate) gk: GaloisKeys,
    /// The garbler (its Δ is the OT extension's).
    pub(crate) garbler: Garbler,
    /// The OT-extension sender.
    pub(crate) cot: CotSender,
}

/// What a running session reports as it goes (`serve`'s log lines and live metrics).
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// Handshake, key upload and OT setup are done.
    Ready {
        /// Time since the session started.
        setup: Duration,
        /// Payload bytes (sent, received) so far.
        bytes: (u64, u64),
    },
    /// An offline phase computed ahead of its query.
    Precomputed {
        /// Its time.
        offline: Duration,
        /// Payload bytes (sent, received).
        bytes: (u64, u64),
        /// Offline phases now waiting.
        ahead: usize,
    },
    /// A query answered.
    Query {
        /// Its number in the session (1-based).
        n: usize,
        /// Whether its offline phase was precomputed (reported by [`SessionEvent::Precomputed`]).
        precomputed: bool,
        /// Offline time (zero when it was precomputed).
        offline: Duration,
        /// Online time.
        online: Duration,
        /// Payload bytes (sent, received) of this query.
        bytes: (u64, u64),
    },
}

impl std::fmt::Display for SessionEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mb = |b: u64| b as f64 / 1e6;
        match self {
            SessionEvent::Ready { setup, bytes } => write!(
                f,
                "session set up in {:.1} ms ({:.2} MB sent, {:.2} MB received)",
                setup.as_secs_f64() * 1e3,
                mb(bytes.0),
                mb(bytes.1)
            ),
            SessionEvent::Precomputed {
                offline,
                bytes,
                ahead,
            } => write!(
                f,
                "offline phase precomputed in {:.1} ms ({ahead} ahead; {:.2} MB sent, {:.2} MB received)",
                offline.as_secs_f64() * 1e3,
                mb(bytes.0),
                mb(bytes.1)
            ),
            SessionEvent::Query {
                n,
                offline,
                online,
                bytes,
                ..
            } => write!(
                f,
                "query {n}: offline {:.1} ms, online {:.1} ms ({:.2} MB sent, {:.2} MB received)",
                offline.as_secs_f64() * 1e3,
                online.as_secs_f64() * 1e3,
                mb(bytes.0),
                mb(bytes.1)
            ),
        }
    }
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
        let reveal = if config.reveal_logits {
            Reveal::Logits
        } else {
            Reveal::Class
        };
        let plan = Plan::new_with(&model, &params, reveal)?;
        // Fail closed: a plan that misses the budget runs only when the operator said so.
        let budget = PrivacyBudget::of(&plan, &model, config.switch_down);
        if config.session_queries == 0 || config.session_queries > super::budget::SESSION_QUERIES {
            return Err(ProtocolError::NoCircuitPrivacy(format!(
                "session_queries = {} must be in 1..={} (the budget covers that many)",
                config.session_queries,
                super::budget::SESSION_QUERIES
            )));
        }
        if !config.insecure_no_circuit_privacy {
            budget.check()?;
            if !config.circuit_privacy {
                return Err(ProtocolError::NoCircuitPrivacy(
                    "replies are not flooded (circuit_privacy = false)".into(),
                ));
            }
        }
        let memory = MemoryPlan::of(&plan, &params, config.weights_memory)?;
        let (kept, weights_note) = (memory.kept_per_stage, memory.note);
        let sched = Scheduler::global();
        let mut layers = Vec::with_capacity(plan.stages.len());
        let mut linear = 0..;
        for st in &plan.stages {
            layers.push(match st {
                Stage::Linear {
                    layer,
                    schedule,
                    dense,
                } => {
                    let k = linear.next().unwrap_or_default();
                    Some(ServerLayer::new(
                        &model, &params, *layer, schedule, *dense, kept[k], sched,
                    )?)
                }
                _ => None,
            })
        }
        Ok(Server {
            draining: Default::default(),
            architecture: crate::nn::format::encode_architecture(&model),
            model: Arc::new(model),
            plan,
            config,
            layers,
            budget,
            weights_note,
        })
    }

    /// Graceful shutdown: from now on every session finishes the query it is running, then
    /// answers its next query request with an error frame ("server shutting down") and ends
    /// with [`ProtocolError::ShuttingDown`].
    pub fn drain(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The plan's circuit-privacy budget.
    pub fn budget(&self) -> &PrivacyBudget {
        &self.budget
    }

    /// Whether replies are flooded and the plan meets the budget.
    pub fn circuit_privacy(&self) -> bool {
        self.config.circuit_privacy && self.budget.holds()
    }

    /// Bytes of memory the prepared weights of every linear stage take (the bulk of a
    /// server's memory; shared by all sessions).
    pub fn weight_bytes(&self) -> usize {
        self.layers.iter().flatten().map(|l| l.weight_bytes()).sum()
    }

    /// Plaintexts of the prepared weights kept as coefficients, and all of them (see
    /// [`WeightsMemory`]).
    pub fn coefficient_plaintexts(&self) -> (usize, usize) {
        self.layers.iter().flatten().fold((0, 0), |(c, t), l| {
            (c + l.coefficient_plaintexts(), t + l.plaintexts())
        })
    }

    /// One phrase on the prepared weights: their memory, and how many plaintexts are kept as
    /// coefficients under which limit (for logs and the demo).
    pub fn describe_weights(&self) -> String {
        let mb = self.weight_bytes() as f64 / 1e6;
        let (kept, total) = self.coefficient_plaintexts();
        let limit = match self.config.weights_memory {
            WeightsMemory::Unlimited => "no memory limit".to_string(),
            WeightsMemory::Limit { bytes, .. } => format!("limit {:.0} MB", bytes as f64 / 1e6),
        };
        let mut out = if kept == 0 {
            format!("{mb:.1} MB of prepared weights ({total} plaintexts in NTT form; {limit})")
        } else {
            format!(
                "{mb:.1} MB of prepared weights ({kept} of {total} plaintexts kept as coefficients, transformed at each use; {limit})"
            )
        };
        if let Some(note) = &self.weights_note {
            out.push_str(&format!(": over the limit, {note}"));
        }
        out
    }

    /// Set when the weights exceed a non-strict [`WeightsMemory::Limit`]: by how much.
    pub fn weights_memory_note(&self) -> Option<&str> {
        self.weights_note.as_deref()
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

    /// The HE parameter set the server runs.
    pub fn param_set(&self) -> ParamSetId {
        self.config.param_set
    }

    /// Runs one session over `ch` until the client says goodbye, admitting every client and
    /// query: see [`Server::serve_session_gated`].
    pub fn serve_session<C: Channel>(
        &self,
        ch: &mut C,
        log: impl FnMut(&SessionEvent),
    ) -> Result<SessionSummary> {
        self.serve_session_gated(ch, log, &mut OpenGate)
    }

    /// Runs one session over `ch` until the client says goodbye; `gate` admits the client's
    /// credential and each query it starts. On any error the client is told why (best effort)
    /// and the error is returned; nothing else is affected.
    pub fn serve_session_gated<C: Channel>(
        &self,
        ch: &mut C,
        mut log: impl FnMut(&SessionEvent),
        gate: &mut dyn SessionGate,
    ) -> Result<SessionSummary> {
        let r = self.session_inner(ch, &mut log, gate);
        if let Err(e) = &r {
            if !matches!(
                e,
                ProtocolError::Net(net::NetError::PeerError(_) | net::NetError::Refused(_))
                    | ProtocolError::Refused(_)
            ) {
                net::send_error(ch, &e.to_string());
            }
        }
        r
    }

    fn session_inner<C: Channel>(
        &self,
        ch: &mut C,
        log: &mut impl FnMut(&SessionEvent),
        gate: &mut dyn SessionGate,
    ) -> Result<SessionSummary> {
        // The session's garbler: Δ, label key and a fresh garbling hash key, which the
        // evaluator needs and learns from the handshake.
        let start = Instant::now();
        let garbler = Garbler::new_session()?.with_scheme(self.config.garbling);
        let terms = ServerTerms {
            circuit_privacy: self.circuit_privacy(),
            logits_revealed: self.plan.reveal == Reveal::Logits,
            gc_hash_key: garbler.hash_key().to_bytes(),
            garbling: self.config.garbling,
        };
        handshake_server(ch, &self.hello(), terms, &self.architecture, &mut |c| {
            gate.admit(c)
        })?;
        let params = &self.plan.params;
        let pk_bytes = net::recv_msg(ch, TAG_PK, max_pk_bytes(params), "public key")?;
        let pk = PublicKey::from_bytes(params, &pk_bytes)?;
        // One key per Galois element, sent in one frame per linear stage (the elements no
        // earlier stage needs), each exactly the elements expected, all of one seed.
        let mut gk: Option<GaloisKeys> = None;
        for need in self.plan.galois_frames() {
            let bytes = net::recv_msg(ch, TAG_GK, max_gk_bytes(params, need.len()), "Galois keys")?;
            let keys = GaloisKeys::from_bytes(params, &bytes)?;
            let have = keys.elements();
            if let Some(g) = need.iter().find(|g| !have.contains(g)) {
                return Err(ProtocolError::Malformed {
                    what: "Galois keys",
                    reason: format!("no key for Galois element {g}"),
                });
            }
            if have.len() != need.len() {
                return Err(ProtocolError::Malformed {
                    what: "Galois keys",
                    reason: format!("{} keys where {} were expected", have.len(), need.len()),
                });
            }
            match &mut gk {
                None => gk = Some(keys),
                Some(all) => all.merge(keys).map_err(|e| ProtocolError::Malformed {
                    what: "Galois keys",
                    reason: e.to_string(),
                })?,
            }
        }
        let gk = gk.unwrap_or_else(|| GaloisKeys::empty(params));

        let mut ot_rng = OtRng::from_entropy()?;
        let cot = ot_io::setup_sender(ch, OT_PARAMS, garbler.delta(), &mut ot_rng)?;
        let mut s = Session {
            pk,
            gk,
            garbler,
            cot,
        };
        log(&SessionEvent::Ready {
            setup: start.elapsed(),
            bytes: (ch.bytes_sent(), ch.bytes_received()),
        });
        let mut summary = SessionSummary::default();
        let mut ahead: VecDeque<Vec<ServerPrep>> = VecDeque::new();
        // OT message buffers kept from query to query (the online label transfer).
        let mut io = IoBuffers::default();
        // Queries started (precomputed ones included): the budget's Q.
        let mut started: u64 = 0;
        loop {
            let q = net::recv_msg(ch, TAG_QUERY, 1, "query request")?;
            let t0 = Instant::now();
            let meter = net::Meter::start(ch);
            if matches!(
                q.as_slice(),
                [REQ_QUERY] | [REQ_PRECOMPUTE] | [REQ_QUERY_PRECOMPUTED]
            ) && self.draining.load(std::sync::atomic::Ordering::SeqCst)
            {
                net::send_error(ch, "server shutting down, retry later");
                return Err(ProtocolError::ShuttingDown);
            }
            if matches!(q.as_slice(), [REQ_QUERY] | [REQ_PRECOMPUTE]) {
                if started >= self.config.session_queries {
                    return Err(ProtocolError::QueryLimit {
                        limit: self.config.session_queries,
                    });
                }
                if let Err(reason) = gate.start_query() {
                    net::send_error(ch, &reason);
                    return Err(ProtocolError::Refused(reason));
                }
                started += 1;
            }
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
                    log(&SessionEvent::Precomputed {
                        offline: t0.elapsed(),
                        bytes: meter.read(ch),
                        ahead: ahead.len(),
                    });
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
            self.online(ch, &s, preps, &mut io)?;
            let t2 = Instant::now();
            summary.queries += 1;
            summary.offline.push(t1 - t0);
            summary.online.push(t2 - t1);
            log(&SessionEvent::Query {
                n: summary.queries,
                precomputed: q.as_slice() == [REQ_QUERY_PRECOMPUTED],
                offline: t1 - t0,
                online: t2 - t1,
                bytes: meter.read(ch),
            });
        }
    }

    /// One query's offline phase: every stage's server state, in order.
    fn offline<C: Channel>(&self, ch: &mut C, s: &mut Session) -> Result<Vec<ServerPrep>> {
        let mut cx = ServerOffline {
            params: &self.plan.params,
            config: &self.config,
            rng: sampling::secret_rng()?,
            share: vec![0u64; self.plan.input_len],
            kept: Default::default(),
        };
        self.plan
            .stages
            .iter()
            .zip(&self.layers)
            .map(|(st, layer)| stages::server_offline(st, layer.as_ref(), ch, s, &mut cx))
            .collect()
    }

    /// One query's online phase on the state `offline` prepared.
    fn online<C: Channel>(
        &self,
        ch: &mut C,
        s: &Session,
        preps: Vec<ServerPrep>,
        io: &mut IoBuffers,
    ) -> Result<()> {
        let mut cx = ServerOnline {
            params: &self.plan.params,
            config: &self.config,
            sched: Scheduler::global(),
            rng: sampling::secret_rng()?,
            io,
        };
        for ((st, layer), prep) in self.plan.stages.iter().zip(&self.layers).zip(preps) {
            stages::server_online(st, prep, layer.as_ref(), ch, s, &mut cx)?;
        }
        Ok(())
    }
}

/// Admission control of one session (`serve --tokens`, per-credential limits): asked once
/// when the client's hello arrives and before every query (or precomputed offline phase) it
/// starts. A refusal's reason is sent to the client and ends the session.
pub trait SessionGate {
    /// Whether a client presenting `credential` may start this session.
    fn admit(&mut self, credential: &Credential) -> std::result::Result<(), String>;
    /// Whether the session may start one more query now.
    fn start_query(&mut self) -> std::result::Result<(), String>;
}

/// The gate that admits every client and query.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenGate;

impl SessionGate for OpenGate {
    fn admit(&mut self, _: &Credential) -> std::result::Result<(), String> {
        Ok(())
    }
    fn start_query(&mut self) -> std::result::Result<(), String> {
        Ok(())
    }
}
