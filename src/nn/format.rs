//! The `.gzm` model file format, version 1 (specified in docs/MODEL_FORMAT.md).
//!
//! Parsing never trusts a count from the file for an allocation: every array length is checked
//! against the bytes actually left before anything is allocated, and the whole model then goes
//! through [`Model::new`]'s validation.
use super::error::{NnError, Result};
use super::model::{
    FloatParams, InputSpec, LayerKind, LayerSpec, Model, ModelHeader, Shape, MAX_LAYERS,
};

const _: () = assert!(
    usize::BITS == 64,
    "the model format code assumes a 64-bit target"
);

/// File magic.
pub const MAGIC: [u8; 8] = *b"GZNNMODL";
/// Format version written and read by this build.
pub const VERSION: u16 = 1;
/// Largest model file accepted (bytes).
pub const MAX_FILE_BYTES: usize = 1 << 30;
/// Header flag: float parameters follow each parameterised layer's integer parameters.
pub const FLAG_FLOAT: u16 = 1;

const TAG_CONV: u8 = 1;
const TAG_FC: u8 = 2;
const TAG_RELU: u8 = 3;
const TAG_SQUARE: u8 = 4;
const TAG_MAXPOOL: u8 = 5;
const TAG_AVGPOOL: u8 = 6;
const TAG_FLATTEN: u8 = 7;

