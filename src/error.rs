//! Every way a request can fail, and the single place each becomes a client response:
//! `{"error": "<code>", "message": "<text>"}` with the right status. Codes are public interface.
//! Messages never contain tokens, credentials or signatures.

use crate::broker::{StsError, StsErrorKind};
use crate::chime::BearerMismatch;
use crate::chime::request::RequestError;
use crate::http_client::FetchError;
use crate::identity::IdentityError;
use crate::mapping::MappingError;
use crate::signing::SignError;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};

/// Response body type for everything stsgate answers: streamed upstream bodies or our own JSON.
pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Clients told to retry after this many seconds when a dependency is unavailable.
const RETRY_AFTER_SECONDS: &str = "5";

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Bearer(#[from] BearerMismatch),
    #[error("operation {0} is not allowed through this gateway")]
    OperationNotAllowed(&'static str),
    #[error("{0}")]
    ForeignResource(RequestError),
    #[error("request body larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the request body did not arrive within {0} s")]
    BodyTimeout(u64),
    #[error("content type is not one Chime takes (application/json)")]
    UnsupportedMediaType,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("too many messaging WebSockets open for this user (at most {0})")]
    TooManySockets(usize),
    #[error("stsgate is at a limit: {0}; retry later")]
    Overloaded(&'static str),
    #[error(transparent)]
    Sts(#[from] StsError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("upstream request failed: {0}")]
    Upstream(FetchError),
}

impl From<RequestError> for GatewayError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Query(why) => GatewayError::BadRequest(why),
            foreign => GatewayError::ForeignResource(foreign),
        }
    }
}

