//! A SAML 2.0 IdP stand-in: an RSA key and self-signed certificate made at start, and assertions
//! signed with enveloped XML-DSig (exclusive c14n, rsa-sha256).
//!
//! The signer is written from the XML-DSig and Exclusive XML Canonicalization specs, not with
//! xmlsec, so stsgate's verifier (xmlsec through samael) is checked against an independent
//! implementation. It can stay small because it only signs XML it wrote itself, already in
//! exclusive canonical form: namespaces declared where first used, attributes sorted, no
//! self-closing tags, no whitespace between elements, c14n escaping. Canonicalising such an
//! element is the identity, so its digest is the SHA-256 of the string.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat};

pub const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

pub struct SamlIdpStandIn {
    pub entity_id: String,
    key: RsaKeyPair,
    cert_der: Vec<u8>,
}

/// What an assertion says. [`AssertionSpec::new`] gives a valid one for an hour.
#[derive(Debug, Clone)]
pub struct AssertionSpec {
    pub id: String,
    pub issuer: String,
    pub subject: String,
    pub audience: String,
    pub recipient: String,
    pub issue_instant: i64,
    pub not_before: i64,
    pub not_on_or_after: i64,
    /// `(Name, values)` of each `<Attribute>`.
    pub attributes: Vec<(String, Vec<String>)>,
}

impl AssertionSpec {
    pub fn new(issuer: &str, subject: &str, audience: &str, recipient: &str, now: i64) -> Self {
        AssertionSpec {
            id: format!("_a{}", crate::standin::random_token("", 24)),
            issuer: issuer.into(),
            subject: subject.into(),
            audience: audience.into(),
            recipient: recipient.into(),
            issue_instant: now,
            not_before: now - 60,
            not_on_or_after: now + 3600,
            attributes: vec![("email".into(), vec![format!("{subject}@example.com")])],
        }
    }

    /// The unsigned assertion, in exclusive canonical form (as a document root or a child).
    pub fn to_xml(&self) -> String {
        let t = |s: i64| xml_time(s);
        let mut attrs = String::new();
        for (name, values) in &self.attributes {
            attrs.push_str(&format!(
                r#"<saml:Attribute Name="{}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">"#,
                attr(name)
            ));
            for v in values {
                attrs.push_str(&format!(
                    "<saml:AttributeValue>{}</saml:AttributeValue>",
                    text(v)
                ));
            }
            attrs.push_str("</saml:Attribute>");
        }
        format!(
            concat!(
                r#"<saml:Assertion xmlns:saml="{ns}" ID="{id}" IssueInstant="{ii}" Version="2.0">"#,
                "<saml:Issuer>{issuer}</saml:Issuer>",
                "<saml:Subject>",
                r#"<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{sub}</saml:NameID>"#,
                r#"<saml:SubjectConfirmation Method="{bearer}">"#,
                r#"<saml:SubjectConfirmationData NotOnOrAfter="{noa}" Recipient="{recipient}"></saml:SubjectConfirmationData>"#,
                "</saml:SubjectConfirmation></saml:Subject>",
                r#"<saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}">"#,
                "<saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction>",
                "</saml:Conditions>",
                r#"<saml:AuthnStatement AuthnInstant="{ii}" SessionIndex="{id}-s">"#,
                "<saml:AuthnContext><saml:AuthnContextClassRef>",
                "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>",
                "<saml:AttributeStatement>{attrs}</saml:AttributeStatement>",
                "</saml:Assertion>"
            ),
            ns = SAML_NS,
            id = attr(&self.id),
            ii = t(self.issue_instant),
            issuer = text(&self.issuer),
            sub = text(&self.subject),
            bearer = BEARER,
            noa = t(self.not_on_or_after),
            recipient = attr(&self.recipient),
            nb = t(self.not_before),
            aud = text(&self.audience),
            attrs = attrs,
        )
    }
}

