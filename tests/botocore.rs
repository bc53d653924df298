//! A second, foreign verifier: botocore (Python) recomputes the signature of every request the
//! Chime stand-in received from stsgate. Needs `python3` with botocore (`.ci/run` installs it);
//! set `STSGATE_SKIP_BOTOCORE=1` to skip on a machine without it.

use crate::support::{Harness, message_body, messages_path};
use base64::Engine;
use std::io::Write;
use std::process::{Command, Stdio};
use stsgate_standins::{demo_channel_arn, encode_label};

fn botocore_available() -> bool {
    Command::new("python3")
        .args(["-c", "import botocore"])
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn botocore_accepts_every_signature_stsgate_made() {
    if !botocore_available() {
        assert!(
            std::env::var("STSGATE_SKIP_BOTOCORE").is_ok(),
            "python3 with botocore is required (pip install botocore), or set STSGATE_SKIP_BOTOCORE=1"
        );
        eprintln!("skipped: botocore not installed");
        return;
    }
    let h = Harness::start().await;
    let alice_arn = format!("{}/user/alice", stsgate_standins::APP_INSTANCE_ARN);
    let calls = [
        ("POST", messages_path(), message_body("hello world")),
        (
            "GET",
            format!(
                "{}?max-results=50&not-before=2024-01-01T00%3A00%3A00Z&next-token=abc%2B%2F%3Ddef",
                messages_path()
            ),
            String::new(),
        ),
        (
            "GET",
            format!(
                "/channels?scope=app-instance-user-memberships&app-instance-user-arn={}",
                encode_label(&alice_arn)
            ),
            String::new(),
        ),
        (
            "DELETE",
            format!(
                "/channels/{}/memberships/{}",
                encode_label(&demo_channel_arn()),
                encode_label(&alice_arn)
            ),
            String::new(),
        ),
        (
            "GET",
            "/endpoints/messaging-session".to_owned(),
            String::new(),
        ),
    ];
    for (method, path, body) in &calls {
        h.call("alice", method, path, body).await;
    }
    let received = h.standins.chime.received();
    assert_eq!(received.len(), calls.len());
    let requests: Vec<serde_json::Value> = received
        .iter()
        .map(|r| {
            let ak = crate::support::access_key_of(r);
            let headers: serde_json::Map<String, serde_json::Value> = r
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap().into()))
                .collect();
            serde_json::json!({
                "method": r.method,
                "url": format!("http://{}{}", r.header("host").unwrap(), r.path_and_query),
                "headers": headers,
                "body_b64": base64::engine::general_purpose::STANDARD.encode(&r.body),
                "secret": h.standins.store.get(&ak).unwrap().secret,
                "service": "chime",
                "region": "us-east-1",
            })
        })
        .collect();
    let (ok, report) = botocore_verify(&requests);
    assert!(ok, "botocore disagrees:\n{report}");
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok ")).count(),
        calls.len(),
        "{report}"
    );

    // The verifier itself can say no: one altered byte of body is a mismatch.
    let mut tampered = requests[0].clone();
    tampered["body_b64"] = base64::engine::general_purpose::STANDARD
        .encode(message_body("hello worle"))
        .into();
    let (ok, report) = botocore_verify(&[tampered]);
    assert!(!ok && report.contains("MISMATCH"), "{report}");
}

fn botocore_verify(requests: &[serde_json::Value]) -> (bool, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/botocore_verify.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(requests).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}
