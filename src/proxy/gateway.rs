//! The request pipeline. `handle` routes a request (`route.rs`), answers CORS preflights itself,
//! then runs the phases in request order: inbound checks → authenticate → map → the route's own
//! phases (`api.rs` for Chime's REST operations, `connect.rs` for the WebSocket, `local.rs` for
//! what stsgate answers itself). Every check that can refuse a request runs before the session
//! phase, so a refused request never costs an STS call and is never forwarded. Per-request
//! metrics and the log line are written once, in `finish`; CORS headers go on every answer to an
//! allowed origin.
//!
//! The gateway owns no sockets: its I/O goes through the [`Stages`] it is built with (credential
//! verification, sessions, the upstream transport), so tests run it in memory with stubs.

use super::access_log::{AccessLine, REQUEST_ID, request_id};
use super::cors::Cors;
use super::inbound;
use super::local;
use super::route::{Features, Route};
use super::server::PeerAddr;
use super::websocket::Bridge;
use super::{Transport, Upstream};
use crate::broker::Sessions;
use crate::chime::BearerMode;
use crate::chime::operations::AllowList;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::config::StsMode;
use crate::error::{GatewayError, ProxyBody};
use crate::guests::Guests;
use crate::identity::{Carriers, Credential, Principal, Verify, credential};
use crate::mapping::{Exchange, Mapped, Mapper, PresentedSecret};
use crate::metrics::Metrics;
use crate::rate::KeyedRate;
use crate::signing::Signer;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Method, Request, Response};
use hyper::body::Body;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

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
    /// Becomes true when stsgate shuts down (bridged sockets then close with 1001).
    pub shutdown: watch::Receiver<bool>,
    /// `[guests]`: issues guest tokens (and their AppInstanceUsers).
    pub guests: Option<Arc<Guests>>,
}

pub struct Gateway {
    pub(super) verifier: Arc<dyn Verify>,
    pub(super) sessions: Arc<dyn Sessions>,
    pub(super) mapper: Mapper,
    pub(super) signer: Signer,
    pub(super) upstream: Upstream,
    pub(super) bridge: Bridge,
    pub(super) policy: CallerPolicy,
    pub(super) limits: RequestLimits,
    pub(super) cors: Option<Cors>,
    /// `max_requests_per_user_per_second`, when set.
    pub(super) rate: Option<KeyedRate<Arc<str>>>,
    guests: Option<Arc<Guests>>,
    saml_header: Option<HeaderName>,
    /// The 401 challenge names the `SAML` scheme too.
    accepts_saml: bool,
    pub(super) metrics: Arc<Metrics>,
    pub(super) clock: SharedClock,
}

/// Who a caller may act as, and what it may call.
pub(super) struct CallerPolicy {
    pub bearer_mode: BearerMode,
    pub allowed: AllowList,
    pub admin_user_arns: HashSet<String>,
    pub app_instance_arn: String,
    /// Session-token mode: placeholder signatures are ignored (and their query parameters).
    pub session_token_auth: bool,
    /// GetMessagingSessionEndpoint answers this host instead of Chime's.
    pub public_host: Option<String>,
    pub display_name_claim: String,
}

pub(super) struct RequestLimits {
    pub vending: bool,
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
    pub body_read_timeout: Duration,
}

/// What `finish` reports about a request besides its result.
pub(super) struct RequestLog {
    /// The client's `x-request-id`, or a fresh one: returned, forwarded and logged.
    pub request_id: HeaderValue,
    pub upstream: Option<Duration>,
    /// The caller's AppInstanceUser ARN, once known (never a token).
    pub caller: Option<Arc<str>>,
    /// A WebSocket refused after its upgrade: the client saw 101 and a close code.
    pub refused_socket: Option<GatewayError>,
}

