//! The `.gzm` model file format, version 2 (reads 1 too; specified in docs/MODEL_FORMAT.md).
//!
//! Parsing (through [`crate::codec::Reader`]) never trusts a count from the file for an
//! allocation: every array length is checked
//! against the bytes actually left before anything is allocated, and the whole model then goes
//! through [`Model::new`]'s validation.
use super::error::{NnError, Result};
use super::model::{
    FloatParams, InputSpec, LayerKind, LayerSpec, Model, ModelHeader, Shape, MAX_LAYERS,
};
use crate::codec::{Reader, Writer};

const _: () = assert!(
    usize::BITS == 64,
    "the model format code assumes a 64-bit target"
);

/// File magic.
pub const MAGIC: [u8; 8] = *b"GZNNMODL";
/// Format version written by this build (graphs, raw accumulators, class names).
pub const VERSION: u16 = 2;
/// Oldest format version read (version 1: a plain chain, every accumulator requantised, no
/// class names).
pub const MIN_VERSION: u16 = 1;
/// The shift byte's value for "no requantisation" (version 2).
const NO_SHIFT: u8 = 0xff;
/// Largest model file accepted (bytes).
pub const MAX_FILE_BYTES: usize = 1 << 30;
/// Header flag: float parameters follow each parameterised layer's integer parameters.
pub const FLAG_FLOAT: u16 = 1;
/// Header flag: the architecture only — no weights, biases or float parameters follow the
/// layers; [`decode`] gives every parameter the value 0. What a server tells its clients.
pub const FLAG_ARCHITECTURE: u16 = 2;
/// Most parameters an architecture may imply (each one is allocated, as zero, on decoding,
/// so a few bytes cannot claim gigabytes).
pub const MAX_ARCHITECTURE_PARAMETERS: usize = 1 << 24;

const TAG_CONV: u8 = 1;
const TAG_FC: u8 = 2;
const TAG_RELU: u8 = 3;
const TAG_SQUARE: u8 = 4;
const TAG_MAXPOOL: u8 = 5;
const TAG_AVGPOOL: u8 = 6;
const TAG_FLATTEN: u8 = 7;
const TAG_ADD: u8 = 8;
/// Input flag (version 2): the model takes hand-drawn digits.
const INPUT_HAND_DRAWN: u8 = 1;

