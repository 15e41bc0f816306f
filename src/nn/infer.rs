//! Plaintext inference: the fixed-point oracle and float inference.
//!
//! The fixed-point path is a pure integer function and is *the* arithmetic of the secure
//! protocol: conv / fc / avg-pool (window sum) / square produce an exact integer accumulator
//! (homomorphically, mod p, in the protocol), then the requantisation
//! `clamp(acc >> shift, -2^(act_bits-1), 2^(act_bits-1)-1)` (a floor, in a garbled circuit),
//! and ReLU / max-pool are exact. [`Model::infer_fixed_mod`] reduces every accumulator to its
//! centred representative mod p before requantising, as the protocol does; when the model's
//! accumulator bound fits p (see [`Model::fits_modulus`]) that changes nothing.
use std::ops::{Add, Mul};

use super::error::{NnError, Result};
use super::model::{Layer, LayerKind, Model, Shape};

/// What one layer produced in a fixed-point run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerTrace {
    /// The exact accumulator before requantisation (conv / fc: with bias; avg-pool: window sums;
    /// square: x²), for requantised layers; reduced mod p to (−p/2, p/2] by
    /// [`Model::infer_fixed_mod`].
    pub accumulator: Option<Vec<i64>>,
    /// The layer's output (after requantisation where there is one), layout CHW.
    pub output: Vec<i64>,
}

/// Index of the largest score; the first one on ties.
pub fn argmax<T: PartialOrd + Copy>(scores: &[T]) -> usize {
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate() {
        if s > scores[best] {
            best = i;
        }
    }
    best
}

trait Num: Copy + Default + Add<Output = Self> + Mul<Output = Self> + PartialOrd {}
impl Num for i64 {}
impl Num for f32 {}

/// Direct convolution, one output position at a time: gather the input patch (zeros in the
/// padding) into a buffer laid out like a filter (`in_c × k × k`), then one dot product per
/// output channel.
#[allow(clippy::too_many_arguments)]
fn conv2d<T: Num>(
    x: &[T],
    s: Shape,
    out: Shape,
    w: &[T],
    b: &[T],
    k: usize,
    stride: usize,
    pad: usize,
) -> Vec<T> {
    let plane = out.h * out.w;
    let patch_len = s.c * k * k;
    let mut y = vec![T::default(); out.numel()];
    let mut patch = vec![T::default(); patch_len];
    for oy in 0..out.h {
        for ox in 0..out.w {
            for c in 0..s.c {
                for i in 0..k {
                    let iy = (oy * stride + i).checked_sub(pad).filter(|&r| r < s.h);
                    for j in 0..k {
                        let ix = (ox * stride + j).checked_sub(pad).filter(|&col| col < s.w);
                        patch[(c * k + i) * k + j] = match (iy, ix) {
                            (Some(iy), Some(ix)) => x[(c * s.h + iy) * s.w + ix],
                            _ => T::default(),
                        };
                    }
                }
            }
            for (o, filter) in w.chunks_exact(patch_len).enumerate() {
                let acc = filter
                    .iter()
                    .zip(&patch)
                    .fold(b[o], |acc, (&wv, &xv)| acc + wv * xv);
                y[o * plane + oy * out.w + ox] = acc;
            }
        }
    }
    y
}

fn fc<T: Num>(x: &[T], w: &[T], b: &[T]) -> Vec<T> {
    b.iter()
        .enumerate()
        .map(|(o, &bo)| {
            let row = &w[o * x.len()..(o + 1) * x.len()];
            row.iter().zip(x).fold(bo, |acc, (&wv, &xv)| acc + wv * xv)
        })
        .collect()
}

/// Window reduction: `init` from the first element, `f` folds the rest.
fn pool<T: Num>(
    x: &[T],
    s: Shape,
    out: Shape,
    k: usize,
    stride: usize,
    f: impl Fn(T, T) -> T,
) -> Vec<T> {
    let mut y = Vec::with_capacity(out.numel());
    for c in 0..s.c {
        let xc = &x[c * s.h * s.w..(c + 1) * s.h * s.w];
        for oy in 0..out.h {
            for ox in 0..out.w {
                let mut acc = xc[oy * stride * s.w + ox * stride];
                for i in 0..k {
                    for j in 0..k {
                        if i + j > 0 {
                            acc = f(acc, xc[(oy * stride + i) * s.w + ox * stride + j]);
                        }
                    }
                }
                y.push(acc);
            }
        }
    }
    y
}

