//! Stock boto3 (pinned in tests/clients/requirements.txt), unmodified, in session-token mode:
//! static credentials whose session token is the user's JWT, normal SigV4 signing. It drives
//! every REST operation of the default allow-list through stsgate; botocore then re-verifies
//! every request stsgate forwarded, and a bad token reaches boto3 as UnauthorizedClientException.

use crate::support::Harness;
use crate::support::python::{botocore_verify, for_botocore, python_has, run_python};
use stsgate::chime::operations;
use stsgate_standins::{APP_INSTANCE_ARN, demo_channel_arn};

#[tokio::test]
async fn boto3_calls_every_default_operation_with_the_jwt_as_its_session_token() {
    if !python_has("boto3") {
        return;
    }
    let h = Harness::start_with(|c| c.compat.session_token_auth = true).await;
    let input = serde_json::json!({
        "endpoint": format!("http://{}", h.gateway.proxy_addr),
        "region": "us-east-1",
        "token": h.token("alice"),
        "bad_token": "not.a.token",
        "app_instance_arn": APP_INSTANCE_ARN,
        "channel_arn": demo_channel_arn(),
        "user_arn": format!("{APP_INSTANCE_ARN}/user/alice"),
        "other_user_arn": format!("{APP_INSTANCE_ARN}/user/bob"),
    });
    // The driver blocks; stsgate runs on this test's runtime, so the driver gets its own thread.
    let (ran, out) = tokio::task::spawn_blocking(move || {
        run_python("clients/boto3_session_token.py", &input.to_string())
    })
    .await
    .unwrap();
    assert!(ran, "the boto3 driver crashed: {out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();

    // Every REST operation of the default allow-list, each forwarded: Chime's answer reached
    // boto3 (the stand-in implements a few; the others answer NotFoundException).
    let default: Vec<&str> = operations::default_allowed()
        .into_iter()
        .filter(|o| *o != operations::CONNECT)
        .collect();
    let done = report["operations"].as_array().unwrap();
    let names: Vec<&str> = done
        .iter()
        .map(|o| o["operation"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), default.len());
    for name in &default {
        assert!(names.contains(name), "{name} not driven");
    }
    for o in done {
        let outcome = o["outcome"].as_str().unwrap();
        assert!(
            outcome == "ok" || outcome == "NotFoundException",
            "{}: {outcome} ({})",
            o["operation"],
            o["status"]
        );
    }
    assert!(
        done.iter()
            .any(|o| o["outcome"] == "ok" && o["operation"] == "SendChannelMessage")
    );
    let received = h.standins.chime.received();
    assert_eq!(
        received.len(),
        default.len(),
        "one forwarded request per operation"
    );
    assert_eq!(h.standins.sts.calls().len(), 1, "one session for the user");

    // A foreign verifier agrees with every signature stsgate made.
    let (ok, report_text) = botocore_verify(&for_botocore(&h, &received));
    assert!(ok, "botocore disagrees:\n{report_text}");

    // stsgate's own refusal decodes as the Chime exception.
    let bad = &report["bad_token"];
    assert_eq!(bad["exception"], "UnauthorizedClientException", "{bad}");
    assert_eq!(bad["status"], 401);
    assert_eq!(bad["error_type"], "UnauthorizedClientException");
}
