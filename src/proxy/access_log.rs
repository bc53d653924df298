//! The access log: one structured line per request, written by the gateway's `finish`. It names
//! the request (its id, honoured from `x-request-id` or generated, and returned to the client and
//! sent upstream), the caller (its AppInstanceUser ARN and a short hash of it; never a token), the
//! operation, the status and error code, and stsgate's own time beside the upstream's.

use crate::error::GatewayError;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use std::time::Duration;

/// The request id header, in and out. A `HeaderName` so that inserting it allocates nothing.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The client's `x-request-id` when it is a sane id (1 to 128 visible ASCII characters), or a
/// fresh one.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(REQUEST_ID)
        .filter(|v| (1..=128).contains(&v.len()) && v.as_bytes().iter().all(u8::is_ascii_graphic))
        .cloned()
        .unwrap_or_else(crate::error::request_id)
}

/// A short stable hash of a caller, for correlating lines without repeating the user id.
fn user_hash(caller: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, caller.as_bytes());
    hex::encode(&d.as_ref()[..8])
}

/// One finished request.
pub struct AccessLine<'a> {
    pub request_id: &'a HeaderValue,
    pub method: &'a Method,
    pub operation: &'static str,
    pub status: u16,
    pub caller: Option<&'a str>,
    /// stsgate's own time (everything but the upstream).
    pub own: Duration,
    pub upstream: Option<Duration>,
    pub error: Option<&'a GatewayError>,
}

impl AccessLine<'_> {
    pub fn emit(&self) {
        // The user hash and the fields cost a SHA-256 and a few strings: only for a line kept.
        let server_error = self.error.is_some_and(|e| e.status().is_server_error());
        let kept = if server_error {
            tracing::enabled!(tracing::Level::WARN)
        } else {
            tracing::enabled!(tracing::Level::INFO)
        };
        if !kept {
            return;
        }
        let request_id = self.request_id.to_str().unwrap_or("-");
        let (method, operation, status) = (self.method.as_str(), self.operation, self.status);
        let caller = self.caller.unwrap_or("-");
        let user = self.caller.map(user_hash).unwrap_or_else(|| "-".into());
        let own_ms = self.own.as_secs_f64() * 1e3;
        let upstream_ms = self.upstream.map_or(0.0, |u| u.as_secs_f64() * 1e3);
        match self.error {
            None => tracing::info!(
                request_id,
                method,
                operation,
                status,
                user,
                caller,
                own_ms,
                upstream_ms,
                "proxied"
            ),
            Some(e) if e.status().is_server_error() => tracing::warn!(
                request_id, method, operation, status, code = e.code(), error = %e, user, caller,
                own_ms, upstream_ms, "refused"
            ),
            Some(e) => tracing::info!(
                request_id, method, operation, status, code = e.code(), error = %e, user, caller,
                own_ms, upstream_ms, "refused"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sane_client_id_is_kept_anything_else_replaced() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, "abc-123".parse().unwrap());
        assert_eq!(request_id(&h), "abc-123");
        h.insert(REQUEST_ID, "has space".parse().unwrap());
        assert_ne!(request_id(&h), "has space");
        h.insert(REQUEST_ID, HeaderValue::from_str(&"x".repeat(129)).unwrap());
        assert_eq!(request_id(&h).len(), 36);
        assert_eq!(request_id(&HeaderMap::new()).len(), 36);
        assert_eq!(user_hash("a"), user_hash("a"));
        assert_eq!(user_hash("a").len(), 16);
    }

    #[test]
    fn a_fresh_id_is_uuid_shaped_and_fresh() {
        let id = request_id(&HeaderMap::new());
        let groups: Vec<&str> = id.to_str().unwrap().split('-').collect();
        let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        assert_eq!(lens, [8, 4, 4, 4, 12], "{id:?}");
        let hex = |g: &&str| {
            g.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        assert!(groups.iter().all(hex), "{id:?}");
        assert_ne!(id, request_id(&HeaderMap::new()));
    }
}
