//! Network flags shared by the commands that talk to a server (`infer`, `loadtest`) and those
//! of `serve`: TLS, credentials, deadlines, the shaped link.
use clap::{Args, ValueEnum};
use gazelle::net::link::LinkProfile;
use gazelle::protocol::access::AccessPolicy;
use gazelle::protocol::cli::{ConnectOptions, ServeOptions};
use gazelle::protocol::handshake::Credential;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A duration: a number of seconds, or a number with the unit `ms`, `s` or `m` (at least
/// 1 ms, at most a day).
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(v) = t.strip_suffix("ms") {
        (v, 1e-3)
    } else if let Some(v) = t.strip_suffix('s') {
        (v, 1.0)
    } else if let Some(v) = t.strip_suffix('m') {
        (v, 60.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("expected a duration like 30, 500ms, 2m; got {s:?}"))?;
    let secs = v * scale;
    if !(1e-3..=86_400.0).contains(&secs) {
        return Err(format!("{s:?}: a duration must be between 1 ms and 24 h"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The client's side: how to reach the server.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Use TLS 1.3, trusting the system's root certificates (implied by --tls-ca).
    #[arg(long)]
    pub tls: bool,
    /// Use TLS 1.3, trusting the certificates in this PEM file.
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
    /// The name the server's certificate must carry (default: the host of --server).
    #[arg(long)]
    pub tls_name: Option<String>,
    /// Access token of `serve --tokens` (also read from $GAZELLE_TOKEN).
    #[arg(long, env = "GAZELLE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Longest wait for one whole message (frame) from the server.
    #[arg(long, value_parser = duration, default_value = "60")]
    pub message_deadline: Duration,
    /// Longest whole session (handshake, keys and every query).
    #[arg(long, value_parser = duration, default_value = "30m")]
    pub session_deadline: Duration,
    /// Shape the link to the server: lan (3 Gbit/s, 0.3 ms RTT), wan (400 Mbit/s, 40 ms)
    /// or MBIT,RTT_MS; a relay in this process (for measurements).
    #[arg(long)]
    pub link: Option<LinkProfile>,
}

impl ConnectArgs {
    /// The options these flags describe.
    pub fn options(&self) -> Result<ConnectOptions, String> {
        let tls = if self.tls || self.tls_ca.is_some() {
            Some(
                gazelle::net::tls::client_config(self.tls_ca.as_deref())
                    .map_err(|e| format!("--tls-ca: {e}"))?,
            )
        } else {
            if self.tls_name.is_some() {
                return Err("--tls-name needs --tls or --tls-ca".into());
            }
            None
        };
        let credential = match &self.token {
            Some(t) => Credential::new(t.trim().as_bytes()).map_err(|e| format!("--token: {e}"))?,
            None => Credential::none(),
        };
        Ok(ConnectOptions {
            tls,
            tls_name: self.tls_name.clone(),
            credential,
            timeout: self.message_deadline,
            session_deadline: self.session_deadline,
            link: self.link,
        })
    }
}

/// Log line format of `serve`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The server's side: TLS, who may connect, deadlines.
#[derive(Args, Debug, Clone)]
pub struct ServeNetArgs {
    /// PEM certificate chain (leaf first) for TLS 1.3; with --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plaintext on an address that is not loopback (without it, a server with no
    /// certificate listens only on loopback).
    #[arg(long, conflicts_with = "tls_cert")]
    pub insecure_plaintext: bool,
    /// Require an access token: one per line (16 to 255 bytes; `#` comments), compared in
    /// constant time; clients give theirs with `infer --token`.
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// Most sessions at once per client (its token, else its IP address).
    #[arg(long, value_parser = crate::positive)]
    pub client_sessions: Option<usize>,
    /// Most queries per client in any 60 s.
    #[arg(long, value_parser = crate::positive)]
    pub client_queries_per_minute: Option<usize>,
    /// Longest wait for one whole message (frame) from a client, or for a client to take
    /// one; a trickling, stalled or frozen peer ends its session after this.
    #[arg(long, value_parser = duration, default_value = "60")]
    pub message_deadline: Duration,
    /// Longest whole session (handshake, keys and every query).
    #[arg(long, value_parser = duration, default_value = "30m")]
    pub session_deadline: Duration,
    /// Log lines as text or JSON (one object per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl ServeNetArgs {
    /// Fills the network side of `run`.
    pub fn apply(&self, run: &mut ServeOptions) -> Result<(), String> {
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            run.tls = Some(gazelle::net::tls::server_config(cert, key).map_err(|e| e.to_string())?);
        }
        run.insecure_plaintext = self.insecure_plaintext;
        let mut access = AccessPolicy::open();
        if let Some(path) = &self.tokens {
            access = access
                .with_token_file(path)
                .map_err(|e| format!("--tokens {e}"))?;
        }
        access.sessions_per_client = self.client_sessions;
        access.queries_per_minute = self.client_queries_per_minute;
        run.access = Arc::new(access);
        run.timeout = self.message_deadline;
        run.session_deadline = self.session_deadline;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "0", "-1", "abc", "2h", "1e9", "0.1ms"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }
}
