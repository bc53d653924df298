//! Every way a request can fail, and the single place each becomes a client response: the right
//! status, `x-amzn-ErrorType` with the Chime exception the AWS SDKs map that status to, and
//! `{"error": "<code>", "message": "<text>", "Code": "<exception>", "Message": "<text>"}`
//! (stsgate's stable code beside the shape the SDKs decode). Codes are public interface.
//! Messages never contain tokens, credentials or signatures.

use crate::broker::{StsError, StsErrorKind};
use crate::chime::BearerMismatch;
use crate::chime::request::RequestError;
use crate::http_client::FetchError;
use crate::identity::IdentityError;
use crate::mapping::MappingError;
use crate::metrics::Limit;
use crate::signing::SignError;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};

/// Response body type for everything stsgate answers: streamed upstream bodies or our own JSON.
pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Clients told to retry after this many seconds when a dependency is unavailable.
const RETRY_AFTER_SECONDS: &str = "5";

/// The header the AWS SDKs read an error's exception name from.
pub const ERROR_TYPE: &str = "x-amzn-errortype";
/// The header the AWS SDKs read a request id from.
pub const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-amzn-requestid");

/// A random id for a response stsgate makes itself (UUID-shaped, like Chime's: 8-4-4-4-12 hex
/// digits). Written digit by digit into a stack buffer: `format!` of five padded fields cost
/// ~1 % of a warm request (issue #14).
pub fn request_id() -> http::HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = [b'-'; 36];
    let mut bits = fastrand::u128(..);
    for (i, c) in id.iter_mut().enumerate().rev() {
        if !matches!(i, 8 | 13 | 18 | 23) {
            *c = HEX[(bits & 0xf) as usize];
            bits >>= 4;
        }
    }
    http::HeaderValue::from_bytes(&id).expect("hex digits and dashes")
}

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
    #[error("CORS: {0}")]
    OriginNotAllowed(String),
    #[error("too many requests for this user; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("request headers larger than {0} bytes")]
    HeadersTooLarge(usize),
    #[error("too many guest tokens for this address; retry in {retry_after} s")]
    GuestsRateLimited { retry_after: u64 },
    #[error("too many guest tokens for now; retry in {retry_after} s")]
    GuestsTotalRateLimited { retry_after: u64 },
    #[error(transparent)]
    Sts(#[from] StsError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("upstream request failed: {0}")]
    Upstream(FetchError),
}

impl From<crate::guests::GuestError> for GatewayError {
    fn from(e: crate::guests::GuestError) -> Self {
        match e {
            crate::guests::GuestError::RateLimited(retry_after) => {
                GatewayError::GuestsRateLimited { retry_after }
            }
            crate::guests::GuestError::TotalRateLimited(retry_after) => {
                GatewayError::GuestsTotalRateLimited { retry_after }
            }
            crate::guests::GuestError::CreateUser(e) => {
                GatewayError::Upstream(FetchError::Transport(e.to_string()))
            }
        }
    }
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
    /// The configured limit that refused the request, if one did.
    pub fn limit(&self) -> Option<Limit> {
        Some(match self {
            GatewayError::HeadersTooLarge(_) => Limit::HeaderBytes,
            GatewayError::BodyTooLarge { .. } => Limit::BodyBytes,
            GatewayError::BodyTimeout(_) => Limit::BodyTimeout,
            GatewayError::Identity(IdentityError::Oversize) => Limit::CredentialBytes,
            GatewayError::Identity(IdentityError::VerifierBusy) => Limit::SamlQueue,
            GatewayError::RateLimited { .. } => Limit::UserRate,
            GatewayError::GuestsRateLimited { .. } => Limit::GuestsPerMinute,
            GatewayError::GuestsTotalRateLimited { .. } => Limit::GuestsTotalPerMinute,
            GatewayError::TooManySockets(_) => Limit::UserSockets,
            _ => return None,
        })
    }

    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::Identity(
                IdentityError::KeysUnavailable | IdentityError::VerifierBusy,
            ) => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::Identity(_) => StatusCode::UNAUTHORIZED,
            GatewayError::Mapping(_)
            | GatewayError::Bearer(_)
            | GatewayError::OperationNotAllowed(_)
            | GatewayError::ForeignResource(_)
            | GatewayError::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            GatewayError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            GatewayError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            GatewayError::BadRequest(_) => StatusCode::BAD_REQUEST,
            GatewayError::TooManySockets(_)
            | GatewayError::RateLimited { .. }
            | GatewayError::GuestsRateLimited { .. }
            | GatewayError::GuestsTotalRateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
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
            GatewayError::Mapping(MappingError::NoRoleMatched) => "no_role_matched",
            GatewayError::Mapping(_) => "identity_not_mappable",
            GatewayError::Bearer(_) => "bearer_mismatch",
            GatewayError::OperationNotAllowed(_) => "operation_not_allowed",
            GatewayError::ForeignResource(_) => "resource_not_allowed",
            GatewayError::BodyTooLarge { .. } => "payload_too_large",
            GatewayError::BodyTimeout(_) => "request_timeout",
            GatewayError::UnsupportedMediaType => "unsupported_media_type",
            GatewayError::BadRequest(_) => "bad_request",
            GatewayError::TooManySockets(_) => "too_many_sockets",
            GatewayError::OriginNotAllowed(_) => "origin_not_allowed",
            GatewayError::RateLimited { .. }
            | GatewayError::GuestsRateLimited { .. }
            | GatewayError::GuestsTotalRateLimited { .. } => "rate_limited",
            GatewayError::HeadersTooLarge(_) => "headers_too_large",
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

