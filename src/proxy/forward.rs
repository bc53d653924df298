//! The Chime upstream: turns the client's request into one addressed to the configured endpoint
//! (same method, same raw path and query), sends it through a [`Transport`], and hands back the
//! streamed response.

use super::headers::strip_hop_by_hop;
use super::inbound::forwarded_headers;
use crate::BoxFuture;
use crate::chime::BEARER_HEADER;
use crate::error::{GatewayError, ProxyBody};
use crate::http_client::FetchError;
use bytes::Bytes;
use http::header::HOST;
use http::request::Parts;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Sends one signed request and returns the response with its body still streaming: the HTTP
/// client in production, a stub in tests.
pub trait Transport: Send + Sync + 'static {
    fn send(
        &self,
        req: Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Response<ProxyBody>, FetchError>>;
}

pub struct Upstream {
    transport: Arc<dyn Transport>,
    /// The endpoint's scheme and authority, parsed once: every upstream URI is put together
    /// from these and a path.
    scheme: Scheme,
    authority: Authority,
    host: HeaderValue,
    timeout: Duration,
}

impl Upstream {
    pub fn new(endpoint: &Url, transport: Arc<dyn Transport>, timeout: Duration) -> Self {
        let host = match endpoint.port() {
            Some(p) => format!("{}:{p}", endpoint.host_str().unwrap_or_default()),
            None => endpoint.host_str().unwrap_or_default().to_owned(),
        };
        let origin = format!("{}://{host}", endpoint.scheme());
        let parsed = Uri::try_from(origin).expect("a URL's origin is a valid URI");
        Upstream {
            transport,
            scheme: parsed.scheme().cloned().expect("a URL has a scheme"),
            authority: parsed
                .authority()
                .cloned()
                .expect("an http(s) URL has a host"),
            host: HeaderValue::from_str(&host).expect("URL host is a valid header value"),
            timeout,
        }
    }

    /// The upstream request, unsigned: the client's method, its raw path byte for byte (an ARN
    /// label stays single-encoded, `%3A`, `%2F`, exactly as the SDK sent it), the checked `query`,
    /// and only the forwarded headers plus the bound bearer.
    pub fn prepare(
        &self,
        parts: &Parts,
        query: Option<&str>,
        body: Bytes,
    ) -> Result<Request<Bytes>, GatewayError> {
        let path = parts.uri.path();
        if !path.starts_with('/') {
            return Err(GatewayError::BadRequest(
                "request target must be a path".into(),
            ));
        }
        let invalid = || GatewayError::BadRequest("request target is not a valid URI".into());
        let path_and_query = match (query, parts.uri.path_and_query()) {
            // The query as the client sent it (the usual case): its parsed form is reused.
            (q, Some(pq)) if q == pq.query() => pq.clone(),
            (Some(q), _) => PathAndQuery::try_from(format!("{path}?{q}")).map_err(|_| invalid())?,
            (None, _) => PathAndQuery::try_from(path).map_err(|_| invalid())?,
        };
        let uri = self.uri(path_and_query).map_err(|_| invalid())?;
        let mut headers = forwarded_headers(&parts.headers);
        if let Some(bearer) = parts.headers.get(BEARER_HEADER) {
            headers.insert(BEARER_HEADER, bearer.clone());
        }
        headers.insert(HOST, self.host.clone());
        let mut req = Request::new(body);
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        Ok(req)
    }

    /// The endpoint's URI for `path_and_query`.
    fn uri(&self, path_and_query: PathAndQuery) -> Result<Uri, http::uri::InvalidUriParts> {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path_and_query);
        Uri::from_parts(parts)
    }

    /// A bodiless request of stsgate's own (e.g. GetMessagingSessionEndpoint), unsigned.
    pub fn request(
        &self,
        method: http::Method,
        path_and_query: &str,
    ) -> Result<Request<Bytes>, GatewayError> {
        let mut req = Request::new(Bytes::new());
        *req.method_mut() = method;
        let invalid = || GatewayError::BadRequest("invalid upstream path".into());
        let path_and_query = PathAndQuery::try_from(path_and_query).map_err(|_| invalid())?;
        *req.uri_mut() = self.uri(path_and_query).map_err(|_| invalid())?;
        req.headers_mut().insert(HOST, self.host.clone());
        Ok(req)
    }

    /// Sends a signed request; status, headers (less hop-by-hop) and body come back unchanged.
    pub async fn forward(&self, req: Request<Bytes>) -> Result<Response<ProxyBody>, GatewayError> {
        let mut resp = self
            .transport
            .send(req, self.timeout)
            .await
            .map_err(GatewayError::Upstream)?;
        strip_hop_by_hop(resp.headers_mut());
        Ok(resp)
    }
}
