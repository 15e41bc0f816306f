//! The logic behind the `serve`, `infer` and `demo` commands (the CLI only parses arguments).
use super::access::AccessPolicy;
use super::exporter::{spawn_exporter, ServeMetrics};
use super::handshake::Credential;
use super::{Client, ProtocolError, QueryReport, Server, ServerConfig};
use crate::channel::TcpChannel;
use crate::data::{self, Polarity};
use crate::he::params::ParamSetId;
use crate::nn::{self, Model};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default per-message timeout of a session (a stalled peer ends its session after this).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(60);

/// Boxed error of the command-line entry points.
pub type CliResult<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// How [`serve_until`] runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Most sessions at once.
    pub max_sessions: usize,
    /// Deadline per whole frame of a session (`--message-deadline`).
    pub timeout: Duration,
    /// Deadline of a whole session: handshake, keys and every query (`--session-deadline`).
    pub session_deadline: Duration,
    /// How long a shutdown waits for running sessions.
    pub grace: Duration,
    /// Where sessions are counted and timed (`serve --metrics`).
    pub metrics: Option<Arc<ServeMetrics>>,
    /// TLS 1.3 for every connection (`--tls-cert`, `--tls-key`); `None`: plaintext.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Serve plaintext on an address that is not loopback (`--insecure-plaintext`).
    pub insecure_plaintext: bool,
    /// Tokens and per-client limits.
    pub access: Arc<AccessPolicy>,
    /// Private queries (synthetic inputs) the server runs against itself before it accepts
    /// connections, so that the first client's query finds warm memory (`--warmup-queries`).
    pub warmup_queries: usize,
    /// The `gazelle` executable that runs the warm-up's client in a child process (its hidden
    /// `warm-up-client` command; see [`warm_up_in_child`]); `None`: the client runs in this
    /// process, whose peak memory then holds a client's as well as a session's.
    pub warmup_client: Option<std::path::PathBuf>,
}

impl Default for ServeOptions {
    /// A library caller's minimal server (what `demo` and the tests run): no warm-up and no
    /// grace period, unlike `gazelle serve` (1 warm-up query, 30 s).
    fn default() -> Self {
        ServeOptions {
            max_sessions: 4,
            timeout: SESSION_TIMEOUT,
            session_deadline: SESSION_DEADLINE,
            grace: Duration::ZERO,
            metrics: None,
            tls: None,
            insecure_plaintext: false,
            access: Arc::new(AccessPolicy::open()),
            warmup_queries: 0,
            warmup_client: None,
        }
    }
}

/// Runs a session of `queries` private queries on synthetic inputs against `server` inside
/// this process (an in-memory channel; no connection, no metrics, no access check), its
/// client a rehearsal's (`Client::connect_rehearsal`: the server's work is a query's, the
/// client keeps and evaluates no garbled table), so that
/// a client's first query does not pay for cold memory: with freed memory kept for reuse
/// (`kernels::mem::retain_freed_memory`) the allocator's arenas stay grown, the worker pools
/// are started and the code is paged in. Returns the time it took.
pub fn warm_up(server: &Arc<Server>, queries: usize) -> CliResult<Duration> {
    let start = Instant::now();
    if queries == 0 {
        return Ok(Duration::ZERO);
    }
    let (mut client_end, mut server_end) = crate::channel::MemChannel::pair();
    let srv = server.clone();
    let serving = std::thread::Builder::new()
        .name("gazelle-warmup".into())
        .spawn(move || srv.serve_session(&mut server_end, |_| {}).map(|_| ()))?;
    let mut run = || -> std::result::Result<(), ProtocolError> {
        let client = Client::connect_rehearsal(&mut client_end, server.param_set())?;
        synthetic_queries(client, queries)
    };
    let ran = run();
    drop(client_end);
    let served = serving
        .join()
        .map_err(|_| "warm-up: the server's session panicked".to_string())?;
    ran.map_err(|e| format!("warm-up query failed: {e}"))?;
    served.map_err(|e| format!("warm-up session failed: {e}"))?;
    Ok(start.elapsed())
}

/// The hidden command of the `gazelle` executable that runs [`warm_up_client`].
pub const WARM_UP_CLIENT_COMMAND: &str = "warm-up-client";

/// Where a warm-up's client ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarmUpClient {
    /// In a child process ([`warm_up_in_child`]).
    Child,
    /// In this process ([`warm_up`]).
    InProcess,
}

