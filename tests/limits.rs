//! Limits that hold under abuse, over raw sockets: slow headers, idle connections, stalled
//! bodies, the connection cap, a WebSocket client that stops reading, the per-user socket cap,
//! and an issuer whose keys never loaded.

use crate::support::{Harness, SETTLE, eventually, messages_path};
use futures_util::StreamExt;
use http::StatusCode;
use std::time::Duration;
use stsgate_standins::AUDIENCE;
use stsgate_standins::chime::SocketEvent;
use stsgate_standins::idp::IdpStandIn;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or `within` passes); returns what arrived.
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    match tokio::time::timeout(within, s.read_to_end(&mut got)).await {
        Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    let h = Harness::start_with(|c| {
        c.header_read_timeout_seconds = 1;
        c.idle_timeout_seconds = 2;
    })
    .await;
    // Half a request's headers, then nothing.
    let mut slow = TcpStream::connect(h.gateway.proxy_addr).await.unwrap();
    slow.write_all(b"GET /channels HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    assert!(
        read_until_closed(&mut slow, Duration::from_secs(5))
            .await
            .is_some(),
        "a slow client is not held"
    );
    // Nothing at all.
    let mut silent = TcpStream::connect(h.gateway.proxy_addr).await.unwrap();
    assert!(
        read_until_closed(&mut silent, Duration::from_secs(5))
            .await
            .is_some()
    );
    // One request, then an idle keep-alive connection.
    let mut idle = TcpStream::connect(h.gateway.proxy_addr).await.unwrap();
    idle.write_all(b"GET /channels HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let reply = read_until_closed(&mut idle, Duration::from_secs(6))
        .await
        .unwrap();
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
    let timeouts = h
        .metric("stsgate_connection_timeouts_total{kind=\"header\"}")
        .await
        + h.metric("stsgate_connection_timeouts_total{kind=\"idle\"}")
            .await;
    assert!(timeouts >= 3.0, "{timeouts}");
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_and_costs_nothing() {
    let h = Harness::start_with(|c| c.body_read_timeout_seconds = 1).await;
    let mut s = TcpStream::connect(h.gateway.proxy_addr).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"Con",
        messages_path(),
        h.token("alice")
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("answered")
        .unwrap();
    let reply = String::from_utf8_lossy(&buf[..n]);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("request_timeout"), "{reply}");
    assert_eq!(
        h.metric("stsgate_limit_refusals_total{limit=\"body_read_timeout\"}")
            .await,
        1.0
    );
    assert!(h.standins.sts.calls().is_empty());
    assert!(h.standins.chime.received().is_empty());
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once() {
    let h = Harness::start_with(|c| c.max_connections = 2).await;
    let held: Vec<TcpStream> =
        futures_util::future::join_all((0..2).map(|_| TcpStream::connect(h.gateway.proxy_addr)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    let open = &h.gateway.metrics.connections_open;
    let before = open.get();
    eventually(SETTLE, "both held connections are accepted", || async {
        open.get() == before + 2
    })
    .await;
    let mut third = TcpStream::connect(h.gateway.proxy_addr).await.unwrap();
    let _ = third
        .write_all(b"GET /channels HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let reply = read_until_closed(&mut third, Duration::from_secs(2)).await;
    assert_eq!(reply.as_deref(), Some(""), "closed without an answer");
    assert_eq!(h.metric("stsgate_connections_refused_total").await, 1.0);
    drop(held);
}

#[tokio::test]
async fn a_bridged_websocket_holds_its_connection_slot() {
    let h = Harness::start_with(|c| c.max_connections = 1).await;
    let url = format!(
        "ws://{}/connect?token={}",
        h.gateway.proxy_addr,
        h.token("alice")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let first = ws.next().await.unwrap().unwrap();
    assert!(first.to_text().unwrap().contains("SESSION_ESTABLISHED"));
    // hyper is done with the upgraded connection; the WebSocket still takes the one slot.
    let request = b"GET /channels HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    let mut beyond = TcpStream::connect(h.gateway.proxy_addr).await.unwrap();
    let _ = beyond.write_all(request).await;
    let reply = read_until_closed(&mut beyond, Duration::from_secs(2)).await;
    assert_eq!(reply.as_deref(), Some(""), "closed without an answer");
    assert_eq!(h.metric("stsgate_connections_refused_total").await, 1.0);
    // Once the WebSocket closes, its slot is free again.
    futures_util::SinkExt::close(&mut ws).await.unwrap();
    let mut answered = None;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut next = TcpStream::connect(h.gateway.proxy_addr).await.unwrap();
        let _ = next.write_all(request).await;
        let reply = read_until_closed(&mut next, Duration::from_secs(2)).await;
        if reply.as_deref().is_some_and(|r| !r.is_empty()) {
            answered = reply;
            break;
        }
    }
    let answered = answered.expect("a connection is served after the WebSocket closed");
    assert!(answered.starts_with("HTTP/1.1 401"), "{answered}");
}

#[tokio::test]
async fn a_websocket_client_that_stops_reading_does_not_pin_the_bridge() {
    let h = Harness::start_with(|c| {
        c.chime.websocket_send_timeout_seconds = 1;
        c.chime.websocket_idle_seconds = 2;
    })
    .await;
    let url = format!(
        "ws://{}/connect?token={}",
        h.gateway.proxy_addr,
        h.token("alice")
    );
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    // Never read again, while Chime pushes far more than the socket buffers hold.
    let frame = "x".repeat(64 * 1024);
    for _ in 0..300 {
        h.standins
            .chime
            .broadcast(SocketEvent::Frame(frame.clone()));
    }
    let mut closed = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if h.metric("stsgate_websocket_open").await == 0.0
            && h.metric("stsgate_websocket_closes_total{code=\"1006\"}")
                .await
                >= 1.0
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "the relay gave up on a client that stopped reading");
    drop(ws);
}

#[tokio::test]
async fn each_user_has_a_cap_on_open_sockets() {
    let h = Harness::start_with(|c| c.chime.websocket_max_per_user = 1).await;
    let url = format!(
        "ws://{}/connect?token={}",
        h.gateway.proxy_addr,
        h.token("alice")
    );
    let (mut first, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let _ = first.next().await; // SESSION_ESTABLISHED
    // The second is refused after its upgrade with 1013 ("try again later"): the SDK retries.
    let (mut second, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    match second.next().await {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f)))) => {
            assert_eq!(u16::from(f.code), 1013)
        }
        other => panic!("second socket: {other:?}"),
    }
    assert_eq!(
        h.metric("stsgate_requests_total{operation=\"Connect\",status=\"429\"}")
            .await,
        1.0
    );
    assert_eq!(
        h.metric("stsgate_limit_refusals_total{limit=\"websocket_max_per_user\"}")
            .await,
        1.0
    );
    // Another user is not affected.
    let bob = format!(
        "ws://{}/connect?token={}",
        h.gateway.proxy_addr,
        h.token("bob")
    );
    assert!(tokio_tungstenite::connect_async(&bob).await.is_ok());
}

#[tokio::test]
async fn an_issuer_whose_keys_never_loaded_costs_no_fetch_per_forged_token() {
    let dead = IdpStandIn::start().await.unwrap();
    dead.set_jwks_down(true);
    let h = Harness::start_with(|c| {
        let mut other = c.issuers[0].clone();
        other.name = Some("other".into());
        other.issuer = dead.issuer.clone();
        c.issuers.push(other);
    })
    .await;
    // The start-up loop's first attempts (200 ms apart, then backing off) are behind us: each
    // closes the refetch gate for tokens, and the next is far enough off.
    eventually(
        SETTLE,
        "two start-up fetches of the dead issuer",
        || async { dead.jwks_fetches() >= 2 },
    )
    .await;
    let before = dead.jwks_fetches();
    for _ in 0..20 {
        let forged = dead.token_for("mallory", AUDIENCE);
        let r = h
            .send(
                "GET",
                &messages_path(),
                &[("authorization", &format!("Bearer {forged}"))],
                "",
            )
            .await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    }
    assert!(
        dead.jwks_fetches() - before <= 1,
        "{} fetches for 20 tokens",
        dead.jwks_fetches() - before
    );
    assert!(h.standins.sts.calls().is_empty());
}

#[tokio::test]
async fn oversized_headers_get_431_before_authentication() {
    let h = Harness::start_with(|c| {
        (c.max_token_bytes, c.max_saml_bytes) = (2048, 2048);
        c.max_header_bytes = 4096;
    })
    .await;
    let auth = format!("Bearer {}", h.token("alice"));
    let padding = "p".repeat(5000);
    let r = h
        .send(
            "GET",
            &messages_path(),
            &[("authorization", &auth), ("x-padding", &padding)],
            "",
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "{}",
        r.body
    );
    assert_eq!(r.json()["error"], "headers_too_large");
    assert!(!r.body.contains(&padding[..64]), "the header is not echoed");
    assert!(h.standins.sts.calls().is_empty());
    assert!(h.standins.chime.received().is_empty());
    let refused = h
        .metric("stsgate_limit_refusals_total{limit=\"max_header_bytes\"}")
        .await;
    assert_eq!(refused, 1.0);
    // The same request without the padding passes.
    let r = h
        .send("GET", &messages_path(), &[("authorization", &auth)], "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn a_user_over_its_rate_gets_429_and_others_do_not() {
    let h = Harness::start_with(|c| c.max_requests_per_user_per_second = 1).await;
    let path = messages_path();
    assert_eq!(
        h.call("alice", "GET", &path, "").await.status,
        StatusCode::OK
    );
    let r = h.call("alice", "GET", &path, "").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.json()["error"], "rate_limited");
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(h.call("bob", "GET", &path, "").await.status, StatusCode::OK);
    assert_eq!(
        h.standins.sts.calls().len(),
        2,
        "one session per user, none for the refusal"
    );
    assert_eq!(
        h.standins.chime.received().len(),
        2,
        "the refusal is not forwarded"
    );
    let limited = h
        .metric("stsgate_requests_total{operation=\"ListChannelMessages\",status=\"429\"}")
        .await;
    assert_eq!(limited, 1.0);
    let refused = h
        .metric("stsgate_limit_refusals_total{limit=\"max_requests_per_user_per_second\"}")
        .await;
    assert_eq!(refused, 1.0);
    // A second later alice has a token again (refused without one until then).
    let last = std::cell::Cell::new(StatusCode::TOO_MANY_REQUESTS);
    eventually(
        Duration::from_millis(1100),
        "alice's bucket refills",
        || async {
            last.set(h.call("alice", "GET", &path, "").await.status);
            last.get() != StatusCode::TOO_MANY_REQUESTS
        },
    )
    .await;
    assert_eq!(last.get(), StatusCode::OK);
}
