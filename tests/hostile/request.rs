//! Rows about carriers and requests rather than the credential itself: where the token is (or is
//! not), who the caller claims to be, and what a request may carry besides its credential (its
//! path, query, headers and body), so that what stsgate signs is exactly what it checked.

use super::Case;
use crate::support::{Harness, messages_path};
use stsgate_standins::{APP_INSTANCE_ARN, AUDIENCE, demo_channel_arn, encode_label};

#[rustfmt::skip]
pub fn cases(h: &Harness) -> Vec<Case> {
    let good = format!("Bearer {}", h.token("alice"));
    let auth = ("authorization", good.as_str());
    let bob = format!("{APP_INSTANCE_ARN}/user/bob");
    let unmappable = format!("Bearer {}", h.standins.idp.token_for("auth0|12345", AUDIENCE));
    let json = ("content-type", "application/json");
    let messages = messages_path();
    let message = format!("{messages}/msg-1");
    let foreign_channel = format!("/channels/{}/messages", encode_label("arn:aws:chime:us-east-1:111122223333:app-instance/other/channel/c1"));
    let bob_query = format!("x=1;app-instance-user-arn={}", encode_label(&bob));
    let bad = |name| Case::get(name, &[auth, json], 400, "bad_request");
    vec![
        Case { reason: Some("missing"), ..Case::get("no token", &[], 401, "missing_token") },
        Case { reason: Some("missing"), ..Case::get("basic auth", &[("authorization", "Basic YTpi")], 401, "missing_token") },
        Case { reason: Some("missing"), ..Case::get("empty bearer", &[("authorization", "Bearer ")], 401, "missing_token") },
        Case::invalid("two Authorization headers", &[auth, auth], "malformed"),
        Case::get("bearer of another user", &[auth, ("x-amz-chime-bearer", &bob)], 403, "bearer_mismatch"),
        Case::get("user id Chime cannot represent", &[("authorization", &unmappable)], 403, "identity_not_mappable"),
        Case { method: "POST", body: "x".repeat(1024 * 1024 + 1), ..Case::get("body over the limit", &[auth, json], 413, "payload_too_large") },
        // Connection may not make the hop-by-hop strip remove what stsgate checked or signs.
        Case::get("Connection names the bearer", &[auth, ("connection", "x-amz-chime-bearer")], 400, "bad_request"),
        Case::get("Connection names Host", &[auth, ("connection", "close, host")], 400, "bad_request"),
        Case::get("Connection names Authorization", &[auth, ("connection", "Authorization")], 400, "bad_request"),
        Case::get("Connection names Content-Type", &[auth, ("connection", "content-type")], 400, "bad_request"),
        Case::get("Connection names an x-amz header", &[auth, ("connection", "X-Amz-Date")], 400, "bad_request"),
        // A normalising signer or server would read another operation's path.
        // The attack as reported: UpdateChannelMessage by shape, UpdateChannel once normalised.
        bad("dot-dot after messages").to("PUT", format!("{messages}/..")).with_body("{}"),
        bad("encoded dot-dot after messages").to("PUT", format!("{messages}/%2e%2e")).with_body("{}"),
        bad("dot-dot segment").to("PUT", format!("{message}/..")).with_body("{}"),
        bad("dot segment").to("PUT", format!("{message}/.")).with_body("{}"),
        bad("encoded dot segment").to("PUT", format!("{message}/%2E")).with_body("{}"),
        bad("encoded dot-dot segment").to("PUT", format!("{message}/%2e%2e")).with_body("{}"),
        bad("half-encoded dot-dot segment").to("PUT", format!("{message}/.%2E")).with_body("{}"),
        bad("empty segment").to("GET", format!("/channels/{}//messages", encode_label(&demo_channel_arn()))),
        bad("trailing slash").to("GET", format!("{messages}/")),
        // Only the content types Chime's REST-JSON operations take are signed.
        Case::get("awsJson 1.1 content type", &[auth, ("content-type", "application/x-amz-json-1.1")], 415, "unsupported_media_type").to("POST", messages.clone()).with_body("{}"),
        Case::get("text content type", &[auth, ("content-type", "text/plain")], 415, "unsupported_media_type").to("POST", messages.clone()).with_body("{}"),
        // A signed header the signer could not read is refused before STS, never sent to it.
        Case::get("non-ASCII content type", &[auth, ("content-type", "application/json; charset=café")], 415, "unsupported_media_type").to("POST", messages.clone()).with_body("{}"),
        Case::get("non-ASCII bearer", &[auth, ("x-amz-chime-bearer", &format!("{bob}é"))], 403, "bearer_mismatch"),
        // Only the operation's declared parameters, each once.
        bad("undeclared Operation parameter").to("GET", format!("{messages}?Operation=search")),
        bad("undeclared empty parameter").to("GET", format!("{messages}?foo=")),
        bad("presign parameter").to("GET", format!("{messages}?X-Amz-Credential=AKIA%2F20240101")),
        bad("semicolon hides another user's ARN").to("GET", format!("{messages}?{bob_query}")),
        bad("repeated single-valued parameter").to("GET", format!("{messages}?max-results=1&max-results=50")),
        // Defence in depth beside IAM: resources inside the configured AppInstance only.
        Case::get("channel of another AppInstance", &[auth], 403, "resource_not_allowed").to("GET", foreign_channel),
    ]
}
