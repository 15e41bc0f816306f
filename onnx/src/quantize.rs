//! Calibrated post-training quantisation of a [`FloatGraph`] to a [`Model`].
//!
//! Scales: tensor 0 (the input) has scale `1 / float_div` (the float input is the integer
//! input divided by it). A conv / gemm with weight scale `2^-fw` produces an accumulator of
//! scale `s_in · 2^-fw`; a square `s_in²`; an avg-pool (a window sum) `s_in / k²`; an add
//! aligns its operands to the finer scale with left shifts (their ratio must be a power of
//! two). A requantisation by `shift` multiplies the scale by `2^shift`; the shift is the
//! smallest that keeps the layer's largest calibration value within the `act_bits` range.
use super::graph::{float_graph, FloatGraph};
use super::{ImportError, Result};
use gazelle::nn::{
    model::MAX_SHIFT, FloatParams, InputSpec, LayerKind, LayerSpec, Model, ModelHeader,
};
use tract_onnx::pb;

/// How an 8-bit pixel becomes the network's float input.
#[derive(Debug, Clone, PartialEq)]
pub enum InputEncoding {
    /// Integer input `scale · pixel + offset`, float input that divided by `float_div`.
    Linear {
        /// Multiplier of the pixel.
        scale: i64,
        /// Added after scaling.
        offset: i64,
        /// Divisor giving the float input.
        float_div: u32,
    },
    /// Float input `(pixel / 255 − mean[c]) / std[c]` (torchvision's `Normalize`); one value
    /// applies to every channel. Different values per channel are folded into the first
    /// layer, which must then be an unpadded conv.
    MeanStd {
        /// Mean per channel (or one for all).
        mean: Vec<f32>,
        /// Standard deviation per channel (or one for all).
        std: Vec<f32>,
    },
}

impl Default for InputEncoding {
    /// Pixels / 255 (MNIST-style inputs in [0, 1]).
    fn default() -> Self {
        InputEncoding::Linear {
            scale: 1,
            offset: 0,
            float_div: 255,
        }
    }
}

/// What the importer is asked to do.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Model name (`[a-z0-9._-]`).
    pub name: String,
    /// Provenance recorded in the model.
    pub source: String,
    /// Activation bits (2..=16).
    pub act_bits: u32,
    /// Largest weight bit width tried (signed, 2..=16); lowered until the model fits `p`.
    pub weight_bits: u32,
    /// Input encoding.
    pub input: InputEncoding,
    /// Class names (empty: numbered).
    pub class_names: Vec<String>,
    /// Whether the inputs are hand-drawn digits (lets clients invert light-background PNGs).
    pub hand_drawn: bool,
    /// Plaintext modulus every accumulator must fit.
    pub plaintext_modulus: u64,
    /// Fraction of the images held back from calibration, for the report (0 ≤ f < 1).
    pub holdout: f64,
    /// Worker threads for calibration and evaluation.
    pub threads: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            name: "imported".into(),
            source: "imported from ONNX".into(),
            act_bits: 8,
            weight_bits: 8,
            input: InputEncoding::default(),
            class_names: vec![],
            hand_drawn: false,
            plaintext_modulus: gazelle::nn::DEFAULT_PLAINTEXT_MODULUS,
            holdout: 0.2,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Accuracy on a set of images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Accuracy {
    /// Images.
    pub images: usize,
    /// Images with a label.
    pub labelled: usize,
    /// Labelled images the float model classifies correctly.
    pub float_correct: usize,
    /// Labelled images the fixed-point model classifies correctly.
    pub fixed_correct: usize,
    /// Images on which both predict the same class.
    pub agree: usize,
}

impl Accuracy {
    fn pct(n: usize, d: usize) -> String {
        if d == 0 {
            "n/a".into()
        } else {
            format!("{:.2}%", 100.0 * n as f64 / d as f64)
        }
    }
    /// `float F% / fixed X% / agreement A%` (n/a without labels).
    pub fn describe(&self) -> String {
        format!(
            "{} images ({} labelled): float {} / fixed {} / agreement {}",
            self.images,
            self.labelled,
            Self::pct(self.float_correct, self.labelled),
            Self::pct(self.fixed_correct, self.labelled),
            Self::pct(self.agree, self.images)
        )
    }
}

