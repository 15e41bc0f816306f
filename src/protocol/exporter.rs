//! What `gazelle serve --metrics ADDR` exports: Prometheus text format at `/metrics` (every
//! name starts with `gazelle_`) and a liveness answer at `/healthz`, over a small HTTP server
//! (`tiny_http`) on its own thread. Metrics come from `prometheus-client`; no secret and no
//! per-client value is ever a label.
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// Label set of `gazelle_sessions_total`: the outcome (`ok`, `error`, `refused`).
type Outcome = Vec<(String, String)>;

/// The server's metrics. Query latencies and counts are recorded when each session ends
/// (the session's summary holds them); the active-session gauge moves as sessions start
/// and end.
#[derive(Debug)]
pub struct ServeMetrics {
    registry: Registry,
    active: Gauge,
    sessions: Family<Outcome, Counter>,
    queries: Counter,
    online: Histogram,
    offline: Histogram,
    session_seconds: Histogram,
}

impl ServeMetrics {
    /// Fresh metrics; `circuit_privacy` is exported as `gazelle_circuit_privacy` (1 or 0).
    pub fn new(circuit_privacy: bool) -> ServeMetrics {
        let mut registry = Registry::with_prefix("gazelle");
        let active = Gauge::default();
        let sessions = Family::<Outcome, Counter>::default();
        let queries = Counter::default();
        // 1 ms … ~65 s.
        let online = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        let offline = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        // 0.1 s … ~1.8 h.
        let session_seconds = Histogram::new(exponential_buckets(0.1, 2.0, 17));
        let privacy: Gauge = Gauge::default();
        privacy.set(i64::from(circuit_privacy));
        registry.register("sessions_active", "Sessions running now", active.clone());
        registry.register(
            "sessions",
            "Sessions by outcome (ok, error, refused when the server was busy)",
            sessions.clone(),
        );
        registry.register("queries", "Queries answered", queries.clone());
        registry.register(
            "query_online_seconds",
            "Online phase of a query, server side",
            online.clone(),
        );
        registry.register(
            "query_offline_seconds",
            "Offline phase of a query, server side",
            offline.clone(),
        );
        registry.register(
            "session_seconds",
            "Whole sessions, setup included",
            session_seconds.clone(),
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
            queries,
            online,
            offline,
            session_seconds,
        }
    }

    fn outcome(&self, what: &str) -> Counter {
        self.sessions
            .get_or_create(&vec![("outcome".to_string(), what.to_string())])
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
        self.outcome("refused").inc();
    }

    /// A session that ended: its outcome, duration and per-query phases.
    pub fn session_ended(
        &self,
        ok: bool,
        elapsed: Duration,
        online: &[Duration],
        offline: &[Duration],
    ) {
        self.outcome(if ok { "ok" } else { "error" }).inc();
        self.session_seconds.observe(elapsed.as_secs_f64());
        self.queries.inc_by(online.len() as u64);
        for d in online {
            self.online.observe(d.as_secs_f64());
        }
        for d in offline {
            self.offline.observe(d.as_secs_f64());
        }
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
/// address. Any other path is 404; only GET is answered.
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
        let m = ServeMetrics::new(true);
        m.session_started();
        m.refused();
        m.session_ended(
            true,
            Duration::from_secs(2),
            &[Duration::from_millis(400), Duration::from_millis(410)],
            &[Duration::from_millis(60), Duration::from_millis(61)],
        );
        let text = m.render();
        for want in [
            "gazelle_sessions_active 1",
            "gazelle_sessions_total{outcome=\"refused\"} 1",
            "gazelle_sessions_total{outcome=\"ok\"} 1",
            "gazelle_queries_total 2",
            "gazelle_query_online_seconds_count 2",
            "gazelle_circuit_privacy 1",
        ] {
            assert!(text.contains(want), "{want} missing in\n{text}");
        }
    }
}
