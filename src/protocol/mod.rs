//! The two-party secure-inference protocol (DESIGN.md, "What the system does"): a client with a
//! private input and a server with a private model run, stage by stage, homomorphic linear
//! layers and garbled non-linear layers, switching between them through additive shares mod p.
//!
//! # Shares and stages
//! Between stages both parties hold additive shares of the current activation vector:
//! `x = c + s (mod p)`, the client holding `c`, the server `s`. At the start `c` is the
//! client's input and `s = 0`. The server's shares never depend on the input (they are
//! negated masks and local linear functions of them), so everything the server does with them
//! is prepared in the offline phase. [`Plan::new`] cuts a model into [`Stage`]s:
//!
//! * [`Stage::Linear`] (conv, fc): the client encrypts `c` in the layer's input packing
//!   (`linalg::Schedule`), the server adds `s`, evaluates the layer homomorphically, adds a
//!   fresh mask `r` in every slot, re-randomises and floods the noise (circuit privacy), switches
//!   the reply down one prime and sends it; the client decrypts `W·x + b + r`, the server's new
//!   share is `−r`.
//! * [`Stage::Square`] (x² activations): the client sends `Enc(c)` and `Enc(c²)`; the server
//!   computes `Enc(c²) + 2s·Enc(c) + s² + r = Enc(x² + r)`, masks and floods as above.
//! * [`Stage::SumPool`] (avg-pool, whose integer layer is a window sum): local — each party sums
//!   its own shares.
//! * [`Stage::Nonlinear`]: one garbled circuit per output value (`gc::gazelle`) reconstructs
//!   `x` from the shares, applies the pending requantisation (floor shift, clamp), ReLU and
//!   max-pool fused in, and outputs `y + r'` to the client (server share `−r'`), or `y` itself
//!   for the last layer (the logits). The client's input labels come from the offline random
//!   OTs, derandomised online; the garbled tables and the server's own input labels are sent
//!   offline.
//!
//! # Phases
//! *Setup* (once per session): handshake, the client's public key (for re-randomisation) and
//! Galois keys, OT base setup with the garbler's Δ. *Offline* (per query, input-independent):
//! server masks and share plaintexts, garbling and table transfer, random OT extension.
//! *Online*: the stages above. [`QueryReport`] holds time and bytes per stage, phase and
//! direction.
#[cfg(feature = "bundled")]
pub mod cli;
pub mod client;
pub mod server;

use crate::gc::gazelle::{NonlinearCircuit, NonlinearSpec, Output};
use crate::he::{HeError, NoiseBound, Parameters};
use crate::linalg::{ConvShape, LayerShape, LayerWeights, LinalgError, Schedule};
use crate::net::NetError;
use crate::nn::{LayerKind, Model, NnError};
use std::sync::Arc;
use std::time::Duration;

pub use client::Client;
pub use server::{Server, ServerConfig};