/// [`warm_up`] with the client in a child process, `exe WARM_UP_CLIENT_COMMAND --params SET
/// --queries N` (`exe`: the `gazelle` executable), whose stdin is one end of a Unix socket
/// pair and this process serves the other: no address, so no other process can take part.
/// The server's memory is warmed as by [`warm_up`], but what this process peaks at and keeps
/// resident afterwards is a session's only; the client's state lives in the child (a
/// rehearsal's: its keys and a chunk of garbled tables at a time). Everything ends within `deadline` (the child is killed then). If `exe` cannot
/// be started, or off Unix, the warm-up runs in this process and a warning says so.
pub fn warm_up_in_child(
    server: &Arc<Server>,
    queries: usize,
    exe: &std::path::Path,
    deadline: Duration,
) -> CliResult<(Duration, WarmUpClient)> {
    #[cfg(not(unix))]
    {
        let _ = (exe, deadline);
        tracing::warn!("warm-up: no child process off Unix; its client runs in this process");
        Ok((warm_up(server, queries)?, WarmUpClient::InProcess))
    }
    #[cfg(unix)]
    {
        let start = Instant::now();
        if queries == 0 {
            return Ok((Duration::ZERO, WarmUpClient::Child));
        }
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        // The Command (and with it this process's copy of the child's end) is dropped at the
        // end of the statement, so that the child's exit reads as end of stream here.
        let spawned = std::process::Command::new(exe)
            .arg(WARM_UP_CLIENT_COMMAND)
            .args(["--params", server.param_set().name()])
            .args(["--queries", &queries.to_string()])
            .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(
                theirs,
            )))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => KillOnDrop(child),
            Err(e) => {
                tracing::warn!(
                    "warm-up: cannot start {} ({e}); its client runs in this process instead",
                    exe.display()
                );
                return Ok((warm_up(server, queries)?, WarmUpClient::InProcess));
            }
        };
        // What the child prints goes to this process's log as events (plain lines would break
        // `--log-format json`); its last line is kept for the error below.
        let said = Arc::new(std::sync::Mutex::new(None::<String>));
        let relay = child.0.stderr.take().map(|stderr| {
            let said = said.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stderr)
                    .lines()
                    .map_while(|l| l.ok())
                {
                    tracing::warn!("warm-up client: {line}");
                    let kept: String = line.chars().take(300).collect();
                    if let Ok(mut s) = said.lock() {
                        *s = Some(kept);
                    }
                }
            })
        });
        // The session runs on a thread that then exits, so that its allocator arena (kept
        // grown: `kernels::mem::retain_freed_memory`) goes back to glibc's free list, where the
        // first connection's thread takes it up; on this thread it would stay with this thread.
        let served = std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("gazelle-warmup".into())
                .spawn_scoped(scope, || {
                    let mut ch = TcpChannel::unix(ours, SESSION_TIMEOUT);
                    ch.set_session_deadline(deadline);
                    server.serve_session(&mut ch, |_| {}).map(|_| ())
                })?
                .join()
                .map_err(|_| -> Box<dyn std::error::Error + Send + Sync> {
                    "warm-up: the server's session panicked".into()
                })
        })?;
        if let Err(e) = served {
            // The child's own end (a crash, a refusal) says more than the closed socket.
            let Some(status) = wait_for_exit(&mut child.0, Duration::from_secs(2)) else {
                return Err(format!("warm-up session failed: {e}").into());
            };
            // Its stderr is closed once it has exited: the relay ends.
            if let Some(relay) = relay {
                let _ = relay.join();
            }
            let said = said.lock().ok().and_then(|s| s.clone());
            return Err(match said {
                Some(line) => format!(
                    "warm-up session failed: {e} (the client process: {status}; it said: {line})"
                ),
                None => format!("warm-up session failed: {e} (the client process: {status})"),
            }
            .into());
        }
        match wait_for_exit(&mut child.0, deadline.saturating_sub(start.elapsed())) {
            Some(status) if status.success() => Ok((start.elapsed(), WarmUpClient::Child)),
            Some(status) => Err(format!("warm-up: the client process failed ({status})").into()),
            None => {
                Err(format!("warm-up: the client process did not exit within {deadline:?}").into())
            }
        }
    }
}

/// The child's exit status once it has exited, waiting at most `limit`.
#[cfg(unix)]
fn wait_for_exit(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < end => std::thread::sleep(ACCEPT_POLL),
            _ => return None,
        }
    }
}

/// The child's side of [`warm_up_in_child`]: one rehearsal's session of `queries` private
/// queries on synthetic inputs, for whatever model the server serves, over the socket this process
/// was given as its stdin (an error if stdin is not a socket: the command is `serve`'s).
#[cfg(unix)]
pub fn warm_up_client(param_set: ParamSetId, queries: usize) -> CliResult<()> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned()?;
    let stream = std::os::unix::net::UnixStream::from(fd);
    if stream.local_addr().is_err() {
        return Err(format!(
            "stdin is not a socket: `{WARM_UP_CLIENT_COMMAND}` is run by `gazelle serve` for its warm-up"
        )
        .into());
    }
    let mut ch = TcpChannel::unix(stream, SESSION_TIMEOUT);
    synthetic_queries(Client::connect_rehearsal(&mut ch, param_set)?, queries)?;
    Ok(())
}

/// A warm-up's queries, in this process or a child: `queries` private queries on synthetic
/// inputs (the same ones every time), then goodbye.
fn synthetic_queries<C: crate::channel::Channel>(
    mut client: Client<'_, C>,
    queries: usize,
) -> std::result::Result<(), ProtocolError> {
    let model = client.model().clone();
    for img in nn::eval::synthetic_images(&model, queries, 11) {
        client.query(&model.input().encode_fixed(&img))?;
    }
    client.finish()
}

/// A child process killed (and reaped) when dropped, unless it has exited.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// How often the accept loop looks at the stop flag when no connection is waiting.
const ACCEPT_POLL: Duration = Duration::from_millis(10);

/// Serves `server` on `listener`: one thread per connection, at most `max_sessions` at once
/// (a connection over the limit is told the server is busy and closed). Each session's
/// outcome is logged to stderr; a failing session never affects the others. When `stop` is
/// set (SIGTERM/SIGINT in `gazelle serve`): no new connection is accepted, every session
/// finishes the query it is running and is then told the server is shutting down
/// ([`Server::drain`]), and this returns once they have all ended or `grace` has passed.
pub fn serve_until(
    server: Arc<Server>,
    listener: TcpListener,
    run: &ServeOptions,
    stop: &AtomicBool,
) -> CliResult<()> {
    let (max_sessions, grace) = (run.max_sessions, run.grace);
    let active = Arc::new(AtomicUsize::new(0));
    let mut next_id = 0u64;
    let mut backoff = AcceptBackoff::default();
    // Non-blocking, so that the loop sees `stop` without a connection arriving.
    listener.set_nonblocking(true)?;
    while !stop.load(Ordering::SeqCst) {
        let stream = match listener.accept() {
            Ok((s, _)) => {
                backoff.reset();
                if let Err(e) = s.set_nonblocking(false) {
                    tracing::warn!(error = %e, "cannot configure a connection");
                    continue;
                }
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
            Err(e) => {
                // Out of descriptors (EMFILE/ENFILE) or another transient failure: wait before
                // the next accept instead of spinning, and log at most once a second.
                backoff.wait(&e);
                continue;
            }
        };
        next_id += 1;
        let id = next_id;
        let peer = stream
            .peer_addr()
            .map_or_else(|_| "?".to_string(), |a| a.to_string());
        let Some(slot) = SessionSlot::take(&active, max_sessions, run.metrics.clone()) else {
            if let Some(m) = &run.metrics {
                m.refused();
            }
            let reason =
                format!("server busy ({max_sessions}/{max_sessions} sessions), retry later");
            refuse(stream, run.tls.clone(), reason);
            tracing::warn!(
                session = id,
                peer,
                limit = max_sessions,
                "refused: server busy"
            );
            continue;
        };
        let server = server.clone();
        let run = run.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("session-{id}"))
            .spawn(move || {
                // Released when the thread ends, also by a panic.
                let _slot = slot;
                run_session(&server, stream, &run, id, &peer);
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a session thread");
        }
    }
    drop(listener);
    server.drain();
    if let Some(m) = &run.metrics {
        m.set_draining();
    }
    tracing::info!(
        sessions = active.load(Ordering::SeqCst),
        grace_s = grace.as_secs_f64(),
        "shutting down: accepting no more connections; running sessions finish their current query"
    );
    let t = Instant::now();
    while active.load(Ordering::SeqCst) > 0 && t.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(20));
    }
    match active.load(Ordering::SeqCst) {
        0 => tracing::info!("every session has ended; exiting"),
        n => tracing::warn!(
            cut_off = n,
            "grace period over; exiting with sessions cut off"
        ),
    }
    Ok(())
}

