//! The binary as users run it: the CLI contract, config errors, the demo's printed commands, the
//! standard AWS credential chain and endpoint variable, and logs free of secrets.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use stsgate_standins::{AUDIENCE, StandIns};
use toml::Table;

use crate::support::toml_keys::{edit, push, remove, set};

fn stsgate() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stsgate"));
    c.env_remove("STSGATE_CONFIG").env_remove("RUST_LOG");
    c
}

fn write_config(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
    f
}

fn sample_config() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/stsgate.example.toml"
    ))
    .unwrap()
}

#[test]
fn help_names_the_commands_and_options() {
    let out = stsgate().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["run", "demo", "check-config", "--config", "STSGATE_CONFIG"] {
        assert!(text.contains(word), "{word} missing from --help:\n{text}");
    }
}

#[test]
fn no_config_is_a_usage_error() {
    let out = stsgate().output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("STSGATE_CONFIG"));
}

#[test]
fn the_example_config_is_valid_via_flag_and_env() {
    let f = write_config(&sample_config());
    let out = stsgate()
        .args(["check-config", "--config"])
        .arg(f.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = stsgate()
        .arg("check-config")
        .env("STSGATE_CONFIG", f.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn config_errors_stop_start_up_and_name_the_key() {
    // Each case: a change to the example, and the key the error must name.
    type Change = fn(&mut Table);
    let cases: [(Change, &str); 7] = [
        (|t| set(t, "sts.role_arm", "typo"), "role_arm"),
        (
            |t| set(t, "sts.role_arn", "arn:aws:iam::111122223333:user/Chime"),
            "sts.role_arn",
        ),
        (
            |t| {
                let arn = "arn:aws:chime:us-east-1:111122223333:bogus/x";
                set(t, "chime.app_instance_arn", arn)
            },
            "chime.app_instance_arn",
        ),
        (
            |t| set(t, "sts.duration_seconds", 60),
            "sts.duration_seconds",
        ),
        (
            |t| {
                push(
                    t,
                    "saml_idps",
                    "entity_id = \"https://idp\"\ncertificate_files = [\"/nonexistent.pem\"]\naudiences = [\"a\"]\nrecipients = [\"r\"]",
                )
            },
            "saml_idps[0].certificate_files",
        ),
        (
            |t| {
                push(
                    t,
                    "saml_idps",
                    "entity_id = \"https://idp\"\nmetadata_file = \"/nonexistent.xml\"\naudiences = [\"a\"]\nrecipients = []",
                )
            },
            "saml_idps[0].recipients",
        ),
        (
            |t| {
                set(t, "tls.cert_file", "/nonexistent/tls.crt");
                set(t, "tls.key_file", "/nonexistent/tls.key");
            },
            "tls.cert_file: cannot read /nonexistent/tls.crt",
        ),
    ];
    for (change, key) in cases {
        let text = edit(&sample_config(), change);
        let f = write_config(&text);
        for cmd in [&["run"][..], &[][..]] {
            let out = crate::support::output_of_exiting(
                stsgate().args(cmd).arg("--config").arg(f.path()),
            );
            assert_eq!(out.status.code(), Some(78), "{key}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(key), "{key} not named in: {err}");
        }
    }
}

#[test]
fn check_shows_each_value_with_its_source_flag_over_env_over_file() {
    // The file leaves the signing region to the environment, as a Helm chart might.
    let text = edit(&sample_config(), |t| remove(t, "upstream.region"));
    let f = write_config(&text);
    let out = stsgate()
        .arg("check")
        .arg("--config")
        .arg(f.path())
        .args(["--set", "sts.timeout_seconds=12"])
        .env("STSGATE_UPSTREAM_REGION", "eu-west-1")
        .env("STSGATE_STS_TIMEOUT_SECONDS", "11")
        .env("STSGATE_SERVICE_HOST", "10.0.0.1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "upstream.region = \"eu-west-1\"  # env STSGATE_UPSTREAM_REGION",
        "sts.timeout_seconds = 12  # --set",
        "max_body_bytes = 1048576  # file",
        "chime.websocket_max_per_user = 10  # file",
        "max_requests_per_user_per_second = 0  # file",
        "# [tls] is not set",
        "# [[issuers]]: 1 from the file",
        "# STSGATE_SERVICE_HOST names no key and is ignored",
        "configuration is valid",
    ] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
    // Without the variable, the missing region is named.
    let out = stsgate()
        .arg("check")
        .arg("--config")
        .arg(f.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("region"));
    // A bad value names the variable it came from.
    let out = stsgate()
        .args(["check", "--config"])
        .arg(f.path())
        .env("STSGATE_UPSTREAM_REGION", "eu-west-1")
        .env("STSGATE_MAX_CONNECTIONS", "many")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("STSGATE_MAX_CONNECTIONS: max_connections must be an integer"),
        "{err}"
    );
}

/// Reads stderr lines until one contains `needle`, keeping everything read.
fn read_until(reader: &mut impl BufRead, needle: &str, seen: &mut String) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {needle:?}; saw:\n{seen}"
        );
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("stream closed before {needle:?}; saw:\n{seen}");
        }
        seen.push_str(&line);
        if line.contains(needle) {
            return line;
        }
    }
}

