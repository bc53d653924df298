//! The front door: every check a credential passes before any issuer, key, certificate or
//! network is involved (size, encoding, structure). Pure functions of the input, and the fuzzing
//! entry points; `fuzz/` compiles this file and its few neighbours on their own.

use super::IdentityError;
use super::jws;
use super::saml::{Scanned, scan};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

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

/// The checks every SAML assertion passes before any certificate is involved: size, base64,
/// UTF-8 and the structural scan.
pub fn inspect_assertion(encoded: &str, max_bytes: usize) -> Result<Scanned, IdentityError> {
    scan(&decode_saml(encoded, max_bytes)?)
}

/// The XML of a base64 SAML credential, within `max_bytes` of base64.
pub fn decode_saml(encoded: &str, max_bytes: usize) -> Result<String, IdentityError> {
    if encoded.len() > max_bytes {
        return Err(IdentityError::Oversize);
    }
    let bytes = STANDARD
        .decode(encoded.trim())
        .map_err(|_| IdentityError::MalformedSaml("not base64"))?;
    String::from_utf8(bytes).map_err(|_| IdentityError::MalformedSaml("not UTF-8"))
}
