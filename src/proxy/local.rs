//! What stsgate answers itself, for an authenticated caller: `GET /me` (the AWS chat sample's
//! credential exchange, without the credentials), `POST /credentials` (opt-in vending), guest
//! tokens and their key (`POST /guest`, `GET /.well-known/jwks.json`), and
//! GetMessagingSessionEndpoint naming stsgate's public host (so a stock Chime SDK opens its
//! WebSocket to stsgate). None of them calls STS except vending.

use crate::error::{ProxyBody, json_response};
use crate::identity::Principal;
use crate::mapping::Mapped;
use aws_smithy_types::date_time::{DateTime, Format};
use http::{HeaderValue, Response, StatusCode, header};
use std::time::SystemTime;

/// `GET /me`: the fields the AWS chat sample's credential exchange returns, never AWS keys.
pub fn me(principal: &Principal, mapped: &Mapped, display_name_claim: &str) -> Response<ProxyBody> {
    let user_id = mapped
        .user_arn()
        .rsplit_once("/user/")
        .map_or("", |(_, id)| id);
    let display = principal
        .claim_str(display_name_claim)
        .unwrap_or_else(|| user_id.to_owned());
    let body = serde_json::json!({
        "ChimeAppInstanceUserArn": mapped.user_arn(),
        "ChimeUserId": user_id,
        "ChimeDisplayName": display,
        "Expiration": iso8601(principal.expires_at()),
    });
    no_store(json_response(StatusCode::OK, &body))
}

/// The caller's own session, for clients that sign requests themselves. Never cached by anyone.
pub fn vend(c: &aws_credential_types::Credentials, expires_at: SystemTime) -> Response<ProxyBody> {
    let body = serde_json::json!({
        "AccessKeyId": c.access_key_id(),
        "SecretAccessKey": c.secret_access_key(),
        "SessionToken": c.session_token(),
        "Expiration": iso8601(expires_at),
    });
    no_store(json_response(StatusCode::OK, &body))
}

/// GetMessagingSessionEndpoint's answer when clients must reach Chime through stsgate.
pub fn session_endpoint(public_host: &str) -> Response<ProxyBody> {
    json_response(
        StatusCode::OK,
        &serde_json::json!({"Endpoint": {"Url": public_host}}),
    )
}

/// `POST /guest`: an OAuth-style token answer, plus the guest's identity ID and Chime user.
pub fn guest_token(g: &crate::guests::Issued, user_arn: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({
        "access_token": g.token,
        "token_type": "Bearer",
        "expires_in": g.expires_in,
        "identity_id": g.identity_id,
        "app_instance_user_arn": user_arn,
    });
    no_store(json_response(StatusCode::OK, &body))
}

/// `GET /.well-known/jwks.json`: the public key guest tokens are signed with.
pub fn guest_keys(jwks: &serde_json::Value) -> Response<ProxyBody> {
    let mut resp = json_response(StatusCode::OK, jwks);
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

fn iso8601(t: SystemTime) -> String {
    DateTime::from(t).fmt(Format::DateTime).unwrap_or_default()
}

fn no_store(mut resp: Response<ProxyBody>) -> Response<ProxyBody> {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}
