//! A minimal framed, blocking, two-party channel: the transport the sans-I/O protocol cores
//! (`ot`, later `protocol`) are driven over.
//!
//! A [`Channel`] carries whole frames (byte strings) in order. The receiver of a frame always
//! states the largest frame it is willing to take (`max_len`), so a peer can never make it
//! allocate more than that; a frame that is longer is a typed error, not a panic. Two
//! implementations:
//! * [`MemChannel`] — an in-memory duplex over std `mpsc` queues (tests, in-process benches),
//!   with a receive timeout;
//! * [`TcpChannel`] — TCP, in the clear or inside TLS 1.3 (rustls), with a 4-byte
//!   little-endian length prefix per frame, a hard [`MAX_FRAME`] cap and `TCP_NODELAY`. Deadlines are per whole frame, not per system call:
//!   a frame must be read (or written) completely within the message timeout of its start, and
//!   nothing goes past the session deadline, so a peer that trickles bytes, stops reading or
//!   freezes ends the wait within the deadline.
//!
//! After any error a channel should be dropped: a frame may have been half read or written.
//! The in-memory queue is unbounded (a test transport between trusted threads); the TCP
//! transport allocates no more than the receiver's `max_len` per frame.
//!
//! Both count the payload bytes they moved ([`Channel::bytes_sent`], [`Channel::bytes_received`])
//! so that benchmarks can report bytes per OT.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The largest frame any channel carries (256 MiB).
pub const MAX_FRAME: usize = 1 << 28;

/// Default timeout of a blocking receive (and of a TCP write).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors of a channel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The peer sent a frame longer than the receiver accepts.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// Announced frame length.
        len: usize,
        /// Largest length accepted.
        max: usize,
    },
    /// No frame arrived within the timeout.
    #[error("timed out after {0:?} waiting for the peer")]
    Timeout(Duration),
    /// The peer hung up.
    /// The session's absolute deadline ([`TcpChannel::set_session_deadline`]) passed.
    #[error("the session deadline ({0:?} after its start) passed")]
    SessionDeadline(Duration),
    #[error("the peer closed the channel")]
    Closed,
    /// An I/O error of the underlying transport.
    #[error("transport I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The TLS layer failed (handshake, certificate, a record that does not authenticate).
    #[error("TLS: {0}")]
    Tls(String),
}

/// Result of channel operations.
pub type Result<T> = std::result::Result<T, ChannelError>;

/// A blocking, ordered, framed duplex to one peer.
pub trait Channel {
    /// Sends one frame (at most [`MAX_FRAME`] bytes).
    fn send(&mut self, frame: &[u8]) -> Result<()>;
    /// Receives the next frame; an error if it is longer than `max_len` bytes (nothing larger
    /// than `max_len` is ever allocated).
    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>>;
    /// [`Channel::recv`] into `buf` (replacing its contents), reusing its memory where the
    /// transport can.
    fn recv_into(&mut self, max_len: usize, buf: &mut Vec<u8>) -> Result<()> {
        *buf = self.recv(max_len)?;
        Ok(())
    }
    /// Receives the next frame (at most `max_len` bytes) as its first byte, returned (`None`
    /// for an empty frame), and the rest, written to `out[at..at + k]` where the transport
    /// can read in place; returns `k` too. `out` grows (zero-filled) where it is shorter and
    /// never shrinks: bytes before `at` and after `at + k` are left as they were.
    fn recv_split_at(
        &mut self,
        max_len: usize,
        out: &mut Vec<u8>,
        at: usize,
    ) -> Result<Option<(u8, usize)>> {
        let frame = self.recv(max_len)?;
        let Some((&first, rest)) = frame.split_first() else {
            return Ok(None);
        };
        if out.len() < at + rest.len() {
            out.resize(at + rest.len(), 0);
        }
        out[at..at + rest.len()].copy_from_slice(rest);
        Ok(Some((first, rest.len())))
    }
    /// Flushes buffered output (a no-op where nothing is buffered).
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    /// Payload bytes sent so far (frame headers not counted).
    fn bytes_sent(&self) -> u64;
    /// Payload bytes received so far (frame headers not counted).
    fn bytes_received(&self) -> u64;
}

/// One end of an in-memory duplex; make a pair with [`MemChannel::pair`].
#[derive(Debug)]
pub struct MemChannel {
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Vec<u8>>,
    timeout: Duration,
    sent: u64,
    received: u64,
}