/// Wall-clock limit of a whole session (handshake, key upload and every query): a peer that
/// keeps a slot busy longer is cut off.
pub const SESSION_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// One of the server's `max_sessions` slots, given back on drop (also when the session's
/// thread panics), and counted in the active-sessions gauge meanwhile.
#[derive(Debug)]
struct SessionSlot(Arc<AtomicUsize>, Option<Arc<ServeMetrics>>);

impl SessionSlot {
    fn take(
        active: &Arc<AtomicUsize>,
        max: usize,
        metrics: Option<Arc<ServeMetrics>>,
    ) -> Option<SessionSlot> {
        active
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        if let Some(m) = &metrics {
            m.session_started();
        }
        Some(SessionSlot(active.clone(), metrics))
    }
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        if let Some(m) = &self.1 {
            m.session_finished();
        }
    }
}

/// Exponential back-off (10 ms to 1 s) for a failing `accept`, with its log rate-limited.
#[derive(Debug, Default)]
struct AcceptBackoff {
    delay: Duration,
    last_log: Option<Instant>,
    suppressed: u64,
}

impl AcceptBackoff {
    fn reset(&mut self) {
        self.delay = Duration::ZERO;
    }

    fn wait(&mut self, e: &std::io::Error) {
        self.delay = (self.delay * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
        if self
            .last_log
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            tracing::error!(
                error = %e,
                retry_ms = self.delay.as_millis() as u64,
                suppressed = self.suppressed,
                "accept failed"
            );
            self.last_log = Some(Instant::now());
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
        std::thread::sleep(self.delay);
    }
}

/// Refusals being told at once; beyond this a refused connection is closed without a word
/// (a flood of connections cannot make the server start threads without bound).
const MAX_REFUSALS_IN_FLIGHT: usize = 64;

/// Refusal threads running now.
static REFUSALS_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Tells a connection over the session limit why it is refused, on a thread of its own
/// (under TLS the handshake comes first; neither may hold up the accept loop), within 2 s
/// plus a 2 s linger; at most [`MAX_REFUSALS_IN_FLIGHT`] at once.
fn refuse(stream: TcpStream, tls: Option<Arc<rustls::ServerConfig>>, reason: String) {
    const REFUSAL_DEADLINE: Duration = Duration::from_secs(2);
    let taken = REFUSALS_IN_FLIGHT.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
        (n < MAX_REFUSALS_IN_FLIGHT).then_some(n + 1)
    });
    if taken.is_err() {
        return; // dropped: closed without a word
    }
    let send = move || {
        let ch = match tls {
            Some(cfg) => TcpChannel::tls_server(stream, cfg, REFUSAL_DEADLINE),
            None => TcpChannel::new(stream, REFUSAL_DEADLINE),
        };
        if let Ok(mut ch) = ch {
            crate::net::send_error(&mut ch, &reason);
            ch.linger_close(REFUSAL_DEADLINE, 1 << 20);
        }
        REFUSALS_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    };
    if std::thread::Builder::new()
        .name("refusal".into())
        .spawn(send)
        .is_err()
    {
        REFUSALS_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        tracing::error!("cannot start a thread to refuse a connection");
    }
}

fn run_session(server: &Server, stream: TcpStream, run: &ServeOptions, id: u64, peer: &str) {
    let metrics = run.metrics.as_deref();
    let ip = stream
        .peer_addr()
        .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |a| a.ip());
    let t = Instant::now();
    let ch = match &run.tls {
        Some(cfg) => TcpChannel::tls_server(stream, cfg.clone(), run.timeout),
        None => TcpChannel::new(stream, run.timeout),
    };
    let mut ch = match ch {
        Ok(c) => c,
        Err(e) => {
            let e = ProtocolError::from(e);
            let kind = error_kind(&e);
            tracing::warn!(session = id, peer, kind, error = %e, "connection failed before the session");
            if let Some(m) = metrics {
                m.session_ended(Some(kind), t.elapsed());
            }
            return;
        }
    };
    ch.set_session_deadline(run.session_deadline);
    if !server.circuit_privacy() {
        tracing::warn!(session = id, peer, "served WITHOUT circuit privacy");
    }
    let mut gate = run.access.gate(ip);
    let r = server.serve_session_gated(
        &mut ch,
        |e| {
            if let Some(m) = metrics {
                m.event(e);
            }
            log_event(id, e);
        },
        &mut gate,
    );
    let client = gate.client().map_or("none".to_string(), |c| c.to_string());
    drop(gate);
    match r {
        Ok(s) => {
            tracing::info!(
                session = id,
                peer,
                client,
                queries = s.queries,
                seconds = t.elapsed().as_secs_f64(),
                "session done"
            );
            if let Some(m) = metrics {
                m.session_ended(None, t.elapsed());
            }
        }
        Err(e) => {
            let kind = error_kind(&e);
            tracing::warn!(session = id, peer, client, kind, error = %e, "session ended with an error");
            if let Some(m) = metrics {
                m.session_ended(Some(kind), t.elapsed());
            }
            // Let the client read why, even while it is still sending.
            ch.linger_close(LINGER, 64 << 20);
        }
    }
}