/// Centred representative of `v` mod `p`, in (−p/2, p/2].
fn centre_mod(v: i64, p: i64) -> i64 {
    let r = v.rem_euclid(p);
    if r > p / 2 {
        r - p
    } else {
        r
    }
}

/// One layer on its input `x`; `other` is the second operand of an add.
fn fixed_layer(layer: &Layer, x: &[i64], other: &[i64], modulus: Option<i64>) -> LayerTrace {
    let (s, out) = (layer.input_shape(), layer.output_shape());
    let acc = match layer.kind() {
        LayerKind::Add {
            lshift_input,
            lshift_other,
            ..
        } => x
            .iter()
            .zip(other)
            .map(|(&a, &b)| (a << lshift_input) + (b << lshift_other))
            .collect(),
        LayerKind::Conv2d { k, stride, pad, .. } => {
            conv2d(x, s, out, layer.weights(), layer.bias(), k, stride, pad)
        }
        LayerKind::Fc { .. } => fc(x, layer.weights(), layer.bias()),
        LayerKind::Square => x.iter().map(|&v| v * v).collect(),
        LayerKind::AvgPool { k, stride } => pool(x, s, out, k, stride, |a, b| a + b),
        LayerKind::MaxPool { k, stride } => {
            return LayerTrace {
                accumulator: None,
                output: pool(x, s, out, k, stride, |a, b| a.max(b)),
            }
        }
        LayerKind::Relu => {
            return LayerTrace {
                accumulator: None,
                output: x.iter().map(|&v| v.max(0)).collect(),
            }
        }
        LayerKind::Flatten => {
            return LayerTrace {
                accumulator: None,
                output: x.to_vec(),
            }
        }
    };
    let acc: Vec<i64> = match modulus {
        Some(p) => acc.into_iter().map(|v| centre_mod(v, p)).collect(),
        None => acc,
    };
    // Model::new guarantees every accumulating layer is requantised.
    let output = match layer.requant() {
        Some(rq) => acc.iter().map(|&v| rq.apply(v)).collect(),
        None => acc.clone(),
    };
    LayerTrace {
        accumulator: Some(acc),
        output,
    }
}

fn float_layer(layer: &Layer, x: &[f32], other: &[f32]) -> Vec<f32> {
    let (s, out) = (layer.input_shape(), layer.output_shape());
    match layer.kind() {
        LayerKind::Add { .. } => x.iter().zip(other).map(|(&a, &b)| a + b).collect(),
        LayerKind::Conv2d { k, stride, pad, .. } => {
            let fp = layer.float_params().expect("checked by infer_float");
            conv2d(x, s, out, &fp.weights, &fp.bias, k, stride, pad)
        }
        LayerKind::Fc { .. } => {
            let fp = layer.float_params().expect("checked by infer_float");
            fc(x, &fp.weights, &fp.bias)
        }
        LayerKind::Square => x.iter().map(|&v| v * v).collect(),
        LayerKind::AvgPool { k, stride } => {
            let inv = 1.0 / (k * k) as f32;
            pool(x, s, out, k, stride, |a, b| a + b)
                .into_iter()
                .map(|v| v * inv)
                .collect()
        }
        LayerKind::MaxPool { k, stride } => {
            pool(x, s, out, k, stride, |a, b| if b > a { b } else { a })
        }
        LayerKind::Relu => x.iter().map(|&v| v.max(0.0)).collect(),
        LayerKind::Flatten => x.to_vec(),
    }
}

