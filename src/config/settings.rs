//! The configuration after validation: every value parsed once into the type its stage uses
//! (algorithms, certificates, operations, URLs, durations, header names). Stage constructors take
//! their part and cannot fail; nothing downstream re-reads a file or re-parses a name.

use crate::chime::BearerMode;
use crate::chime::operations::AllowList;
use rustls::pki_types::CertificateDer;
use serde_json::Value;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Everything stsgate runs with, built by [`super::validate`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub server: ServerSettings,
    pub proxy: ProxySettings,
    pub identity: IdentitySettings,
    pub mapping: MappingSettings,
    pub sts: StsSettings,
    pub broker: BrokerSettings,
    pub upstream: UpstreamSettings,
    pub chime: ChimeSettings,
    /// `[guests]`: how guest tokens are issued (their provider is in `mapping`).
    pub guests: Option<crate::guests::GuestSettings>,
    /// `[session_store]`: the fleet's shared sessions.
    pub store: Option<StoreSettings>,
}

/// The request path's own limits and switches.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
    /// Requests per second per AppInstanceUser; 0: no limit.
    pub max_requests_per_user_per_second: u32,
    pub body_read_timeout: Duration,
    /// `POST /credentials` is served.
    pub vending: bool,
    pub cors: Option<CorsSettings>,
    /// Session-token mode (`[compat] session_token_auth`).
    pub session_token_auth: bool,
    /// `host[:port]` of `public_url`: the `Endpoint.Url` GetMessagingSessionEndpoint answers.
    pub public_host: Option<String>,
    /// Claim shown as `ChimeDisplayName` by `GET /me`.
    pub display_name_claim: String,
}

#[derive(Debug, Clone)]
pub struct CorsSettings {
    /// `None`: any origin (`"*"`, never with credentials).
    pub origins: Option<HashSet<String>>,
    pub allow_credentials: bool,
    pub max_age: Duration,
}

/// The listeners' TLS files, loaded once at validation (so a bad set fails start-up).
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub files: crate::tls::TlsFiles,
    pub initial: Arc<crate::tls::Loaded>,
    pub reload_interval: Duration,
    /// The admin listener serves TLS too.
    pub admin: bool,
}

/// Connection-level limits of the proxy listener.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub http2_keepalive: Duration,
    pub max_connections: usize,
    /// hyper's own bound on a request head, above `max_header_bytes` (which gets a JSON 431).
    pub max_head_buffer: usize,
    /// How long in-flight requests may finish once shutdown begins.
    pub shutdown_grace: Duration,
    /// tokio worker threads for `stsgate run`, resolved (never 0).
    pub worker_threads: usize,
    /// TLS on the proxy listener (and the admin listener, when `tls.admin`).
    pub tls: Option<TlsSettings>,
}

#[derive(Debug, Clone)]
pub struct IdentitySettings {
    pub issuers: Vec<IssuerSettings>,
    pub saml_idps: Vec<SamlIdpSettings>,
    /// A header carrying a base64 SAML assertion, besides `Authorization: SAML`.
    pub saml_header: Option<http::HeaderName>,
    pub max_token_bytes: usize,
    pub max_saml_bytes: usize,
    /// 0 disables the validated-credential cache.
    pub token_cache_max_entries: u64,
    pub token_cache_max_bytes: u64,
    pub saml_queue_timeout: Duration,
    /// Assertions whose signatures are checked at once (one per worker thread).
    pub saml_check_slots: usize,
}

/// One OIDC issuer.
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    pub issuer: String,
    pub audiences: Vec<String>,
    /// Skips discovery when set.
    pub jwks_uri: Option<Url>,
    pub leeway_seconds: i64,
    /// Public-key algorithms only (checked at load).
    pub algorithms: Vec<jsonwebtoken::Algorithm>,
    pub token_use: Option<TokenUse>,
    pub required_claims: Vec<(String, Value)>,
    pub max_age_seconds: Option<i64>,
    /// An unknown `kid` refetches the key set at most this often.
    pub refetch_interval: Duration,
    /// Background refresh period.
    pub refresh_interval: Duration,
    /// A key set held in memory instead of fetched (stsgate's own guest tokens).
    pub static_jwks: Option<Arc<[u8]>>,
}

pub use super::file::TokenUse;

/// One SAML 2.0 IdP, its certificates already loaded.
#[derive(Debug, Clone)]
pub struct SamlIdpSettings {
    pub entity_id: String,
    /// DER certificates from inline PEM, PEM files and metadata, trusted together.
    pub certificates: Vec<Vec<u8>>,
    pub algorithms: Vec<SignatureMethod>,
    pub audiences: Vec<String>,
    pub recipients: Vec<String>,
    pub leeway_seconds: i64,
    /// Claim name → attribute `Name`.
    pub claim_names: Vec<(String, String)>,
    pub required_claims: Vec<(String, Value)>,
    pub max_age_seconds: Option<i64>,
}

/// The XML-DSig signature methods stsgate accepts (never SHA-1 or DSA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureMethod {
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
}

/// Who a caller becomes: role, session name, tags, policy and Chime user.
#[derive(Debug, Clone)]
pub struct MappingSettings {
    pub app_instance_arn: String,
    /// The region in identity IDs (`upstream.region`).
    pub region: String,
    /// Every OIDC issuer, SAML IdP and the guests, by what their principals' `issuer` says.
    pub providers: Vec<Arc<crate::mapping::Provider>>,
}

/// How stsgate reaches STS.
#[derive(Debug, Clone)]
pub struct StsSettings {
    pub region: String,
    pub endpoint: Option<Url>,
    /// Also the SDK's operation timeout.
    pub timeout: Duration,
}

/// The session cache and STS load shaping.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub expiry_margin: Duration,
    pub refresh_ahead: Duration,
    pub deadline: Duration,
    pub negative_ttl: Duration,
    pub max_sessions: u64,
    pub max_concurrent_calls: usize,
    pub max_calls_per_second: u32,
}

/// The shared session tier: where it is, its keys, and how long stsgate waits on it.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub target: crate::broker::store::RedisTarget,
    /// Key material, the current key first (`Debug` shows only how many).
    pub keys: StoreKeys,
    pub prefix: String,
    pub timeout: Duration,
    pub retry_interval: Duration,
    pub lease_ttl: Duration,
    /// `sts.fleet_max_calls_per_second`, when set.
    pub fleet_max_calls_per_second: Option<u32>,
}

#[derive(Clone)]
pub struct StoreKeys(pub Arc<[[u8; crate::broker::store::KEY_BYTES]]>);

impl std::fmt::Debug for StoreKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreKeys({} keys)", self.0.len())
    }
}

/// The Chime messaging endpoint.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Signing region.
    pub region: String,
    /// `scheme://host[:port]/`.
    pub endpoint: Url,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Extra trusted CA certificates (HTTPS and WSS, JWKS included).
    pub extra_roots: Vec<CertificateDer<'static>>,
}

/// What callers may do in Chime, and as whom.
#[derive(Debug, Clone)]
pub struct ChimeSettings {
    pub bearer: BearerMode,
    pub allowed: AllowList,
    /// AppInstanceUser ARNs of the configured AppInstanceAdmins.
    pub admin_user_arns: HashSet<String>,
    pub websocket: WebSocketSettings,
}

#[derive(Debug, Clone)]
pub struct WebSocketSettings {
    /// Close both sides after this long without a frame in either direction.
    pub idle: Duration,
    /// Largest message relayed in either direction.
    pub max_message_bytes: usize,
    /// A frame one side does not take within this long closes the socket.
    pub send_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_per_user: usize,
}
