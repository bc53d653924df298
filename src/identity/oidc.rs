//! One OIDC issuer's token rules: allowed algorithms, signature (jsonwebtoken over aws-lc-rs),
//! issuer, audience (`aud` or, for access tokens without one, `client_id`) and time claims
//! against an injected clock with leeway.

use super::jws::UnverifiedJws;
use super::{IdentityError, IssuerKeys, Principal};
use crate::clock::{SharedClock, unix_seconds};
use crate::config::IssuerConfig;
use jsonwebtoken::Algorithm;
use serde_json::Value;
use std::str::FromStr;
use std::sync::Arc;

/// Public-key algorithms only: `none` and HMAC can never verify against a JWKS (no alg confusion).
const DEFAULT_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

pub struct IssuerVerifier {
    issuer: String,
    audiences: Vec<String>,
    leeway: i64,
    algorithms: Vec<Algorithm>,
    keys: Arc<IssuerKeys>,
    clock: SharedClock,
}

impl IssuerVerifier {
    pub fn new(c: &IssuerConfig, keys: Arc<IssuerKeys>, clock: SharedClock) -> Self {
        IssuerVerifier {
            issuer: c.issuer.clone(),
            audiences: c.audiences.clone(),
            leeway: c.leeway_seconds as i64,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            keys,
            clock,
        }
    }

    pub fn keys(&self) -> &Arc<IssuerKeys> {
        &self.keys
    }

    pub(super) async fn verify(&self, jws: &UnverifiedJws<'_>) -> Result<Principal, IdentityError> {
        let alg = Algorithm::from_str(&jws.alg).map_err(|_| IdentityError::DisallowedAlgorithm)?;
        if !self.algorithms.contains(&alg) {
            return Err(IdentityError::DisallowedAlgorithm);
        }
        let key = self.keys.find(jws.kid.as_deref(), alg).await?;
        match jsonwebtoken::crypto::verify(
            jws.signature,
            jws.signing_input.as_bytes(),
            &key.key,
            alg,
        ) {
            Ok(true) => {}
            Ok(false) => return Err(IdentityError::BadSignature),
            Err(_) => return Err(IdentityError::BadSignature),
        }
        self.check_claims(&jws.claims)?;
        let expires_at = jws
            .claims
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or_default();
        Ok(Principal {
            issuer: self.issuer.clone(),
            claims: jws.claims.clone(),
            expires_at,
        })
    }

    fn check_claims(&self, claims: &serde_json::Map<String, Value>) -> Result<(), IdentityError> {
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(IdentityError::UnknownIssuer);
        }
        let now = unix_seconds(self.clock.now());
        let exp = numeric_date(claims, "exp")?.ok_or(IdentityError::MissingClaim("exp"))?;
        if now > exp + self.leeway {
            return Err(IdentityError::Expired);
        }
        if numeric_date(claims, "nbf")?.is_some_and(|nbf| now + self.leeway < nbf) {
            return Err(IdentityError::NotYetValid);
        }
        if numeric_date(claims, "iat")?.is_some_and(|iat| iat > now + self.leeway) {
            return Err(IdentityError::IssuedInFuture);
        }
        self.check_audience(claims)
    }

    /// `aud` (string or array) must name a configured audience. Only when `aud` is absent, as in
    /// Cognito access tokens, does `client_id` stand in for it.
    fn check_audience(&self, claims: &serde_json::Map<String, Value>) -> Result<(), IdentityError> {
        let accepted = |v: &Value| {
            v.as_str()
                .is_some_and(|a| self.audiences.iter().any(|x| x == a))
        };
        let ok = match claims.get("aud") {
            Some(Value::String(_)) => accepted(&claims["aud"]),
            Some(Value::Array(list)) => list.iter().any(accepted),
            Some(_) => false,
            None => claims.get("client_id").is_some_and(accepted),
        };
        if ok {
            Ok(())
        } else {
            Err(IdentityError::WrongAudience)
        }
    }
}

/// A JWT NumericDate: an integer (fractions are truncated); anything else is malformed.
fn numeric_date(
    claims: &serde_json::Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, IdentityError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or(IdentityError::Malformed("time claim out of range")),
        Some(_) => Err(IdentityError::Malformed("time claim is not a number")),
    }
}
