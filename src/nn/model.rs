//! Model description: layers, shapes, integer parameters and the requantisation after each layer.
//!
//! A [`Model`] can only be built through [`Model::new`] (or the file loader, which calls it), which
//! checks every invariant the inference code and the secure protocol rely on: shapes chain, every
//! parameter array has its exact length, values are within the format's bounds (so no accumulator
//! can overflow `i64`), and every conv / fully-connected / square / avg-pool layer carries its
//! requantisation.
use super::error::{NnError, Result};

/// Most layers a model may have.
pub const MAX_LAYERS: usize = 64;
/// Largest number of values in any activation tensor (c·h·w).
pub const MAX_ACTIVATION: usize = 1 << 24;
/// Largest number of weights in one layer.
pub const MAX_LAYER_PARAMS: usize = 1 << 24;
/// Largest magnitude of an integer weight.
pub const MAX_WEIGHT_ABS: i64 = 1 << 16;
/// Largest magnitude of an integer bias.
pub const MAX_BIAS_ABS: i64 = 1 << 30;
/// Largest requantisation shift.
pub const MAX_SHIFT: u32 = 48;
/// Smallest and largest activation bit width.
pub const ACT_BITS_RANGE: (u32, u32) = (2, 16);
/// Largest channel count, spatial size, and fully-connected width.
pub const MAX_DIM: usize = 1 << 22;
/// Largest kernel / window size, stride and padding.
pub const MAX_WINDOW: usize = 16;
/// Longest class name (bytes).
pub const MAX_CLASS_NAME: usize = 32;
/// Largest |value| any tensor or accumulator may reach by the model's worst-case bound (so
/// the integer oracle never overflows `i64`).
pub const MAX_ACCUMULATOR_ABS: i64 = 1 << 62;

/// An activation shape: channels × height × width (a flat vector is `n × 1 × 1`).
/// Values are stored channel-major, then row, then column (PyTorch's NCHW without N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
}

impl Shape {
    /// A `c × h × w` shape.
    pub const fn new(c: usize, h: usize, w: usize) -> Self {
        Self { c, h, w }
    }

    /// Number of values.
    pub const fn numel(&self) -> usize {
        self.c * self.h * self.w
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.c, self.h, self.w)
    }
}

/// What a layer computes. Parameters (weights, biases) live in [`Layer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// 2-D convolution, square kernel, zero padding. Weights `out_c × in_c × k × k`.
    Conv2d {
        /// Input channels.
        in_c: usize,
        /// Output channels.
        out_c: usize,
        /// Kernel size.
        k: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on each side.
        pad: usize,
    },
    /// Fully connected. Weights `outputs × inputs`, row-major. Input must be flat (`n × 1 × 1`).
    Fc {
        /// Input width.
        inputs: usize,
        /// Output width.
        outputs: usize,
    },
    /// max(x, 0).
    Relu,
    /// x².
    Square,
    /// Max over `k × k` windows (floor mode).
    MaxPool {
        /// Window size.
        k: usize,
        /// Stride.
        stride: usize,
    },
    /// Average over `k × k` windows: the integer layer computes the window's *sum*; the division
    /// by k² is folded into the requantisation shift. Float inference divides.
    AvgPool {
        /// Window size.
        k: usize,
        /// Stride.
        stride: usize,
    },
    /// `c × h × w` → `c·h·w × 1 × 1`, values unchanged.
    Flatten,
    /// Residual addition: `(x << lshift_input) + (t << lshift_other)` where `x` is the layer's
    /// input and `t` the tensor `other` (same shape); the left shifts align the two operands'
    /// fixed-point scales. Local on additive shares in the secure protocol.
    Add {
        /// Index of the second operand's tensor (0 = model input, i + 1 = output of layer i).
        other: usize,
        /// Left shift of the layer's input.
        lshift_input: u32,
        /// Left shift of the other operand.
        lshift_other: u32,
    },
}

