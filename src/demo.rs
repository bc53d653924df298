//! `stsgate demo`: the proxy plus the in-process stand-ins for an OIDC issuer, a SAML IdP, STS and
//! Chime messaging, all on loopback, so a newcomer sees the whole exchange with no AWS account;
//! and a chat page on its own origin where alice and bob talk through stsgate from a browser.
//! Part of the binary only: the library never depends on the stand-ins.

use std::net::SocketAddr;
use std::sync::Arc;
use stsgate::app::{self, Overrides, Running};
use stsgate::config::CorsConfig;
use stsgate_standins::page::ChatPage;
use stsgate_standins::sigv4_check::ResigningCheck;
use stsgate_standins::{
    APP_INSTANCE_ARN, AUDIENCE, SAML_ENTITY_ID, StandIns, demo_channel_arn, encode_label,
};
use tokio::net::TcpListener;

/// Where the demo listens.
pub struct Listeners {
    pub proxy: SocketAddr,
    pub admin: SocketAddr,
    pub page: SocketAddr,
}

/// Runs the demo until Ctrl-C.
pub async fn run(at: Listeners) -> anyhow::Result<()> {
    let standins = StandIns::start(Arc::new(ResigningCheck)).await?;
    let page_listener = TcpListener::bind(at.page).await?;
    let page_origin = format!("http://{}", page_listener.local_addr()?);
    let mut config = stsgate::config::parse(&standins.config_toml(at.proxy, at.admin))?;
    // The chat page calls stsgate from its own origin; stock SDKs may bring the JWT as their
    // session token.
    config.cors = Some(CorsConfig {
        allowed_origins: vec![page_origin],
        allow_credentials: false,
        max_age_seconds: 600,
    });
    config.compat.session_token_auth = true;
    let overrides = Overrides::with_base_credentials(standins.base_credentials.clone());
    let running = app::start(stsgate::config::validate(&config)?, overrides).await?;
    let page = ChatPage::start(page_listener, page_config(&standins, &running))?;
    print_guide(&standins, &running, &page);
    stsgate::shutdown::signal().await;
    running.shutdown().await;
    Ok(())
}

/// What the chat page needs: stsgate's address, the channel, and each user's token.
fn page_config(standins: &StandIns, running: &Running) -> serde_json::Value {
    serde_json::json!({
        "proxy": format!("http://{}", running.proxy_addr),
        "proxyWs": format!("ws://{}", running.proxy_addr),
        "channelArn": demo_channel_arn(),
        "tokens": {
            "alice": standins.idp.token_for("alice", AUDIENCE),
            "bob": standins.idp.token_for("bob", AUDIENCE),
        },
    })
}

fn print_guide(standins: &StandIns, running: &Running, page: &ChatPage) {
    let proxy = format!("http://{}", running.proxy_addr);
    let alice = standins.idp.token_for("alice", AUDIENCE);
    let bob = standins.idp.token_for("bob", AUDIENCE);
    let path = format!("/channels/{}/messages", encode_label(&demo_channel_arn()));
    let body = r#"{"Content":"hello from alice","Type":"STANDARD","Persistence":"PERSISTENT","ClientRequestToken":"demo-0001"}"#;
    let saml = standins.saml_assertion_for("carol");
    println!(
        "stsgate demo is running (stand-ins for the IdP, STS and Chime on loopback).

  chat page: {page}   (alice and bob, in a browser)
  proxy:     {proxy}
  metrics:   http://{admin}/metrics
  ready:     http://{admin}/readyz
  issuer:    {issuer}
  SAML IdP:  {SAML_ENTITY_ID}

Send a message as alice:
curl -sS -X POST '{proxy}{path}' -H 'Authorization: Bearer {alice}' -H 'Content-Type: application/json' -d '{body}'

List the channel's messages as bob:
curl -sS '{proxy}{path}' -H 'Authorization: Bearer {bob}'

The same as bob's stock AWS SDK would send it (the JWT as its session token):
curl -sS '{proxy}{path}' -H 'x-amz-security-token: {bob}'

Who alice is, in the AWS chat sample's terms (no AWS keys):
curl -sS '{proxy}/me' -H 'Authorization: Bearer {alice}'

The same as carol, with a signed SAML 2.0 assertion instead of an OIDC token:
curl -sS '{proxy}{path}' -H 'Authorization: SAML {saml}'

Pretend to be bob while authenticated as alice (refused with 403 bearer_mismatch):
curl -sS '{proxy}{path}' -H 'Authorization: Bearer {alice}' -H 'x-amz-chime-bearer: {APP_INSTANCE_ARN}/user/bob'

Open alice's messaging WebSocket (any WebSocket client, e.g. websocat), then send a message above:
websocat 'ws://{addr}/connect?token={alice}'

Tokens and assertions are valid for one hour. Ctrl-C stops the demo.",
        page = page.origin(),
        admin = running.admin_addr,
        issuer = standins.idp.issuer,
        addr = running.proxy_addr,
    );
}
