//! The request path over real sockets: stsgate on loopback in front of the IdP, STS and Chime
//! stand-ins. The Chime and STS stand-ins verify every signature with the independent verifier,
//! so a 2xx here means the signature, session token and bearer policy all held.

use crate::support::{Harness, message_body, messages_path};
use futures_util::future::join_all;
use http::StatusCode;
use stsgate_standins::{APP_INSTANCE_ARN, ROLE_ARN, USER_ID_TAG, demo_channel_arn, encode_label};

fn user_arn(user: &str) -> String {
    format!("{APP_INSTANCE_ARN}/user/{user}")
}

#[tokio::test]
async fn two_users_send_and_list_messages_each_with_their_own_session() {
    let h = Harness::start().await;
    let path = messages_path();

    let sent = h
        .call("alice", "POST", &path, &message_body("hi from alice"))
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    assert_eq!(sent.json()["ChannelArn"], demo_channel_arn());
    let sent = h
        .call("bob", "POST", &path, &message_body("hi from bob"))
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);

    let listed = h.call("alice", "GET", &path, "").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let messages = listed.json()["ChannelMessages"].as_array().unwrap().clone();
    let senders: Vec<_> = messages
        .iter()
        .map(|m| (m["Content"].clone(), m["Sender"]["Arn"].clone()))
        .collect();
    assert_eq!(
        senders,
        vec![
            ("hi from alice".into(), user_arn("alice").into()),
            ("hi from bob".into(), user_arn("bob").into())
        ]
    );

    // One AssumeRole per user, with the user's session name and tag.
    let calls = h.standins.sts.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    for (call, user) in calls.iter().zip(["alice", "bob"]) {
        assert_eq!(call.role_arn, ROLE_ARN);
        assert_eq!(call.session_name, user);
        assert_eq!(call.duration_seconds, 3600);
        assert_eq!(call.tags, vec![(USER_ID_TAG.to_owned(), user.to_owned())]);
    }

    // What Chime received: the raw path untouched, our signature, the caller's bearer.
    let received = h.standins.chime.received();
    assert_eq!(received.len(), 3);
    for (r, user) in received.iter().zip(["alice", "bob", "alice"]) {
        assert_eq!(r.path(), path);
        assert!(
            r.header("authorization")
                .unwrap()
                .starts_with("AWS4-HMAC-SHA256 Credential=ASIA")
        );
        assert_eq!(
            r.header("x-amz-chime-bearer"),
            Some(user_arn(user).as_str())
        );
    }
    assert_eq!(h.metric("stsgate_credential_cache_hits_total").await, 1.0);
    assert_eq!(h.metric("stsgate_credential_cache_misses_total").await, 2.0);
}

#[tokio::test]
async fn fifty_concurrent_first_requests_make_one_assume_role() {
    let h = Harness::start().await;
    let path = messages_path();
    let token = format!("Bearer {}", h.token("carol"));
    let headers = [("authorization", token.as_str())];
    let replies = join_all((0..50).map(|_| h.send("GET", &path, &headers, ""))).await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(h.standins.sts.calls().len(), 1);
    let hits = h.metric("stsgate_credential_cache_hits_total").await;
    let misses = h.metric("stsgate_credential_cache_misses_total").await;
    assert_eq!(hits + misses, 50.0);
    assert!(misses >= 1.0);
}

