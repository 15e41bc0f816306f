//! Accuracy report: float vs fixed-point accuracy on the bundled images, their agreement, and
//! the accumulator bounds that decide the plaintext modulus.
use std::fmt;

#[cfg(feature = "bundled")]
use super::builtin_model;
use super::error::Result;
use super::{LayerKind, Model, Shape, DEFAULT_PLAINTEXT_MODULUS};
#[cfg(feature = "bundled")]
use crate::data;
use crate::data::ImageSet;

/// Results on one labelled image set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetResult {
    /// Short name of the set.
    pub set: String,
    /// What the images are.
    pub description: String,
    /// Number of images.
    pub images: usize,
    /// Images the float network classifies correctly.
    pub float_correct: usize,
    /// Images the fixed-point network classifies correctly.
    pub fixed_correct: usize,
    /// Images on which both networks predict the same class.
    pub agree: usize,
}

/// Fixed-point vs float agreement on unlabelled synthetic inputs (where no real images exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticResult {
    /// Number of inputs (uniformly random pixels, fixed seed).
    pub images: usize,
    /// Inputs on which both networks predict the same class.
    pub agree: usize,
}

/// One row of a model's layer table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSummary {
    /// Layer kind with its parameters, e.g. `conv2d 1->16 k5 s1 p0`.
    pub description: String,
    /// Input shape.
    pub input: Shape,
    /// Output shape.
    pub output: Shape,
    /// Requantisation shift, if any.
    pub shift: Option<u32>,
    /// (Σ|w|·max|x| + |b|, interval bound) on the accumulator, for requantised layers.
    pub bound: Option<(i64, i64)>,
}

/// The layer table of a model.
pub fn layer_summaries(model: &Model) -> Vec<LayerSummary> {
    let bounds = model.accumulator_bounds();
    model
        .layers()
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let description = match l.kind() {
                LayerKind::Conv2d {
                    in_c,
                    out_c,
                    k,
                    stride,
                    pad,
                } => {
                    format!("conv2d {in_c}->{out_c} k{k} s{stride} p{pad}")
                }
                LayerKind::Fc { inputs, outputs } => format!("fc {inputs}->{outputs}"),
                LayerKind::MaxPool { k, stride } => format!("maxpool k{k} s{stride}"),
                LayerKind::AvgPool { k, stride } => format!("avgpool (sum) k{k} s{stride}"),
                LayerKind::Add {
                    other,
                    lshift_input,
                    lshift_other,
                } => format!("add (x<<{lshift_input}) + (t{other}<<{lshift_other})"),
                other => other.name().to_string(),
            };
            // a layer reading an earlier tensor (tensor i + 1 is layer i's output)
            let description = if l.input_tensor() == i {
                description
            } else {
                format!("{description} [t{}]", l.input_tensor())
            };
            LayerSummary {
                description,
                input: l.input_shape(),
                output: l.output_shape(),
                shift: l.requant().map(|r| r.shift),
                bound: bounds
                    .iter()
                    .find(|b| b.layer == i)
                    .map(|b| (b.worst_case, b.interval_abs())),
            }
        })
        .collect()
}

/// What `gazelle eval --model M` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccuracyReport {
    /// Model name.
    pub model: String,
    /// Provenance of its parameters.
    pub source: String,
    /// Activation bit width.
    pub act_bits: u32,
    /// Σ|w|·max|x| + |b| bound, max over layers.
    pub worst_case_accumulator: i64,
    /// Interval-arithmetic bound on |accumulator|, max over layers.
    pub interval_accumulator: i64,
    /// Whether the model fits the default plaintext modulus.
    pub fits_default_modulus: bool,
    /// Results per bundled labelled set the model can take.
    pub sets: Vec<SetResult>,
    /// Agreement on synthetic inputs, for models without bundled images.
    pub synthetic: Option<SyntheticResult>,
    /// The layer table.
    pub layers: Vec<LayerSummary>,
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

/// (float prediction, fixed prediction) for each image, over the available cores.
fn predictions(model: &Model, images: &[&[u8]]) -> Result<Vec<(usize, usize)>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = images.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = images
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || -> Result<Vec<(usize, usize)>> {
                    part.iter()
                        .map(|px| Ok((model.predict_float(px)?, model.predict_fixed(px)?)))
                        .collect()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(images.len());
        for h in handles {
            out.extend(h.join().expect("prediction thread panicked")?);
        }
        Ok(out)
    })
}

/// Evaluates float and fixed-point accuracy and their agreement on a labelled set.
pub fn evaluate_set(
    model: &Model,
    set: &ImageSet,
    name: &str,
    description: &str,
) -> Result<SetResult> {
    let images: Vec<&[u8]> = (0..set.len()).map(|i| set.image(i)).collect();
    let preds = predictions(model, &images)?;
    let mut r = SetResult {
        set: name.to_string(),
        description: description.to_string(),
        images: set.len(),
        float_correct: 0,
        fixed_correct: 0,
        agree: 0,
    };
    for (i, &(f, q)) in preds.iter().enumerate() {
        let label = usize::from(set.label(i));
        r.float_correct += usize::from(f == label);
        r.fixed_correct += usize::from(q == label);
        r.agree += usize::from(f == q);
    }
    Ok(r)
}