impl MemChannel {
    /// Two connected ends with the [`DEFAULT_TIMEOUT`].
    pub fn pair() -> (MemChannel, MemChannel) {
        MemChannel::pair_with_timeout(DEFAULT_TIMEOUT)
    }

    /// Two connected ends whose receives give up after `timeout`.
    pub fn pair_with_timeout(timeout: Duration) -> (MemChannel, MemChannel) {
        let (tx_a, rx_b) = mpsc::channel();
        let (tx_b, rx_a) = mpsc::channel();
        let end = |tx, rx| MemChannel {
            tx,
            rx,
            timeout,
            sent: 0,
            received: 0,
        };
        (end(tx_a, rx_a), end(tx_b, rx_b))
    }
}

impl Channel for MemChannel {
    fn send(&mut self, frame: &[u8]) -> Result<()> {
        if frame.len() > MAX_FRAME {
            return Err(ChannelError::FrameTooLarge {
                len: frame.len(),
                max: MAX_FRAME,
            });
        }
        self.tx
            .send(frame.to_vec())
            .map_err(|_| ChannelError::Closed)?;
        self.sent += frame.len() as u64;
        Ok(())
    }

    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>> {
        let frame = self.rx.recv_timeout(self.timeout).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => ChannelError::Timeout(self.timeout),
            mpsc::RecvTimeoutError::Disconnected => ChannelError::Closed,
        })?;
        if frame.len() > max_len {
            return Err(ChannelError::FrameTooLarge {
                len: frame.len(),
                max: max_len,
            });
        }
        self.received += frame.len() as u64;
        Ok(frame)
    }

    fn bytes_sent(&self) -> u64 {
        self.sent
    }

    fn bytes_received(&self) -> u64 {
        self.received
    }
}

/// A framed TCP stream, in the clear or inside TLS 1.3 (rustls), or one end of a Unix socket
/// pair (a local child process, [`TcpChannel::unix`]): each frame is a 4-byte little-endian
/// length, then the payload.
#[derive(Debug)]
pub struct TcpChannel {
    stream: Socket,
    /// The TLS session, when the stream carries TLS (its handshake is complete).
    tls: Option<Box<rustls::Connection>>,
    /// Time allowed for one whole frame (length prefix and payload), either direction.
    timeout: Duration,
    /// Absolute end of the session, with its length (for the error), if set.
    session: Option<(Instant, Duration)>,
    sent: u64,
    received: u64,
    /// Bytes written to and read from the socket (length prefixes and TLS records included).
    wire_sent: u64,
    wire_received: u64,
}

/// Largest step by which a receive buffer grows while the payload arrives, so that a peer
/// announcing a large frame and sending little makes the receiver allocate little.
const RECV_CHUNK: usize = 1 << 20;

/// Plaintext rustls may hold encrypted but unsent (bounds the memory a slow reader pins).
const TLS_BUFFER: usize = 1 << 20;

impl TcpChannel {
    /// A channel over `stream` whose frames must each complete within `timeout`.
    pub fn new(stream: TcpStream, timeout: Duration) -> Result<TcpChannel> {
        stream.set_nodelay(true)?;
        Ok(TcpChannel::over(Socket::Tcp(stream), timeout))
    }

    /// A plaintext channel over one end of a Unix socket pair (a parent and the child process
    /// it hands the other end to; no address, so no other process can connect), frames within
    /// `timeout` as [`TcpChannel::new`]. [`TcpChannel::peer_addr`] is an error.
    #[cfg(unix)]
    pub fn unix(stream: std::os::unix::net::UnixStream, timeout: Duration) -> TcpChannel {
        TcpChannel::over(Socket::Unix(stream), timeout)
    }

    fn over(stream: Socket, timeout: Duration) -> TcpChannel {
        TcpChannel {
            stream,
            tls: None,
            timeout,
            session: None,
            sent: 0,
            received: 0,
            wire_sent: 0,
            wire_received: 0,
        }
    }

    /// A TLS server channel over `stream`: the TLS handshake completes within `timeout`.
    pub fn tls_server(
        stream: TcpStream,
        config: std::sync::Arc<rustls::ServerConfig>,
        timeout: Duration,
    ) -> Result<TcpChannel> {
        let conn = rustls::ServerConnection::new(config).map_err(tls_error)?;
        let mut ch = TcpChannel::new(stream, timeout)?;
        ch.start_tls(conn.into())?;
        Ok(ch)
    }

