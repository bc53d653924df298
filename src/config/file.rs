//! The configuration file as the operator wrote it: plain serde types with their defaults. No
//! behaviour lives here. Every key named here is public interface: extend, never rename.

pub use super::providers::*;
pub use super::session_store::*;
pub use crate::chime::BearerMode;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use url::Url;

/// Requests larger than this are refused with 413 before any STS call (Chime messages are ≤ 4 KB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Proxy listener for client calls.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Admin listener: `/metrics`, `/healthz`, `/readyz`. Never shares the proxy port.
    #[serde(default = "default_admin_listen")]
    pub admin_listen: SocketAddr,
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Bearer tokens larger than this are refused before any parsing.
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// Validated tokens remembered (by SHA-256, never the token) until they expire; 0 disables.
    #[serde(default = "default_token_cache_entries")]
    pub token_cache_max_entries: u64,
    /// Memory ceiling of the validated-token cache, by the estimated size of each identity.
    #[serde(default = "default_token_cache_bytes")]
    pub token_cache_max_bytes: u64,
    /// A client must send a request's headers within this long; also the longest stsgate waits
    /// for the next request on an idle HTTP/1.1 connection before the idle timer takes over.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_seconds: u64,
    /// A connection with no request in progress and no bytes either way for this long is closed.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_seconds: u64,
    /// A request body that has not fully arrived this long after its headers gets 408.
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout_seconds: u64,
    /// HTTP/2 pings this often; a peer that does not answer within the same time is dropped.
    #[serde(default = "default_http2_keepalive")]
    pub http2_keepalive_seconds: u64,
    /// Request headers (names, values and the request target) larger than this get 431.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// Requests one AppInstanceUser may make per second (one second of burst); 0: no limit.
    #[serde(default)]
    pub max_requests_per_user_per_second: u32,
    /// On SIGTERM, in-flight requests have this long to finish (bridged sockets close at once).
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_seconds: u64,
    /// Client connections open at once; beyond it new connections are closed at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// tokio worker threads, which are also the SAML signature-check slots. 0: one per CPU this
    /// process may use (its CPU affinity and cgroup CPU quota), not one per CPU of the node.
    #[serde(default)]
    pub worker_threads: usize,
    /// Longest an assertion waits for a signature-check slot before 503 `overloaded`.
    #[serde(default = "default_saml_queue_timeout")]
    pub saml_queue_timeout_seconds: u64,
    pub upstream: UpstreamConfig,
    /// OIDC issuers. At least one of `issuers` and `saml_idps` must be configured.
    #[serde(default)]
    pub issuers: Vec<IssuerConfig>,
    /// SAML 2.0 identity providers whose signed assertions are accepted.
    #[serde(default)]
    pub saml_idps: Vec<SamlIdpConfig>,
    /// Header carrying a base64 SAML assertion, besides `Authorization: SAML <base64>`.
    pub saml_header: Option<String>,
    /// SAML assertions (base64) larger than this are refused before any parsing.
    #[serde(default = "default_max_saml_bytes")]
    pub max_saml_bytes: usize,
    pub sts: StsConfig,
    /// STS session tag key → claim name whose value becomes the tag value.
    #[serde(default)]
    pub session_tags: BTreeMap<String, String>,
    pub chime: ChimeConfig,
    #[serde(default)]
    pub vending: VendingConfig,
    /// Where clients reach stsgate (`https://chat.example.com`): GetMessagingSessionEndpoint is
    /// answered with this host, so a stock Chime SDK opens its WebSocket to stsgate.
    pub public_url: Option<Url>,
    /// Cross-origin browser clients. Off when absent.
    pub cors: Option<CorsConfig>,
    #[serde(default)]
    pub compat: CompatConfig,
    /// A TLS listener instead of plain HTTP on `listen`.
    pub tls: Option<TlsConfig>,
    /// Non-authenticated users (`POST /guest`). Off when absent.
    pub guests: Option<GuestsConfig>,
    /// Sessions shared by the fleet through Redis or Valkey. Off when absent.
    pub session_store: Option<SessionStoreConfig>,
}

/// CORS for browser apps on other origins.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Exact origins (`https://app.example.com`), or `"*"` when `allow_credentials` is false.
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub allow_credentials: bool,
    /// How long browsers may cache a preflight answer.
    #[serde(default = "default_cors_max_age")]
    pub max_age_seconds: u64,
}

/// Support for clients that cannot be changed.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompatConfig {
    /// Stock AWS SDKs configured with placeholder keys and the user's JWT as session token:
    /// stsgate reads the JWT from `x-amz-security-token` (`X-Amz-Security-Token` on `/connect`)
    /// and ignores the placeholder signature.
    #[serde(default)]
    pub session_token_auth: bool,
}

