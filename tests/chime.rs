//! Chime knowledge over real sockets: the allow-list, binding the caller in headers and query
//! strings, per-operation metrics, the messaging WebSocket bridge and opt-in credential vending.

use crate::support::{Harness, SETTLE, eventually, message_body, messages_path};
use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use std::time::Duration;
use stsgate_standins::chime::SocketEvent;
use stsgate_standins::sts::StsBehaviour;
use stsgate_standins::{APP_INSTANCE_ARN, encode_label};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

fn user_arn(user: &str) -> String {
    format!("{APP_INSTANCE_ARN}/user/{user}")
}

#[tokio::test]
async fn operations_outside_the_allow_list_are_refused_before_sts() {
    let h = Harness::start().await;
    let cases = [
        (
            "POST",
            "/channels?operation=search".to_owned(),
            "SearchChannels",
        ),
        (
            "GET",
            format!(
                "/channels/{}/subchannels",
                encode_label(&stsgate_standins::demo_channel_arn())
            ),
            "ListSubChannels",
        ),
        (
            "POST",
            "/tags?operation=tag-resource".to_owned(),
            "TagResource",
        ),
        ("GET", "/not/a/chime/path".to_owned(), "unknown"),
        ("GET", "/channels?scope=bogus".to_owned(), "unknown"),
        ("POST", "/credentials".to_owned(), "unknown"),
    ];
    for (method, path, op) in cases {
        let r = h.call("alice", method, &path, "{}").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
        assert_eq!(r.json()["error"], "operation_not_allowed");
        assert!(
            r.json()["message"].as_str().unwrap().contains(op),
            "{}",
            r.body
        );
        let series = format!("stsgate_requests_total{{operation=\"{op}\",status=\"403\"}}");
        assert!(h.metric(&series).await >= 1.0, "{series}");
    }
    assert!(h.standins.sts.calls().is_empty());
    assert!(h.standins.chime.received().is_empty());
}