/// The ONNX runtime (tract) against the imported float model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReferenceCheck {
    /// Images compared.
    pub images: usize,
    /// Largest |logit difference|.
    pub max_abs_diff: f32,
    /// Largest |logit| of the reference (for scale).
    pub max_abs_logit: f32,
    /// Images with the same argmax.
    pub agree: usize,
}

/// What the import did and measured.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// ONNX nodes read.
    pub nodes: usize,
    /// Batch-norm nodes folded into the layer before them.
    pub folded_bn: usize,
    /// Layers of the model.
    pub layers: usize,
    /// Weights and biases.
    pub parameters: usize,
    /// Weight bits used (≤ the requested ones).
    pub weight_bits: u32,
    /// Why larger weight widths were not used.
    pub lowered: Vec<String>,
    /// Largest |accumulator| by interval arithmetic, and the modulus' limit (p − 1) / 2.
    pub accumulator: (i64, u64),
    /// The float reference (tract) against the imported float model; `None` if tract could
    /// not run the model (the reason is in `reference_error`).
    pub reference: Option<ReferenceCheck>,
    /// Why tract could not run the model.
    pub reference_error: Option<String>,
    /// On the calibration images.
    pub calibration: Accuracy,
    /// On the held-back images.
    pub holdout: Accuracy,
    /// What the input encoding became.
    pub input: InputSpec,
}

/// The imported model and its report.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The quantised model (float parameters included).
    pub model: Model,
    /// The report.
    pub report: ImportReport,
}

/// Integer input encoding for a uniform `(pixel/255 − m)/s`: the smallest multiplier `k`
/// (power of two ≤ 256) making `255·m·k` and `255·s·k` integers to within 10⁻⁶ relative,
/// else the best one.
fn linear_for(mean: f32, std: f32) -> Result<(i64, i64, u32)> {
    if std.is_nan() || std <= 0.0 || !mean.is_finite() || !std.is_finite() {
        return Err(ImportError::Quantize(format!(
            "invalid mean {mean} / std {std}"
        )));
    }
    let mut best = (f64::INFINITY, (1, 0, 255));
    for e in 0..=8 {
        let k = f64::from(1u32 << e);
        let off = 255.0 * f64::from(mean) * k;
        let div = 255.0 * f64::from(std) * k;
        let err =
            (off - off.round()).abs() / div.max(1.0) + (div - div.round()).abs() / div.max(1.0);
        let cand = (k as i64, -(off.round() as i64), div.round() as u32);
        if err < best.0 - 1e-12 {
            best = (err, cand);
        }
        if err < 1e-6 {
            break;
        }
    }
    let (k, off, div) = best.1;
    if div == 0 || div > 1 << 16 || off.abs() > 1 << 16 {
        return Err(ImportError::Quantize(format!(
            "mean {mean} / std {std} cannot be encoded (scale {k}, offset {off}, divisor {div})"
        )));
    }
    Ok((k, off, div))
}

/// The input spec, folding a per-channel normalisation into the first layer if needed.
fn resolve_input(g: &mut FloatGraph, enc: &InputEncoding) -> Result<InputSpec> {
    let shape = g.input;
    let (scale, offset, float_div) = match enc {
        InputEncoding::Linear {
            scale,
            offset,
            float_div,
        } => (*scale, *offset, *float_div),
        InputEncoding::MeanStd { mean, std } => {
            let c = shape.c;
            let per = |v: &Vec<f32>, what| -> Result<Vec<f32>> {
                match v.len() {
                    1 => Ok(vec![v[0]; c]),
                    l if l == c => Ok(v.clone()),
                    l => Err(ImportError::Quantize(format!(
                        "{l} {what} values for an input of {c} channels"
                    ))),
                }
            };
            let (mean, std) = (per(mean, "mean")?, per(std, "std")?);
            if mean.iter().all(|&m| m == mean[0]) && std.iter().all(|&s| s == std[0]) {
                linear_for(mean[0], std[0])?
            } else {
                fold_normalisation(g, &mean, &std)?;
                (1, 0, 255)
            }
        }
    };
    Ok(InputSpec {
        shape,
        scale,
        offset,
        float_div,
        hand_drawn: false,
    })
}

