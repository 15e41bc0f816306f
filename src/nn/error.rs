//! The typed error of the `nn` module.
use thiserror::Error;

/// Why a model could not be loaded, validated or run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NnError {
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the model magic.
    #[error("not a gazelle model file (bad magic)")]
    BadMagic,
    /// The format version is not one this build reads.
    #[error("unsupported model format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// Version in the file.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },
    /// The file ended before a field it declares.
    #[error("model file truncated: needed {needed} bytes for {what} at offset {offset}, {available} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Offset of the field.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the file.
        available: usize,
    },
    /// Bytes follow the checksum.
    #[error("{count} trailing bytes after the model")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// The checksum does not match the contents.
    #[error("model checksum mismatch (stored {stored:#018x}, computed {computed:#018x})")]
    ChecksumMismatch {
        /// Checksum stored in the file.
        stored: u64,
        /// Checksum of the bytes read.
        computed: u64,
    },
    /// A header or layer field is outside its allowed range.
    #[error("{field} = {value} is outside the allowed range {min}..={max}")]
    FieldOutOfRange {
        /// The field.
        field: &'static str,
        /// Its value.
        value: i64,
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// An unknown layer tag.
    #[error("layer {layer}: unknown layer tag {tag}")]
    UnknownLayer {
        /// Index of the layer.
        layer: usize,
        /// The tag byte.
        tag: u8,
    },
    /// A string field is not what the format allows.
    #[error("invalid {field}: {reason}")]
    InvalidString {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A layer does not fit the shape of its input, or the network's output is not a class vector.
    #[error("layer {layer} ({kind}): {reason}")]
    ShapeMismatch {
        /// Index of the layer (the layer count for the network's output).
        layer: usize,
        /// Kind of the layer.
        kind: &'static str,
        /// What does not fit.
        reason: String,
    },
    /// A parameter array does not have the length the layer needs.
    #[error("layer {layer}: {what} has {found} values, expected {expected}")]
    ParameterCount {
        /// Index of the layer.
        layer: usize,
        /// Which array.
        what: &'static str,
        /// Length found.
        found: usize,
        /// Length expected.
        expected: usize,
    },
    /// An integer weight or bias is outside the range the format allows.
    #[error("layer {layer}: {what}[{index}] = {value} exceeds the bound |v| <= {bound}")]
    ValueOutOfRange {
        /// Index of the layer.
        layer: usize,
        /// Which array.
        what: &'static str,
        /// Index in the array.
        index: usize,
        /// The value.
        value: i64,
        /// Largest allowed magnitude.
        bound: i64,
    },
    /// A float parameter is NaN or infinite.
    #[error("layer {layer}: {what}[{index}] is not finite")]
    NonFinite {
        /// Index of the layer.
        layer: usize,
        /// Which array.
        what: &'static str,
        /// Index in the array.
        index: usize,
    },
    /// Float inference was asked of a model stored without float parameters.
    #[error("model {model} carries no float parameters")]
    NoFloatParameters {
        /// The model.
        model: String,
    },
    /// An input does not have the model's input size.
    #[error("input has {found} values, the model takes {expected}")]
    InputLength {
        /// Length given.
        found: usize,
        /// Length expected.
        expected: usize,
    },
    /// An input value lies outside the model's input range.
    #[error("input[{index}] = {value} is outside the model's input range {min}..={max}")]
    InputOutOfRange {
        /// Index of the value.
        index: usize,
        /// The value.
        value: i64,
        /// Smallest allowed input.
        min: i64,
        /// Largest allowed input.
        max: i64,
    },
    /// No bundled model of that name.
    #[error("unknown model {name:?} (known: {known})")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The names known.
        known: String,
    },
    /// An image set could not be read.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
}

/// Result with [`NnError`].
pub type Result<T> = std::result::Result<T, NnError>;

impl From<crate::codec::CodecError> for NnError {
    /// The model decoder reads through [`crate::codec::Reader`], naming each field; it produces
    /// only `Truncated` and `TrailingBytes` (mapped one to one). The other kinds, which
    /// the format does not use today, map to the nearest model error.
    fn from(e: crate::codec::CodecError) -> NnError {
        use crate::codec::CodecError as C;
        match e {
            C::Truncated {
                what,
                offset,
                needed,
                available,
            } => NnError::Truncated {
                what,
                offset,
                needed,
                available,
            },
            C::TrailingBytes { count, .. } => NnError::TrailingBytes { count },
            C::LengthMismatch {
                what,
                offset,
                expected,
                got,
            } if got < expected => NnError::Truncated {
                what,
                offset,
                needed: expected,
                available: got,
            },
            C::LengthMismatch { expected, got, .. } => NnError::TrailingBytes {
                count: got - expected,
            },
            C::BadTag {
                what,
                expected,
                got,
            } => NnError::FieldOutOfRange {
                field: what,
                value: i64::from(got),
                min: i64::from(expected),
                max: i64::from(expected),
            },
            C::TooLong { what, len, max } => NnError::FieldOutOfRange {
                field: what,
                value: i64::try_from(len).unwrap_or(i64::MAX),
                min: 0,
                max: i64::try_from(max).unwrap_or(i64::MAX),
            },
            C::Padding { what, last, used } => NnError::FieldOutOfRange {
                field: what,
                value: i64::from(last),
                min: 0,
                max: (1i64 << used) - 1,
            },
        }
    }
}