#[tokio::test]
async fn arns_in_paths_and_query_strings_are_signed_as_sent() {
    let h = Harness::start().await;
    let alice = encode_label(&user_arn("alice"));
    let channel = encode_label(&demo_channel_arn());

    // ListChannelMembershipsForAppInstanceUser: an ARN in the query string.
    let q = format!(
        "/channels?scope=app-instance-user-memberships&app-instance-user-arn={alice}&max-results=10"
    );
    let r = h.call("alice", "GET", &q, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // ListChannelMessages with reserved characters in query values.
    let q = format!(
        "{}?max-results=50&sort-order=DESCENDING&not-before=2024-01-01T00%3A00%3A00Z&next-token=abc%2B%2F%3Ddef",
        messages_path()
    );
    let r = h.call("alice", "GET", &q, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // DeleteChannelMembership: two ARN labels in one path. The stand-in does not implement it,
    // so NotFound (not Forbidden) proves the signature was accepted.
    let p = format!(
        "/channels/{channel}/memberships/{}",
        encode_label(&user_arn("bob"))
    );
    let r = h.call("alice", "DELETE", &p, "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(
        r.headers["x-amzn-errortype"], "NotFoundException",
        "upstream error headers pass through"
    );

    let received = h.standins.chime.received();
    assert_eq!(
        received[0].path_and_query,
        format!(
            "/channels?scope=app-instance-user-memberships&app-instance-user-arn={alice}&max-results=10"
        )
    );
    assert_eq!(received[2].path(), p);
}

#[tokio::test]
async fn client_signing_artefacts_are_replaced() {
    let h = Harness::start().await;
    let auth = format!("Bearer {}", h.token("alice"));
    let r = h
        .send(
            "GET",
            &messages_path(),
            &[
                ("authorization", auth.as_str()),
                ("x-amz-date", "19990101T000000Z"),
                ("x-amz-security-token", "client-supplied"),
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("connection", "keep-alive, x-hop"),
                ("x-hop", "1"),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let seen = &h.standins.chime.received()[0];
    assert_ne!(seen.header("x-amz-date"), Some("19990101T000000Z"));
    assert_ne!(seen.header("x-amz-security-token"), Some("client-supplied"));
    assert_eq!(seen.header("x-amz-content-sha256"), None);
    assert_eq!(seen.header("x-hop"), None);
    assert!(!seen.header("authorization").unwrap().contains(&auth));
}

#[tokio::test]
async fn es256_tokens_and_cognito_access_tokens_are_accepted() {
    let h = Harness::start().await;
    let idp = &h.standins.idp;
    let es = idp.sign(
        stsgate_standins::idp::EC_KID,
        &idp.claims_for("erin", stsgate_standins::AUDIENCE),
    );
    let r = h
        .send(
            "GET",
            &messages_path(),
            &[("authorization", &format!("Bearer {es}"))],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // A Cognito access token: no aud, client_id instead.
    let mut claims = idp.claims_for("frank", stsgate_standins::AUDIENCE);
    let obj = claims.as_object_mut().unwrap();
    obj.remove("aud");
    obj.insert("client_id".into(), stsgate_standins::AUDIENCE.into());
    obj.insert("token_use".into(), "access".into());
    let access = idp.sign(stsgate_standins::idp::RSA_KID, &claims);
    let r = h
        .send(
            "GET",
            &messages_path(),
            &[("authorization", &format!("Bearer {access}"))],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn inject_mode_overwrites_a_foreign_bearer() {
    let h = Harness::start_with(|c| c.chime.bearer = stsgate::config::BearerMode::Inject).await;
    let auth = format!("Bearer {}", h.token("alice"));
    let bob = user_arn("bob");
    let r = h
        .send(
            "GET",
            &messages_path(),
            &[
                ("authorization", auth.as_str()),
                ("x-amz-chime-bearer", bob.as_str()),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        h.standins.chime.received()[0].header("x-amz-chime-bearer"),
        Some(user_arn("alice").as_str())
    );
}

#[tokio::test]
async fn admin_endpoints() {
    let h = Harness::start().await;
    let ready = h.admin("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["ready"], true);
    assert_eq!(ready.json()["base_credentials"], "ok");
    assert_eq!(h.admin("/healthz").await.status, StatusCode::OK);
    assert_eq!(h.admin("/nope").await.status, StatusCode::NOT_FOUND);
    let metrics = h.admin("/metrics").await;
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    for name in [
        "stsgate_credential_cache_hits_total",
        "stsgate_credential_cache_misses_total",
        "stsgate_sts_assume_role_duration_seconds",
    ] {
        assert!(metrics.body.contains(name), "{name} missing");
    }
    // The admin listener never proxies, the proxy listener never serves metrics.
    let r = h.send("GET", "/metrics", &[], "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn metrics_move_with_traffic() {
    let h = Harness::start().await;
    h.call("alice", "POST", &messages_path(), &message_body("x"))
        .await;
    h.call("alice", "GET", &messages_path(), "").await;
    h.send("GET", &messages_path(), &[], "").await;
    assert_eq!(
        h.metric("stsgate_requests_total{operation=\"SendChannelMessage\",status=\"201\"}")
            .await,
        1.0
    );
    assert_eq!(
        h.metric("stsgate_requests_total{operation=\"ListChannelMessages\",status=\"200\"}")
            .await,
        1.0
    );
    assert_eq!(
        h.metric("stsgate_requests_total{operation=\"ListChannelMessages\",status=\"401\"}")
            .await,
        1.0
    );
    assert_eq!(
        h.metric("stsgate_token_rejections_total{reason=\"missing\"}")
            .await,
        1.0
    );
    assert_eq!(
        h.metric("stsgate_sts_assume_role_duration_seconds_count")
            .await,
        1.0
    );
    assert_eq!(h.metric("stsgate_credential_cache_hits_total").await, 1.0);
}
