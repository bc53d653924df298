//! SAML 2.0 assertions as a client credential (`Authorization: SAML <base64>`).
//!
//! Owns the structural scan, XML-DSig verification (xmlsec through samael) and the
//! checks a SAML relying party makes. Only the exact bytes the IdP signed are parsed for claims:
//! samael hands back xmlsec's pre-digest buffer, so unsigned content never reaches [`assertion`].

mod assertion;

pub use stsgate_front_door::Scanned;

use super::{IdentityError, Principal};
use crate::clock::{SharedClock, unix_seconds};
use crate::config::settings::{SamlIdpSettings, SignatureMethod};
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};
use serde_json::Value;

fn xmlsec_method(m: SignatureMethod) -> AllowedSignatureAlgorithm {
    use AllowedSignatureAlgorithm as A;
    match m {
        SignatureMethod::RsaSha256 => A::RsaSha256,
        SignatureMethod::RsaSha384 => A::RsaSha384,
        SignatureMethod::RsaSha512 => A::RsaSha512,
        SignatureMethod::EcdsaSha256 => A::EcdsaSha256,
        SignatureMethod::EcdsaSha384 => A::EcdsaSha384,
        SignatureMethod::EcdsaSha512 => A::EcdsaSha512,
    }
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
    pub fn new(s: &SamlIdpSettings, clock: SharedClock) -> Self {
        SamlVerifier {
            entity_id: s.entity_id.clone(),
            certificates: s
                .certificates
                .iter()
                .map(|der| CertificateDer::from(der.clone()))
                .collect(),
            algorithms: s.algorithms.iter().copied().map(xmlsec_method).collect(),
            audiences: s.audiences.clone(),
            recipients: s.recipients.clone(),
            leeway: s.leeway_seconds,
            claim_names: s.claim_names.clone(),
            required_claims: s.required_claims.clone(),
            max_age: s.max_age_seconds,
            clock,
        }
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