impl Model {
    fn check_fixed_input(&self, input: &[i64]) -> Result<()> {
        let spec = self.input();
        let expected = spec.shape.numel();
        if input.len() != expected {
            return Err(NnError::InputLength {
                found: input.len(),
                expected,
            });
        }
        let (min, max) = (spec.min(), spec.max());
        if let Some(index) = input.iter().position(|v| !(min..=max).contains(v)) {
            return Err(NnError::InputOutOfRange {
                index,
                value: input[index],
                min,
                max,
            });
        }
        Ok(())
    }

    fn run_fixed(&self, input: &[i64], modulus: Option<i64>) -> Result<Vec<LayerTrace>> {
        self.check_fixed_input(input)?;
        let mut trace: Vec<LayerTrace> = Vec::with_capacity(self.layers().len());
        for layer in self.layers() {
            let tensor = |t: usize| {
                if t == 0 {
                    input
                } else {
                    &trace[t - 1].output[..]
                }
            };
            let other = match layer.kind() {
                LayerKind::Add { other, .. } => tensor(other),
                _ => &[],
            };
            let t = fixed_layer(layer, tensor(layer.input_tensor()), other, modulus);
            trace.push(t);
        }
        Ok(trace)
    }

    /// Fixed-point inference: the integer logits (requantised, so within the `act_bits` range).
    /// `input` is the integer input in CHW order (see [`super::InputSpec::encode_fixed`]).
    pub fn infer_fixed(&self, input: &[i64]) -> Result<Vec<i64>> {
        let mut trace = self.run_fixed(input, None)?;
        Ok(trace.pop().map(|t| t.output).unwrap_or_default())
    }

    /// Fixed-point inference with every layer's accumulator and output, for layer-by-layer
    /// comparison with a secure run.
    pub fn infer_fixed_trace(&self, input: &[i64]) -> Result<Vec<LayerTrace>> {
        self.run_fixed(input, None)
    }

    /// As [`Model::infer_fixed_trace`], but with each accumulator reduced to its centred
    /// representative mod `p` before requantisation, exactly as the homomorphic layers deliver it.
    pub fn infer_fixed_mod(&self, input: &[i64], p: u64) -> Result<Vec<LayerTrace>> {
        if !(3..=1u64 << 62).contains(&p) {
            return Err(NnError::FieldOutOfRange {
                field: "modulus",
                value: p.min(i64::MAX as u64) as i64,
                min: 3,
                max: 1 << 62,
            });
        }
        self.run_fixed(input, Some(p as i64))
    }

    /// Float inference with the float parameters (no requantisation, avg-pool averages):
    /// the float logits. `input` as given by [`super::InputSpec::encode_float`].
    pub fn infer_float(&self, input: &[f32]) -> Result<Vec<f32>> {
        Ok(self.infer_float_trace(input)?.pop().unwrap_or_default())
    }

    /// Float inference keeping every tensor: `[0]` is the input, `[i + 1]` layer i's output
    /// (for calibration).
    pub fn infer_float_trace(&self, input: &[f32]) -> Result<Vec<Vec<f32>>> {
        if !self.has_float() {
            return Err(NnError::NoFloatParameters {
                model: self.name().to_string(),
            });
        }
        let expected = self.input().shape.numel();
        if input.len() != expected {
            return Err(NnError::InputLength {
                found: input.len(),
                expected,
            });
        }
        let mut tensors: Vec<Vec<f32>> = vec![input.to_vec()];
        for layer in self.layers() {
            let other = match layer.kind() {
                LayerKind::Add { other, .. } => &tensors[other][..],
                _ => &[],
            };
            let y = float_layer(layer, &tensors[layer.input_tensor()], other);
            tensors.push(y);
        }
        Ok(tensors)
    }

    /// Class predicted by the fixed-point network for an 8-bit image (CHW).
    pub fn predict_fixed(&self, pixels: &[u8]) -> Result<usize> {
        Ok(argmax(
            &self.infer_fixed(&self.input().encode_fixed(pixels))?,
        ))
    }

    /// Class predicted by the float network for an 8-bit image (CHW).
    pub fn predict_float(&self, pixels: &[u8]) -> Result<usize> {
        Ok(argmax(
            &self.infer_float(&self.input().encode_float(pixels))?,
        ))
    }
}
