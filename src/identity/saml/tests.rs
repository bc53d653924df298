//! The verifier against the stand-in IdP's independent signer, with a manual clock.

use super::*;
use crate::clock::ManualClock;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use stsgate_front_door::scan;
use stsgate_standins::saml_idp::{AssertionSpec, SamlIdpStandIn};

const NOW: i64 = 1_795_000_000;
const AUD: &str = "urn:stsgate:test";
const ACS: &str = "https://gateway.test/saml/acs";

/// A whole config with `idp` as its one SAML IdP (plus `extra` keys), validated as at start-up.
fn settings(idp: &SamlIdpStandIn, extra: &str) -> crate::config::Settings {
    crate::config::from_toml(&format!(
        r#"
[upstream]
region = "us-east-1"
[[saml_idps]]
entity_id = "{}"
certificates = ['''{}''']
audiences = ["{AUD}"]
recipients = ["{ACS}"]
{extra}
[sts]
role_arn = "arn:aws:iam::111122223333:role/R"
region = "us-east-1"
[session_tags]
uid = "sub"
[chime]
app_instance_arn = "arn:aws:chime:us-east-1:111122223333:app-instance/11111111-2222-3333-4444-555555555555"
"#,
        idp.entity_id,
        idp.certificate_pem()
    ))
    .unwrap()
}

fn setup() -> (SamlIdpStandIn, SamlVerifier, AssertionSpec) {
    let idp = SamlIdpStandIn::new("https://idp.test/saml");
    let config = settings(&idp, "[saml_idps.claims]\nmail = \"email\"");
    let clock = Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(NOW as u64),
    ));
    let verifier = SamlVerifier::new(&config.identity.saml_idps[0], clock);
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
        assert_eq!(
            p.claims["name_id_format"],
            "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
        );
        assert_eq!(p.exp, NOW + 3600);
        assert_eq!(p.valid_until, NOW + 3600 - 1 + 60);
    }
}

#[test]
fn accepts_a_signed_response_around_an_unsigned_assertion() {
    let (idp, v, spec) = setup();
    let signed = idp.signed_response(&spec.to_xml(), ACS, NOW);
    assert_eq!(verify(&v, &signed).unwrap().claims["sub"], "alice");
}

#[test]
fn accepts_a_signed_response_around_a_signed_assertion() {
    let (idp, v, spec) = setup();
    let signed = idp.signed_response(&idp.signed_assertion(&spec), ACS, NOW);
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

#[test]
fn comment_injection_is_refused_and_would_not_truncate_anyway() {
    let (idp, v, mut spec) = setup();
    spec.subject = "alice@example.com.evil.example".into();
    let injected = idp.signed_assertion(&spec).replacen(
        "alice@example.com.evil.example",
        "alice@example.com<!---->.evil.example",
        1,
    );
    assert_eq!(scan(&injected).unwrap_err().reason(), "malformed");
    // Behind the scan, the claims come from the signed (comment-free) bytes: the whole value.
    let scanned = Scanned {
        issuer: idp.entity_id.clone(),
        assertion_id: spec.id.clone(),
    };
    let p = v.verify(&injected, &scanned).unwrap();
    assert_eq!(p.claims["sub"], "alice@example.com.evil.example");
}

#[test]
fn times_and_audiences_follow_the_clock_and_the_config() {
    let (idp, v, spec) = setup();
    let at = |edit: &dyn Fn(&mut AssertionSpec)| {
        let mut s = spec.clone();
        edit(&mut s);
        verify(&v, &idp.signed_assertion(&s)).map(|p| p.valid_until)
    };
    // NotOnOrAfter is exclusive; the leeway (60 s) applies on both ends.
    assert_eq!(at(&|s| s.not_on_or_after = NOW - 59), Ok(NOW));
    assert_eq!(
        at(&|s| s.not_on_or_after = NOW - 60),
        Err(IdentityError::Expired)
    );
    assert!(at(&|s| s.not_before = NOW + 60).is_ok());
    assert_eq!(
        at(&|s| s.not_before = NOW + 61),
        Err(IdentityError::NotYetValid)
    );
    assert_eq!(
        at(&|s| s.audience = format!("{AUD}/")),
        Err(IdentityError::WrongAudience)
    );
}

#[tokio::test]
async fn a_cached_assertion_is_refused_once_its_window_closes() {
    // The cache reclaims memory on wall-clock time, so this test's clock starts at the real now.
    let now = crate::clock::unix_seconds(std::time::SystemTime::now());
    let idp = SamlIdpStandIn::new("https://idp.test/saml");
    let config = settings(&idp, "leeway_seconds = 0");
    let clock = Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(now as u64),
    ));
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let auth = crate::identity::Authenticator::new(
        &config.identity,
        &crate::http_client::HttpClient::new(),
        clock.clone(),
        metrics.clone(),
    );
    let mut spec = AssertionSpec::new(&idp.entity_id, "alice", AUD, ACS, now);
    spec.not_on_or_after = now + 10;
    let encoded = stsgate_standins::saml_idp::encode(&idp.signed_assertion(&spec));

    for _ in 0..2 {
        assert_eq!(
            auth.authenticate_saml(&encoded).await.unwrap().claims["sub"],
            "alice"
        );
    }
    assert_eq!(metrics.token_cache_hits.get(), 1);
    clock.advance(Duration::from_secs(9));
    assert!(auth.authenticate_saml(&encoded).await.is_ok());
    // NotOnOrAfter is exclusive: at now + 10 the cached identity is gone and re-checking fails.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        auth.authenticate_saml(&encoded).await.unwrap_err(),
        IdentityError::Expired
    );
}

