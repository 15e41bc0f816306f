//! The public evaluation plan: a model cut into [`Stage`]s under a parameter set. Both
//! parties build it from the model's architecture alone, so they agree on every schedule,
//! circuit and index without exchanging it.
use super::{noise, ProtocolError, Result};
use crate::gc::gazelle::{ArgmaxCircuit, NonlinearCircuit, NonlinearSpec, Output};
use crate::he::Parameters;
use crate::linalg::{ConvShape, LayerShape, Schedule};
use crate::nn::{LayerKind, Model};
use std::sync::Arc;

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
    /// Keeps the current share as tensor `tensor` for a later [`Stage::Load`] or
    /// [`Stage::Add`] (a residual shortcut, a branch); local.
    Keep {
        /// Tensor index (0 = model input, i + 1 = output of layer i).
        tensor: usize,
    },
    /// Replaces the current share by the kept tensor `tensor` (a layer reading an earlier
    /// tensor); local.
    Load {
        /// Tensor index.
        tensor: usize,
    },
    /// `current · 2^lshift_current + kept[tensor] · 2^lshift_kept` mod p: a residual add,
    /// local on additive shares.
    Add {
        /// The kept tensor.
        tensor: usize,
        /// Left shift of the current share.
        lshift_current: u32,
        /// Left shift of the kept tensor.
        lshift_kept: u32,
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
    /// The last non-linear step when only the class is revealed: requantisation / ReLU /
    /// max-pool of every logit and their argmax, all in one garbled circuit
    /// ([`ArgmaxCircuit`]); the client learns the class index and nothing else.
    Argmax {
        /// The circuit (per-logit spec, classes, AND gates).
        circuit: Arc<ArgmaxCircuit>,
        /// `[class][window]` input indices.
        gather: Vec<usize>,
    },
}

/// What the last garbled circuit reveals to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reveal {
    /// Only the class (the argmax is computed inside the circuit): the default.
    #[default]
    Class,
    /// Every logit (the server's opt-in, `serve --reveal logits`); the client takes their
    /// argmax itself.
    Logits,
}

/// The fused operations of a non-linear spec, for stage names.
fn spec_parts(s: &NonlinearSpec) -> Vec<String> {
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
    parts
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
            Stage::Keep { tensor } => format!("keep t{tensor}"),
            Stage::Load { tensor } => format!("load t{tensor}"),
            Stage::Add {
                tensor,
                lshift_current,
                lshift_kept,
            } => format!("add (x<<{lshift_current}) + (t{tensor}<<{lshift_kept})"),
            Stage::SumPool { windows, k2 } => format!("sum-pool {}→{}", k2, windows.len() / k2),
            Stage::Nonlinear { circuit, gather } => {
                let s = circuit.spec();
                let mut parts = spec_parts(s);
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
            Stage::Argmax { circuit, .. } => {
                let mut parts = spec_parts(circuit.spec());
                parts.push("argmax".to_string());
                format!(
                    "gc {} of {} ({} AND)",
                    parts.join("+"),
                    circuit.classes(),
                    circuit.and_count()
                )
            }
        }
    }
}

/// The server's work per query, from the plan (`serve --metrics` counts it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryWork {
    /// AND gates garbled.
    pub and_gates: u64,
    /// Homomorphic ciphertext × plaintext products.
    pub he_mults: u64,
    /// Homomorphic rotations (key switches).
    pub he_rotations: u64,
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
    /// What the last stage reveals: [`Stage::Argmax`] for [`Reveal::Class`], a revealing
    /// [`Stage::Nonlinear`] for [`Reveal::Logits`].
    pub reveal: Reveal,
}

/// Most Galois keys a linear stage may ask the client for (each key is ~645 KB on the wire and
/// ~1.97 MB in the server's memory at the default parameters: the upload is part of the setup
/// phase).
pub const MAX_KEYS_PER_STAGE: usize = 96;