impl GatewayError {
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::Identity(
                IdentityError::KeysUnavailable | IdentityError::VerifierBusy,
            ) => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::Identity(_) => StatusCode::UNAUTHORIZED,
            GatewayError::Mapping(_)
            | GatewayError::Bearer(_)
            | GatewayError::OperationNotAllowed(_)
            | GatewayError::ForeignResource(_) => StatusCode::FORBIDDEN,
            GatewayError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            GatewayError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            GatewayError::BadRequest(_) => StatusCode::BAD_REQUEST,
            GatewayError::TooManySockets(_) => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::Sts(e) => match e.kind {
                StsErrorKind::Denied | StsErrorKind::Invalid => StatusCode::FORBIDDEN,
                StsErrorKind::Throttled | StsErrorKind::Unavailable => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            },
            GatewayError::Sign(_) => StatusCode::INTERNAL_SERVER_ERROR,
            GatewayError::Upstream(FetchError::Timeout) => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Upstream(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The stable machine-readable code in the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::Identity(IdentityError::Missing) => "missing_token",
            GatewayError::Identity(IdentityError::KeysUnavailable) => {
                "identity_provider_unavailable"
            }
            GatewayError::Identity(IdentityError::VerifierBusy) => "overloaded",
            GatewayError::Identity(_) => "invalid_token",
            GatewayError::Mapping(_) => "identity_not_mappable",
            GatewayError::Bearer(_) => "bearer_mismatch",
            GatewayError::OperationNotAllowed(_) => "operation_not_allowed",
            GatewayError::ForeignResource(_) => "resource_not_allowed",
            GatewayError::BodyTooLarge { .. } => "payload_too_large",
            GatewayError::BodyTimeout(_) => "request_timeout",
            GatewayError::UnsupportedMediaType => "unsupported_media_type",
            GatewayError::BadRequest(_) => "bad_request",
            GatewayError::TooManySockets(_) => "too_many_sockets",
            GatewayError::Overloaded(_) => "overloaded",
            GatewayError::Sts(e) => match e.kind {
                StsErrorKind::Denied | StsErrorKind::Invalid => "sts_denied",
                StsErrorKind::Throttled | StsErrorKind::Unavailable => "sts_unavailable",
            },
            GatewayError::Sign(_) => "internal_error",
            GatewayError::Upstream(FetchError::Timeout) => "upstream_timeout",
            GatewayError::Upstream(_) => "upstream_unavailable",
        }
    }

    /// Text safe for clients: STS and upstream details stay in the log.
    fn public_message(&self) -> String {
        match self {
            GatewayError::Sts(e) if e.kind == StsErrorKind::Denied => {
                "STS refused to issue a session for this identity".into()
            }
            GatewayError::Sts(e) if e.kind == StsErrorKind::Invalid => {
                "STS rejected the session request for this identity".into()
            }
            GatewayError::Sts(_) => "STS is unavailable; retry later".into(),
            GatewayError::Sign(_) => "internal error".into(),
            GatewayError::Upstream(FetchError::Timeout) => "upstream did not answer in time".into(),
            GatewayError::Upstream(_) => "upstream cannot be reached".into(),
            other => other.to_string(),
        }
    }

    pub fn into_response(self) -> Response<ProxyBody> {
        let status = self.status();
        let body = serde_json::json!({ "error": self.code(), "message": self.public_message() });
        let mut resp = json_response(status, &body);
        let h = resp.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            let challenge = format!(
                "Bearer realm=\"stsgate\", error=\"invalid_token\", error_description=\"{}\"",
                self.public_message().replace('"', "'")
            );
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_str(&challenge).unwrap_or(HeaderValue::from_static(
                    "Bearer realm=\"stsgate\", error=\"invalid_token\"",
                )),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            h.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        resp
    }
}

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<ProxyBody> {
    let mut resp = Response::new(full(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub fn full(b: impl Into<Bytes>) -> ProxyBody {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(kind: StsErrorKind) -> GatewayError {
        GatewayError::Sts(StsError {
            kind,
            code: "x",
            message: "secret detail".into(),
        })
    }

    #[test]
    fn every_error_has_its_status_and_code() {
        let cases: Vec<(GatewayError, u16, &str)> = vec![
            (IdentityError::Missing.into(), 401, "missing_token"),
            (IdentityError::Expired.into(), 401, "invalid_token"),
            (
                IdentityError::KeysUnavailable.into(),
                503,
                "identity_provider_unavailable",
            ),
            (
                MappingError::MissingClaim("sub".into()).into(),
                403,
                "identity_not_mappable",
            ),
            (BearerMismatch.into(), 403, "bearer_mismatch"),
            (
                GatewayError::OperationNotAllowed("SearchChannels"),
                403,
                "operation_not_allowed",
            ),
            (
                GatewayError::BodyTooLarge { limit: 1 },
                413,
                "payload_too_large",
            ),
            (GatewayError::BadRequest("x".into()), 400, "bad_request"),
            (
                GatewayError::ForeignResource(RequestError::ForeignResource("channelArn")),
                403,
                "resource_not_allowed",
            ),
            (GatewayError::BodyTimeout(30), 408, "request_timeout"),
            (
                GatewayError::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
            (GatewayError::TooManySockets(10), 429, "too_many_sockets"),
            (GatewayError::Overloaded("x"), 503, "overloaded"),
            (sts(StsErrorKind::Denied), 403, "sts_denied"),
            (sts(StsErrorKind::Invalid), 403, "sts_denied"),
            (sts(StsErrorKind::Throttled), 503, "sts_unavailable"),
            (sts(StsErrorKind::Unavailable), 503, "sts_unavailable"),
            (
                GatewayError::Upstream(FetchError::Timeout),
                504,
                "upstream_timeout",
            ),
            (
                GatewayError::Upstream(FetchError::Transport("x".into())),
                502,
                "upstream_unavailable",
            ),
        ];
        for (e, status, code) in cases {
            assert_eq!((e.status().as_u16(), e.code()), (status, code), "{e:?}");
            let r = e.into_response();
            assert_eq!(
                r.headers().contains_key(header::WWW_AUTHENTICATE),
                status == 401
            );
            assert_eq!(
                r.headers().contains_key(header::RETRY_AFTER),
                status == 503 || status == 429
            );
        }
    }

    #[test]
    fn sts_details_stay_out_of_the_body() {
        assert!(
            !sts(StsErrorKind::Denied)
                .public_message()
                .contains("secret detail")
        );
    }
}
