//! The protocol's transport layer on top of [`crate::channel`]: tagged, length-checked
//! messages, the session handshake (protocol version, parameter set, model id), per-direction
//! byte meters, and streaming of large payloads (garbled tables) as bounded frames.
//!
//! Every message is one frame: a one-byte tag, then the payload. A receiver names the tag it
//! expects and the largest payload it accepts, so a peer can never make it allocate more
//! than that; a wrong tag, a short or long payload is a [`NetError`], never a panic. A peer
//! that gives up sends an [`TAG_ERROR`] frame with a short reason, which the other side turns
//! into [`NetError::PeerError`].
use crate::channel::{Channel, ChannelError};
use std::io::Write;

/// Version of the wire protocol; both sides must agree.
pub const PROTOCOL_VERSION: u16 = 1;

/// Magic of the hello message.
pub const MAGIC: [u8; 4] = *b"GZL1";

/// Largest payload of one streamed chunk (garbled tables).
pub const CHUNK: usize = 1 << 20;

/// Longest error reason sent to a peer.
pub const MAX_REASON: usize = 512;

/// Tag of an error frame (the sender gives up the session).
pub const TAG_ERROR: u8 = 0xEE;

/// Errors of the transport layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The channel failed (closed, timed out, frame too large, I/O).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A frame had another tag than the one expected.
    #[error("{what}: unexpected message tag {got:#04x} (expected {expected:#04x})")]
    UnexpectedTag {
        /// What was expected.
        what: &'static str,
        /// Expected tag.
        expected: u8,
        /// Tag received.
        got: u8,
    },
    /// A message is empty, short, long or otherwise malformed.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which message.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The peer reported an error and ended the session.
    #[error("the peer ended the session: {0}")]
    PeerError(String),
    /// The handshake found the two sides incompatible.
    #[error("handshake failed: {0}")]
    Handshake(String),
}

/// Result of transport operations.
pub type Result<T> = std::result::Result<T, NetError>;

fn malformed<T>(what: &'static str, reason: impl Into<String>) -> Result<T> {
    Err(NetError::Malformed {
        what,
        reason: reason.into(),
    })
}

/// Sends one tagged message.
pub fn send_msg<C: Channel + ?Sized>(ch: &mut C, tag: u8, payload: &[u8]) -> Result<()> {
    let mut frame = Vec::with_capacity(payload.len() + 1);
    frame.push(tag);
    frame.extend_from_slice(payload);
    ch.send(&frame)?;
    ch.flush()?;
    Ok(())
}

/// Receives one message with tag `tag` and a payload of at most `max_len` bytes. An error
/// frame from the peer becomes [`NetError::PeerError`].
pub fn recv_msg<C: Channel + ?Sized>(
    ch: &mut C,
    tag: u8,
    max_len: usize,
    what: &'static str,
) -> Result<Vec<u8>> {
    let mut frame = ch.recv(max_len.max(MAX_REASON).saturating_add(1))?;
    let Some(&got) = frame.first() else {
        return malformed(what, "empty frame");
    };
    if got == TAG_ERROR && tag != TAG_ERROR {
        let reason = String::from_utf8_lossy(&frame[1..frame.len().min(MAX_REASON + 1)]);
        let reason: String = reason
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        return Err(NetError::PeerError(reason));
    }
    if got != tag {
        return Err(NetError::UnexpectedTag {
            what,
            expected: tag,
            got,
        });
    }
    if frame.len() - 1 > max_len {
        return malformed(
            what,
            format!("{} bytes, at most {max_len} allowed", frame.len() - 1),
        );
    }
    frame.remove(0);
    Ok(frame)
}

/// Tells the peer why this side ends the session (best effort: errors are ignored, the
/// session is over anyway).
pub fn send_error<C: Channel + ?Sized>(ch: &mut C, reason: &str) {
    let mut r = reason.as_bytes();
    if r.len() > MAX_REASON {
        r = &r[..MAX_REASON];
    }
    let _ = send_msg(ch, TAG_ERROR, r);
}

/// What a session is about: both sides must agree on every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`].
    pub version: u16,
    /// The HE parameter set's id byte.
    pub param_set: u8,
    /// The model id (a bundled model's name).
    pub model: String,
}

const TAG_HELLO: u8 = 0x01;
const TAG_HELLO_OK: u8 = 0x02;
const MAX_MODEL_NAME: usize = 64;

