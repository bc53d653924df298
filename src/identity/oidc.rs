//! One OIDC issuer's token rules: allowed algorithms, signature (jsonwebtoken over aws-lc-rs),
//! issuer, audience (`aud` or, for access tokens without one, `client_id`) and time claims
//! against an injected clock with leeway.

use super::{IdentityError, IssuerKeys, Principal, UnverifiedJws};
use crate::clock::{SharedClock, unix_seconds};
use crate::config::TokenUse;
use crate::config::settings::IssuerSettings;
use jsonwebtoken::Algorithm;
use serde_json::Value;
use std::str::FromStr;
use std::sync::Arc;

pub struct IssuerVerifier {
    issuer: String,
    audiences: Vec<String>,
    leeway: i64,
    algorithms: Vec<Algorithm>,
    token_use: Option<TokenUse>,
    required_claims: Vec<(String, Value)>,
    max_age: Option<i64>,
    keys: Arc<IssuerKeys>,
    clock: SharedClock,
}

impl IssuerVerifier {
    pub fn new(s: &IssuerSettings, keys: Arc<IssuerKeys>, clock: SharedClock) -> Self {
        IssuerVerifier {
            issuer: s.issuer.clone(),
            audiences: s.audiences.clone(),
            leeway: s.leeway_seconds,
            algorithms: s.algorithms.clone(),
            token_use: s.token_use,
            required_claims: s.required_claims.clone(),
            max_age: s.max_age_seconds,
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
        let (exp, valid_until) = self.check_claims(&jws.claims)?;
        Ok(Principal {
            issuer: self.issuer.clone(),
            claims: jws.claims.clone(),
            exp,
            valid_until,
            derived: Default::default(),
        })
    }

    /// Returns `exp` and the last second the token is accepted.
    fn check_claims(
        &self,
        claims: &serde_json::Map<String, Value>,
    ) -> Result<(i64, i64), IdentityError> {
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
        let iat = numeric_date(claims, "iat")?;
        if iat.is_some_and(|iat| iat > now + self.leeway) {
            return Err(IdentityError::IssuedInFuture);
        }
        let mut valid_until = exp + self.leeway;
        if let Some(max_age) = self.max_age {
            let iat = iat.ok_or(IdentityError::MissingClaim("iat"))?;
            if now > iat + max_age {
                return Err(IdentityError::TooOld);
            }
            valid_until = valid_until.min(iat + max_age);
        }
        self.check_audience(claims)?;
        let token_use = claims.get("token_use").and_then(Value::as_str);
        if self
            .token_use
            .is_some_and(|want| token_use != Some(want.as_str()))
        {
            return Err(IdentityError::WrongTokenUse);
        }
        if self
            .required_claims
            .iter()
            .any(|(k, v)| claims.get(k) != Some(v))
        {
            return Err(IdentityError::ClaimMismatch);
        }
        Ok((exp, valid_until))
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