/// The proxy listener's certificate (and, with `admin`, the admin listener's).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: std::path::PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: std::path::PathBuf,
    /// PEM CA certificates: when set, the proxy listener requires a client certificate they issued.
    #[serde(default)]
    pub client_ca_file: Option<std::path::PathBuf>,
    /// The files are re-read this often; a changed set that loads is used for new connections.
    #[serde(default = "default_tls_reload")]
    pub reload_interval_seconds: u64,
    /// Serve the admin listener over TLS too, with the same certificate (no client certificates).
    #[serde(default)]
    pub admin: bool,
}

impl TlsConfig {
    /// A certificate and key with every other key at its default.
    pub fn new(cert_file: std::path::PathBuf, key_file: std::path::PathBuf) -> Self {
        TlsConfig {
            cert_file,
            key_file,
            client_ca_file: None,
            reload_interval_seconds: default_tls_reload(),
            admin: false,
        }
    }
}

fn default_tls_reload() -> u64 {
    10
}

/// `POST /credentials`: hands the caller's session credentials to clients that sign themselves.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VendingConfig {
    /// Off by default: proxying keeps credentials out of clients entirely.
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Signing region for Chime messaging.
    pub region: String,
    /// Defaults to `https://messaging-chime.{region}.amazonaws.com`.
    pub endpoint: Option<Url>,
    /// Time allowed for the upstream to answer with response headers.
    #[serde(default = "default_upstream_timeout")]
    pub timeout_seconds: u64,
    /// Time allowed to open a TCP connection to the upstream (and to JWKS hosts).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_seconds: u64,
    /// PEM file of extra CA certificates trusted for HTTPS and WSS (issuers' JWKS, Chime), on top of
    /// the Mozilla and system roots: private CAs, TLS-terminating sidecars.
    pub ca_file: Option<std::path::PathBuf>,
}

/// Appends the keys every provider (`[[issuers]]`, `[[saml_idps]]`) has, deciding who its
/// callers become (types in providers.rs), to a struct: one definition, so the two tables cannot
/// drift. Not `#[serde(flatten)]`, which would lose `deny_unknown_fields` and its typo errors.
macro_rules! provider_config {
    ($(#[$meta:meta])* pub struct $name:ident { $($fields:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($fields)*
            /// Short name: `{provider}` in templates, the `amr` tag, `stsgate explain`. Required once
            /// more than one provider is configured.
            pub name: Option<String>,
            /// AppInstanceUserId template: `"{sub}"`, `"{provider}-{sub}"`, `"{identity_id}"`, any
            /// `{claim}`. Default: `{chime.user_id_claim}`, or `{provider}-{…}` with several providers.
            pub user_id: Option<String>,
            /// `"default"`, `"rules"` or `"token"`.
            #[serde(default)]
            pub role: RoleMode,
            /// This provider's default role; else `sts.role_arn`.
            pub role_arn: Option<String>,
            /// `role = "rules"`: evaluated in order, the first match wins (at most 25).
            #[serde(default)]
            pub rules: Vec<RuleConfig>,
            /// No rule matched, or no usable role in the token: `"deny"` or `"default"`.
            #[serde(default)]
            pub ambiguous: Ambiguous,
            /// `role = "token"`: the roles a token may choose.
            #[serde(default)]
            pub allowed_roles: Vec<String>,
            /// Principal tags: `"off"`, `"default"` or `{ tag = "claim" }`. Default: `[session_tags]`.
            pub tags: Option<TagsConfig>,
            /// Multi-valued claims in tags are joined with this (tag characters only); refused when unset.
            pub join_multi_valued: Option<String>,
            /// The session's shape for this provider's callers, over `[sts]`.
            #[serde(default)]
            pub session: SessionConfig,
            /// `"assume_role"` (stsgate's credentials) or `"web_identity"` (the caller's own). Default: `sts.mode`.
            pub sts_mode: Option<StsMode>,
        }
    };
}

provider_config! {
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Exact `iss` value; also the base for OIDC discovery.
    pub issuer: String,
    /// Accepted `aud` values (or `client_id` for access tokens without `aud`).
    pub audiences: Vec<String>,
    /// Skips discovery when set (e.g. IdPs without a discovery document).
    pub jwks_uri: Option<Url>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Accepted signing algorithms (public-key ones only). Default: RS256/384/512, PS256/384/512,
    /// ES256, ES384, EdDSA.
    pub algorithms: Option<Vec<String>>,
    /// Accept only ID or only access tokens, by the `token_use` claim (Cognito).
    pub token_use: Option<TokenUse>,
    /// Claims that must be present with exactly these values, e.g. `email_verified = true`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub required_claims: BTreeMap<String, toml::Value>,
    /// Refuse tokens issued (`iat`) longer ago than this; such tokens must carry `iat`.
    pub max_token_age_seconds: Option<u64>,
    /// At most one JWKS fetch per this many seconds is triggered by unknown `kid`s.
    #[serde(default = "default_jwks_refetch")]
    pub jwks_refetch_interval_seconds: u64,
    /// The key set is refetched in the background this often (rotation without restarts).
    #[serde(default = "default_jwks_refresh")]
    pub jwks_refresh_seconds: u64,
}
}

