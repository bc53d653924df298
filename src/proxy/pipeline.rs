//! The request pipeline, phase by phase in request order: route → authenticate → map → allow →
//! bind the caller → read the body → session → sign → forward. Every check that can refuse a
//! request runs before the session phase, so a refused request never costs an STS call and is
//! never forwarded. Per-request metrics are recorded once, in `finish`.

use super::Upstream;
use super::websocket::{Bridge, SocketRequest, Upgrade};
use crate::broker::SessionBroker;
use crate::chime::BearerMode;
use crate::chime::operations::AllowList;
use crate::chime::operations::{self, BearerRule, CONNECT, Operation};
use crate::chime::{BEARER_HEADER, bind_bearer, check_user_arn_query};
use crate::clock::SharedClock;
use crate::error::{GatewayError, ProxyBody, json_response};
use crate::identity::{Authenticator, IdentityError};
use crate::mapping::{Mapped, Mapper};
use crate::metrics::Metrics;
use crate::signing::Signer;
use aws_smithy_types::date_time::{DateTime, Format};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `operation` label for requests that match no Chime operation.
const UNKNOWN: &str = "unknown";
/// `operation` label for `POST /credentials`.
const VEND: &str = "VendCredentials";

pub struct Gateway {
    pub auth: Authenticator,
    pub mapper: Mapper,
    pub broker: SessionBroker,
    pub signer: Signer,
    pub upstream: Upstream,
    pub bridge: Bridge,
    pub bearer_mode: BearerMode,
    pub allowed: AllowList,
    pub admin_user_arns: HashSet<String>,
    pub vending: bool,
    pub max_body_bytes: usize,
    pub metrics: Arc<Metrics>,
    pub clock: SharedClock,
}

/// What a request is, decided from method and raw path before anything else.
#[derive(Clone, Copy)]
enum Route {
    Api(Option<&'static Operation>),
    Connect,
    Vend,
}

impl Route {
    fn label(self) -> &'static str {
        match self {
            Route::Api(Some(op)) => op.name,
            Route::Api(None) => UNKNOWN,
            Route::Connect => CONNECT,
            Route::Vend => VEND,
        }
    }
}

/// Per-request timings for `finish`.
#[derive(Default)]
struct Timing {
    upstream: Option<Duration>,
}

impl Gateway {
    pub async fn handle(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let started = Instant::now();
        let method = req.method().clone();
        let route = self.route(req.method(), req.uri());
        let mut timing = Timing::default();
        let result = self.proxy(req, route, &mut timing).await;
        self.finish(result, method, route, started, timing)
    }

    fn route(&self, method: &Method, uri: &http::Uri) -> Route {
        match (method, uri.path()) {
            (&Method::GET, "/connect") => Route::Connect,
            (&Method::POST, "/credentials") if self.vending => Route::Vend,
            _ => Route::Api(operations::classify(method, uri.path(), uri.query())),
        }
    }

    async fn proxy(
        &self,
        req: Request<Incoming>,
        route: Route,
        timing: &mut Timing,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        let (mut parts, body) = req.into_parts();

        let principal = match (route, self.auth.authenticate(&parts.headers).await) {
            // Browsers cannot set headers on a WebSocket upgrade: they may send `?token=`.
            (Route::Connect, Err(IdentityError::Missing)) => {
                let token =
                    query_param(parts.uri.query(), "token").ok_or(IdentityError::Missing)?;
                self.auth.authenticate_token(&token).await?
            }
            (_, result) => result?,
        };
        let mapped = self.mapper.map(&principal)?;
        let not_after = UNIX_EPOCH + Duration::from_secs(principal.expires_at.max(0) as u64);

        match route {
            Route::Vend => {
                let session = self.broker.credentials(&mapped.spec).await?;
                self.metrics.credentials_vended.inc();
                Ok(vend(&session.credentials, session.expires_at))
            }
            Route::Connect => {
                self.allow(CONNECT)?;
                let upgrade = Upgrade::from_parts(&mut parts).ok_or_else(|| {
                    GatewayError::BadRequest("GET /connect must be a WebSocket upgrade".into())
                })?;
                let session = self.broker.credentials(&mapped.spec).await?;
                let request = SocketRequest {
                    upgrade,
                    client_query: parts.uri.query(),
                    user_arn: &mapped.user_arn,
                    session,
                    now: self.clock.now(),
                    not_after,
                };
                self.bridge
                    .connect(request, &self.upstream, &self.signer)
                    .await
            }
            Route::Api(op) => {
                let op = op.ok_or(GatewayError::OperationNotAllowed(UNKNOWN))?;
                self.allow(op.name)?;
                self.bind_caller(op, &mut parts, &mapped)?;
                let body = read_body(&parts.headers, body, self.max_body_bytes).await?;

                let session = self.broker.credentials(&mapped.spec).await?;

                let mut upstream_req = self.upstream.prepare(parts, body)?;
                self.signer
                    .sign(&mut upstream_req, &session.credentials, self.clock.now())?;
                let sent = Instant::now();
                let resp = self.upstream.forward(upstream_req).await;
                timing.upstream = Some(sent.elapsed());
                resp
            }
        }
    }

