//! The SAML rows of the hostile table: signature wrapping (XSW) in its usual shapes, unsigned,
//! tampered and foreign-signed assertions, time and audience failures, comment injection and
//! XML features no IdP needs. Each is signed by the stand-in IdP exactly as an attacker holding
//! one genuine assertion could arrange it. One line a row; what a row needs beyond a call is
//! built above the table, named for what it is.

use super::{Case, now};
use stsgate_standins::saml_idp::{AssertionSpec, SamlIdpStandIn, encode, xml_time};
use stsgate_standins::{SAML_AUDIENCE, SAML_ENTITY_ID, SAML_RECIPIENT};

fn saml(name: &'static str, xml: &str, reason: &'static str) -> Case {
    saml_raw(name, &encode(xml), reason)
}

fn saml_raw(name: &'static str, encoded: &str, reason: &'static str) -> Case {
    Case::invalid(
        name,
        &[("authorization", &format!("SAML {encoded}"))],
        reason,
    )
}

/// The `ID` attribute of the document's root element.
fn root_id(xml: &str) -> &str {
    xml.split("ID=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
}

#[rustfmt::skip]
pub fn cases(idp: &SamlIdpStandIn) -> Vec<Case> {
    let t = now();
    let spec = |sub: &str| AssertionSpec::new(SAML_ENTITY_ID, sub, SAML_AUDIENCE, SAML_RECIPIENT, t);
    // alice's assertion, its spec edited before signing.
    let edited = |edit: &dyn Fn(&mut AssertionSpec)| {
        let mut s = spec("alice");
        edit(&mut s);
        idp.signed_assertion(&s)
    };
    // Signs the assertion after a text edit of its canonical form (still canonical).
    let signed_after = |from: &str, to: &str| {
        let s = spec("alice");
        let xml = s.to_xml();
        assert!(xml.contains(from), "{from} not in the assertion");
        idp.sign_enveloped(&xml.replacen(from, to, 1), &s.id)
    };
    // An unsigned Response around `assertion`.
    let response = |assertion: &str| idp.response(assertion, SAML_RECIPIENT, t);
    // Edits the Response before signing it.
    let signed_response = |assertion: &str, edit: &dyn Fn(String) -> String| {
        let response = edit(response(assertion));
        let id = root_id(&response).to_owned();
        idp.sign_enveloped(&response, &id)
    };

    let genuine = idp.signed_assertion(&spec("alice"));
    // The genuine assertion with the first `from` made `to`, after signing.
    let changed = |from: &str, to: &str| genuine.replacen(from, to, 1);
    let evil = spec("mallory").to_xml();
    let evil_same_id = {
        let mut s = spec("mallory");
        s.id = spec_id(&genuine);
        s.to_xml()
    };
    let genuine_signature = {
        let start = genuine.find("<ds:Signature").unwrap();
        let end = genuine.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
        genuine[start..end].to_owned()
    };
    let at_issuer_end = |xml: &str, insert: &str| {
        let at = xml.find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
        format!("{}{insert}{}", &xml[..at], &xml[at..])
    };
    // A signature that is valid but covers only an empty Extensions element of the Response.
    let extensions_only = {
        let ext = r#"<samlp:Extensions xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_ext1"></samlp:Extensions>"#;
        let response = response(&evil).replace("<samlp:Status>", &format!("{ext}<samlp:Status>"));
        at_issuer_end(&response, &idp.signature(ext, "_ext1"))
    };
    let comment_injected = {
        let mut s = spec("alice@example.com.evil.example");
        s.attributes.clear();
        idp.signed_assertion(&s).replacen("alice@example.com.evil.example", "alice@example.com<!---->.evil.example", 1)
    };
    let signature_holding_genuine = genuine_signature.replace("</ds:Signature>", &format!("<ds:Object>{genuine}</ds:Object></ds:Signature>"));
    let extensions_with_its_id = format!("<samlp:Extensions ID=\"{}\"></samlp:Extensions><samlp:Status>", spec_id(&genuine));
    let its_reference = format!("URI=\"#{}\"", spec_id(&genuine));
    let audience_restriction = format!("<saml:AudienceRestriction><saml:Audience>{SAML_AUDIENCE}</saml:Audience></saml:AudienceRestriction>");
    // Attributes stay in canonical order: SessionIndex < SessionNotOnOrAfter.
    let session_over = format!("-s\" SessionNotOnOrAfter=\"{}\">", xml_time(t - 60));
    let after_audience = |condition: &str| signed_after(AUDIENCE_END, &format!("{AUDIENCE_END}{condition}"));
    let without_status = |r: String| {
        let a = r.find("<samlp:Status>").unwrap();
        let b = r.find("</samlp:Status>").unwrap() + "</samlp:Status>".len();
        format!("{}{}", &r[..a], &r[b..])
    };
    let encrypted = "<saml:EncryptedAssertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"></saml:EncryptedAssertion>";
    let authn_request = "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"x\"></samlp:AuthnRequest>";
    let enveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
    let xslt = "http://www.w3.org/TR/1999/REC-xslt-19991116";

    vec![
        saml("SAML: unsigned assertion", &evil, "unsigned"),
        saml("SAML: unsigned Response around an unsigned assertion", &response(&evil), "unsigned"),
        saml("SAML: NameID changed after signing", &changed(">alice<", ">mallory<"), "bad_signature"),
        saml("SAML: attribute changed after signing", &changed("alice@example.com", "root@example.com"), "bad_signature"),
        saml("SAML: signed by a key the IdP does not own", &SamlIdpStandIn::new(SAML_ENTITY_ID).signed_assertion(&spec("alice")), "bad_signature"),
        saml("SAML XSW: evil assertion before the signed one", &response(&format!("{evil}{genuine}")), "signature_wrapping"),
        saml("SAML XSW: evil assertion after the signed one", &response(&format!("{genuine}{evil}")), "signature_wrapping"),
        saml("SAML XSW: signed assertion hidden in Extensions", &response(&format!("<samlp:Extensions>{genuine}</samlp:Extensions>{evil}")), "signature_wrapping"),
        saml("SAML XSW: signed assertion inside the evil one's Signature Object", &at_issuer_end(&evil_same_id, &signature_holding_genuine), "signature_wrapping"),
        // Its reference names the genuine assertion's ID, not the element it sits in.
        saml("SAML XSW: evil assertion wearing the genuine signature", &at_issuer_end(&evil, &genuine_signature), "signature_wrapping"),
        saml("SAML XSW: evil assertion with the genuine one's ID", &at_issuer_end(&evil_same_id, &genuine_signature), "bad_signature"),
        saml("SAML XSW: signature covers only the Response's Extensions", &extensions_only, "signature_wrapping"),
        saml("SAML XSW: signed Response with its assertion swapped", &signed_response(&genuine, &|r| r).replace(&genuine, &evil), "bad_signature"),
        saml("SAML: duplicate IDs", &response(&genuine).replacen("<samlp:Status>", &extensions_with_its_id, 1), "bad_signature"),
        saml("SAML: comment injection in NameID", &comment_injected, "malformed"),
        saml("SAML: DTD with an entity", &format!("<!DOCTYPE x [<!ENTITY e \"alice\">]>{genuine}"), "malformed"),
        saml("SAML: processing instruction", &format!("<?xml-stylesheet href=\"x\"?>{genuine}"), "malformed"),
        saml("SAML: expired assertion", &edited(&|s| (s.issue_instant, s.not_before, s.not_on_or_after) = (t - 7200, t - 7200, t - 3600)), "expired"),
        saml("SAML: not yet valid", &edited(&|s| (s.not_before, s.not_on_or_after) = (t + 3600, t + 7200)), "not_yet_valid"),
        saml("SAML: issued in the future", &edited(&|s| s.issue_instant = t + 3600), "issued_in_future"),
        saml("SAML: IdP session already over", &signed_after("-s\">", &session_over), "expired"),
        saml("SAML: wrong audience", &edited(&|s| s.audience = "urn:someone-else".into()), "wrong_audience"),
        saml("SAML: no AudienceRestriction", &signed_after(&audience_restriction, ""), "wrong_audience"),
        saml("SAML: wrong recipient", &edited(&|s| s.recipient = "https://evil.example/acs".into()), "wrong_recipient"),
        saml("SAML: holder-of-key instead of bearer", &signed_after(":cm:bearer", ":cm:holder-of-key"), "no_bearer_confirmation"),
        saml("SAML: OneTimeUse", &after_audience("<saml:OneTimeUse></saml:OneTimeUse>"), "unsupported_condition"),
        saml("SAML: unknown IdP", &edited(&|s| s.issuer = "https://evil.example/idp".into()), "unknown_issuer"),
        saml("SAML: IdP entity ID prefix trick", &edited(&|s| s.issuer = format!("{SAML_ENTITY_ID}.evil.example")), "unknown_issuer"),
        saml("SAML: Response status is not Success", &signed_response(&genuine, &|r| r.replace(":status:Success", ":status:Requester")), "malformed"),
        saml("SAML: Response Destination elsewhere", &signed_response(&genuine, &|r| r.replacen(SAML_RECIPIENT, "https://evil.example/acs", 1)), "wrong_recipient"),
        saml("SAML: encrypted assertion", &response(encrypted), "unsupported_condition"),
        saml("SAML: root is not a Response or Assertion", authn_request, "malformed"),
        // Shapes that would make xmlsec read files, fetch URLs or run transforms before any
        // key is checked: refused by the scan.
        saml("SAML: reference to a local file", &changed(&its_reference, "URI=\"/dev/zero\""), "signature_wrapping"),
        saml("SAML: reference to a URL", &changed(&its_reference, "URI=\"http://127.0.0.1:1/\""), "signature_wrapping"),
        saml("SAML: a second reference in the signature", &changed("</ds:SignedInfo>", "<ds:Reference URI=\"\"></ds:Reference></ds:SignedInfo>"), "signature_wrapping"),
        saml("SAML: XSLT transform", &changed(enveloped, xslt), "unsupported_condition"),
        saml("SAML: two signatures on the assertion", &changed("</ds:Signature>", &format!("</ds:Signature>{genuine_signature}")), "signature_wrapping"),
        saml("SAML: a condition stsgate does not understand", &after_audience("<saml:Condition></saml:Condition>"), "unsupported_condition"),
        saml("SAML: UTF-7 declared", &format!("<?xml version=\"1.0\" encoding=\"UTF-7\"?>{genuine}"), "malformed"),
        saml("SAML: signed Response without a Status", &signed_response(&genuine, &without_status), "malformed"),
        saml_raw("SAML: not base64", "!!!not-base64!!!", "malformed"),
        saml_raw("SAML: not UTF-8", &base64_of(&[0xff, 0xfe, 0x00, 0x3c]), "malformed"),
        saml_raw("SAML: a JWT sent as SAML", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "malformed"),
        saml_raw("SAML: oversize", &"PHg+".repeat(20_000), "oversize"),
    ]
}

/// Where the assertion's conditions may take another.
const AUDIENCE_END: &str = "</saml:AudienceRestriction>";

fn spec_id(signed: &str) -> String {
    root_id(signed).to_owned()
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