/// One log line per session event (query timings and bytes; never a secret).
fn log_event(id: u64, e: &super::SessionEvent) {
    use super::SessionEvent as E;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    match e {
        E::Ready { setup, bytes } => tracing::info!(
            session = id,
            setup_ms = ms(*setup),
            sent_bytes = bytes.0,
            received_bytes = bytes.1,
            "session ready"
        ),
        E::Precomputed {
            offline,
            bytes,
            ahead,
        } => tracing::info!(
            session = id,
            offline_ms = ms(*offline),
            ahead,
            sent_bytes = bytes.0,
            received_bytes = bytes.1,
            "offline phase precomputed"
        ),
        E::Query {
            n,
            precomputed,
            offline,
            online,
            bytes,
        } => tracing::info!(
            session = id,
            query = n,
            precomputed,
            offline_ms = ms(*offline),
            online_ms = ms(*online),
            sent_bytes = bytes.0,
            received_bytes = bytes.1,
            "query answered"
        ),
    }
}

/// The kind of a session's error, for `gazelle_session_errors_total{kind}` and the logs.
pub fn error_kind(e: &ProtocolError) -> &'static str {
    use crate::channel::ChannelError as C;
    use crate::net::NetError as N;
    let channel = |c: &C| match c {
        C::Timeout(_) | C::SessionDeadline(_) => "timeout",
        C::Closed => "closed",
        C::Tls(_) => "tls",
        C::FrameTooLarge { .. } => "malformed",
        _ => "other",
    };
    match e {
        ProtocolError::Net(N::Channel(c)) => channel(c),
        ProtocolError::Ot(crate::ot::OtError::Channel(c)) => channel(c),
        ProtocolError::Net(N::Refused(_)) | ProtocolError::Refused(_) => "refused",
        ProtocolError::Net(N::PeerError(_)) => "peer",
        ProtocolError::Net(N::Handshake(_)) => "handshake",
        ProtocolError::Net(N::Malformed { .. } | N::UnexpectedTag { .. })
        | ProtocolError::Malformed { .. }
        | ProtocolError::He(_)
        | ProtocolError::Gc(_)
        | ProtocolError::Ot(_) => "malformed",
        ProtocolError::ShuttingDown => "shutdown",
        ProtocolError::QueryLimit { .. } => "query_limit",
        _ => "other",
    }
}

/// How long a session that ended with an error keeps reading (and discarding) what the
/// client still sends, so that the client can read the error frame.
const LINGER: Duration = Duration::from_secs(2);

/// `gazelle serve`: `model` is a bundled name or a `.gzm` path; `run.metrics` is filled here
/// when `metrics_addr` is given (`/metrics`, `/healthz`).
pub fn serve(
    model: &str,
    listen: &str,
    config: ServerConfig,
    run: ServeOptions,
    metrics_addr: Option<&str>,
) -> CliResult<()> {
    let loaded = nn::model_by_name_or_path(model).map_err(|e| format!("--model {model}: {e}"))?;
    serve_model(loaded, model, listen, config, run, metrics_addr)
}

/// [`serve`] for a model already loaded (`model` names it in messages).
pub fn serve_model(
    loaded: Model,
    model: &str,
    listen: &str,
    config: ServerConfig,
    mut run: ServeOptions,
    metrics_addr: Option<&str>,
) -> CliResult<()> {
    let (param_set, reveal_logits) = (config.param_set, config.reveal_logits);
    let server = Arc::new(Server::new(loaded, config).map_err(|e| match e {
        ProtocolError::NoCircuitPrivacy(_) => format!("{e}\n(`gazelle plan --model {model} --params {}` shows the budget; --insecure-no-circuit-privacy serves anyway, and every client is told)", param_set.name()),
        ProtocolError::WeightsMemory(_) => format!("{e}\n(give a larger --weights-memory, or unlimited)"),
        e => e.to_string(),
    })?);
    if !server.circuit_privacy() {
        tracing::warn!("NO CIRCUIT PRIVACY — {}", privacy_shortfall(&server));
        tracing::warn!("clients can learn more about the model's weights than its classes; every client is told so in the handshake");
    }
    if let Some(note) = server.weights_memory_note() {
        tracing::warn!(
            "prepared weights over the default --weights-memory limit: {note}; every plaintext is kept as coefficients (slower products); give --weights-memory MB or unlimited"
        );
    }
    let listener = TcpListener::bind(listen).map_err(|e| format!("--listen {listen}: {e}"))?;
    let local = listener.local_addr()?;
    if run.tls.is_none() && !local.ip().is_loopback() {
        if !run.insecure_plaintext {
            return Err(format!(
                "--listen {local}: without --tls-cert/--tls-key the server accepts plaintext only on loopback addresses (anyone on the path could read the classes, alter them, or use the model); give a certificate, or --insecure-plaintext"
            )
            .into());
        }
        tracing::warn!("--insecure-plaintext: serving {local} without TLS");
    }
    if run.access.requires_token() {
        tracing::info!(
            "{} access tokens; a client without one is refused",
            run.access.token_count()
        );
    }
    if reveal_logits {
        tracing::warn!("--reveal logits: every client learns all the logits, not only the class (every client is told so in the handshake)");
    }
    if let Some(addr) = metrics_addr {
        let metrics = Arc::new(ServeMetrics::new(
            server.circuit_privacy(),
            server.plan().work_per_query(),
        ));
        let bound =
            spawn_exporter(addr, metrics.clone()).map_err(|e| format!("--metrics {addr}: {e}"))?;
        tracing::info!("metrics on http://{bound}/metrics, liveness on http://{bound}/healthz");
        run.metrics = Some(metrics);
    }
    if run.warmup_queries > 0 {
        if let Some(m) = &run.metrics {
            m.set_warming(true);
        }
        let (took, client) = match &run.warmup_client {
            Some(exe) => warm_up_in_child(&server, run.warmup_queries, exe, run.session_deadline)?,
            None => (
                warm_up(&server, run.warmup_queries)?,
                WarmUpClient::InProcess,
            ),
        };
        if let Some(m) = &run.metrics {
            m.set_warming(false);
        }
        tracing::info!(
            "warm-up: {} quer{} in {:.1} s (client {})",
            run.warmup_queries,
            if run.warmup_queries == 1 { "y" } else { "ies" },
            took.as_secs_f64(),
            match client {
                WarmUpClient::Child => "in a child process",
                WarmUpClient::InProcess => "in this process",
            }
        );
    }
    tracing::info!(
        "model {model}, {} stages, {}, reveals {}, parameter set {}, listening on {local} ({}; at most {} sessions)",
        server.plan().stages.len(),
        server.describe_weights(),
        if reveal_logits { "the logits" } else { "the class only" },
        param_set.name(),
        if run.tls.is_some() { "TLS 1.3" } else { "plaintext" },
        run.max_sessions
    );
    let stop = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    serve_until(server, listener, &run, &stop)
}