impl SamlIdpStandIn {
    pub fn new(entity_id: &str) -> Self {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let pkcs8 = key.as_der().expect("PKCS#8 export");
        let rc_key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &pkcs8.as_ref().to_vec().into(),
            &rcgen::PKCS_RSA_SHA256,
        )
        .expect("rcgen takes the RSA key");
        let mut params = rcgen::CertificateParams::new(vec!["idp.stsgate.test".into()])
            .expect("certificate parameters");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "stsgate stand-in SAML IdP");
        let cert = params
            .self_signed(&rc_key)
            .expect("self-signed certificate");
        SamlIdpStandIn {
            entity_id: entity_id.into(),
            key,
            cert_der: cert.der().to_vec(),
        }
    }

    pub fn certificate_pem(&self) -> String {
        crate::idp::pem_wrap("CERTIFICATE", &self.cert_der)
    }

    /// IdP metadata naming the signing certificate, as IdPs publish it.
    pub fn metadata_xml(&self) -> String {
        format!(
            concat!(
                r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{id}">"#,
                r#"<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">"#,
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="{ds}"><ds:X509Data>"#,
                "<ds:X509Certificate>{cert}</ds:X509Certificate>",
                "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                "</md:IDPSSODescriptor></md:EntityDescriptor>"
            ),
            id = attr(&self.entity_id),
            ds = DSIG_NS,
            cert = STANDARD.encode(&self.cert_der),
        )
    }

    /// The assertion, signed, as a document of its own.
    pub fn signed_assertion(&self, spec: &AssertionSpec) -> String {
        self.sign_enveloped(&spec.to_xml(), &spec.id)
    }

    /// A Response carrying `assertion_xml` (signed or not), itself unsigned.
    pub fn response(&self, assertion_xml: &str, destination: &str, now: i64) -> String {
        format!(
            concat!(
                r#"<samlp:Response xmlns:samlp="{p}" Destination="{dest}" ID="_r{rid}" IssueInstant="{ii}" Version="2.0">"#,
                r#"<saml:Issuer xmlns:saml="{ns}">{issuer}</saml:Issuer>"#,
                r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"></samlp:StatusCode></samlp:Status>"#,
                "{assertion}</samlp:Response>"
            ),
            p = SAMLP_NS,
            dest = attr(destination),
            rid = crate::standin::random_token("", 24),
            ii = xml_time(now),
            ns = SAML_NS,
            issuer = text(&self.entity_id),
            assertion = assertion_xml,
        )
    }

    /// A Response carrying `assertion_xml`, signed as a whole.
    pub fn signed_response(&self, assertion_xml: &str, destination: &str, now: i64) -> String {
        let response = self.response(assertion_xml, destination, now);
        let id = response
            .split("ID=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the Response has an ID")
            .to_owned();
        self.sign_enveloped(&response, &id)
    }

    /// Signs the element `canonical` (whose `ID` is `id`) with an enveloped signature placed
    /// after its first `</saml:Issuer>`, where SAML's schema puts it.
    pub fn sign_enveloped(&self, canonical: &str, id: &str) -> String {
        let signature = self.signature(canonical, id);
        let at = canonical
            .find("</saml:Issuer>")
            .map(|i| i + "</saml:Issuer>".len())
            .expect("the element has an Issuer");
        format!("{}{signature}{}", &canonical[..at], &canonical[at..])
    }

    /// A `<ds:Signature>` whose one reference (`#id`) covers `canonical`, the referenced element
    /// exactly as exclusive c14n outputs it once the enveloped signature is removed.
    pub fn signature(&self, canonical: &str, id: &str) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        let signed_info_body = format!(
            concat!(
                r#"<ds:CanonicalizationMethod Algorithm="{c14n}"></ds:CanonicalizationMethod>"#,
                r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"></ds:SignatureMethod>"#,
                r##"<ds:Reference URI="#{id}"><ds:Transforms>"##,
                r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></ds:Transform>"#,
                r#"<ds:Transform Algorithm="{c14n}"></ds:Transform></ds:Transforms>"#,
                r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod>"#,
                "<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference>"
            ),
            c14n = EXC_C14N,
            id = attr(id),
            digest = STANDARD.encode(digest.as_ref()),
        );
        // In the document SignedInfo inherits `ds` from Signature; exclusive c14n renders the
        // declaration on SignedInfo itself, since that is where it is first used.
        let canonical_signed_info =
            format!(r#"<ds:SignedInfo xmlns:ds="{DSIG_NS}">{signed_info_body}</ds:SignedInfo>"#);
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                canonical_signed_info.as_bytes(),
                &mut sig,
            )
            .expect("RSA signing");
        format!(
            concat!(
                r#"<ds:Signature xmlns:ds="{ds}"><ds:SignedInfo>{si}</ds:SignedInfo>"#,
                "<ds:SignatureValue>{sv}</ds:SignatureValue>",
                "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate>",
                "</ds:X509Data></ds:KeyInfo></ds:Signature>"
            ),
            ds = DSIG_NS,
            si = signed_info_body,
            sv = STANDARD.encode(&sig),
            cert = STANDARD.encode(&self.cert_der),
        )
    }
}

/// What a client sends: the document in base64 (`Authorization: SAML <this>`).
pub fn encode(xml: &str) -> String {
    STANDARD.encode(xml)
}

/// `xs:dateTime` in UTC, whole seconds.
pub fn xml_time(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .expect("time in range")
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Text content escaped as c14n outputs it.
fn text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\r', "&#xD;")
}

/// An attribute value escaped as c14n outputs it.
fn attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
        .replace('\t', "&#x9;")
        .replace('\n', "&#xA;")
        .replace('\r', "&#xD;")
}
