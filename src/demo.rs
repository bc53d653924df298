//! `stsgate demo`: the proxy plus the in-process stand-ins for an OIDC issuer, a SAML IdP, STS and
//! Chime messaging, all on loopback, so a newcomer sees the whole exchange with no AWS account.
//! Part of the binary only: the library never depends on the stand-ins.

use std::net::SocketAddr;
use std::sync::Arc;
use stsgate::app::{self, Overrides};
use stsgate_standins::sigv4_check::ResigningCheck;
use stsgate_standins::{
    APP_INSTANCE_ARN, AUDIENCE, SAML_ENTITY_ID, StandIns, demo_channel_arn, encode_label,
};

/// stsgate's own AWS identity in the demo: the keys the STS stand-in trusts.
fn demo_overrides(standins: &StandIns) -> Overrides {
    Overrides::with_base_credentials(standins.base_credentials.clone())
}

/// Runs the demo until Ctrl-C.
pub async fn run(listen: SocketAddr, admin_listen: SocketAddr) -> anyhow::Result<()> {
    let standins = StandIns::start(Arc::new(ResigningCheck)).await?;
    let config = stsgate::config::from_toml(&standins.config_toml(listen, admin_listen))?;
    let running = app::start(config, demo_overrides(&standins)).await?;
    let proxy = format!("http://{}", running.proxy_addr);
    let alice = standins.idp.token_for("alice", AUDIENCE);
    let bob = standins.idp.token_for("bob", AUDIENCE);
    let path = format!("/channels/{}/messages", encode_label(&demo_channel_arn()));
    let body = r#"{"Content":"hello from alice","Type":"STANDARD","Persistence":"PERSISTENT","ClientRequestToken":"demo-0001"}"#;

    println!("stsgate demo is running (stand-ins for the IdP, STS and Chime on loopback).");
    println!();
    println!("  proxy:    {proxy}");
    println!("  metrics:  http://{}/metrics", running.admin_addr);
    println!("  ready:    http://{}/readyz", running.admin_addr);
    println!("  issuer:   {}", standins.idp.issuer);
    println!("  SAML IdP: {SAML_ENTITY_ID}");
    println!();
    println!("Send a message as alice:");
    println!(
        "curl -sS -X POST '{proxy}{path}' -H 'Authorization: Bearer {alice}' -H 'Content-Type: application/json' -d '{body}'"
    );
    println!();
    println!("List the channel's messages as bob:");
    println!("curl -sS '{proxy}{path}' -H 'Authorization: Bearer {bob}'");
    println!();
    println!("The same as carol, with a signed SAML 2.0 assertion instead of an OIDC token:");
    println!(
        "curl -sS '{proxy}{path}' -H 'Authorization: SAML {}'",
        standins.saml_assertion_for("carol")
    );
    println!();
    println!("Pretend to be bob while authenticated as alice (refused with 403 bearer_mismatch):");
    println!(
        "curl -sS '{proxy}{path}' -H 'Authorization: Bearer {alice}' -H 'x-amz-chime-bearer: {APP_INSTANCE_ARN}/user/bob'"
    );
    println!();
    println!(
        "Open alice's messaging WebSocket (any WebSocket client, e.g. websocat), then send a message above:"
    );
    println!(
        "websocat 'ws://{}/connect?token={alice}'",
        running.proxy_addr
    );
    println!();
    println!("Tokens and assertions are valid for one hour. Ctrl-C stops the demo.");

    stsgate::shutdown::signal().await;
    running.shutdown().await;
    Ok(())
}