impl Hello {
    /// The hello of this protocol version for `param_set` and `model`.
    pub fn new(param_set: crate::he::params::ParamSetId, model: &str) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            param_set: param_set as u8,
            model: model.to_string(),
        }
    }

    /// Encodes the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&self.version.to_le_bytes());
        v.push(self.param_set);
        v.push(self.model.len().min(MAX_MODEL_NAME) as u8);
        v.extend_from_slice(&self.model.as_bytes()[..self.model.len().min(MAX_MODEL_NAME)]);
        v
    }

    /// Decodes and validates the message.
    pub fn from_bytes(b: &[u8]) -> Result<Hello> {
        let what = "hello";
        if b.len() < 8 || b[..4] != MAGIC {
            return malformed(what, "not a gazelle hello (bad magic or length)");
        }
        let version = u16::from_le_bytes([b[4], b[5]]);
        let param_set = b[6];
        let len = b[7] as usize;
        if len > MAX_MODEL_NAME || b.len() != 8 + len {
            return malformed(what, "bad model-name length");
        }
        let model = std::str::from_utf8(&b[8..])
            .ok()
            .filter(|s| {
                s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
            })
            .ok_or_else(|| NetError::Malformed {
                what,
                reason: "model name is not [A-Za-z0-9._-]".into(),
            })?
            .to_string();
        Ok(Hello {
            version,
            param_set,
            model,
        })
    }

    /// How this hello differs from `other`, if it does.
    pub fn mismatch(&self, other: &Hello) -> Option<String> {
        if self.version != other.version {
            return Some(format!(
                "protocol version {} vs {}",
                self.version, other.version
            ));
        }
        if self.param_set != other.param_set {
            return Some(format!(
                "parameter set id {} vs {}",
                self.param_set, other.param_set
            ));
        }
        if self.model != other.model {
            return Some(format!("model '{}' vs '{}'", self.model, other.model));
        }
        None
    }
}

/// Client side of the handshake: sends `ours`, waits for the server's verdict.
pub fn handshake_client<C: Channel + ?Sized>(ch: &mut C, ours: &Hello) -> Result<()> {
    send_msg(ch, TAG_HELLO, &ours.to_bytes())?;
    match recv_msg(ch, TAG_HELLO_OK, 8 + MAX_MODEL_NAME, "hello reply") {
        Ok(reply) => {
            let theirs = Hello::from_bytes(&reply)?;
            match ours.mismatch(&theirs) {
                Some(m) => {
                    send_error(ch, &format!("handshake mismatch: {m}"));
                    Err(NetError::Handshake(m))
                }
                None => Ok(()),
            }
        }
        Err(NetError::PeerError(reason)) => Err(NetError::Handshake(reason)),
        Err(e) => Err(e),
    }
}

/// Server side of the handshake: checks the client's hello against `ours`; on a mismatch
/// tells the client why and fails.
pub fn handshake_server<C: Channel + ?Sized>(ch: &mut C, ours: &Hello) -> Result<Hello> {
    let theirs = match recv_msg(ch, TAG_HELLO, 8 + MAX_MODEL_NAME, "hello")
        .and_then(|b| Hello::from_bytes(&b))
    {
        Ok(h) => h,
        Err(e) => {
            send_error(ch, &format!("bad hello: {e}"));
            return Err(e);
        }
    };
    if let Some(m) = theirs.mismatch(ours) {
        let reason = format!(
            "server runs protocol v{}, parameter set {}, model '{}' ({m})",
            ours.version, ours.param_set, ours.model
        );
        send_error(ch, &reason);
        return Err(NetError::Handshake(reason));
    }
    send_msg(ch, TAG_HELLO_OK, &ours.to_bytes())?;
    Ok(theirs)
}

/// Bytes moved over a channel between two points: `(sent, received)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meter {
    sent: u64,
    received: u64,
}

impl Meter {
    /// Starts measuring at the channel's current counts.
    pub fn start<C: Channel + ?Sized>(ch: &C) -> Meter {
        Meter {
            sent: ch.bytes_sent(),
            received: ch.bytes_received(),
        }
    }

    /// `(sent, received)` since [`Meter::start`].
    pub fn read<C: Channel + ?Sized>(&self, ch: &C) -> (u64, u64) {
        (
            ch.bytes_sent() - self.sent,
            ch.bytes_received() - self.received,
        )
    }
}

