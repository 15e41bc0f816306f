//! Layer descriptions, their weights, and the plaintext reference every homomorphic result is
//! checked against.
//!
//! Tensors are flat: a fully-connected input/output is a vector; a convolution's input is
//! C × H × W in row-major (CHW) order, element `(c·H + y)·W + x`. Weights follow PyTorch:
//! FC `[n_out][n_in]`, conv `[c_out][c_in][k][k]`; biases have one entry per output channel
//! (conv) or output (FC).
use super::error::{LinalgError, Result};

/// A 2-D convolution (or, with `depthwise_sum`, a k × k sum pooling) over a C × H × W tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvShape {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Square kernel size.
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on every side (`(k − 1)/2` for "same" at stride 1, 0 for "valid").
    pub pad: usize,
    /// Sum pooling: output channel c sums input channel c over the window, no weights.
    pub depthwise_sum: bool,
}

impl ConvShape {
    /// A convolution.
    pub fn conv(
        c_in: usize,
        c_out: usize,
        h: usize,
        w: usize,
        k: usize,
        stride: usize,
        pad: usize,
    ) -> ConvShape {
        ConvShape {
            c_in,
            c_out,
            h,
            w,
            k,
            stride,
            pad,
            depthwise_sum: false,
        }
    }

    /// A k × k, stride-k sum pooling (average pooling before the division, which the next
    /// non-linear layer folds into its rescale).
    pub fn sum_pool(c: usize, h: usize, w: usize, k: usize) -> ConvShape {
        ConvShape {
            c_in: c,
            c_out: c,
            h,
            w,
            k,
            stride: k,
            pad: 0,
            depthwise_sum: true,
        }
    }

    /// Output height.
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.pad - self.k) / self.stride + 1
    }

    /// Output width.
    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.pad - self.k) / self.stride + 1
    }

    fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(LinalgError::Shape { reason });
        if self.c_in == 0 || self.c_out == 0 || self.h == 0 || self.w == 0 {
            return bad(format!("empty tensor in {self:?}"));
        }
        if self.k == 0 || self.stride == 0 {
            return bad(format!("kernel and stride must be positive in {self:?}"));
        }
        if self.k > self.h + 2 * self.pad || self.k > self.w + 2 * self.pad {
            return bad(format!("kernel larger than the padded input in {self:?}"));
        }
        if self.depthwise_sum && self.c_in != self.c_out {
            return bad("sum pooling keeps the channel count".into());
        }
        Ok(())
    }
}

/// A linear layer's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerShape {
    /// Fully connected: `n_out × n_in` matrix times a vector.
    Fc {
        /// Input length.
        n_in: usize,
        /// Output length.
        n_out: usize,
    },
    /// Convolution or sum pooling.
    Conv(ConvShape),
}

impl LayerShape {
    /// Checks the shape.
    pub fn validate(&self) -> Result<()> {
        match self {
            LayerShape::Fc { n_in, n_out } if *n_in == 0 || *n_out == 0 => {
                Err(LinalgError::Shape {
                    reason: format!("empty matrix {n_out}×{n_in}"),
                })
            }
            LayerShape::Fc { .. } => Ok(()),
            LayerShape::Conv(c) => c.validate(),
        }
    }

    /// Number of input elements.
    pub fn input_len(&self) -> usize {
        match self {
            LayerShape::Fc { n_in, .. } => *n_in,
            LayerShape::Conv(c) => c.c_in * c.h * c.w,
        }
    }

    /// Number of output elements.
    pub fn output_len(&self) -> usize {
        match self {
            LayerShape::Fc { n_out, .. } => *n_out,
            LayerShape::Conv(c) => c.c_out * c.out_h() * c.out_w(),
        }
    }

    /// Number of weights expected (0 for sum pooling).
    pub fn weight_len(&self) -> usize {
        match self {
            LayerShape::Fc { n_in, n_out } => n_in * n_out,
            LayerShape::Conv(c) if c.depthwise_sum => 0,
            LayerShape::Conv(c) => c.c_out * c.c_in * c.k * c.k,
        }
    }

    /// Number of bias entries accepted (0 means no bias; otherwise this many).
    pub fn bias_len(&self) -> usize {
        match self {
            LayerShape::Fc { n_out, .. } => *n_out,
            LayerShape::Conv(c) => c.c_out,
        }
    }

    /// A short human-readable description, e.g. `conv 64→64 k3 s1 p1 @32×32`.
    pub fn describe(&self) -> String {
        match self {
            LayerShape::Fc { n_in, n_out } => format!("fc {n_in}→{n_out}"),
            LayerShape::Conv(c) if c.depthwise_sum => {
                format!("sumpool {} k{} @{}×{}", c.c_in, c.k, c.h, c.w)
            }
            LayerShape::Conv(c) => format!(
                "conv {}→{} k{} s{} p{} @{}×{}",
                c.c_in, c.c_out, c.k, c.stride, c.pad, c.h, c.w
            ),
        }
    }

