//! What `gazelle serve --metrics ADDR` exports: Prometheus text format at `/metrics` (every
//! name starts with `gazelle_`) and a liveness answer at `/healthz`, over a small HTTP server
//! (`tiny_http`) on its own thread. Metrics come from `prometheus-client`; no secret and no
//! per-client value is ever a label.
use super::plan::QueryWork;
use super::server::SessionEvent;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// Label set of a family: one (name, value) pair.
type Label = Vec<(String, String)>;

/// The server's metrics, updated as sessions and queries go (every name starts with
/// `gazelle_`; no secret and no per-client value is ever a label).
#[derive(Debug)]
pub struct ServeMetrics {
    registry: Registry,
    active: Gauge,
    sessions: Family<Label, Counter>,
    errors: Family<Label, Counter>,
    queries: Counter,
    setup: Histogram,
    online: Histogram,
    offline: Histogram,
    session_seconds: Histogram,
    bytes: Family<Label, Counter>,
    and_gates: Counter,
    he_ops: Family<Label, Counter>,
    work: QueryWork,
    /// Set when the server stops accepting: `/healthz` then answers 503.
    draining: std::sync::atomic::AtomicBool,
    /// Set while the server warms up before accepting: `/healthz` answers 503.
    warming: std::sync::atomic::AtomicBool,
}