/// `(x − m_c)/s_c` folded into the first conv (exact only without padding).
fn fold_normalisation(g: &mut FloatGraph, mean: &[f32], std: &[f32]) -> Result<()> {
    let readers = g.layers.iter().filter(|l| l.input == 0).count()
        + g.layers
            .iter()
            .filter(|l| matches!(l.kind, LayerKind::Add { other: 0, .. }))
            .count();
    let first = &mut g.layers[0];
    let LayerKind::Conv2d { in_c, k, pad, .. } = first.kind else {
        return Err(ImportError::Quantize(
            "a per-channel mean/std needs a conv as the first layer to fold it into".into(),
        ));
    };
    if pad != 0 || readers != 1 || std.iter().any(|&s| s <= 0.0) {
        return Err(ImportError::Quantize(
            "a per-channel mean/std can be folded only into an unpadded first conv that alone reads the input (use --mean/--std with one value each, or --input-scale/--input-offset)".into(),
        ));
    }
    let kk = k * k;
    for (o, b) in first.bias.iter_mut().enumerate() {
        for c in 0..in_c {
            let w = &mut first.weights[(o * in_c + c) * kk..(o * in_c + c + 1) * kk];
            let sum: f32 = w.iter().sum();
            *b -= sum * mean[c] / std[c];
            w.iter_mut().for_each(|v| *v /= std[c]);
        }
    }
    Ok(())
}

/// A model with the float parameters and zero integer ones (for float traces).
fn float_model(g: &FloatGraph, header: &ModelHeader) -> Result<Model> {
    let specs = g
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| LayerSpec {
            kind: l.kind,
            input: (l.input != i).then_some(l.input),
            shift: None,
            weights: vec![0; l.weights.len()],
            bias: vec![0; l.bias.len()],
            float: l.kind.has_parameters().then(|| FloatParams {
                weights: l.weights.clone(),
                bias: l.bias.clone(),
            }),
        })
        .collect();
    Ok(Model::new(header.clone(), specs)?)
}

/// Runs `f` on every image over `threads` threads, in order.
fn par_map<T: Send>(
    images: &[&[u8]],
    threads: usize,
    f: impl Fn(&[u8]) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let chunk = images.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = images
            .chunks(chunk)
            .map(|part| {
                let f = &f;
                s.spawn(move || part.iter().map(|px| f(px)).collect::<Result<Vec<T>>>())
            })
            .collect();
        let mut out = Vec::with_capacity(images.len());
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| ImportError::Quantize("a worker panicked".into()))??,
            );
        }
        Ok(out)
    })
}

/// Largest |value| of every tensor over the images (float inference).
fn calibrate(model: &Model, images: &[&[u8]], threads: usize) -> Result<Vec<f32>> {
    let per_image = par_map(images, threads, |px| {
        let trace = model.infer_float_trace(&model.input().encode_float(px))?;
        Ok(trace
            .iter()
            .map(|t| t.iter().fold(0f32, |m, v| m.max(v.abs())))
            .collect::<Vec<f32>>())
    })?;
    let mut max = vec![0f32; model.layers().len() + 1];
    for v in per_image {
        for (m, x) in max.iter_mut().zip(v) {
            *m = m.max(x);
        }
    }
    Ok(max)
}

