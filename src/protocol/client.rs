//! The client's side of the protocol: key generation and upload, then per query an offline
//! phase (random OTs, garbled tables) and the online phase on its private input.
use super::server::{
    OT_PARAMS, REQ_BYE, REQ_PRECOMPUTE, REQ_QUERY, REQ_QUERY_PRECOMPUTED, TAG_CTS_DOWN, TAG_CTS_UP,
    TAG_GK, TAG_GLABELS, TAG_PK, TAG_QUERY, TAG_TABLES,
};
use super::{
    decode_cts, encode_cts, max_cts_bytes, PhaseMetrics, Plan, ProtocolError, QueryReport, Result,
    Stage, StageMetrics,
};
use crate::channel::Channel;
use crate::gc::{decode, merge_inputs, Evaluator};
use crate::he::{params::ParamSetId, sampling, GaloisKeys, Plaintext, PublicKey, SecretKey};
use crate::net::{self, Hello, Meter};
use crate::nn::{argmax, Model};
use crate::ot::{io as ot_io, CotReceiver, OtRng, ReceiverCots};
use kernels::Block;
use std::time::Instant;
use zeroize::Zeroize;

/// Per-stage material the client receives offline.
enum Prep {
    None,
    Nonlinear {
        pool: ReceiverCots,
        tables: Vec<u8>,
        glabels: Vec<Block>,
        decoding: Vec<bool>,
    },
}

/// One query's offline material with its measurements (per stage, and the request).
type Precomputed = (Vec<Prep>, Vec<PhaseMetrics>, PhaseMetrics);

/// A connected client session: keys uploaded, OT set up; run [`Client::query`] any number of
/// times, then [`Client::finish`].
pub struct Client<'c, C: Channel> {
    ch: &'c mut C,
    model: Model,
    plan: Plan,
    sk: SecretKey,
    cot: CotReceiver,
    evaluator: Evaluator,
    ahead: std::collections::VecDeque<Precomputed>,
    /// Setup phase measurements (handshake, key upload, base OTs).
    pub setup: PhaseMetrics,
}

impl<C: Channel> std::fmt::Debug for Client<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("model", &self.model.name())
            .finish_non_exhaustive()
    }
}

fn measure<C: Channel + ?Sized, T>(
    ch: &mut C,
    f: impl FnOnce(&mut C) -> Result<T>,
) -> Result<(T, PhaseMetrics)> {
    let m = Meter::start(ch);
    let t = Instant::now();
    let v = f(ch)?;
    let (up, down) = m.read(ch);
    Ok((
        v,
        PhaseMetrics {
            time: t.elapsed(),
            up,
            down,
        },
    ))
}