    /// A TLS client channel over `stream` to the server named `name` (checked against its
    /// certificate): the TLS handshake completes within `timeout`.
    pub fn tls_client(
        stream: TcpStream,
        config: std::sync::Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
        timeout: Duration,
    ) -> Result<TcpChannel> {
        let conn = rustls::ClientConnection::new(config, name).map_err(tls_error)?;
        let mut ch = TcpChannel::new(stream, timeout)?;
        ch.start_tls(conn.into())?;
        Ok(ch)
    }

    fn start_tls(&mut self, mut conn: rustls::Connection) -> Result<()> {
        conn.set_buffer_limit(Some(TLS_BUFFER));
        let (deadline, late) = self.frame_deadline();
        while conn.is_handshaking() {
            if conn.wants_write() {
                self.flush_tls(&mut conn, deadline, &late)?;
            } else {
                self.read_tls(&mut conn, deadline, &late)?;
            }
        }
        self.flush_tls(&mut conn, deadline, &late)?;
        self.tls = Some(Box::new(conn));
        Ok(())
    }

    /// Whether the channel carries TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Bytes written to the socket so far: payload plus framing and, under TLS, the
    /// handshake and record overhead.
    pub fn wire_bytes_sent(&self) -> u64 {
        self.wire_sent
    }

    /// Bytes read from the socket so far (see [`TcpChannel::wire_bytes_sent`]).
    pub fn wire_bytes_received(&self) -> u64 {
        self.wire_received
    }