/// A bridged WebSocket to `url` whose first frame is Chime's SESSION_ESTABLISHED.
async fn established(
    url: String,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let first = futures_util::StreamExt::next(&mut socket)
        .await
        .unwrap()
        .unwrap();
    assert!(first.to_text().unwrap().contains("SESSION_ESTABLISHED"));
    socket
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "stsgate exited with {status}");
}

/// The runtime's size as `stsgate run` logs it: `worker_threads` when set (the manifests pass the
/// pod's CPU request that way), otherwise the CPUs the process may use, here one by `taskset`.
#[tokio::test]
async fn worker_threads_come_from_the_config_or_else_the_cpus_allowed() {
    let standins = StandIns::start(Arc::new(crate::support::sigv4::IndependentCheck))
        .await
        .unwrap();
    let any = crate::support::any_port;
    let f = write_config(&standins.config_toml(any(), any()));
    let logged = |set: Option<&str>| {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", env!("CARGO_BIN_EXE_stsgate")])
            .args(["--log-format", "json", "--config"])
            .arg(f.path())
            .env_remove("STSGATE_CONFIG")
            .env_remove("RUST_LOG")
            .env_remove("STSGATE_WORKER_THREADS")
            .stderr(Stdio::piped())
            .stdout(Stdio::null());
        if let Some(n) = set {
            c.env("STSGATE_WORKER_THREADS", n);
        }
        let mut child = c.spawn().unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let line = read_until(&mut err, "stsgate listening", &mut String::new());
        terminate(&mut child);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["fields"]["worker_threads"].as_u64()
    };
    assert_eq!(logged(None), Some(1));
    assert_eq!(logged(Some("3")), Some(3));
}

async fn http(method: &str, url: &str, headers: &[(String, String)], body: &str) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::from(body.to_owned()))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned(),
    )
}

/// Splits one printed `curl` line into method, URL, headers and body.
fn parse_curl(line: &str) -> (String, String, Vec<(String, String)>, String) {
    let quoted: Vec<&str> = line.split('\'').collect();
    let url = quoted[1].to_owned();
    let method = if line.contains("-X POST") {
        "POST"
    } else {
        "GET"
    }
    .to_owned();
    let mut headers = Vec::new();
    let mut body = String::new();
    for i in (1..quoted.len()).step_by(2) {
        let flag = quoted[i - 1].trim_end();
        if flag.ends_with("-H") {
            let (k, v) = quoted[i].split_once(": ").unwrap();
            headers.push((k.to_owned(), v.to_owned()));
        } else if flag.ends_with("-d") {
            body = quoted[i].to_owned();
        }
    }
    (method, url, headers, body)
}

