//! The client's side of the protocol: key generation and upload, then per query an offline
//! phase (random OTs, garbled tables) and the online phase on its private input.
use super::handshake::{handshake_client, Credential, Hello, ServerTerms};
use super::metrics::measure;
use super::stages::{self, ClientOnline, ClientPrep, ClientStep};
use super::wire::{
    OT_PARAMS, REQ_BYE, REQ_PRECOMPUTE, REQ_QUERY, REQ_QUERY_PRECOMPUTED, TAG_GK, TAG_PK, TAG_QUERY,
};
use super::{PhaseMetrics, Plan, ProtocolError, QueryReport, Result, Reveal, Stage, StageMetrics};
use crate::channel::Channel;
use crate::gc::{Evaluator, HashKey};
use crate::he::{params::ParamSetId, sampling, GaloisKeys, PublicKey, SecretKey};
use crate::net;
use crate::nn::{argmax, format, Model};
use crate::ot::{io as ot_io, CotReceiver, OtRng};
use zeroize::Zeroize;

/// When `e` says the peer closed the channel, the peer may have said why first (a server
/// that is shutting down or over a limit answers the request with an error frame and closes,
/// and our own next send then fails): that reason, if it is waiting, else `e`. Never blocks
/// on an open channel.
fn peer_reason_or<C: Channel>(ch: &mut C, e: ProtocolError) -> ProtocolError {
    use crate::channel::ChannelError::Closed;
    let closed = matches!(
        e,
        ProtocolError::Net(net::NetError::Channel(Closed))
            | ProtocolError::Ot(crate::ot::OtError::Channel(Closed))
    );
    if !closed {
        return e;
    }
    match net::recv_msg(ch, TAG_QUERY, 1 << 12, "error frame") {
        Err(net::NetError::PeerError(reason)) => net::NetError::PeerError(reason).into(),
        _ => e,
    }
}

/// One query's offline material with its measurements (per stage, and the request).
type Precomputed = (Vec<ClientPrep>, Vec<PhaseMetrics>, PhaseMetrics);

/// A connected client session: keys uploaded, OT set up; run [`Client::query`] any number of
/// times, then [`Client::finish`].
pub struct Client<'c, C: Channel> {
    ch: &'c mut C,
    model: Model,
    plan: Plan,
    sk: SecretKey,
    cot: CotReceiver,
    evaluator: Evaluator,
    /// Garbled-table buffers kept from one query to the next (one query's worth).
    tables: stages::TableBuffers,
    /// The online label transfer's buffers, kept for the session's next stages and queries.
    labels: stages::LabelBuffers,
    ahead: std::collections::VecDeque<Precomputed>,
    /// Setup phase measurements (handshake, key upload, base OTs).
    pub setup: PhaseMetrics,
    /// What the server stated in the handshake (circuit privacy or not, logits or class only).
    pub terms: ServerTerms,
}

impl<C: Channel> std::fmt::Debug for Client<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("model", &self.model.name())
            .finish_non_exhaustive()
    }
}

impl<'c, C: Channel> Client<'c, C> {
    /// Connects a session for `model` (only its architecture is used, and it must be the
    /// server's) under `param_set`: see [`Client::connect_served`].
    pub fn connect(ch: &'c mut C, model: Model, param_set: ParamSetId) -> Result<Self> {
        Self::connect_with(ch, Some(model), param_set, Credential::none())
    }

    /// Connects a session for whatever model the server serves, known from the architecture
    /// the server sends in the handshake (no weight ever reaches the client): handshake, then
    /// the plan the server's terms call for (class only, or the logits), key generation and
    /// upload, OT setup.
    pub fn connect_served(ch: &'c mut C, param_set: ParamSetId) -> Result<Self> {
        Self::connect_with(ch, None, param_set, Credential::none())
    }

    /// Connects a session presenting `credential` (`serve --tokens`): for `model` when given
    /// (its architecture must be the server's), else for whatever model the server serves.
    pub fn connect_with(
        ch: &'c mut C,
        model: Option<Model>,
        param_set: ParamSetId,
        credential: Credential,
    ) -> Result<Self> {
        Self::connect_as(ch, model, param_set, credential, false)
    }