    /// Closes after an error frame so that the peer can read it: ends this side's output
    /// (TLS close_notify, then a TCP half-close) and discards what the peer still sends, for
    /// at most `linger` and `cap` bytes. Closing with unread input would make the kernel reset
    /// the connection, and a peer still sending would lose the frame that says why.
    pub fn linger_close(mut self, linger: Duration, cap: usize) {
        let end = Instant::now() + linger;
        if let Some(mut conn) = self.tls.take() {
            conn.send_close_notify();
            let _ = self.flush_tls(&mut conn, end, &ChannelError::Closed);
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let mut buf = vec![0u8; 64 * 1024];
        let mut drained = 0usize;
        while drained < cap {
            let Some(left) = Self::remaining(end) else {
                break;
            };
            if self.stream.set_read_timeout(Some(left)).is_err() {
                break;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => drained += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        Ok(self.stream.peer_addr()?)
    }

    /// Ends every later send or receive with [`ChannelError::SessionDeadline`] once `length`
    /// has passed from now (a frame in progress is cut at that instant).
    pub fn set_session_deadline(&mut self, length: Duration) {
        self.session = Some((Instant::now() + length, length));
    }

    /// The per-frame timeout.
    pub fn message_timeout(&self) -> Duration {
        self.timeout
    }

    pub fn connect(addr: SocketAddr) -> Result<TcpChannel> {
        let stream = TcpStream::connect_timeout(&addr, DEFAULT_TIMEOUT)?;
        TcpChannel::new(stream, DEFAULT_TIMEOUT)
    }

    pub fn accept(listener: &TcpListener) -> Result<TcpChannel> {
        let (stream, _) = listener.accept()?;
        TcpChannel::new(stream, DEFAULT_TIMEOUT)
    }

    pub fn loopback_pair() -> Result<(TcpChannel, TcpChannel)> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let client = std::thread::spawn(move || TcpChannel::connect(addr));
        let server = TcpChannel::accept(&listener)?;
        let client = client.join().map_err(|_| ChannelError::Closed)??;
        Ok((server, client))
    }

    /// The deadline of a frame that starts now, and the error to give when it passes.
    fn frame_deadline(&self) -> (Instant, ChannelError) {
        let message = Instant::now() + self.timeout;
        match self.session {
            Some((end, length)) if end < message => (end, ChannelError::SessionDeadline(length)),
            _ => (message, ChannelError::Timeout(self.timeout)),
        }
    }

    /// Time left until `deadline` as a socket timeout (never zero: the OS refuses zero), or
    /// `None` when it has passed.
    fn remaining(deadline: Instant) -> Option<Duration> {
        let left = deadline.saturating_duration_since(Instant::now());
        (left >= Duration::from_millis(1)).then_some(left)
    }

    /// Reads exactly `buf.len()` payload bytes before `deadline`.
    fn read_by(&mut self, buf: &mut [u8], deadline: Instant, late: &ChannelError) -> Result<()> {
        if let Some(mut conn) = self.tls.take() {
            let r = self.read_tls_plaintext(&mut conn, buf, deadline, late);
            self.tls = Some(conn);
            return r;
        }
        let mut done = 0;
        while done < buf.len() {
            let left = Self::remaining(deadline).ok_or_else(|| late.duplicate())?;
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut buf[done..]) {
                Ok(0) => return Err(ChannelError::Closed),
                Ok(k) => {
                    done += k;
                    self.wire_received += k as u64;
                }
                Err(e) if is_retry(&e) => {}
                Err(e) => return Err(map_io(e, self.timeout)),
            }
        }
        Ok(())
    }

    /// Writes all of `buf` (payload) before `deadline`.
    fn write_by(&mut self, buf: &[u8], deadline: Instant, late: &ChannelError) -> Result<()> {
        if let Some(mut conn) = self.tls.take() {
            let r = self.write_tls_plaintext(&mut conn, buf, deadline, late);
            self.tls = Some(conn);
            return r;
        }
        self.write_raw(buf, deadline, late)
    }

    fn write_raw(&mut self, buf: &[u8], deadline: Instant, late: &ChannelError) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let left = Self::remaining(deadline).ok_or_else(|| late.duplicate())?;
            self.stream.set_write_timeout(Some(left))?;
            match self.stream.write(&buf[done..]) {
                Ok(0) => return Err(ChannelError::Closed),
                Ok(k) => {
                    done += k;
                    self.wire_sent += k as u64;
                }
                Err(e) if is_retry(&e) => {}
                Err(e) => return Err(map_io(e, self.timeout)),
            }
        }
        Ok(())
    }

    /// Reads TLS records from the socket once (waiting at most until `deadline`) and
    /// processes them; a record that does not authenticate ends the channel.
    fn read_tls(
        &mut self,
        conn: &mut rustls::Connection,
        deadline: Instant,
        late: &ChannelError,
    ) -> Result<()> {
        loop {
            let left = Self::remaining(deadline).ok_or_else(|| late.duplicate())?;
            self.stream.set_read_timeout(Some(left))?;
            let mut counted = Counted(&mut self.stream, 0);
            let r = conn.read_tls(&mut counted);
            self.wire_received += counted.1;
            match r {
                Ok(0) => return Err(ChannelError::Closed),
                Ok(_) => break,
                Err(e) if is_retry(&e) => {}
                Err(e) => return Err(map_io(e, self.timeout)),
            }
        }
        if let Err(e) = conn.process_new_packets() {
            // Tell the peer (a TLS alert), best effort, then fail.
            let _ = self.flush_tls(conn, deadline, late);
            return Err(tls_error(e));
        }
        Ok(())
    }

    /// Writes every pending TLS record before `deadline`.
    fn flush_tls(
        &mut self,
        conn: &mut rustls::Connection,
        deadline: Instant,
        late: &ChannelError,
    ) -> Result<()> {
        while conn.wants_write() {
            let left = Self::remaining(deadline).ok_or_else(|| late.duplicate())?;
            self.stream.set_write_timeout(Some(left))?;
            let mut counted = Counted(&mut self.stream, 0);
            let r = conn.write_tls(&mut counted);
            self.wire_sent += counted.1;
            match r {
                Ok(0) => return Err(ChannelError::Closed),
                Ok(_) => {}
                Err(e) if is_retry(&e) => {}
                Err(e) => return Err(map_io(e, self.timeout)),
            }
        }
        Ok(())
    }

    fn read_tls_plaintext(
        &mut self,
        conn: &mut rustls::Connection,
        buf: &mut [u8],
        deadline: Instant,
        late: &ChannelError,
    ) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match conn.reader().read(&mut buf[done..]) {
                // The peer closed the TLS session (close_notify).
                Ok(0) => return Err(ChannelError::Closed),
                Ok(k) => {
                    done += k;
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(map_io(e, self.timeout)),
            }
            self.read_tls(conn, deadline, late)?;
            // Key updates and alerts are answered at once.
            self.flush_tls(conn, deadline, late)?;
        }
        Ok(())
    }

    fn write_tls_plaintext(
        &mut self,
        conn: &mut rustls::Connection,
        buf: &[u8],
        deadline: Instant,
        late: &ChannelError,
    ) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            // Accepts at most what the buffer limit leaves, encrypted at once.
            done += conn.writer().write(&buf[done..])?;
            self.flush_tls(conn, deadline, late)?;
        }
        Ok(())
    }
}