impl LayerKind {
    /// Short name, for messages and reports.
    pub const fn name(&self) -> &'static str {
        match self {
            LayerKind::Conv2d { .. } => "conv2d",
            LayerKind::Fc { .. } => "fc",
            LayerKind::Relu => "relu",
            LayerKind::Square => "square",
            LayerKind::MaxPool { .. } => "maxpool",
            LayerKind::AvgPool { .. } => "avgpool",
            LayerKind::Flatten => "flatten",
            LayerKind::Add { .. } => "add",
        }
    }

    /// Whether the layer has weights and biases.
    pub const fn has_parameters(&self) -> bool {
        matches!(self, LayerKind::Conv2d { .. } | LayerKind::Fc { .. })
    }

    /// Whether the layer produces an accumulator that may be requantised (floor-shift and
    /// clamp): the layers the secure protocol evaluates homomorphically or locally on shares
    /// (conv, fc, square, avg-pool, add). The requantisation is optional: without it the layer
    /// passes its exact accumulator on (e.g. a conv feeding a residual add).
    pub const fn is_requantised(&self) -> bool {
        matches!(
            self,
            LayerKind::Conv2d { .. }
                | LayerKind::Fc { .. }
                | LayerKind::Square
                | LayerKind::AvgPool { .. }
                | LayerKind::Add { .. }
        )
    }

    /// Number of weights and of biases the layer takes (saturating, so absurd dimensions give
    /// absurd counts rather than wrapping).
    pub fn parameter_counts(&self) -> (usize, usize) {
        match *self {
            LayerKind::Conv2d { in_c, out_c, k, .. } => (
                out_c
                    .saturating_mul(in_c)
                    .saturating_mul(k.saturating_mul(k)),
                out_c,
            ),
            LayerKind::Fc { inputs, outputs } => (outputs.saturating_mul(inputs), outputs),
            _ => (0, 0),
        }
    }
}

/// The requantisation after a layer: `y = clamp(floor(acc / 2^shift), min, max)`, i.e. an
/// arithmetic right shift then a clamp to the signed `act_bits` range
/// `[-2^(act_bits-1), 2^(act_bits-1) - 1]`. This is the reference's `DownShift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requant {
    /// Right shift.
    pub shift: u32,
    /// Lower clamp.
    pub min: i64,
    /// Upper clamp.
    pub max: i64,
}

impl Requant {
    /// The requantisation for `act_bits`-bit activations.
    pub const fn new(shift: u32, act_bits: u32) -> Self {
        Self {
            shift,
            min: -(1i64 << (act_bits - 1)),
            max: (1i64 << (act_bits - 1)) - 1,
        }
    }

    /// Applies it to one accumulator.
    #[inline]
    pub fn apply(&self, acc: i64) -> i64 {
        (acc >> self.shift).clamp(self.min, self.max)
    }
}

/// A layer as stored: kind, requantisation shift, parameters. Unvalidated; [`Model::new`] checks it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    /// What the layer computes.
    pub kind: LayerKind,
    /// The tensor the layer reads (0 = model input, i + 1 = output of layer i); `None` is the
    /// previous layer's output.
    pub input: Option<usize>,
    /// Right shift of the requantisation (only for layers where [`LayerKind::is_requantised`];
    /// `None` there passes the exact accumulator on).
    pub shift: Option<u32>,
    /// Integer weights (conv: OIHW, fc: out × in row-major); empty for parameter-free layers.
    pub weights: Vec<i64>,
    /// Integer biases; empty for parameter-free layers.
    pub bias: Vec<i64>,
    /// Float weights and biases, same layout, for float inference.
    pub float: Option<FloatParams>,
}

/// Float weights and biases of a layer (same layout as the integer ones).
#[derive(Debug, Clone, PartialEq)]
pub struct FloatParams {
    /// Weights.
    pub weights: Vec<f32>,
    /// Biases.
    pub bias: Vec<f32>,
}

