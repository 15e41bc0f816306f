//! Accumulator bounds: how large a value the homomorphic layers can produce, so the plaintext
//! modulus p can be chosen such that nothing wraps (the protocol needs |acc| ≤ (p−1)/2).
//!
//! Two bounds per requantised layer, both from the range of the layer's input:
//! * `worst_case` = max over outputs of Σ|w|·max|x| + |b| (conv / fc), max|x|² (square),
//!   k²·max|x| (avg-pool) — the simple, conservative figure;
//! * `interval` = the exact range of b + Σ w·x over all inputs x in `[lo, hi]` (interval
//!   arithmetic: Σ min(w·lo, w·hi) … Σ max(w·lo, w·hi)). It is tighter when inputs are
//!   one-signed (pixels, ReLU outputs, squares) and it is still a sound bound.
//!
//! The input range of the first layer is the model's integer input range. For `worst_case`, the
//! range after a layer is what its type allows (the clamp range, halved by a ReLU, non-negative
//! after a square); for `interval` it is the requantised accumulator interval. ReLU, max-pool and
//! flatten map ranges in the obvious way.
use super::model::{LayerKind, Model};

/// Bounds on one requantised layer's accumulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerBound {
    /// Index of the layer.
    pub layer: usize,
    /// Kind of the layer.
    pub kind: &'static str,
    /// Reachable range of the layer's input values.
    pub input_range: (i64, i64),
    /// max over outputs of Σ|w|·max|x| + |b| (or its analogue, see the module doc).
    pub worst_case: i64,
    /// Exact range of the accumulator over all inputs in `input_range`.
    pub interval: (i64, i64),
}

impl LayerBound {
    /// Largest |acc| by interval arithmetic.
    pub fn interval_abs(&self) -> i64 {
        self.interval.0.abs().max(self.interval.1.abs())
    }
}

/// A closed integer range `(lo, hi)`, computed in `i128` and saturated at ±2^100 so that no
/// chain of layers overflows (anything beyond 2^62 is refused by [`Model::new`] anyway).
type Range = (i128, i128);

const SAT: i128 = 1 << 100;

fn sat(v: i128) -> i128 {
    v.clamp(-SAT, SAT)
}

