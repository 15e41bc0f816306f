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

/// A closed integer range `(lo, hi)`.
type Range = (i64, i64);

fn dot_interval(w: &[i64], b: i64, lo: i64, hi: i64) -> (i64, i64) {
    w.iter().fold((b, b), |(l, h), &wv| {
        (l + (wv * lo).min(wv * hi), h + (wv * lo).max(wv * hi))
    })
}

/// Range of x² for x in `[lo, hi]`.
fn square_range(lo: i64, hi: i64) -> (i64, i64) {
    let top = (lo * lo).max(hi * hi);
    let bottom = if lo <= 0 && hi >= 0 {
        0
    } else {
        (lo * lo).min(hi * hi)
    };
    (bottom, top)
}

impl Model {
    /// Accumulator bounds of every requantised layer, first to last.
    ///
    /// Two input ranges are carried through the network: the *type* range (what the previous
    /// layer's clamp, ReLU or square allows: `[-2^(a-1), 2^(a-1)-1]`, `[0, 2^(a-1)-1]`, …), which
    /// gives `worst_case`, and the *reachable* range (tightened by the previous accumulator's
    /// interval), which gives `interval`.
    pub fn accumulator_bounds(&self) -> Vec<LayerBound> {
        let input = self.input();
        let (mut lo, mut hi) = (input.min(), input.max());
        let (mut tlo, mut thi) = (lo, hi);
        let mut out = Vec::new();
        for (i, layer) in self.layers().iter().enumerate() {
            let max_abs = tlo.abs().max(thi.abs());
            let kind = layer.kind();
            // (worst case, reachable interval, type interval) of the accumulator
            let acc: Option<(i64, Range, Range)> = match kind {
                LayerKind::Conv2d { .. } | LayerKind::Fc { .. } => {
                    let fan_in = layer.weights().len() / layer.bias().len();
                    // zero padding adds zero-valued inputs
                    let padded = matches!(kind, LayerKind::Conv2d { pad, .. } if pad > 0);
                    let (xl, xh) = if padded {
                        (lo.min(0), hi.max(0))
                    } else {
                        (lo, hi)
                    };
                    let mut worst = 0i64;
                    let (mut al, mut ah) = (i64::MAX, i64::MIN);
                    for (o, &b) in layer.bias().iter().enumerate() {
                        let w = &layer.weights()[o * fan_in..(o + 1) * fan_in];
                        let sum_abs: i64 = w.iter().map(|v| v.abs()).sum();
                        worst = worst.max(sum_abs * max_abs + b.abs());
                        let (l, h) = dot_interval(w, b, xl, xh);
                        al = al.min(l);
                        ah = ah.max(h);
                    }
                    // the type of a conv / fc output is whatever its clamp allows
                    Some((worst, (al, ah), (i64::MIN, i64::MAX)))
                }
                LayerKind::Square => {
                    let t = square_range(tlo, thi);
                    Some((t.1, square_range(lo, hi), t))
                }
                LayerKind::AvgPool { k, .. } => {
                    let n = (k * k) as i64;
                    Some((n * max_abs, (n * lo, n * hi), (n * tlo, n * thi)))
                }
                LayerKind::Relu => {
                    (lo, hi) = (lo.max(0), hi.max(0));
                    (tlo, thi) = (tlo.max(0), thi.max(0));
                    None
                }
                LayerKind::MaxPool { .. } | LayerKind::Flatten => None,
            };
            if let Some((worst_case, interval, typed)) = acc {
                out.push(LayerBound {
                    layer: i,
                    kind: kind.name(),
                    input_range: (lo, hi),
                    worst_case,
                    interval,
                });
                (lo, hi, tlo, thi) = match layer.requant() {
                    Some(rq) => (
                        rq.apply(interval.0),
                        rq.apply(interval.1),
                        rq.apply(typed.0),
                        rq.apply(typed.1),
                    ),
                    None => (interval.0, interval.1, typed.0, typed.1),
                };
            }
        }
        out
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
