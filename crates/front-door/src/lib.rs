//! stsgate's front door: where a client's credential is in the request ([`credential`]) and every
//! check it passes before any issuer, key, certificate or network is involved (size, encoding,
//! structure). Pure functions of the input; the fuzz target and stsgate's authenticator call the
//! same [`inspect_token`] and [`inspect_assertion`].

mod credential;
mod error;
mod jws;
mod saml_scan;

pub use credential::{
    Carriers, Credential, SESSION_TOKEN_HEADER, SESSION_TOKEN_PARAM, TOKEN_PARAM, bearer_token,
    credential,
};
pub use error::IdentityError;
pub use jws::UnverifiedJws;
pub use saml_scan::{Scanned, scan};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The checks every token passes before any issuer, key or network is involved: size, JWS
/// structure, JOSE header rules and a string `iss`.
pub fn inspect_token(
    token: &str,
    max_token_bytes: usize,
) -> Result<UnverifiedJws<'_>, IdentityError> {
    if token.len() > max_token_bytes {
        return Err(IdentityError::Oversize);
    }
    jws::parse(token)
}

/// A SAML credential that passed the structural scan: its XML and what the scan found.
pub struct InspectedAssertion {
    pub xml: String,
    pub scanned: Scanned,
}

/// The checks every SAML assertion passes before any certificate is involved: size, base64,
/// UTF-8 and the structural scan.
pub fn inspect_assertion(
    encoded: &str,
    max_bytes: usize,
) -> Result<InspectedAssertion, IdentityError> {
    let xml = decode_saml(encoded, max_bytes)?;
    let scanned = scan(&xml)?;
    Ok(InspectedAssertion { xml, scanned })
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
