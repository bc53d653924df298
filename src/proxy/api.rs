//! Chime's REST operations, for an authenticated and mapped caller: allow → the operation's
//! query and resources → bind the caller → content type → read the body → build the upstream
//! request (an allow-list of headers) and check it can be signed → session → sign → forward.
//! What is signed is exactly what was checked.

use super::access_log::REQUEST_ID;
use super::gateway::{Gateway, RequestLog};
use super::headers::strip_hop_by_hop;
use super::route::UNKNOWN;
use super::{body::read_body, inbound, local};
use crate::chime::operations::{BearerRule, Operation};
use crate::chime::request::{canonical_query, check_resources};
use crate::chime::{BEARER_HEADER, bind_bearer, check_user_arn_query};
use crate::error::{GatewayError, ProxyBody};
use crate::mapping::Mapped;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Response};
use hyper::body::Body;
use std::time::Instant;

/// The operation a stock Chime SDK calls before opening its WebSocket.
const SESSION_ENDPOINT: &str = "GetMessagingSessionEndpoint";

impl Gateway {
    pub(super) async fn api<B>(
        &self,
        op: Option<&'static Operation>,
        mut parts: Parts,
        body: B,
        mapped: &Mapped,
        log: &mut RequestLog,
    ) -> Result<Response<ProxyBody>, GatewayError>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let op = op.ok_or(GatewayError::OperationNotAllowed(UNKNOWN))?;
        self.allow(op.name, mapped)?;
        // The client's hop-by-hop headers go before any check (Connection may not name what
        // stsgate checks; that was refused already).
        strip_hop_by_hop(&mut parts.headers);
        let drop_signing = self.policy.session_token_auth;
        let query = canonical_query(op, parts.uri.query(), drop_signing)?;
        let path = parts.uri.path();
        check_resources(op, path, query.as_deref(), &self.policy.app_instance_arn)?;
        if let (SESSION_ENDPOINT, Some(host)) = (op.name, &self.policy.public_host) {
            return Ok(local::session_endpoint(host));
        }
        self.bind_caller(op, &mut parts.headers, query.as_deref(), mapped)?;
        inbound::check_content_type(&parts.headers)?;
        let limit = self.limits.max_body_bytes;
        let body = read_body(&parts.headers, body, limit, self.limits.body_read_timeout).await?;
        let mut upstream_req = self.upstream.prepare(&parts, query.as_deref(), body)?;
        inbound::check_signable(upstream_req.headers())?;
        // Unsigned, so an intermediary may rewrite it without breaking the signature.
        upstream_req
            .headers_mut()
            .insert(REQUEST_ID, log.request_id.clone());

        let session = self.sessions.session(&mapped.spec).await?;

        self.signer
            .sign(&mut upstream_req, session.identity(), self.clock.now())?;
        let sent = Instant::now();
        let resp = self.upstream.forward(upstream_req).await;
        log.upstream = Some(sent.elapsed());
        resp
    }

    /// The caller acts only as itself: the bearer header where the operation takes one, and any
    /// `app-instance-user-arn` query parameter unless the caller is a configured admin.
    fn bind_caller(
        &self,
        op: &Operation,
        headers: &mut HeaderMap,
        query: Option<&str>,
        mapped: &Mapped,
    ) -> Result<(), GatewayError> {
        match op.bearer {
            BearerRule::Required | BearerRule::Optional => {
                bind_bearer(headers, mapped.bearer(), self.policy.bearer_mode)?
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
}
