//! The proxy listener's TLS over real sockets, with a stock rustls client: ALPN, a certificate
//! rotated on disk serving new connections without a restart, a bad rotation keeping the old one,
//! required client certificates, and the admin listener over TLS.

use crate::support::{Harness, SETTLE, eventually};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use stsgate::config::TlsConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A test CA that issues server and client certificates.
struct Ca(CertifiedIssuer<'static, KeyPair>);

/// A certificate and its key, as DER and PEM.
struct Issued {
    der: CertificateDer<'static>,
    cert_pem: String,
    key: KeyPair,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Ca(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    /// A `localhost` certificate valid until 1 January of `year`.
    fn issue(&self, year: i32) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(year, 1, 1);
        let cert = params.signed_by(&key, &self.0).unwrap();
        Issued {
            der: cert.der().clone(),
            cert_pem: cert.pem(),
            key,
        }
    }

    fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.0.der().clone()).unwrap();
        roots
    }
}

impl Issued {
    fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }
}

/// Replaces `path` at once, as a Kubernetes secret volume does (write aside, then rename).
fn swap(path: &Path, contents: &str) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, contents).unwrap();
    std::fs::rename(aside, path).unwrap();
}

fn write_pair(dir: &Path, issued: &Issued) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    swap(&key, &issued.key.serialize_pem());
    swap(&cert, &issued.cert_pem);
    (cert, key)
}

const H2: &[u8] = b"h2";
const HTTP1: &[u8] = b"http/1.1";

/// A client trusting `ca`, presenting `identity` if given, offering `alpn`.
fn client(ca: &Ca, identity: Option<&Issued>, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(ca.roots());
    let mut config = match identity {
        Some(id) => builder
            .with_client_auth_cert(vec![id.der.clone()], id.private_key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn connect(
    addr: SocketAddr,
    connector: &tokio_rustls::TlsConnector,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

fn peer_certificate(s: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    s.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// One HTTP/1.1 request on `s`; the status line of the answer, or the I/O error.
async fn status_line(s: &mut TlsStream<TcpStream>, path: &str) -> std::io::Result<String> {
    let req = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut buf = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("answered in time")?;
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_rotated_certificate_serves_new_connections_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let (first, second) = (ca.issue(2030), ca.issue(2031));
    let (cert, key) = write_pair(dir.path(), &first);
    let h = Harness::start_with(|c| {
        c.tls = Some(TlsConfig {
            reload_interval_seconds: 1,
            ..TlsConfig::new(cert.clone(), key.clone())
        });
    })
    .await;
    let addr = h.gateway.proxy_addr;
    let https = client(&ca, None, &[H2, HTTP1]);
    let negotiated = connect(addr, &https).await.unwrap();
    assert_eq!(peer_certificate(&negotiated), first.der);
    assert_eq!(negotiated.get_ref().1.alpn_protocol(), Some(H2));
    let mut kept = connect(addr, &client(&ca, None, &[HTTP1])).await.unwrap();
    assert_eq!(
        status_line(&mut kept, "/channels").await.unwrap(),
        "HTTP/1.1 401 Unauthorized"
    );
    let expiry = "stsgate_tls_certificate_expiry_timestamp_seconds";
    assert_eq!(h.metric(expiry).await, 1_893_456_000.0, "2030-01-01");

    write_pair(dir.path(), &second);
    eventually(SETTLE, "the second certificate is served", || async {
        let s = connect(addr, &https).await.unwrap();
        peer_certificate(&s) == second.der
    })
    .await;
    assert_eq!(
        h.metric("stsgate_tls_reloads_total{result=\"ok\"}").await,
        1.0
    );
    assert_eq!(h.metric(expiry).await, 1_924_992_000.0, "2031-01-01");
    // The connection made before the rotation still serves.
    assert_eq!(
        status_line(&mut kept, "/channels").await.unwrap(),
        "HTTP/1.1 401 Unauthorized"
    );

    // A certificate whose key is not the one on disk: refused, the second certificate stays.
    swap(&cert, &ca.issue(2032).cert_pem);
    eventually(SETTLE, "the bad certificate is refused", || async {
        h.metric("stsgate_tls_reloads_total{result=\"failed\"}")
            .await
            == 1.0
    })
    .await;
    let s = connect(addr, &https).await.unwrap();
    assert_eq!(peer_certificate(&s), second.der);
    assert_eq!(
        status_line(&mut kept, "/channels").await.unwrap(),
        "HTTP/1.1 401 Unauthorized"
    );
    // Reported once, not on every check: two more checks pass, with nothing to poll for.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        h.metric("stsgate_tls_reloads_total{result=\"failed\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn client_certificates_are_required_when_a_client_ca_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, clients, strangers) = (Ca::new(), Ca::new(), Ca::new());
    let (cert, key) = write_pair(dir.path(), &ca.issue(2030));
    let client_ca = dir.path().join("clients.pem");
    std::fs::write(&client_ca, clients.0.pem()).unwrap();
    let h = Harness::start_unready(|c| {
        c.tls = Some(TlsConfig {
            client_ca_file: Some(client_ca),
            admin: true,
            ..TlsConfig::new(cert, key)
        });
    })
    .await;
    let (proxy, admin) = (h.gateway.proxy_addr, h.gateway.admin_addr);

    // The admin listener speaks TLS with the same certificate, without client certificates.
    let mut s = connect(admin, &client(&ca, None, &[HTTP1])).await.unwrap();
    assert_eq!(
        status_line(&mut s, "/healthz").await.unwrap(),
        "HTTP/1.1 200 OK"
    );

    // The proxy listener: no certificate, or one from another CA, gets no HTTP answer.
    for who in [None, Some(strangers.issue(2030))] {
        let refused = match connect(proxy, &client(&ca, who.as_ref(), &[HTTP1])).await {
            Err(_) => true,
            // TLS 1.3: the client learns of the refusal on its first read.
            Ok(mut s) => status_line(&mut s, "/channels")
                .await
                .map_or(true, |line| !line.starts_with("HTTP/")),
        };
        assert!(refused, "a client without a trusted certificate was served");
    }
    let trusted = clients.issue(2030);
    let mut s = connect(proxy, &client(&ca, Some(&trusted), &[HTTP1]))
        .await
        .unwrap();
    assert_eq!(
        status_line(&mut s, "/channels").await.unwrap(),
        "HTTP/1.1 401 Unauthorized"
    );
}
