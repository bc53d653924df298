//! CORS over real sockets: stsgate answers preflights itself (no token, no STS, nothing
//! forwarded), and every answer to an allowed origin carries the CORS headers the SDKs need to
//! read it, refusals and upstream errors included. Other origins get none.

use crate::support::{Harness, Reply, message_body, messages_path};
use futures_util::StreamExt;
use http::StatusCode;
use std::time::Duration;
use stsgate::config::{Config, CorsConfig};
use stsgate_standins::sts::StsBehaviour;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const APP: &str = "https://chat.example";

async fn with_cors(credentials: bool) -> Harness {
    with_cors_and(credentials, |_| {}).await
}

async fn with_cors_and(credentials: bool, edit: impl FnOnce(&mut Config)) -> Harness {
    Harness::start_with(|c| {
        c.cors = Some(CorsConfig {
            allowed_origins: vec![APP.into(), "http://localhost:3000".into()],
            allow_credentials: credentials,
            max_age_seconds: 600,
        });
        c.sts.timeout_seconds = 1;
        edit(c);
    })
    .await
}

/// What a browser adds to every request besides `Origin`; none of it may reach Chime.
const BROWSER_HEADERS: &[(&str, &str)] = &[
    ("referer", "https://chat.example/room/1"),
    ("cookie", "session=s3cr3t"),
    ("sec-fetch-site", "cross-site"),
    ("sec-fetch-mode", "cors"),
    ("sec-ch-ua", "\"Chromium\";v=\"130\""),
];

fn assert_cors(r: &Reply, what: &str) {
    assert_eq!(r.headers["access-control-allow-origin"], APP, "{what}");
    assert_eq!(r.headers["vary"], "Origin", "{what}");
    let exposed = r.headers["access-control-expose-headers"].to_str().unwrap();
    for h in ["x-amzn-errortype", "x-amzn-requestid", "retry-after"] {
        assert!(exposed.contains(h), "{what}: {h} not exposed");
    }
}

