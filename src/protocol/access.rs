//! Who may use a server, and how much (`serve --tokens`, `--client-sessions`,
//! `--client-queries-per-minute`): an [`AccessPolicy`] shared by the accept loop, and one
//! [`AccessGate`] per session (the [`SessionGate`] the session asks).
//!
//! Tokens are kept only as SHA-256 digests and compared in constant time against every
//! known digest (no early exit). A client is its token when tokens are required, else its IP
//! address; limits count per client. Nothing here logs a token: a client is named by the
//! token's line number in the file or by its address.
use super::handshake::{Credential, MAX_CREDENTIAL};
use super::server::SessionGate;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Shortest token accepted in a token file (bytes).
pub const MIN_TOKEN: usize = 16;

/// The window of the query-rate limit.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Who a client is, for its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientId {
    /// The token on this line of the token file (1-based).
    Token(usize),
    /// No tokens are required: the peer's address.
    Address(IpAddr),
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientId::Token(line) => write!(f, "token of line {line}"),
            ClientId::Address(a) => write!(f, "address {a}"),
        }
    }
}

#[derive(Debug, Default)]
struct ClientState {
    sessions: usize,
    /// Start times of the queries of the last [`RATE_WINDOW`].
    recent: VecDeque<Instant>,
}

/// A server's access rules and the per-client counts they need.
#[derive(Debug, Default)]
pub struct AccessPolicy {
    /// Digests of the accepted tokens with their line numbers; `None`: no token required.
    tokens: Option<Vec<([u8; 32], usize)>>,
    /// Most sessions at once per client.
    pub sessions_per_client: Option<usize>,
    /// Most queries started per client in any 60 s.
    pub queries_per_minute: Option<usize>,
    state: Mutex<HashMap<ClientId, ClientState>>,
}

/// Errors of loading a token file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TokenFileError {
    path: String,
    reason: String,
}

impl AccessPolicy {
    /// Admits everyone, without limits.
    pub fn open() -> AccessPolicy {
        AccessPolicy::default()
    }

    /// Requires one of the tokens of `path`: one per line (surrounding white space ignored;
    /// empty lines and lines starting with `#` skipped), each of [`MIN_TOKEN`] to 255 bytes.
    pub fn with_token_file(mut self, path: &Path) -> Result<AccessPolicy, TokenFileError> {
        let err = |reason: String| TokenFileError {
            path: path.display().to_string(),
            reason,
        };
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
        let mut tokens = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if t.len() < MIN_TOKEN || t.len() > MAX_CREDENTIAL {
                return Err(err(format!(
                    "line {}: a token must have {MIN_TOKEN} to {MAX_CREDENTIAL} bytes, this one has {} (e.g. `openssl rand -hex 32`)",
                    i + 1,
                    t.len()
                )));
            }
            tokens.push((Sha256::digest(t.as_bytes()).into(), i + 1));
        }
        if tokens.is_empty() {
            return Err(err("no token in the file".into()));
        }
        self.tokens = Some(tokens);
        Ok(self)
    }

    /// Whether clients must present a token.
    pub fn requires_token(&self) -> bool {
        self.tokens.is_some()
    }

    /// Number of accepted tokens.
    pub fn token_count(&self) -> usize {
        self.tokens.as_ref().map_or(0, Vec::len)
    }

    /// The gate of a session from `peer`.
    pub fn gate(self: &Arc<Self>, peer: IpAddr) -> AccessGate {
        AccessGate {
            policy: self.clone(),
            peer,
            client: None,
        }
    }

    /// Which client `credential` is, or why it is not admitted.
    fn identify(&self, credential: &Credential, peer: IpAddr) -> Result<ClientId, String> {
        let Some(tokens) = &self.tokens else {
            return Ok(ClientId::Address(peer));
        };
        if !credential.is_present() {
            return Err("this server requires an access token (infer --token)".into());
        }
        let digest: [u8; 32] = Sha256::digest(credential.expose()).into();
        // Every digest is compared, whichever matches.
        let mut found = 0usize;
        for (d, line) in tokens {
            let hit = d.ct_eq(&digest).unwrap_u8() as usize;
            found |= hit * line;
        }
        if found == 0 {
            return Err("unknown access token".into());
        }
        Ok(ClientId::Token(found))
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut HashMap<ClientId, ClientState>) -> T) -> T {
        let mut map = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut map)
    }
}

/// One session's view of the [`AccessPolicy`]: admits its client (holding one of the
/// client's session slots until dropped, also on panic) and rate-limits its queries.
#[derive(Debug)]
pub struct AccessGate {
    policy: Arc<AccessPolicy>,
    peer: IpAddr,
    client: Option<ClientId>,
}

