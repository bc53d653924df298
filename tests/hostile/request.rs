//! Rows about carriers and requests rather than the credential itself: where the token is (or is
//! not), who the caller claims to be, how large the body is.

use super::Case;
use crate::support::Harness;
use stsgate_standins::{APP_INSTANCE_ARN, AUDIENCE};

#[rustfmt::skip]
pub fn cases(h: &Harness) -> Vec<Case> {
    let good = format!("Bearer {}", h.token("alice"));
    let bob = format!("{APP_INSTANCE_ARN}/user/bob");
    let unmappable = format!("Bearer {}", h.standins.idp.token_for("auth0|12345", AUDIENCE));
    let json = ("content-type", "application/json");
    vec![
        Case { reason: Some("missing"), ..Case::get("no token", &[], 401, "missing_token") },
        Case { reason: Some("missing"), ..Case::get("basic auth", &[("authorization", "Basic YTpi")], 401, "missing_token") },
        Case { reason: Some("missing"), ..Case::get("empty bearer", &[("authorization", "Bearer ")], 401, "missing_token") },
        Case::invalid("two Authorization headers", &[("authorization", &good), ("authorization", &good)], "malformed"),
        Case::get("bearer of another user", &[("authorization", &good), ("x-amz-chime-bearer", &bob)], 403, "bearer_mismatch"),
        Case::get("user id Chime cannot represent", &[("authorization", &unmappable)], 403, "identity_not_mappable"),
        Case { method: "POST", body: "x".repeat(1024 * 1024 + 1), ..Case::get("body over the limit", &[("authorization", &good), json], 413, "payload_too_large") },
    ]
}