#[tokio::test]
async fn demo_prints_commands_that_work() {
    let mut child = stsgate()
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--page-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    read_until(&mut out, "Ctrl-C", &mut seen);
    let curls: Vec<&str> = seen.lines().filter(|l| l.starts_with("curl ")).collect();
    assert_eq!(curls.len(), 6, "{seen}");
    let mut statuses = Vec::new();
    for line in &curls {
        let (method, url, headers, body) = parse_curl(line);
        let (status, text) = http(&method, &url, &headers, &body).await;
        statuses.push(status);
        if status == 200 && url.ends_with("/messages") {
            assert!(text.contains("hello from alice"), "{text}");
        }
        if url.ends_with("/me") {
            assert!(text.contains("\"ChimeUserId\":\"alice\""), "{text}");
        }
    }
    // alice sends; bob lists with a bearer and as a stock SDK; alice asks who she is; carol
    // lists with a SAML assertion; alice posing as bob is refused.
    assert_eq!(statuses, [201, 200, 200, 200, 200, 403], "{seen}");
    // The chat page and what it reads.
    let page = seen
        .lines()
        .find_map(|l| l.trim().strip_prefix("chat page:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let (status, html) = http("GET", &page, &[], "").await;
    assert_eq!(status, 200);
    assert!(html.contains("new WebSocket("), "{html}");
    let (status, config) = http("GET", &format!("{page}/config.json"), &[], "").await;
    assert_eq!(status, 200);
    assert!(
        config.contains("\"alice\"") && config.contains("proxyWs"),
        "{config}"
    );
    // The printed WebSocket URL opens alice's messaging socket through the bridge.
    let ws_url = seen
        .lines()
        .find_map(|l| l.strip_prefix("websocat '"))
        .unwrap()
        .trim_end_matches('\'');
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let first = futures_util::StreamExt::next(&mut ws)
        .await
        .unwrap()
        .unwrap();
    assert!(
        first.to_text().unwrap().contains("SESSION_ESTABLISHED"),
        "{first:?}"
    );
    let metrics_url = seen
        .lines()
        .find_map(|l| l.trim().strip_prefix("metrics:"))
        .unwrap()
        .trim()
        .to_owned();
    let (status, metrics) = http("GET", &metrics_url, &[], "").await;
    assert_eq!(status, 200);
    assert!(
        metrics
            .contains("stsgate_requests_total{operation=\"SendChannelMessage\",status=\"201\"} 1"),
        "{metrics}"
    );
    terminate(&mut child);
}

#[tokio::test]
async fn runs_on_the_standard_credential_chain_and_logs_no_secrets() {
    let standins = StandIns::start(Arc::new(crate::support::sigv4::IndependentCheck))
        .await
        .unwrap();
    // STS comes from AWS_ENDPOINT_URL_STS, the proxy's own keys from the environment.
    let config = edit(
        &standins.config_toml(crate::support::any_port(), crate::support::any_port()),
        |t| remove(t, "sts.endpoint"),
    );
    assert!(!config.contains(&standins.sts.endpoint()));
    // Stock SDKs' carrier too: the JWT as the session token, in the /connect URL.
    assert!(!config.contains("[compat]"));
    let config = format!("{config}\n[compat]\nsession_token_auth = true\n");
    let f = write_config(&config);
    let base = &standins.base_credentials;
    let mut child = stsgate()
        .args(["--log-format", "json", "--config"])
        .arg(f.path())
        .env("RUST_LOG", "trace")
        .env("AWS_ACCESS_KEY_ID", base.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", base.secret_access_key())
        .env("AWS_ENDPOINT_URL_STS", standins.sts.endpoint())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/stsgate-test")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/stsgate-test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut logs = String::new();
    let line = read_until(&mut err, "stsgate listening", &mut logs);
    // Keep draining stderr so a chatty log level can never block the child on a full pipe.
    let drained = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        rest
    });
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let proxy = format!("http://{}", v["fields"]["proxy_addr"].as_str().unwrap());
    let admin = format!("http://{}", v["fields"]["admin_addr"].as_str().unwrap());
    for _ in 0..200 {
        if http("GET", &format!("{admin}/readyz"), &[], "").await.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    let token = standins.idp.token_for("alice", AUDIENCE);
    let auth = vec![("authorization".to_owned(), format!("Bearer {token}"))];
    let path = crate::support::messages_path();
    let (status, body) = http(
        "POST",
        &format!("{proxy}{path}"),
        &[
            auth.clone(),
            vec![
                ("content-type".into(), "application/json".into()),
                ("x-request-id".into(), "trace-0001".into()),
            ],
        ]
        .concat(),
        &crate::support::message_body("x"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let forged = format!("{}x", &token[..token.len() - 1]);
    let (status, _) = http(
        "GET",
        &format!("{proxy}{path}"),
        &[("authorization".into(), format!("Bearer {forged}"))],
        "",
    )
    .await;
    assert_eq!(status, 401);
    // Authenticated, then refused: a user probing another's bearer is named in the log.
    let bob = format!("{}/user/bob", stsgate_standins::APP_INSTANCE_ARN);
    let (status, body) = http(
        "GET",
        &format!("{proxy}{path}"),
        &[
            auth.clone(),
            vec![
                ("x-amz-chime-bearer".into(), bob),
                ("x-request-id".into(), "trace-0002".into()),
            ],
        ]
        .concat(),
        "",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(standins.sts.calls().len(), 1);
    // A browser's token in the WebSocket URL, accepted and refused: in no log line either.
    let ws = proxy.replacen("http://", "ws://", 1);
    let _socket = established(format!("{ws}/connect?token={token}")).await;
    let _ = tokio_tungstenite::connect_async(format!("{ws}/connect?token={forged}")).await;
    // The Chime JS SDK's default signer: the JWT is X-Amz-Security-Token in a presigned query.
    let bob_token = standins.idp.token_for("bob", AUDIENCE);
    let bob_forged = format!("{}x", &bob_token[..bob_token.len() - 1]);
    let presigned = |jwt: &str| crate::support::stock_presign(jwt, None);
    let _socket = established(format!("{ws}/connect?{}", presigned(&bob_token))).await;
    let (mut refused, _) =
        tokio_tungstenite::connect_async(format!("{ws}/connect?{}", presigned(&bob_forged)))
            .await
            .unwrap();
    match futures_util::StreamExt::next(&mut refused).await {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f)))) => {
            assert_eq!(u16::from(f.code), 4401)
        }
        other => panic!("forged session token: {other:?}"),
    }

    terminate(&mut child);
    logs.push_str(&drained.join().unwrap());
    let seen = &standins.chime.received()[0];
    let session_token = seen.header("x-amz-security-token").unwrap().to_owned();
    let signature = seen
        .header("authorization")
        .unwrap()
        .rsplit("Signature=")
        .next()
        .unwrap()
        .to_owned();
    let token_signature = token.rsplit('.').next().unwrap().to_owned();
    for (what, secret) in [
        ("bearer token", token.as_str()),
        ("forged token", forged.as_str()),
        ("session-token JWT in the /connect URL", bob_token.as_str()),
        (
            "forged session-token JWT in the /connect URL",
            bob_forged.as_str(),
        ),
        (
            "session-token JWT signature",
            bob_token.rsplit('.').next().unwrap(),
        ),
        ("bearer token signature", token_signature.as_str()),
        ("session token", session_token.as_str()),
        ("request signature", signature.as_str()),
        ("base secret key", base.secret_access_key()),
    ] {
        assert!(!logs.contains(secret), "{what} appears in the logs");
    }
    assert!(
        logs.contains("proxied") && logs.contains("refused"),
        "access log lines missing:\n{logs}"
    );
    // One access-log line per request: its id, the caller (never by token), the operation,
    // status and error code, and stsgate's own time beside the upstream's.
    let alice = format!("{}/user/alice", stsgate_standins::APP_INSTANCE_ARN);
    let line = |msg: &str| -> serde_json::Value {
        let tag = format!("\"message\":\"{msg}\"");
        let l = logs.lines().find(|l| l.contains(&tag)).unwrap();
        serde_json::from_str::<serde_json::Value>(l).unwrap()["fields"].clone()
    };
    let proxied = line("proxied");
    assert_eq!(proxied["caller"], alice.as_str(), "{proxied}");
    assert_eq!(proxied["request_id"], "trace-0001", "{proxied}");
    assert_eq!(proxied["operation"], "SendChannelMessage");
    assert_eq!(proxied["status"], 201);
    assert_eq!(proxied["user"].as_str().unwrap().len(), 16);
    assert!(proxied["own_ms"].as_f64().unwrap() > 0.0);
    assert!(proxied["upstream_ms"].as_f64().unwrap() > 0.0);
    let refused = line("refused");
    assert_eq!(refused["status"], 401);
    assert_eq!(refused["caller"], "-", "no caller before authentication");
    assert_eq!(refused["code"], "invalid_token");
    assert_eq!(
        refused["request_id"].as_str().unwrap().len(),
        36,
        "generated: {refused}"
    );
    let probe = logs
        .lines()
        .find(|l| l.contains("\"message\":\"refused\"") && l.contains("trace-0002"))
        .expect("the bearer mismatch has an access-log line");
    let probe = serde_json::from_str::<serde_json::Value>(probe).unwrap()["fields"].clone();
    assert_eq!(probe["status"], 403, "{probe}");
    assert_eq!(probe["code"], "bearer_mismatch", "{probe}");
    assert_eq!(probe["caller"], alice.as_str(), "{probe}");
    assert_eq!(probe["user"], proxied["user"], "{probe}");
}

/// Runs the binary off the runtime (the stand-ins it talks to live on it).
async fn run_stsgate(args: Vec<String>, stdin: Option<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let mut child = stsgate()
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(text) = stdin {
            std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn explain_shows_what_a_token_maps_to_without_calling_sts() {
    let standins = StandIns::start(Arc::new(crate::support::sigv4::IndependentCheck))
        .await
        .unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let config = write_config(&standins.config_toml(any, any));
    let path = config.path().to_str().unwrap().to_owned();
    let token = standins.idp.token_for("alice", AUDIENCE);
    let args = |extra: &[&str]| {
        let mut a = vec!["explain".to_owned(), "--config".to_owned(), path.clone()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let out = run_stsgate(args(&["--token", &token]), None).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "provider:          oidc (authenticated:oidc)",
        "role:              arn:aws:iam::111122223333:role/ChimeMessagingSampleAppUserRole",
        "session name:      alice",
        "  my_applications_user_id = alice",
        "/user/alice",
        "allowed operations: ",
        "result:            mapped (STS was not called)",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    assert!(!text.contains(&token), "the token is not printed");
    // JSON, with the token on stdin (out of the shell's history).
    let out = run_stsgate(args(&["--token", "-", "--json"]), Some(token.clone())).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(
        v["identity_id"].as_str().unwrap().len(),
        "us-east-1:".len() + 36
    );
    assert!(
        v["app_instance_user_arn"]
            .as_str()
            .unwrap()
            .ends_with("/user/alice")
    );
    // A token whose signature fails is refused, unless --no-verify (and then marked).
    let forged = format!("{}x", &token[..token.len() - 1]);
    let out = run_stsgate(args(&["--token", &forged]), None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401 invalid_token"));
    let out = run_stsgate(args(&["--token", &forged, "--no-verify"]), None).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.starts_with("WARNING: --no-verify"), "{text}");
    // A SAML assertion from a file.
    let saml = write_config(&standins.saml_assertion_for("bob"));
    let file = saml.path().to_str().unwrap();
    let out = run_stsgate(args(&["--saml-file", file]), None).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("provider:          saml (authenticated:saml)"),
        "{text}"
    );
    assert!(text.contains("/user/bob"), "{text}");
    assert!(standins.sts.calls().is_empty(), "explain never calls STS");
}
