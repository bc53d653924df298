//! SAML 2.0 assertions as a client credential (`Authorization: SAML <base64>`).
//!
//! Owns the structural scan, XML-DSig verification (xmlsec through samael) and the
//! checks a SAML relying party makes. Only the exact bytes the IdP signed are parsed for claims:
//! samael hands back xmlsec's pre-digest buffer, so unsigned content never reaches [`assertion`].

mod assertion;
mod certs;

pub use certs::load_certificates;
pub use stsgate_front_door::Scanned;

use super::{IdentityError, Principal};
use crate::clock::{SharedClock, unix_seconds};
use crate::config::SamlIdpConfig;
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};
use serde_json::Value;

/// Signature methods accepted unless an IdP lists its own: no SHA-1, no DSA.
const DEFAULT_ALGORITHMS: &[&str] = &[
    "rsa-sha256",
    "rsa-sha384",
    "rsa-sha512",
    "ecdsa-sha256",
    "ecdsa-sha384",
    "ecdsa-sha512",
];

/// The config name of an XML-DSig signature method.
pub fn check_signature_algorithm(name: &str) -> Result<AllowedSignatureAlgorithm, String> {
    use AllowedSignatureAlgorithm::*;
    Ok(match name {
        "rsa-sha256" => RsaSha256,
        "rsa-sha384" => RsaSha384,
        "rsa-sha512" => RsaSha512,
        "ecdsa-sha256" => EcdsaSha256,
        "ecdsa-sha384" => EcdsaSha384,
        "ecdsa-sha512" => EcdsaSha512,
        other => {
            return Err(format!(
                "{other:?} is not a supported signature method (use one of {})",
                DEFAULT_ALGORITHMS.join(", ")
            ));
        }
    })
}

/// One configured IdP: its certificates and the rules its assertions must meet.
pub struct SamlVerifier {
    entity_id: String,
    certificates: Vec<CertificateDer>,
    algorithms: Vec<AllowedSignatureAlgorithm>,
    audiences: Vec<String>,
    recipients: Vec<String>,
    leeway: i64,
    claim_names: Vec<(String, String)>,
    required_claims: Vec<(String, Value)>,
    max_age: Option<i64>,
    clock: SharedClock,
}

impl SamlVerifier {
    /// Fails when the certificate files or metadata cannot be read (validated at load time).
    pub fn new(c: &SamlIdpConfig, clock: SharedClock) -> Result<Self, String> {
        Ok(SamlVerifier {
            entity_id: c.entity_id.clone(),
            certificates: load_certificates(c)?,
            algorithms: c
                .signature_algorithms
                .clone()
                .unwrap_or_else(|| DEFAULT_ALGORITHMS.iter().map(|a| a.to_string()).collect())
                .iter()
                .filter_map(|a| check_signature_algorithm(a).ok())
                .collect(),
            audiences: c.audiences.clone(),
            recipients: c.recipients.clone(),
            leeway: c.leeway_seconds as i64,
            claim_names: c.claims.clone().into_iter().collect(),
            required_claims: super::required_claims(&c.required_claims),
            max_age: c.max_assertion_age_seconds.map(|s| s as i64),
            clock,
        })
    }

    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// Verifies the signature, then checks the assertion the IdP actually signed.
    pub fn verify(&self, xml: &str, scanned: &Scanned) -> Result<Principal, IdentityError> {
        let signed = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            xml,
            &self.certificates,
            ReduceMode::PreDigest,
            Some(&self.algorithms),
        )
        .map_err(|_| IdentityError::BadSignature)?;
        let now = unix_seconds(self.clock.now());
        assertion::check(self, &signed, scanned, now)
    }
}

#[cfg(test)]
mod tests;
