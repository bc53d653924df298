//! A structural pass over the raw SAML document before any key is touched: what XML features it
//! uses, where its assertion and signatures sit, what the signatures reference, and which IdP it
//! claims to come from.
//!
//! The rules are stricter than SAML requires, because every shape refused here is a shape used
//! by attacks and by no IdP we know: DTDs (entity expansion), comments (NameID truncation),
//! processing instructions, more than one assertion or one in an odd place (signature wrapping),
//! signatures anywhere but on the Response or the assertion, and anything that would make xmlsec
//! fetch or compute before it checks a key: references other than `#ID` of the signed element
//! (files, URLs), transforms other than enveloped-signature and canonicalisation (XSLT, XPath),
//! `Object`, `Manifest` and `RetrievalMethod`.

use crate::IdentityError;
use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};

const SAML_ASSERTION: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const SAML_PROTOCOL: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const DSIG: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";

/// Deeper documents are refused; real assertions nest about eight levels.
const MAX_DEPTH: usize = 64;

/// Canonicalisation methods and transforms a SAML signature may use.
const ALLOWED_TRANSFORMS: &[&[u8]] = &[
    b"http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    b"http://www.w3.org/2001/10/xml-exc-c14n#",
    b"http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    b"http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    b"http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    b"http://www.w3.org/2006/12/xml-c14n11",
];

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
    Conditions,
    /// A `ds:Signature` of the Response or the assertion, and everything inside it.
    Signature,
    Other,
}

#[derive(Default)]
struct State {
    stack: Vec<Role>,
    root_seen: bool,
    assertions: usize,
    signatures: usize,
    response_id: Option<String>,
    assertion_id: Option<String>,
    issuer: String,
    /// Which elements already carry a signature: (Response, assertion).
    signed: (bool, bool),
    /// The reference the current signature must make (`#` + its parent's ID), and how many
    /// references it made.
    expected_reference: Option<String>,
    references: usize,
}