/// The cheapest `linalg` schedule that leaves room for flooding (by the worst-case bound
/// [`noise::linear_stage_any_weights`]) and whose rotation keys stay within
/// [`MAX_KEYS_PER_STAGE`]; failing the key limit, the one with the fewest keys among those
/// that leave room. Its rotate-and-add tails are left to the parties
/// ([`Schedule::with_client_tail`]).
pub fn choose_schedule(params: &Arc<Parameters>, shape: &LayerShape) -> Result<Schedule> {
    // Each candidate as it runs (tails left to the parties) beside its cost with the tails:
    // the noise and key limits are judged on the former; the ranking uses the latter, whose
    // tail rotations stand in for the many output ciphertexts (replies) of a mat-vec with a
    // small block, which the estimate does not count.
    let fits = |s: &Schedule| {
        crate::he::PublicKey::flood_bound(
            params,
            noise::linear_stage_any_weights(params, s),
            params.max_level(),
            true,
        )
        .is_ok()
    };
    let cands: Vec<(Schedule, f64)> = Schedule::candidates(params, shape)?
        .into_iter()
        .map(|s| Ok((s.with_client_tail()?, s.cost().estimate(params))))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|(s, _)| fits(s))
        .collect();
    let within = cands
        .iter()
        .filter(|(s, _)| s.cost().galois_keys <= MAX_KEYS_PER_STAGE)
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let pick = within.or_else(|| cands.iter().min_by_key(|(s, _)| s.cost().galois_keys));
    pick.map(|(s, _)| s.clone()).ok_or_else(|| {
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
    /// Whether it changes nothing (no garbled circuit needed).
    fn is_identity(&self) -> bool {
        self.shift == 0 && self.clamp.is_none() && !self.relu && self.window == 1
    }

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
    /// Cuts `model` into stages under `params`, revealing only the class (only the
    /// architecture is used: the client builds the same plan without the weights mattering).
    pub fn new(model: &Model, params: &Arc<Parameters>) -> Result<Plan> {
        Plan::new_with(model, params, Reveal::Class)
    }

    /// [`Plan::new`] with the last stage revealing `reveal`.
    pub fn new_with(model: &Model, params: &Arc<Parameters>, reveal: Reveal) -> Result<Plan> {
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
        let classes = model.num_classes();
        let flush = |stages: &mut Vec<Stage>, pending: &mut Option<Pending>, last: bool| {
            if let Some(pd) = pending.take().filter(|pd| last || !pd.is_identity()) {
                let mut spec = NonlinearSpec::relu(p)
                    .with_relu(pd.relu)
                    .with_shift(pd.shift)
                    .with_window(pd.window);
                spec.clamp_bits = pd.clamp;
                match (last, reveal) {
                    (true, Reveal::Class) => stages.push(Stage::Argmax {
                        circuit: Arc::new(ArgmaxCircuit::new(spec, classes)?),
                        gather: pd.gather,
                    }),
                    (true, Reveal::Logits) => stages.push(Stage::Nonlinear {
                        circuit: Arc::new(NonlinearCircuit::new(spec.revealed())?),
                        gather: pd.gather,
                    }),
                    (false, _) => stages.push(Stage::Nonlinear {
                        circuit: Arc::new(NonlinearCircuit::new(spec)?),
                        gather: pd.gather,
                    }),
                }
            }
            Ok::<(), ProtocolError>(())
        };
        if model.is_kept(0) {
            stages.push(Stage::Keep { tensor: 0 });
        }
        for (i, layer) in model.layers().iter().enumerate() {
            let (ins, outs) = (layer.input_shape(), layer.output_shape());
            if layer.input_tensor() != i {
                // tensor i, if anything later reads it, was kept when it was made
                pending = None;
                stages.push(Stage::Load {
                    tensor: layer.input_tensor(),
                });
            }
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
                LayerKind::Add {
                    other,
                    lshift_input,
                    lshift_other,
                } => {
                    flush(&mut stages, &mut pending, false)?;
                    stages.push(Stage::Add {
                        tensor: other,
                        lshift_current: lshift_input,
                        lshift_kept: lshift_other,
                    });
                    requant(&mut pending);
                }
            }
            if model.is_kept(i + 1) {
                flush(&mut stages, &mut pending, false)?;
                stages.push(Stage::Keep { tensor: i + 1 });
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
            reveal,
        })
    }

    /// The server's work per query: AND gates, ct×pt products, rotations.
    pub fn work_per_query(&self) -> QueryWork {
        let mut w = QueryWork::default();
        for st in &self.stages {
            match st {
                Stage::Linear { schedule, .. } => {
                    let c = schedule.cost();
                    w.he_mults += c.mults as u64;
                    w.he_rotations += c.rotations() as u64;
                }
                Stage::Nonlinear { circuit, gather } => {
                    let instances = gather.len() / circuit.spec().window.max(1);
                    w.and_gates += (circuit.and_count() * instances) as u64;
                }
                Stage::Argmax { circuit, .. } => w.and_gates += circuit.and_count() as u64,
                _ => {}
            }
        }
        w
    }

    /// The Galois elements the client's keys are sent in: per linear stage, in stage order,
    /// the elements it needs that no earlier stage needs (one frame each: the whole set can
    /// exceed the largest frame). One key per element serves every stage.
    pub fn galois_frames(&self) -> Vec<Vec<usize>> {
        let mut seen = std::collections::BTreeSet::new();
        self.galois_groups()
            .into_iter()
            .map(|els| els.into_iter().filter(|&g| seen.insert(g)).collect())
            .collect()
    }

    /// The Galois elements of each linear stage, in stage order.
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