/// The socket under a [`TcpChannel`].
#[derive(Debug)]
enum Socket {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl Socket {
    fn set_read_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            Socket::Tcp(s) => s.set_read_timeout(t),
            #[cfg(unix)]
            Socket::Unix(s) => s.set_read_timeout(t),
        }
    }

    fn set_write_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            Socket::Tcp(s) => s.set_write_timeout(t),
            #[cfg(unix)]
            Socket::Unix(s) => s.set_write_timeout(t),
        }
    }

    fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
        match self {
            Socket::Tcp(s) => s.shutdown(how),
            #[cfg(unix)]
            Socket::Unix(s) => s.shutdown(how),
        }
    }

    fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Socket::Tcp(s) => s.peer_addr(),
            #[cfg(unix)]
            Socket::Unix(_) => Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "a Unix socket pair has no network peer address",
            )),
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Socket::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Socket::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Socket::Tcp(s) => s.flush(),
            #[cfg(unix)]
            Socket::Unix(s) => s.flush(),
        }
    }
}

/// A socket that counts the bytes it moves.
struct Counted<'a>(&'a mut Socket, u64);

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.0.read(buf)?;
        self.1 += k as u64;
        Ok(k)
    }
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.0.write(buf)?;
        self.1 += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn tls_error(e: rustls::Error) -> ChannelError {
    let hint = match &e {
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            " (the peer does not speak TLS: a plaintext client or server?)"
        }
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
            " (not signed by a trusted CA: give its CA with --tls-ca)"
        }
        rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
        | rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForNameContext { .. },
        ) => " (connect by a name the certificate carries, or give --tls-name)",
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(_))
            if e.to_string().contains("CaUsedAsEndEntity") =>
        {
            " (the server's certificate is a CA certificate: serve a leaf certificate signed by a CA, e.g. from `gazelle cert`)"
        }
        _ => "",
    };
    ChannelError::Tls(format!("{e}{hint}"))
}

/// Whether a frame's length prefix is the start of a TLS record (handshake or alert): the
/// peer speaks TLS while this side does not.
fn looks_like_tls(prefix: &[u8; 4]) -> bool {
    matches!(prefix, [0x15 | 0x16, 0x03, 0x01..=0x04, _])
}

impl ChannelError {
    /// A copy of a deadline error (the only kinds [`TcpChannel`] repeats).
    fn duplicate(&self) -> ChannelError {
        match self {
            ChannelError::SessionDeadline(d) => ChannelError::SessionDeadline(*d),
            ChannelError::Timeout(d) => ChannelError::Timeout(*d),
            _ => ChannelError::Closed,
        }
    }
}

fn map_io(e: std::io::Error, timeout: Duration) -> ChannelError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::BrokenPipe => ChannelError::Closed,
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            ChannelError::Timeout(timeout)
        }
        _ => ChannelError::Io(e),
    }
}

/// Whether a socket error only means "not yet": the deadline loop decides when to give up.
fn is_retry(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::Interrupted
            | std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::TimedOut
    )
}

impl Channel for TcpChannel {
    fn send(&mut self, frame: &[u8]) -> Result<()> {
        if frame.len() > MAX_FRAME {
            return Err(ChannelError::FrameTooLarge {
                len: frame.len(),
                max: MAX_FRAME,
            });
        }
        let (deadline, late) = self.frame_deadline();
        // MAX_FRAME < 2^32, so the length fits the prefix.
        let len = (frame.len() as u32).to_le_bytes();
        self.write_by(&len, deadline, &late)?;
        self.write_by(frame, deadline, &late)?;
        self.sent += frame.len() as u64;
        Ok(())
    }

    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>> {
        let mut frame = Vec::new();
        self.recv_into(max_len, &mut frame)?;
        Ok(frame)
    }

    fn recv_into(&mut self, max_len: usize, buf: &mut Vec<u8>) -> Result<()> {
        let (deadline, late, len) = self.recv_header(max_len)?;
        // Bytes already in `buf` (an earlier frame) are overwritten in place, not zeroed
        // first; it grows by at most RECV_CHUNK ahead of what arrived (a peer announcing a
        // large frame and sending nothing costs that much memory, not the frame's length).
        self.recv_payload(buf, 0, len, deadline, &late)?;
        buf.truncate(len);
        self.received += len as u64;
        Ok(())
    }