/// How an 8-bit pixel becomes the model's input.
///
/// Integer input: `x = scale · pixel + offset`. Float input: `x / float_div`.
/// MNIST: scale 1, offset 0, divisor 255 (pixel/255 in float, the pixel itself in fixed point).
/// CIFAR-10 (normalised to [-1, 1] in training): scale 2, offset −255, divisor 255.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputSpec {
    /// Input shape.
    pub shape: Shape,
    /// Multiplier of the pixel value.
    pub scale: i64,
    /// Added after scaling.
    pub offset: i64,
    /// Divisor giving the float input.
    pub float_div: u32,
    /// Whether inputs are hand-drawn (one-channel digits): only then may a PNG with a light
    /// background be inverted by the automatic polarity ([`crate::data::Polarity::Auto`]).
    pub hand_drawn: bool,
}

impl InputSpec {
    /// Smallest integer input value.
    pub fn min(&self) -> i64 {
        self.offset
    }

    /// Largest integer input value.
    pub fn max(&self) -> i64 {
        255 * self.scale + self.offset
    }

    /// Integer model input for `pixels` (layout CHW).
    pub fn encode_fixed(&self, pixels: &[u8]) -> Vec<i64> {
        pixels
            .iter()
            .map(|&p| self.scale * i64::from(p) + self.offset)
            .collect()
    }

    /// Pixels (CHW) of a PNG for this input: converted to grey or RGB by the channel count,
    /// resized if square and of another size (see [`crate::data::png_to_pixels`]).
    pub fn pixels_from_png(
        &self,
        png: &[u8],
        polarity: crate::data::Polarity,
    ) -> crate::data::Result<Vec<u8>> {
        let s = self.shape;
        crate::data::png_to_pixels(png, s.c, s.h, s.w, polarity)
    }

    /// Float model input for `pixels` (layout CHW).
    pub fn encode_float(&self, pixels: &[u8]) -> Vec<f32> {
        let d = self.float_div as f32;
        pixels
            .iter()
            .map(|&p| (self.scale * i64::from(p) + self.offset) as f32 / d)
            .collect()
    }
}

/// A validated layer: its kind, shapes, parameters and requantisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    kind: LayerKind,
    source: usize,
    input: Shape,
    output: Shape,
    weights: Vec<i64>,
    bias: Vec<i64>,
    requant: Option<Requant>,
    float: Option<FloatParams>,
}

impl Layer {
    /// What the layer computes.
    pub fn kind(&self) -> LayerKind {
        self.kind
    }
    /// Index of the tensor it reads (0 = model input, i + 1 = output of layer i).
    pub fn input_tensor(&self) -> usize {
        self.source
    }
    /// Shape of its input.
    pub fn input_shape(&self) -> Shape {
        self.input
    }
    /// Shape of its output.
    pub fn output_shape(&self) -> Shape {
        self.output
    }
    /// Integer weights (conv: `out_c × in_c × k × k`; fc: `outputs × inputs`); empty otherwise.
    pub fn weights(&self) -> &[i64] {
        &self.weights
    }
    /// Integer biases (one per output channel / output); empty otherwise.
    pub fn bias(&self) -> &[i64] {
        &self.bias
    }
    /// The floor-shift-and-clamp after the layer, if any.
    pub fn requant(&self) -> Option<Requant> {
        self.requant
    }
    /// Float parameters, if the model carries them.
    pub fn float_params(&self) -> Option<&FloatParams> {
        self.float.as_ref()
    }
}

/// Model-level fields of a model file. Unvalidated; [`Model::new`] checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelHeader {
    /// Model name (`[a-z0-9._-]`, 1–64 characters).
    pub name: String,
    /// Provenance (printable ASCII, at most 1024 bytes).
    pub source: String,
    /// Activation bit width: every requantised output lies in `[-2^(act_bits-1), 2^(act_bits-1)-1]`.
    pub act_bits: u32,
    /// Input shape and pixel encoding.
    pub input: InputSpec,
    /// Number of classes (the length of the output).
    pub num_classes: usize,
    /// Class names, one per class, or empty (then classes are numbered).
    pub class_names: Vec<String>,
}

