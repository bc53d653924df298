//! An issuer's signing keys: OIDC discovery (openidconnect's metadata type), JWKS fetch, and a
//! cache that refetches on an unknown `kid` at most once per `jwks_refetch_interval_seconds`, so garbage
//! `kid`s cannot hammer the IdP. The last good key set is kept when a fetch fails.

use crate::config::settings::IssuerSettings;
use crate::http_client::{FetchError, HttpClient};
use crate::metrics::{Metrics, Outcome};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use openidconnect::core::CoreProviderMetadata;
use serde_json::Value;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use url::Url;

/// Discovery documents and key sets are small; anything bigger is refused.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// One usable public key from the JWKS.
pub struct VerifyingKey {
    pub kid: Option<String>,
    /// The JWK's own `alg`, when it names one: the token must use exactly that.
    pub alg: Option<Algorithm>,
    jwk: Jwk,
    pub key: DecodingKey,
}

impl VerifyingKey {
    /// Whether this key may verify a token signed with `alg` (family, curve and the JWK's `alg`).
    pub fn fits(&self, alg: Algorithm) -> bool {
        if self.alg.is_some_and(|a| a != alg) {
            return false;
        }
        use Algorithm::*;
        match (&self.jwk.algorithm, alg) {
            (AlgorithmParameters::RSA(_), RS256 | RS384 | RS512 | PS256 | PS384 | PS512) => true,
            (AlgorithmParameters::EllipticCurve(p), ES256) => p.curve == EllipticCurve::P256,
            (AlgorithmParameters::EllipticCurve(p), ES384) => p.curve == EllipticCurve::P384,
            (AlgorithmParameters::OctetKeyPair(p), EdDSA) => p.curve == EllipticCurve::Ed25519,
            _ => false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("discovery failed: {0}")]
    Discovery(String),
    #[error("JWKS fetch failed: {0}")]
    Fetch(#[from] FetchError),
    #[error("JWKS is not a JSON key set")]
    NotAKeySet,
    #[error("JWKS holds no usable signing key")]
    NoUsableKey,
}

#[derive(Default)]
struct KeySet {
    keys: Vec<Arc<VerifyingKey>>,
}

pub struct IssuerKeys {
    issuer: String,
    /// Keys held in memory (stsgate's own guest tokens): never fetched.
    fixed: Option<Arc<KeySet>>,
    configured_jwks_uri: Option<Url>,
    http: HttpClient,
    metrics: Arc<Metrics>,
    refetch_interval: Duration,
    /// How often the background task refetches the key set.
    pub refresh_interval: Duration,
    current: RwLock<Option<Arc<KeySet>>>,
    /// Why the last fetch failed, if it did (for `/readyz`).
    last_error: RwLock<Option<String>>,
    /// Serialises fetches and remembers when the last one started.
    fetch_gate: Mutex<Option<Instant>>,
}

impl IssuerKeys {
    pub fn new(s: &IssuerSettings, http: HttpClient, metrics: Arc<Metrics>) -> Self {
        let fixed = s
            .static_jwks
            .as_ref()
            .map(|jwks| Arc::new(parse_key_set(jwks).expect("stsgate's own key set parses")));
        IssuerKeys {
            fixed: fixed.clone(),
            issuer: s.issuer.clone(),
            configured_jwks_uri: s.jwks_uri.clone(),
            http,
            metrics,
            refetch_interval: s.refetch_interval,
            refresh_interval: s.refresh_interval,
            current: RwLock::new(fixed),
            last_error: RwLock::new(None),
            fetch_gate: Mutex::new(None),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether a key set has ever been loaded.
    pub fn is_loaded(&self) -> bool {
        self.current.read().expect("key lock").is_some()
    }

    /// Why the last fetch failed, if the last one did; the previous good set is still in use.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.read().expect("key lock").clone()
    }

    /// Fetches the key set now and swaps it in; on failure the last good set stays.
    pub async fn refresh(&self) -> Result<(), KeyError> {
        let mut gate = self.fetch_gate.lock().await;
        *gate = Some(Instant::now());
        self.fetch_and_swap().await
    }

    /// A key for `kid` that fits `alg`. An unknown `kid` triggers one rate-limited refetch.
    pub async fn find(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<VerifyingKey>, super::IdentityError> {
        use super::IdentityError;
        if let Some(k) = self.lookup(kid, alg) {
            return Ok(k);
        }
        {
            let mut gate = self.fetch_gate.lock().await;
            // Another request may have refreshed while we waited for the gate.
            if let Some(k) = self.lookup(kid, alg) {
                return Ok(k);
            }
            // Whether or not keys ever loaded: a dead IdP must not cost a fetch per forged token.
            let allowed = gate.is_none_or(|t| t.elapsed() >= self.refetch_interval);
            if allowed {
                *gate = Some(Instant::now());
                if let Err(e) = self.fetch_and_swap().await {
                    tracing::warn!(issuer = %self.issuer, error = %e, "key refetch failed");
                }
            }
        }
        match self.lookup(kid, alg) {
            Some(k) => Ok(k),
            None if !self.is_loaded() => Err(IdentityError::KeysUnavailable),
            None => Err(IdentityError::UnknownKey),
        }
    }

    fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<VerifyingKey>> {
        let guard = self.current.read().expect("key lock");
        let set = guard.as_ref()?;
        match kid {
            Some(kid) => set
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid) && k.fits(alg))
                .cloned(),
            // Without a kid only an unambiguous key set is usable.
            None => {
                let mut fitting = set.keys.iter().filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(k), None) => Some(k.clone()),
                    _ => None,
                }
            }
        }
    }

