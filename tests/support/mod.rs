//! Shared test harness: the stand-ins with the independent signature verifier, stsgate started
//! on loopback, and a plain HTTP client.
#![allow(dead_code)]

pub mod python;
pub mod redis;
pub mod replica;
pub mod sigv4;
pub mod toml_keys;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::sync::Arc;
use stsgate::app::Running;
use stsgate::clock::ManualClock;
use stsgate::config::Config;
use stsgate_standins::{AUDIENCE, StandIns};

pub const LOOPBACK_ANY: &str = "127.0.0.1:0";

pub struct Harness {
    pub standins: StandIns,
    pub gateway: Running,
    client: Client<HttpConnector, Full<Bytes>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub fn any_port() -> SocketAddr {
    LOOPBACK_ANY.parse().unwrap()
}

/// The config the stand-ins write for stsgate (what an operator would), on free ports.
pub fn standins_config(standins: &StandIns) -> Config {
    stsgate::config::parse(&standins.config_toml(any_port(), any_port())).unwrap()
}

/// stsgate's own AWS identity: the keys the STS stand-in trusts.
pub fn overrides(standins: &StandIns) -> stsgate::app::Overrides {
    stsgate::app::Overrides::with_base_credentials(standins.base_credentials.clone())
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with the stand-ins' config, edited by `edit` before it is validated.
    pub async fn start_with(edit: impl FnOnce(&mut Config)) -> Self {
        Self::start_with_standins(|_, c| edit(c)).await
    }

    /// As [`Harness::start_with`], for edits that need the stand-ins (their keys, say).
    pub async fn start_with_standins(edit: impl FnOnce(&StandIns, &mut Config)) -> Self {
        Self::start_full(edit, None).await
    }

    /// stsgate on a clock the test moves (the stand-ins keep real time).
    pub async fn start_with_clock(edit: impl FnOnce(&mut Config), clock: ManualClock) -> Self {
        Self::start_full(|_, c| edit(c), Some(Arc::new(clock))).await
    }

    /// As [`Harness::start_with`], without waiting for `/readyz` over plain HTTP (for an admin
    /// listener that speaks TLS).
    pub async fn start_unready(edit: impl FnOnce(&mut Config)) -> Self {
        Self::launch(|_, c| edit(c), None).await
    }

    async fn start_full(
        edit: impl FnOnce(&StandIns, &mut Config),
        clock: Option<stsgate::clock::SharedClock>,
    ) -> Self {
        let h = Self::launch(edit, clock).await;
        h.wait_ready().await;
        h
    }

    async fn launch(
        edit: impl FnOnce(&StandIns, &mut Config),
        clock: Option<stsgate::clock::SharedClock>,
    ) -> Self {
        let standins = StandIns::start(Arc::new(sigv4::IndependentCheck))
            .await
            .unwrap();
        let mut config = standins_config(&standins);
        edit(&standins, &mut config);
        let settings = stsgate::config::validate(&config).unwrap();
        let overrides = stsgate::app::Overrides {
            clock,
            ..overrides(&standins)
        };
        let gateway = stsgate::app::start(settings, overrides).await.unwrap();
        let client = Client::builder(TokioExecutor::new()).build_http();
        Harness {
            standins,
            gateway,
            client,
        }
    }

    pub fn token(&self, sub: &str) -> String {
        self.standins.idp.token_for(sub, AUDIENCE)
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.gateway.proxy_addr));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send_request(req.body(Full::new(Bytes::from(body.to_owned()))).unwrap())
            .await
    }

    pub async fn send_request(&self, req: Request<Full<Bytes>>) -> Reply {
        let resp = self.client.request(req).await.expect("stsgate answers");
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// As `sub`, with a bearer token.
    pub async fn call(&self, sub: &str, method: &str, path: &str, body: &str) -> Reply {
        let auth = format!("Bearer {}", self.token(sub));
        let mut headers = vec![("authorization", auth.as_str())];
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        self.send(method, path, &headers, body).await
    }

    /// As `sub`, with a signed SAML assertion from the stand-in IdP.
    pub async fn call_saml(&self, sub: &str, method: &str, path: &str, body: &str) -> Reply {
        let auth = format!("SAML {}", self.standins.saml_assertion_for(sub));
        let mut headers = vec![("authorization", auth.as_str())];
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        self.send(method, path, &headers, body).await
    }

    pub async fn admin(&self, path: &str) -> Reply {
        let req = Request::get(format!("http://{}{path}", self.gateway.admin_addr))
            .body(Full::new(Bytes::new()))
            .unwrap();
        self.send_request(req).await
    }

    /// The value of one metric series, e.g. `stsgate_requests_total{operation="SendChannelMessage",status="201"}`; 0 if absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.admin("/metrics").await.body;
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| {
                l.rsplit_once(' ')
                    .filter(|(name, _)| *name == series)
                    .map(|(_, v)| v.parse().unwrap())
            })
            .unwrap_or(0.0)
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if self.admin("/readyz").await.status == StatusCode::OK {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("stsgate did not become ready");
    }
}