impl Gateway {
    pub fn new(s: &Settings, stages: Stages) -> Self {
        let upstream = Upstream::new(
            &s.upstream.endpoint,
            stages.transport.clone(),
            s.upstream.timeout,
        );
        let bridge = Bridge::new(
            s.chime.websocket.clone(),
            stages.tls,
            stages.metrics.clone(),
            stages.shutdown,
        );
        Gateway {
            verifier: stages.verifier,
            sessions: stages.sessions,
            mapper: Mapper::new(&s.mapping),
            signer: Signer::new(s.upstream.region.clone()),
            upstream,
            bridge,
            policy: CallerPolicy {
                bearer_mode: s.chime.bearer,
                allowed: s.chime.allowed.clone(),
                admin_user_arns: s.chime.admin_user_arns.clone(),
                app_instance_arn: s.mapping.app_instance_arn.clone(),
                session_token_auth: s.proxy.session_token_auth,
                public_host: s.proxy.public_host.clone(),
                display_name_claim: s.proxy.display_name_claim.clone(),
            },
            limits: RequestLimits {
                vending: s.proxy.vending,
                max_body_bytes: s.proxy.max_body_bytes,
                max_header_bytes: s.proxy.max_header_bytes,
                body_read_timeout: s.proxy.body_read_timeout,
            },
            cors: s.proxy.cors.clone().map(Cors::new),
            rate: {
                let per_second = f64::from(s.proxy.max_requests_per_user_per_second);
                KeyedRate::new(per_second, per_second)
            },
            saml_header: s.identity.saml_header.clone(),
            accepts_saml: !s.identity.saml_idps.is_empty(),
            guests: stages.guests,
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
        let origin = self
            .cors
            .as_ref()
            .and_then(|c| c.allowed_origin(req.headers()));
        let on = Features {
            vending: self.limits.vending,
            cors: self.cors.is_some(),
            guests: self.guests.is_some(),
        };
        let route = Route::of(req.method(), req.uri(), req.headers(), on);
        let mut log = RequestLog {
            request_id: request_id(req.headers()),
            upstream: None,
            caller: None,
            refused_socket: None,
        };
        let result = match (route, &self.cors) {
            (Route::Preflight, Some(cors)) => cors.preflight(req.headers()),
            _ => self.proxy(req, route, &mut log).await,
        };
        let mut resp = self.finish(result, method, route, started, log);
        if let (Some(cors), Some(origin)) = (&self.cors, &origin) {
            cors.decorate(origin, &mut resp);
        }
        resp
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
        let (parts, body) = req.into_parts();
        if let Route::BadPath = route {
            inbound::check_path(parts.uri.path())?;
        }
        inbound::check_header_size(&parts, self.limits.max_header_bytes)?;
        inbound::check_connection(&parts.headers)?;
        // The rare routes' futures are boxed: the WebSocket bridge's is ~10 KiB, and inline it
        // would make every request's future that large, copied whole on each move (issue #14).
        match (route, &self.guests) {
            (Route::Connect, _) => return Box::pin(self.connect(parts, log)).await,
            (Route::Guest, Some(g)) => return Box::pin(self.guest(g, &parts)).await,
            (Route::GuestKeys, Some(g)) => return Ok(local::guest_keys(g.jwks())),
            _ => {}
        }
        let (principal, mapped) = self.identify(&parts, false, log).await?;
        match route {
            Route::Me => Ok(local::me(
                &principal,
                &mapped,
                &self.policy.display_name_claim,
            )),
            Route::Vend => {
                // Raw credentials reach every operation the role allows, as any bearer: not for
                // callers held to a list of their own (guests).
                if mapped.provider.allowed.is_some() {
                    return Err(GatewayError::OperationNotAllowed(route.label()));
                }
                let session = self.sessions.session(&mapped.spec).await?;
                self.metrics.credentials_vended.inc();
                Ok(local::vend(session.keys(), session.expires_at))
            }
            Route::Api(op) => self.api(op, parts, body, &mapped, log).await,
            Route::Connect
            | Route::Preflight
            | Route::BadPath
            | Route::Guest
            | Route::GuestKeys => {
                unreachable!("answered before authentication")
            }
        }
    }

    /// Who the caller is: the request's one credential verified and mapped, within its rate.
    /// `GET /connect` (`query`) may also carry it in the query string, where a browser can put
    /// it. In web-identity mode the credential itself makes the session.
    pub(super) async fn identify(
        &self,
        parts: &Parts,
        query: bool,
        log: &mut RequestLog,
    ) -> Result<(Arc<Principal>, Arc<Mapped>), GatewayError> {
        let carriers = Carriers {
            saml_header: self.saml_header.as_ref(),
            session_token: self.policy.session_token_auth,
            query: parts.uri.query().filter(|_| query),
        };
        let principal = self
            .verifier
            .verify(credential(&parts.headers, &carriers)?)
            .await?;
        let mut mapped = self.mapper.map_shared(&principal)?;
        log.caller = Some(mapped.spec.user_arn.clone());
        self.check_rate(&mapped.spec.user_arn)?;
        if mapped.provider.sts_mode == StsMode::WebIdentity {
            // Read again rather than copied for every request: few providers use this mode.
            let exchange = match credential(&parts.headers, &carriers)? {
                Credential::Jwt(token) => Exchange::WebIdentity(PresentedSecret::new(&token)),
                Credential::Saml(assertion) => Exchange::Saml {
                    principal_arn: mapped
                        .provider
                        .saml_provider_arn
                        .clone()
                        .unwrap_or_default(),
                    assertion: PresentedSecret::new(&assertion),
                },
            };
            Arc::make_mut(&mut mapped).spec.exchange = exchange;
        }
        Ok((principal, mapped))
    }

    /// `POST /guest`: a new guest, rate-limited by the client's address.
    async fn guest(
        &self,
        guests: &Guests,
        parts: &Parts,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        let peer = parts
            .extensions
            .get::<PeerAddr>()
            .map_or(std::net::Ipv4Addr::LOCALHOST.into(), |p| p.0.ip());
        let issued = guests.issue(peer).await?;
        self.metrics.guest_tokens_issued.inc();
        Ok(local::guest_token(
            &issued,
            &self.mapper.app_instance_user_arn(&issued.user_id),
        ))
    }

    /// The caller is within `max_requests_per_user_per_second` (always, when that is off).
    pub(super) fn check_rate(&self, user: &Arc<str>) -> Result<(), GatewayError> {
        match &self.rate {
            Some(r) => r
                .check(user)
                .map_err(|retry_after| GatewayError::RateLimited { retry_after }),
            None => Ok(()),
        }
    }

    /// `name` is on the gateway's allow-list and, for a provider with one of its own (guests),
    /// on that too: a provider's list narrows `chime.allowed_operations`, never widens it.
    pub(super) fn allow(&self, name: &'static str, mapped: &Mapped) -> Result<(), GatewayError> {
        let own = mapped.provider.allowed.as_ref();
        if self.policy.allowed.contains(name) && own.is_none_or(|l| l.contains(name)) {
            Ok(())
        } else {
            Err(GatewayError::OperationNotAllowed(name))
        }
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
        let own = started
            .elapsed()
            .saturating_sub(log.upstream.unwrap_or_default());
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
        let (mut resp, error) = match result {
            Ok(resp) => (resp, log.refused_socket),
            Err(e) => (e.to_response(self.accepts_saml, &log.request_id), Some(e)),
        };
        // A socket refused after its upgrade counts under its refusal's status.
        let status = error.as_ref().map_or(resp.status(), GatewayError::status);
        if let Some(limit) = error.as_ref().and_then(GatewayError::limit) {
            self.metrics.limit_refusals.inc(limit);
        }
        if let Some(GatewayError::Identity(ie)) = &error {
            self.metrics
                .token_rejections
                .with_label_values(&[ie.reason()])
                .inc();
        }
        self.metrics
            .requests_total
            .with_label_values(&[operation, status.as_str()])
            .inc();
        AccessLine {
            request_id: &log.request_id,
            method: &method,
            operation,
            status: status.as_u16(),
            caller: log.caller.as_deref(),
            own,
            upstream: log.upstream,
            error: error.as_ref(),
        }
        .emit();
        resp.headers_mut().insert(REQUEST_ID, log.request_id);
        resp
    }
}