/// A validated quantised network.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    header: ModelHeader,
    layers: Vec<Layer>,
    has_float: bool,
}

fn range_check(field: &'static str, value: i64, min: i64, max: i64) -> Result<()> {
    if value < min || value > max {
        return Err(NnError::FieldOutOfRange {
            field,
            value,
            min,
            max,
        });
    }
    Ok(())
}

fn dim_check(field: &'static str, value: usize, min: usize, max: usize) -> Result<()> {
    range_check(field, value as i64, min as i64, max as i64)
}

/// Output side of a window op (`(n + 2·pad − k) / stride + 1`), or why it does not fit.
fn window_out(n: usize, k: usize, stride: usize, pad: usize) -> std::result::Result<usize, String> {
    let padded = n + 2 * pad;
    if padded < k {
        return Err(format!(
            "window {k} larger than the padded input side {padded}"
        ));
    }
    Ok((padded - k) / stride + 1)
}

impl Model {
    /// Validates a header and a layer list and builds the model.
    pub fn new(header: ModelHeader, specs: Vec<LayerSpec>) -> Result<Self> {
        validate_header(&header)?;
        dim_check("layer count", specs.len(), 1, MAX_LAYERS)?;
        let act_bits = header.act_bits;
        // shapes[t]: shape of tensor t (0 = input, i + 1 = output of layer i)
        let mut shapes = vec![header.input.shape];
        let mut layers: Vec<Layer> = Vec::with_capacity(specs.len());
        let mut float_count = 0usize;
        for (i, spec) in specs.into_iter().enumerate() {
            let kind = spec.kind;
            let bad = |reason: String| NnError::ShapeMismatch {
                layer: i,
                kind: kind.name(),
                reason,
            };
            let source = spec.input.unwrap_or(i);
            if source > i {
                return Err(bad(format!(
                    "reads tensor {source}, only tensors 0..={i} exist before it"
                )));
            }
            let shape = shapes[source];
            let output = match kind {
                LayerKind::Conv2d {
                    in_c,
                    out_c,
                    k,
                    stride,
                    pad,
                } => {
                    dim_check("conv in_c", in_c, 1, MAX_DIM)?;
                    dim_check("conv out_c", out_c, 1, MAX_DIM)?;
                    dim_check("conv k", k, 1, MAX_WINDOW)?;
                    dim_check("conv stride", stride, 1, MAX_WINDOW)?;
                    dim_check("conv pad", pad, 0, k - 1)?;
                    if in_c != shape.c {
                        return Err(bad(format!(
                            "takes {in_c} channels, input {shape} has {}",
                            shape.c
                        )));
                    }
                    let h = window_out(shape.h, k, stride, pad).map_err(&bad)?;
                    let w = window_out(shape.w, k, stride, pad).map_err(&bad)?;
                    Shape::new(out_c, h, w)
                }
                LayerKind::Fc { inputs, outputs } => {
                    dim_check("fc inputs", inputs, 1, MAX_DIM)?;
                    dim_check("fc outputs", outputs, 1, MAX_DIM)?;
                    if shape.h != 1 || shape.w != 1 {
                        return Err(bad(format!(
                            "input {shape} is not flat (add a flatten layer)"
                        )));
                    }
                    if inputs != shape.c {
                        return Err(bad(format!("takes {inputs} inputs, input has {}", shape.c)));
                    }
                    Shape::new(outputs, 1, 1)
                }
                LayerKind::Relu | LayerKind::Square => shape,
                LayerKind::MaxPool { k, stride } | LayerKind::AvgPool { k, stride } => {
                    dim_check("pool k", k, 1, MAX_WINDOW)?;
                    dim_check("pool stride", stride, 1, MAX_WINDOW)?;
                    let h = window_out(shape.h, k, stride, 0).map_err(&bad)?;
                    let w = window_out(shape.w, k, stride, 0).map_err(&bad)?;
                    Shape::new(shape.c, h, w)
                }
                LayerKind::Flatten => Shape::new(shape.numel(), 1, 1),
                LayerKind::Add {
                    other,
                    lshift_input,
                    lshift_other,
                } => {
                    if other > i {
                        return Err(bad(format!(
                            "adds tensor {other}, only tensors 0..={i} exist before it"
                        )));
                    }
                    if shapes[other] != shape {
                        return Err(bad(format!(
                            "adds tensor {other} of shape {} to an input of shape {shape}",
                            shapes[other]
                        )));
                    }
                    range_check("add shift", i64::from(lshift_input), 0, 24)?;
                    range_check("add shift", i64::from(lshift_other), 0, 24)?;
                    shape
                }
            };
            dim_check("activation size", output.numel(), 1, MAX_ACTIVATION)?;

            let (nw, nb) = kind.parameter_counts();
            dim_check("layer parameter count", nw, 0, MAX_LAYER_PARAMS)?;
            let count = |what, found, expected| -> Result<()> {
                if found != expected {
                    return Err(NnError::ParameterCount {
                        layer: i,
                        what,
                        found,
                        expected,
                    });
                }
                Ok(())
            };
            count("weights", spec.weights.len(), nw)?;
            count("bias", spec.bias.len(), nb)?;
            check_values(i, "weights", &spec.weights, MAX_WEIGHT_ABS)?;
            check_values(i, "bias", &spec.bias, MAX_BIAS_ABS)?;
            if let Some(fp) = &spec.float {
                count("float weights", fp.weights.len(), nw)?;
                count("float bias", fp.bias.len(), nb)?;
                check_finite(i, "float weights", &fp.weights)?;
                check_finite(i, "float bias", &fp.bias)?;
                float_count += 1;
            }
            let requant = match (kind.is_requantised(), spec.shift) {
                (true, Some(s)) => {
                    range_check("shift", i64::from(s), 0, i64::from(MAX_SHIFT))?;
                    Some(Requant::new(s, act_bits))
                }
                (true, None) => None,
                (false, Some(_)) => {
                    return Err(bad("shift given for a layer that is not requantised".into()))
                }
                (false, None) => None,
            };
            layers.push(Layer {
                kind,
                source,
                input: shape,
                output,
                weights: spec.weights,
                bias: spec.bias,
                requant,
                float: spec.float,
            });
            shapes.push(output);
        }
        let shape = *shapes.last().expect("at least the input");
        if shape != Shape::new(header.num_classes, 1, 1) {
            return Err(NnError::ShapeMismatch {
                layer: layers.len(),
                kind: "output",
                reason: format!(
                    "network output {shape} is not {}x1x1 class scores",
                    header.num_classes
                ),
            });
        }
        let param_layers = layers.iter().filter(|l| l.kind.has_parameters()).count();
        let has_float = float_count > 0 && float_count == param_layers;
        if float_count > 0 && !has_float {
            return Err(NnError::ShapeMismatch {
                layer: layers.len(),
                kind: "model",
                reason: "float parameters given for some parameterised layers but not all".into(),
            });
        }
        let model = Self {
            header,
            layers,
            has_float,
        };
        model.check_bounds()?;
        Ok(model)
    }