/// Starts a server for `model` on an ephemeral loopback port in a background thread; returns
/// its address (for `demo` and tests).
pub fn spawn_local_server(server: Arc<Server>, max_sessions: usize) -> CliResult<SocketAddr> {
    spawn_local_server_with(
        server,
        ServeOptions {
            max_sessions,
            ..ServeOptions::default()
        },
    )
}

/// [`spawn_local_server`] with options (TLS, limits).
pub fn spawn_local_server_with(server: Arc<Server>, run: ServeOptions) -> CliResult<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("gazelle-server".into())
        .spawn(move || serve_until(server, listener, &run, &AtomicBool::new(false)))?;
    Ok(addr)
}

/// How a client reaches a server (`infer`, `loadtest`, `demo`).
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// TLS 1.3 with these trust anchors (`--tls-ca`, `--tls`); `None`: plaintext.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The name the server's certificate must carry (default: the host of the address).
    pub tls_name: Option<String>,
    /// The access token (`--token`).
    pub credential: Credential,
    /// Deadline per whole frame (`--message-deadline`).
    pub timeout: Duration,
    /// Deadline of the whole session (`--session-deadline`).
    pub session_deadline: Duration,
    /// A shaped link between this client and the server (`--link`).
    pub link: Option<crate::net::link::LinkProfile>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            tls: None,
            tls_name: None,
            credential: Credential::none(),
            timeout: SESSION_TIMEOUT,
            session_deadline: SESSION_DEADLINE,
            link: None,
        }
    }
}

/// `host:port` (or `[v6]:port`) resolved to its first address.
pub fn resolve(server: &str) -> CliResult<SocketAddr> {
    Ok(server
        .parse()
        .or_else(|_| {
            std::net::ToSocketAddrs::to_socket_addrs(server)
                .map_err(|e| e.to_string())
                .and_then(|mut a| a.next().ok_or_else(|| "no address".to_string()))
        })
        .map_err(|e| format!("--server {server}: {e}"))?)
}

/// The host part of `host:port` or `[v6]:port`.
fn host_of(server: &str) -> &str {
    let host = server.rsplit_once(':').map_or(server, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

impl ConnectOptions {
    /// Connects to `server` (`host:port`): TCP within the message deadline, then the TLS
    /// handshake when configured; the session deadline starts now.
    pub fn connect(&self, server: &str) -> CliResult<TcpChannel> {
        let mut addr = resolve(server)?;
        if let Some(profile) = self.link {
            addr = crate::net::link::spawn_shaped_proxy(addr, profile)?;
        }
        let stream = TcpStream::connect_timeout(&addr, self.timeout)
            .map_err(|e| format!("cannot connect to {server}: {e}"))?;
        let mut ch = match &self.tls {
            Some(cfg) => {
                let host = self.tls_name.as_deref().unwrap_or_else(|| host_of(server));
                let name = crate::net::tls::server_name(host)?;
                TcpChannel::tls_client(stream, cfg.clone(), name, self.timeout)
                    .map_err(|e| format!("{server}: {e}"))?
            }
            None => TcpChannel::new(stream, self.timeout)?,
        };
        ch.set_session_deadline(self.session_deadline);
        Ok(ch)
    }
}

/// The input of an `infer` run.
#[derive(Debug, Clone)]
pub enum InferInput {
    /// A PNG file and what to do with its brightness.
    Png(std::path::PathBuf, Polarity),
    /// A digit of the bundled MNIST test set.
    MnistIndex(usize),
    /// Every `*.png` in a folder (sorted by name), classified in one session; a file named
    /// `…_LABEL.png` carries its label.
    Dir(std::path::PathBuf, Polarity),
}

pub use crate::data::{label_from_file_name, MAX_DIR_IMAGES};

fn png_files(dir: &std::path::Path) -> CliResult<Vec<std::path::PathBuf>> {
    Ok(data::png_files(dir)?)
}

/// `infer --images DIR`: every image in one session (keys and base OTs once), a line per
/// image, then the accuracy over the labelled ones and the median latencies.
fn infer_dir<C: crate::channel::Channel>(
    mut client: Client<'_, C>,
    files: &[std::path::PathBuf],
    polarity: Polarity,
    json: bool,
    precompute: usize,
) -> CliResult<()> {
    // Offline phases computed before their images are needed (as a client does while it
    // waits for its next input): the answer then costs only the online phase.
    for _ in 0..precompute.min(files.len()) {
        client.precompute()?;
    }
    let mut answer = Vec::new();
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    let model = client.model().clone();
    let s = model.input().shape;
    let polarity = effective_polarity(polarity, &model);
    let name = |c: usize| class_name(&model, c).map_or(String::new(), |n| format!(" ({n})"));
    let (mut online, mut offline) = (Vec::new(), Vec::new());
    let (mut labelled, mut correct, mut failed) = (0usize, 0usize, 0usize);
    for path in files {
        let px = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                data::png_to_pixels_reported(&b, s.c, s.h, s.w, polarity).map_err(|e| e.to_string())
            });
        let (px, inverted) = match px {
            Ok(v) => v,
            Err(e) => {
                if !json {
                    println!("{}: skipped: {e}", path.display());
                }
                skipped.push(serde_json::json!({"file": path.display().to_string(), "reason": e}));
                failed += 1;
                continue;
            }
        };
        let t = Instant::now();
        let r = client.query(&model.input().encode_fixed(&px))?;
        answer.push(t.elapsed().as_secs_f64() * 1e3);
        let left = files.len() - answer.len() - failed;
        if precompute > 0 && client.precomputed() < left.min(precompute) {
            client.precompute()?;
        }
        let label = label_from_file_name(path).filter(|&l| l < model.num_classes());
        records.push(serde_json::json!({
            "file": path.display().to_string(),
            "class": r.class,
            "class_name": class_name(&model, r.class),
            "label": label,
            "correct": label.map(|l| l == r.class),
            "inverted": inverted,
            "online_ms": r.online().time.as_secs_f64() * 1e3,
            "offline_ms": r.offline().time.as_secs_f64() * 1e3,
            "online_bytes": r.online().bytes(),
            "offline_bytes": r.offline().bytes(),
        }));
        online.push(r.online().time.as_secs_f64() * 1e3);
        offline.push(r.offline().time.as_secs_f64() * 1e3);
        let mut line = format!("{}: class {}{}", path.display(), r.class, name(r.class));
        if inverted {
            line.push_str(" [inverted]");
        }
        if let Some(l) = label_from_file_name(path).filter(|&l| l < model.num_classes()) {
            labelled += 1;
            let ok = l == r.class;
            correct += usize::from(ok);
            line.push_str(&format!(" label {l}{}", if ok { "" } else { " (wrong)" }));
        }
        if !json {
            println!("{line}");
        }
    }
    let setup = client.setup;
    client.finish()?;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let done = online.len();
    if json {
        let out = serde_json::json!({
            "model": model.name(),
            "session_setup_ms": setup.time.as_secs_f64() * 1e3,
            "session_setup_bytes": setup.bytes(),
            "images": records,
            "skipped": skipped,
            "labelled": labelled,
            "correct": correct,
            "median_online_ms": median(&mut online),
            "median_offline_ms": median(&mut offline),
            "precomputed_ahead": precompute,
            "median_answer_ms": median(&mut answer),
        });
        println!("{out:#}");
        return Ok(());
    }
    println!(
        "{done} images in one session ({failed} skipped); session setup once: {:.1} ms, {:.2} MB; median online {:.1} ms, offline {:.1} ms",
        setup.time.as_secs_f64() * 1e3,
        setup.bytes() as f64 / 1e6,
        median(&mut online),
        median(&mut offline)
    );
    if precompute > 0 {
        println!(
            "offline phases precomputed {precompute} ahead: median answer latency {:.1} ms (without: offline + online, {:.1} ms)",
            median(&mut answer),
            median(&mut online.clone()) + median(&mut offline.clone())
        );
    } else {
        println!(
            "median answer latency {:.1} ms (--precompute 1 computes offline phases ahead)",
            median(&mut answer)
        );
    }
    if labelled > 0 {
        println!(
            "accuracy: {correct}/{labelled} = {:.1}% (labels from the file names)",
            100.0 * correct as f64 / labelled as f64
        );
    }
    Ok(())
}

