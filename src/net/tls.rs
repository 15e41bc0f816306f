//! TLS 1.3 configurations for [`crate::channel::TcpChannel`] (rustls with the `ring` provider,
//! TLS 1.3 only): a server's certificate chain and key from PEM files, a client's trust
//! anchors from a PEM file or the system's roots, and a throwaway self-signed pair (`rcgen`)
//! for `gazelle demo` and tests.
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::Arc;

/// Errors of loading or making TLS configurations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration (e.g. a key that does not match the certificate).
    #[error("TLS configuration: {0}")]
    Config(String),
    /// A host name that cannot name a TLS server.
    #[error("'{0}' is not a valid TLS server name")]
    Name(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn config_err(e: rustls::Error) -> TlsError {
    TlsError::Config(e.to_string())
}

fn pem_err(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::Pem {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// A server configuration from a PEM certificate chain (leaf first) and a PEM private key
/// (PKCS#8, PKCS#1 or SEC1).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_err(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(cert, e))?;
    if chain.is_empty() {
        return Err(pem_err(cert, "no CERTIFICATE block"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err(key, e))?;
    server_config_from(chain, key)
}

fn server_config_from(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(config_err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(config_err)?;
    Ok(Arc::new(config))
}

/// A client configuration that trusts the certificates of the PEM file `ca`, or the system's
/// root certificates when `ca` is `None`.
pub fn client_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| pem_err(path, e))? {
                let cert = cert.map_err(|e| pem_err(path, e))?;
                roots.add(cert).map_err(config_err)?;
            }
            if roots.is_empty() {
                return Err(pem_err(path, "no CERTIFICATE block"));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(TlsError::Config(
                    "no system root certificate found: give --tls-ca".into(),
                ));
            }
        }
    }
    client_config_from(roots)
}

fn client_config_from(roots: RootCertStore) -> Result<Arc<ClientConfig>, TlsError> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(config_err)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A fresh self-signed certificate for `localhost` and `127.0.0.1`: the server's
/// configuration and a client configuration that trusts exactly that certificate.
pub fn throwaway() -> Result<(Arc<ServerConfig>, Arc<ClientConfig>), TlsError> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let der = cert.cert.der().clone();
    let key = PrivateKeyDer::try_from(cert.signing_key.serialize_der())
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let server = server_config_from(vec![der.clone()], key)?;
    let mut roots = RootCertStore::empty();
    roots.add(der).map_err(config_err)?;
    Ok((server, client_config_from(roots)?))
}

/// PEM files of a private certificate authority and of a server certificate it signed:
/// what `gazelle cert` writes for operators without a CA of their own.
#[derive(Debug)]
pub struct IssuedPem {
    /// The CA's certificate (give it to clients: `infer --tls-ca`).
    pub ca_cert: String,
    /// The server's certificate chain: its certificate, then the CA's (`serve --tls-cert`).
    pub chain: String,
    /// The server's private key, PKCS#8 (`serve --tls-key`); zeroized on drop.
    pub key: zeroize::Zeroizing<String>,
}

/// A fresh CA (ECDSA P-256) and a server certificate for `names` (DNS names or IP
/// addresses), valid for `days`. The CA's key is not kept: it signs nothing else.
pub fn issue(names: &[String], days: u32) -> Result<IssuedPem, TlsError> {
    let e = |e: rcgen::Error| TlsError::Config(e.to_string());
    if names.is_empty() {
        return Err(TlsError::Config(
            "a certificate needs at least one name".into(),
        ));
    }
    let now = time_now();
    let until = now + std::time::Duration::from_secs(86_400 * u64::from(days.max(1)));
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "gazelle private CA");
    ca.not_before = now.into();
    ca.not_after = until.into();
    let ca_key = rcgen::KeyPair::generate().map_err(e)?;
    let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).map_err(e)?;
    let mut leaf = rcgen::CertificateParams::new(names.to_vec()).map_err(e)?;
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, names[0].clone());
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = now.into();
    leaf.not_after = until.into();
    let leaf_key = rcgen::KeyPair::generate().map_err(e)?;
    let cert = leaf.signed_by(&leaf_key, &ca).map_err(e)?;
    Ok(IssuedPem {
        ca_cert: ca.pem(),
        chain: format!("{}{}", cert.pem(), ca.pem()),
        key: zeroize::Zeroizing::new(leaf_key.serialize_pem()),
    })
}

