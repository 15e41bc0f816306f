//! ONNX import: an ONNX CNN (opset ≥ 11) to a calibrated, quantised [`gazelle::nn::Model`].
//!
//! 1. [`graph::float_graph`] maps the ONNX graph onto the engine's layers (batch norm folded,
//!    constant adds folded into biases, Identity / Dropout dropped; anything else is an error
//!    naming the node).
//! 2. [`quantize`] runs the float graph on the calibration images, gives every weight tensor a
//!    power-of-two scale (`weight_bits` signed bits), and every requantised layer the smallest
//!    shift that keeps the largest calibration activation within `act_bits`; a conv / gemm whose
//!    output only feeds residual adds keeps its exact accumulator (the add is then requantised
//!    once). The weight bits are lowered until every accumulator fits the plaintext modulus, or
//!    the error says which layer does not fit.
//! 3. [`reference`] runs the original ONNX model in `tract` and compares its logits with the
//!    imported float model's.
pub mod graph;
pub mod quantize;
pub mod reference;

use tract_onnx::pb;
use tract_onnx::prelude::Framework;

/// Largest ONNX file read (bytes).
pub const MAX_ONNX_BYTES: usize = 1 << 30;

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a valid ONNX protobuf.
    #[error("not an ONNX model: {0}")]
    Parse(String),
    /// A model-level problem (opset, inputs, outputs, initializers).
    #[error("{0}")]
    Model(String),
    /// A node that cannot be imported.
    #[error("node {node}: {reason}")]
    Node {
        /// Its name and operator.
        node: String,
        /// Why.
        reason: String,
    },
    /// Quantisation failed (nothing fits, no calibration images, …).
    #[error("{0}")]
    Quantize(String),
    /// The engine refused the result.
    #[error(transparent)]
    Nn(#[from] gazelle::nn::NnError),
}

/// Result with [`ImportError`].
pub type Result<T> = std::result::Result<T, ImportError>;

/// Parses ONNX bytes (the protobuf, with `prost` through `tract-onnx`).
pub fn parse(bytes: &[u8]) -> Result<pb::ModelProto> {
    if bytes.len() > MAX_ONNX_BYTES {
        return Err(ImportError::Parse(format!(
            "{} bytes (at most {MAX_ONNX_BYTES})",
            bytes.len()
        )));
    }
    let mut r = bytes;
    tract_onnx::onnx()
        .proto_model_for_read(&mut r)
        .map_err(|e| ImportError::Parse(format!("{e:#}")))
}

/// Reads and parses an ONNX file.
pub fn load(path: &std::path::Path) -> Result<(pb::ModelProto, Vec<u8>)> {
    let io = |source| ImportError::Io {
        path: path.display().to_string(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_ONNX_BYTES as u64 {
        return Err(ImportError::Parse(format!(
            "{len} bytes (at most {MAX_ONNX_BYTES})"
        )));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    Ok((parse(&bytes)?, bytes))
}

pub use quantize::{import, Accuracy, ImportOptions, ImportReport, Imported, InputEncoding};