fn narrow(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn dot_interval(w: &[i64], b: i64, lo: i128, hi: i128) -> Range {
    w.iter()
        .fold((i128::from(b), i128::from(b)), |(l, h), &wv| {
            let wv = i128::from(wv);
            (
                sat(l + (wv * lo).min(wv * hi)),
                sat(h + (wv * lo).max(wv * hi)),
            )
        })
}

/// Range of x² for x in `[lo, hi]`.
fn square_range(lo: i128, hi: i128) -> Range {
    let (lo, hi) = (lo.clamp(-(1 << 63), 1 << 63), hi.clamp(-(1 << 63), 1 << 63));
    let top = (lo * lo).max(hi * hi);
    let bottom = if lo <= 0 && hi >= 0 {
        0
    } else {
        (lo * lo).min(hi * hi)
    };
    (bottom, top)
}

fn requant_range(rq: Option<super::model::Requant>, r: Range) -> Range {
    match rq {
        Some(rq) => (
            i128::from(rq.apply(narrow(r.0))),
            i128::from(rq.apply(narrow(r.1))),
        ),
        None => r,
    }
}

impl Model {
    /// Accumulator bounds of every requantised layer, first to last.
    ///
    /// Two ranges are carried for every tensor: the *type* range (what the producing layer's
    /// clamp, ReLU or square allows: `[-2^(a-1), 2^(a-1)-1]`, `[0, 2^(a-1)-1]`, …; for an
    /// unrequantised accumulator its worst case), which gives `worst_case`, and the
    /// *reachable* range (tightened by the accumulator's interval), which gives `interval`.
    pub fn accumulator_bounds(&self) -> Vec<LayerBound> {
        let input = self.input();
        let first = (i128::from(input.min()), i128::from(input.max()));
        // (reachable, type) range of each tensor
        let mut tensors: Vec<(Range, Range)> = vec![(first, first)];
        let mut out = Vec::new();
        for (i, layer) in self.layers().iter().enumerate() {
            let ((lo, hi), (tlo, thi)) = tensors[layer.input_tensor()];
            let max_abs = tlo.abs().max(thi.abs());
            let kind = layer.kind();
            let next: (Range, Range) = match kind {
                LayerKind::Conv2d { .. } | LayerKind::Fc { .. } => {
                    let fan_in = layer.weights().len() / layer.bias().len();
                    // zero padding adds zero-valued inputs
                    let padded = matches!(kind, LayerKind::Conv2d { pad, .. } if pad > 0);
                    let (xl, xh) = if padded {
                        (lo.min(0), hi.max(0))
                    } else {
                        (lo, hi)
                    };
                    let mut worst = 0i128;
                    let (mut al, mut ah) = (i128::MAX, i128::MIN);
                    for (o, &b) in layer.bias().iter().enumerate() {
                        let w = &layer.weights()[o * fan_in..(o + 1) * fan_in];
                        let sum_abs: i128 = w.iter().map(|v| i128::from(v.abs())).sum();
                        worst = worst.max(sat(sum_abs * max_abs + i128::from(b.abs())));
                        let (l, h) = dot_interval(w, b, xl, xh);
                        al = al.min(l);
                        ah = ah.max(h);
                    }
                    // the type of a requantised conv / fc output is whatever its clamp allows
                    let typed = if layer.requant().is_some() {
                        (i128::from(i64::MIN), i128::from(i64::MAX))
                    } else {
                        (-worst, worst)
                    };
                    self.record(&mut out, i, (lo, hi), worst, (al, ah), typed)
                }
                LayerKind::Square => {
                    let t = square_range(tlo, thi);
                    self.record(&mut out, i, (lo, hi), t.1, square_range(lo, hi), t)
                }
                LayerKind::AvgPool { k, .. } => {
                    let n = (k * k) as i128;
                    self.record(
                        &mut out,
                        i,
                        (lo, hi),
                        sat(n * max_abs),
                        (sat(n * lo), sat(n * hi)),
                        (sat(n * tlo), sat(n * thi)),
                    )
                }
                LayerKind::Add {
                    other,
                    lshift_input,
                    lshift_other,
                } => {
                    let ((olo, ohi), (otlo, othi)) = tensors[other];
                    let (a, b) = (1i128 << lshift_input, 1i128 << lshift_other);
                    let reach = (sat(lo * a + olo * b), sat(hi * a + ohi * b));
                    let typed = (sat(tlo * a + otlo * b), sat(thi * a + othi * b));
                    let worst = typed.0.abs().max(typed.1.abs());
                    self.record(&mut out, i, (lo, hi), worst, reach, typed)
                }
                LayerKind::Relu => ((lo.max(0), hi.max(0)), (tlo.max(0), thi.max(0))),
                LayerKind::MaxPool { .. } | LayerKind::Flatten => ((lo, hi), (tlo, thi)),
            };
            tensors.push(next);
        }
        out
    }

    /// Pushes a layer's bound; returns the (reachable, type) ranges of its output.
    fn record(
        &self,
        out: &mut Vec<LayerBound>,
        i: usize,
        input_range: Range,
        worst: i128,
        interval: Range,
        typed: Range,
    ) -> (Range, Range) {
        let layer = &self.layers()[i];
        out.push(LayerBound {
            layer: i,
            kind: layer.kind().name(),
            input_range: (narrow(input_range.0), narrow(input_range.1)),
            worst_case: narrow(worst),
            interval: (narrow(interval.0), narrow(interval.1)),
        });
        let rq = layer.requant();
        (requant_range(rq, interval), requant_range(rq, typed))
    }

    /// Refuses a model whose worst-case bound lets any value reach 2^62 (the integer oracle
    /// computes in `i64`).
    pub(crate) fn check_bounds(&self) -> super::error::Result<()> {
        for b in self.accumulator_bounds() {
            if b.worst_case.unsigned_abs() > super::model::MAX_ACCUMULATOR_ABS as u64 {
                return Err(super::error::NnError::ShapeMismatch {
                    layer: b.layer,
                    kind: b.kind,
                    reason: format!(
                        "its accumulator may reach {} in the worst case (at most 2^62 allowed: \
                         requantise an earlier layer)",
                        b.worst_case
                    ),
                });
            }
        }
        Ok(())
    }

    /// Largest `worst_case` bound (Σ|w|·max|x| + |b|) over the layers.
    pub fn worst_case_accumulator(&self) -> i64 {
        self.accumulator_bounds()
            .iter()
            .map(|b| b.worst_case)
            .max()
            .unwrap_or(0)
    }

    /// Largest |accumulator| by interval arithmetic over the layers (≤ the worst case).
    pub fn interval_accumulator(&self) -> i64 {
        self.accumulator_bounds()
            .iter()
            .map(|b| b.interval_abs())
            .max()
            .unwrap_or(0)
    }

    /// Whether no accumulator can leave the signed range of `p`, (−p/2, p/2), by the interval
    /// bound: then secure inference mod p equals the integer oracle.
    pub fn fits_modulus(&self, p: u64) -> bool {
        (self.interval_accumulator() as u64) <= p.saturating_sub(1) / 2
    }
}
