//! Stock clients that cannot be changed, over real sockets: the session-token mode of the AWS
//! SDKs on REST and on the messaging WebSocket (a stock presigned `/connect` URL), the session
//! endpoint answered with stsgate's public host, `GET /me`, close codes the Chime SDK acts on,
//! ping/pong on both legs, and 1001 at shutdown.

use crate::support::Harness;
use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use std::collections::HashMap;
use std::time::Duration;
use stsgate_standins::chime::{Control, SocketEvent};
use stsgate_standins::{APP_INSTANCE_ARN, AUDIENCE};
use tokio_tungstenite::tungstenite::Message;

const PUBLIC: &str = "chat.stsgate.test:8443";

async fn compat() -> Harness {
    Harness::start_with(|c| {
        c.compat.session_token_auth = true;
        c.public_url = Some(format!("https://{PUBLIC}").parse().unwrap());
        // An STS outage is retried for 1 s, not the default 10.
        c.sts.timeout_seconds = 1;
    })
    .await
}

fn user_arn(user: &str) -> String {
    format!("{APP_INSTANCE_ARN}/user/{user}")
}

/// The query the Chime JS SDK's default signer builds for `/connect` (placeholder signature).
fn stock_presign(token: &str, user: &str) -> String {
    crate::support::stock_presign(token, Some(&user_arn(user)))
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(h: &Harness, query: &str) -> Ws {
    let url = format!("ws://{}/connect?{query}", h.gateway.proxy_addr);
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next message that is not a text frame the test does not care about.
async fn next(ws: &mut Ws) -> Message {
    tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("a frame in time")
        .expect("socket open")
        .expect("a frame")
}

async fn close_code(ws: &mut Ws) -> u16 {
    loop {
        if let Message::Close(f) = next(ws).await {
            return f.map_or(1005, |f| u16::from(f.code));
        }
    }
}

#[tokio::test]
async fn the_session_endpoint_names_stsgate_and_costs_nothing() {
    let h = compat().await;
    let token = h.token("alice");
    let r = h
        .send(
            "GET",
            "/endpoints/messaging-session",
            &[("x-amz-security-token", &token), ("authorization", "AWS4-HMAC-SHA256 Credential=stsgate/20260101/us-east-1/chime/aws4_request, SignedHeaders=host, Signature=00")],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["Endpoint"]["Url"], PUBLIC);
    assert!(h.standins.sts.calls().is_empty());
    assert!(h.standins.chime.received().is_empty());
}

#[tokio::test]
async fn a_stock_presigned_connect_reaches_chime_as_the_caller() {
    let h = compat().await;
    let mut ws = open(&h, &stock_presign(&h.token("alice"), "alice")).await;
    let Message::Text(t) = next(&mut ws).await else {
        panic!("expected text")
    };
    assert!(t.contains("SESSION_ESTABLISHED"));
    let connect = h
        .standins
        .chime
        .received()
        .into_iter()
        .find(|r| r.path() == "/connect")
        .unwrap();
    let q: HashMap<String, String> = form_urlencoded::parse(connect.query().unwrap().as_bytes())
        .into_owned()
        .collect();
    assert_eq!(q["userArn"], user_arn("alice"));
    assert_eq!(q["sessionId"], "4242");
    assert!(
        !q.contains_key("X-Amzn-User-Agent"),
        "the client's presign parameters stay here"
    );
    assert_ne!(q["X-Amz-Signature"], "0000");
    assert_ne!(q["X-Amz-Security-Token"], h.token("alice"));
}

#[tokio::test]
async fn refused_sockets_close_with_codes_the_sdk_acts_on() {
    let h = compat().await;
    // Someone else's userArn: forbidden, the SDK stops.
    let mut ws = open(&h, &stock_presign(&h.token("alice"), "bob")).await;
    assert_eq!(close_code(&mut ws).await, 4003);
    // An expired token: unauthorised, the SDK stops.
    let idp = &h.standins.idp;
    let mut claims = idp.claims_for("alice", AUDIENCE);
    claims["exp"] = 1.into();
    let expired = idp.sign(stsgate_standins::idp::RSA_KID, &claims);
    let mut ws = open(&h, &stock_presign(&expired, "alice")).await;
    assert_eq!(close_code(&mut ws).await, 4401);
    // STS down: a code the SDK retries.
    h.standins
        .sts
        .set_behaviour(stsgate_standins::sts::StsBehaviour {
            fail: Some((503, "ServiceUnavailable")),
            ..Default::default()
        });
    let mut ws = open(&h, &stock_presign(&h.token("carol"), "carol")).await;
    assert_eq!(close_code(&mut ws).await, 1013);
    assert!(
        h.standins.chime.received().is_empty(),
        "nothing reached Chime"
    );
    assert_eq!(
        h.metric("stsgate_token_rejections_total{reason=\"expired\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn pings_and_pongs_cross_both_legs() {
    let h = compat().await;
    let mut ws = open(&h, &stock_presign(&h.token("alice"), "alice")).await;
    let _established = next(&mut ws).await;
    // The client pings: it gets its pong, and the ping reaches Chime.
    ws.send(Message::Ping(b"from-client".to_vec().into()))
        .await
        .unwrap();
    loop {
        if let Message::Pong(p) = next(&mut ws).await {
            assert_eq!(&p[..], b"from-client");
            break;
        }
    }
    // Chime pings: the client sees it and its pong reaches Chime.
    h.standins
        .chime
        .broadcast(SocketEvent::Ping(b"from-chime".to_vec()));
    loop {
        if let Message::Ping(p) = next(&mut ws).await {
            assert_eq!(&p[..], b"from-chime");
            break;
        }
    }
    // The client's pong leaves when it next reads; keep reading until Chime has it.
    let pong = Control::Pong(b"from-chime".to_vec());
    for _ in 0..100 {
        if h.standins.chime.control_frames().contains(&pong) {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), ws.next()).await;
    }
    let seen = h.standins.chime.control_frames();
    assert!(
        seen.contains(&Control::Ping(b"from-client".to_vec())),
        "{seen:?}"
    );
    assert!(seen.contains(&pong), "{seen:?}");
}

#[tokio::test]
async fn shutdown_closes_bridged_sockets_with_1001() {
    let h = compat().await;
    let mut ws = open(&h, &stock_presign(&h.token("alice"), "alice")).await;
    let _established = next(&mut ws).await;
    let Harness {
        standins, gateway, ..
    } = h;
    let stopping = tokio::spawn(gateway.shutdown());
    assert_eq!(close_code(&mut ws).await, 1001);
    stopping.await.unwrap();
    drop(standins);
}

#[tokio::test]
async fn who_am_i_names_the_chime_user_and_no_aws_keys() {
    let h = compat().await;
    let idp = &h.standins.idp;
    let mut claims = idp.claims_for("alice", AUDIENCE);
    claims["name"] = "Alice Liddell".into();
    let token = idp.sign(stsgate_standins::idp::RSA_KID, &claims);
    let r = h
        .send(
            "GET",
            "/me",
            &[("authorization", &format!("Bearer {token}"))],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(v["ChimeAppInstanceUserArn"], user_arn("alice"));
    assert_eq!(v["ChimeUserId"], "alice");
    assert_eq!(v["ChimeDisplayName"], "Alice Liddell");
    assert!(v["Expiration"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v.as_object().unwrap().len(), 4, "no credentials: {v}");
    assert_eq!(r.headers["cache-control"], "no-store");
    assert!(h.standins.sts.calls().is_empty());
    // The same through the session-token carrier; without a token, the usual 401.
    let r = h
        .send(
            "GET",
            "/me",
            &[("x-amz-security-token", &h.token("bob"))],
            "",
        )
        .await;
    assert_eq!(
        r.json()["ChimeDisplayName"],
        "bob",
        "the user id when there is no name"
    );
    assert_eq!(
        h.send("GET", "/me", &[], "").await.status,
        StatusCode::UNAUTHORIZED
    );
}
