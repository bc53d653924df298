//! The request pipeline, phase by phase in request order: route (the path's shape) → inbound
//! checks → authenticate → map → allow → the operation's query and resources → bind the caller →
//! content type → read the body → build the upstream request (an allow-list of headers) and check
//! it can be signed → session → sign → forward. Every check that can refuse a request runs before
//! the session phase, so a refused request never costs an STS call and is never forwarded; what is
//! signed is exactly what was checked. Per-request metrics and the log line are written once, in
//! `finish`.
//!
//! The gateway owns no sockets: its I/O goes through the [`Stages`] it is built with (credential
//! verification, sessions, the upstream transport), so tests run it in memory with stubs.

use super::body::read_body;
use super::inbound;
use super::websocket::{Bridge, SocketRequest, Upgrade};
use super::{Transport, Upstream};
use crate::broker::Sessions;
use crate::chime::operations::{self, AllowList, BearerRule, CONNECT, Operation};
use crate::chime::request::{canonical_query, check_resources};
use crate::chime::{BEARER_HEADER, BearerMode, bind_bearer, check_user_arn_query};
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::error::{GatewayError, ProxyBody, json_response};
use crate::identity::{Credential, IdentityError, Verify, credential};
use crate::mapping::{Mapped, Mapper};
use crate::metrics::Metrics;
use crate::signing::Signer;
use aws_smithy_types::date_time::{DateTime, Format};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Body;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `operation` label for requests that match no Chime operation.
const UNKNOWN: &str = "unknown";
/// `operation` label for `POST /credentials`.
const VEND: &str = "VendCredentials";

/// What the gateway does I/O with, each replaceable in tests.
#[derive(Clone)]
pub struct Stages {
    pub verifier: Arc<dyn Verify>,
    pub sessions: Arc<dyn Sessions>,
    pub transport: Arc<dyn Transport>,
    /// Trust roots for the messaging WebSocket's upstream leg.
    pub tls: Arc<rustls::ClientConfig>,
    pub metrics: Arc<Metrics>,
    pub clock: SharedClock,
}

pub struct Gateway {
    verifier: Arc<dyn Verify>,
    sessions: Arc<dyn Sessions>,
    mapper: Mapper,
    signer: Signer,
    upstream: Upstream,
    bridge: Bridge,
    policy: CallerPolicy,
    saml_header: Option<HeaderName>,
    /// The 401 challenge names the `SAML` scheme too.
    accepts_saml: bool,
    vending: bool,
    max_body_bytes: usize,
    body_read_timeout: Duration,
    metrics: Arc<Metrics>,
    clock: SharedClock,
}

/// Who a caller may act as, and what it may call.
struct CallerPolicy {
    bearer_mode: BearerMode,
    allowed: AllowList,
    admin_user_arns: HashSet<String>,
    app_instance_arn: String,
}

/// What a request is, decided from method and raw path before anything else.
#[derive(Clone, Copy)]
enum Route {
    Api(Option<&'static Operation>),
    Connect,
    Vend,
    /// A path with a dot or empty segment: refused before it is classified.
    BadPath,
}

impl Route {
    fn label(self) -> &'static str {
        match self {
            Route::Api(Some(op)) => op.name,
            Route::Api(None) | Route::BadPath => UNKNOWN,
            Route::Connect => CONNECT,
            Route::Vend => VEND,
        }
    }
}

/// What `finish` reports about a request besides its result.
#[derive(Default)]
struct RequestLog {
    upstream: Option<Duration>,
    /// The caller's AppInstanceUser ARN, once known (never a token).
    caller: Option<Arc<str>>,
}

impl Gateway {
    pub fn new(s: &Settings, stages: Stages) -> Self {
        let upstream = Upstream::new(
            &s.upstream.endpoint,
            stages.transport.clone(),
            s.upstream.timeout,
        );
        Gateway {
            verifier: stages.verifier,
            sessions: stages.sessions,
            mapper: Mapper::new(&s.mapping),
            signer: Signer::new(s.upstream.region.clone()),
            upstream,
            bridge: Bridge::new(
                s.chime.websocket.clone(),
                stages.tls,
                stages.metrics.clone(),
            ),
            policy: CallerPolicy {
                bearer_mode: s.chime.bearer,
                allowed: s.chime.allowed.clone(),
                admin_user_arns: s.chime.admin_user_arns.clone(),
                app_instance_arn: s.mapping.app_instance_arn.clone(),
            },
            saml_header: s.identity.saml_header.clone(),
            accepts_saml: !s.identity.saml_idps.is_empty(),
            vending: s.proxy.vending,
            max_body_bytes: s.proxy.max_body_bytes,
            body_read_timeout: s.proxy.body_read_timeout,
            metrics: stages.metrics,
            clock: stages.clock,
        }
    }