    fn recv_split_at(
        &mut self,
        max_len: usize,
        out: &mut Vec<u8>,
        at: usize,
    ) -> Result<Option<(u8, usize)>> {
        let (deadline, late, len) = self.recv_header(max_len)?;
        if len == 0 {
            return Ok(None);
        }
        let mut first = [0u8; 1];
        self.read_by(&mut first, deadline, &late)?;
        // Straight into the caller's memory (e.g. a kept table buffer): no frame copy.
        self.recv_payload(out, at, len - 1, deadline, &late)?;
        self.received += len as u64;
        Ok(Some((first[0], len - 1)))
    }

    fn flush(&mut self) -> Result<()> {
        // Writes go straight to the socket (no user-space buffer): nothing to flush.
        Ok(())
    }

    fn bytes_sent(&self) -> u64 {
        self.sent
    }

    fn bytes_received(&self) -> u64 {
        self.received
    }
}

impl TcpChannel {
    /// Reads the next frame's length prefix and checks it against `max_len` and
    /// [`MAX_FRAME`]; returns the frame's deadline with its error and the length.
    fn recv_header(&mut self, max_len: usize) -> Result<(Instant, ChannelError, usize)> {
        let mut len = [0u8; 4];
        // The frame's clock starts with its first byte: an idle peer between frames is bounded
        // by the same timeout (and the session deadline), a trickling one by the whole frame.
        let (deadline, late) = self.frame_deadline();
        self.read_by(&mut len, deadline, &late)?;
        if self.tls.is_none() && self.received == 0 && looks_like_tls(&len) {
            return Err(ChannelError::Tls(
                "the peer speaks TLS and this side does not (client: --tls or --tls-ca)".into(),
            ));
        }
        let len = u32::from_le_bytes(len) as usize;
        let max = max_len.min(MAX_FRAME);
        if len > max {
            return Err(ChannelError::FrameTooLarge { len, max });
        }
        Ok((deadline, late, len))
    }