/// `count` images of uniformly random pixels from a fixed seed (splitmix64), for the model's
/// input shape.
pub fn synthetic_images(model: &Model, count: usize, seed: u64) -> Vec<Vec<u8>> {
    let n = model.input().shape.numel();
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..count)
        .map(|_| (0..n).map(|_| (next() >> 56) as u8).collect())
        .collect()
}

/// Fixed-point vs float agreement on synthetic inputs.
pub fn evaluate_synthetic(model: &Model, count: usize) -> Result<SyntheticResult> {
    let imgs = synthetic_images(model, count, 0x0067_617a_656c_6c65);
    let refs: Vec<&[u8]> = imgs.iter().map(|v| v.as_slice()).collect();
    let preds = predictions(model, &refs)?;
    Ok(SyntheticResult {
        images: count,
        agree: preds.iter().filter(|(f, q)| f == q).count(),
    })
}

/// Float vs fixed-point accuracy of a bundled model on the bundled images of its input shape,
/// their agreement, and its accumulator bounds. Models with no bundled images (CIFAR-10: no
/// package ships them) get the agreement on 20 synthetic inputs instead.
#[cfg(feature = "bundled")]
pub fn accuracy_report(model_name: &str) -> Result<AccuracyReport> {
    let model = builtin_model(model_name)?;
    report_for(&model)
}

/// Float vs fixed-point accuracy of `model` on the bundled images of its input shape (see
/// `accuracy_report`).
#[cfg(feature = "bundled")]
pub fn report_for(model: &Model) -> Result<AccuracyReport> {
    let s = model.input().shape;
    let mut sets = Vec::new();
    for b in data::BUNDLED {
        let set = b.load()?;
        if set.shape() == (s.c, s.h, s.w) {
            sets.push(evaluate_set(model, &set, b.name, b.description)?);
        }
    }
    let synthetic = if sets.is_empty() {
        Some(evaluate_synthetic(model, 20)?)
    } else {
        None
    };
    Ok(AccuracyReport {
        model: model.name().to_string(),
        source: model.source().to_string(),
        act_bits: model.act_bits(),
        worst_case_accumulator: model.worst_case_accumulator(),
        interval_accumulator: model.interval_accumulator(),
        fits_default_modulus: model.fits_modulus(DEFAULT_PLAINTEXT_MODULUS),
        sets,
        synthetic,
        layers: layer_summaries(model),
    })
}

impl fmt::Display for AccuracyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "model {} ({}-bit activations)",
            self.model, self.act_bits
        )?;
        writeln!(f, "  parameters: {}", self.source)?;
        writeln!(
            f,
            "  layers (accumulator bounds: sum |w|*max|x| + |b| / interval):"
        )?;
        for (i, l) in self.layers.iter().enumerate() {
            let shift = l.shift.map_or(String::new(), |s| format!(">> {s}, clamp"));
            let bound = l.bound.map_or(String::new(), |(w, b)| format!("{w} / {b}"));
            let line = format!(
                "    {i:2}  {:<26} {:>10} -> {:<10} {:<12} {}",
                l.description,
                l.input.to_string(),
                l.output.to_string(),
                shift,
                bound
            );
            writeln!(f, "{}", line.trim_end())?;
        }
        for r in &self.sets {
            writeln!(f, "  {}: {}", r.set, r.description)?;
            writeln!(
                f,
                "    float accuracy {:6.2}% ({}/{})   fixed-point accuracy {:6.2}% ({}/{})   agreement {:6.2}% ({}/{})",
                pct(r.float_correct, r.images),
                r.float_correct,
                r.images,
                pct(r.fixed_correct, r.images),
                r.fixed_correct,
                r.images,
                pct(r.agree, r.images),
                r.agree,
                r.images
            )?;
        }
        if let Some(s) = &self.synthetic {
            writeln!(
                f,
                "  no bundled images of this input shape (no package ships CIFAR-10 images)"
            )?;
            writeln!(
                f,
                "    fixed-point vs float agreement on {} synthetic random-pixel inputs: {:.2}% ({}/{})",
                s.images,
                pct(s.agree, s.images),
                s.agree,
                s.images
            )?;
        }
        let half = (DEFAULT_PLAINTEXT_MODULUS - 1) / 2;
        writeln!(
            f,
            "  max |accumulator|: {} (interval bound), {} (sum |w|*max|x| + |b|); default p = {} allows {}: {}",
            self.interval_accumulator,
            self.worst_case_accumulator,
            DEFAULT_PLAINTEXT_MODULUS,
            half,
            if self.fits_default_modulus { "fits" } else { "DOES NOT FIT" }
        )
    }
}