    async fn fetch_and_swap(&self) -> Result<(), KeyError> {
        let result = self.fetch().await;
        let outcome = if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Failed
        };
        self.metrics.jwks_fetches.inc(outcome);
        *self.last_error.write().expect("key lock") = result.as_ref().err().map(|e| e.to_string());
        let set = result?;
        tracing::debug!(issuer = %self.issuer, keys = set.keys.len(), "loaded signing keys");
        *self.current.write().expect("key lock") = Some(Arc::new(set));
        Ok(())
    }

    async fn fetch(&self) -> Result<KeySet, KeyError> {
        if let Some(set) = &self.fixed {
            return Ok(KeySet {
                keys: set.keys.clone(),
            });
        }
        let uri = match &self.configured_jwks_uri {
            Some(u) => u.clone(),
            None => self.discover_jwks_uri().await?,
        };
        let body = self
            .http
            .get_small(&uri, MAX_DOCUMENT_BYTES, FETCH_TIMEOUT)
            .await?;
        parse_key_set(&body)
    }

    async fn discover_jwks_uri(&self) -> Result<Url, KeyError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let url = Url::parse(&url).map_err(|e| KeyError::Discovery(e.to_string()))?;
        let body = self
            .http
            .get_small(&url, MAX_DOCUMENT_BYTES, FETCH_TIMEOUT)
            .await
            .map_err(|e| KeyError::Discovery(e.to_string()))?;
        let meta: CoreProviderMetadata = serde_json::from_slice(&body)
            .map_err(|e| KeyError::Discovery(format!("bad metadata: {e}")))?;
        if meta.issuer().as_str() != self.issuer {
            return Err(KeyError::Discovery(format!(
                "metadata names issuer {:?}, expected {:?}",
                meta.issuer().as_str(),
                self.issuer
            )));
        }
        let jwks = meta.jwks_uri().url().clone();
        crate::config::check_url(&jwks).map_err(KeyError::Discovery)?;
        Ok(jwks)
    }
}

/// Parses each key on its own so one exotic key (e.g. an encryption key) spoils nothing.
fn parse_key_set(body: &[u8]) -> Result<KeySet, KeyError> {
    let doc: Value = serde_json::from_slice(body).map_err(|_| KeyError::NotAKeySet)?;
    let raw = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(KeyError::NotAKeySet)?;
    let keys: Vec<_> = raw
        .iter()
        .filter_map(|v| serde_json::from_value::<Jwk>(v.clone()).ok())
        .filter(|jwk| {
            matches!(
                jwk.common.public_key_use,
                None | Some(PublicKeyUse::Signature)
            )
        })
        .filter_map(|jwk| {
            let alg = match jwk.common.key_algorithm {
                Some(ka) => Some(Algorithm::try_from(ka).ok()?),
                None => None,
            };
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            Some(Arc::new(VerifyingKey {
                kid: jwk.common.key_id.clone(),
                alg,
                jwk,
                key,
            }))
        })
        .collect();
    if keys.is_empty() {
        return Err(KeyError::NoUsableKey);
    }
    Ok(KeySet { keys })
}
