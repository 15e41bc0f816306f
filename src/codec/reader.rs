//! The bounded reader.
#[cfg(doc)]
use super::{bit, unpack_bits};
use super::{CodecError, Result};

/// A bounded little-endian reader over a byte slice. Reads advance a cursor; a failed read
/// leaves it where it was.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    /// The readable bytes: `buf[pos..]` is what is left (a trailing part split off by
    /// [`Reader::split_tail`] is no longer in `buf`).
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, reporting errors as about `what` (a message or file name).
    pub fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { buf, pos: 0, what }
    }

    /// Names the field the next reads are about (errors carry it until the next call).
    pub fn field(&mut self, what: &'static str) -> &mut Self {
        self.what = what;
        self
    }

    /// Offset of the next byte to be read, from the start of the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn truncated(&self, needed: usize) -> CodecError {
        CodecError::Truncated {
            what: self.what,
            offset: self.pos,
            needed,
            available: self.remaining(),
        }
    }

    /// Takes the next `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.truncated(n));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Takes `count` items of `item_len` bytes each (`count · item_len` bytes; an overflowing
    /// product is reported as truncation, not wrapped).
    pub fn take_items(&mut self, count: usize, item_len: usize) -> Result<&'a [u8]> {
        match count.checked_mul(item_len) {
            Some(n) => self.take(n),
            None => Err(self.truncated(usize::MAX)),
        }
    }

    /// Takes the next `N` bytes as an array.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// Reads a `u8`.
    pub fn u8(&mut self) -> Result<u8> {
        self.array::<1>().map(|[b]| b)
    }

    /// Reads a little-endian `u16`.
    pub fn u16(&mut self) -> Result<u16> {
        self.array().map(u16::from_le_bytes)
    }

    /// Reads a little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_le_bytes)
    }

    /// Reads a little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// Reads a little-endian `i32`.
    pub fn i32(&mut self) -> Result<i32> {
        self.array().map(i32::from_le_bytes)
    }

    /// Reads a little-endian `f32`.
    pub fn f32(&mut self) -> Result<f32> {
        self.array().map(f32::from_le_bytes)
    }

    /// Reads a tag byte and checks it is `expected` (an empty input is [`CodecError::Truncated`]).
    pub fn tag(&mut self, expected: u8) -> Result<()> {
        let got = self.u8()?;
        if got != expected {
            self.pos -= 1;
            return Err(CodecError::BadTag {
                what: self.what,
                expected,
                got,
            });
        }
        Ok(())
    }

    /// The bytes after a length prefix `len` already read: refused if over `max` or the bytes
    /// left, the cursor then put back on the prefix of `prefix_len` bytes.
    fn prefixed(&mut self, len: usize, max: usize, prefix_len: usize) -> Result<&'a [u8]> {
        if len > max {
            self.pos -= prefix_len;
            return Err(CodecError::TooLong {
                what: self.what,
                len,
                max,
            });
        }
        self.take(len).inspect_err(|_| self.pos -= prefix_len)
    }

    /// Reads a `u8` length, then that many bytes (at most `max`).
    pub fn bytes_u8(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = usize::from(self.u8()?);
        self.prefixed(len, max, 1)
    }

    /// Reads a little-endian `u16` length, then that many bytes (at most `max`).
    pub fn bytes_u16(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = usize::from(self.u16()?);
        self.prefixed(len, max, 2)
    }

    /// Reads a little-endian `u32` length, then that many bytes (at most `max`).
    pub fn bytes_u32(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = self.u32()? as usize;
        self.prefixed(len, max, 4)
    }

    /// Takes a packed bit string of `n` bits (`⌈n/8⌉` bytes) and checks that its padding bits
    /// are zero. Decode it with [`unpack_bits`] or [`bit`].
    pub fn bits(&mut self, n: usize) -> Result<&'a [u8]> {
        let start = self.pos;
        let b = self.take(n.div_ceil(8))?;
        let used = (n % 8) as u32;
        if let (Some(&last), true) = (b.last(), used != 0) {
            if last >> used != 0 {
                self.pos = start;
                return Err(CodecError::Padding {
                    what: self.what,
                    last,
                    used,
                });
            }
        }
        Ok(b)
    }

    /// Splits the last `n` bytes off the input and returns them (a trailing checksum or MAC);
    /// later reads and [`Reader::finish`] see only what comes before them.
    pub fn split_tail(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.truncated(n));
        }
        let (head, tail) = self.buf.split_at(self.buf.len() - n);
        self.buf = head;
        Ok(tail)
    }

    /// Checks that exactly `n` bytes are left (the usual check before reading a body whose
    /// length the header fixed).
    pub fn expect_remaining(&self, n: usize) -> Result<()> {
        if self.remaining() != n {
            return Err(CodecError::LengthMismatch {
                what: self.what,
                offset: self.pos,
                expected: n,
                got: self.remaining(),
            });
        }
        Ok(())
    }

    /// Checks that everything has been read.
    pub fn finish(self) -> Result<()> {
        if !self.is_empty() {
            return Err(CodecError::TrailingBytes {
                what: self.what,
                offset: self.pos,
                count: self.remaining(),
            });
        }
        Ok(())
    }
}