#[test]
fn required_claims_can_insist_on_a_persistent_name_id() {
    let (idp, _, spec) = setup();
    let config = settings(
        &idp,
        "[saml_idps.required_claims]\nname_id_format = \"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\"",
    );
    let clock = Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(NOW as u64),
    ));
    let strict = SamlVerifier::new(&config.identity.saml_idps[0], clock);
    let unspecified = idp.signed_assertion(&spec);
    assert_eq!(
        verify(&strict, &unspecified).unwrap_err(),
        IdentityError::ClaimMismatch
    );
    let persistent = idp.sign_enveloped(
        &spec.to_xml().replace(
            ":1.1:nameid-format:unspecified",
            ":2.0:nameid-format:persistent",
        ),
        &spec.id,
    );
    assert_eq!(verify(&strict, &persistent).unwrap().claims["sub"], "alice");
}

/// Signs the stand-in's canonical assertion after a text edit (which keeps it canonical).
fn signed_after(idp: &SamlIdpStandIn, spec: &AssertionSpec, from: &str, to: &str) -> String {
    let xml = spec.to_xml();
    assert!(xml.contains(from), "{from} not in the assertion");
    idp.sign_enveloped(&xml.replacen(from, to, 1), &spec.id)
}

#[test]
fn edge_cases_from_review() {
    let (idp, v, spec) = setup();
    // Every AudienceRestriction must name us: a second one naming someone else fails.
    let two = signed_after(
        &idp,
        &spec,
        "</saml:AudienceRestriction>",
        "</saml:AudienceRestriction><saml:AudienceRestriction><saml:Audience>urn:other</saml:Audience></saml:AudienceRestriction>",
    );
    assert_eq!(verify(&v, &two).unwrap_err(), IdentityError::WrongAudience);
    // A bearer confirmation that is not valid yet confirms nothing.
    let later = signed_after(
        &idp,
        &spec,
        "<saml:SubjectConfirmationData ",
        &format!(
            "<saml:SubjectConfirmationData NotBefore=\"{}\" ",
            stsgate_standins::saml_idp::xml_time(NOW + 120)
        ),
    );
    assert_eq!(verify(&v, &later).unwrap_err(), IdentityError::NotYetValid);
    // The IdP session ends exactly at the edge of the leeway: refused; a second later: fine.
    let session_end = |end: i64| {
        signed_after(
            &idp,
            &spec,
            "-s\">",
            &format!(
                "-s\" SessionNotOnOrAfter=\"{}\">",
                stsgate_standins::saml_idp::xml_time(end)
            ),
        )
    };
    assert_eq!(
        verify(&v, &session_end(NOW - 60)).unwrap_err(),
        IdentityError::Expired
    );
    assert_eq!(verify(&v, &session_end(NOW - 59)).unwrap().valid_until, NOW);
    // Whitespace around the Issuer (pretty-printing IdPs) is not a different IdP.
    let padded = signed_after(
        &idp,
        &spec,
        &format!("<saml:Issuer>{}</saml:Issuer>", idp.entity_id),
        &format!("<saml:Issuer>\n  {}\n</saml:Issuer>", idp.entity_id),
    );
    assert_eq!(verify(&v, &padded).unwrap().issuer, idp.entity_id);
}

#[tokio::test]
async fn a_flood_cannot_hold_an_assertion_in_the_queue_forever() {
    let now = crate::clock::unix_seconds(std::time::SystemTime::now());
    let idp = SamlIdpStandIn::new("https://idp.test/saml");
    let config = settings(&idp, "");
    let clock = Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(now as u64),
    ));
    let auth = crate::identity::Authenticator::new(
        &config.identity,
        &crate::http_client::HttpClient::new(),
        clock,
        Arc::new(crate::metrics::Metrics::new()),
    );
    let spec = AssertionSpec::new(&idp.entity_id, "alice", AUD, ACS, now);
    let encoded = stsgate_standins::saml_idp::encode(&idp.signed_assertion(&spec));
    // Every verification slot is taken, as by a flood of well-formed forgeries.
    let slots = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let held = auth.saml_permits.acquire_many(slots).await.unwrap();
    let started = std::time::Instant::now();
    assert_eq!(
        auth.authenticate_saml(&encoded).await.unwrap_err(),
        IdentityError::VerifierBusy
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by saml_queue_timeout_seconds"
    );
    drop(held);
    assert!(
        auth.authenticate_saml(&encoded).await.is_ok(),
        "served once a slot frees"
    );
}
