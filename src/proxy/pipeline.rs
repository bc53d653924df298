//! The request pipeline, phase by phase in request order. Every check that can refuse a request
//! runs before the session phase, so a refused request never costs an STS call and is never
//! forwarded. Per-request metrics are recorded once, in `finish`.

use super::Upstream;
use crate::broker::SessionBroker;
use crate::chime::bind_bearer;
use crate::clock::SharedClock;
use crate::config::BearerMode;
use crate::error::{GatewayError, ProxyBody};
use crate::identity::Authenticator;
use crate::mapping::Mapper;
use crate::metrics::Metrics;
use crate::signing::Signer;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use std::sync::Arc;
use std::time::Instant;

pub struct Gateway {
    pub auth: Authenticator,
    pub mapper: Mapper,
    pub broker: SessionBroker,
    pub signer: Signer,
    pub upstream: Upstream,
    pub bearer_mode: BearerMode,
    pub max_body_bytes: usize,
    pub metrics: Arc<Metrics>,
    pub clock: SharedClock,
}

impl Gateway {
    pub async fn handle(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let started = Instant::now();
        let method = req.method().clone();
        let result = self.proxy(req).await;
        self.finish(result, method, started)
    }

    async fn proxy(&self, req: Request<Incoming>) -> Result<Response<ProxyBody>, GatewayError> {
        let (mut parts, body) = req.into_parts();

        let principal = self.auth.authenticate(&parts.headers).await?;
        let mapped = self.mapper.map(&principal)?;
        bind_bearer(&mut parts.headers, &mapped.user_arn, self.bearer_mode)?;
        let body = read_body(&parts.headers, body, self.max_body_bytes).await?;

        let session = self.broker.credentials(&mapped.spec).await?;

        let mut upstream_req = self.upstream.prepare(parts, body)?;
        self.signer
            .sign(&mut upstream_req, &session.credentials, self.clock.now())?;
        self.upstream.forward(upstream_req).await
    }

    fn finish(
        &self,
        result: Result<Response<ProxyBody>, GatewayError>,
        method: http::Method,
        started: Instant,
    ) -> Response<ProxyBody> {
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        let resp = match result {
            Ok(resp) => {
                tracing::info!(%method, status = resp.status().as_u16(), elapsed_ms, "proxied");
                resp
            }
            Err(e) => {
                if let GatewayError::Identity(ie) = &e {
                    self.metrics
                        .token_rejections
                        .with_label_values(&[ie.reason()])
                        .inc();
                }
                let status = e.status();
                if status.is_server_error() {
                    tracing::warn!(%method, status = status.as_u16(), code = e.code(), error = %e, elapsed_ms, "refused");
                } else {
                    tracing::info!(%method, status = status.as_u16(), code = e.code(), error = %e, elapsed_ms, "refused");
                }
                e.into_response()
            }
        };
        self.metrics
            .requests_total
            .with_label_values(&[resp.status().as_str()])
            .inc();
        resp
    }
}

/// Buffers the body (its hash is signed) up to `limit`; a declared oversize is refused unread.
async fn read_body(
    headers: &HeaderMap,
    body: Incoming,
    limit: usize,
) -> Result<Bytes, GatewayError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(GatewayError::BodyTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(GatewayError::BodyTooLarge { limit })
        }
        Err(_) => Err(GatewayError::BadRequest(
            "could not read the request body".into(),
        )),
    }
}