/// 64-bit FNV-1a, the file's checksum (integrity against truncation and bit rot, not an attacker).
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Parses and validates a model file.
pub fn decode(bytes: &[u8]) -> Result<Model> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(NnError::FieldOutOfRange {
            field: "file size",
            value: bytes.len() as i64,
            min: 0,
            max: MAX_FILE_BYTES as i64,
        });
    }
    let mut r = Reader::new(bytes, "model file");
    if r.field("magic").take(8)? != MAGIC {
        return Err(NnError::BadMagic);
    }
    let version = r.field("version").u16()?;
    if !(MIN_VERSION..=VERSION).contains(&version) {
        return Err(NnError::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    let v2 = version >= 2;
    // The checksum covers everything before it; check it before interpreting the rest, so that a
    // damaged file reports as damaged rather than as whatever field the damage hit.
    let stored = Reader::new(r.field("checksum").split_tail(8)?, "checksum").u64()?;
    let computed = fnv1a64(&bytes[..bytes.len() - 8]);
    if stored != computed {
        return Err(NnError::ChecksumMismatch { stored, computed });
    }

    let flags = r.field("flags").u16()?;
    if flags & !(FLAG_FLOAT | FLAG_ARCHITECTURE) != 0 || flags == FLAG_FLOAT | FLAG_ARCHITECTURE {
        return Err(NnError::FieldOutOfRange {
            field: "flags",
            value: i64::from(flags),
            min: 0,
            max: i64::from(FLAG_ARCHITECTURE),
        });
    }
    let with_float = flags & FLAG_FLOAT != 0;
    let architecture_only = flags & FLAG_ARCHITECTURE != 0;
    let mut zero_params = 0usize;
    let act_bits = u32::from(r.field("act_bits").u8()?);
    let reserved = r.field("reserved").u8()?;
    if reserved != 0 {
        return Err(NnError::FieldOutOfRange {
            field: "reserved",
            value: i64::from(reserved),
            min: 0,
            max: 0,
        });
    }
    let name_len = usize::from(r.field("name length").u8()?);
    let name = string(r.field("name").take(name_len)?, "name")?;
    let source_len = usize::from(r.field("source length").u16()?);
    let source = string(r.field("source").take(source_len)?, "source")?;
    let c = usize::from(r.field("input channels").u16()?);
    let h = usize::from(r.field("input height").u16()?);
    let w = usize::from(r.field("input width").u16()?);
    let scale = i64::from(r.field("input scale").i32()?);
    let offset = i64::from(r.field("input offset").i32()?);
    let float_div = r.field("input float divisor").u32()?;
    let num_classes = usize::from(r.field("class count").u16()?);
    // version 1 (the bundled paper networks): a one-channel input is taken as hand-drawn
    let mut hand_drawn = c == 1;
    let class_names = if v2 {
        let len = usize::from(r.field("class names length").u16()?);
        let joined = string(r.field("class names").take(len)?, "class names")?;
        if joined.is_empty() {
            vec![]
        } else {
            joined.split('\n').map(str::to_string).collect()
        }
    } else {
        vec![]
    };
    if v2 {
        let flags = r.field("input flags").u8()?;
        if flags & !INPUT_HAND_DRAWN != 0 {
            return Err(NnError::FieldOutOfRange {
                field: "input flags",
                value: i64::from(flags),
                min: 0,
                max: i64::from(INPUT_HAND_DRAWN),
            });
        }
        hand_drawn = flags & INPUT_HAND_DRAWN != 0;
    }
    let layer_count = usize::from(r.field("layer count").u16()?);
    if layer_count == 0 || layer_count > MAX_LAYERS {
        return Err(NnError::FieldOutOfRange {
            field: "layer count",
            value: layer_count as i64,
            min: 1,
            max: MAX_LAYERS as i64,
        });
    }
    let header = ModelHeader {
        name,
        source,
        act_bits,
        input: InputSpec {
            shape: Shape::new(c, h, w),
            scale,
            offset,
            float_div,
            hand_drawn,
        },
        num_classes,
        class_names,
    };

    let mut specs = Vec::with_capacity(layer_count);
    for i in 0..layer_count {
        let tag = r.field("layer tag").u8()?;
        let input = if v2 {
            Some(usize::from(r.field("layer input").u8()?))
        } else {
            None
        };
        // version 2 marks an unrequantised accumulator with NO_SHIFT
        let rq = |b: u8| (!(v2 && b == NO_SHIFT)).then_some(u32::from(b));
        let (kind, shift) = match tag {
            TAG_CONV => {
                let in_c = usize::from(r.field("conv in_c").u16()?);
                let out_c = usize::from(r.field("conv out_c").u16()?);
                let k = usize::from(r.field("conv k").u8()?);
                let stride = usize::from(r.field("conv stride").u8()?);
                let pad = usize::from(r.field("conv pad").u8()?);
                let shift = rq(r.field("conv shift").u8()?);
                (
                    LayerKind::Conv2d {
                        in_c,
                        out_c,
                        k,
                        stride,
                        pad,
                    },
                    shift,
                )
            }
            TAG_FC => {
                let inputs = r.field("fc inputs").u32()? as usize;
                let outputs = r.field("fc outputs").u32()? as usize;
                let shift = rq(r.field("fc shift").u8()?);
                (LayerKind::Fc { inputs, outputs }, shift)
            }
            TAG_RELU => (LayerKind::Relu, None),
            TAG_SQUARE => (LayerKind::Square, rq(r.field("square shift").u8()?)),
            TAG_MAXPOOL => {
                let k = usize::from(r.field("maxpool k").u8()?);
                let stride = usize::from(r.field("maxpool stride").u8()?);
                (LayerKind::MaxPool { k, stride }, None)
            }
            TAG_AVGPOOL => {
                let k = usize::from(r.field("avgpool k").u8()?);
                let stride = usize::from(r.field("avgpool stride").u8()?);
                let shift = rq(r.field("avgpool shift").u8()?);
                (LayerKind::AvgPool { k, stride }, shift)
            }
            TAG_FLATTEN => (LayerKind::Flatten, None),
            TAG_ADD if v2 => {
                let other = usize::from(r.field("add operand").u8()?);
                let lshift_input = u32::from(r.field("add input shift").u8()?);
                let lshift_other = u32::from(r.field("add operand shift").u8()?);
                let shift = rq(r.field("add shift").u8()?);
                (
                    LayerKind::Add {
                        other,
                        lshift_input,
                        lshift_other,
                    },
                    shift,
                )
            }
            tag => return Err(NnError::UnknownLayer { layer: i, tag }),
        };
        // Counts saturate rather than wrap; `take_items` rejects any that exceed the bytes left
        // before anything is allocated.
        let (nw, nb) = kind.parameter_counts();
        let (weights, bias) = if architecture_only {
            zero_params = zero_params.saturating_add(nw).saturating_add(nb);
            if zero_params > MAX_ARCHITECTURE_PARAMETERS {
                return Err(NnError::FieldOutOfRange {
                    field: "architecture parameters",
                    value: zero_params as i64,
                    min: 0,
                    max: MAX_ARCHITECTURE_PARAMETERS as i64,
                });
            }
            (vec![0; nw], vec![0; nb])
        } else {
            (
                i32s(r.field("weights").take_items(nw, 4)?),
                i32s(r.field("bias").take_items(nb, 4)?),
            )
        };
        let float = if with_float && kind.has_parameters() {
            Some(FloatParams {
                weights: f32s(r.field("float weights").take_items(nw, 4)?),
                bias: f32s(r.field("float bias").take_items(nb, 4)?),
            })
        } else {
            None
        };
        specs.push(LayerSpec {
            kind,
            input,
            shift,
            weights,
            bias,
            float,
        });
    }
    r.finish()?;
    Model::new(header, specs)
}

fn string(bytes: &[u8], field: &'static str) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| NnError::InvalidString {
        field,
        reason: "not UTF-8",
    })
}

