//! SAML 2.0 assertions as the client credential, over real sockets: the stand-in IdP signs with
//! its own XML-DSig implementation, stsgate verifies with xmlsec, and the request reaches the
//! STS and Chime stand-ins as the asserted user.

use crate::support::{Harness, message_body, messages_path};
use http::StatusCode;
use stsgate_standins::saml_idp::{AssertionSpec, encode};
use stsgate_standins::{
    APP_INSTANCE_ARN, SAML_AUDIENCE, SAML_ENTITY_ID, SAML_RECIPIENT, USER_ID_TAG,
};

fn now() -> i64 {
    stsgate::clock::unix_seconds(std::time::SystemTime::now())
}

#[tokio::test]
async fn a_saml_user_sends_a_message_as_themselves() {
    let h = Harness::start().await;
    let auth = format!("SAML {}", h.standins.saml_assertion_for("carol"));
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    for _ in 0..3 {
        let sent = h
            .send("POST", &messages_path(), &headers, &message_body("hi"))
            .await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    }

    let calls = h.standins.sts.calls();
    assert_eq!(
        calls.len(),
        1,
        "one AssumeRole for three requests: {calls:?}"
    );
    assert_eq!(calls[0].session_name, "carol");
    assert_eq!(calls[0].tags, vec![(USER_ID_TAG.into(), "carol".into())]);
    let bearer = format!("{APP_INSTANCE_ARN}/user/carol");
    for r in h.standins.chime.received() {
        assert_eq!(r.header("x-amz-chime-bearer"), Some(bearer.as_str()));
        assert!(
            r.header("authorization")
                .unwrap()
                .starts_with("AWS4-HMAC-SHA256")
        );
    }
    // One signature check; the other two requests hit the validated-credential cache.
    assert_eq!(h.metric("stsgate_token_cache_hits_total").await, 2.0);
    assert_eq!(h.metric("stsgate_token_cache_misses_total").await, 1.0);
}

#[tokio::test]
async fn a_signed_response_in_the_configured_header_is_accepted() {
    let h = Harness::start_with(|c| c.saml_header = Some("x-saml-assertion".into())).await;
    let idp = &h.standins.saml_idp;
    let spec = AssertionSpec::new(SAML_ENTITY_ID, "dave", SAML_AUDIENCE, SAML_RECIPIENT, now());
    let signed = encode(&idp.signed_response(&spec.to_xml(), SAML_RECIPIENT, now()));

    let listed = h
        .send(
            "GET",
            &messages_path(),
            &[("x-saml-assertion", signed.as_str())],
            "",
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(h.standins.sts.calls()[0].session_name, "dave");

    // Two credentials at once are ambiguous: refused, never forwarded.
    let bearer = format!("Bearer {}", h.token("alice"));
    let both = h
        .send(
            "GET",
            &messages_path(),
            &[
                ("x-saml-assertion", signed.as_str()),
                ("authorization", bearer.as_str()),
            ],
            "",
        )
        .await;
    assert_eq!(both.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.standins.chime.received().len(), 1);
}

#[tokio::test]
async fn certificates_can_come_from_idp_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let metadata = dir.path().join("idp-metadata.xml");
    let h = Harness::start_with_standins(|standins, c| {
        // Same IdP, but its certificate is read from its metadata file instead of inline PEM.
        std::fs::write(&metadata, standins.saml_idp.metadata_xml()).unwrap();
        c.saml_idps[0].certificates.clear();
        c.saml_idps[0].metadata_file = Some(metadata.clone());
    })
    .await;
    let r = h.call_saml("erin", "GET", &messages_path(), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn a_refusal_names_both_schemes_and_counts_its_reason() {
    let h = Harness::start().await;
    let r = h.send("GET", &messages_path(), &[], "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let challenges: Vec<_> = r
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(challenges, ["Bearer", "SAML"]);

    let auth = format!("SAML {}", encode("<not-saml/>"));
    let r = h
        .send(
            "GET",
            &messages_path(),
            &[("authorization", auth.as_str())],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "invalid_token");
    assert_eq!(
        h.metric(r#"stsgate_token_rejections_total{reason="malformed"}"#)
            .await,
        1.0
    );
}

#[tokio::test]
async fn a_saml_only_gateway_is_ready_and_serves_saml() {
    let h = Harness::start_with(|c| c.issuers.clear()).await;
    let ready = h.admin("/readyz").await;
    assert_eq!(ready.json()["saml_idps"][0], SAML_ENTITY_ID);
    let r = h.call_saml("frank", "GET", &messages_path(), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A bearer token now has no issuer to go to.
    let r = h.call("alice", "GET", &messages_path(), "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