    /// The close code a refused messaging WebSocket gets after its upgrade, as Chime sends them:
    /// 4401 (bad identity) and 4003 (forbidden) make the Chime SDK stop; 1013 and 1011 (try
    /// again, upstream trouble) make it reconnect.
    pub fn close_code(&self) -> u16 {
        match self.status().as_u16() {
            401 => 4401,
            400 | 403 | 413 | 415 | 431 => 4003,
            429 | 503 => 1013,
            _ => 1011,
        }
    }

    /// The Chime exception the AWS SDKs raise for this status (`x-amzn-ErrorType`, `Code`).
    pub fn error_type(&self) -> &'static str {
        match self.status().as_u16() {
            401 => "UnauthorizedClientException",
            403 => "ForbiddenException",
            429 => "ThrottledClientException",
            503 => "ServiceUnavailableException",
            500 | 502 | 504 => "ServiceFailureException",
            _ => "BadRequestException",
        }
    }

    /// The client's response. A 401 challenges with `Bearer`, and with `SAML` too when
    /// `saml` (SAML IdPs are configured).
    pub fn to_response(&self, saml: bool, request_id: &HeaderValue) -> Response<ProxyBody> {
        let status = self.status();
        let (message, error_type) = (self.public_message(), self.error_type());
        let body = serde_json::json!({
            "error": self.code(),
            "message": message,
            "Code": error_type,
            "Message": message,
        });
        let mut resp = json_response(status, &body);
        let h = resp.headers_mut();
        h.insert(ERROR_TYPE, HeaderValue::from_static(error_type));
        h.insert(REQUEST_ID, request_id.clone());
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
            if saml {
                h.append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("SAML realm=\"stsgate\""),
                );
            }
        }
        if let GatewayError::RateLimited { retry_after }
        | GatewayError::GuestsRateLimited { retry_after }
        | GatewayError::GuestsTotalRateLimited { retry_after } = self
        {
            h.insert(header::RETRY_AFTER, (*retry_after).into());
        } else if status == StatusCode::SERVICE_UNAVAILABLE
            || status == StatusCode::TOO_MANY_REQUESTS
        {
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
            (MappingError::NoRoleMatched.into(), 403, "no_role_matched"),
            (
                GatewayError::RateLimited { retry_after: 2 },
                429,
                "rate_limited",
            ),
            (GatewayError::HeadersTooLarge(1), 431, "headers_too_large"),
            (IdentityError::VerifierBusy.into(), 503, "overloaded"),
            (
                GatewayError::OriginNotAllowed("x".into()),
                403,
                "origin_not_allowed",
            ),
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
            let error_type = e.error_type();
            let r = e.to_response(false, &HeaderValue::from_static("r-1"));
            assert_eq!(r.headers()[ERROR_TYPE], error_type);
            assert!(r.headers().contains_key(REQUEST_ID));
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

    #[tokio::test]
    async fn the_sdks_see_the_chime_exception_for_each_status() {
        let cases: Vec<(GatewayError, &str)> = vec![
            (IdentityError::Missing.into(), "UnauthorizedClientException"),
            (GatewayError::OperationNotAllowed("X"), "ForbiddenException"),
            (GatewayError::BadRequest("x".into()), "BadRequestException"),
            (
                GatewayError::BodyTooLarge { limit: 1 },
                "BadRequestException",
            ),
            (GatewayError::UnsupportedMediaType, "BadRequestException"),
            (GatewayError::TooManySockets(1), "ThrottledClientException"),
            (sts(StsErrorKind::Throttled), "ServiceUnavailableException"),
            (
                GatewayError::Upstream(FetchError::Timeout),
                "ServiceFailureException",
            ),
            (
                GatewayError::Upstream(FetchError::Transport("x".into())),
                "ServiceFailureException",
            ),
        ];
        for (e, exception) in cases {
            let code = e.code();
            let r = e.to_response(false, &HeaderValue::from_static("r-1"));
            assert_eq!(r.headers()[ERROR_TYPE], exception);
            let body = r.into_body().collect().await.unwrap().to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                (v["Code"].as_str(), v["error"].as_str()),
                (Some(exception), Some(code))
            );
            assert_eq!(v["Message"], v["message"]);
        }
    }

    #[test]
    fn refused_sockets_close_with_codes_the_sdk_acts_on() {
        assert_eq!(
            GatewayError::from(IdentityError::Expired).close_code(),
            4401
        );
        assert_eq!(GatewayError::Bearer(BearerMismatch).close_code(), 4003);
        assert_eq!(
            GatewayError::OperationNotAllowed("Connect").close_code(),
            4003
        );
        assert_eq!(sts(StsErrorKind::Denied).close_code(), 4003);
        for retryable in [
            sts(StsErrorKind::Throttled),
            GatewayError::Identity(IdentityError::KeysUnavailable),
            GatewayError::TooManySockets(1),
            GatewayError::Upstream(FetchError::Timeout),
            GatewayError::Upstream(FetchError::Transport("x".into())),
        ] {
            let code = retryable.close_code();
            assert!([1011, 1013].contains(&code), "{retryable:?}: {code}");
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