/// Little-endian `i32`s, widened (the length was checked by the reader).
fn i32s(bytes: &[u8]) -> Vec<i64> {
    bytes
        .chunks_exact(4)
        .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect()
}

/// Little-endian `f32`s (the length was checked by the reader).
fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Serialises a header and layer list without validating them (tests use this to build
/// malformed files; [`encode`] is the checked path). Integer parameters must fit in `i32` and
/// all count fields in their widths, else the value is truncated to the field.
pub fn encode_unchecked(header: &ModelHeader, specs: &[LayerSpec]) -> Vec<u8> {
    encode_with(header, specs, false)
}

/// The architecture of a (validated) model: header, layer kinds, shapes and shifts, never a
/// weight ([`FLAG_ARCHITECTURE`]); [`decode`] reads it back with every parameter zero.
pub fn encode_architecture(model: &Model) -> Vec<u8> {
    encode_with(model.header(), &model.to_specs(), true)
}

fn encode_with(header: &ModelHeader, specs: &[LayerSpec], architecture_only: bool) -> Vec<u8> {
    let with_float = !specs.is_empty()
        && specs
            .iter()
            .all(|s| !s.kind.has_parameters() || s.float.is_some());
    let with_float = with_float && specs.iter().any(|s| s.float.is_some()) && !architecture_only;
    let mut w = Writer::new();
    w.bytes(&MAGIC);
    w.u16(VERSION);
    w.u16(if architecture_only {
        FLAG_ARCHITECTURE
    } else if with_float {
        FLAG_FLOAT
    } else {
        0
    });
    w.u8(header.act_bits as u8);
    w.u8(0);
    w.u8(header.name.len() as u8);
    w.bytes(header.name.as_bytes());
    w.u16(header.source.len() as u16);
    w.bytes(header.source.as_bytes());
    let s = header.input.shape;
    for d in [s.c, s.h, s.w] {
        w.u16(d as u16);
    }
    w.i32(header.input.scale as i32);
    w.i32(header.input.offset as i32);
    w.u32(header.input.float_div);
    w.u16(header.num_classes as u16);
    let names = header.class_names.join("\n");
    w.u16(names.len() as u16);
    w.bytes(names.as_bytes());
    w.u8(if header.input.hand_drawn {
        INPUT_HAND_DRAWN
    } else {
        0
    });
    w.u16(specs.len() as u16);
    for (i, spec) in specs.iter().enumerate() {
        let shift = spec.shift.map_or(NO_SHIFT, |s| s as u8);
        let input = spec.input.unwrap_or(i) as u8;
        match spec.kind {
            LayerKind::Conv2d {
                in_c,
                out_c,
                k,
                stride,
                pad,
            } => {
                w.bytes(&[TAG_CONV, input]);
                w.u16(in_c as u16);
                w.u16(out_c as u16);
                w.bytes(&[k as u8, stride as u8, pad as u8, shift]);
            }
            LayerKind::Fc { inputs, outputs } => {
                w.bytes(&[TAG_FC, input]);
                w.u32(inputs as u32);
                w.u32(outputs as u32);
                w.u8(shift);
            }
            LayerKind::Relu => w.bytes(&[TAG_RELU, input]),
            LayerKind::Square => w.bytes(&[TAG_SQUARE, input, shift]),
            LayerKind::MaxPool { k, stride } => {
                w.bytes(&[TAG_MAXPOOL, input, k as u8, stride as u8])
            }
            LayerKind::AvgPool { k, stride } => {
                w.bytes(&[TAG_AVGPOOL, input, k as u8, stride as u8, shift])
            }
            LayerKind::Flatten => w.bytes(&[TAG_FLATTEN, input]),
            LayerKind::Add {
                other,
                lshift_input,
                lshift_other,
            } => w.bytes(&[
                TAG_ADD,
                input,
                other as u8,
                lshift_input as u8,
                lshift_other as u8,
                shift,
            ]),
        }
        if architecture_only {
            continue;
        }
        for v in spec.weights.iter().chain(&spec.bias) {
            w.i32(*v as i32);
        }
        if with_float {
            if let Some(fp) = &spec.float {
                for v in fp.weights.iter().chain(&fp.bias) {
                    w.f32(*v);
                }
            }
        }
    }
    let sum = fnv1a64(w.as_slice());
    w.u64(sum);
    w.into_vec()
}

/// Serialises a (validated) model.
pub fn encode(model: &Model) -> Vec<u8> {
    encode_unchecked(model.header(), &model.to_specs())
}

impl Model {
    /// Parses and validates a model from the bytes of a `.gzm` file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        decode(bytes)
    }

    /// Reads, parses and validates a `.gzm` file.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| NnError::Io {
            path: path.display().to_string(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_FILE_BYTES as u64 {
            return Err(NnError::FieldOutOfRange {
                field: "file size",
                value: len.min(i64::MAX as u64) as i64,
                min: 0,
                max: MAX_FILE_BYTES as i64,
            });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        decode(&bytes)
    }

    /// The model as `.gzm` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }
}
