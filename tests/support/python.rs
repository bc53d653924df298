//! The Python side of the suite: botocore as the foreign SigV4 verifier, and the pinned boto3 as
//! a real client (`tests/setup.sh` installs both; `STSGATE_SKIP_BOTOCORE=1` skips where absent).

use super::Harness;
use base64::Engine;
use std::io::Write;
use std::process::{Command, Stdio};
use stsgate_standins::standin::ReceivedRequest;

/// Whether `python3` can import `module`; a missing module fails the test unless skipping is
/// asked for explicitly.
pub fn python_has(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("STSGATE_SKIP_BOTOCORE").is_ok(),
            "python3 with {module} is required (tests/setup.sh), or set STSGATE_SKIP_BOTOCORE=1"
        );
        eprintln!("skipped: {module} not installed");
    }
    ok
}

/// Runs a Python script of `tests/` with `input` on stdin; its stdout and whether it exited 0.
pub fn run_python(script: &str, input: &str) -> (bool, String) {
    let path = format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The requests as `botocore_verify.py` reads them, each with its session's secret.
pub fn for_botocore(h: &Harness, received: &[ReceivedRequest]) -> Vec<serde_json::Value> {
    received
        .iter()
        .map(|r| {
            let ak = super::access_key_of(r);
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
        .collect()
}

/// botocore's verdict on each request: whether all verified, and its report.
pub fn botocore_verify(requests: &[serde_json::Value]) -> (bool, String) {
    run_python(
        "botocore_verify.py",
        &serde_json::to_string(requests).unwrap(),
    )
}
