//! Stand-ins for the world around stsgate, on loopback: an OIDC issuer, a SAML IdP (with its own
//! XML-DSig signer), STS (Query/XML) and Chime messaging (REST-JSON and the WebSocket), each
//! speaking the real wire protocol. `stsgate demo` and the integration tests use them.
//!
//! This crate does not depend on stsgate: it knows stsgate only by the TOML config it writes
//! ([`StandIns::config_toml`]) and the requests it receives, so nothing stsgate gets wrong can be
//! hidden by sharing its code.

pub mod chime;
pub mod http;
pub mod idp;
pub mod page;
pub mod saml_idp;
pub mod sigv4_check;
pub mod standin;
pub mod sts;

use aws_credential_types::Credentials;
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
        sts.trust_issuer(&idp.issuer);
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

# Both providers map a subject to the same AppInstanceUser (user_id = "{{sub}}"): the demo's
# users sign in either way.
[[issuers]]
name = "oidc"
issuer = "{issuer}"
audiences = ["{AUDIENCE}"]
user_id = "{{sub}}"

[[saml_idps]]
name = "saml"
user_id = "{{sub}}"
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
{USER_ID_TAG} = "{{user_id}}"

[chime]
app_instance_arn = "{APP_INSTANCE_ARN}"
"#,
            chime = self.chime.endpoint(),
            issuer = self.idp.issuer,
            saml_cert = self.saml_idp.certificate_pem(),
            sts = self.sts.endpoint(),
        )
    }

    /// A signed SAML assertion for `sub`, valid for an hour, base64 (`Authorization: SAML <this>`).
    pub fn saml_assertion_for(&self, sub: &str) -> String {
        let now = unix_now();
        let spec = AssertionSpec::new(SAML_ENTITY_ID, sub, SAML_AUDIENCE, SAML_RECIPIENT, now);
        saml_idp::encode(&self.saml_idp.signed_assertion(&spec))
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

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