/// One query against a server: returns the report (and prints nothing).
pub fn infer_once(
    addr: SocketAddr,
    model: Model,
    input: &[i64],
    param_set: ParamSetId,
) -> CliResult<QueryReport> {
    let mut ch = TcpChannel::connect(addr)?;
    let client = Client::connect(&mut ch, model, param_set)?;
    query_once(client, input)
}

/// Warns when the server has no circuit privacy, runs one query, ends the session; the
/// report's offline side includes the session setup.
fn query_once<C: crate::channel::Channel>(
    mut client: Client<'_, C>,
    input: &[i64],
) -> CliResult<QueryReport> {
    if !client.terms.circuit_privacy {
        eprintln!(
            "WARNING: the server runs WITHOUT CIRCUIT PRIVACY (--insecure-no-circuit-privacy): \
             its replies may reveal more about its weights than the class"
        );
    }
    let setup = client.setup;
    let mut report = client.query(input)?;
    client.finish()?;
    report.offline_other = report.offline_other.plus(setup);
    Ok(report)
}

/// `gazelle infer`: `model` (a bundled name or a `.gzm` path) must be the server's
/// architecture; `None` takes the architecture the server sends.
pub fn infer(
    server: &str,
    connect: &ConnectOptions,
    model_spec: Option<&str>,
    input: &InferInput,
    param_set: ParamSetId,
    json: bool,
    precompute: usize,
) -> CliResult<()> {
    // Read the image before connecting: a missing file costs no session.
    enum Source<'a> {
        Png(&'a std::path::Path, Polarity, Vec<u8>),
        Mnist(usize),
        Dir(Vec<std::path::PathBuf>, Polarity),
    }
    let source = match input {
        InferInput::Png(path, polarity) => {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Source::Png(path, *polarity, bytes)
        }
        InferInput::MnistIndex(i) => Source::Mnist(*i),
        InferInput::Dir(dir, polarity) => Source::Dir(png_files(dir)?, *polarity),
    };
    let model = match model_spec {
        Some(m) => Some(nn::model_by_name_or_path(m).map_err(|e| format!("--model {m}: {e}"))?),
        None => None,
    };
    let mut ch = connect.connect(server)?;
    let client = Client::connect_with(&mut ch, model, param_set, connect.credential.clone())?;
    if model_spec.is_none() && !json {
        println!(
            "model: {} (architecture from the server)",
            client.model().name()
        );
    }
    let model = client.model().clone();
    let s = model.input().shape;
    let (pixels, label) = match source {
        Source::Dir(files, polarity) => {
            return infer_dir(client, &files, polarity, json, precompute)
        }
        Source::Png(path, polarity, bytes) => {
            let polarity = effective_polarity(polarity, &model);
            let (px, inverted) = data::png_to_pixels_reported(&bytes, s.c, s.h, s.w, polarity)?;
            if inverted {
                eprintln!(
                    "input: {} inverted (light background, as for a hand-drawn digit; \
                     --polarity as-is keeps it)",
                    path.display()
                );
            }
            (px, None)
        }
        Source::Mnist(i) => {
            if (s.c, s.h, s.w) != (1, 28, 28) {
                return Err(format!(
                    "--mnist-index: the server's model '{}' takes {}×{}×{} inputs, not MNIST's 1×28×28",
                    model.name(),
                    s.c,
                    s.h,
                    s.w
                )
                .into());
            }
            let set = data::bundled(data::MNIST_TEST.name)?;
            if i >= set.len() {
                return Err(format!(
                    "--mnist-index {i}: the bundled set has {} digits",
                    set.len()
                )
                .into());
            }
            (set.image(i).to_vec(), Some(set.label(i)))
        }
    };
    let x = model.input().encode_fixed(&pixels);
    let r = query_once(client, &x)?;
    if json {
        let out = serde_json::json!({
            "model": model.name(),
            "class": r.class,
            "class_name": class_name(&model, r.class),
            "label": label,
            "logits": r.logits,
            "online_ms": r.online().time.as_secs_f64() * 1e3,
            "offline_ms": r.offline().time.as_secs_f64() * 1e3,
            "online_bytes": r.online().bytes(),
            "offline_bytes": r.offline().bytes(),
            "stages": r.stages.iter().map(|st| serde_json::json!({
                "name": st.name,
                "online_ms": st.online.time.as_secs_f64() * 1e3,
                "offline_ms": st.offline.time.as_secs_f64() * 1e3,
                "online_bytes": st.online.bytes(),
                "offline_bytes": st.offline.bytes(),
            })).collect::<Vec<_>>(),
        });
        println!("{out:#}");
        return Ok(());
    }
    let name = |c: usize| class_name(&model, c).map_or(String::new(), |n| format!(" ({n})"));
    println!("class: {}{}", r.class, name(r.class));
    if let Some(l) = label {
        println!("label: {l}{}", name(usize::from(l)));
    }
    match &r.logits {
        Some(l) => println!("logits: {l:?}"),
        None => println!("logits: not revealed by the server (class only)"),
    }
    print!("{}", r.table());
    println!(
        "offline {:.1} ms, {:.2} MB; online {:.1} ms, {:.2} MB",
        r.offline().time.as_secs_f64() * 1e3,
        r.offline().bytes() as f64 / 1e6,
        r.online().time.as_secs_f64() * 1e3,
        r.online().bytes() as f64 / 1e6
    );
    Ok(())
}