    /// Reads `len` payload bytes into `buf[at..at + len]`, overwriting what is there and
    /// growing `buf` by at most [`RECV_CHUNK`] ahead of what arrived.
    fn recv_payload(
        &mut self,
        buf: &mut Vec<u8>,
        at: usize,
        len: usize,
        deadline: Instant,
        late: &ChannelError,
    ) -> Result<()> {
        let mut filled = 0;
        while filled < len {
            let end = len.min(filled + RECV_CHUNK);
            if buf.len() < at + end {
                buf.resize(at + end, 0);
            }
            self.read_by(&mut buf[at + filled..at + end], deadline, late)?;
            filled = end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(a: &mut impl Channel, b: &mut impl Channel) {
        a.send(b"hello").unwrap();
        a.send(&[]).unwrap();
        let mut buf = vec![9u8; 3];
        b.recv_into(16, &mut buf).unwrap();
        assert_eq!(buf, b"hello");
        b.recv_into(16, &mut buf).unwrap();
        assert_eq!(buf, b"");
        // Into a buffer longer than the frame (an earlier, longer frame's memory).
        a.send(b"hi").unwrap();
        let mut long = vec![9u8; 10];
        b.recv_into(16, &mut long).unwrap();
        assert_eq!(long, b"hi");
        b.send(&[7u8; 100]).unwrap();
        assert!(matches!(
            a.recv(99),
            Err(ChannelError::FrameTooLarge { len: 100, max: 99 })
        ));
        assert_eq!(a.bytes_sent(), 7);
        assert_eq!(b.bytes_received(), 7);
    }

    /// `recv_split_at`: the first byte apart, the rest over `out[at..]`, the rest of `out`
    /// kept; an empty frame is `None`; the length limit holds.
    fn split_exchange(a: &mut impl Channel, b: &mut impl Channel) {
        a.send(b"\x07abc").unwrap();
        let mut out = vec![1u8; 2];
        assert_eq!(b.recv_split_at(16, &mut out, 4).unwrap(), Some((7, 3)));
        assert_eq!(out, [1, 1, 0, 0, b'a', b'b', b'c']);
        a.send(b"\x09z").unwrap();
        assert_eq!(b.recv_split_at(16, &mut out, 1).unwrap(), Some((9, 1)));
        assert_eq!(out, [1, b'z', 0, 0, b'a', b'b', b'c']);
        a.send(&[]).unwrap();
        assert_eq!(b.recv_split_at(16, &mut out, 0).unwrap(), None);
        assert_eq!(out.len(), 7);
        assert_eq!(b.bytes_received(), 6);
        a.send(&[5u8; 20]).unwrap();
        assert!(matches!(
            b.recv_split_at(19, &mut out, 0),
            Err(ChannelError::FrameTooLarge { len: 20, max: 19 })
        ));
    }

    #[test]
    fn mem_channel_frames_and_limits() {
        let (mut a, mut b) = MemChannel::pair();
        exchange(&mut a, &mut b);
        let (mut a, mut b) = MemChannel::pair();
        split_exchange(&mut a, &mut b);
    }

    #[test]
    fn mem_channel_timeout_and_close() {
        let (mut a, b) = MemChannel::pair_with_timeout(Duration::from_millis(10));
        assert!(matches!(a.recv(1), Err(ChannelError::Timeout(_))));
        drop(b);
        assert!(matches!(a.recv(1), Err(ChannelError::Closed)));
        assert!(matches!(a.send(b"x"), Err(ChannelError::Closed)));
    }

    #[test]
    fn tcp_channel_frames_and_limits() {
        let (mut a, mut b) = TcpChannel::loopback_pair().unwrap();
        exchange(&mut a, &mut b);
        let (mut a, mut b) = TcpChannel::loopback_pair().unwrap();
        split_exchange(&mut a, &mut b);
    }

    #[test]
    fn tcp_channel_rejects_huge_length_prefix_without_allocating() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut raw = TcpStream::connect(addr).unwrap();
        let mut ch = TcpChannel::accept(&listener).unwrap();
        raw.write_all(&u32::MAX.to_le_bytes()).unwrap();
        assert!(matches!(
            ch.recv(usize::MAX),
            Err(ChannelError::FrameTooLarge { .. })
        ));
        drop(raw);
        assert!(matches!(ch.recv(10), Err(ChannelError::Closed)));
    }

    /// A peer that sends one byte at a time, each well within the timeout, is cut off when
    /// the whole frame's time is up.
    #[test]
    fn tcp_trickling_sender_is_cut_at_the_frame_deadline() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let trickle = std::thread::spawn(move || {
            let mut raw = TcpStream::connect(addr).unwrap();
            raw.write_all(&100u32.to_le_bytes()).unwrap();
            for _ in 0..40 {
                if raw.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let (stream, _) = listener.accept().unwrap();
        let mut ch = TcpChannel::new(stream, Duration::from_millis(400)).unwrap();
        let t = Instant::now();
        assert!(matches!(ch.recv(1000), Err(ChannelError::Timeout(_))));
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(390) && took < Duration::from_millis(1400),
            "{took:?}"
        );
        trickle.join().unwrap();
    }

    /// A peer that stops reading makes a large send fail at the frame deadline, and the session
    /// deadline bounds a frame even when the message timeout is longer.
    #[test]
    fn tcp_stalled_reader_and_session_deadline() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let raw = TcpStream::connect(addr).unwrap();
        let (stream, _) = listener.accept().unwrap();
        let mut ch = TcpChannel::new(stream, Duration::from_millis(300)).unwrap();
        let big = vec![7u8; 64 << 20];
        let t = Instant::now();
        assert!(matches!(ch.send(&big), Err(ChannelError::Timeout(_))));
        assert!(
            t.elapsed() < Duration::from_millis(1300),
            "{:?}",
            t.elapsed()
        );

        let (stream, _) = (TcpStream::connect(addr).unwrap(), ());
        let mut idle = TcpChannel::new(stream, Duration::from_secs(30)).unwrap();
        idle.set_session_deadline(Duration::from_millis(200));
        let t = Instant::now();
        assert!(matches!(
            idle.recv(10),
            Err(ChannelError::SessionDeadline(_))
        ));
        assert!(
            t.elapsed() < Duration::from_millis(1200),
            "{:?}",
            t.elapsed()
        );
        assert!(matches!(
            idle.send(b"late"),
            Err(ChannelError::SessionDeadline(_))
        ));
        drop(raw);
    }
}
