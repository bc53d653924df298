//! The verifier against the stand-in IdP's independent signer, with a manual clock.

use super::*;
use crate::clock::ManualClock;
use crate::demo::saml_idp::{AssertionSpec, SamlIdpStandIn};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

const NOW: i64 = 1_795_000_000;
const AUD: &str = "urn:stsgate:test";
const ACS: &str = "https://gateway.test/saml/acs";

fn setup() -> (SamlIdpStandIn, SamlVerifier, AssertionSpec) {
    let idp = SamlIdpStandIn::new("https://idp.test/saml");
    let config: SamlIdpConfig = toml::from_str(&format!(
        "entity_id = {:?}\ncertificates = [{:?}]\naudiences = [{AUD:?}]\nrecipients = [{ACS:?}]\n[claims]\nmail = \"email\"\n",
        idp.entity_id,
        idp.certificate_pem(),
    ))
    .unwrap();
    let clock = Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(NOW as u64),
    ));
    let verifier = SamlVerifier::new(&config, clock).unwrap();
    let spec = AssertionSpec::new(&idp.entity_id, "alice", AUD, ACS, NOW);
    (idp, verifier, spec)
}

fn verify(v: &SamlVerifier, xml: &str) -> Result<Principal, IdentityError> {
    let scanned = scan(xml)?;
    v.verify(xml, &scanned)
}

#[test]
fn accepts_a_signed_assertion_and_a_response_carrying_it() {
    let (idp, v, spec) = setup();
    let signed = idp.signed_assertion(&spec);
    for xml in [signed.clone(), idp.response(&signed, ACS, NOW)] {
        let p = verify(&v, &xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
        assert_eq!(p.claims["sub"], "alice");
        assert_eq!(p.claims["email"], "alice@example.com");
        assert_eq!(p.claims["mail"], "alice@example.com");
        assert_eq!(p.claims["aud"], AUD);
        assert_eq!(p.expires_at, NOW + 3600);
        assert_eq!(p.valid_until, NOW + 3600 - 1 + 60);
    }
}

#[test]
fn accepts_a_signed_response_around_an_unsigned_assertion() {
    let (idp, v, spec) = setup();
    let response = idp.response(&spec.to_xml(), ACS, NOW);
    let id = response
        .split("ID=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let signed = idp.sign_enveloped(&response, id);
    assert_eq!(verify(&v, &signed).unwrap().claims["sub"], "alice");
}

#[test]
fn refuses_a_tampered_assertion() {
    let (idp, v, spec) = setup();
    let signed = idp.signed_assertion(&spec).replace(">alice<", ">mallory<");
    assert_eq!(
        verify(&v, &signed).unwrap_err(),
        IdentityError::BadSignature
    );
}