#[tokio::test]
async fn preflights_are_answered_without_a_token() {
    let h = with_cors(true).await;
    let r = h
        .send(
            "OPTIONS",
            &messages_path(),
            &[
                ("origin", APP),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "amz-sdk-invocation-id,amz-sdk-request,authorization,content-type,x-amz-chime-bearer,x-amz-content-sha256,x-amz-date,x-amz-security-token,x-amz-user-agent",
                ),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_cors(&r, "preflight");
    assert_eq!(r.headers["access-control-allow-credentials"], "true");
    assert_eq!(r.headers["access-control-max-age"], "600");
    let allowed = r.headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("x-amz-chime-bearer") && allowed.contains("amz-sdk-request"));

    // Another origin: refused, and nothing says it may read the answer.
    let r = h
        .send(
            "OPTIONS",
            &messages_path(),
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"], "origin_not_allowed");
    assert!(!r.headers.contains_key("access-control-allow-origin"));
    assert!(h.standins.sts.calls().is_empty());
    assert!(h.standins.chime.received().is_empty());
}

#[tokio::test]
async fn every_answer_to_an_allowed_origin_carries_cors_headers() {
    let h = with_cors(false).await;
    let auth = format!("Bearer {}", h.token("alice"));
    let origin = ("origin", APP);
    let json = ("content-type", "application/json");
    /// What, method, path, headers, body, expected status.
    type Case<'a> = (
        &'a str,
        &'a str,
        String,
        Vec<(&'a str, &'a str)>,
        String,
        u16,
    );
    let cases: Vec<Case> = vec![
        (
            "proxied",
            "POST",
            messages_path(),
            [
                vec![origin, ("authorization", &auth), json],
                BROWSER_HEADERS.to_vec(),
            ]
            .concat(),
            message_body("x"),
            201,
        ),
        (
            "upstream error (the stand-in lacks DescribeChannel)",
            "GET",
            messages_path().trim_end_matches("/messages").to_owned(),
            vec![origin, ("authorization", &auth)],
            String::new(),
            404,
        ),
        (
            "401",
            "GET",
            messages_path(),
            vec![origin],
            String::new(),
            401,
        ),
        (
            "403",
            "POST",
            "/channels?operation=search".into(),
            vec![origin, ("authorization", &auth), json],
            "{}".into(),
            403,
        ),
        (
            "413",
            "POST",
            messages_path(),
            vec![origin, ("authorization", &auth), json],
            "x".repeat(1024 * 1024 + 1),
            413,
        ),
        (
            "400",
            "GET",
            format!("{}?foo=1", messages_path()),
            vec![origin, ("authorization", &auth)],
            String::new(),
            400,
        ),
    ];
    for (what, method, path, headers, body, status) in cases {
        let r = h.send(method, &path, &headers, &body).await;
        assert_eq!(r.status.as_u16(), status, "{what}: {}", r.body);
        assert_cors(&r, what);
        assert!(!r.headers.contains_key("access-control-allow-credentials"));
    }
    // A 503 from an STS outage, with its Retry-After readable.
    h.standins.sts.set_behaviour(StsBehaviour {
        fail: Some((503, "ServiceUnavailable")),
        ..Default::default()
    });
    let bob = format!("Bearer {}", h.token("bob"));
    let r = h
        .send(
            "GET",
            &messages_path(),
            &[origin, ("authorization", &bob)],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_cors(&r, "503");
    assert_eq!(r.headers["x-amzn-errortype"], "ServiceUnavailableException");

    // Another origin's requests get no CORS headers; what the browser sent stays here.
    let r = h
        .send(
            "GET",
            &messages_path(),
            &[
                vec![("origin", "https://evil.example"), ("authorization", &auth)],
                BROWSER_HEADERS.to_vec(),
            ]
            .concat(),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.headers.contains_key("access-control-allow-origin"));
    let received = h.standins.chime.received();
    assert!(received.len() >= 3, "the browser's requests were forwarded");
    for seen in received {
        for (name, _) in [("origin", "")].iter().chain(BROWSER_HEADERS) {
            assert!(seen.header(name).is_none(), "{name} forwarded");
        }
    }
}

#[tokio::test]
async fn a_rate_limited_browser_can_read_its_429() {
    let h = with_cors_and(false, |c| c.max_requests_per_user_per_second = 1).await;
    let auth = format!("Bearer {}", h.token("alice"));
    let headers = [("origin", APP), ("authorization", auth.as_str())];
    let first = h.send("GET", &messages_path(), &headers, "").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let r = h.send("GET", &messages_path(), &headers, "").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.json()["error"], "rate_limited");
    assert_cors(&r, "429");
    assert_eq!(r.headers["x-amzn-errortype"], "ThrottledClientException");
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(
        h.standins.chime.received().len(),
        1,
        "the 429 is not forwarded"
    );
}

#[tokio::test]
async fn a_websocket_from_another_origin_closes_with_4003() {
    let h = with_cors(false).await;
    let open = |origin: &'static str| {
        let mut req = format!(
            "ws://{}/connect?token={}",
            h.gateway.proxy_addr,
            h.token("alice")
        )
        .into_client_request()
        .unwrap();
        req.headers_mut().insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    let next = |ws| async move {
        let mut ws: tokio_tungstenite::WebSocketStream<_> = ws;
        tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time")
    };
    let (evil, _) = open("https://evil.example").await.expect("upgraded");
    match next(evil).await {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 4003),
        other => panic!("another origin's socket: {other:?}"),
    }
    assert!(h.standins.sts.calls().is_empty(), "refused before STS");
    assert!(h.standins.chime.received().is_empty(), "nothing bridged");
    // The allowed origin's socket is bridged.
    let (ok, _) = open(APP).await.expect("upgraded");
    match next(ok).await {
        Some(Ok(Message::Text(t))) => assert!(t.contains("SESSION_ESTABLISHED"), "{t}"),
        other => panic!("the allowed origin's socket: {other:?}"),
    }
}

#[tokio::test]
async fn without_cors_configured_nothing_changes() {
    let h = Harness::start().await;
    let r = h
        .send(
            "OPTIONS",
            &messages_path(),
            &[("origin", APP), ("access-control-request-method", "GET")],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!r.headers.contains_key("access-control-allow-origin"));
}
