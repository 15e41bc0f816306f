//! The writer.
use super::bits::pack_bits_into;
#[cfg(doc)]
use super::{pack_bits, Reader};

/// Builds a little-endian encoding in a `Vec<u8>`. Writing cannot fail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Writer {
        Writer::default()
    }

    /// An empty writer with room for `cap` bytes.
    pub fn with_capacity(cap: usize) -> Writer {
        Writer {
            buf: Vec::with_capacity(cap),
        }
    }

    /// An empty writer in `buf`'s memory (its contents are discarded, its capacity kept): lets a
    /// steady-state sender encode every message into the previous one's buffer.
    pub fn reuse(mut buf: Vec<u8>) -> Writer {
        buf.clear();
        Writer { buf }
    }

    /// Makes room for `additional` more bytes.
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// The encoding.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// Writes a `u8`.
    pub fn u8(&mut self, x: u8) {
        self.buf.push(x);
    }

    /// Writes a little-endian `u16`.
    pub fn u16(&mut self, x: u16) {
        self.bytes(&x.to_le_bytes());
    }

    /// Writes a little-endian `u32`.
    pub fn u32(&mut self, x: u32) {
        self.bytes(&x.to_le_bytes());
    }

    /// Writes a little-endian `u64`.
    pub fn u64(&mut self, x: u64) {
        self.bytes(&x.to_le_bytes());
    }

    /// Writes a little-endian `i32`.
    pub fn i32(&mut self, x: i32) {
        self.bytes(&x.to_le_bytes());
    }

    /// Writes a little-endian `f32`.
    pub fn f32(&mut self, x: f32) {
        self.bytes(&x.to_le_bytes());
    }

    /// Writes raw bytes.
    #[inline]
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Writes a little-endian `u32` length, then the bytes (read back by
    /// [`Reader::bytes_u32`]).
    ///
    /// # Panics
    /// If `b` is 4 GiB or longer.
    pub fn bytes_u32(&mut self, b: &[u8]) {
        let len = u32::try_from(b.len()).expect("a u32-prefixed field is under 4 GiB");
        self.u32(len);
        self.bytes(b);
    }

    /// Writes a packed bit string ([`pack_bits`]; read back by [`Reader::bits`]).
    pub fn bits(&mut self, bits: &[bool]) {
        let start = self.buf.len();
        self.buf.resize(start + bits.len().div_ceil(8), 0);
        pack_bits_into(bits, &mut self.buf[start..]);
    }
}