/// A [`Write`] that sends what it is given as tagged frames of at most [`CHUNK`] bytes.
pub struct ChunkWriter<'a, C: Channel + ?Sized> {
    ch: &'a mut C,
    tag: u8,
    buf: Vec<u8>,
}

impl<'a, C: Channel + ?Sized> ChunkWriter<'a, C> {
    /// A writer of `tag` frames.
    pub fn new(ch: &'a mut C, tag: u8) -> Self {
        ChunkWriter {
            ch,
            tag,
            buf: Vec::with_capacity(CHUNK + 1),
        }
    }

    fn send_buf(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = send_msg(self.ch, self.tag, &self.buf).map_err(std::io::Error::other);
        self.buf.clear();
        r
    }

    /// Sends what is buffered.
    pub fn finish(mut self) -> Result<()> {
        self.send_buf().map_err(|e| NetError::Malformed {
            what: "stream",
            reason: e.to_string(),
        })
    }
}

impl<C: Channel + ?Sized> Write for ChunkWriter<'_, C> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send_buf()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Receives exactly `total` bytes sent by a [`ChunkWriter`] with tag `tag` (each frame at
/// most [`CHUNK`] bytes; a frame that would overrun `total` is an error).
pub fn recv_chunked<C: Channel + ?Sized>(
    ch: &mut C,
    tag: u8,
    total: usize,
    what: &'static str,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(total.min(1 << 30));
    while out.len() < total {
        let part = recv_msg(ch, tag, CHUNK, what)?;
        if part.is_empty() || out.len() + part.len() > total {
            return malformed(what, format!("stream overruns its {total} bytes"));
        }
        out.extend_from_slice(&part);
    }
    Ok(out)
}

/// Little-endian reader of a message payload with bounds checks.
#[derive(Debug)]
pub struct Cursor<'a> {
    b: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor over a message payload.
    pub fn new(b: &'a [u8], what: &'static str) -> Self {
        Cursor { b, what }
    }

    /// Takes `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() < n {
            return malformed(self.what, "truncated");
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }

    /// Reads a u32.
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Fails unless everything was read.
    pub fn end(&self) -> Result<()> {
        if self.b.is_empty() {
            Ok(())
        } else {
            malformed(self.what, format!("{} trailing bytes", self.b.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::MemChannel;

    fn hello(model: &str) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            param_set: 1,
            model: model.into(),
        }
    }

    #[test]
    fn handshake_agrees_and_mismatch_errors_on_both_sides() {
        let (mut a, mut b) = MemChannel::pair();
        let t = std::thread::spawn(move || handshake_server(&mut b, &hello("m")));
        handshake_client(&mut a, &hello("m")).unwrap();
        t.join().unwrap().unwrap();

        let (mut a, mut b) = MemChannel::pair();
        let t = std::thread::spawn(move || handshake_server(&mut b, &hello("m")));
        let e = handshake_client(&mut a, &hello("other")).unwrap_err();
        assert!(
            matches!(e, NetError::Handshake(ref r) if r.contains("model")),
            "{e}"
        );
        assert!(matches!(t.join().unwrap(), Err(NetError::Handshake(_))));
    }

    #[test]
    fn garbage_hello_is_rejected() {
        for junk in [
            &b""[..],
            b"GZL1",
            b"XXXX\x01\x00\x01\x00",
            b"GZL1\x01\x00\x01\x05ab",
        ] {
            assert!(Hello::from_bytes(junk).is_err());
        }
        let (mut a, mut b) = MemChannel::pair();
        a.send(&[0x01, 1, 2, 3]).unwrap();
        assert!(handshake_server(&mut b, &hello("m")).is_err());
        // The server told the client why.
        assert!(matches!(
            recv_msg(&mut a, 0x02, 100, "x"),
            Err(NetError::PeerError(_))
        ));
    }

    #[test]
    fn chunked_stream_round_trip_and_overrun() {
        let (mut a, mut b) = MemChannel::pair();
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| i as u8).collect();
        let mut w = ChunkWriter::new(&mut a, 7);
        w.write_all(&data).unwrap();
        w.finish().unwrap();
        assert_eq!(recv_chunked(&mut b, 7, data.len(), "t").unwrap(), data);
        send_msg(&mut a, 7, &[1; 10]).unwrap();
        assert!(recv_chunked(&mut b, 7, 5, "t").is_err());
    }
}
