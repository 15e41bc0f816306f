//! The transport layer on top of [`crate::channel`]: tagged, length-checked messages, error
//! frames, per-direction byte meters, streaming of large payloads (garbled tables) as bounded
//! frames. It knows nothing of what the payloads mean:
//! the protocol's tags, codecs and handshake live in `protocol::{wire, handshake}`.
//!
//! Every message is one frame: a one-byte tag, then the payload. A receiver names the tag it
//! expects and the largest payload it accepts, so a peer can never make it allocate more
//! than that; a wrong tag, a short or long payload is a [`NetError`], never a panic. A peer
//! that gives up sends an [`TAG_ERROR`] frame with a short reason, which the other side turns
//! into [`NetError::PeerError`].
use crate::channel::{Channel, ChannelError};
use std::io::Write;

pub mod link;
pub mod tls;

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
    /// This side refused the peer (credential, limit); the peer was told why.
    #[error("refused: {0}")]
    Refused(String),
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
    let mut frame = Vec::new();
    recv_frame_into(ch, tag, max_len, what, &mut frame)?;
    frame.remove(0);
    Ok(frame)
}

/// [`recv_msg`] into `frame` (its memory reused): on success `frame` is the tag byte followed
/// by the payload.
fn recv_frame_into<C: Channel + ?Sized>(
    ch: &mut C,
    tag: u8,
    max_len: usize,
    what: &'static str,
    frame: &mut Vec<u8>,
) -> Result<()> {
    ch.recv_into(max_len.max(MAX_REASON).saturating_add(1), frame)?;
    let Some(&got) = frame.first() else {
        return malformed(what, "empty frame");
    };
    if got == TAG_ERROR && tag != TAG_ERROR {
        return Err(peer_error(&frame[1..frame.len().min(MAX_REASON + 1)]));
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
    Ok(())
}

/// The peer's error frame `reason` (at most [`MAX_REASON`] bytes), control characters
/// replaced.
fn peer_error(reason: &[u8]) -> NetError {
    let reason: String = String::from_utf8_lossy(reason)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    NetError::PeerError(reason)
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
    /// The frame being filled: the tag byte, then the payload.
    buf: Vec<u8>,
}

impl<'a, C: Channel + ?Sized> ChunkWriter<'a, C> {
    /// A writer of `tag` frames.
    pub fn new(ch: &'a mut C, tag: u8) -> Self {
        let mut buf = Vec::with_capacity(CHUNK + 1);
        buf.push(tag);
        ChunkWriter { ch, buf }
    }

    /// Sends the buffered frame (the tag byte and up to [`CHUNK`] bytes) as it is, and keeps
    /// its memory for the next one.
    fn send_buf(&mut self) -> std::io::Result<()> {
        if self.buf.len() == 1 {
            return Ok(());
        }
        let r = self
            .ch
            .send(&self.buf)
            .and_then(|()| self.ch.flush())
            .map_err(std::io::Error::other);
        self.buf.truncate(1);
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
        let n = data.len().min(CHUNK + 1 - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK + 1 {
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
    let mut out = Vec::new();
    recv_chunked_into(ch, tag, total, what, &mut out)?;
    Ok(out)
}

/// [`recv_chunked`] into `out` (cleared first; a buffer kept from an earlier stream is
/// refilled without fresh memory when its capacity suffices).
pub fn recv_chunked_into<C: Channel + ?Sized>(
    ch: &mut C,
    tag: u8,
    total: usize,
    what: &'static str,
    out: &mut Vec<u8>,
) -> Result<()> {
    // Each chunk's payload lands in `out` where it belongs (over whatever an earlier stream
    // left there: a kept buffer is neither cleared nor copied into); `out` grows at most one
    // frame past `total`.
    out.reserve(total.saturating_sub(out.len()).min(1 << 30));
    recv_chunks(ch, tag, total, what, out, true)?;
    out.truncate(total);
    Ok(())
}

/// Receives a stream like [`recv_chunked`], checked the same way, and drops it chunk by
/// chunk: the memory it takes is one chunk's, whatever `total` is.
pub fn recv_chunked_discard<C: Channel + ?Sized>(
    ch: &mut C,
    tag: u8,
    total: usize,
    what: &'static str,
) -> Result<()> {
    recv_chunks(ch, tag, total, what, &mut Vec::new(), false)
}

/// The chunks of a `total`-byte stream: each written to `out` at its place when `in_place`,
/// else at the start of `out`, over the one before.
fn recv_chunks<C: Channel + ?Sized>(
    ch: &mut C,
    tag: u8,
    total: usize,
    what: &'static str,
    out: &mut Vec<u8>,
    in_place: bool,
) -> Result<()> {
    let mut pos = 0;
    while pos < total {
        let max = CHUNK.max(MAX_REASON) + 1;
        let at = if in_place { pos } else { 0 };
        let Some((got, k)) = ch.recv_split_at(max, out, at)? else {
            return malformed(what, "empty frame");
        };
        if got == TAG_ERROR && tag != TAG_ERROR {
            return Err(peer_error(&out[at..at + k.min(MAX_REASON)]));
        }
        if got != tag {
            return Err(NetError::UnexpectedTag {
                what,
                expected: tag,
                got,
            });
        }
        if k > CHUNK {
            return malformed(what, format!("{k} bytes, at most {CHUNK} allowed"));
        }
        if k == 0 || pos + k > total {
            return malformed(what, format!("stream overruns its {total} bytes"));
        }
        pos += k;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::MemChannel;

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
        // Into a kept buffer holding an earlier, longer stream: only the new bytes remain.
        let mut kept = vec![9u8; 4 * CHUNK];
        let mut w = ChunkWriter::new(&mut a, 7);
        w.write_all(&data[..CHUNK + 3]).unwrap();
        w.finish().unwrap();
        recv_chunked_into(&mut b, 7, CHUNK + 3, "t", &mut kept).unwrap();
        assert_eq!(kept, &data[..CHUNK + 3]);
        // Dropped as it arrives: checked the same way, the next frame read after it.
        let mut w = ChunkWriter::new(&mut a, 7);
        w.write_all(&data).unwrap();
        w.finish().unwrap();
        send_msg(&mut a, 8, &[5]).unwrap();
        recv_chunked_discard(&mut b, 7, data.len(), "t").unwrap();
        assert_eq!(recv_msg(&mut b, 8, 1, "t").unwrap(), [5]);
        let mut w = ChunkWriter::new(&mut a, 7);
        w.write_all(&data).unwrap();
        w.finish().unwrap();
        assert!(recv_chunked_discard(&mut b, 7, data.len() - 1, "t").is_err());
        // Over TCP (payloads read in place), into a kept buffer shorter than the stream; an
        // error frame mid-stream is the peer's error; a stream longer than announced is refused.
        let (mut a, mut b) = crate::channel::TcpChannel::loopback_pair().unwrap();
        let mut kept = vec![9u8; CHUNK / 2];
        let sender = std::thread::spawn(move || {
            let mut w = ChunkWriter::new(&mut a, 7);
            w.write_all(&(0..3 * CHUNK + 17).map(|i| i as u8).collect::<Vec<_>>())
                .unwrap();
            w.finish().unwrap();
            let mut w = ChunkWriter::new(&mut a, 7);
            w.write_all(&[3; 10]).unwrap();
            w.finish().unwrap();
            send_error(&mut a, "out of tables");
            send_msg(&mut a, 7, &[1; 40]).unwrap();
            a
        });
        recv_chunked_into(&mut b, 7, data.len(), "t", &mut kept).unwrap();
        assert_eq!(kept, data);
        assert!(matches!(
            recv_chunked_into(&mut b, 7, 20, "t", &mut kept),
            Err(NetError::PeerError(r)) if r == "out of tables"
        ));
        assert!(recv_chunked_into(&mut b, 7, 20, "t", &mut kept).is_err());
        drop(sender.join().unwrap());
    }
}
