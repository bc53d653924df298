//! stsgate as separate processes (the binary, as a Deployment's replicas run it), each with its
//! own config file, pointed at one set of stand-ins; logs kept for checks.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stsgate_standins::StandIns;

pub struct Replica {
    child: Child,
    pub proxy: String,
    pub admin: String,
    logs: Arc<Mutex<String>>,
    _config: tempfile::NamedTempFile,
}

impl Replica {
    /// Starts the binary on `config` with stsgate's own AWS keys (the ones the STS stand-in
    /// trusts) and `env`, and waits until it is ready.
    pub async fn start(standins: &StandIns, config: &str, env: &[(&str, &str)]) -> Replica {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, config.as_bytes()).unwrap();
        let base = &standins.base_credentials;
        let mut child = Command::new(env!("CARGO_BIN_EXE_stsgate"))
            .args(["--log-format", "json", "--config"])
            .arg(file.path())
            .env_remove("STSGATE_CONFIG")
            .env("RUST_LOG", "info")
            .env("AWS_ACCESS_KEY_ID", base.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", base.secret_access_key())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/stsgate-test")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/stsgate-test")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let sink = logs.clone();
        // Reads every line, so a chatty replica never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut line = String::new();
            while err.read_line(&mut line).unwrap_or(0) > 0 {
                if line.contains("stsgate listening") {
                    let _ = tx.send(line.clone());
                }
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("replica did not start:\n{}", logs.lock().unwrap()));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let addr = |k: &str| format!("http://{}", v["fields"][k].as_str().unwrap());
        let r = Replica {
            child,
            proxy: addr("proxy_addr"),
            admin: addr("admin_addr"),
            logs,
            _config: file,
        };
        r.wait_ready().await;
        r
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while get(&format!("{}/readyz", self.admin), None).await.0 != 200 {
            assert!(
                Instant::now() < deadline,
                "replica not ready:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// One metric series' value (0 if absent).
    pub async fn metric(&self, series: &str) -> f64 {
        let text = get(&format!("{}/metrics", self.admin), None).await.1;
        text.lines()
            .filter_map(|l| l.rsplit_once(' '))
            .find(|(name, _)| *name == series)
            .map_or(0.0, |(_, v)| v.parse().unwrap())
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET url`, with `Authorization: Bearer` when given: status and body.
pub async fn get(url: &str, bearer: Option<&str>) -> (u16, String) {
    // One client per call: each test has its own runtime, and a pooled connection would not
    // outlive it.
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut req = http::Request::get(url);
    if let Some(token) = bearer {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let resp = client
        .request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}