impl<'c, C: Channel> Client<'c, C> {
    /// Connects a session for `model` (only its architecture is used) under `param_set`:
    /// handshake, key generation and upload, OT setup.
    pub fn connect(ch: &'c mut C, model: Model, param_set: ParamSetId) -> Result<Self> {
        let params = param_set.params()?;
        let plan = Plan::new(&model, &params)?;
        let hello = Hello::new(param_set, model.name());
        let ((sk, cot), setup) = measure(ch, |ch| {
            net::handshake_client(ch, &hello)?;
            let mut rng = sampling::secret_rng()?;
            let sk = SecretKey::generate(&params, &mut rng);
            let pk = PublicKey::generate(&sk, &mut rng);
            net::send_msg(ch, TAG_PK, &pk.to_bytes())?;
            for els in plan.galois_groups() {
                let gk = GaloisKeys::generate(&sk, &els, &mut rng)?;
                net::send_msg(ch, TAG_GK, &gk.to_bytes())?;
            }
            let mut ot_rng = OtRng::from_entropy()?;
            let cot = ot_io::setup_receiver(ch, OT_PARAMS, &mut ot_rng)?;
            Ok((sk, cot))
        })?;
        Ok(Client {
            ch,
            model,
            plan,
            sk,
            cot,
            evaluator: Evaluator::new()?,
            ahead: Default::default(),
            setup,
        })
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
        })?;
        let mut offline = Vec::with_capacity(self.plan.stages.len());
        let mut preps = Vec::with_capacity(self.plan.stages.len());
        for st in &self.plan.stages {
            let cot = &mut self.cot;
            let (prep, m) = measure(self.ch, |ch| offline_stage(ch, cot, st))?;
            preps.push(prep);
            offline.push(m);
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
        let mut stages = Vec::with_capacity(preps.len());
        let mut rng = sampling::secret_rng()?;
        for (((st, prep), off), name) in self.plan.stages.iter().zip(preps).zip(offline).zip(names)
        {
            let (sk, ev, params) = (&self.sk, &mut self.evaluator, &self.plan.params);
            let (out, online) = measure(self.ch, |ch| {
                let n = params.n();
                match (st, prep) {
                    (Stage::Linear { schedule, .. }, _) => {
                        let cts = schedule
                            .input_layout()
                            .pack(&c)?
                            .iter()
                            .map(|v| sk.encrypt(&Plaintext::encode_slots(params, v)?, &mut rng))
                            .collect::<std::result::Result<Vec<_>, _>>()?;
                        net::send_msg(ch, TAG_CTS_UP, &encode_cts(&cts))?;
                        let k = schedule.output_layout().num_cts();
                        let msg = net::recv_msg(
                            ch,
                            TAG_CTS_DOWN,
                            max_cts_bytes(params, k),
                            "layer output",
                        )?;
                        let slots = decode_cts(params, &msg, k, "layer output")?
                            .iter()
                            .map(|ct| Ok(sk.decrypt(ct)?.decode_slots()))
                            .collect::<Result<Vec<_>>>()?;
                        Ok((schedule.unpack_output(&slots)?, None))
                    }
                    (Stage::Square { len }, _) => {
                        let sq: Vec<u64> = c
                            .iter()
                            .map(|&v| ((v as u128 * v as u128) % p as u128) as u64)
                            .collect();
                        let mut cts = Vec::new();
                        for src in [&c, &sq] {
                            for chunk in src.chunks(n) {
                                let mut v = chunk.to_vec();
                                v.resize(n, 0);
                                cts.push(
                                    sk.encrypt(&Plaintext::encode_slots(params, &v)?, &mut rng)?,
                                );
                            }
                        }
                        net::send_msg(ch, TAG_CTS_UP, &encode_cts(&cts))?;
                        let k = len.div_ceil(n);
                        let msg = net::recv_msg(
                            ch,
                            TAG_CTS_DOWN,
                            max_cts_bytes(params, k),
                            "square output",
                        )?;
                        let mut out = Vec::with_capacity(k * n);
                        for ct in decode_cts(params, &msg, k, "square output")? {
                            out.extend(sk.decrypt(&ct)?.decode_slots());
                        }
                        out.truncate(*len);
                        Ok((out, None))
                    }
                    (Stage::SumPool { windows, k2 }, _) => Ok((
                        windows
                            .chunks(*k2)
                            .map(|w| w.iter().fold(0, |a, &i| (a + c[i]) % p))
                            .collect(),
                        None,
                    )),
                    (
                        Stage::Nonlinear { circuit, gather },
                        Prep::Nonlinear {
                            mut pool,
                            tables,
                            glabels,
                            decoding,
                        },
                    ) => {
                        let inst = gather.len() / circuit.spec().window;
                        let cg: Vec<u64> = gather.iter().map(|&i| c[i]).collect();
                        let bits = circuit.evaluator_bits(&cg)?;
                        let labels = ot_io::receive_labels(ch, &mut pool, &bits)?;
                        let all = merge_inputs(circuit.circuit(), inst, &glabels, &labels)?;
                        let out =
                            ev.evaluate(circuit.circuit(), inst, &all, &mut tables.as_slice())?;
                        let values = circuit.decode_outputs(&decode(&out, &decoding)?);
                        match circuit.spec().output {
                            crate::gc::gazelle::Output::Reveal => Ok((vec![], Some(values))),
                            crate::gc::gazelle::Output::Remask => {
                                if values.iter().any(|&v| !(0..p as i64).contains(&v)) {
                                    return Err(ProtocolError::Malformed {
                                        what: "garbled-circuit output",
                                        reason: "a re-masked value is not below p".into(),
                                    });
                                }
                                Ok((values.iter().map(|&v| v as u64).collect(), None))
                            }
                        }
                    }
                    (Stage::Nonlinear { .. }, Prep::None) => Err(ProtocolError::Unsupported(
                        "offline state does not match the plan".into(),
                    )),
                }
            })?;
            c.zeroize();
            c = out.0;
            if out.1.is_some() {
                logits = out.1;
            }
            stages.push(StageMetrics {
                name,
                offline: off,
                online,
            });
        }
        let logits = logits
            .ok_or_else(|| ProtocolError::Unsupported("the plan revealed no output".into()))?;
        Ok(QueryReport {
            class: argmax(&logits),
            logits,
            stages,
            offline_other,
        })
    }
}

fn offline_stage<C: Channel>(ch: &mut C, cot: &mut CotReceiver, st: &Stage) -> Result<Prep> {
    let Stage::Nonlinear { circuit, gather } = st else {
        return Ok(Prep::None);
    };
    let spec = circuit.spec();
    let inst = gather.len() / spec.window;
    let eval_bits = inst * spec.window * crate::gc::arith::modulus_bits(spec.p);
    let pool = ot_io::extend_receiver(ch, cot, eval_bits)?;
    let tables = net::recv_chunked(
        ch,
        TAG_TABLES,
        circuit.circuit().table_bytes(inst),
        "garbled tables",
    )?;
    let g_inputs = circuit.circuit().counts().garbler_inputs * inst;
    let dec_len = circuit.output_bits() * inst;
    let expect = 16 * g_inputs + dec_len.div_ceil(8);
    let msg = net::recv_msg(ch, TAG_GLABELS, expect, "garbler labels")?;
    if msg.len() != expect {
        return Err(ProtocolError::Malformed {
            what: "garbler labels",
            reason: format!("{} bytes, expected {expect}", msg.len()),
        });
    }
    let (lab, dec) = msg.split_at(16 * g_inputs);
    let glabels = lab
        .chunks_exact(16)
        .map(|b| Block::try_from_slice(b).unwrap_or(Block::ZERO))
        .collect();
    if dec_len % 8 != 0 && dec[dec.len() - 1] >> (dec_len % 8) != 0 {
        return Err(ProtocolError::Malformed {
            what: "garbler labels",
            reason: "non-zero padding bits".into(),
        });
    }
    let decoding = (0..dec_len)
        .map(|j| (dec[j / 8] >> (j % 8)) & 1 == 1)
        .collect();
    Ok(Prep::Nonlinear {
        pool,
        tables,
        glabels,
        decoding,
    })
}