    /// The (signed, exact) weight linking output element `out` to input element `inp`; 0 when
    /// they are not connected.
    pub(crate) fn weight(&self, weights: &[i64], out: usize, inp: usize) -> i64 {
        match self {
            LayerShape::Fc { n_in, .. } => weights[out * n_in + inp],
            LayerShape::Conv(c) => {
                let (ho, wo) = (c.out_h(), c.out_w());
                let (co, y, x) = (out / (ho * wo), (out / wo) % ho, out % wo);
                let (ci, iy, ix) = (inp / (c.h * c.w), (inp / c.w) % c.h, inp % c.w);
                let ky = (iy + c.pad) as isize - (c.stride * y) as isize;
                let kx = (ix + c.pad) as isize - (c.stride * x) as isize;
                let k = c.k as isize;
                if !(0..k).contains(&ky) || !(0..k).contains(&kx) {
                    return 0;
                }
                if c.depthwise_sum {
                    (co == ci) as i64
                } else {
                    weights[((co * c.c_in + ci) * c.k + ky as usize) * c.k + kx as usize]
                }
            }
        }
    }
}

/// A layer's weights and bias (signed integers; reduced mod p when encoded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayerWeights {
    /// Weights in PyTorch order (empty for sum pooling).
    pub weights: Vec<i64>,
    /// Bias per output channel (conv) or output (FC); empty for none.
    pub bias: Vec<i64>,
}

impl LayerWeights {
    /// Checks the lengths against a shape.
    pub fn check(&self, shape: &LayerShape) -> Result<()> {
        if self.weights.len() != shape.weight_len() {
            return Err(LinalgError::Length {
                what: "weights",
                expected: shape.weight_len(),
                found: self.weights.len(),
            });
        }
        if !self.bias.is_empty() && self.bias.len() != shape.bias_len() {
            return Err(LinalgError::Length {
                what: "bias",
                expected: shape.bias_len(),
                found: self.bias.len(),
            });
        }
        Ok(())
    }

    /// Bias of output element `out` (0 without bias).
    pub(crate) fn bias_of(&self, shape: &LayerShape, out: usize) -> i64 {
        if self.bias.is_empty() {
            return 0;
        }
        match shape {
            LayerShape::Fc { .. } => self.bias[out],
            LayerShape::Conv(c) => self.bias[out / (c.out_h() * c.out_w())],
        }
    }
}

/// The layer evaluated in the clear over the integers: y = W·x + b (exact, signed).
pub fn reference(shape: &LayerShape, w: &LayerWeights, x: &[i64]) -> Result<Vec<i64>> {
    shape.validate()?;
    w.check(shape)?;
    if x.len() != shape.input_len() {
        return Err(LinalgError::Length {
            what: "input",
            expected: shape.input_len(),
            found: x.len(),
        });
    }
    let mut y: Vec<i64> = (0..shape.output_len())
        .map(|o| w.bias_of(shape, o))
        .collect();
    match shape {
        LayerShape::Fc { n_in, .. } => {
            for (o, yo) in y.iter_mut().enumerate() {
                let row = &w.weights[o * n_in..(o + 1) * n_in];
                *yo += row.iter().zip(x).map(|(a, b)| a * b).sum::<i64>();
            }
        }
        LayerShape::Conv(c) => {
            let (ho, wo) = (c.out_h(), c.out_w());
            for co in 0..c.c_out {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let mut acc = 0i64;
                        for ci in 0..c.c_in {
                            if c.depthwise_sum && ci != co {
                                continue;
                            }
                            for ky in 0..c.k {
                                for kx in 0..c.k {
                                    let iy = (oy * c.stride + ky) as isize - c.pad as isize;
                                    let ix = (ox * c.stride + kx) as isize - c.pad as isize;
                                    if iy < 0 || ix < 0 || iy >= c.h as isize || ix >= c.w as isize
                                    {
                                        continue;
                                    }
                                    let v = x[(ci * c.h + iy as usize) * c.w + ix as usize];
                                    let wt = if c.depthwise_sum {
                                        1
                                    } else {
                                        w.weights[((co * c.c_in + ci) * c.k + ky) * c.k + kx]
                                    };
                                    acc += wt * v;
                                }
                            }
                        }
                        y[(co * ho + oy) * wo + ox] += acc;
                    }
                }
            }
        }
    }
    Ok(y)
}