/// The path of SendChannelMessage / ListChannelMessages for the demo channel, ARN encoded as SDKs do.
pub fn messages_path() -> String {
    format!(
        "/channels/{}/messages",
        stsgate_standins::encode_label(&stsgate_standins::demo_channel_arn())
    )
}

pub fn message_body(content: &str) -> String {
    serde_json::json!({"Content": content, "Type": "STANDARD", "Persistence": "PERSISTENT", "ClientRequestToken": "req-0001"}).to_string()
}

/// The access key id a received request was signed with.
pub fn access_key_of(r: &stsgate_standins::standin::ReceivedRequest) -> String {
    let auth = r.header("authorization").expect("signed request");
    let credential = auth
        .split("Credential=")
        .nth(1)
        .expect("Credential= in Authorization");
    credential.split('/').next().unwrap_or_default().to_owned()
}

/// Runs a command that is expected to exit (a start-up failure, `check`, `--help`) and returns
/// its output, killing it and failing the test if it is still running after 30 s: a config that
/// unexpectedly validates starts a server, which must fail the test rather than hang the suite.
pub fn output_of_exiting(cmd: &mut std::process::Command) -> std::process::Output {
    let stdout = tempfile::tempfile().unwrap();
    let stderr = tempfile::tempfile().unwrap();
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(stdout.try_clone().unwrap())
        .stderr(stderr.try_clone().unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("{cmd:?} was still running after 30 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut v = Vec::new();
        f.rewind().unwrap();
        f.read_to_end(&mut v).unwrap();
        v
    };
    std::process::Output {
        status,
        stdout: read(stdout),
        stderr: read(stderr),
    }
}

/// Waits until `ready` holds, checking every 20 ms; panics naming `what` if it does not hold
/// within `within`. A condition to poll for instead of a fixed sleep: the test goes on as soon
/// as it may, and a bound that matters to the behaviour (a second later, say) stays a bound.
pub async fn eventually<F: std::future::Future<Output = bool>>(
    within: std::time::Duration,
    what: &str,
    mut ready: impl FnMut() -> F,
) {
    let deadline = tokio::time::Instant::now() + within;
    while !ready().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// How long a condition that only needs the other side to get there may take.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(10);

/// The query the Chime JS SDK's default signer builds for `/connect`: the JWT as
/// `X-Amz-Security-Token`, a placeholder signature, and `userArn` when given.
pub fn stock_presign(token: &str, user_arn: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
        .append_pair(
            "X-Amz-Credential",
            "stsgate/20260101/us-east-1/chime/aws4_request",
        )
        .append_pair("X-Amz-Date", "20260101T000000Z")
        .append_pair("X-Amz-Expires", "10")
        .append_pair("X-Amz-Security-Token", token)
        .append_pair("X-Amz-SignedHeaders", "host")
        .append_pair("X-Amzn-User-Agent", "chrome-156")
        .append_pair("X-Amzn-Version", "3.32.0")
        .append_pair("sessionId", "4242");
    if let Some(arn) = user_arn {
        q.append_pair("userArn", arn);
    }
    q.append_pair("X-Amz-Signature", "0000").finish()
}
