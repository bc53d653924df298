//! The IdP's signing certificates: inline PEM, PEM files and the `<KeyDescriptor>`s of its metadata XML.

use crate::config::SamlIdpConfig;
use rustls::pki_types::pem::PemObject;
use samael::crypto::{CertificateDer, decode_x509_cert};
use samael::metadata::EntityDescriptor;
use std::path::Path;

/// Every certificate the IdP's assertions may be signed with; at least one.
pub fn load_certificates(c: &SamlIdpConfig) -> Result<Vec<CertificateDer>, String> {
    let mut certs = Vec::new();
    for path in &c.certificate_files {
        let pem = crate::http_client::read_ca_file(path)?;
        certs.extend(
            pem.into_iter()
                .map(|der| CertificateDer::from(der.to_vec())),
        );
    }
    for (i, pem) in c.certificates.iter().enumerate() {
        let parsed: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("certificates[{i}]: not PEM certificates: {e}"))?;
        if parsed.is_empty() {
            return Err(format!("certificates[{i}]: no certificate found"));
        }
        certs.extend(
            parsed
                .into_iter()
                .map(|der| CertificateDer::from(der.to_vec())),
        );
    }
    if let Some(path) = &c.metadata_file {
        certs.extend(from_metadata(path, &c.entity_id)?);
    }
    if certs.is_empty() {
        return Err(
            "no signing certificate: set certificates, certificate_files or metadata_file".into(),
        );
    }
    Ok(certs)
}

/// Signing keys of the metadata's IDPSSODescriptor: those marked `use="signing"`, or those with no
/// `use` when none is marked. The metadata must describe `entity_id`.
fn from_metadata(path: &Path, entity_id: &str) -> Result<Vec<CertificateDer>, String> {
    let shown = path.display();
    let xml = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let md: EntityDescriptor = xml
        .parse()
        .map_err(|e| format!("{shown}: not SAML metadata: {e}"))?;
    if md.entity_id.as_deref() != Some(entity_id) {
        return Err(format!(
            "{shown}: describes {:?}, not {entity_id:?}",
            md.entity_id.unwrap_or_default()
        ));
    }
    let keys: Vec<_> = md
        .idp_sso_descriptors
        .iter()
        .flatten()
        .flat_map(|d| &d.key_descriptors)
        .collect();
    let signing: Vec<_> = keys
        .iter()
        .filter(|k| k.key_use.as_deref() == Some("signing"))
        .collect();
    let chosen = if signing.is_empty() {
        keys.iter()
            .filter(|k| k.key_use.as_deref().is_none_or(str::is_empty))
            .collect()
    } else {
        signing
    };
    let mut certs = Vec::new();
    for k in chosen {
        for b64 in k.key_info.x509_data.iter().flat_map(|x| &x.certificates) {
            certs.push(
                decode_x509_cert(b64)
                    .map_err(|_| format!("{shown}: an X509Certificate is not base64"))?,
            );
        }
    }
    if certs.is_empty() {
        return Err(format!("{shown}: no IDPSSODescriptor signing certificate"));
    }
    Ok(certs)
}