/// Errors of the protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Transport, framing or handshake failure.
    #[error(transparent)]
    Net(#[from] NetError),
    /// Homomorphic encryption failure (including malformed ciphertexts and keys).
    #[error("homomorphic encryption: {0}")]
    He(#[from] HeError),
    /// Homomorphic linear algebra failure.
    #[error("linear layer: {0}")]
    Linalg(#[from] LinalgError),
    /// Garbling failure (including truncated tables).
    #[error("garbled circuit: {0}")]
    Gc(#[from] crate::gc::GcError),
    /// Oblivious transfer failure (including malformed OT messages).
    #[error("oblivious transfer: {0}")]
    Ot(#[from] crate::ot::OtError),
    /// Model failure.
    #[error("model: {0}")]
    Nn(#[from] NnError),
    /// A model the protocol cannot evaluate.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// A message with the wrong number of items or out-of-range values.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which message.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The operating system's randomness failed.
    #[error("entropy source failed: {0}")]
    Entropy(String),
}

impl From<crate::channel::ChannelError> for ProtocolError {
    fn from(e: crate::channel::ChannelError) -> Self {
        ProtocolError::Net(NetError::Channel(e))
    }
}

/// Result of protocol operations.
pub type Result<T> = std::result::Result<T, ProtocolError>;

/// One step of the secure evaluation (see the module docs).
#[derive(Debug, Clone)]
pub enum Stage {
    /// A conv or fc layer evaluated homomorphically.
    Linear {
        /// Index of the model layer.
        layer: usize,
        /// Its packing and rotation schedule (public: both sides build it).
        schedule: Arc<Schedule>,
        /// A convolution evaluated as a dense matrix–vector product (its own schedules need
        /// too many rotation keys).
        dense: bool,
    },
    /// x² by the HE-only method, on `len` values.
    Square {
        /// Values.
        len: usize,
    },
    /// Window sums (avg-pool before its shift), computed locally on the shares.
    SumPool {
        /// `[output][k²]` input indices.
        windows: Vec<usize>,
        /// Window size k².
        k2: usize,
    },
    /// Requantisation / ReLU / max-pool in a garbled circuit.
    Nonlinear {
        /// The circuit (spec, AND gates).
        circuit: Arc<NonlinearCircuit>,
        /// `[instance][window]` input indices.
        gather: Vec<usize>,
    },
}

impl Stage {
    /// Short name for reports.
    pub fn name(&self, model: &Model) -> String {
        match self {
            Stage::Linear {
                layer,
                schedule,
                dense,
            } => format!(
                "{}#{layer} {}{} ({})",
                model.layers()[*layer].kind().name(),
                if *dense { "as dense " } else { "" },
                schedule.shape().describe(),
                schedule.method_name()
            ),
            Stage::Square { len } => format!("square x{len}"),
            Stage::SumPool { windows, k2 } => format!("sum-pool {}→{}", k2, windows.len() / k2),
            Stage::Nonlinear { circuit, gather } => {
                let s = circuit.spec();
                let mut parts = vec![];
                if s.shift > 0 || s.clamp_bits.is_some() {
                    parts.push(format!("requant>>{}", s.shift));
                }
                if s.window > 1 {
                    parts.push(format!("maxpool{}", s.window));
                }
                if s.relu {
                    parts.push("relu".to_string());
                }
                parts.push(
                    match s.output {
                        Output::Remask => "remask",
                        Output::Reveal => "reveal",
                    }
                    .to_string(),
                );
                format!(
                    "gc {} x{} ({} AND)",
                    parts.join("+"),
                    gather.len() / s.window,
                    circuit.and_count()
                )
            }
        }
    }
}

/// The public evaluation plan of a model under a parameter set: what both parties run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The parameters.
    pub params: Arc<Parameters>,
    /// The stages in order.
    pub stages: Vec<Stage>,
    /// Length of the input vector.
    pub input_len: usize,
    /// Number of logits.
    pub output_len: usize,
}

/// Most Galois keys a linear stage may ask the client for (each key is ~330 KB at the default
/// parameters: the upload is part of the setup phase).
pub const MAX_KEYS_PER_STAGE: usize = 96;

/// The cheapest `linalg` schedule that decrypts correctly after flooding (by the worst-case
/// bound of [`linear_noise`]) and whose rotation keys stay within [`MAX_KEYS_PER_STAGE`];
/// failing the key limit, the one with the fewest keys among those that decrypt.
pub fn choose_schedule(params: &Arc<Parameters>, shape: &LayerShape) -> Result<Schedule> {
    let fits = |s: &Schedule| {
        crate::he::PublicKey::flood_bound(params, linear_noise(params, s), params.max_level(), true)
            .is_ok()
    };
    let cands: Vec<Schedule> = Schedule::candidates(params, shape)?
        .into_iter()
        .filter(fits)
        .collect();
    let within = cands
        .iter()
        .filter(|s| s.cost().galois_keys <= MAX_KEYS_PER_STAGE)
        .min_by(|a, b| {
            a.cost()
                .estimate(params)
                .total_cmp(&b.cost().estimate(params))
        });
    let pick = within.or_else(|| cands.iter().min_by_key(|s| s.cost().galois_keys));
    pick.cloned().ok_or_else(|| {
        ProtocolError::Unsupported(format!(
            "no schedule for {} keeps the noise within the flooding budget",
            shape.describe()
        ))
    })
}

/// A pending non-linear step being fused: requant, ReLU, pooling windows.
struct Pending {
    shift: u32,
    clamp: Option<u32>,
    relu: bool,
    /// `[value][window]` indices into the accumulator vector.
    gather: Vec<usize>,
    window: usize,
}

impl Pending {
    fn identity(len: usize) -> Pending {
        Pending {
            shift: 0,
            clamp: None,
            relu: false,
            gather: (0..len).collect(),
            window: 1,
        }
    }
}

fn pool_windows(c: usize, h: usize, w: usize, k: usize, stride: usize) -> Vec<Vec<usize>> {
    let (oh, ow) = ((h - k) / stride + 1, (w - k) / stride + 1);
    let mut out = Vec::with_capacity(c * oh * ow);
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut win = Vec::with_capacity(k * k);
                for i in 0..k {
                    for j in 0..k {
                        win.push((ch * h + oy * stride + i) * w + ox * stride + j);
                    }
                }
                out.push(win);
            }
        }
    }
    out
}

impl Plan {
    /// Cuts `model` into stages under `params` (only the architecture is used: the client
    /// builds the same plan without the weights mattering).
    pub fn new(model: &Model, params: &Arc<Parameters>) -> Result<Plan> {
        let p = params.p();
        if !model.fits_modulus(p) {
            return Err(ProtocolError::Unsupported(format!(
                "model '{}' accumulators do not fit the plaintext modulus {p}",
                model.name()
            )));
        }
        let act_bits = model.act_bits();
        let mut stages = Vec::new();
        let mut pending: Option<Pending> = None;
        let flush = |stages: &mut Vec<Stage>, pending: &mut Option<Pending>, reveal: bool| {
            if let Some(pd) = pending.take() {
                let mut spec = NonlinearSpec::relu(p)
                    .with_relu(pd.relu)
                    .with_shift(pd.shift)
                    .with_window(pd.window);
                spec.clamp_bits = pd.clamp;
                if reveal {
                    spec = spec.revealed();
                }
                let circuit = Arc::new(NonlinearCircuit::new(spec)?);
                stages.push(Stage::Nonlinear {
                    circuit,
                    gather: pd.gather,
                });
            }
            Ok::<(), ProtocolError>(())
        };
        for (i, layer) in model.layers().iter().enumerate() {
            let (ins, outs) = (layer.input_shape(), layer.output_shape());
            let requant = |pending: &mut Option<Pending>| {
                let rq = layer.requant();
                *pending = Some(Pending {
                    shift: rq.map_or(0, |r| r.shift),
                    clamp: rq.map(|_| act_bits),
                    ..Pending::identity(outs.numel())
                });
            };
            match layer.kind() {
                LayerKind::Conv2d {
                    in_c,
                    out_c,
                    k,
                    stride,
                    pad,
                } => {
                    flush(&mut stages, &mut pending, false)?;
                    let shape = LayerShape::Conv(ConvShape::conv(
                        in_c, out_c, ins.h, ins.w, k, stride, pad,
                    ));
                    let mut schedule = choose_schedule(params, &shape)?;
                    let mut dense = false;
                    if schedule.cost().galois_keys > MAX_KEYS_PER_STAGE
                        && ins.numel() * outs.numel() <= MAX_DENSE
                    {
                        let fc = LayerShape::Fc {
                            n_in: ins.numel(),
                            n_out: outs.numel(),
                        };
                        schedule = choose_schedule(params, &fc)?;
                        dense = true;
                    }
                    stages.push(Stage::Linear {
                        layer: i,
                        schedule: Arc::new(schedule),
                        dense,
                    });
                    requant(&mut pending);
                }
                LayerKind::Fc { inputs, outputs } => {
                    flush(&mut stages, &mut pending, false)?;
                    let shape = LayerShape::Fc {
                        n_in: inputs,
                        n_out: outputs,
                    };
                    let schedule = Arc::new(choose_schedule(params, &shape)?);
                    stages.push(Stage::Linear {
                        layer: i,
                        schedule,
                        dense: false,
                    });
                    requant(&mut pending);
                }
                LayerKind::Square => {
                    flush(&mut stages, &mut pending, false)?;
                    stages.push(Stage::Square { len: ins.numel() });
                    requant(&mut pending);
                }
                LayerKind::AvgPool { k, stride } => {
                    flush(&mut stages, &mut pending, false)?;
                    let windows = pool_windows(ins.c, ins.h, ins.w, k, stride);
                    stages.push(Stage::SumPool {
                        windows: windows.concat(),
                        k2: k * k,
                    });
                    requant(&mut pending);
                }
                LayerKind::Relu => {
                    pending
                        .get_or_insert_with(|| Pending::identity(ins.numel()))
                        .relu = true;
                }
                LayerKind::MaxPool { k, stride } => {
                    let pd = pending.get_or_insert_with(|| Pending::identity(ins.numel()));
                    let windows = pool_windows(ins.c, ins.h, ins.w, k, stride);
                    let w = pd.window;
                    pd.gather = windows
                        .iter()
                        .flat_map(|win| {
                            win.iter()
                                .flat_map(|&e| pd.gather[e * w..(e + 1) * w].to_vec())
                                .collect::<Vec<_>>()
                        })
                        .collect();
                    pd.window *= k * k;
                }
                LayerKind::Flatten => {}
            }
        }
        if pending.is_none() {
            pending = Some(Pending::identity(model.num_classes()));
        }
        flush(&mut stages, &mut pending, true)?;
        Ok(Plan {
            params: params.clone(),
            stages,
            input_len: model.input().shape.numel(),
            output_len: model.num_classes(),
        })
    }

    /// The Galois elements of each linear stage, in stage order (one key set per stage: a
    /// single set for the whole network can exceed the largest frame).
    pub fn galois_groups(&self) -> Vec<Vec<usize>> {
        self.stages
            .iter()
            .filter_map(|s| match s {
                Stage::Linear { schedule, .. } => Some(schedule.galois_elements()),
                _ => None,
            })
            .collect()
    }
}

/// Largest dense matrix (entries) a convolution is unrolled into.
pub const MAX_DENSE: usize = 1 << 23;

/// The server's weights for a linear stage, in `linalg`'s layout; with `dense`, a
/// convolution unrolled into its `(out_c·oh·ow) × (in_c·h·w)` matrix (CHW on both sides).
pub(crate) fn layer_weights(model: &Model, layer: usize, dense: bool) -> LayerWeights {
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

/// Noise bound of a linear stage's outputs before flooding, the largest over its output
/// ciphertexts: fresh input plus the server's share (a plaintext), a worst-case key switch
/// for each non-trivial hoisted rotation, the products, a key switch per outer rotation, the
/// rotate-and-add tail (each doubling doubles the noise and adds a key switch), bias and mask.
///
/// The products use a high-probability bound, not the worst case: a coefficient of `v·pt` is
/// `Σ_j v_j·pt_{i−j}`, a sum of n zero-mean noise terms weighted by plaintext coefficients of
/// size ≤ (p−1)/2, so by Hoeffding it stays below `‖v‖∞·√n·(p−1)/2·√(2 ln(2n·2^40))` except
/// with probability 2^-40 (union over the n coefficients). The worst case `‖v‖∞·n·(p−1)/2`
/// (`NoiseBound::mul_any_plain`) is 2.9 bits larger and leaves the hybrid mat-vec of
/// MiniONN's second layer no room for flooding at the default parameters. Treating the
/// noise coefficients as independent is the heuristic step (as in the Gazelle paper's own
/// analysis); see the report of issue 9.
pub(crate) fn linear_noise(params: &Parameters, schedule: &Schedule) -> NoiseBound {
    let ks = crate::he::noise::key_switch_bound(params, params.max_level());
    let input = NoiseBound::fresh().add_plain().value();
    let n = params.n() as f64;
    let z = (2.0 * (2.0 * n * 2f64.powi(40)).ln()).sqrt();
    let factor = n.sqrt() * ((params.p() - 1) / 2) as f64 * z;
    let product = |rotated: bool| (input + if rotated { ks } else { 0.0 }) * factor;
    let worst = schedule
        .out_plans()
        .iter()
        .map(|o| {
            let mut acc: f64 = o
                .groups
                .iter()
                .map(|g| {
                    let terms: f64 = g
                        .terms
                        .iter()
                        .map(|t| product(!t.inner.is_identity()))
                        .sum();
                    terms + if g.outer.is_identity() { 0.0 } else { ks }
                })
                .sum();
            if let Some((_, d)) = o.tail {
                for _ in 0..d {
                    acc = 2.0 * acc + ks;
                }
            }
            acc
        })
        .fold(0.0, f64::max);
    NoiseBound(worst + 1.0)
}

/// Time and bytes of one phase of one stage, from the client's side (`up`: client → server).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseMetrics {
    /// Wall-clock time.
    pub time: Duration,
    /// Bytes client → server.
    pub up: u64,
    /// Bytes server → client.
    pub down: u64,
}

impl PhaseMetrics {
    /// Sum of two measurements.
    pub fn plus(self, o: PhaseMetrics) -> PhaseMetrics {
        PhaseMetrics {
            time: self.time + o.time,
            up: self.up + o.up,
            down: self.down + o.down,
        }
    }

    /// Bytes both ways.
    pub fn bytes(&self) -> u64 {
        self.up + self.down
    }
}

/// One stage's measurements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageMetrics {
    /// Stage name.
    pub name: String,
    /// Offline phase.
    pub offline: PhaseMetrics,
    /// Online phase.
    pub online: PhaseMetrics,
}