/// [`Polarity::Auto`] guesses only for a model that declares hand-drawn input; for any
/// other model it keeps the pixels as they are.
pub fn effective_polarity(polarity: Polarity, model: &Model) -> Polarity {
    match polarity {
        Polarity::Auto if !model.input().hand_drawn => Polarity::AsIs,
        p => p,
    }
}

/// The class names of a model's classes where they are known (CIFAR-10's ten for a 3×32×32
/// input with ten classes).
pub fn class_name(model: &Model, class: usize) -> Option<String> {
    if !model.header().class_names.is_empty() {
        return Some(model.class_name(class));
    }
    let s = model.input().shape;
    ((s.c, s.h, s.w) == (3, 32, 32) && model.num_classes() == 10)
        .then(|| data::CIFAR10_CLASSES.get(class).map(|s| s.to_string()))
        .flatten()
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Summary of a `demo` run.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// Images classified.
    pub images: usize,
    /// Correct classifications (images with labels only).
    pub correct: usize,
    /// Images with a label.
    pub labelled: usize,
    /// Secure results equal to the plaintext fixed-point oracle's: the class (its first
    /// maximum) when only the class is revealed, the logits bit for bit when they are.
    pub agree: usize,
    /// Median online latency (s).
    pub online_s: f64,
    /// Median offline latency (s).
    pub offline_s: f64,
    /// Each query's offline and online latency (s), in order (the first query of a session
    /// pays for cold memory).
    pub per_query_s: Vec<(f64, f64)>,
    /// Median online bytes.
    pub online_bytes: f64,
    /// Median offline bytes.
    pub offline_bytes: f64,
    /// The last query's report.
    pub last: Option<QueryReport>,
    /// Session setup (handshake, key upload, base OTs), once per session.
    pub setup: super::PhaseMetrics,
    /// Why the plan misses the circuit-privacy budget, when it does.
    pub no_circuit_privacy: Option<String>,
    /// Bytes on the client's socket, both directions (framing and TLS included).
    pub wire_bytes: u64,
    /// Payload bytes, both directions.
    pub payload_bytes: u64,
    /// Whether the session ran over TLS.
    pub tls: bool,
    /// Bytes of the server's prepared weights ([`Server::weight_bytes`]).
    pub weight_bytes: usize,
    /// How the server holds them ([`Server::describe_weights`]).
    pub weights: String,
}

/// How `demo` connects its two parties. The default: no TLS, no shaped link, and the
/// server's defaults ([`ServerConfig::default`]) for garbling and the weights' memory.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// TLS 1.3 with a throwaway self-signed certificate (the default of `gazelle demo`).
    pub tls: bool,
    /// A shaped link between client and server (`--link`).
    pub link: Option<crate::net::link::LinkProfile>,
    /// How the server garbles AND gates (`--garbling`).
    pub garbling: crate::gc::Scheme,
    /// The server's prepared-weights memory (`--weights-memory`).
    pub weights_memory: super::WeightsMemory,
}

impl Default for DemoOptions {
    fn default() -> Self {
        let server = ServerConfig::default();
        DemoOptions {
            tls: false,
            link: None,
            garbling: server.garbling,
            weights_memory: server.weights_memory,
        }
    }
}

/// One line on how far `server`'s plan is from the circuit-privacy budget.
fn privacy_shortfall(server: &Server) -> String {
    match server.budget().check() {
        Err(ProtocolError::NoCircuitPrivacy(why)) => why,
        Err(e) => e.to_string(),
        Ok(()) => "replies are not flooded".into(),
    }
}