provider_config! {
/// A SAML 2.0 IdP: its signing certificates and what its assertions must say about us.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SamlIdpConfig {
    /// Exact `<Issuer>` of the IdP's assertions (its entity ID).
    pub entity_id: String,
    /// PEM files with the IdP's signing certificates (several during a rotation).
    #[serde(default)]
    pub certificate_files: Vec<std::path::PathBuf>,
    /// The same, inline: PEM text in the config (e.g. a Kubernetes ConfigMap).
    #[serde(default)]
    pub certificates: Vec<String>,
    /// The IdP's metadata XML; its signing certificates are trusted too.
    pub metadata_file: Option<std::path::PathBuf>,
    /// Accepted `<Audience>` values: our SP entity ID(s). Every `AudienceRestriction` must name one.
    pub audiences: Vec<String>,
    /// Accepted `Recipient` of the bearer `SubjectConfirmation` (and `Destination` of a Response).
    pub recipients: Vec<String>,
    /// Clock skew tolerated on `NotBefore`, `NotOnOrAfter` and `IssueInstant`.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Accepted XML-DSig signature methods. Default: rsa-sha256/384/512, ecdsa-sha256/384/512.
    pub signature_algorithms: Option<Vec<String>>,
    /// Claim name → SAML attribute `Name`, so mappings can use short names (`email`) for long
    /// attribute URIs. Every attribute is also a claim under its own `Name`.
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
    /// Claims that must be present with exactly these values.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub required_claims: BTreeMap<String, toml::Value>,
    /// Refuse assertions issued (`IssueInstant`) longer ago than this.
    pub max_assertion_age_seconds: Option<u64>,
    /// `sts_mode = "web_identity"`: the IAM SAML provider of `AssumeRoleWithSAML`.
    pub saml_provider_arn: Option<String>,
}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    Id,
    Access,
}