/// The quantised model at `weight_bits`.
fn quantise(
    g: &FloatGraph,
    header: &ModelHeader,
    max_abs: &[f32],
    weight_bits: u32,
) -> Result<Model> {
    let act_max = f64::from((1u32 << (header.act_bits - 1)) - 1);
    let w_max = f64::from((1u32 << (weight_bits - 1)) - 1);
    let mut scales: Vec<f64> = vec![1.0 / f64::from(header.input.float_div)];
    let mut specs = Vec::with_capacity(g.layers.len());
    let last = g.layers.len() - 1;
    for (i, l) in g.layers.iter().enumerate() {
        let fail = |reason: String| ImportError::Node {
            node: l.node.clone(),
            reason,
        };
        let s_in = scales[l.input];
        let (mut weights, mut bias) = (vec![], vec![]);
        let mut kind = l.kind;
        let s_acc = match l.kind {
            LayerKind::Conv2d { .. } | LayerKind::Fc { .. } => {
                let mw = l.weights.iter().fold(0f32, |m, v| m.max(v.abs()));
                let fw = if mw == 0.0 {
                    0
                } else {
                    (w_max / f64::from(mw)).log2().floor().clamp(-30.0, 40.0) as i32
                };
                let ws = 2f64.powi(fw);
                weights = l
                    .weights
                    .iter()
                    .map(|&w| (f64::from(w) * ws).round().clamp(-w_max, w_max) as i64)
                    .collect();
                let s_acc = s_in / ws;
                for &b in &l.bias {
                    let q = (f64::from(b) / s_acc).round();
                    if q.abs() > f64::from(1u32 << 30) {
                        return Err(fail(format!(
                            "a bias of {b} is {q:.3e} at the accumulator's scale (at most 2^30): lower --weight-bits or the input scale"
                        )));
                    }
                    bias.push(q as i64);
                }
                s_acc
            }
            LayerKind::Square => s_in * s_in,
            LayerKind::AvgPool { k, .. } => s_in / (k * k) as f64,
            LayerKind::Add { other, .. } => {
                let s_other = scales[other];
                let fine = s_in.min(s_other);
                let shift = |s: f64| -> Result<u32> {
                    let l = (s / fine).log2();
                    if (l - l.round()).abs() > 1e-6 || l.round() > 24.0 {
                        return Err(fail(format!(
                            "the operands' scales {s_in:.3e} and {s_other:.3e} differ by a factor that is not a power of two ≤ 2^24 (an average pool over a window that is not a power of two before a residual add?)"
                        )));
                    }
                    Ok(l.round() as u32)
                };
                kind = LayerKind::Add {
                    other,
                    lshift_input: shift(s_in)?,
                    lshift_other: shift(s_other)?,
                };
                fine
            }
            LayerKind::Relu | LayerKind::MaxPool { .. } | LayerKind::Flatten => {
                scales.push(s_in);
                specs.push(spec(l, i, kind, None, weights, bias));
                continue;
            }
        };
        // An accumulator read only by residual adds stays exact (requantised after the add).
        let t = i + 1;
        let readers: Vec<&LayerKind> = g
            .layers
            .iter()
            .filter(|r| {
                r.input == t || matches!(r.kind, LayerKind::Add { other, .. } if other == t)
            })
            .map(|r| &r.kind)
            .collect();
        let raw = i != last
            && !readers.is_empty()
            && readers.iter().all(|k| matches!(k, LayerKind::Add { .. }));
        let shift = if raw {
            None
        } else {
            let m = f64::from(max_abs[t]);
            let need = if m > 0.0 {
                (m / (act_max * s_acc)).log2().ceil().max(0.0)
            } else {
                0.0
            };
            if need > f64::from(MAX_SHIFT) {
                return Err(fail(format!(
                    "needs a requantisation shift of {need} (at most {MAX_SHIFT})"
                )));
            }
            Some(need as u32)
        };
        scales.push(s_acc * 2f64.powi(shift.unwrap_or(0) as i32));
        specs.push(spec(l, i, kind, shift, weights, bias));
    }
    Ok(Model::new(header.clone(), specs)?)
}

fn spec(
    l: &super::graph::FloatLayer,
    i: usize,
    kind: LayerKind,
    shift: Option<u32>,
    weights: Vec<i64>,
    bias: Vec<i64>,
) -> LayerSpec {
    LayerSpec {
        kind,
        input: (l.input != i).then_some(l.input),
        shift,
        weights,
        bias,
        float: l.kind.has_parameters().then(|| FloatParams {
            weights: l.weights.clone(),
            bias: l.bias.clone(),
        }),
    }
}

/// Float and fixed accuracy and agreement on images with optional labels.
pub fn accuracy(
    model: &Model,
    images: &[&[u8]],
    labels: &[Option<usize>],
    threads: usize,
) -> Result<Accuracy> {
    let preds = par_map(images, threads, |px| {
        Ok((model.predict_float(px)?, model.predict_fixed(px)?))
    })?;
    let mut a = Accuracy {
        images: images.len(),
        ..Accuracy::default()
    };
    for ((f, q), l) in preds.iter().zip(labels) {
        a.agree += usize::from(f == q);
        if let Some(l) = l {
            a.labelled += 1;
            a.float_correct += usize::from(f == l);
            a.fixed_correct += usize::from(q == l);
        }
    }
    Ok(a)
}

