//! Start-up and shutdown as a platform runs them: on shutdown `/readyz` turns 503 at once, new
//! connections are refused, bridged WebSockets close with 1001, and requests in flight finish;
//! start-up fails fast, naming the cause, for a port in use.

use crate::support::toml_keys::{edit, set};
use crate::support::{Harness, SETTLE, eventually, messages_path};
use futures_util::StreamExt;
use http::StatusCode;
use std::process::Command;
use std::time::Duration;
use stsgate_standins::sts::StsBehaviour;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_in_flight_work_and_says_so_at_once() {
    let h = Harness::start().await;
    let url = format!(
        "ws://{}/connect?token={}",
        h.gateway.proxy_addr,
        h.token("alice")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let _established = ws.next().await;
    // A request still waiting on STS when shutdown begins.
    h.standins.sts.set_behaviour(StsBehaviour {
        delay: Duration::from_millis(1500),
        ..Default::default()
    });
    let (proxy, admin) = (h.gateway.proxy_addr, h.gateway.admin_addr);
    let token = h.token("bob");
    let in_flight = tokio::spawn(async move {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Full<bytes::Bytes>>();
        let req = http::Request::get(format!("http://{proxy}{}", messages_path()))
            .header("authorization", format!("Bearer {token}"))
            .body(Default::default())
            .unwrap();
        client.request(req).await.map(|r| r.status())
    });
    eventually(SETTLE, "bob's request is waiting on STS", || async {
        h.metric("stsgate_sts_assume_role_in_flight").await == 1.0
    })
    .await;

    let crate::support::Harness {
        standins, gateway, ..
    } = h;
    let stopping = tokio::spawn(gateway.shutdown());
    // Readiness turns first, then the listener closes.
    eventually(SETTLE, "the listener closes", || async {
        tokio::net::TcpStream::connect(proxy).await.is_err()
    })
    .await;
    // Not ready any more, while the drain goes on.
    let ready = plain_get(&format!("http://{admin}/readyz")).await;
    assert_eq!(ready.0, 503, "{}", ready.1);
    assert!(ready.1.contains("\"draining\":true"), "{}", ready.1);
    // No new connections.
    assert!(
        tokio::net::TcpStream::connect(proxy).await.is_err(),
        "still accepting"
    );
    // The bridged socket was told to reconnect elsewhere.
    let close = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                other => panic!("{other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(close, Some(1001));
    // The request in flight finished normally.
    assert_eq!(in_flight.await.unwrap().unwrap(), StatusCode::OK);
    stopping.await.unwrap();
    drop(standins);
}

/// A GET with a fresh plain client: status and body.
async fn plain_get(url: &str) -> (u16, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let resp = client.get(url.parse().unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn a_port_in_use_stops_start_up_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/stsgate.example.toml"
    ))
    .unwrap();
    let config = edit(&example, |t| {
        set(t, "listen", addr.to_string());
        set(t, "admin_listen", "127.0.0.1:0");
    });
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), config).unwrap();
    let out = crate::support::output_of_exiting(
        Command::new(env!("CARGO_BIN_EXE_stsgate"))
            .arg("--config")
            .arg(f.path())
            .env_remove("RUST_LOG"),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on {addr} (listen)")),
        "{err}"
    );
}