pub fn scan(xml: &str) -> Result<Scanned, IdentityError> {
    let malformed = IdentityError::MalformedSaml;
    let mut reader = NsReader::from_str(xml);
    let mut st = State::default();
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|_| malformed("not well-formed XML"))?;
        let ns = match ns {
            ResolveResult::Bound(Namespace(n)) => Some(n.to_vec()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(_) => return Err(malformed("undeclared namespace prefix")),
        };
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                let role = st.open(e, ns.as_deref())?;
                if matches!(event, Event::Start(_)) {
                    st.stack.push(role);
                    if st.stack.len() > MAX_DEPTH {
                        return Err(malformed("nested too deeply"));
                    }
                } else {
                    st.close(role)?;
                }
            }
            Event::End(_) => {
                let role = st.stack.pop().unwrap_or(Role::Other);
                st.close(role)?;
            }
            Event::Text(t) if st.stack.last() == Some(&Role::AssertionIssuer) => {
                st.issuer
                    .push_str(&t.decode().map_err(|_| malformed("bad text encoding"))?);
            }
            Event::GeneralRef(r) if st.stack.last() == Some(&Role::AssertionIssuer) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    _ => predefined_entity(r.as_ref()).ok_or(malformed("unknown entity"))?,
                };
                st.issuer.push(c);
            }
            Event::CData(_) if st.stack.last() == Some(&Role::AssertionIssuer) => {
                return Err(malformed("CDATA in Issuer"));
            }
            Event::Text(t) if st.stack.is_empty() && !t.iter().all(u8::is_ascii_whitespace) => {
                return Err(malformed("text outside the root element"));
            }
            Event::Comment(_) => return Err(malformed("XML comments are not accepted")),
            Event::DocType(_) => return Err(malformed("DTDs are not accepted")),
            Event::PI(_) => return Err(malformed("processing instructions are not accepted")),
            Event::Decl(_) if st.root_seen => return Err(malformed("misplaced XML declaration")),
            Event::Decl(d) => {
                // libxml2 honours a declared encoding that quick-xml would not: both must see
                // the same document.
                if let Some(Ok(enc)) = d.encoding()
                    && !matches!(
                        enc.to_ascii_lowercase().as_slice(),
                        b"utf-8" | b"utf8" | b"us-ascii"
                    )
                {
                    return Err(malformed("encodings other than UTF-8 are not accepted"));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    st.finish()
}

impl State {
    /// Classifies a new element, refusing the shapes listed in the module doc.
    fn open(&mut self, e: &BytesStart<'_>, ns: Option<&[u8]>) -> Result<Role, IdentityError> {
        let malformed = IdentityError::MalformedSaml;
        let wrapping = IdentityError::SignatureWrapping;
        let local = e.local_name();
        let local = local.as_ref();
        let parent = self.stack.last().copied();
        if parent.is_none() && self.root_seen {
            return Err(malformed("more than one root element"));
        }
        self.root_seen = true;
        if parent == Some(Role::Signature) {
            self.check_signature_part(e, local, ns)?;
            return Ok(Role::Signature);
        }
        // Counted by local name alone: an `Assertion` or `Signature` in a foreign namespace
        // is still a wrapping attempt.
        Ok(match (parent, local, ns) {
            (None, b"Response", Some(SAML_PROTOCOL)) => {
                self.response_id = attribute(e, b"ID");
                Role::Response
            }
            (None | Some(Role::Response), b"Assertion", Some(SAML_ASSERTION)) => {
                self.assertions += 1;
                if self.assertions > 1 {
                    return Err(wrapping("more than one assertion"));
                }
                self.assertion_id = attribute(e, b"ID");
                Role::Assertion
            }
            (None, _, _) => {
                return Err(malformed(
                    "root is neither a SAML Response nor an Assertion",
                ));
            }
            (_, b"Assertion", _) => return Err(wrapping("an assertion in an odd place")),
            (_, b"EncryptedAssertion", _) => {
                return Err(IdentityError::UnsupportedCondition("encrypted assertion"));
            }
            (Some(p @ (Role::Response | Role::Assertion)), b"Signature", Some(DSIG)) => {
                let (parent_id, already) = match p {
                    Role::Response => (&self.response_id, &mut self.signed.0),
                    _ => (&self.assertion_id, &mut self.signed.1),
                };
                if std::mem::replace(already, true) {
                    return Err(wrapping("more than one signature on one element"));
                }
                self.signatures += 1;
                self.expected_reference = Some(format!("#{}", parent_id.as_deref().unwrap_or("")));
                self.references = 0;
                Role::Signature
            }
            (_, b"Signature", _) => return Err(wrapping("a signature in an odd place")),
            (Some(Role::Assertion), b"Issuer", Some(SAML_ASSERTION)) => Role::AssertionIssuer,
            (Some(Role::AssertionIssuer), _, _) => return Err(malformed("markup in Issuer")),
            (Some(Role::Assertion), b"Conditions", Some(SAML_ASSERTION)) => Role::Conditions,
            // SAML core 2.5.1.5: a condition the relying party does not understand invalidates
            // the assertion.
            (Some(Role::Conditions), name, _)
                if !matches!(
                    name,
                    b"AudienceRestriction" | b"OneTimeUse" | b"ProxyRestriction"
                ) =>
            {
                return Err(IdentityError::UnsupportedCondition("unknown condition"));
            }
            _ => Role::Other,
        })
    }

    /// Inside a signature: one reference to the signed element, known transforms, nothing that
    /// makes xmlsec fetch or evaluate.
    fn check_signature_part(
        &mut self,
        e: &BytesStart<'_>,
        local: &[u8],
        ns: Option<&[u8]>,
    ) -> Result<(), IdentityError> {
        let wrapping = IdentityError::SignatureWrapping;
        match (local, ns) {
            (b"Object" | b"Manifest" | b"RetrievalMethod" | b"XPath" | b"XSLT", _) => {
                Err(wrapping("a signature with Object, Manifest or retrieval"))
            }
            (b"Reference", Some(DSIG)) => {
                self.references += 1;
                let uri = attribute(e, b"URI");
                if self.references > 1 || uri.is_none() || uri != self.expected_reference {
                    return Err(wrapping(
                        "a reference to something other than the signed element",
                    ));
                }
                Ok(())
            }
            (b"Transform" | b"CanonicalizationMethod", Some(DSIG)) => {
                let algorithm = attribute(e, b"Algorithm").unwrap_or_default();
                if ALLOWED_TRANSFORMS.contains(&algorithm.as_bytes()) {
                    Ok(())
                } else {
                    Err(IdentityError::UnsupportedCondition("signature transform"))
                }
            }
            _ => Ok(()),
        }
    }

    fn close(&mut self, role: Role) -> Result<(), IdentityError> {
        if role == Role::Signature && self.stack.last() != Some(&Role::Signature) {
            // The `ds:Signature` element itself ended.
            if self.references != 1 {
                return Err(IdentityError::SignatureWrapping(
                    "a signature without exactly one reference",
                ));
            }
            self.expected_reference = None;
        }
        Ok(())
    }

    fn finish(self) -> Result<Scanned, IdentityError> {
        if !self.stack.is_empty() || !self.root_seen {
            return Err(IdentityError::MalformedSaml("not well-formed XML"));
        }
        if self.assertions == 0 {
            return Err(IdentityError::MalformedSaml("no assertion"));
        }
        if self.signatures == 0 {
            return Err(IdentityError::Unsigned);
        }
        let issuer = self.issuer.trim().to_string();
        if issuer.is_empty() {
            return Err(IdentityError::MissingClaim("Issuer"));
        }
        Ok(Scanned {
            issuer,
            assertion_id: self.assertion_id.ok_or(IdentityError::MissingClaim("ID"))?,
        })
    }
}

fn attribute(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
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

    const SIG: &str = r##"<ds:Signature><ds:SignedInfo><ds:Reference URI="#a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms></ds:Reference></ds:SignedInfo></ds:Signature>"##;

    fn signed() -> String {
        format!(
            r#"<saml:Assertion ID="a1"><saml:Issuer>https://idp.example/&amp;x</saml:Issuer>{SIG}</saml:Assertion>"#
        )
    }

    #[test]
    fn finds_issuer_and_id() {
        let s = scan(&doc(&signed())).unwrap();
        assert_eq!(s.issuer, "https://idp.example/&x");
        assert_eq!(s.assertion_id, "a1");
    }

    #[test]
    fn refuses_hostile_shapes() {
        let signed = signed();
        let with_sig = |sig: &str| doc(&signed.replace(SIG, sig));
        let deep = format!("{}{}", "<x>".repeat(70), "</x>".repeat(70));
        let cases = [
            (doc(&format!("{signed}{signed}")), "signature_wrapping"),
            (
                doc(&format!("<samlp:Extensions>{signed}</samlp:Extensions>")),
                "signature_wrapping",
            ),
            (
                doc(r#"<saml:Assertion ID="a1"><saml:Issuer>i</saml:Issuer></saml:Assertion>"#),
                "unsigned",
            ),
            (
                doc(&signed.replace("</saml:Issuer>", "<!-- x --></saml:Issuer>")),
                "malformed",
            ),
            (
                format!("<!DOCTYPE x [<!ENTITY e 'x'>]>{}", doc(&signed)),
                "malformed",
            ),
            (format!("{}<x/>", doc(&signed)), "malformed"),
            (doc(&signed).replace("</samlp:Response>", ""), "malformed"),
            (
                format!("<?xml version=\"1.0\" encoding=\"UTF-7\"?>{}", doc(&signed)),
                "malformed",
            ),
            (
                doc(&signed.replace("</saml:Issuer>", &format!("</saml:Issuer>{deep}"))),
                "malformed",
            ),
            (doc(""), "malformed"),
            ("<a>".to_string(), "malformed"),
            (
                with_sig(&SIG.replace("#a1", "/dev/zero")),
                "signature_wrapping",
            ),
            (
                with_sig(&SIG.replace("#a1", "http://127.0.0.1:1/")),
                "signature_wrapping",
            ),
            (with_sig(&SIG.replace("#a1", "")), "signature_wrapping"),
            (with_sig(&SIG.replace("#a1", "#r1")), "signature_wrapping"),
            (
                with_sig(&SIG.replace(
                    "</ds:SignedInfo>",
                    r##"<ds:Reference URI="#a1"/></ds:SignedInfo>"##,
                )),
                "signature_wrapping",
            ),
            (
                with_sig(&SIG.replace("xmldsig#enveloped-signature", "xslt-19991116")),
                "unsupported_condition",
            ),
            (
                with_sig(&SIG.replace("</ds:Signature>", "<ds:Object/></ds:Signature>")),
                "signature_wrapping",
            ),
            (with_sig(&format!("{SIG}{SIG}")), "signature_wrapping"),
            (
                doc(&signed.replace(
                    "</saml:Assertion>",
                    "<saml:Conditions><saml:Condition/></saml:Conditions></saml:Assertion>",
                )),
                "unsupported_condition",
            ),
        ];
        for (xml, reason) in cases {
            assert_eq!(scan(&xml).unwrap_err().reason(), reason, "{xml}");
        }
    }
}
