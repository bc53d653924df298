//! Real Chromium (Debian's `chromium`, driven by Playwright) against stsgate on loopback, with
//! real clients nobody here wrote: a page bundled from the npm packages
//! `@aws-sdk/client-chime-sdk-messaging` and `amazon-chime-sdk-js`, unmodified, in session-token
//! mode, over stsgate's own TLS listener (the Chime SDK only speaks `wss://`; the browser trusts
//! exactly the test certificate's key); and `stsgate demo`'s chat page. `tests/setup.sh`
//! installs Chromium and the npm packages; `STSGATE_SKIP_BROWSER=1` skips where they are absent.

use crate::support::Harness;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Response, header};
use http_body_util::Full;
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::process::Command;
use stsgate::config::{CorsConfig, TlsConfig};
use stsgate_standins::page::ChatPage;
use stsgate_standins::{APP_INSTANCE_ARN, AUDIENCE, demo_channel_arn};
use tokio::net::TcpListener;

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Chromium, the npm packages and the bundle are there; missing ones fail the test unless
/// skipping is asked for.
fn browser_ready() -> bool {
    let dir = browser_dir();
    let ready = Path::new("/usr/bin/chromium").exists()
        && dir.join("node_modules/playwright-core").exists()
        && dir.join("dist/sdk-page.js").exists();
    if !ready {
        assert!(
            std::env::var("STSGATE_SKIP_BROWSER").is_ok(),
            "Chromium and tests/browser's npm packages are required (tests/setup.sh), or set STSGATE_SKIP_BROWSER=1"
        );
        eprintln!("skipped: browser tools not installed");
    }
    ready
}

/// `node run.mjs` with `args`, on a thread of its own (stsgate runs on this test's runtime).
async fn run_browser(args: Vec<String>) -> serde_json::Value {
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(browser_dir().join("run.mjs"))
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "run.mjs failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A self-signed certificate for `localhost`, its key, and the base64 SHA-256 of its
/// SubjectPublicKeyInfo (what Chromium's `--ignore-certificate-errors-spki-list` names).
fn localhost_certificate(dir: &Path) -> (PathBuf, PathBuf, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let spki = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(
        rcgen::PublicKeyData::subject_public_key_info(&key),
    ));
    (cert_file, key_file, spki)
}

/// Serves `tests/browser/index.html` and its bundle from their own origin.
async fn sdk_page_server() -> (String, tokio::sync::watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(stsgate_standins::http::serve(
        listener,
        |req: http::Request<hyper::body::Incoming>| async move {
            let (file, kind) = match req.uri().path() {
                "/dist/sdk-page.js" => ("dist/sdk-page.js", "text/javascript"),
                _ => ("index.html", "text/html"),
            };
            let mut r = Response::new(Full::new(Bytes::from(
                std::fs::read(browser_dir().join(file)).unwrap(),
            )));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            r
        },
        rx,
    ));
    (origin, tx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stock_chime_sdks_work_from_a_browser_page() {
    if !browser_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file, spki) = localhost_certificate(dir.path());
    let (page_origin, _page) = sdk_page_server().await;
    // stsgate's public URL names its own port, so the listener's port is chosen first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let public = format!("https://localhost:{port}");
    let h = Harness::start_with(|c| {
        c.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.tls = Some(TlsConfig::new(cert_file, key_file));
        c.public_url = Some(public.parse().unwrap());
        c.compat.session_token_auth = true;
        c.cors = Some(CorsConfig {
            allowed_origins: vec![page_origin.clone()],
            allow_credentials: false,
            max_age_seconds: 600,
        });
    })
    .await;
    let config = serde_json::json!({
        "endpoint": public,
        "region": "us-east-1",
        "token": h.token("alice"),
        "badToken": "not.a.token",
        "userArn": format!("{APP_INSTANCE_ARN}/user/alice"),
        "channelArn": demo_channel_arn(),
        "wsTimeoutMs": 10000,
    });
    let report = run_browser(vec![
        "--page-url".into(),
        format!("{page_origin}/"),
        "--config".into(),
        config.to_string(),
        "--spki".into(),
        spki,
    ])
    .await;

    // REST in session-token mode: sent and listed.
    assert!(report["send"]["messageId"].is_string(), "{report}");
    assert!(
        report["list"]["contents"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "{report}"
    );
    // DefaultMessagingSession with its default signer: connected to stsgate (the session
    // endpoint named it), and a message sent over REST came back over the socket.
    let ws = &report["ws"];
    assert_eq!(ws["started"], true, "{report}");
    assert_eq!(ws["echoReceived"], true, "{report}");
    let url = &ws["urls"][0];
    assert_eq!(
        url["base"],
        format!("wss://localhost:{port}/connect"),
        "{report}"
    );
    let params: Vec<&str> = url["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        params.contains(&"X-Amz-Security-Token") && params.contains(&"userArn"),
        "{params:?}"
    );
    // stsgate's refusal reaches the page as the Chime exception, not as a network error.
    let bad = &report["badToken"]["error"];
    assert_eq!(bad["name"], "UnauthorizedClientException", "{report}");
    assert_eq!(bad["httpStatusCode"], 401);
    assert_eq!(bad["networkError"], false);
    // No token left the page, and the browser saw no CORS or TLS failure.
    let text = report.to_string();
    assert!(!text.contains(&h.token("alice")));
    assert!(
        !text.contains("CORS") && !text.contains("ERR_CERT"),
        "{report}"
    );
    assert_eq!(h.standins.sts.calls().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_chat_page_works_in_a_browser() {
    if !browser_ready() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_origin = format!("http://{}", listener.local_addr().unwrap());
    let h = Harness::start_with(|c| {
        c.cors = Some(CorsConfig {
            allowed_origins: vec![page_origin.clone()],
            allow_credentials: false,
            max_age_seconds: 600,
        });
    })
    .await;
    let proxy = h.gateway.proxy_addr;
    let page = ChatPage::start(
        listener,
        serde_json::json!({
            "proxy": format!("http://{proxy}"),
            "proxyWs": format!("ws://{proxy}"),
            "channelArn": demo_channel_arn(),
            "tokens": {
                "alice": h.standins.idp.token_for("alice", AUDIENCE),
                "bob": h.standins.idp.token_for("bob", AUDIENCE),
            },
        }),
    )
    .unwrap();
    let mut args = vec![
        "--scenario".to_owned(),
        "demo".into(),
        "--page-url".into(),
        format!("{}/", page.origin()),
    ];
    // STSGATE_SCREENSHOT=docs/demo-chat.png refreshes the README's picture.
    if let Ok(path) = std::env::var("STSGATE_SCREENSHOT") {
        args.extend(["--screenshot".into(), path]);
    }
    let report = run_browser(args).await;
    assert_eq!(
        report["statuses"],
        serde_json::json!(["connected", "connected"]),
        "{report}"
    );
    let bob: Vec<&str> = report["bob"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(bob.iter().any(|m| m.starts_with("hello bob")), "{report}");
    assert!(
        report["alice"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "hi alice!"),
        "{report}"
    );
    assert_eq!(h.standins.sts.calls().len(), 2, "one session each");
}