impl AccessGate {
    /// The admitted client, once [`SessionGate::admit`] succeeded.
    pub fn client(&self) -> Option<ClientId> {
        self.client
    }
}

impl SessionGate for AccessGate {
    fn admit(&mut self, credential: &Credential) -> Result<(), String> {
        let id = self.policy.identify(credential, self.peer)?;
        let limit = self.policy.sessions_per_client;
        self.policy.with_state(|map| {
            let st = map.entry(id).or_default();
            if let Some(max) = limit {
                if st.sessions >= max {
                    return Err(format!(
                        "too many sessions for this client ({max}/{max}), retry later"
                    ));
                }
            }
            st.sessions += 1;
            Ok(())
        })?;
        self.client = Some(id);
        Ok(())
    }

    fn start_query(&mut self) -> Result<(), String> {
        let (Some(id), Some(max)) = (self.client, self.policy.queries_per_minute) else {
            return Ok(());
        };
        let now = Instant::now();
        self.policy.with_state(|map| {
            let st = map.entry(id).or_default();
            while st
                .recent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW)
            {
                st.recent.pop_front();
            }
            if st.recent.len() >= max {
                let wait = RATE_WINDOW.saturating_sub(now.duration_since(st.recent[0]));
                return Err(format!(
                    "query rate limit of this client reached ({max} per minute), retry in {} s",
                    wait.as_secs() + 1
                ));
            }
            st.recent.push_back(now);
            Ok(())
        })
    }
}

impl Drop for AccessGate {
    fn drop(&mut self) {
        let Some(id) = self.client else { return };
        self.policy.with_state(|map| {
            if let Some(st) = map.get_mut(&id) {
                st.sessions = st.sessions.saturating_sub(1);
                let now = Instant::now();
                // Forget clients with nothing left to count.
                let idle = st.sessions == 0
                    && st
                        .recent
                        .back()
                        .is_none_or(|t| now.duration_since(*t) >= RATE_WINDOW);
                if idle {
                    map.remove(&id);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(s: &str) -> Credential {
        Credential::new(s.as_bytes()).unwrap()
    }

    #[test]
    fn tokens_limits_and_release() {
        let dir = std::env::temp_dir().join(format!("gazelle-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tokens");
        std::fs::write(
            &file,
            "# ops\n  alpha-0123456789abcdef \n\nbeta-0123456789abcdef\n",
        )
        .unwrap();
        let mut p = AccessPolicy::open().with_token_file(&file).unwrap();
        p.sessions_per_client = Some(1);
        p.queries_per_minute = Some(2);
        let p = Arc::new(p);
        assert_eq!(p.token_count(), 2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let mut g = p.gate(ip);
        assert!(g
            .admit(&Credential::none())
            .unwrap_err()
            .contains("requires"));
        assert!(g
            .admit(&cred("gamma-0123456789abcdef"))
            .unwrap_err()
            .contains("unknown"));
        g.admit(&cred("alpha-0123456789abcdef")).unwrap();
        assert_eq!(g.client(), Some(ClientId::Token(2)));
        // One session per client: a second one with the same token is refused, another
        // token is not.
        let mut g2 = p.gate(ip);
        assert!(g2
            .admit(&cred("alpha-0123456789abcdef"))
            .unwrap_err()
            .contains("1/1"));
        let mut g3 = p.gate(ip);
        g3.admit(&cred("beta-0123456789abcdef")).unwrap();
        assert_eq!(g3.client(), Some(ClientId::Token(4)));
        // Two queries a minute.
        g.start_query().unwrap();
        g.start_query().unwrap();
        assert!(g.start_query().unwrap_err().contains("2 per minute"));
        g3.start_query().unwrap();
        // The slot comes back with the gate, the rate window stays.
        drop(g);
        let mut g4 = p.gate(ip);
        g4.admit(&cred("alpha-0123456789abcdef")).unwrap();
        assert!(g4.start_query().is_err());

        std::fs::write(&file, "short\n").unwrap();
        let e = AccessPolicy::open().with_token_file(&file).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert_eq!(format!("{e}").matches("short").count(), 0);
        std::fs::write(&file, "# nothing\n").unwrap();
        assert!(AccessPolicy::open().with_token_file(&file).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_tokens_clients_are_addresses() {
        let mut p = AccessPolicy::open();
        p.sessions_per_client = Some(1);
        let p = Arc::new(p);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let mut g = p.gate(a);
        g.admit(&cred("whatever-the-client-sends")).unwrap();
        assert!(p.gate(a).admit(&Credential::none()).is_err());
        p.gate(b).admit(&Credential::none()).unwrap();
    }
}