    /// Index of the last layer that reads tensor `t`, if any (the model's output tensor is
    /// read by the caller).
    pub fn last_reader(&self, t: usize) -> Option<usize> {
        self.layers.iter().rposition(|l| {
            l.source == t || matches!(l.kind, LayerKind::Add { other, .. } if other == t)
        })
    }

    /// Whether tensor `t` is read by a layer other than the one right after it in sequence
    /// (`t − 1` is the layer producing it): a residual shortcut or a branch. The secure
    /// protocol keeps such tensors.
    pub fn is_kept(&self, t: usize) -> bool {
        self.layers.iter().enumerate().any(|(j, l)| {
            (l.source == t && j != t)
                || matches!(l.kind, LayerKind::Add { other, .. } if other == t)
        })
    }

    /// Whether every layer reads the previous layer's output and none adds (a plain chain).
    pub fn is_sequential(&self) -> bool {
        self.layers
            .iter()
            .enumerate()
            .all(|(i, l)| l.source == i && !matches!(l.kind, LayerKind::Add { .. }))
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.header.name
    }
    /// Where the parameters came from.
    pub fn source(&self) -> &str {
        &self.header.source
    }
    /// Activation bit width.
    pub fn act_bits(&self) -> u32 {
        self.header.act_bits
    }
    /// Input shape and pixel encoding.
    pub fn input(&self) -> &InputSpec {
        &self.header.input
    }
    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.header.num_classes
    }
    /// Name of class `i` (its number when the model names none).
    pub fn class_name(&self, i: usize) -> String {
        self.header
            .class_names
            .get(i)
            .cloned()
            .unwrap_or_else(|| i.to_string())
    }
    /// The layers, first to last.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
    /// The header fields.
    pub fn header(&self) -> &ModelHeader {
        &self.header
    }
    /// Whether float parameters are present for every parameterised layer.
    pub fn has_float(&self) -> bool {
        self.has_float
    }

    /// The unvalidated description this model was built from (for serialisation).
    pub fn to_specs(&self) -> Vec<LayerSpec> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| LayerSpec {
                kind: l.kind,
                input: (l.source != i).then_some(l.source),
                shift: l.requant.map(|r| r.shift),
                weights: l.weights.clone(),
                bias: l.bias.clone(),
                float: l.float.clone(),
            })
            .collect()
    }
}

