//! SAML 2.0 IdPs: entity IDs, certificates (loaded here, once), audiences, recipients, signature
//! methods, claim names, and the optional SAML header.

use super::{MAX_AGE, MAX_LEEWAY, Problems, required_claims, seconds_within};
use crate::config::settings::{SamlIdpSettings, SignatureMethod};
use crate::config::{Config, SamlIdpConfig};

/// Signature methods accepted unless an IdP lists its own: no SHA-1, no DSA.
const DEFAULT_METHODS: &[SignatureMethod] = &[
    SignatureMethod::RsaSha256,
    SignatureMethod::RsaSha384,
    SignatureMethod::RsaSha512,
    SignatureMethod::EcdsaSha256,
    SignatureMethod::EcdsaSha384,
    SignatureMethod::EcdsaSha512,
];

/// Headers a SAML header must not shadow.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "host",
    "content-length",
    "x-amz-chime-bearer",
];

/// The config name of an XML-DSig signature method.
pub fn check_signature_method(name: &str) -> Result<SignatureMethod, String> {
    use SignatureMethod::*;
    Ok(match name {
        "rsa-sha256" => RsaSha256,
        "rsa-sha384" => RsaSha384,
        "rsa-sha512" => RsaSha512,
        "ecdsa-sha256" => EcdsaSha256,
        "ecdsa-sha384" => EcdsaSha384,
        "ecdsa-sha512" => EcdsaSha512,
        other => {
            return Err(format!(
                "{other:?} is not a supported signature method (use one of rsa-sha256, \
                 rsa-sha384, rsa-sha512, ecdsa-sha256, ecdsa-sha384, ecdsa-sha512)"
            ));
        }
    })
}

pub(super) fn header(c: &Config, p: &mut Problems) -> Option<http::HeaderName> {
    let h = c.saml_header.as_ref()?;
    let Ok(name) = http::HeaderName::from_bytes(h.as_bytes()) else {
        p.bad("saml_header", format!("{h:?} is not a header name"));
        return None;
    };
    if RESERVED_HEADERS.contains(&name.as_str()) {
        p.bad("saml_header", format!("{h:?} has another meaning"));
    }
    Some(name)
}

pub(super) fn idps(c: &Config, p: &mut Problems) -> Vec<SamlIdpSettings> {
    let mut out = Vec::with_capacity(c.saml_idps.len());
    for (i, idp) in c.saml_idps.iter().enumerate() {
        if c.saml_idps[..i]
            .iter()
            .any(|o| o.entity_id == idp.entity_id)
        {
            p.bad(format!("saml_idps[{i}].entity_id"), "duplicate entity_id");
        }
        out.push(one(i, idp, p));
    }
    out
}

fn one(i: usize, idp: &SamlIdpConfig, p: &mut Problems) -> SamlIdpSettings {
    let key = |k: &str| format!("saml_idps[{i}].{k}");
    if idp.entity_id.trim().is_empty() {
        p.bad(key("entity_id"), "must not be empty");
    }
    let certificates = p
        .check(key("certificate_files"), super::certs::load(idp))
        .unwrap_or_default();
    for (k, list) in [
        ("audiences", &idp.audiences),
        ("recipients", &idp.recipients),
    ] {
        if list.is_empty() || list.iter().any(|a| a.is_empty()) {
            p.bad(key(k), "list at least one non-empty value");
        }
    }
    let algorithms = match &idp.signature_algorithms {
        None => DEFAULT_METHODS.to_vec(),
        Some(list) if list.is_empty() => {
            p.bad(key("signature_algorithms"), "list at least one method");
            Vec::new()
        }
        Some(list) => list
            .iter()
            .filter_map(|a| p.check(key("signature_algorithms"), check_signature_method(a)))
            .collect(),
    };
    for claim in idp.claims.keys() {
        if ["iss", "aud", "exp", "iat"].contains(&claim.as_str()) {
            p.bad(
                key("claims"),
                format!("{claim:?} is set by the assertion itself"),
            );
        }
    }
    SamlIdpSettings {
        entity_id: idp.entity_id.clone(),
        certificates,
        algorithms,
        audiences: idp.audiences.clone(),
        recipients: idp.recipients.clone(),
        leeway_seconds: seconds_within(p, &key("leeway_seconds"), idp.leeway_seconds, MAX_LEEWAY),
        claim_names: idp.claims.clone().into_iter().collect(),
        required_claims: required_claims(&idp.required_claims),
        max_age_seconds: idp
            .max_assertion_age_seconds
            .map(|a| seconds_within(p, &key("max_assertion_age_seconds"), a, MAX_AGE)),
    }
}
