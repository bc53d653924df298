//! Certificates read at load time: PEM files of CAs (`upstream.ca_file`) and a SAML IdP's signing
//! certificates (inline PEM, PEM files and the `<KeyDescriptor>`s of its metadata XML), as DER.

use crate::config::SamlIdpConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use samael::crypto::decode_x509_cert;
use samael::metadata::EntityDescriptor;
use std::path::Path;

/// Reads a PEM file of certificates; at least one must parse.
pub fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    read_pem_file(path).map(|(certs, _)| certs)
}

/// A PEM file of certificates (at least one must parse), and its bytes.
pub(super) fn read_pem_file(
    path: &Path,
) -> Result<(Vec<CertificateDer<'static>>, Vec<u8>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", path.display()));
    }
    Ok((certs, bytes))
}

/// Every certificate (DER) the IdP's assertions may be signed with; at least one.
pub(super) fn load(c: &SamlIdpConfig) -> Result<Vec<Vec<u8>>, String> {
    let mut certs = Vec::new();
    for path in &c.certificate_files {
        certs.extend(
            read_pem_certificates(path)?
                .into_iter()
                .map(|der| der.to_vec()),
        );
    }
    for (i, pem) in c.certificates.iter().enumerate() {
        let parsed: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("certificates[{i}]: not PEM certificates: {e}"))?;
        if parsed.is_empty() {
            return Err(format!("certificates[{i}]: no certificate found"));
        }
        certs.extend(parsed.into_iter().map(|der| der.to_vec()));
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
fn from_metadata(path: &Path, entity_id: &str) -> Result<Vec<Vec<u8>>, String> {
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
            let der = decode_x509_cert(b64)
                .map_err(|_| format!("{shown}: an X509Certificate is not base64"))?;
            certs.push(der.der_data().to_vec());
        }
    }
    if certs.is_empty() {
        return Err(format!("{shown}: no IDPSSODescriptor signing certificate"));
    }
    Ok(certs)
}