/// The result of one secure query, with its measurements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryReport {
    /// The logits (requantised, as the fixed-point oracle gives them).
    pub logits: Vec<i64>,
    /// The predicted class (first maximum).
    pub class: usize,
    /// Per stage.
    pub stages: Vec<StageMetrics>,
    /// Offline work not attributed to a stage (OT extension requests, query start).
    pub offline_other: PhaseMetrics,
}

impl QueryReport {
    /// Total offline phase.
    pub fn offline(&self) -> PhaseMetrics {
        self.stages
            .iter()
            .fold(self.offline_other, |a, s| a.plus(s.offline))
    }

    /// Total online phase.
    pub fn online(&self) -> PhaseMetrics {
        self.stages
            .iter()
            .fold(PhaseMetrics::default(), |a, s| a.plus(s.online))
    }

    /// A table of the per-stage measurements.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let kb = |b: u64| b as f64 / 1024.0;
        let _ = writeln!(
            s,
            "{:<58} {:>9} {:>10} {:>10} {:>9} {:>10} {:>10}",
            "stage", "off ms", "off up KB", "off dn KB", "on ms", "on up KB", "on dn KB"
        );
        let mut row = |name: &str, off: PhaseMetrics, on: PhaseMetrics| {
            let _ = writeln!(
                s,
                "{:<58} {:>9.1} {:>10.1} {:>10.1} {:>9.1} {:>10.1} {:>10.1}",
                name,
                ms(off.time),
                kb(off.up),
                kb(off.down),
                ms(on.time),
                kb(on.up),
                kb(on.down)
            );
        };
        row(
            "offline (OT extension, query start)",
            self.offline_other,
            PhaseMetrics::default(),
        );
        for st in &self.stages {
            row(&st.name, st.offline, st.online);
        }
        row("total", self.offline(), self.online());
        s
    }
}

