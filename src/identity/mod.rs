//! Inbound identity: turns the client's credential (an OIDC JWT or a SAML 2.0 assertion) into a
//! [`Principal`].
//!
//! Owns credential extraction, JOSE and SAML parsing, issuer selection, key lookup and claim
//! checks. Knows nothing of AWS or Chime. Every refusal is an [`IdentityError`] whose `reason()` is the
//! `stsgate_token_rejections_total` label.

mod keys;
mod oidc;
mod saml;
mod token_cache;

pub use keys::{IssuerKeys, KeyError};
pub use oidc::IssuerVerifier;
pub use saml::SamlVerifier;
pub use token_cache::TokenCache;

// The front door (credential extraction and the checks made before any key) is its own crate,
// so the fuzz target runs exactly what production runs.
pub use stsgate_front_door::{
    Carriers, Credential, IdentityError, InspectedAssertion, SESSION_TOKEN_HEADER,
    SESSION_TOKEN_PARAM, TOKEN_PARAM, UnverifiedJws, bearer_token, credential, decode_saml,
    inspect_assertion, inspect_token,
};

use crate::clock::{SharedClock, unix_seconds};
use crate::config::settings::IdentitySettings;
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
    /// The token's `exp` (an assertion's end of validity), in Unix seconds like every time the
    /// verifiers compare (JWT NumericDate); [`Principal::expires_at`] is the same as a time.
    pub exp: i64,
    /// Last second (Unix) this identity is accepted: `exp` plus leeway, or earlier when a
    /// maximum token age applies. Cached identities are re-checked against it.
    pub valid_until: i64,
    /// What later stages compute from this principal alone, kept with it.
    pub derived: Derived,
}

/// A value computed once per validated credential from its [`Principal`] alone. The token cache
/// hands every request with the same credential the same `Arc<Principal>`, so the mapping stage
/// stores its result here instead of mapping the claims again on every request.
#[derive(Debug, Clone, Default)]
pub struct Derived(std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>);

impl Derived {
    /// The stored value, computing it with `f` the first time. `None` if a value of another type
    /// is stored (the caller then computes without keeping it).
    pub fn get_or_init<T: std::any::Any + Send + Sync>(&self, f: impl FnOnce() -> T) -> Option<&T> {
        self.0.get_or_init(|| Arc::new(f())).downcast_ref::<T>()
    }
}

impl Principal {
    /// A principal with these claims (an object) and no expiry checks, for unit tests.
    #[cfg(test)]
    pub(crate) fn with_claims(issuer: &str, claims: Value) -> Self {
        Principal {
            issuer: issuer.into(),
            claims: claims.as_object().expect("claims are an object").clone(),
            exp: 0,
            valid_until: 0,
            derived: Derived::default(),
        }
    }

    /// When the identity expires (`exp`).
    pub fn expires_at(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.exp.max(0) as u64)
    }

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

/// Turns a credential into a [`Principal`]: the [`Authenticator`], or a stub in tests.
pub trait Verify: Send + Sync + 'static {
    fn verify<'a>(
        &'a self,
        c: Credential<'a>,
    ) -> crate::BoxFuture<'a, Result<Arc<Principal>, IdentityError>>;
}

impl Verify for Authenticator {
    fn verify<'a>(
        &'a self,
        c: Credential<'a>,
    ) -> crate::BoxFuture<'a, Result<Arc<Principal>, IdentityError>> {
        Box::pin(async move {
            match c {
                Credential::Jwt(token) => self.authenticate_token(&token).await,
                Credential::Saml(encoded) => self.authenticate_saml(&encoded).await,
            }
        })
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
    /// XML-DSig runs on the blocking pool; at most one verification per core at a time, so a
    /// flood of large assertions queues here instead of occupying every blocking thread.
    saml_permits: tokio::sync::Semaphore,
    /// The longest an assertion waits for a permit: a flood of forged assertions naming a
    /// configured IdP costs legitimate users a 503, not an unbounded wait.
    saml_queue_timeout: std::time::Duration,
    cache: TokenCache,
    clock: SharedClock,
}

impl Authenticator {
    pub fn new(
        s: &IdentitySettings,
        http: &HttpClient,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Self {
        let issuers = s
            .issuers
            .iter()
            .map(|is| {
                let keys = Arc::new(IssuerKeys::new(is, http.clone(), metrics.clone()));
                let verifier = IssuerVerifier::new(is, keys, clock.clone());
                (is.issuer.clone(), Arc::new(verifier))
            })
            .collect();
        let saml_idps = s
            .saml_idps
            .iter()
            .map(|idp| {
                let verifier = SamlVerifier::new(idp, clock.clone());
                (idp.entity_id.clone(), Arc::new(verifier))
            })
            .collect();
        Authenticator {
            issuers,
            saml_idps,
            saml_header: s.saml_header.clone(),
            max_token_bytes: s.max_token_bytes,
            max_saml_bytes: s.max_saml_bytes,
            saml_permits: tokio::sync::Semaphore::new(s.saml_check_slots),
            saml_queue_timeout: s.saml_queue_timeout,
            cache: TokenCache::new(s.token_cache_max_entries, s.token_cache_max_bytes, metrics),
            clock,
        }
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
        let carriers = Carriers {
            saml_header: self.saml_header.as_ref(),
            ..Carriers::default()
        };
        self.verify(credential(headers, &carriers)?).await
    }

    /// Verifies a bare token (e.g. from the `token` query parameter of a browser's WebSocket).
    pub async fn authenticate_token(&self, token: &str) -> Result<Arc<Principal>, IdentityError> {
        // Size first: nothing larger is hashed, looked up or parsed.
        if token.len() > self.max_token_bytes {
            return Err(IdentityError::Oversize);
        }
        let now = unix_seconds(self.clock.now());
        let key = token_cache::hash("jwt", token);
        if let Some(p) = self.cache.get(key, now).await {
            return Ok(p);
        }
        let jws = inspect_token(token, self.max_token_bytes)?;
        // Exact match only: no prefix, case or trailing-slash leniency.
        let verifier = self
            .issuers
            .get(&jws.issuer)
            .ok_or(IdentityError::UnknownIssuer)?;
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
        let InspectedAssertion { xml, scanned } = inspect_assertion(encoded, self.max_saml_bytes)?;
        let verifier = self
            .saml_idps
            .get(&scanned.issuer)
            .ok_or(IdentityError::UnknownIssuer)?
            .clone();
        let _permit = tokio::time::timeout(self.saml_queue_timeout, self.saml_permits.acquire())
            .await
            .map_err(|_| IdentityError::VerifierBusy)?
            .expect("never closed");
        let principal = tokio::task::spawn_blocking(move || verifier.verify(&xml, &scanned))
            .await
            .map_err(|_| IdentityError::MalformedSaml("verification did not finish"))??;
        let principal = Arc::new(principal);
        self.cache.insert(key, principal.clone(), now).await;
        Ok(principal)
    }
}