/// `gazelle demo`: both parties in this process over loopback TCP, on the bundled images of
/// the model's input shape (MNIST digits, CIFAR-10 test images), synthetic ones otherwise. `progress` is called after each image.
pub fn demo_run(
    model_name: &str,
    images: usize,
    param_set: ParamSetId,
    opts: &DemoOptions,
    mut progress: impl FnMut(usize, usize, &QueryReport, bool),
) -> CliResult<DemoSummary> {
    let model = nn::builtin_model(model_name)?;
    // The demo runs both parties for one user, so a set that misses the circuit-privacy
    // budget still runs, and the summary says so (`serve` refuses unless told).
    let server = Arc::new(Server::new(
        model.clone(),
        ServerConfig {
            garbling: opts.garbling,
            weights_memory: opts.weights_memory,
            ..ServerConfig::insecure(param_set)
        },
    )?);
    let weights = server.describe_weights();
    let privacy = (!server.circuit_privacy()).then(|| privacy_shortfall(&server));
    let weight_bytes = server.weight_bytes();
    let mut connect = ConnectOptions {
        link: opts.link,
        ..ConnectOptions::default()
    };
    let mut run = ServeOptions::default();
    if opts.tls {
        let (server_tls, client_tls) = crate::net::tls::throwaway()?;
        run.tls = Some(server_tls);
        connect.tls = Some(client_tls);
    }
    let addr = spawn_local_server_with(server, run)?;
    let shape = model.input().shape;
    let bundled = data::bundled_for_shape(shape.c, shape.h, shape.w);
    let (imgs, labels): (Vec<Vec<u8>>, Vec<Option<u8>>) = if let Some(b) = bundled {
        let set = b.load()?;
        (0..images.min(set.len()))
            .map(|i| (set.image(i).to_vec(), Some(set.label(i))))
            .unzip()
    } else {
        nn::eval::synthetic_images(&model, images, 7)
            .into_iter()
            .map(|v| (v, None))
            .unzip()
    };
    let mut ch = connect.connect(&addr.to_string())?;
    let mut client = Client::connect(&mut ch, model.clone(), param_set)?;
    let mut s = DemoSummary {
        images: 0,
        correct: 0,
        labelled: 0,
        agree: 0,
        online_s: 0.0,
        per_query_s: Vec::new(),
        offline_s: 0.0,
        online_bytes: 0.0,
        offline_bytes: 0.0,
        last: None,
        setup: client.setup,
        no_circuit_privacy: privacy,
        wire_bytes: 0,
        payload_bytes: 0,
        tls: opts.tls,
        weight_bytes,
        weights,
    };
    debug_assert_eq!(s.no_circuit_privacy.is_none(), client.terms.circuit_privacy);
    let (mut onb, mut offb) = (vec![], vec![]);
    for (i, (img, label)) in imgs.iter().zip(&labels).enumerate() {
        let x = model.input().encode_fixed(img);
        let r = client.query(&x)?;
        let plain = model.infer_fixed(&x)?;
        let ok = match &r.logits {
            Some(logits) => *logits == plain && r.class == nn::argmax(&plain),
            None => r.class == nn::argmax(&plain),
        };
        s.images += 1;
        s.agree += ok as usize;
        if let Some(l) = label {
            s.labelled += 1;
            s.correct += (r.class == *l as usize) as usize;
        }
        s.per_query_s.push((
            r.offline().time.as_secs_f64(),
            r.online().time.as_secs_f64(),
        ));
        onb.push(r.online().bytes() as f64);
        offb.push(r.offline().bytes() as f64);
        progress(i + 1, imgs.len(), &r, ok);
        s.last = Some(r);
    }
    client.finish()?;
    s.wire_bytes = ch.wire_bytes_sent() + ch.wire_bytes_received();
    s.payload_bytes =
        crate::channel::Channel::bytes_sent(&ch) + crate::channel::Channel::bytes_received(&ch);
    s.online_s = median(s.per_query_s.iter().map(|q| q.1).collect());
    s.offline_s = median(s.per_query_s.iter().map(|q| q.0).collect());
    s.online_bytes = median(onb);
    s.offline_bytes = median(offb);
    Ok(s)
}

/// `gazelle demo` with its printed report.
pub fn demo(
    model_name: &str,
    images: usize,
    param_set: ParamSetId,
    opts: &DemoOptions,
) -> CliResult<()> {
    println!(
        "gazelle demo: private inference of {model_name} on {images} images, client and server \
         in this process over loopback {}{} (parameter set {})",
        if opts.tls {
            "TLS 1.3 (throwaway self-signed certificate)"
        } else {
            "TCP, plaintext"
        },
        opts.link
            .map_or(String::new(), |l| format!(", shaped link {l}")),
        param_set.name()
    );
    if opts.garbling != ServerConfig::default().garbling {
        println!("garbling: {}", opts.garbling);
    }
    let t = Instant::now();
    let s = demo_run(model_name, images, param_set, opts, |i, n, _r, ok| {
        let w = 30;
        let filled = w * i / n.max(1);
        eprint!(
            "\r[{}{}] {i}/{n} {}",
            "#".repeat(filled),
            "-".repeat(w - filled),
            if ok { "" } else { "MISMATCH" }
        );
    })?;
    eprintln!();
    if let Some(why) = &s.no_circuit_privacy {
        println!(
            "WARNING: NO CIRCUIT PRIVACY at parameter set {}: {why}",
            param_set.name()
        );
        println!("WARNING: `gazelle serve` refuses this set unless given --insecure-no-circuit-privacy; `gazelle plan` shows the budget per stage");
    }
    if let Some(r) = &s.last {
        println!("per-stage breakdown of the last query:");
        print!("{}", r.table());
    }
    if s.labelled > 0 {
        println!(
            "accuracy: {}/{} = {:.1}%",
            s.correct,
            s.labelled,
            100.0 * s.correct as f64 / s.labelled as f64
        );
    } else {
        println!("accuracy: n/a (synthetic inputs, no labels bundled)");
    }
    println!(
        "agreement with plaintext fixed-point inference ({}): {}/{} = {:.1}%",
        if s.last.as_ref().is_some_and(|r| r.logits.is_some()) {
            "logits, bit for bit"
        } else {
            "class; the server reveals only the class"
        },
        s.agree,
        s.images,
        100.0 * s.agree as f64 / s.images.max(1) as f64
    );
    println!(
        "median latency: online {:.1} ms, offline {:.1} ms; median bytes: online {:.2} MB, offline {:.2} MB",
        s.online_s * 1e3,
        s.offline_s * 1e3,
        s.online_bytes / 1e6,
        s.offline_bytes / 1e6
    );
    let each: Vec<String> = s
        .per_query_s
        .iter()
        .map(|(off, on)| format!("{:.0} + {:.0}", off * 1e3, on * 1e3))
        .collect();
    println!("per query, offline + online ms: {}", each.join(", "));
    println!(
        "session setup (handshake, public and Galois keys, base OTs), once per session: {:.1} ms, {:.2} MB up, {:.2} MB down",
        s.setup.time.as_secs_f64() * 1e3,
        s.setup.up as f64 / 1e6,
        s.setup.down as f64 / 1e6
    );
    println!("server: {} (shared by its sessions)", s.weights);
    if s.tls {
        println!(
            "TLS: {:.2} MB on the wire for {:.2} MB of payload ({:.2}% overhead: records, handshake, framing)",
            s.wire_bytes as f64 / 1e6,
            s.payload_bytes as f64 / 1e6,
            100.0 * (s.wire_bytes as f64 / s.payload_bytes.max(1) as f64 - 1.0)
        );
    }
    println!("wall time {:.1} s", t.elapsed().as_secs_f64());
    if s.agree != s.images {
        return Err("secure inference disagreed with the plaintext oracle".into());
    }
    Ok(())
}
