//! ONNX graph → a float layer graph in the engine's terms (tensor 0 = input, tensor i + 1 =
//! output of layer i). Batch norm is folded into the conv / gemm before it, a constant Add
//! into its bias, Identity and Dropout are dropped; everything else is an error naming the
//! node, the operator and the reason.
use super::{ImportError, Result};
use gazelle::nn::{LayerKind, Shape};
use std::collections::HashMap;
use tract_onnx::pb;

/// Largest element count of one initializer (so a file cannot claim gigabytes).
pub const MAX_TENSOR_ELEMS: usize = 1 << 26;

/// A float layer: kind, the tensor it reads, float weights and biases.
#[derive(Debug, Clone)]
pub struct FloatLayer {
    /// What it computes (shapes checked).
    pub kind: LayerKind,
    /// Tensor it reads.
    pub input: usize,
    /// Float weights (conv OIHW, fc out × in).
    pub weights: Vec<f32>,
    /// Float biases.
    pub bias: Vec<f32>,
    /// The ONNX node it came from (for messages).
    pub node: String,
}

/// The float graph of an ONNX model.
#[derive(Debug, Clone)]
pub struct FloatGraph {
    /// Input shape (batch 1).
    pub input: Shape,
    /// Output shape (classes × 1 × 1 for a classifier).
    pub output: Shape,
    /// Layers in order.
    pub layers: Vec<FloatLayer>,
    /// ONNX nodes read, and those folded away or dropped.
    pub nodes: usize,
    /// Batch-norm nodes folded.
    pub folded_bn: usize,
}

struct Const {
    dims: Vec<usize>,
    data: Vec<f32>,
}

#[derive(Clone, Copy)]
enum Value {
    Tensor(usize),
}

/// What one node becomes: a layer (kind, input tensor, output shape, weights, bias) or a new
/// name for an existing tensor.
enum Step {
    Layer(LayerKind, usize, Shape, Vec<f32>, Vec<f32>),
    Alias(usize),
}

fn node_name(n: &pb::NodeProto, i: usize) -> String {
    if n.name.is_empty() {
        format!("#{i} ({})", n.op_type)
    } else {
        format!("'{}' ({})", n.name, n.op_type)
    }
}

fn tensor_const(t: &pb::TensorProto) -> std::result::Result<Const, String> {
    if t.data_location == Some(1) || !t.external_data.is_empty() {
        return Err(
            "external data is not supported (save the model with its weights inside)".into(),
        );
    }
    let mut dims = Vec::with_capacity(t.dims.len());
    let mut n: usize = 1;
    for &d in &t.dims {
        if !(0..=MAX_TENSOR_ELEMS as i64).contains(&d) {
            return Err(format!("dimension {d} out of range"));
        }
        n = n.saturating_mul(d as usize);
        dims.push(d as usize);
    }
    if n > MAX_TENSOR_ELEMS {
        return Err(format!("{n} elements (at most {MAX_TENSOR_ELEMS})"));
    }
    const FLOAT: i32 = 1;
    const INT64: i32 = 7;
    const DOUBLE: i32 = 11;
    let data: Vec<f32> = match t.data_type {
        FLOAT if !t.raw_data.is_empty() => {
            if t.raw_data.len() != 4 * n {
                return Err(format!("{} raw bytes for {n} floats", t.raw_data.len()));
            }
            t.raw_data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        }
        FLOAT => t.float_data.clone(),
        INT64 if !t.raw_data.is_empty() => {
            if t.raw_data.len() != 8 * n {
                return Err(format!("{} raw bytes for {n} int64", t.raw_data.len()));
            }
            t.raw_data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect()
        }
        INT64 => t.int64_data.iter().map(|&v| v as f32).collect(),
        DOUBLE if !t.raw_data.is_empty() => {
            if t.raw_data.len() != 8 * n {
                return Err(format!("{} raw bytes for {n} doubles", t.raw_data.len()));
            }
            t.raw_data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect()
        }
        DOUBLE => t.double_data.iter().map(|&v| v as f32).collect(),
        other => {
            return Err(format!(
                "element type {other} (float, double or int64 expected)"
            ))
        }
    };
    if data.len() != n {
        return Err(format!("{} values for dimensions {dims:?}", data.len()));
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err("a value that is not finite".into());
    }
    Ok(Const { dims, data })
}

