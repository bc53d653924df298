//! Inbound identity: turns the client's credential (an OIDC JWT today) into a [`Principal`].
//!
//! Owns token extraction, JOSE parsing, issuer selection, key lookup and claim checks. Knows
//! nothing of AWS or Chime. Every refusal is an [`IdentityError`] whose `reason()` is the
//! `stsgate_token_rejections_total` label.

mod jws;
mod keys;
mod oidc;

pub use jws::bearer_token;
pub use keys::{IssuerKeys, KeyError};
pub use oidc::IssuerVerifier;

use crate::clock::SharedClock;
use crate::config::IssuerConfig;
use crate::http_client::HttpClient;
use http::HeaderMap;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Tokens larger than this are refused before any parsing (issue limit, default 8 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// An authenticated caller: who issued the identity and every claim it carries.
#[derive(Debug, Clone)]
pub struct Principal {
    pub issuer: String,
    pub claims: Map<String, Value>,
    /// `exp` as Unix seconds.
    pub expires_at: i64,
}

impl Principal {
    /// A claim as a string: strings as-is, numbers and booleans in JSON form.
    pub fn claim_str(&self, name: &str) -> Option<String> {
        match self.claims.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("no bearer token")]
    Missing,
    #[error("token larger than {MAX_TOKEN_BYTES} bytes")]
    Oversize,
    #[error("token is not a well-formed JWS: {0}")]
    Malformed(&'static str),
    #[error("token header uses an unsupported feature: {0}")]
    UnsupportedHeader(&'static str),
    #[error("token issuer is not configured")]
    UnknownIssuer,
    #[error("token algorithm is not allowed")]
    DisallowedAlgorithm,
    #[error("no key of the issuer matches the token")]
    UnknownKey,
    #[error("the issuer's keys are not available")]
    KeysUnavailable,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was issued in the future")]
    IssuedInFuture,
    #[error("token audience is not accepted")]
    WrongAudience,
    #[error("token lacks the required claim {0}")]
    MissingClaim(&'static str),
}

impl IdentityError {
    /// Closed label set for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            IdentityError::Missing => "missing",
            IdentityError::Oversize => "oversize",
            IdentityError::Malformed(_) => "malformed",
            IdentityError::UnsupportedHeader(_) => "unsupported_header",
            IdentityError::UnknownIssuer => "unknown_issuer",
            IdentityError::DisallowedAlgorithm => "disallowed_alg",
            IdentityError::UnknownKey => "unknown_kid",
            IdentityError::KeysUnavailable => "keys_unavailable",
            IdentityError::BadSignature => "bad_signature",
            IdentityError::Expired => "expired",
            IdentityError::NotYetValid => "not_yet_valid",
            IdentityError::IssuedInFuture => "issued_in_future",
            IdentityError::WrongAudience => "wrong_audience",
            IdentityError::MissingClaim(_) => "missing_claim",
        }
    }
}

/// Picks the issuer by the token's exact `iss` and lets it verify the token.
pub struct Authenticator {
    issuers: HashMap<String, Arc<IssuerVerifier>>,
}

impl Authenticator {
    pub fn from_config(issuers: &[IssuerConfig], http: &HttpClient, clock: SharedClock) -> Self {
        let issuers = issuers
            .iter()
            .map(|c| {
                let keys = Arc::new(IssuerKeys::new(c, http.clone()));
                (
                    c.issuer.clone(),
                    Arc::new(IssuerVerifier::new(c, keys, clock.clone())),
                )
            })
            .collect();
        Authenticator { issuers }
    }

    /// The verifiers, for key pre-loading and readiness.
    pub fn issuers(&self) -> impl Iterator<Item = &Arc<IssuerVerifier>> {
        self.issuers.values()
    }

    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, IdentityError> {
        self.authenticate_token(bearer_token(headers)?).await
    }

    /// Verifies a bare token (e.g. from the `token` query parameter of a browser's WebSocket).
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal, IdentityError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(IdentityError::Oversize);
        }
        let jws = jws::parse(token)?;
        let iss = match jws.claims.get("iss") {
            Some(Value::String(s)) => s.as_str(),
            _ => return Err(IdentityError::MissingClaim("iss")),
        };
        // Exact match only: no prefix, case or trailing-slash leniency.
        let verifier = self.issuers.get(iss).ok_or(IdentityError::UnknownIssuer)?;
        verifier.verify(&jws).await
    }
}