fn time_now() -> std::time::SystemTime {
    // A minute back, so that a peer whose clock is slightly behind accepts it at once.
    std::time::SystemTime::now() - std::time::Duration::from_secs(60)
}

/// The TLS name of `host` (a DNS name or an IP address).
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.to_string()).map_err(|_| TlsError::Name(host.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{Channel, ChannelError, TcpChannel};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    #[test]
    fn tls_channel_carries_frames_and_rejects_an_untrusted_server() {
        let (server_cfg, client_cfg) = throwaway().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut ch = TcpChannel::tls_server(s, server_cfg, Duration::from_secs(5)).unwrap();
            let f = ch.recv(1 << 22).unwrap();
            ch.send(&f).unwrap();
            assert!(ch.wire_bytes_received() > ch.bytes_received());
            // A second client that does not trust this certificate fails the handshake.
            let (s, _) = listener.accept().unwrap();
            TcpChannel::tls_server(s, throwaway().unwrap().0, Duration::from_secs(5)).map(|_| ())
        });
        let s = TcpStream::connect(addr).unwrap();
        let name = server_name("localhost").unwrap();
        let mut ch = TcpChannel::tls_client(s, client_cfg, name, Duration::from_secs(5)).unwrap();
        assert!(ch.is_tls());
        let big: Vec<u8> = (0..3_000_000u32).map(|i| i as u8).collect();
        ch.send(&big).unwrap();
        assert_eq!(ch.recv(1 << 22).unwrap(), big);
        assert_eq!(ch.bytes_sent(), big.len() as u64);
        // TLS records, the handshake and the length prefix cost a little more on the wire.
        let overhead = ch.wire_bytes_sent() - ch.bytes_sent();
        assert!(overhead > 4 && overhead < 20_000, "{overhead}");

        let (_, other_client) = throwaway().unwrap();
        let s = TcpStream::connect(addr).unwrap();
        let name = server_name("localhost").unwrap();
        let e = TcpChannel::tls_client(s, other_client, name, Duration::from_secs(5)).unwrap_err();
        assert!(
            matches!(e, ChannelError::Tls(ref r) if r.contains("certificate")),
            "{e}"
        );
        assert!(t.join().unwrap().is_err());
    }

    #[test]
    fn issued_files_work_together() {
        let pem = issue(&["localhost".into(), "127.0.0.1".into()], 2).unwrap();
        let dir = std::env::temp_dir().join(format!("gazelle-issue-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca, chain, key) = (
            dir.join("ca.pem"),
            dir.join("cert.pem"),
            dir.join("key.pem"),
        );
        std::fs::write(&ca, &pem.ca_cert).unwrap();
        std::fs::write(&chain, &pem.chain).unwrap();
        std::fs::write(&key, pem.key.as_bytes()).unwrap();
        let server_cfg = server_config(&chain, &key).unwrap();
        let client_cfg = client_config(Some(&ca)).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut ch = TcpChannel::tls_server(s, server_cfg, Duration::from_secs(5)).unwrap();
            ch.send(b"hi").unwrap();
        });
        let s = TcpStream::connect(addr).unwrap();
        let name = server_name("127.0.0.1").unwrap();
        let mut ch = TcpChannel::tls_client(s, client_cfg, name, Duration::from_secs(5)).unwrap();
        assert_eq!(ch.recv(10).unwrap(), b"hi");
        t.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_pem_files_are_clear_errors() {
        let dir = std::env::temp_dir().join(format!("gazelle-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        assert!(server_config(&junk, &junk).is_err());
        assert!(client_config(Some(&junk)).is_err());
        assert!(client_config(Some(&dir.join("missing.pem"))).is_err());
        assert!(server_name("bad name!").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
