//! A second, foreign verifier: botocore (Python) recomputes the signature of every request the
//! Chime stand-in received from stsgate. Needs `python3` with botocore (`.ci/run` installs it);
//! set `STSGATE_SKIP_BOTOCORE=1` to skip on a machine without it.

use crate::support::python::{botocore_verify, for_botocore, python_has};
use crate::support::{Harness, message_body, messages_path};
use base64::Engine;
use stsgate_standins::{demo_channel_arn, encode_label};

#[tokio::test]
async fn botocore_accepts_every_signature_stsgate_made() {
    if !python_has("botocore") {
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
    let requests = for_botocore(&h, &received);
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