/// Imports a parsed ONNX model, calibrating on `images` (pixels CHW for the model's input
/// shape; `labels` alongside, `None` where unknown). The last `holdout` fraction of the images
/// is kept out of calibration and reported apart.
pub fn import(
    proto: &pb::ModelProto,
    images: &[Vec<u8>],
    labels: &[Option<usize>],
    opts: &ImportOptions,
) -> Result<Imported> {
    let mut g = float_graph(proto)?;
    if !(2..=16).contains(&opts.weight_bits) || !(2..=16).contains(&opts.act_bits) {
        return Err(ImportError::Quantize(
            "weight and activation bits must be in 2..=16".into(),
        ));
    }
    let mut input = resolve_input(&mut g, &opts.input)?;
    input.hand_drawn = opts.hand_drawn && input.shape.c == 1;
    if opts.hand_drawn && input.shape.c != 1 {
        return Err(ImportError::Quantize(
            "hand-drawn input is declared only for one-channel models".into(),
        ));
    }
    let n = g.input.numel();
    if images.is_empty() || labels.len() != images.len() {
        return Err(ImportError::Quantize("no calibration images".into()));
    }
    if let Some(bad) = images.iter().position(|im| im.len() != n) {
        return Err(ImportError::Quantize(format!(
            "calibration image {bad} has {} values, the model's input {} has {n}",
            images[bad].len(),
            g.input
        )));
    }
    let hold = ((images.len() as f64) * opts.holdout.clamp(0.0, 0.9)).round() as usize;
    let cut = images.len() - hold;
    if cut == 0 {
        return Err(ImportError::Quantize(
            "no calibration image left after holding some back (lower the held-back fraction)"
                .into(),
        ));
    }
    let refs: Vec<&[u8]> = images.iter().map(|v| &v[..]).collect();
    let header = ModelHeader {
        name: opts.name.clone(),
        source: opts.source.clone(),
        act_bits: opts.act_bits,
        input,
        num_classes: g.output.numel(),
        class_names: opts.class_names.clone(),
    };
    let fm = float_model(&g, &header)?;
    let max_abs = calibrate(&fm, &refs[..cut], opts.threads)?;
    let p = opts.plaintext_modulus;
    let limit = p.saturating_sub(1) / 2;
    let mut lowered = Vec::new();
    let mut chosen = None;
    for wb in (2.max(opts.weight_bits.saturating_sub(4))..=opts.weight_bits).rev() {
        let m = quantise(&g, &header, &max_abs, wb)?;
        let bound = m.interval_accumulator();
        if bound as u64 <= limit {
            chosen = Some((m, wb, bound));
            break;
        }
        let worst = m
            .accumulator_bounds()
            .into_iter()
            .max_by_key(|b| b.interval_abs())
            .map(|b| {
                let node = &g.layers[b.layer].node;
                format!("{} of node {node}", b.interval_abs())
            })
            .unwrap_or_default();
        lowered.push(format!(
            "{wb}-bit weights: an accumulator reaches {worst}, over (p − 1)/2 = {limit}"
        ));
    }
    let (model, weight_bits, bound) = chosen.ok_or_else(|| {
        ImportError::Quantize(format!(
            "no weight width fits the plaintext modulus p = {p}: {}",
            lowered.join("; ")
        ))
    })?;
    let calibration = accuracy(&model, &refs[..cut], &labels[..cut], opts.threads)?;
    let holdout = accuracy(&model, &refs[cut..], &labels[cut..], opts.threads)?;
    let (reference, reference_error) =
        match super::reference::compare(proto, &model, &refs[..cut.min(8)]) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e.to_string())),
        };
    let parameters = model
        .layers()
        .iter()
        .map(|l| l.weights().len() + l.bias().len())
        .sum();
    Ok(Imported {
        report: ImportReport {
            nodes: g.nodes,
            folded_bn: g.folded_bn,
            layers: model.layers().len(),
            parameters,
            weight_bits,
            lowered,
            accumulator: (bound, limit),
            reference,
            reference_error,
            calibration,
            holdout,
            input,
        },
        model,
    })
}
