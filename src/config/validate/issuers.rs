//! OIDC issuers: URLs, audiences, algorithms (public-key only) and their time rules.

use super::{MAX_AGE, MAX_LEEWAY, Problems, check_url, required_claims, seconds_within};
use crate::config::settings::IssuerSettings;
use crate::config::{Config, IssuerConfig};
use jsonwebtoken::Algorithm;
use std::str::FromStr;
use std::time::Duration;
use url::Url;

/// Public-key algorithms only: `none` and HMAC can never verify against a JWKS (no alg confusion).
pub const DEFAULT_ALGORITHMS: &[Algorithm] = &[
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

/// A configurable algorithm: a public-key JWS algorithm jsonwebtoken implements.
pub fn check_algorithm(name: &str) -> Result<Algorithm, String> {
    let alg = Algorithm::from_str(name)
        .map_err(|_| format!("{name:?} is not a JWS algorithm stsgate implements"))?;
    if !DEFAULT_ALGORITHMS.contains(&alg) {
        return Err(format!(
            "{name:?} is not a public-key algorithm (HMAC and none are never accepted)"
        ));
    }
    Ok(alg)
}

pub(super) fn issuers(c: &Config, p: &mut Problems) -> Vec<IssuerSettings> {
    let mut out = Vec::with_capacity(c.issuers.len());
    for (i, iss) in c.issuers.iter().enumerate() {
        if c.issuers[..i].iter().any(|o| o.issuer == iss.issuer) {
            p.bad(format!("issuers[{i}].issuer"), "duplicate issuer");
        }
        out.push(issuer(i, iss, p));
    }
    out
}

fn issuer(i: usize, iss: &IssuerConfig, p: &mut Problems) -> IssuerSettings {
    let key = |k: &str| format!("issuers[{i}].{k}");
    match Url::parse(&iss.issuer) {
        Ok(u) => {
            p.check(key("issuer"), check_url(&u));
        }
        Err(e) => p.bad(key("issuer"), format!("not a URL: {e}")),
    }
    if iss.audiences.is_empty() || iss.audiences.iter().any(|a| a.is_empty()) {
        p.bad(key("audiences"), "list at least one non-empty audience");
    }
    if let Some(u) = &iss.jwks_uri {
        p.check(key("jwks_uri"), check_url(u));
    }
    let algorithms = match &iss.algorithms {
        None => DEFAULT_ALGORITHMS.to_vec(),
        Some(list) if list.is_empty() => {
            p.bad(key("algorithms"), "list at least one algorithm");
            Vec::new()
        }
        Some(list) => list
            .iter()
            .filter_map(|a| p.check(key("algorithms"), check_algorithm(a)))
            .collect(),
    };
    if iss.jwks_refetch_interval_seconds == 0 || iss.jwks_refresh_seconds == 0 {
        p.bad(
            key("jwks_refresh_seconds"),
            "JWKS intervals must be greater than 0",
        );
    }
    IssuerSettings {
        issuer: iss.issuer.clone(),
        audiences: iss.audiences.clone(),
        jwks_uri: iss.jwks_uri.clone(),
        leeway_seconds: seconds_within(p, &key("leeway_seconds"), iss.leeway_seconds, MAX_LEEWAY),
        algorithms,
        token_use: iss.token_use,
        required_claims: required_claims(&iss.required_claims),
        max_age_seconds: iss
            .max_token_age_seconds
            .map(|a| seconds_within(p, &key("max_token_age_seconds"), a, MAX_AGE)),
        refetch_interval: Duration::from_secs(iss.jwks_refetch_interval_seconds),
        refresh_interval: Duration::from_secs(iss.jwks_refresh_seconds),
        static_jwks: None,
    }
}
