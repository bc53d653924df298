//! Inbound identity: turns the client's credential (an OIDC JWT or a SAML 2.0 assertion) into a
//! [`Principal`].
//!
//! Owns credential extraction, JOSE and SAML parsing, issuer selection, key lookup and claim
//! checks. Knows nothing of AWS or Chime. Every refusal is an [`IdentityError`] whose `reason()` is the
//! `stsgate_token_rejections_total` label.

mod credential;
mod jws;
mod keys;
mod oidc;
mod saml;
mod token_cache;

pub use credential::{Credential, bearer_token, credential};
pub use keys::{IssuerKeys, KeyError};
pub use oidc::{IssuerVerifier, check_algorithm};
pub use saml::{SamlVerifier, check_signature_algorithm, inspect_assertion, load_certificates};
pub use token_cache::TokenCache;

use crate::clock::{SharedClock, unix_seconds};
use crate::config::Config;
use crate::http_client::HttpClient;
use crate::metrics::Metrics;
use http::{HeaderMap, HeaderName};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// An authenticated caller: who issued the identity and every claim it carries.
#[derive(Debug, Clone)]
pub struct Principal {
    pub issuer: String,
    pub claims: Map<String, Value>,
    /// `exp` as Unix seconds.
    pub expires_at: i64,
    /// Last second (Unix) this identity is accepted: `exp` plus leeway, or earlier when a
    /// maximum token age applies. Cached identities are re-checked against it.
    pub valid_until: i64,
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
    #[error("token larger than the configured maximum")]
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
    #[error("token_use is not the one this issuer accepts")]
    WrongTokenUse,
    #[error("a required claim does not have its required value")]
    ClaimMismatch,
    #[error("token is older than the maximum token age")]
    TooOld,
    #[error("assertion is not well-formed SAML: {0}")]
    MalformedSaml(&'static str),
    #[error("assertion is not signed")]
    Unsigned,
    #[error("the signed element is not the assertion presented: {0}")]
    SignatureWrapping(&'static str),
    #[error("assertion is not addressed to this recipient")]
    WrongRecipient,
    #[error("assertion has no usable bearer SubjectConfirmation")]
    NoBearerConfirmation,
    #[error("assertion has a condition stsgate cannot honour: {0}")]
    UnsupportedCondition(&'static str),
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
            IdentityError::WrongTokenUse => "wrong_token_use",
            IdentityError::ClaimMismatch => "claim_mismatch",
            IdentityError::TooOld => "too_old",
            IdentityError::MalformedSaml(_) => "malformed",
            IdentityError::Unsigned => "unsigned",
            IdentityError::SignatureWrapping(_) => "signature_wrapping",
            IdentityError::WrongRecipient => "wrong_recipient",
            IdentityError::NoBearerConfirmation => "no_bearer_confirmation",
            IdentityError::UnsupportedCondition(_) => "unsupported_condition",
        }
    }
}

/// The checks every token passes before any issuer, key or network is involved: size, JWS
/// structure, JOSE header rules and the presence of `iss`. The fuzzing entry point.
pub fn inspect_token(token: &str, max_token_bytes: usize) -> Result<String, IdentityError> {
    if token.len() > max_token_bytes {
        return Err(IdentityError::Oversize);
    }
    let jws = jws::parse(token)?;
    match jws.claims.get("iss") {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(IdentityError::MissingClaim("iss")),
    }
}

/// Picks the OIDC issuer by the token's exact `iss`, or the SAML IdP by the assertion's exact
/// `<Issuer>`, and lets it verify the credential; remembers validated credentials by hash so a
/// busy user costs one signature check, not one per request.
pub struct Authenticator {
    issuers: HashMap<String, Arc<IssuerVerifier>>,
    saml_idps: HashMap<String, Arc<SamlVerifier>>,
    saml_header: Option<HeaderName>,
    max_token_bytes: usize,
    max_saml_bytes: usize,
    cache: TokenCache,
    clock: SharedClock,
}

impl Authenticator {
    /// Fails only when a SAML IdP's certificates cannot be read (they were checked at load time).
    pub fn from_config(
        c: &Config,
        http: &HttpClient,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        let issuers = c
            .issuers
            .iter()
            .map(|ic| {
                let keys = Arc::new(IssuerKeys::new(ic, http.clone(), metrics.clone()));
                (
                    ic.issuer.clone(),
                    Arc::new(IssuerVerifier::new(ic, keys, clock.clone())),
                )
            })
            .collect();
        let mut saml_idps = HashMap::new();
        for (i, idp) in c.saml_idps.iter().enumerate() {
            let verifier = SamlVerifier::new(idp, clock.clone())
                .map_err(|why| format!("saml_idps[{i}]: {why}"))?;
            saml_idps.insert(idp.entity_id.clone(), Arc::new(verifier));
        }
        Ok(Authenticator {
            issuers,
            saml_idps,
            saml_header: c
                .saml_header
                .as_deref()
                .and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok()),
            max_token_bytes: c.max_token_bytes,
            max_saml_bytes: c.max_saml_bytes,
            cache: TokenCache::new(c.token_cache_max_entries, metrics),
            clock,
        })
    }

