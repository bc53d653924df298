//! The other half of the hostile table: requests stsgate must forward, and exactly what it
//! forwards and signs. The Chime stand-in verifies every signature with the independent verifier,
//! so a 2xx also proves the signature covers the request as it arrived.

use crate::support::{Harness, access_key_of, message_body, messages_path};
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode};
use http_body_util::Full;
use stsgate_standins::standin::AuthorizationHeader;

#[tokio::test]
async fn only_the_allow_listed_headers_are_forwarded_and_signed() {
    let h = Harness::start().await;
    let mut req = Request::post(format!(
        "http://{}{}",
        h.gateway.proxy_addr,
        messages_path()
    ));
    for (k, v) in [
        (
            "authorization",
            format!("Bearer {}", h.token("alice")).as_str(),
        ),
        ("content-type", "application/json"),
        ("user-agent", "aws-sdk-js/3.1142.0"),
        ("x-amz-target", "ChimeMessaging.DeleteChannel"),
        ("x-amz-expires", "604800"),
        ("x-amz-foo", "bar"),
        ("x-amz-security-token", "client-chosen"),
        ("cookie", "session=1"),
        ("x-forwarded-for", "10.0.0.1"),
        ("x-http-method-override", "DELETE"),
        ("x-original-url", "/channels"),
        ("origin", "https://app.example"),
        ("referer", "https://app.example/chat"),
        ("amz-sdk-invocation-id", "d6f7"),
        ("x-request-id", "trace-42"),
    ] {
        req = req.header(k, v);
    }
    // A value the signer cannot read: never forwarded, so no session was wasted on it.
    req = req.header(
        "x-amz-meta",
        HeaderValue::from_bytes("café".as_bytes()).unwrap(),
    );
    let r = h
        .send_request(req.body(Full::new(Bytes::from(message_body("x")))).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.headers["x-request-id"], "trace-42",
        "the client's request id comes back"
    );

    let sent = &h.standins.chime.received()[0];
    let mut names: Vec<&str> = sent.headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "authorization",
            "content-length",
            "content-type",
            "host",
            "user-agent",
            "x-amz-chime-bearer",
            "x-amz-date",
            "x-amz-security-token",
            "x-request-id"
        ]
    );
    assert_eq!(
        sent.header("x-request-id"),
        Some("trace-42"),
        "and goes upstream"
    );
    let auth = AuthorizationHeader::parse(sent.header("authorization").unwrap()).unwrap();
    assert_eq!(
        auth.signed_headers,
        [
            "content-type",
            "host",
            "x-amz-chime-bearer",
            "x-amz-date",
            "x-amz-security-token"
        ],
        "the request id travels unsigned"
    );
    assert_ne!(sent.header("x-amz-security-token"), Some("client-chosen"));
}

#[tokio::test]
async fn the_forwarded_query_is_the_checked_one() {
    let h = Harness::start().await;
    let r = h
        .call(
            "alice",
            "GET",
            &format!("{}?next-token=a:b+c&max-results=5", messages_path()),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        h.standins.chime.received()[0].query(),
        Some("next-token=a%3Ab%20c&max-results=5"),
        "decoded as checked, encoded as SigV4 encodes it"
    );
}

#[tokio::test]
async fn users_whose_sessions_would_look_alike_never_share_one() {
    // Without a user-id tag (explicitly allowed), `a:b` and `a-b` make the same AssumeRole input.
    let h = Harness::start_with(|c| {
        c.session_tags.clear();
        c.chime.require_user_id_tag = false;
    })
    .await;
    for user in ["a:b", "a-b"] {
        h.call(user, "GET", &messages_path(), "").await;
    }
    let calls = h.standins.sts.calls();
    assert_eq!(calls.len(), 2, "one session each");
    assert_eq!(calls[0].session_name, calls[1].session_name);
    let keys: Vec<String> = h
        .standins
        .chime
        .received()
        .iter()
        .map(access_key_of)
        .collect();
    assert_ne!(keys[0], keys[1]);
}
