//! A structural pass over the raw SAML document before any key is touched: what XML features it
//! uses, where its assertion and signatures sit, and which IdP it claims to come from.
//!
//! The rules are stricter than SAML requires, because every shape refused here is a shape used
//! by attacks and by no IdP we know: DTDs (entity expansion), comments (NameID truncation),
//! processing instructions, more than one assertion or one in an odd place (signature wrapping),
//! and signatures anywhere but on the Response or the assertion.

use super::super::IdentityError;
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};

const SAML_ASSERTION: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const SAML_PROTOCOL: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";

/// What the scan learned; nothing here is trusted until the signature is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    /// The assertion's `<Issuer>`: picks the IdP whose certificates verify the document.
    pub issuer: String,
    /// The assertion's `ID`; the verified assertion must carry the same.
    pub assertion_id: String,
}

/// Elements the scan tracks, by position in the tree.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Response,
    Assertion,
    AssertionIssuer,
    Other,
}

pub fn scan(xml: &str) -> Result<Scanned, IdentityError> {
    let malformed = IdentityError::MalformedSaml;
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Role> = Vec::new();
    let mut root_seen = false;
    let (mut assertions, mut signatures) = (0usize, 0usize);
    let mut assertion_id = None;
    let mut issuer = String::new();

    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|_| malformed("not well-formed XML"))?;
        let ns = match ns {
            ResolveResult::Bound(Namespace(n)) => Some(n.to_vec()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(_) => return Err(malformed("undeclared namespace prefix")),
        };
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let local = e.local_name();
            let local = local.as_ref();
            let parent = stack.last().copied();
            if parent.is_none() && root_seen {
                return Err(malformed("more than one root element"));
            }
            root_seen = true;
            // Counted by local name alone: an `Assertion` or `Signature` in a foreign namespace
            // is still a wrapping attempt.
            let role = match (parent, local, ns.as_deref()) {
                (None, b"Response", Some(SAML_PROTOCOL)) => Role::Response,
                (None, b"Assertion", Some(SAML_ASSERTION))
                | (Some(Role::Response), b"Assertion", Some(SAML_ASSERTION)) => {
                    assertions += 1;
                    assertion_id = attribute(e, b"ID");
                    Role::Assertion
                }
                (None, _, _) => {
                    return Err(malformed(
                        "root is neither a SAML Response nor an Assertion",
                    ));
                }
                (_, b"Assertion", _) => {
                    return Err(IdentityError::SignatureWrapping(
                        "an assertion in an odd place",
                    ));
                }
                (_, b"EncryptedAssertion", _) => {
                    return Err(IdentityError::UnsupportedCondition("encrypted assertion"));
                }
                (Some(Role::Response | Role::Assertion), b"Signature", _) => {
                    signatures += 1;
                    Role::Other
                }
                (_, b"Signature", _) => {
                    return Err(IdentityError::SignatureWrapping(
                        "a signature in an odd place",
                    ));
                }
                (Some(Role::Assertion), b"Issuer", Some(SAML_ASSERTION)) => Role::AssertionIssuer,
                _ => Role::Other,
            };
            if assertions > 1 {
                return Err(IdentityError::SignatureWrapping("more than one assertion"));
            }
            if !empty {
                stack.push(role);
            }
            continue;
        }
        match event {
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) if stack.last() == Some(&Role::AssertionIssuer) => {
                issuer.push_str(&t.decode().map_err(|_| malformed("bad text encoding"))?);
            }
            Event::GeneralRef(r) if stack.last() == Some(&Role::AssertionIssuer) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    _ => predefined_entity(r.as_ref()).ok_or(malformed("unknown entity"))?,
                };
                issuer.push(c);
            }
            Event::Text(t) if stack.is_empty() && !t.iter().all(u8::is_ascii_whitespace) => {
                return Err(malformed("text outside the root element"));
            }
            Event::Comment(_) => return Err(malformed("XML comments are not accepted")),
            Event::DocType(_) => return Err(malformed("DTDs are not accepted")),
            Event::PI(_) => return Err(malformed("processing instructions are not accepted")),
            Event::Decl(_) if root_seen => return Err(malformed("misplaced XML declaration")),
            Event::Eof => break,
            _ => {}
        }
    }
    if assertions == 0 {
        return Err(malformed("no assertion"));
    }
    if signatures == 0 {
        return Err(IdentityError::Unsigned);
    }
    let issuer = issuer.trim().to_string();
    if issuer.is_empty() {
        return Err(IdentityError::MissingClaim("Issuer"));
    }
    Ok(Scanned {
        issuer,
        assertion_id: assertion_id.ok_or(IdentityError::MissingClaim("ID"))?,
    })
}

fn attribute(e: &quick_xml::events::BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

fn predefined_entity(name: &[u8]) -> Option<char> {
    Some(match name {
        b"amp" => '&',
        b"lt" => '<',
        b"gt" => '>',
        b"quot" => '"',
        b"apos" => '\'',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = r#"xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="http://www.w3.org/2000/09/xmldsig#""#;

    fn doc(inner: &str) -> String {
        format!(r#"<samlp:Response {NS} ID="r1">{inner}</samlp:Response>"#)
    }

    const SIGNED: &str = r#"<saml:Assertion ID="a1"><saml:Issuer>https://idp.example/&amp;x</saml:Issuer><ds:Signature/></saml:Assertion>"#;

    #[test]
    fn finds_issuer_and_id() {
        let s = scan(&doc(SIGNED)).unwrap();
        assert_eq!(s.issuer, "https://idp.example/&x");
        assert_eq!(s.assertion_id, "a1");
    }

    #[test]
    fn refuses_hostile_shapes() {
        let cases = [
            (doc(&format!("{SIGNED}{SIGNED}")), "signature_wrapping"),
            (
                doc(&format!("<samlp:Extensions>{SIGNED}</samlp:Extensions>")),
                "signature_wrapping",
            ),
            (
                doc(r#"<saml:Assertion ID="a1"><saml:Issuer>i</saml:Issuer></saml:Assertion>"#),
                "unsigned",
            ),
            (
                doc(&SIGNED.replace("</saml:Issuer>", "<!-- x --></saml:Issuer>")),
                "malformed",
            ),
            (
                format!("<!DOCTYPE x [<!ENTITY e 'x'>]>{}", doc(SIGNED)),
                "malformed",
            ),
            (format!("{}<x/>", doc(SIGNED)), "malformed"),
            (doc(""), "malformed"),
            ("<a>".to_string(), "malformed"),
        ];
        for (xml, reason) in cases {
            assert_eq!(scan(&xml).unwrap_err().reason(), reason, "{xml}");
        }
    }
}