    fn allow(&self, name: &'static str) -> Result<(), GatewayError> {
        if self.allowed.contains(name) {
            Ok(())
        } else {
            Err(GatewayError::OperationNotAllowed(name))
        }
    }

    /// The caller acts only as itself: the bearer header where the operation takes one, and any
    /// `app-instance-user-arn` query parameter unless the caller is a configured admin.
    fn bind_caller(
        &self,
        op: &Operation,
        parts: &mut Parts,
        mapped: &Mapped,
    ) -> Result<(), GatewayError> {
        match op.bearer {
            BearerRule::Required | BearerRule::Optional => {
                bind_bearer(&mut parts.headers, &mapped.user_arn, self.bearer_mode)?
            }
            // Not part of this operation: never sign a bearer the caller chose.
            BearerRule::None => {
                parts.headers.remove(BEARER_HEADER);
            }
        }
        if op.user_arn_query_param() {
            let admin = self.admin_user_arns.contains(&mapped.user_arn);
            check_user_arn_query(parts.uri.query(), &mapped.user_arn, admin)?;
        }
        Ok(())
    }

    fn finish(
        &self,
        result: Result<Response<ProxyBody>, GatewayError>,
        method: Method,
        route: Route,
        started: Instant,
        timing: Timing,
    ) -> Response<ProxyBody> {
        let operation = route.label();
        let total = started.elapsed();
        let own = total.saturating_sub(timing.upstream.unwrap_or_default());
        let elapsed_ms = total.as_secs_f64() * 1e3;
        self.metrics
            .request_duration
            .with_label_values(&[operation])
            .observe(own.as_secs_f64());
        if let Some(up) = timing.upstream {
            self.metrics
                .upstream_duration
                .with_label_values(&[operation])
                .observe(up.as_secs_f64());
        }
        let resp = match result {
            Ok(resp) => {
                tracing::info!(%method, operation, status = resp.status().as_u16(), elapsed_ms, "proxied");
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
                    tracing::warn!(%method, operation, status = status.as_u16(), code = e.code(), error = %e, elapsed_ms, "refused");
                } else {
                    tracing::info!(%method, operation, status = status.as_u16(), code = e.code(), error = %e, elapsed_ms, "refused");
                }
                let mut resp = e.into_response();
                if status == StatusCode::UNAUTHORIZED && self.auth.accepts_saml() {
                    resp.headers_mut().append(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("SAML realm=\"stsgate\""),
                    );
                }
                resp
            }
        };
        self.metrics
            .requests_total
            .with_label_values(&[operation, resp.status().as_str()])
            .inc();
        resp
    }
}

/// The caller's own session, for clients that sign requests themselves. Never cached by anyone.
fn vend(c: &aws_credential_types::Credentials, expires_at: SystemTime) -> Response<ProxyBody> {
    let body = serde_json::json!({
        "AccessKeyId": c.access_key_id(),
        "SecretAccessKey": c.secret_access_key(),
        "SessionToken": c.session_token(),
        "Expiration": DateTime::from(expires_at).fmt(Format::DateTime).unwrap_or_default(),
    });
    let mut resp = json_response(StatusCode::OK, &body);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
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