    /// Connects a rehearsal's session for whatever model the server serves (the server's
    /// warm-up): its queries run the protocol as far as the server can see, but the garbled
    /// tables are dropped as they arrive and never evaluated, and the outcome is meaningless
    /// (see `stages::TableBuffers::rehearsal`).
    // Its only caller, the warm-up, is in `protocol::cli` (the "bundled" feature).
    #[cfg_attr(not(feature = "bundled"), allow(dead_code))]
    pub(crate) fn connect_rehearsal(ch: &'c mut C, param_set: ParamSetId) -> Result<Self> {
        Self::connect_as(ch, None, param_set, Credential::none(), true)
    }

    fn connect_as(
        ch: &'c mut C,
        model: Option<Model>,
        param_set: ParamSetId,
        credential: Credential,
        rehearsal: bool,
    ) -> Result<Self> {
        let params = param_set.params()?;
        let hello = Hello::new(param_set, model.as_ref().map_or("", |m| m.name()))
            .with_credential(credential);
        let ((terms, arch), handshake) = measure(ch, |ch| Ok(handshake_client(ch, &hello)?))?;
        let model = match model {
            Some(m) if format::encode_architecture(&m) == arch => m,
            Some(m) => {
                let reason = format!(
                    "the server's model '{}' has another architecture than this client's",
                    m.name()
                );
                net::send_error(ch, &reason);
                return Err(ProtocolError::Malformed {
                    what: "architecture",
                    reason,
                });
            }
            None => match format::decode(&arch) {
                Ok(m) => m,
                Err(e) => {
                    net::send_error(ch, &format!("client cannot read the architecture: {e}"));
                    return Err(e.into());
                }
            },
        };
        let reveal = if terms.logits_revealed {
            Reveal::Logits
        } else {
            Reveal::Class
        };
        let plan = match Plan::new_with(&model, &params, reveal) {
            Ok(plan) => plan,
            Err(e) => {
                net::send_error(ch, &format!("client cannot plan the model: {e}"));
                return Err(e);
            }
        };
        let garbled_stages = plan
            .stages
            .iter()
            .filter(|st| matches!(st, Stage::Nonlinear { .. } | Stage::Argmax { .. }))
            .count();
        let ((sk, cot, tables), keys) = measure(ch, |ch| {
            let mut rng = sampling::secret_rng()?;
            let sk = SecretKey::generate(&params, &mut rng);
            let pk = PublicKey::generate(&sk, &mut rng);
            net::send_msg(ch, TAG_PK, &pk.to_bytes())?;
            // One key per element, one seed; each frame's keys made, sent and dropped in turn.
            let seed = sampling::fresh_seed(&mut rng);
            for els in plan.galois_frames() {
                let gk = GaloisKeys::generate_with_seed(&sk, &els, seed, &mut rng)?;
                net::send_msg(ch, TAG_GK, &gk.to_bytes())?;
            }
            let mut ot_rng = OtRng::from_entropy()?;
            let cot = ot_io::setup_receiver(ch, OT_PARAMS, &mut ot_rng)?;
            // One query's table buffers, mapped now (part of the session's setup) rather than
            // page by page on the first query's path.
            let tables = if rehearsal {
                stages::TableBuffers::rehearsal()
            } else {
                let mut tables = stages::TableBuffers::new(garbled_stages);
                tables.prefault(stages::table_sizes(&plan, terms.garbling));
                tables
            };
            Ok((sk, cot, tables))
        })?;
        Ok(Client {
            ch,
            model,
            plan,
            tables,
            labels: Default::default(),
            sk,
            cot,
            evaluator: Evaluator::with_key(HashKey::from_bytes(terms.gc_hash_key))?
                .with_scheme(terms.garbling),
            terms,
            ahead: Default::default(),
            setup: handshake.plus(keys),
        })
    }

