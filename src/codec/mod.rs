//! The crate's one byte codec: a bounded [`Reader`] over `&[u8]`, a [`Writer`] into a
//! `Vec<u8>`, and LSB-first bit packing ([`pack_bits`], [`unpack_bits`]). Every wire message
//! (`ot`, `net`, `protocol`) and the `.gzm` model file (`nn::format`) are read and written
//! through it.
//!
//! Conventions: integers are little-endian; a bit string of `n` bits is `⌈n/8⌉` bytes with bit
//! `j` at bit `j % 8` of byte `j / 8`, and its unused high bits of the last byte are zero.
//!
//! # Guarantees for untrusted input
//! * No read panics; every failure is a typed [`CodecError`] naming the message or field
//!   (`what`) and, where it applies, the byte offset.
//! * Nothing is allocated from a count read off the input: [`Reader::take`] and
//!   [`Reader::take_items`] check the length against the bytes present first, and the
//!   length-prefixed reads ([`Reader::bytes_u32`] and its siblings) check the prefix against a
//!   caller-given limit *and* against the bytes present before returning anything. Readers
//!   only ever return borrowed slices; the caller decides what to copy.
//!
//! This module depends on nothing else in the crate: each layer converts [`CodecError`] into
//! its own error type (`impl From<CodecError> for OtError`, `for NnError`), so `?` works.
//!
//! ```
//! use gazelle::codec::{pack_bits, unpack_bits, CodecError, Reader, Writer};
//!
//! let mut w = Writer::new();
//! w.u8(0x21);
//! w.u64(7);
//! w.bytes_u32(b"payload");
//! w.bits(&[true, false, true]);
//! let bytes = w.into_vec();
//!
//! let mut r = Reader::new(&bytes, "example message");
//! r.tag(0x21)?;
//! assert_eq!(r.u64()?, 7);
//! assert_eq!(r.bytes_u32(64)?, b"payload");
//! assert_eq!(unpack_bits(r.bits(3)?, 3), [true, false, true]);
//! r.finish()?;
//!
//! // A length prefix over the limit is refused before anything is read or allocated.
//! let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff], "example message");
//! assert!(matches!(r.bytes_u32(64), Err(CodecError::TooLong { .. })));
//! assert_eq!(pack_bits(&[true; 9]), [0xff, 0x01]);
//! # Ok::<(), CodecError>(())
//! ```

mod bits;
mod reader;
mod writer;

pub use bits::{bit, clear_padding, pack_bits, pack_bits_into, unpack_bits};
pub use reader::Reader;
pub use writer::Writer;

/// Why bytes could not be decoded. `what` is the message or field being read (set by
/// [`Reader::new`] / [`Reader::field`]); offsets are from the start of the reader's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The input ended before a field.
    #[error("{what}: truncated: needed {needed} bytes at offset {offset}, {available} left")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Offset of the field.
        offset: usize,
        /// Bytes the field needs (saturated at `usize::MAX` for absurd counts).
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The bytes left are not exactly the number the format requires
    /// ([`Reader::expect_remaining`]).
    #[error("{what}: expected {expected} more bytes at offset {offset}, got {got}")]
    LengthMismatch {
        /// What was being read.
        what: &'static str,
        /// Offset where the check was made.
        offset: usize,
        /// Bytes required.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// Bytes are left after the last field ([`Reader::finish`]).
    #[error("{what}: {count} trailing bytes at offset {offset}")]
    TrailingBytes {
        /// What was being read.
        what: &'static str,
        /// Offset of the first trailing byte.
        offset: usize,
        /// How many.
        count: usize,
    },
    /// A tag byte other than the one expected ([`Reader::tag`]).
    #[error("{what}: tag {got:#04x}, expected {expected:#04x}")]
    BadTag {
        /// What was being read.
        what: &'static str,
        /// Tag expected.
        expected: u8,
        /// Tag present.
        got: u8,
    },
    /// A length prefix over the caller's limit (nothing was read past the prefix).
    #[error("{what}: length {len} over the limit {max}")]
    TooLong {
        /// What was being read.
        what: &'static str,
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Unused bits of a packed bit string are not zero ([`Reader::bits`]).
    #[error("{what}: non-zero padding bits (last byte {last:#04x}, {used} bits used)")]
    Padding {
        /// What was being read.
        what: &'static str,
        /// The last byte of the bit string.
        last: u8,
        /// Bits of the last byte in use (1..=7).
        used: u32,
    },
}

/// Result of codec reads.
pub type Result<T> = std::result::Result<T, CodecError>;

#[cfg(test)]
mod tests;