fn attr<'a>(n: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}
fn attr_i(n: &pb::NodeProto, name: &str, default: i64) -> i64 {
    attr(n, name).map_or(default, |a| a.i)
}
fn attr_f(n: &pb::NodeProto, name: &str, default: f32) -> f32 {
    attr(n, name).map_or(default, |a| a.f)
}
fn attr_ints(n: &pb::NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}
fn attr_s(n: &pb::NodeProto, name: &str) -> String {
    attr(n, name).map_or(String::new(), |a| {
        String::from_utf8_lossy(&a.s).into_owned()
    })
}

/// Square window parameters `(k, stride, pad)` of a conv or pool node.
fn window(
    n: &pb::NodeProto,
    kernel: Option<(usize, usize)>,
) -> std::result::Result<(usize, usize, usize), String> {
    let auto = attr_s(n, "auto_pad");
    if !(auto.is_empty() || auto == "NOTSET" || auto == "VALID") {
        return Err(format!("auto_pad {auto} (give explicit pads)"));
    }
    let ks = match attr_ints(n, "kernel_shape") {
        Some(k) => k,
        None => match kernel {
            Some((a, b)) => vec![a as i64, b as i64],
            None => return Err("no kernel_shape".into()),
        },
    };
    if ks.len() != 2 || ks[0] != ks[1] || !(1..=16).contains(&ks[0]) {
        return Err(format!("kernel {ks:?} (square, 1..=16, 2-D only)"));
    }
    let strides = attr_ints(n, "strides").unwrap_or(vec![1, 1]);
    if strides.len() != 2 || strides[0] != strides[1] || !(1..=16).contains(&strides[0]) {
        return Err(format!("strides {strides:?} (equal, 1..=16)"));
    }
    let pads = attr_ints(n, "pads").unwrap_or(vec![0; 4]);
    if pads.len() != 4 || pads.iter().any(|&p| p != pads[0]) || !(0..ks[0]).contains(&pads[0]) {
        return Err(format!("pads {pads:?} (the same on every side, < kernel)"));
    }
    if let Some(d) = attr_ints(n, "dilations") {
        if d.iter().any(|&v| v != 1) {
            return Err(format!("dilations {d:?} (only 1)"));
        }
    }
    if attr_i(n, "ceil_mode", 0) != 0 {
        return Err("ceil_mode 1 (only floor)".into());
    }
    Ok((ks[0] as usize, strides[0] as usize, pads[0] as usize))
}

fn out_side(n: usize, k: usize, s: usize, p: usize) -> std::result::Result<usize, String> {
    if n + 2 * p < k {
        return Err(format!(
            "kernel {k} larger than the padded input side {}",
            n + 2 * p
        ));
    }
    Ok((n + 2 * p - k) / s + 1)
}