fn validate_header(h: &ModelHeader) -> Result<()> {
    let n = &h.name;
    if n.is_empty() || n.len() > 64 {
        return Err(NnError::InvalidString {
            field: "name",
            reason: "must be 1 to 64 bytes",
        });
    }
    if !n
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(NnError::InvalidString {
            field: "name",
            reason: "only a-z, 0-9, '-', '_', '.' allowed",
        });
    }
    if h.source.len() > 1024 || !h.source.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(NnError::InvalidString {
            field: "source",
            reason: "at most 1024 printable ASCII bytes",
        });
    }
    range_check(
        "act_bits",
        i64::from(h.act_bits),
        i64::from(ACT_BITS_RANGE.0),
        i64::from(ACT_BITS_RANGE.1),
    )?;
    let s = h.input.shape;
    dim_check("input channels", s.c, 1, 4096)?;
    dim_check("input height", s.h, 1, 4096)?;
    dim_check("input width", s.w, 1, 4096)?;
    dim_check("input size", s.numel(), 1, MAX_ACTIVATION)?;
    range_check("input scale", h.input.scale, 1, 256)?;
    range_check("input offset", h.input.offset, -(1 << 16), 1 << 16)?;
    range_check(
        "input float divisor",
        i64::from(h.input.float_div),
        1,
        1 << 16,
    )?;
    dim_check("class count", h.num_classes, 1, 1 << 16)?;
    if !h.class_names.is_empty() {
        dim_check(
            "class name count",
            h.class_names.len(),
            h.num_classes,
            h.num_classes,
        )?;
        for n in &h.class_names {
            if n.is_empty()
                || n.len() > MAX_CLASS_NAME
                || !n.bytes().all(|b| (0x20..0x7f).contains(&b))
            {
                return Err(NnError::InvalidString {
                    field: "class name",
                    reason: "1 to 32 printable ASCII bytes",
                });
            }
        }
    }
    Ok(())
}

fn check_values(layer: usize, what: &'static str, v: &[i64], bound: i64) -> Result<()> {
    match v.iter().position(|x| x.abs() > bound) {
        Some(index) => Err(NnError::ValueOutOfRange {
            layer,
            what,
            index,
            value: v[index],
            bound,
        }),
        None => Ok(()),
    }
}

fn check_finite(layer: usize, what: &'static str, v: &[f32]) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(NnError::NonFinite { layer, what, index }),
        None => Ok(()),
    }
}