/// Uniform values in [0, p) from a CSPRNG.
pub(crate) fn random_mod<R: rand::Rng + ?Sized>(rng: &mut R, p: u64, n: usize) -> Vec<u64> {
    (0..n).map(|_| rng.random_range(0..p)).collect()
}

/// Encodes ciphertexts as `count (u32) || (len (u32) || bytes)*`.
pub(crate) fn encode_cts(cts: &[crate::he::Ciphertext]) -> Vec<u8> {
    let mut v = (cts.len() as u32).to_le_bytes().to_vec();
    for c in cts {
        let b = c.to_bytes();
        v.extend_from_slice(&(b.len() as u32).to_le_bytes());
        v.extend_from_slice(&b);
    }
    v
}

/// Upper bound on one serialised ciphertext.
pub(crate) fn max_ct_bytes(params: &Parameters) -> usize {
    64 + 2 * params.n() * params.max_level() * 8
}

/// Decodes and validates exactly `count` ciphertexts.
pub(crate) fn decode_cts(
    params: &Arc<Parameters>,
    bytes: &[u8],
    count: usize,
    what: &'static str,
) -> Result<Vec<crate::he::Ciphertext>> {
    let mut cur = crate::net::Cursor::new(bytes, what);
    let n = cur.u32()? as usize;
    if n != count {
        return Err(ProtocolError::Malformed {
            what,
            reason: format!("{n} ciphertexts, expected {count}"),
        });
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = cur.u32()? as usize;
        out.push(crate::he::Ciphertext::from_bytes(params, cur.take(len)?)?);
    }
    cur.end()?;
    Ok(out)
}

/// Max bytes of a message of `count` ciphertexts.
pub(crate) fn max_cts_bytes(params: &Parameters, count: usize) -> usize {
    4 + count * (4 + max_ct_bytes(params))
}

#[cfg(test)]
mod tests;