    pub async fn handle<B>(&self, req: Request<B>) -> Response<ProxyBody>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        let method = req.method().clone();
        let route = self.route(req.method(), req.uri());
        let mut log = RequestLog::default();
        let result = self.proxy(req, route, &mut log).await;
        self.finish(result, method, route, started, log)
    }

    fn route(&self, method: &Method, uri: &http::Uri) -> Route {
        match (method, uri.path()) {
            (&Method::GET, "/connect") => Route::Connect,
            (&Method::POST, "/credentials") if self.vending => Route::Vend,
            (_, path) if inbound::check_path(path).is_err() => Route::BadPath,
            _ => Route::Api(operations::classify(method, uri.path(), uri.query())),
        }
    }

    async fn proxy<B>(
        &self,
        req: Request<B>,
        route: Route,
        log: &mut RequestLog,
    ) -> Result<Response<ProxyBody>, GatewayError>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (mut parts, body) = req.into_parts();
        if let Route::BadPath = route {
            inbound::check_path(parts.uri.path())?;
        }
        inbound::check_connection(&parts.headers)?;
        let principal = self.authenticate(&parts, route).await?;
        let mapped = self.mapper.map(&principal)?;
        log.caller = Some(mapped.spec.user_arn.clone());
        let not_after = UNIX_EPOCH + Duration::from_secs(principal.expires_at.max(0) as u64);

        match route {
            Route::Vend => {
                let session = self.sessions.session(&mapped.spec).await?;
                self.metrics.credentials_vended.inc();
                Ok(vend(&session.credentials, session.expires_at))
            }
            Route::Connect => {
                self.allow(CONNECT)?;
                let upgrade = Upgrade::from_parts(&mut parts).ok_or_else(|| {
                    GatewayError::BadRequest("GET /connect must be a WebSocket upgrade".into())
                })?;
                let slot = self.bridge.reserve(&mapped.spec.user_arn)?;
                let session = self.sessions.session(&mapped.spec).await?;
                let request = SocketRequest {
                    upgrade,
                    client_query: parts.uri.query(),
                    user_arn: mapped.user_arn(),
                    session,
                    slot,
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
                let query = canonical_query(op, parts.uri.query(), false)?;
                let path = parts.uri.path();
                check_resources(op, path, query.as_deref(), &self.policy.app_instance_arn)?;
                self.bind_caller(op, &mut parts.headers, query.as_deref(), &mapped)?;
                inbound::check_content_type(&parts.headers)?;
                let body = read_body(
                    &parts.headers,
                    body,
                    self.max_body_bytes,
                    self.body_read_timeout,
                )
                .await?;
                let mut upstream_req = self.upstream.prepare(&parts, query.as_deref(), body)?;
                inbound::check_signable(upstream_req.headers())?;

                let session = self.sessions.session(&mapped.spec).await?;

                self.signer
                    .sign(&mut upstream_req, &session.credentials, self.clock.now())?;
                let sent = Instant::now();
                let resp = self.upstream.forward(upstream_req).await;
                log.upstream = Some(sent.elapsed());
                resp
            }
            Route::BadPath => unreachable!("refused above"),
        }
    }

    /// The request's one credential, verified. Browsers cannot set headers on a WebSocket
    /// upgrade, so `/connect` may carry a token as `?token=`.
    async fn authenticate(
        &self,
        parts: &Parts,
        route: Route,
    ) -> Result<Arc<crate::identity::Principal>, GatewayError> {
        let found = credential(&parts.headers, self.saml_header.as_ref());
        let from_query;
        let c = match (route, found) {
            (Route::Connect, Err(IdentityError::Missing)) => {
                from_query =
                    query_param(parts.uri.query(), "token").ok_or(IdentityError::Missing)?;
                Credential::Jwt(&from_query)
            }
            (_, found) => found?,
        };
        Ok(self.verifier.verify(c).await?)
    }

    fn allow(&self, name: &'static str) -> Result<(), GatewayError> {
        if self.policy.allowed.contains(name) {
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
        headers: &mut http::HeaderMap,
        query: Option<&str>,
        mapped: &Mapped,
    ) -> Result<(), GatewayError> {
        match op.bearer {
            BearerRule::Required | BearerRule::Optional => {
                bind_bearer(headers, mapped.user_arn(), self.policy.bearer_mode)?
            }
            // Not part of this operation: never sign a bearer the caller chose.
            BearerRule::None => {
                headers.remove(BEARER_HEADER);
            }
        }
        if op.user_arn_query_param() {
            let admin = self.policy.admin_user_arns.contains(mapped.user_arn());
            check_user_arn_query(query, mapped.user_arn(), admin)?;
        }
        Ok(())
    }

    fn finish(
        &self,
        result: Result<Response<ProxyBody>, GatewayError>,
        method: Method,
        route: Route,
        started: Instant,
        log: RequestLog,
    ) -> Response<ProxyBody> {
        let operation = route.label();
        let total = started.elapsed();
        let own = total.saturating_sub(log.upstream.unwrap_or_default());
        let elapsed_ms = total.as_secs_f64() * 1e3;
        self.metrics
            .request_duration
            .with_label_values(&[operation])
            .observe(own.as_secs_f64());
        if let Some(up) = log.upstream {
            self.metrics
                .upstream_duration
                .with_label_values(&[operation])
                .observe(up.as_secs_f64());
        }
        let caller = log.caller.as_deref().unwrap_or("-");
        let resp = match result {
            Ok(resp) => {
                tracing::info!(%method, operation, caller, status = resp.status().as_u16(), elapsed_ms, "proxied");
                resp
            }
            Err(e) => self.refuse(e, &method, operation, caller, elapsed_ms),
        };
        self.metrics
            .requests_total
            .with_label_values(&[operation, resp.status().as_str()])
            .inc();
        resp
    }

    /// The error's response, its reason counted and logged (never with a credential).
    fn refuse(
        &self,
        e: GatewayError,
        method: &Method,
        operation: &str,
        caller: &str,
        elapsed_ms: f64,
    ) -> Response<ProxyBody> {
        if let GatewayError::Identity(ie) = &e {
            self.metrics
                .token_rejections
                .with_label_values(&[ie.reason()])
                .inc();
        }
        let status = e.status();
        if status.is_server_error() {
            tracing::warn!(%method, operation, caller, status = status.as_u16(), code = e.code(), error = %e, elapsed_ms, "refused");
        } else {
            tracing::info!(%method, operation, caller, status = status.as_u16(), code = e.code(), error = %e, elapsed_ms, "refused");
        }
        let mut resp = e.into_response();
        if status == StatusCode::UNAUTHORIZED && self.accepts_saml {
            resp.headers_mut().append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("SAML realm=\"stsgate\""),
            );
        }
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
