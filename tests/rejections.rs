//! Refusals the hostile table (`hostile/`) cannot express as one request: a chunked body that
//! outgrows the limit mid-stream, and dependencies that fail (STS refusing or down, the upstream
//! unreachable or silent), each mapped to 403/502/503/504 as documented.

use crate::support::{Harness, message_body, messages_path};
use http::StatusCode;
use stsgate_standins::sts::StsBehaviour;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn chunked_oversize_body_is_refused_without_content_length() {
    let h = Harness::start().await;
    let token = h.token("alice");
    let mut s = tokio::net::TcpStream::connect(h.gateway.proxy_addr)
        .await
        .unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n",
        messages_path()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..20 {
        let frame = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk.clone(),
            b"\r\n".to_vec(),
        ]
        .concat();
        if s.write_all(&frame).await.is_err() {
            break; // the proxy may answer and close early
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut reply = Vec::new();
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut reply)).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(h.standins.sts.calls().is_empty());
    assert!(h.standins.chime.received().is_empty());
}

#[tokio::test]
async fn sts_refusal_is_403_and_sts_outage_is_503_with_retry_after() {
    // A short STS budget: the outage is retried for 2 s, not the default 10.
    let h = Harness::start_with(|c| c.sts.timeout_seconds = 2).await;
    h.standins.sts.set_behaviour(StsBehaviour {
        fail: Some((403, "AccessDenied")),
        ..Default::default()
    });
    let r = h.call("alice", "GET", &messages_path(), "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.json()["error"], "sts_denied");
    assert_eq!(
        h.metric("stsgate_sts_assume_role_errors_total{code=\"AccessDenied\"}")
            .await,
        1.0
    );

    h.standins.sts.set_behaviour(StsBehaviour {
        fail: Some((500, "InternalFailure")),
        ..Default::default()
    });
    let r = h.call("bob", "GET", &messages_path(), "").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.json()["error"], "sts_unavailable");
    assert_eq!(r.headers["retry-after"], "5");
    assert!(
        !r.body.contains("InternalFailure"),
        "STS details stay in the log"
    );
    assert!(h.standins.chime.received().is_empty());

    // Failures are not cached: STS back, the same user succeeds.
    h.standins.sts.set_behaviour(StsBehaviour::default());
    let r = h
        .call("bob", "POST", &messages_path(), &message_body("back"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let h = Harness::start_with(|c| {
        c.upstream.endpoint = Some(format!("http://{closed}").parse().unwrap())
    })
    .await;
    let r = h.call("alice", "GET", &messages_path(), "").await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.body);
    assert_eq!(r.json()["error"], "upstream_unavailable");
}

#[tokio::test]
async fn silent_upstream_is_504() {
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let h = Harness::start_with(|c| {
        c.upstream.endpoint = Some(format!("http://{addr}").parse().unwrap());
        c.upstream.timeout_seconds = 1;
    })
    .await;
    let r = h.call("alice", "GET", &messages_path(), "").await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{}", r.body);
    assert_eq!(r.json()["error"], "upstream_timeout");
}
