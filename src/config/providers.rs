//! The file's types for who a provider's callers become (Cognito identity pools' role mapping,
//! principal tags and guest access): role selection, rules, tags, the session's shape, and
//! `[guests]`. `[[issuers]]` and `[[saml_idps]]` carry the same provider keys.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a provider's callers get their role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleMode {
    /// The provider's `role_arn`, else `sts.role_arn`.
    #[default]
    Default,
    /// The first matching `[[…rules]]` entry.
    Rules,
    /// The token's `cognito:preferred_role` (or its one `cognito:roles`), if in `allowed_roles`.
    Token,
}

/// What happens when no rule matches, or the token names no usable role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Ambiguous {
    /// 403 `no_role_matched`.
    #[default]
    Deny,
    /// The provider's default role.
    Default,
}

/// A rule's comparison, as Cognito names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum MatchType {
    Equals,
    Contains,
    StartsWith,
    NotEqual,
}

/// One role rule: when `claim` compares to `value` by `match`, the caller gets `role_arn`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub claim: String,
    #[serde(rename = "match")]
    pub match_type: MatchType,
    pub value: String,
    pub role_arn: String,
    /// The session's shape for callers this rule matches, over the provider's.
    #[serde(default)]
    pub session: SessionConfig,
}

/// A provider's principal tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TagMode {
    /// No tags.
    Off,
    /// Cognito's default mapping: `username` ← `sub`, `client` ← `aud`.
    Default,
}

/// `"off"`, `"default"`, or a table of tag key → claim name (or `{template}`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TagsConfig {
    Mode(TagMode),
    Custom(BTreeMap<String, String>),
}

/// How a provider's sessions are made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StsMode {
    /// `AssumeRole` with stsgate's own credentials, tags from the mapping.
    #[default]
    AssumeRole,
    /// The caller's own token (`AssumeRoleWithWebIdentity`) or assertion (`AssumeRoleWithSAML`):
    /// no stsgate credentials; tags come from the token itself.
    WebIdentity,
}

/// The session's shape, each key over the same one in `[sts]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// 900–43200; at most 3600 when stsgate's own credentials are an assumed role.
    pub duration_seconds: Option<u32>,
    /// Inline session policy (JSON): scopes the session down.
    pub session_policy: Option<String>,
    /// Managed session policies (at most 10, in the role's account).
    pub policy_arns: Option<Vec<String>>,
    /// Tag keys that persist through role chaining.
    pub transitive_tag_keys: Option<Vec<String>>,
    /// Claim (or `{template}`) that becomes `SourceIdentity`.
    pub source_identity: Option<String>,
}

/// Non-authenticated users: `POST /guest` hands out a short-lived token stsgate signs itself.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestsConfig {
    /// The guest role (its trust policy can require `aws:RequestTag/amr`).
    pub role_arn: String,
    /// Inline scope-down policy on every guest session.
    pub session_policy: Option<String>,
    /// Managed scope-down policies on every guest session.
    #[serde(default)]
    pub policy_arns: Vec<String>,
    /// Guest session lifetime (900–43200).
    #[serde(default = "default_guest_duration")]
    pub duration_seconds: u32,
    /// Operations guests may call (default: reading and sending messages, and the WebSocket).
    pub allowed_operations: Option<Vec<String>>,
    /// Tags of guest sessions: as a provider's `tags` (default: `[session_tags]`).
    pub tags: Option<TagsConfig>,
    /// How long a guest token is valid.
    #[serde(default = "default_guest_token_lifetime")]
    pub token_lifetime_seconds: u64,
    /// Guest tokens one client address may get per minute.
    #[serde(default = "default_guests_per_minute")]
    pub max_per_minute: u32,
    /// Guest tokens all clients together may get per minute from one replica: each may cost a
    /// `CreateAppInstanceUser` with stsgate's own credentials, and behind a load balancer every
    /// client shares one address.
    #[serde(default = "default_guests_total_per_minute")]
    pub max_total_per_minute: u32,
    /// PEM (PKCS#8) P-256 private key guest tokens are signed with, shared by every replica;
    /// absent: one is generated at start (one replica, or the demo).
    pub signing_key_file: Option<std::path::PathBuf>,
    /// Create each guest's AppInstanceUser (Chime SDK identity API, stsgate's own credentials).
    #[serde(default)]
    pub create_app_instance_user: bool,
    /// Chime deletes a guest's AppInstanceUser this many days after its creation.
    #[serde(default = "default_guest_expiration_days")]
    pub app_instance_user_expiration_days: u32,
}

fn default_guest_duration() -> u32 {
    900
}
fn default_guest_token_lifetime() -> u64 {
    3600
}
fn default_guests_per_minute() -> u32 {
    10
}
fn default_guests_total_per_minute() -> u32 {
    600
}
fn default_guest_expiration_days() -> u32 {
    1
}