    /// The verifiers, for key pre-loading and readiness.
    pub fn issuers(&self) -> impl Iterator<Item = &Arc<IssuerVerifier>> {
        self.issuers.values()
    }

    /// Whether SAML assertions are accepted (the 401 challenge then names the `SAML` scheme too).
    pub fn accepts_saml(&self) -> bool {
        !self.saml_idps.is_empty()
    }

    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Principal>, IdentityError> {
        match credential(headers, self.saml_header.as_ref())? {
            Credential::Jwt(token) => self.authenticate_token(token).await,
            Credential::Saml(encoded) => self.authenticate_saml(encoded).await,
        }
    }

    /// Verifies a bare token (e.g. from the `token` query parameter of a browser's WebSocket).
    pub async fn authenticate_token(&self, token: &str) -> Result<Arc<Principal>, IdentityError> {
        if token.len() > self.max_token_bytes {
            return Err(IdentityError::Oversize);
        }
        let now = unix_seconds(self.clock.now());
        let key = token_cache::hash("jwt", token);
        if let Some(p) = self.cache.get(key, now).await {
            return Ok(p);
        }
        let jws = jws::parse(token)?;
        let iss = match jws.claims.get("iss") {
            Some(Value::String(s)) => s.as_str(),
            _ => return Err(IdentityError::MissingClaim("iss")),
        };
        // Exact match only: no prefix, case or trailing-slash leniency.
        let verifier = self.issuers.get(iss).ok_or(IdentityError::UnknownIssuer)?;
        let principal = Arc::new(verifier.verify(&jws).await?);
        self.cache.insert(key, principal.clone(), now).await;
        Ok(principal)
    }

    /// Verifies a base64 SAML Response or Assertion; XML-DSig runs on the blocking pool.
    pub async fn authenticate_saml(&self, encoded: &str) -> Result<Arc<Principal>, IdentityError> {
        if encoded.len() > self.max_saml_bytes {
            return Err(IdentityError::Oversize);
        }
        let now = unix_seconds(self.clock.now());
        let key = token_cache::hash("saml", encoded);
        if let Some(p) = self.cache.get(key, now).await {
            return Ok(p);
        }
        let xml = saml::decode(encoded, self.max_saml_bytes)?;
        let scanned = saml::scan(&xml)?;
        let verifier = self
            .saml_idps
            .get(&scanned.issuer)
            .ok_or(IdentityError::UnknownIssuer)?
            .clone();
        let principal = tokio::task::spawn_blocking(move || verifier.verify(&xml, &scanned))
            .await
            .map_err(|_| IdentityError::MalformedSaml("verification did not finish"))??;
        let principal = Arc::new(principal);
        self.cache.insert(key, principal.clone(), now).await;
        Ok(principal)
    }
}
