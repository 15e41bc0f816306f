//! Byte encoding helpers of the OT messages: a one-byte tag, then little-endian fields.
//! Every read is bounds-checked and yields a typed [`OtError`]; nothing is allocated from a
//! length the peer announced before that length has been checked against the bytes present
//! and against what the reader expects.
use super::{OtError, Result};

/// Builds an encoded message.
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new(tag: u8, payload_hint: usize) -> Writer {
        let mut buf = Vec::with_capacity(1 + payload_hint);
        buf.push(tag);
        Writer { buf }
    }

    pub(crate) fn u32(&mut self, x: u32) {
        self.buf.extend_from_slice(&x.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, x: u64) {
        self.buf.extend_from_slice(&x.to_le_bytes());
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Parses an encoded message.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Checks the tag byte.
    pub(crate) fn new(bytes: &'a [u8], tag: u8, what: &'static str) -> Result<Reader<'a>> {
        match bytes.split_first() {
            None => Err(OtError::Truncated { what }),
            Some((&t, rest)) if t == tag => Ok(Reader { rest, what }),
            Some((&t, _)) => Err(OtError::BadTag {
                what,
                expected: tag,
                got: t,
            }),
        }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.rest.len() < n {
            return Err(OtError::Truncated { what: self.what });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        self.array::<4>().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        self.array::<8>().map(u64::from_le_bytes)
    }

    /// Checks that exactly `n` bytes remain.
    pub(crate) fn expect_remaining(&self, n: usize) -> Result<()> {
        if self.rest.len() != n {
            return Err(OtError::BadLength {
                what: self.what,
                expected: n,
                got: self.rest.len(),
            });
        }
        Ok(())
    }

    /// Checks that the message has been read completely.
    pub(crate) fn end(self) -> Result<()> {
        self.expect_remaining(0)
    }
}
