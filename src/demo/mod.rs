//! `stsgate demo`: the proxy plus in-process stand-ins for an OIDC issuer, a SAML IdP, STS and
//! Chime messaging, all on loopback, so a newcomer sees the whole exchange with no AWS account.
//! The same stand-ins serve the integration tests. Never used by `stsgate run`.

pub mod chime;
pub mod idp;
pub mod saml_idp;
pub mod sigv4_check;
pub mod standin;
pub mod sts;

use crate::app::{self, Overrides, Running};
use crate::config::{Config, from_toml};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use chime::{ChimeSettings, ChimeStandIn};
use idp::IdpStandIn;
use saml_idp::{AssertionSpec, SamlIdpStandIn};
use standin::{CredentialStore, SignatureCheck, random_token};
use std::net::SocketAddr;
use std::sync::Arc;
use sts::StsStandIn;

pub const REGION: &str = "us-east-1";
pub const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/ChimeMessagingSampleAppUserRole";
pub const APP_INSTANCE_ARN: &str =
    "arn:aws:chime:us-east-1:111122223333:app-instance/11111111-2222-3333-4444-555555555555";
pub const AUDIENCE: &str = "stsgate-demo-client";
/// The demo SAML IdP's entity ID, and what its assertions name as audience and recipient.
pub const SAML_ENTITY_ID: &str = "https://idp.stsgate.test/saml";
pub const SAML_AUDIENCE: &str = "urn:stsgate:demo";
pub const SAML_RECIPIENT: &str = "https://stsgate.demo/saml";
/// The session tag the seed's user-role policy reads: `${aws:PrincipalTag/my_applications_user_id}`.
pub const USER_ID_TAG: &str = "my_applications_user_id";

/// The stand-ins, wired to one another.
pub struct StandIns {
    pub idp: IdpStandIn,
    pub saml_idp: SamlIdpStandIn,
    pub sts: StsStandIn,
    pub chime: ChimeStandIn,
    /// The proxy's own (stand-in) AWS keys, trusted by the STS stand-in.
    pub base_credentials: Credentials,
    /// Every credential the STS stand-in issued, by access key id.
    pub store: CredentialStore,
}

impl StandIns {
    /// Starts all three; `check` verifies every signature the STS and Chime stand-ins receive.
    pub async fn start(check: Arc<dyn SignatureCheck>) -> std::io::Result<Self> {
        let store = CredentialStore::default();
        let (ak, sk) = (random_token("AKIA", 16), random_token("", 40));
        let idp = IdpStandIn::start().await?;
        let sts = StsStandIn::start(&ak, &sk, store.clone(), check.clone()).await?;
        let chime = ChimeStandIn::start(
            ChimeSettings {
                region: REGION.into(),
                app_instance_arn: APP_INSTANCE_ARN.into(),
                user_id_tag: USER_ID_TAG.into(),
            },
            store.clone(),
            check,
        )
        .await?;
        let base_credentials = Credentials::new(ak, sk, None, None, "stand-in");
        Ok(StandIns {
            idp,
            saml_idp: SamlIdpStandIn::new(SAML_ENTITY_ID),
            sts,
            chime,
            base_credentials,
            store,
        })
    }

    /// A complete config pointing at the stand-ins, as TOML (what an operator would write).
    pub fn config_toml(&self, listen: SocketAddr, admin_listen: SocketAddr) -> String {
        format!(
            r#"listen = "{listen}"
admin_listen = "{admin_listen}"

[upstream]
region = "{REGION}"
endpoint = "{chime}"

[[issuers]]
issuer = "{issuer}"
audiences = ["{AUDIENCE}"]

[[saml_idps]]
entity_id = "{SAML_ENTITY_ID}"
audiences = ["{SAML_AUDIENCE}"]
recipients = ["{SAML_RECIPIENT}"]
certificates = ['''
{saml_cert}''']

[sts]
role_arn = "{ROLE_ARN}"
region = "{REGION}"
endpoint = "{sts}"

[session_tags]
{USER_ID_TAG} = "sub"

[chime]
app_instance_arn = "{APP_INSTANCE_ARN}"
"#,
            chime = self.chime.endpoint(),
            issuer = self.idp.issuer,
            saml_cert = self.saml_idp.certificate_pem(),
            sts = self.sts.endpoint(),
        )
    }

    pub fn config(&self, listen: SocketAddr, admin_listen: SocketAddr) -> Config {
        from_toml(&self.config_toml(listen, admin_listen)).expect("the demo config is valid")
    }

    pub fn overrides(&self) -> Overrides {
        Overrides {
            base_credentials: Some(SharedCredentialsProvider::new(
                self.base_credentials.clone(),
            )),
            ..Overrides::default()
        }
    }

    /// A signed SAML assertion for `sub`, valid for an hour, base64 (`Authorization: SAML <this>`).
    pub fn saml_assertion_for(&self, sub: &str) -> String {
        let now = crate::clock::unix_seconds(std::time::SystemTime::now());
        let spec = AssertionSpec::new(SAML_ENTITY_ID, sub, SAML_AUDIENCE, SAML_RECIPIENT, now);
        saml_idp::encode(&self.saml_idp.signed_assertion(&spec))
    }

    /// Starts stsgate against these stand-ins.
    pub async fn start_gateway(
        &self,
        listen: SocketAddr,
        admin_listen: SocketAddr,
    ) -> Result<Running, app::StartError> {
        app::start(self.config(listen, admin_listen), self.overrides()).await
    }
}

/// The channel the demo's sample calls use.
pub fn demo_channel_arn() -> String {
    format!("{APP_INSTANCE_ARN}/channel/demo")
}

/// An ARN as the AWS SDKs put it into one path segment (`:` → `%3A`, `/` → `%2F`).
pub fn encode_label(arn: &str) -> String {
    percent_encoding::utf8_percent_encode(arn, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%2E", ".")
        .replace("%5F", "_")
        .replace("%7E", "~")
}

/// Runs the demo until Ctrl-C.
pub async fn run(listen: SocketAddr, admin_listen: SocketAddr) -> anyhow::Result<()> {
    let standins = StandIns::start(Arc::new(sigv4_check::ResigningCheck)).await?;
    let running = standins.start_gateway(listen, admin_listen).await?;
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

    wait_for_signal().await;
    running.shutdown().await;
    Ok(())
}

/// Ctrl-C or, on Unix, SIGTERM (Kubernetes' stop signal).
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler installs");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
