//! The outbound HTTP client for stsgate's own calls (JWKS, discovery, the Chime identity API):
//! hyper 1 over rustls with aws-lc-rs, HTTP/1.1 and HTTP/2, pooled. Trust = Mozilla roots plus
//! the system's roots. Forwarded requests use the proxy's own pool over the same connector.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    tls: Arc<rustls::ClientConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("request failed: {0}")]
    Transport(String),
    #[error("timed out")]
    Timeout,
    #[error("unexpected status {0}")]
    Status(StatusCode),
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
}

/// Time allowed to open a TCP connection when nothing else is configured.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl HttpClient {
    pub fn new() -> Self {
        Self::with_extra_roots(Vec::new(), CONNECT_TIMEOUT)
    }

    /// Trusts `extra` CA certificates besides the Mozilla and system roots.
    pub fn with_extra_roots(
        extra: Vec<CertificateDer<'static>>,
        connect_timeout: Duration,
    ) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for cert in extra {
            let _ = roots.add(cert);
        }
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tls = Arc::new(tls);
        let https = https_connector(&tls, connect_timeout, true);
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        HttpClient { inner, tls }
    }

    /// The TLS settings (trust roots), for connections made outside this client (WebSockets).
    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    /// Sends a request; the response body streams.
    pub async fn send(
        &self,
        req: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Response<Incoming>, FetchError> {
        match tokio::time::timeout(timeout, self.inner.request(req)).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(FetchError::Transport(error_chain(&e))),
            Err(_) => Err(FetchError::Timeout),
        }
    }

    /// GETs a small document (discovery, JWKS) with a size cap; only 200 is accepted.
    pub async fn get_small(
        &self,
        url: &Url,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<Bytes, FetchError> {
        let req = Request::get(url.as_str())
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        let fetch = async {
            let resp = self.send(req, timeout).await?;
            if resp.status() != StatusCode::OK {
                return Err(FetchError::Status(resp.status()));
            }
            Limited::new(resp.into_body(), max_bytes)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .map_err(|_| FetchError::TooLarge(max_bytes))
        };
        tokio::time::timeout(timeout, fetch)
            .await
            .map_err(|_| FetchError::Timeout)?
    }
}

/// TCP (no Nagle, `connect_timeout`) then TLS for `https://` with ALPN http/1.1, and h2 when
/// `http2`; plain for `http://`.
pub fn https_connector(
    tls: &rustls::ClientConfig,
    connect_timeout: Duration,
    http2: bool,
) -> HttpsConnector<HttpConnector> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_or_http()
        .enable_http1();
    if http2 {
        builder.enable_http2().wrap_connector(http)
    } else {
        builder.wrap_connector(http)
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

/// "connect: Connection refused" rather than just "client error".
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}