/// Reads the float graph of a parsed ONNX model.
pub fn float_graph(model: &pb::ModelProto) -> Result<FloatGraph> {
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(0, |o| o.version);
    if opset < 11 {
        return Err(ImportError::Model(format!(
            "opset {opset}: opset 11 or later is needed (re-export with a newer opset)"
        )));
    }
    let g = model
        .graph
        .as_ref()
        .ok_or_else(|| ImportError::Model("the model has no graph".into()))?;
    let mut consts: HashMap<&str, Const> = HashMap::new();
    for t in &g.initializer {
        let c = tensor_const(t)
            .map_err(|e| ImportError::Model(format!("initializer '{}': {e}", t.name)))?;
        consts.insert(&t.name, c);
    }
    let inputs: Vec<&pb::ValueInfoProto> = g
        .input
        .iter()
        .filter(|v| !consts.contains_key(v.name.as_str()))
        .collect();
    if inputs.len() != 1 {
        return Err(ImportError::Model(format!(
            "{} graph inputs besides the weights: exactly one image input is supported",
            inputs.len()
        )));
    }
    let input = input_shape(inputs[0])?;
    // uses of every value name, to know when a conv's output feeds only a batch norm
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for n in &g.node {
        for i in &n.input {
            *uses.entry(i.as_str()).or_default() += 1;
        }
    }
    for o in &g.output {
        *uses.entry(o.name.as_str()).or_default() += 1;
    }
    let mut values: HashMap<String, Value> = HashMap::new();
    values.insert(inputs[0].name.clone(), Value::Tensor(0));
    let mut shapes = vec![input];
    let mut layers: Vec<FloatLayer> = Vec::new();
    let mut folded_bn = 0;
    for (idx, n) in g.node.iter().enumerate() {
        let name = node_name(n, idx);
        let fail = |reason: String| ImportError::Node {
            node: name.clone(),
            reason,
        };
        if !(n.domain.is_empty() || n.domain == "ai.onnx") {
            return Err(fail(format!(
                "operator domain '{}' is not supported",
                n.domain
            )));
        }
        let tensor = |k: usize| -> Result<usize> {
            let v = n
                .input
                .get(k)
                .ok_or_else(|| fail(format!("input {k} missing")))?;
            match values.get(v) {
                Some(Value::Tensor(t)) => Ok(*t),
                None if consts.contains_key(v.as_str()) => Err(fail(format!(
                    "input '{v}' is a constant where an activation is expected"
                ))),
                None => Err(fail(format!(
                    "input '{v}' is not produced before this node"
                ))),
            }
        };
        let konst = |k: usize| -> Result<&Const> {
            let v = n
                .input
                .get(k)
                .ok_or_else(|| fail(format!("input {k} missing")))?;
            consts.get(v.as_str()).ok_or_else(|| {
                fail(format!(
                    "input '{v}' must be a constant initializer (weights computed at run time are not supported)"
                ))
            })
        };
        let out = n
            .output
            .first()
            .ok_or_else(|| fail("no output".into()))?
            .clone();
        for extra in n.output.iter().skip(1) {
            if !extra.is_empty() && uses.get(extra.as_str()).copied().unwrap_or(0) > 0 {
                return Err(fail(format!(
                    "its second output '{extra}' is used (not supported)"
                )));
            }
        }
        let step = match n.op_type.as_str() {
            "Conv" => {
                let x = tensor(0)?;
                let s = shapes[x];
                let w = konst(1)?;
                if w.dims.len() != 4 {
                    return Err(fail(format!("weights of shape {:?} (2-D conv only)", w.dims)));
                }
                if attr_i(n, "group", 1) != 1 {
                    return Err(fail("group ≠ 1 (grouped / depthwise conv not supported)".into()));
                }
                let (out_c, in_c) = (w.dims[0], w.dims[1]);
                let (k, stride, pad) = window(n, Some((w.dims[2], w.dims[3]))).map_err(&fail)?;
                if (w.dims[2], w.dims[3]) != (k, k) {
                    return Err(fail(format!("kernel_shape {k} but weights {:?}", w.dims)));
                }
                if in_c != s.c {
                    return Err(fail(format!("takes {in_c} channels, its input has {}", s.c)));
                }
                let bias = match n.input.get(2).filter(|b| !b.is_empty()) {
                    Some(_) => {
                        let b = konst(2)?;
                        if b.data.len() != out_c {
                            return Err(fail(format!("{} biases for {out_c} channels", b.data.len())));
                        }
                        b.data.clone()
                    }
                    None => vec![0.0; out_c],
                };
                let oh = out_side(s.h, k, stride, pad).map_err(&fail)?;
                let ow = out_side(s.w, k, stride, pad).map_err(&fail)?;
                let kind = LayerKind::Conv2d {
                    in_c,
                    out_c,
                    k,
                    stride,
                    pad,
                };
                Step::Layer(kind, x, Shape::new(out_c, oh, ow), w.data.clone(), bias)
            }
            "Gemm" | "MatMul" => {
                let x = tensor(0)?;
                let s = shapes[x];
                if s.h != 1 || s.w != 1 {
                    return Err(fail(format!("input {s} is not flat (add a Flatten before it)")));
                }
                let b = konst(1)?;
                if b.dims.len() != 2 {
                    return Err(fail(format!("weights of shape {:?} (2-D expected)", b.dims)));
                }
                let gemm = n.op_type == "Gemm";
                if gemm && attr_i(n, "transA", 0) != 0 {
                    return Err(fail("transA = 1 is not supported".into()));
                }
                let trans_b = gemm && attr_i(n, "transB", 0) != 0;
                let (inputs, outputs) = if trans_b {
                    (b.dims[1], b.dims[0])
                } else {
                    (b.dims[0], b.dims[1])
                };
                if inputs != s.c {
                    return Err(fail(format!("takes {inputs} inputs, its input has {}", s.c)));
                }
                let alpha = if gemm { attr_f(n, "alpha", 1.0) } else { 1.0 };
                let beta = if gemm { attr_f(n, "beta", 1.0) } else { 1.0 };
                let mut w = vec![0f32; inputs * outputs];
                for o in 0..outputs {
                    for i in 0..inputs {
                        let v = if trans_b {
                            b.data[o * inputs + i]
                        } else {
                            b.data[i * outputs + o]
                        };
                        w[o * inputs + i] = alpha * v;
                    }
                }
                let bias = match n.input.get(2).filter(|c| gemm && !c.is_empty()) {
                    Some(_) => {
                        let c = konst(2)?;
                        match c.data.len() {
                            1 => vec![beta * c.data[0]; outputs],
                            l if l == outputs => c.data.iter().map(|v| beta * v).collect(),
                            l => {
                                return Err(fail(format!("bias of {l} values for {outputs} outputs")))
                            }
                        }
                    }
                    None => vec![0.0; outputs],
                };
                let kind = LayerKind::Fc { inputs, outputs };
                Step::Layer(kind, x, Shape::new(outputs, 1, 1), w, bias)
            }
            "BatchNormalization" => {
                let x = tensor(0)?;
                let prev = x.checked_sub(1).map(|l| &layers[l]);
                let single_use = n
                    .input
                    .first()
                    .is_some_and(|v| uses.get(v.as_str()).copied() == Some(1));
                match prev {
                    Some(l) if l.kind.has_parameters() && single_use => {}
                    _ => {
                        return Err(fail(
                            "batch norm is supported only right after a Conv or Gemm whose output nothing else reads (it is folded into it)".into(),
                        ))
                    }
                }
                let (gamma, beta, mean, var) = (konst(1)?, konst(2)?, konst(3)?, konst(4)?);
                let eps = attr_f(n, "epsilon", 1e-5);
                let layer = &mut layers[x - 1];
                let c = layer.bias.len();
                if [gamma, beta, mean, var].iter().any(|t| t.data.len() != c) {
                    return Err(fail(format!("parameters are not {c} per channel")));
                }
                let per = layer.weights.len() / c;
                for o in 0..c {
                    let f = gamma.data[o] / (var.data[o] + eps).sqrt();
                    if !f.is_finite() {
                        return Err(fail(format!("channel {o}: scale is not finite")));
                    }
                    layer.weights[o * per..(o + 1) * per]
                        .iter_mut()
                        .for_each(|w| *w *= f);
                    layer.bias[o] = (layer.bias[o] - mean.data[o]) * f + beta.data[o];
                }
                folded_bn += 1;
                Step::Alias(x)
            }
            "Relu" => {
                let x = tensor(0)?;
                let s = shapes[x];
                Step::Layer(LayerKind::Relu, x, s, vec![], vec![])
            }
            "MaxPool" | "AveragePool" => {
                let x = tensor(0)?;
                let s = shapes[x];
                let (k, stride, pad) = window(n, None).map_err(&fail)?;
                if pad != 0 {
                    return Err(fail("padded pooling is not supported".into()));
                }
                let oh = out_side(s.h, k, stride, 0).map_err(&fail)?;
                let ow = out_side(s.w, k, stride, 0).map_err(&fail)?;
                let kind = if n.op_type == "MaxPool" {
                    if attr_i(n, "storage_order", 0) != 0 {
                        return Err(fail("storage_order 1 is not supported".into()));
                    }
                    LayerKind::MaxPool { k, stride }
                } else {
                    LayerKind::AvgPool { k, stride }
                };
                Step::Layer(kind, x, Shape::new(s.c, oh, ow), vec![], vec![])
            }
            "GlobalAveragePool" => {
                let x = tensor(0)?;
                let s = shapes[x];
                if s.h != s.w || s.h > 16 {
                    return Err(fail(format!(
                        "input {s}: a global average over a square of side ≤ 16 only"
                    )));
                }
                let kind = LayerKind::AvgPool { k: s.h, stride: 1 };
                Step::Layer(kind, x, Shape::new(s.c, 1, 1), vec![], vec![])
            }
            "Add" => {
                let a = n.input.first().map(String::as_str).unwrap_or("");
                let b = n.input.get(1).map(String::as_str).unwrap_or("");
                let (ca, cb) = (consts.get(a), consts.get(b));
                if ca.is_none() && cb.is_none() {
                    let (x, y) = (tensor(0)?, tensor(1)?);
                    if shapes[x] != shapes[y] {
                        return Err(fail(format!(
                            "adds {} and {} (broadcasting is not supported)",
                            shapes[x], shapes[y]
                        )));
                    }
                    let kind = LayerKind::Add {
                        other: y,
                        lshift_input: 0,
                        lshift_other: 0,
                    };
                    let s = shapes[x];
                    Step::Layer(kind, x, s, vec![], vec![])
                } else {
                    // a constant: the bias of the conv / gemm before it
                    let (t, c) = if let Some(c) = cb { (tensor(0)?, c) } else { (tensor(1)?, ca.expect("one constant")) };
                    let tname = if cb.is_some() { a } else { b };
                    let single = uses.get(tname).copied() == Some(1);
                    match t.checked_sub(1).map(|l| &mut layers[l]) {
                        Some(l) if l.kind.has_parameters() && single && (c.data.len() == l.bias.len() || c.data.len() == 1) => {
                            let all = c.data.len() == 1;
                            for (o, b) in l.bias.iter_mut().enumerate() {
                                *b += if all { c.data[0] } else { c.data[o] };
                            }
                        }
                        _ => {
                            return Err(fail(
                                "adding a constant is supported only as the bias of the Conv / Gemm / MatMul right before it".into(),
                            ))
                        }
                    }
                    Step::Alias(t)
                }
            }
            "Mul" => {
                if n.input.len() == 2 && n.input[0] == n.input[1] {
                    let x = tensor(0)?;
                    let s = shapes[x];
                    Step::Layer(LayerKind::Square, x, s, vec![], vec![])
                } else {
                    return Err(fail("only Mul(x, x) (a square activation) is supported".into()));
                }
            }
            "Flatten" | "Reshape" => {
                let x = tensor(0)?;
                let s = shapes[x];
                if n.op_type == "Flatten" && attr_i(n, "axis", 1) != 1 {
                    return Err(fail("axis ≠ 1 (only a flatten to [batch, features])".into()));
                }
                if n.op_type == "Reshape" {
                    let target = konst(1)?;
                    let t: Vec<i64> = target.data.iter().map(|&v| v as i64).collect();
                    let numel = s.numel() as i64;
                    let ok = t.len() == 2
                        && (-1..=1).contains(&t[0])
                        && (t[1] == numel || (t[1] == -1 && t[0] != -1));
                    if !ok {
                        return Err(fail(format!(
                            "reshape of {s} to {t:?}: only a flatten to [1, {numel}] is supported"
                        )));
                    }
                }
                let kind = LayerKind::Flatten;
                Step::Layer(kind, x, Shape::new(s.numel(), 1, 1), vec![], vec![])
            }
            "Identity" | "Dropout" => {
                Step::Alias(tensor(0)?)
            }
            other => {
                return Err(fail(format!(
                    "operator {other} is not supported (supported: Conv, Gemm, MatMul, BatchNormalization, Relu, MaxPool, AveragePool, GlobalAveragePool, Add, Mul(x, x), Flatten, Reshape, Identity, Dropout)"
                )))
            }
        };
        match step {
            Step::Layer(kind, input, shape, weights, bias) => {
                layers.push(FloatLayer {
                    kind,
                    input,
                    weights,
                    bias,
                    node: name,
                });
                shapes.push(shape);
                values.insert(out, Value::Tensor(layers.len()));
            }
            Step::Alias(t) => {
                values.insert(out, Value::Tensor(t));
            }
        }
    }
    let out = g
        .output
        .first()
        .ok_or_else(|| ImportError::Model("the graph has no output".into()))?;
    if g.output.len() != 1 {
        return Err(ImportError::Model(format!(
            "{} graph outputs: exactly one (the logits) is supported",
            g.output.len()
        )));
    }
    match values.get(&out.name) {
        Some(Value::Tensor(t)) if *t == layers.len() && *t > 0 => {}
        _ => {
            return Err(ImportError::Model(format!(
                "the output '{}' is not the last layer's output",
                out.name
            )))
        }
    }
    Ok(FloatGraph {
        input,
        output: *shapes.last().expect("the input at least"),
        layers,
        nodes: g.node.len(),
        folded_bn,
    })
}

fn input_shape(v: &pb::ValueInfoProto) -> Result<Shape> {
    let bad = |why: &str| ImportError::Model(format!("input '{}': {why}", v.name));
    let t = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(pb::type_proto::Value::TensorType(t)) => t,
        _ => return Err(bad("not a tensor")),
    };
    let dims: Vec<Option<i64>> = t
        .shape
        .as_ref()
        .ok_or_else(|| bad("no shape"))?
        .dim
        .iter()
        .map(|d| match d.value {
            Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) => Some(v),
            _ => None,
        })
        .collect();
    let chw = match dims.len() {
        4 if matches!(dims[0], None | Some(1)) => &dims[1..],
        3 => &dims[..],
        _ => return Err(bad("shape must be [N, C, H, W] with N = 1 or symbolic")),
    };
    let get = |d: Option<i64>| -> Result<usize> {
        match d {
            Some(v) if (1..=4096).contains(&v) => Ok(v as usize),
            _ => Err(bad("channels, height and width must be fixed, 1..=4096")),
        }
    };
    Ok(Shape::new(get(chw[0])?, get(chw[1])?, get(chw[2])?))
}