#[tokio::test]
async fn the_allow_list_is_configurable() {
    let h = Harness::start_with(|c| {
        c.chime.allowed_operations =
            Some(vec!["ListChannelMessages".into(), "SearchChannels".into()])
    })
    .await;
    let r = h
        .call(
            "alice",
            "POST",
            "/channels?operation=search",
            r#"{"Fields":[]}"#,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "forwarded (the stand-in lacks SearchChannels): {}",
        r.body
    );
    let r = h
        .call("alice", "POST", &messages_path(), &message_body("x"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"], "operation_not_allowed");
}

#[tokio::test]
async fn a_user_arn_in_the_query_must_be_the_callers_unless_admin() {
    let h = Harness::start_with(|c| c.chime.admin_user_ids = vec!["root".into()]).await;
    let q = |user: &str| {
        format!(
            "/channels?scope=app-instance-user-memberships&app-instance-user-arn={}",
            encode_label(&user_arn(user))
        )
    };
    assert_eq!(
        h.call("alice", "GET", &q("alice"), "").await.status,
        StatusCode::OK
    );
    let r = h.call("alice", "GET", &q("bob"), "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"], "bearer_mismatch");
    assert_eq!(
        h.call("root", "GET", &q("bob"), "").await.status,
        StatusCode::OK,
        "an AppInstanceAdmin may"
    );
    assert_eq!(h.standins.chime.received().len(), 2);
}

#[tokio::test]
async fn operations_without_a_bearer_never_forward_one() {
    let h = Harness::start().await;
    let auth = format!("Bearer {}", h.token("alice"));
    let bob = user_arn("bob");
    let r = h
        .send(
            "GET",
            "/endpoints/messaging-session",
            &[("authorization", &auth), ("x-amz-chime-bearer", &bob)],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        h.standins.chime.received()[0].header("x-amz-chime-bearer"),
        None
    );
}

#[tokio::test]
async fn request_metrics_carry_the_operation() {
    let h = Harness::start().await;
    h.call("alice", "POST", &messages_path(), &message_body("x"))
        .await;
    h.call("alice", "GET", &messages_path(), "").await;
    for (series, at_least) in [
        (
            "stsgate_requests_total{operation=\"SendChannelMessage\",status=\"201\"}",
            1.0,
        ),
        (
            "stsgate_requests_total{operation=\"ListChannelMessages\",status=\"200\"}",
            1.0,
        ),
        (
            "stsgate_request_duration_seconds_count{operation=\"SendChannelMessage\"}",
            1.0,
        ),
        (
            "stsgate_upstream_duration_seconds_count{operation=\"ListChannelMessages\"}",
            1.0,
        ),
    ] {
        assert!(h.metric(series).await >= at_least, "{series}");
    }
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(
    h: &Harness,
    query: &str,
    token_header: Option<&str>,
) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
    let mut req = format!("ws://{}/connect{query}", h.gateway.proxy_addr)
        .into_client_request()
        .unwrap();
    if let Some(t) = token_header {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// The next data frame's text, skipping control frames.
async fn next_text(ws: &mut Client) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("frame in time")
        {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

async fn next_close(ws: &mut Client) -> (u16, String) {
    loop {
        match tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("close in time")
        {
            Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_websocket_bridge_presigns_relays_and_passes_closes_through() {
    let h = Harness::start().await;
    let mut ws = open(
        &h,
        "?sessionId=s-123&prefetch-on=connect&ignored=1",
        Some(&h.token("alice")),
    )
    .await
    .unwrap();
    let established: serde_json::Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(
        established["Headers"]["x-amz-chime-event-type"],
        "SESSION_ESTABLISHED"
    );

    // What Chime saw: a presigned /connect for alice, signed for 10 s, client params passed.
    let connect = h
        .standins
        .chime
        .received()
        .into_iter()
        .find(|r| r.path() == "/connect")
        .unwrap();
    let q: std::collections::HashMap<String, String> =
        form_urlencoded::parse(connect.query().unwrap().as_bytes())
            .into_owned()
            .collect();
    assert_eq!(q["userArn"], user_arn("alice"));
    assert_eq!(
        (
            q["sessionId"].as_str(),
            q["prefetch-on"].as_str(),
            q["X-Amz-Expires"].as_str()
        ),
        ("s-123", "connect", "10")
    );
    assert!(!q.contains_key("ignored") && !q.contains_key("token"));

    // Events flow to the client: a message sent over REST arrives as CREATE_CHANNEL_MESSAGE.
    assert_eq!(
        h.call("bob", "POST", &messages_path(), &message_body("hi alice"))
            .await
            .status,
        StatusCode::CREATED
    );
    let event: serde_json::Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(
        event["Headers"]["x-amz-chime-event-type"],
        "CREATE_CHANNEL_MESSAGE"
    );
    let payload: serde_json::Value =
        serde_json::from_str(event["Payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["Content"], "hi alice");

    // Frames relay both ways (the stand-in echoes), binary included.
    ws.send(Message::text("ping-by-text")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "ping-by-text");
    // A message far larger than the bridge's read buffers (8 KiB a side) arrives whole both ways.
    let large = "y".repeat(300 * 1024);
    ws.send(Message::text(large.clone())).await.unwrap();
    assert!(
        next_text(&mut ws).await == large,
        "the large message came back altered"
    );
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Binary(b) => break assert_eq!(&b[..], &[1, 2, 3]),
            _ => continue,
        }
    }

    // Chime kicks the user: the client gets the same code and reason.
    assert_eq!(
        h.standins
            .chime
            .broadcast(SocketEvent::Close(4003, "Kicked".into())),
        1
    );
    assert_eq!(next_close(&mut ws).await, (4003, "Kicked".into()));
    eventually(SETTLE, "the bridge has closed", || async {
        h.metric("stsgate_websocket_open").await == 0.0
    })
    .await;
    assert_eq!(h.metric("stsgate_websocket_open").await, 0.0);
    assert_eq!(
        h.metric("stsgate_websocket_closes_total{code=\"4003\"}")
            .await,
        1.0
    );
    assert!(
        h.metric("stsgate_websocket_frames_total{direction=\"to_client\"}")
            .await
            >= 4.0
    );
    assert!(
        h.metric("stsgate_websocket_frames_total{direction=\"to_upstream\"}")
            .await
            >= 2.0
    );
    assert_eq!(
        h.metric("stsgate_requests_total{operation=\"Connect\",status=\"101\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn browsers_may_pass_the_token_in_the_query() {
    let h = Harness::start().await;
    let mut ws = open(&h, &format!("?token={}", h.token("alice")), None)
        .await
        .unwrap();
    assert!(next_text(&mut ws).await.contains("SESSION_ESTABLISHED"));
    // No token, or a bad one: the upgrade completes and closes with 4401 (how Chime refuses, and
    // the only refusal the Chime SDK does not retry), before any STS or upstream work.
    for query in ["", "?token=garbage"] {
        let mut ws = open(&h, query, None).await.unwrap();
        assert_eq!(next_close(&mut ws).await.0, 4401, "{query}");
    }
    assert_eq!(h.standins.sts.calls().len(), 1);
    assert_eq!(
        h.metric("stsgate_requests_total{operation=\"Connect\",status=\"401\"}")
            .await,
        2.0
    );
}

#[tokio::test]
async fn long_session_tokens_are_signed_and_presigned() {
    // Real session tokens have no fixed size; 2 KiB is longer than most.
    let h = Harness::start().await;
    h.standins.sts.set_behaviour(StsBehaviour {
        session_token_chars: Some(2048),
        ..Default::default()
    });
    let r = h.call("alice", "GET", &messages_path(), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let received = h.standins.chime.received();
    let token = received[0].headers["x-amz-security-token"].len();
    assert_eq!(
        token, 2048,
        "the Chime stand-in checked a 2 KiB token's signature"
    );
    // The same session presigns the messaging WebSocket, the token in its query.
    let mut ws = open(&h, "", Some(&h.token("alice"))).await.unwrap();
    assert!(next_text(&mut ws).await.contains("SESSION_ESTABLISHED"));
    assert_eq!(h.standins.sts.calls().len(), 1);
}

#[tokio::test]
async fn sockets_close_with_a_retryable_code_before_credentials_expire() {
    // Credentials live 32 s; the bridge stops 30 s before expiry, so after ~2 s.
    let h = Harness::start_with(|c| {
        c.sts.expiry_margin_seconds = 2;
        c.sts.refresh_ahead_seconds = 3;
    })
    .await;
    h.standins.sts.set_behaviour(StsBehaviour {
        lifetime: Some(Duration::from_secs(32)),
        ..Default::default()
    });
    let mut ws = open(&h, "", Some(&h.token("alice"))).await.unwrap();
    assert!(next_text(&mut ws).await.contains("SESSION_ESTABLISHED"));
    let (code, reason) = next_close(&mut ws).await;
    assert_eq!(code, 1001, "{reason}");
    assert!(reason.contains("reconnect"));
}

#[tokio::test]
async fn sockets_close_with_a_retryable_code_when_the_token_expires() {
    // The STS session lives an hour; the user's token only 4 s more. The socket does not
    // outlive the identity it was opened with: the SDK reconnects with a fresh token.
    let h = Harness::start().await;
    let idp = &h.standins.idp;
    let mut claims = idp.claims_for("alice", stsgate_standins::AUDIENCE);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    claims["exp"] = (now + 4).into();
    let short = idp.sign(stsgate_standins::idp::RSA_KID, &claims);
    let opened = std::time::Instant::now();
    let mut ws = open(&h, "", Some(&short)).await.unwrap();
    assert!(next_text(&mut ws).await.contains("SESSION_ESTABLISHED"));
    let (code, reason) = next_close(&mut ws).await;
    assert_eq!(code, 1001, "{reason}");
    assert!(reason.contains("reconnect"), "{reason}");
    let lived = opened.elapsed();
    assert!(
        lived <= Duration::from_secs(5),
        "closed after {lived:?}, not at the token's expiry"
    );
}

#[tokio::test]
async fn idle_and_oversize_sockets_are_closed() {
    let h = Harness::start_with(|c| {
        c.chime.websocket_idle_seconds = 1;
        c.chime.websocket_max_message_bytes = 1024;
    })
    .await;
    let mut ws = open(&h, "", Some(&h.token("alice"))).await.unwrap();
    assert!(next_text(&mut ws).await.contains("SESSION_ESTABLISHED"));
    assert_eq!(next_close(&mut ws).await, (1001, "idle".into()));

    let mut ws = open(&h, "", Some(&h.token("alice"))).await.unwrap();
    assert!(next_text(&mut ws).await.contains("SESSION_ESTABLISHED"));
    ws.send(Message::text("x".repeat(2048))).await.unwrap();
    assert_eq!(next_close(&mut ws).await.0, u16::from(CloseCode::Size));
}

#[tokio::test]
async fn credential_vending_is_off_by_default_and_opt_in() {
    let h = Harness::start_with(|c| c.vending.enabled = true).await;
    let r = h.call("alice", "POST", "/credentials", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["cache-control"], "no-store");
    let v = r.json();
    let ak = v["AccessKeyId"].as_str().unwrap();
    let issued = h
        .standins
        .store
        .get(ak)
        .expect("the vended key is the session STS issued");
    assert_eq!(v["SecretAccessKey"], issued.secret.as_str());
    assert_eq!(v["SessionToken"], issued.session_token.unwrap().as_str());
    assert!(v["Expiration"].as_str().unwrap().ends_with('Z'));
    assert_eq!(h.metric("stsgate_credentials_vended_total").await, 1.0);
    // Vending still authenticates.
    assert_eq!(
        h.send("POST", "/credentials", &[], "").await.status,
        StatusCode::UNAUTHORIZED
    );
}
