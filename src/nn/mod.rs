//! Neural networks: model description, the `.gzm` file format, the plaintext fixed-point oracle,
//! float inference, accumulator bounds, the bundled pretrained models and the accuracy report.
//!
//! The fixed-point semantics are those of the reference's quantised models
//! (chiraag/gazelle_mpc, `scripts/nn/utee/compress.py`): integer inputs, integer weights and
//! biases, and after every conv / fc / square / avg-pool a floor-shift-and-clamp to `act_bits`
//! signed bits. docs/MODEL_FORMAT.md has the details.
pub mod bounds;
pub mod error;
pub mod eval;
pub mod format;
pub mod infer;
pub mod model;

pub use bounds::LayerBound;
pub use error::{NnError, Result};
#[cfg(feature = "bundled")]
pub use eval::accuracy_report;
pub use eval::AccuracyReport;
pub use infer::{argmax, LayerTrace};
pub use model::{
    FloatParams, InputSpec, Layer, LayerKind, LayerSpec, Model, ModelHeader, Requant, Shape,
};

/// The default parameter set's plaintext modulus (n = 4096, p ≡ 1 mod 8192, 20 bits).
pub const DEFAULT_PLAINTEXT_MODULUS: u64 = 1_032_193;

/// Names of the bundled models, the five networks of the Gazelle paper's evaluation.
pub const MODEL_NAMES: [&str; 5] = [
    "mnist-secureml",
    "mnist-cryptonets",
    "mnist-deepsecure",
    "mnist-minionn",
    "cifar-minionn",
];

/// The `.gzm` bytes of a bundled model (crate `gazelle-bundled`, converted by
/// tools/convert_pretrained.py).
#[cfg(feature = "bundled")]
pub fn builtin_model_bytes(name: &str) -> Result<&'static [u8]> {
    gazelle_bundled::model(name).ok_or_else(|| NnError::UnknownModel {
        name: name.to_string(),
        known: MODEL_NAMES.join(", "),
    })
}

/// A `.gzm` file by path (a path that names an existing file wins), else a bundled model by
/// name.
#[cfg(feature = "bundled")]
pub fn model_by_name_or_path(spec: &str) -> Result<Model> {
    let path = std::path::Path::new(spec);
    if path.is_file() {
        Model::load(path)
    } else {
        builtin_model(spec)
    }
}

/// Loads a bundled model by name (one of [`MODEL_NAMES`]).
#[cfg(feature = "bundled")]
pub fn builtin_model(name: &str) -> Result<Model> {
    Model::from_bytes(builtin_model_bytes(name)?)
}
