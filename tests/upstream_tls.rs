//! The production upstream path is HTTPS: stsgate reaches the Chime stand-in through a TLS front
//! whose certificate chains to a test CA, trusted only through `upstream.ca_file`. Without it, the
//! same upstream is refused, so certificate verification is real.

use crate::support::{Harness, message_body, messages_path, overrides, standins_config};
use http::StatusCode;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use stsgate::config::Config;
use tokio::net::{TcpListener, TcpStream};

/// A TLS terminator for `localhost` in front of `backend`; returns its port and the CA's PEM.
async fn tls_front(backend: std::net::SocketAddr) -> (u16, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, private)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, ca.pem())
}

/// Points the upstream at `https://localhost:{port}`, trusting `ca_file` if given.
fn point_upstream_at(
    port: u16,
    ca_file: Option<&std::path::Path>,
) -> impl FnOnce(&mut Config) + '_ {
    move |c| {
        c.upstream.endpoint = Some(format!("https://localhost:{port}").parse().unwrap());
        c.upstream.ca_file = ca_file.map(Into::into);
    }
}

#[tokio::test]
async fn the_upstream_is_reached_over_verified_tls() {
    // The stand-ins of one harness serve as the backend of the TLS front.
    let probe = Harness::start().await;
    let (port, ca_pem) = tls_front(probe.standins.chime.addr).await;
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca_pem).unwrap();

    // A gateway on the same stand-ins, its upstream behind TLS, trusting the test CA.
    let mut config = standins_config(&probe.standins);
    point_upstream_at(port, Some(ca_file.path()))(&mut config);
    let settings = stsgate::config::validate(&config).unwrap();
    let gateway = stsgate::app::start(settings, overrides(&probe.standins))
        .await
        .unwrap();
    let token = probe.token("alice");
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let req = http::Request::post(format!("http://{}{}", gateway.proxy_addr, messages_path()))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(message_body(
            "over tls",
        ))))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let seen = probe.standins.chime.received();
    assert_eq!(
        seen.last().unwrap().header("host"),
        Some(format!("localhost:{port}").as_str()),
        "signed for the TLS host"
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn an_untrusted_upstream_certificate_is_refused() {
    let probe = Harness::start().await;
    let (port, _ca_pem) = tls_front(probe.standins.chime.addr).await;
    let h = Harness::start_with(point_upstream_at(port, None)).await;
    // This harness has its own stand-ins; the TLS front leads to the probe's, but the handshake
    // fails before any request could be sent.
    let r = h.call("alice", "GET", &messages_path(), "").await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.body);
    assert_eq!(r.json()["error"], "upstream_unavailable");
    assert!(probe.standins.chime.received().is_empty());
}

#[tokio::test]
async fn a_bad_ca_file_stops_start_up_naming_the_key() {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), "not a certificate").unwrap();
    let probe = Harness::start().await;
    let mut config = standins_config(&probe.standins);
    point_upstream_at(1, Some(f.path()))(&mut config);
    let e = stsgate::config::validate(&config).unwrap_err().to_string();
    assert!(e.contains("upstream.ca_file"), "{e}");
}
