//! The front door: whatever arrives in `Authorization`, the SAML header or `?token=`, extraction
//! and the structural checks must answer Ok or a typed refusal and never panic. Anything accepted
//! keeps its shape: a three-segment JWS naming an issuer, or a SAML document with one assertion
//! that has an ID and an issuer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stsgate_front_door::{
    Carriers, Credential, IdentityError, credential, inspect_assertion, inspect_token, scan,
};

const MAX_TOKEN: usize = 8 * 1024;
const MAX_SAML: usize = 64 * 1024;
const SAML_HEADER: http::HeaderName = http::HeaderName::from_static("x-saml-assertion");

fn check_token(token: &str) {
    if let Ok(jws) = inspect_token(token, MAX_TOKEN) {
        assert!(token.len() <= MAX_TOKEN);
        assert_eq!(token.split('.').count(), 3);
        assert!(token.starts_with(jws.signing_input) && token.ends_with(jws.signature));
    }
}

fn check_saml(encoded: &str) {
    match inspect_assertion(encoded, MAX_SAML) {
        Ok(s) => {
            assert!(encoded.len() <= MAX_SAML);
            assert!(!s.scanned.issuer.trim().is_empty());
        }
        Err(e) => assert!(!e.reason().is_empty()),
    }
}

fn check_xml(xml: &str) {
    if let Ok(s) = scan(xml) {
        // One assertion means the document says `Assertion` at least once, and is signed.
        assert!(xml.contains("Assertion") && xml.contains("Signature"));
        assert!(!s.issuer.is_empty());
    } else if let Err(IdentityError::Oversize) = scan(xml) {
        unreachable!("the scan has no size limit of its own");
    }
}

fn check(found: Result<Credential<'_>, IdentityError>) {
    match found {
        Ok(Credential::Jwt(t)) => check_token(&t),
        Ok(Credential::Saml(s)) => check_saml(&s),
        Err(e) => assert!(!e.reason().is_empty()),
    }
}

fuzz_target!(|data: &[u8]| {
    let session_token = http::HeaderName::from_static("x-amz-security-token");
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        for name in [http::header::AUTHORIZATION, SAML_HEADER, session_token] {
            let mut headers = http::HeaderMap::new();
            headers.insert(name, value.clone());
            let carriers = Carriers {
                saml_header: Some(&SAML_HEADER),
                session_token: true,
                query: None,
            };
            check(credential(&headers, &carriers));
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        check_token(text);
        check_xml(text);
        // The same bytes as a query string (`GET /connect`'s carriers).
        let carriers = Carriers {
            session_token: true,
            query: Some(text),
            ..Carriers::default()
        };
        check(credential(&http::HeaderMap::new(), &carriers));
    }
});