    /// The model (its architecture; every parameter is zero when it came from the server).
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Runs one query's offline phase now (input-independent: random OTs, garbled tables,
    /// the server's masks), to be used by the next [`Client::query`]. At most
    /// [`super::server::MAX_AHEAD`] may be pending. Returns its measurements.
    pub fn precompute(&mut self) -> Result<PhaseMetrics> {
        let pre = self.offline(REQ_PRECOMPUTE)?;
        let total = pre.1.iter().fold(pre.2, |a, m| a.plus(*m));
        self.ahead.push_back(pre);
        Ok(total)
    }

    /// Offline phases precomputed and not used yet.
    pub fn precomputed(&self) -> usize {
        self.ahead.len()
    }

    fn offline(&mut self, request: u8) -> Result<Precomputed> {
        let ((), other) = measure(self.ch, |ch| {
            net::send_msg(ch, TAG_QUERY, &[request])?;
            Ok(())
        })
        .map_err(|e| peer_reason_or(self.ch, e))?;
        let mut offline = Vec::with_capacity(self.plan.stages.len());
        let mut preps = Vec::with_capacity(self.plan.stages.len());
        for st in &self.plan.stages {
            let (cot, tables) = (&mut self.cot, &mut self.tables);
            let scheme = self.terms.garbling;
            match measure(self.ch, |ch| {
                stages::client_offline(st, ch, cot, tables, scheme)
            }) {
                Ok((prep, m)) => {
                    preps.push(prep);
                    offline.push(m);
                }
                Err(e) => return Err(peer_reason_or(self.ch, e)),
            }
        }
        Ok((preps, offline, other))
    }

    /// The underlying channel (tests use it to play a misbehaving client).
    pub fn channel(&mut self) -> &mut C {
        self.ch
    }

    /// Ends the session politely.
    pub fn finish(self) -> Result<()> {
        net::send_msg(self.ch, TAG_QUERY, &[REQ_BYE])?;
        Ok(())
    }

    /// Classifies one integer input (CHW, as [`crate::nn::InputSpec::encode_fixed`] gives).
    pub fn query(&mut self, input: &[i64]) -> Result<QueryReport> {
        let spec = self.model.input();
        if input.len() != self.plan.input_len
            || input.iter().any(|v| !(spec.min()..=spec.max()).contains(v))
        {
            return Err(ProtocolError::Malformed {
                what: "input",
                reason: format!(
                    "{} values in [{}, {}] expected",
                    self.plan.input_len,
                    spec.min(),
                    spec.max()
                ),
            });
        }
        let names: Vec<String> = self
            .plan
            .stages
            .iter()
            .map(|s| s.name(&self.model))
            .collect();
        let (preps, offline, offline_other) = match self.ahead.pop_front() {
            Some(pre) => {
                net::send_msg(self.ch, TAG_QUERY, &[REQ_QUERY_PRECOMPUTED])?;
                pre
            }
            None => self.offline(REQ_QUERY)?,
        };
        let p = self.plan.params.p();
        let mut c: Vec<u64> = input
            .iter()
            .map(|&v| v.rem_euclid(p as i64) as u64)
            .collect();
        let mut logits = None;
        let mut class = None;
        let mut stages = Vec::with_capacity(preps.len());
        let mut cx = ClientOnline {
            params: &self.plan.params,
            sk: &self.sk,
            evaluator: &mut self.evaluator,
            tables: &mut self.tables,
            labels: &mut self.labels,
            rng: sampling::secret_rng()?,
            kept: Default::default(),
        };
        for (((st, prep), off), name) in self.plan.stages.iter().zip(preps).zip(offline).zip(names)
        {
            let (step, online) = measure(self.ch, |ch| {
                stages::client_online(st, prep, ch, &mut cx, &c)
            })?;
            c.zeroize();
            match step {
                ClientStep::Share(next) => c = next,
                ClientStep::Reveal(values) => {
                    c = vec![];
                    class = Some(argmax(&values));
                    logits = Some(values);
                }
                ClientStep::Class(k) => {
                    c = vec![];
                    class = Some(k);
                }
            }
            stages.push(StageMetrics {
                name,
                offline: off,
                online,
            });
        }
        let class = class
            .ok_or_else(|| ProtocolError::Unsupported("the plan revealed no output".into()))?;
        Ok(QueryReport {
            class,
            logits,
            stages,
            offline_other,
        })
    }
}