impl ServeMetrics {
    /// Fresh metrics for a server whose plan does `work` per query; `circuit_privacy` is
    /// exported as `gazelle_circuit_privacy` (1 or 0).
    pub fn new(circuit_privacy: bool, work: QueryWork) -> ServeMetrics {
        let mut registry = Registry::with_prefix("gazelle");
        let active = Gauge::default();
        let sessions = Family::<Label, Counter>::default();
        let errors = Family::<Label, Counter>::default();
        let queries = Counter::default();
        // 1 ms … ~65 s.
        let setup = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        let online = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        let offline = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        // 0.1 s … ~1.8 h.
        let session_seconds = Histogram::new(exponential_buckets(0.1, 2.0, 17));
        let bytes = Family::<Label, Counter>::default();
        let and_gates = Counter::default();
        let he_ops = Family::<Label, Counter>::default();
        let privacy: Gauge = Gauge::default();
        privacy.set(i64::from(circuit_privacy));
        registry.register("sessions_active", "Sessions running now", active.clone());
        registry.register(
            "sessions",
            "Sessions by outcome (ok, error, refused when the server was busy)",
            sessions.clone(),
        );
        registry.register(
            "session_errors",
            "Sessions ended by an error, by kind (timeout, closed, malformed, refused, tls, peer, handshake, shutdown, query_limit, other)",
            errors.clone(),
        );
        registry.register("queries", "Queries answered", queries.clone());
        registry.register(
            "session_setup_seconds",
            "Handshake, key upload and OT setup of a session, server side",
            setup.clone(),
        );
        registry.register(
            "query_online_seconds",
            "Online phase of a query, server side",
            online.clone(),
        );
        registry.register(
            "query_offline_seconds",
            "Offline phase of a query (or of one precomputed ahead), server side",
            offline.clone(),
        );
        registry.register(
            "session_seconds",
            "Whole sessions, setup included",
            session_seconds.clone(),
        );
        registry.register(
            "payload_bytes",
            "Payload bytes by direction (sent, received)",
            bytes.clone(),
        );
        registry.register("and_gates_garbled", "AND gates garbled", and_gates.clone());
        registry.register(
            "he_operations",
            "Homomorphic operations by kind (ct_pt_mult, rotation)",
            he_ops.clone(),
        );
        registry.register(
            "circuit_privacy",
            "1 when the plan meets the circuit-privacy budget and replies are flooded",
            privacy,
        );
        ServeMetrics {
            registry,
            active,
            sessions,
            errors,
            queries,
            setup,
            online,
            offline,
            session_seconds,
            bytes,
            and_gates,
            he_ops,
            work,
            draining: std::sync::atomic::AtomicBool::new(false),
            warming: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The server is warming up (`on`) or done: while warming, `/healthz` answers 503
    /// `warming up`, so that readiness probes and balancers wait for it.
    pub fn set_warming(&self, on: bool) {
        self.warming.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// The server stopped accepting (shutdown): `/healthz` answers 503 from now on, so that
    /// balancers and readiness probes send no new session here.
    pub fn set_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether [`ServeMetrics::set_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn label(family: &Family<Label, Counter>, key: &str, value: &str) -> Counter {
        family
            .get_or_create(&vec![(key.to_string(), value.to_string())])
            .clone()
    }

    /// A session started (pair with [`ServeMetrics::session_finished`]).
    pub fn session_started(&self) {
        self.active.inc();
    }

    /// A session's thread is done (also after a panic).
    pub fn session_finished(&self) {
        self.active.dec();
    }

    /// A connection refused because every session slot was taken.
    pub fn refused(&self) {
        Self::label(&self.sessions, "outcome", "refused").inc();
    }

    fn add_bytes(&self, (sent, received): (u64, u64)) {
        Self::label(&self.bytes, "direction", "sent").inc_by(sent);
        Self::label(&self.bytes, "direction", "received").inc_by(received);
    }

    /// What a running session reported.
    pub fn event(&self, e: &SessionEvent) {
        match e {
            SessionEvent::Ready { setup, bytes } => {
                self.setup.observe(setup.as_secs_f64());
                self.add_bytes(*bytes);
            }
            SessionEvent::Precomputed { offline, bytes, .. } => {
                self.offline.observe(offline.as_secs_f64());
                self.add_bytes(*bytes);
                self.and_gates.inc_by(self.work.and_gates);
            }
            SessionEvent::Query {
                precomputed,
                offline,
                online,
                bytes,
                ..
            } => {
                self.queries.inc();
                self.online.observe(online.as_secs_f64());
                if !precomputed {
                    self.offline.observe(offline.as_secs_f64());
                    self.and_gates.inc_by(self.work.and_gates);
                }
                self.add_bytes(*bytes);
                Self::label(&self.he_ops, "kind", "ct_pt_mult").inc_by(self.work.he_mults);
                Self::label(&self.he_ops, "kind", "rotation").inc_by(self.work.he_rotations);
            }
        }
    }

    /// A session that ended: its outcome (`None`: ok; else the error's kind) and duration.
    pub fn session_ended(&self, error: Option<&str>, elapsed: Duration) {
        match error {
            None => {
                Self::label(&self.sessions, "outcome", "ok").inc();
            }
            Some(kind) => {
                Self::label(&self.sessions, "outcome", "error").inc();
                Self::label(&self.errors, "kind", kind).inc();
            }
        }
        self.session_seconds.observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Serves `/metrics` and `/healthz` on `addr` from a background thread; returns the bound
/// address. `/healthz` is 200 `ok` while the server accepts sessions, 503 `warming up` before
/// it does, 503 `draining` once it shuts down. Any other path is 404; only GET is answered.
pub fn spawn_exporter(
    addr: &str,
    metrics: Arc<ServeMetrics>,
) -> Result<std::net::SocketAddr, Box<dyn std::error::Error + Send + Sync>> {
    let http = tiny_http::Server::http(addr)?;
    let bound = http
        .server_addr()
        .to_ip()
        .ok_or("the metrics server is not on an IP address")?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for req in http.incoming_requests() {
                let get = *req.method() == tiny_http::Method::Get;
                let (code, body, kind) = match (get, req.url()) {
                    (true, "/metrics") => (
                        200,
                        metrics.render(),
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                    (true, "/healthz") if metrics.is_draining() => {
                        (503, "draining\n".to_string(), "text/plain")
                    }
                    (true, "/healthz")
                        if metrics.warming.load(std::sync::atomic::Ordering::SeqCst) =>
                    {
                        (503, "warming up\n".to_string(), "text/plain")
                    }
                    (true, "/healthz") => (200, "ok\n".to_string(), "text/plain"),
                    _ => (404, "not found\n".to_string(), "text/plain"),
                };
                let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], kind.as_bytes())
                    .expect("a valid header");
                // A client that hung up is its own problem.
                let _ = req.respond(
                    tiny_http::Response::from_string(body)
                        .with_status_code(code)
                        .with_header(header),
                );
            }
        })?;
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_with_the_gazelle_prefix() {
        let work = QueryWork {
            and_gates: 1000,
            he_mults: 10,
            he_rotations: 4,
        };
        let m = ServeMetrics::new(true, work);
        m.session_started();
        m.refused();
        m.event(&SessionEvent::Ready {
            setup: Duration::from_millis(300),
            bytes: (10, 1000),
        });
        for n in 1..=2 {
            m.event(&SessionEvent::Query {
                n,
                precomputed: false,
                offline: Duration::from_millis(60),
                online: Duration::from_millis(400),
                bytes: (100, 50),
            });
        }
        m.session_ended(None, Duration::from_secs(2));
        m.session_ended(Some("timeout"), Duration::from_secs(60));
        let text = m.render();
        for want in [
            "gazelle_sessions_active 1",
            "gazelle_sessions_total{outcome=\"refused\"} 1",
            "gazelle_sessions_total{outcome=\"ok\"} 1",
            "gazelle_session_errors_total{kind=\"timeout\"} 1",
            "gazelle_queries_total 2",
            "gazelle_query_online_seconds_count 2",
            "gazelle_session_setup_seconds_count 1",
            "gazelle_payload_bytes_total{direction=\"sent\"} 210",
            "gazelle_and_gates_garbled_total 2000",
            "gazelle_he_operations_total{kind=\"rotation\"} 8",
            "gazelle_circuit_privacy 1",
        ] {
            assert!(text.contains(want), "{want} missing in\n{text}");
        }
    }

    #[test]
    fn healthz_says_warming_up_ok_and_draining() {
        use std::io::{Read, Write};
        let work = QueryWork {
            and_gates: 1,
            he_mults: 1,
            he_rotations: 1,
        };
        let m = Arc::new(ServeMetrics::new(true, work));
        let addr = spawn_exporter("127.0.0.1:0", m.clone()).unwrap();
        let health = || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            write!(s, "GET /healthz HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        m.set_warming(true);
        let h = health();
        assert!(h.contains(" 503 ") && h.ends_with("warming up\n"), "{h}");
        m.set_warming(false);
        let h = health();
        assert!(h.contains(" 200 ") && h.ends_with("ok\n"), "{h}");
        m.set_draining();
        let h = health();
        assert!(h.contains(" 503 ") && h.ends_with("draining\n"), "{h}");
    }
}