/// 64-bit FNV-1a, the file's checksum (integrity against truncation and bit rot, not an attacker).
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let available = self.buf.len() - self.pos;
        if n > available {
            return Err(NnError::Truncated {
                what,
                offset: self.pos,
                needed: n,
                available,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self, what: &'static str) -> Result<i32> {
        Ok(self.u32(what)? as i32)
    }
    fn string(&mut self, len: usize, field: &'static str) -> Result<String> {
        let b = self.take(len, field)?;
        String::from_utf8(b.to_vec()).map_err(|_| NnError::InvalidString {
            field,
            reason: "not UTF-8",
        })
    }
    /// `count` little-endian i32s; the length is checked against the bytes left first.
    fn i32s(&mut self, count: usize, what: &'static str) -> Result<Vec<i64>> {
        let bytes = self.take(count.saturating_mul(4), what)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect())
    }
    fn f32s(&mut self, count: usize, what: &'static str) -> Result<Vec<f32>> {
        let bytes = self.take(count.saturating_mul(4), what)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
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
    let mut r = Reader { buf: bytes, pos: 0 };
    if r.take(8, "magic")? != MAGIC {
        return Err(NnError::BadMagic);
    }
    let version = r.u16("version")?;
    if version != VERSION {
        return Err(NnError::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    // The checksum covers everything before it; check it before interpreting the rest, so that a
    // damaged file reports as damaged rather than as whatever field the damage hit.
    if bytes.len() < 8 + 2 + 8 {
        return Err(NnError::Truncated {
            what: "checksum",
            offset: r.pos,
            needed: 8,
            available: bytes.len() - r.pos,
        });
    }
    let body_len = bytes.len() - 8;
    let mut stored = [0u8; 8];
    stored.copy_from_slice(&bytes[body_len..]);
    let stored = u64::from_le_bytes(stored);
    let computed = fnv1a64(&bytes[..body_len]);
    if stored != computed {
        return Err(NnError::ChecksumMismatch { stored, computed });
    }
    let mut r = Reader {
        buf: &bytes[..body_len],
        pos: r.pos,
    };

    let flags = r.u16("flags")?;
    if flags & !FLAG_FLOAT != 0 {
        return Err(NnError::FieldOutOfRange {
            field: "flags",
            value: i64::from(flags),
            min: 0,
            max: i64::from(FLAG_FLOAT),
        });
    }
    let with_float = flags & FLAG_FLOAT != 0;
    let act_bits = u32::from(r.u8("act_bits")?);
    let reserved = r.u8("reserved")?;
    if reserved != 0 {
        return Err(NnError::FieldOutOfRange {
            field: "reserved",
            value: i64::from(reserved),
            min: 0,
            max: 0,
        });
    }
    let name_len = usize::from(r.u8("name length")?);
    let name = r.string(name_len, "name")?;
    let source_len = usize::from(r.u16("source length")?);
    let source = r.string(source_len, "source")?;
    let c = usize::from(r.u16("input channels")?);
    let h = usize::from(r.u16("input height")?);
    let w = usize::from(r.u16("input width")?);
    let scale = i64::from(r.i32("input scale")?);
    let offset = i64::from(r.i32("input offset")?);
    let float_div = r.u32("input float divisor")?;
    let num_classes = usize::from(r.u16("class count")?);
    let layer_count = usize::from(r.u16("layer count")?);
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
        },
        num_classes,
    };

    let mut specs = Vec::with_capacity(layer_count);
    for i in 0..layer_count {
        let tag = r.u8("layer tag")?;
        let (kind, shift) = match tag {
            TAG_CONV => {
                let in_c = usize::from(r.u16("conv in_c")?);
                let out_c = usize::from(r.u16("conv out_c")?);
                let k = usize::from(r.u8("conv k")?);
                let stride = usize::from(r.u8("conv stride")?);
                let pad = usize::from(r.u8("conv pad")?);
                let shift = u32::from(r.u8("conv shift")?);
                (
                    LayerKind::Conv2d {
                        in_c,
                        out_c,
                        k,
                        stride,
                        pad,
                    },
                    Some(shift),
                )
            }
            TAG_FC => {
                let inputs = r.u32("fc inputs")? as usize;
                let outputs = r.u32("fc outputs")? as usize;
                let shift = u32::from(r.u8("fc shift")?);
                (LayerKind::Fc { inputs, outputs }, Some(shift))
            }
            TAG_RELU => (LayerKind::Relu, None),
            TAG_SQUARE => (LayerKind::Square, Some(u32::from(r.u8("square shift")?))),
            TAG_MAXPOOL => {
                let k = usize::from(r.u8("maxpool k")?);
                let stride = usize::from(r.u8("maxpool stride")?);
                (LayerKind::MaxPool { k, stride }, None)
            }
            TAG_AVGPOOL => {
                let k = usize::from(r.u8("avgpool k")?);
                let stride = usize::from(r.u8("avgpool stride")?);
                let shift = u32::from(r.u8("avgpool shift")?);
                (LayerKind::AvgPool { k, stride }, Some(shift))
            }
            TAG_FLATTEN => (LayerKind::Flatten, None),
            tag => return Err(NnError::UnknownLayer { layer: i, tag }),
        };
        // Counts saturate rather than wrap; `take` rejects any that exceed the bytes left before
        // anything is allocated.
        let (nw, nb) = kind.parameter_counts();
        let weights = r.i32s(nw, "weights")?;
        let bias = r.i32s(nb, "bias")?;
        let float = if with_float && kind.has_parameters() {
            Some(FloatParams {
                weights: r.f32s(nw, "float weights")?,
                bias: r.f32s(nb, "float bias")?,
            })
        } else {
            None
        };
        specs.push(LayerSpec {
            kind,
            shift,
            weights,
            bias,
            float,
        });
    }
    if r.pos != r.buf.len() {
        return Err(NnError::TrailingBytes {
            count: r.buf.len() - r.pos,
        });
    }
    Model::new(header, specs)
}

/// Serialises a header and layer list without validating them (tests use this to build
/// malformed files; [`encode`] is the checked path). Integer parameters must fit in `i32` and
/// all count fields in their widths, else the value is truncated to the field.
pub fn encode_unchecked(header: &ModelHeader, specs: &[LayerSpec]) -> Vec<u8> {
    let with_float = !specs.is_empty()
        && specs
            .iter()
            .all(|s| !s.kind.has_parameters() || s.float.is_some());
    let with_float = with_float && specs.iter().any(|s| s.float.is_some());
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(if with_float { FLAG_FLOAT } else { 0 }).to_le_bytes());
    out.push(header.act_bits as u8);
    out.push(0);
    out.push(header.name.len() as u8);
    out.extend_from_slice(header.name.as_bytes());
    out.extend_from_slice(&(header.source.len() as u16).to_le_bytes());
    out.extend_from_slice(header.source.as_bytes());
    let s = header.input.shape;
    for d in [s.c, s.h, s.w] {
        out.extend_from_slice(&(d as u16).to_le_bytes());
    }
    out.extend_from_slice(&(header.input.scale as i32).to_le_bytes());
    out.extend_from_slice(&(header.input.offset as i32).to_le_bytes());
    out.extend_from_slice(&header.input.float_div.to_le_bytes());
    out.extend_from_slice(&(header.num_classes as u16).to_le_bytes());
    out.extend_from_slice(&(specs.len() as u16).to_le_bytes());
    for spec in specs {
        let shift = spec.shift.unwrap_or(0) as u8;
        match spec.kind {
            LayerKind::Conv2d {
                in_c,
                out_c,
                k,
                stride,
                pad,
            } => {
                out.push(TAG_CONV);
                out.extend_from_slice(&(in_c as u16).to_le_bytes());
                out.extend_from_slice(&(out_c as u16).to_le_bytes());
                out.extend_from_slice(&[k as u8, stride as u8, pad as u8, shift]);
            }
            LayerKind::Fc { inputs, outputs } => {
                out.push(TAG_FC);
                out.extend_from_slice(&(inputs as u32).to_le_bytes());
                out.extend_from_slice(&(outputs as u32).to_le_bytes());
                out.push(shift);
            }
            LayerKind::Relu => out.push(TAG_RELU),
            LayerKind::Square => out.extend_from_slice(&[TAG_SQUARE, shift]),
            LayerKind::MaxPool { k, stride } => {
                out.extend_from_slice(&[TAG_MAXPOOL, k as u8, stride as u8])
            }
            LayerKind::AvgPool { k, stride } => {
                out.extend_from_slice(&[TAG_AVGPOOL, k as u8, stride as u8, shift])
            }
            LayerKind::Flatten => out.push(TAG_FLATTEN),
        }
        for v in spec.weights.iter().chain(&spec.bias) {
            out.extend_from_slice(&(*v as i32).to_le_bytes());
        }
        if with_float {
            if let Some(fp) = &spec.float {
                for v in fp.weights.iter().chain(&fp.bias) {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    let sum = fnv1a64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
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