impl TokenUse {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenUse::Id => "id",
            TokenUse::Access => "access",
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StsConfig {
    pub role_arn: String,
    pub region: String,
    /// Overrides the regional endpoint; `AWS_ENDPOINT_URL_STS` is honoured when unset.
    pub endpoint: Option<Url>,
    #[serde(default = "default_duration")]
    pub duration_seconds: u32,
    /// Claim whose value (sanitised) becomes `RoleSessionName`, visible in CloudTrail.
    #[serde(default = "default_sub")]
    pub session_name_claim: String,
    /// A cached session is dropped this long before its `Expiration`, so no request is signed with
    /// credentials about to expire.
    #[serde(default = "default_expiry_margin")]
    pub expiry_margin_seconds: u64,
    /// Longest a request waits on STS: queueing for a slot, the calls and their retries.
    #[serde(default = "default_sts_timeout")]
    pub timeout_seconds: u64,
    /// A session in use is renewed in the background this long before it leaves the cache.
    #[serde(default = "default_refresh_ahead")]
    pub refresh_ahead_seconds: u64,
    /// Upper bound on concurrent AssumeRole calls from this process.
    #[serde(default = "default_max_concurrent_calls")]
    pub max_concurrent_calls: usize,
    /// Upper bound on the AssumeRole call rate (a token bucket with one second of burst).
    #[serde(default = "default_max_calls_per_second")]
    pub max_calls_per_second: u32,
    /// Upper bound on the AssumeRole rate of all replicas together, kept in `[session_store]`
    /// (one second of burst); 0: none. While the store cannot be asked, only
    /// `max_calls_per_second` applies.
    #[serde(default)]
    pub fleet_max_calls_per_second: u32,
    /// A refused role (AccessDenied, invalid tags or policy) is remembered this long.
    #[serde(default = "default_negative_cache")]
    pub negative_cache_seconds: u64,
    /// Capacity of the session cache; the least useful sessions are evicted beyond it.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: u64,
    /// Optional inline session policy (JSON) that scopes every session down further.
    pub session_policy: Option<String>,
    /// Managed session policies on every session (at most 10).
    #[serde(default)]
    pub policy_arns: Vec<String>,
    /// Session tag keys that persist through role chaining.
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
    /// Claim (or `{template}`) that becomes `SourceIdentity`.
    pub source_identity: Option<String>,
    /// `"assume_role"` or `"web_identity"`, for providers that do not say.
    #[serde(default)]
    pub mode: StsMode,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChimeConfig {
    pub app_instance_arn: String,
    /// Claim holding the AppInstanceUserId: bearer = `{app_instance_arn}/user/{claim}`.
    #[serde(default = "default_sub")]
    pub user_id_claim: String,
    #[serde(default)]
    pub bearer: BearerMode,
    /// The Chime SDK identity API (`[guests] create_app_instance_user`). Default:
    /// `https://identity-chime.{upstream.region}.amazonaws.com`.
    pub identity_endpoint: Option<Url>,
    /// Operations clients may call (IAM action names without `chime:`). Default: the 22 actions
    /// of the AWS sample's user-role policy, `Connect` (the WebSocket) included.
    pub allowed_operations: Option<Vec<String>>,
    /// AppInstanceUserIds (AppInstanceAdmins) that may name other users in `app-instance-user-arn`.
    #[serde(default)]
    pub admin_user_ids: Vec<String>,
    /// A bridged WebSocket with no frame in either direction for this long is closed.
    #[serde(default = "default_ws_idle")]
    pub websocket_idle_seconds: u64,
    /// Largest WebSocket message relayed in either direction.
    #[serde(default = "default_ws_max_message")]
    pub websocket_max_message_bytes: usize,
    /// A frame one side does not take within this long closes the bridged socket.
    #[serde(default = "default_ws_send_timeout")]
    pub websocket_send_timeout_seconds: u64,
    /// Time allowed to open the upstream messaging WebSocket (TCP, TLS and handshake).
    #[serde(default = "default_ws_connect_timeout")]
    pub websocket_connect_timeout_seconds: u64,
    /// Claim shown as `ChimeDisplayName` by `GET /me` (the user id when absent).
    #[serde(default = "default_display_name_claim")]
    pub display_name_claim: String,
    /// Bridged sockets one AppInstanceUser may have open at once (429 beyond).
    #[serde(default = "default_ws_per_user")]
    pub websocket_max_per_user: usize,
    /// Refuse a config where no session tag carries `user_id_claim`: without one, the user
    /// role's policy cannot tie a session to its bearer. Opting out is for roles whose policy
    /// does not use `${aws:PrincipalTag/...}`.
    #[serde(default = "default_true")]
    pub require_user_id_tag: bool,
}

/// Above `max_saml_bytes` (64 KiB), with room for the other headers.
fn default_max_header_bytes() -> usize {
    96 * 1024
}
fn default_connect_timeout() -> u64 {
    5
}
fn default_shutdown_grace() -> u64 {
    20
}
fn default_cors_max_age() -> u64 {
    600
}
fn default_display_name_claim() -> String {
    "name".to_owned()
}
fn default_true() -> bool {
    true
}
fn default_token_cache_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_header_read_timeout() -> u64 {
    10
}
fn default_idle_timeout() -> u64 {
    60
}
fn default_body_read_timeout() -> u64 {
    30
}
fn default_http2_keepalive() -> u64 {
    30
}
fn default_max_connections() -> usize {
    10_000
}
fn default_saml_queue_timeout() -> u64 {
    2
}
fn default_ws_send_timeout() -> u64 {
    10
}
fn default_ws_connect_timeout() -> u64 {
    10
}
fn default_ws_per_user() -> usize {
    10
}
fn default_max_token_bytes() -> usize {
    8 * 1024
}
fn default_max_saml_bytes() -> usize {
    64 * 1024
}
fn default_token_cache_entries() -> u64 {
    100_000
}
fn default_jwks_refetch() -> u64 {
    10
}
fn default_jwks_refresh() -> u64 {
    900
}
fn default_ws_idle() -> u64 {
    300
}
fn default_ws_max_message() -> usize {
    1024 * 1024
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9090))
}
fn default_max_body_bytes() -> usize {
    DEFAULT_MAX_BODY_BYTES
}
fn default_upstream_timeout() -> u64 {
    30
}
fn default_leeway() -> u64 {
    60
}
fn default_duration() -> u32 {
    3600
}
fn default_sub() -> String {
    "sub".to_owned()
}
fn default_expiry_margin() -> u64 {
    300
}
fn default_sts_timeout() -> u64 {
    10
}
fn default_refresh_ahead() -> u64 {
    300
}
fn default_max_concurrent_calls() -> usize {
    16
}
fn default_max_calls_per_second() -> u32 {
    50
}
fn default_negative_cache() -> u64 {
    30
}
fn default_max_sessions() -> u64 {
    100_000
}
