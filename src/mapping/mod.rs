//! Identity → session: a pure function from a [`Principal`] and its provider's rules to the STS
//! session it needs ([`SessionSpec`]) and the AppInstanceUser it acts as. No I/O.
//!
//! Per provider, as Cognito identity pools do it: an identity ID (`identity_id.rs`), the
//! AppInstanceUserId and other values from templates (`template.rs`), the role from a default,
//! rules or the token (`roles.rs`), principal tags, and the session's shape; `explain.rs` reports
//! each step for `stsgate explain`.

mod explain;
pub mod identity_id;
mod roles;
mod template;

pub use explain::Explanation;
pub use roles::{RoleSelection, Rule, Step};
pub use template::{Template, Var};

use crate::arn::{app_instance_user_arn, is_app_instance_user_id};
use crate::chime::operations::AllowList;
use crate::config::StsMode;
use crate::config::is_tag_char;
use crate::config::settings::MappingSettings;
use crate::identity::Principal;
use http::HeaderValue;
use std::collections::HashMap;
use std::sync::Arc;
use template::Context;

/// Everything that makes two STS sessions different; the credential cache key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SessionSpec {
    pub role_arn: Arc<str>,
    pub session_name: String,
    /// In the provider's tag order (keys sorted), so equal tag sets hash equally.
    pub tags: Vec<(String, String)>,
    pub duration_seconds: i32,
    /// Inline session policy that scopes the session down, if configured.
    pub policy: Option<Arc<str>>,
    /// Managed session policies.
    pub policy_arns: Arc<[Arc<str>]>,
    pub transitive_tag_keys: Arc<[Arc<str>]>,
    pub source_identity: Option<String>,
    /// The caller's AppInstanceUser ARN (`x-amz-chime-bearer`). Not sent to STS: it keeps two
    /// users apart in the cache even when their AssumeRole inputs are equal (`a:b` and `a-b`
    /// make the same RoleSessionName).
    pub user_arn: Arc<str>,
    /// Which STS call makes the session.
    pub exchange: Exchange,
}

/// The STS call that makes a session: `AssumeRole` with stsgate's credentials, or the caller's
/// own credential (`sts_mode = "web_identity"`). A web identity's session is its credential's:
/// two tokens of one user are two cache entries (so an expired token's refusal is never
/// remembered for the next one).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub enum Exchange {
    #[default]
    AssumeRole,
    WebIdentity(PresentedSecret),
    Saml {
        principal_arn: Arc<str>,
        assertion: PresentedSecret,
    },
}

/// The token or assertion a caller presented, kept for the STS call it authorises: compared
/// and hashed by its SHA-256, never printed. (Not the front door's `Credential`, which says
/// where in the request the caller's identity was found.)
#[derive(Clone)]
pub struct PresentedSecret {
    pub secret: Arc<str>,
    digest: [u8; 32],
}

impl PresentedSecret {
    pub fn new(secret: &str) -> Self {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
        let mut digest = [0u8; 32];
        digest.copy_from_slice(d.as_ref());
        PresentedSecret {
            secret: secret.into(),
            digest,
        }
    }

    /// SHA-256 of the secret: what identifies it without revealing it.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }
}

impl PartialEq for PresentedSecret {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest
    }
}
impl Eq for PresentedSecret {}
impl std::hash::Hash for PresentedSecret {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.digest.hash(h)
    }
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exchange::AssumeRole => f.write_str("AssumeRole"),
            Exchange::WebIdentity(_) => f.write_str("AssumeRoleWithWebIdentity(..)"),
            Exchange::Saml { principal_arn, .. } => {
                write!(f, "AssumeRoleWithSAML({principal_arn}, ..)")
            }
        }
    }
}

/// The session's shape besides role and tags: per provider or per rule, over `[sts]`.
#[derive(Debug, Clone, Default)]
pub struct SessionShape {
    pub duration_seconds: i32,
    pub policy: Option<Arc<str>>,
    pub policy_arns: Arc<[Arc<str>]>,
    pub transitive_tag_keys: Arc<[Arc<str>]>,
    pub source_identity: Option<Template>,
}

/// One identity provider's rules: who its callers become.
#[derive(Debug, Clone)]
pub struct Provider {
    /// What [`Principal::issuer`] says: the issuer URL or SAML entity ID.
    pub key: String,
    /// `{provider}`: the configured name, else `key`.
    pub name: String,
    /// False for guests (`amr` says `unauthenticated`).
    pub authenticated: bool,
    /// `{amr}`: Cognito's meaning, `authenticated` or `unauthenticated`, with the name
    /// ([`amr_of`]).
    pub amr: String,
    pub user_id: Template,
    pub session_name: Template,
    pub roles: RoleSelection,
    pub tags: Vec<(String, Template)>,
    /// Separator for multi-valued claims; `None` refuses them.
    pub join: Option<String>,
    pub shape: SessionShape,
    pub sts_mode: StsMode,
    /// `AssumeRoleWithSAML`'s IAM SAML provider (SAML IdPs in web-identity mode).
    pub saml_provider_arn: Option<Arc<str>>,
    /// Operations narrower than `chime.allowed_operations` (guests).
    pub allowed: Option<AllowList>,
}

/// The result of mapping one caller.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub spec: SessionSpec,
    pub provider: Arc<Provider>,
    pub identity_id: String,
    /// `spec.user_arn` as a header value, built once per caller rather than once per request.
    bearer: HeaderValue,
}

impl Mapped {
    /// `x-amz-chime-bearer` for this caller.
    pub fn user_arn(&self) -> &str {
        &self.spec.user_arn
    }

    /// [`Mapped::user_arn`] as the `x-amz-chime-bearer` value.
    pub fn bearer(&self) -> &HeaderValue {
        &self.bearer
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("the token has no usable {0:?} claim")]
    MissingClaim(String),
    #[error("claim {0:?} has several values; set join_multi_valued to accept it")]
    MultiValued(String),
    #[error(
        "{value:?} cannot be the session tag {tag:?}: STS allows at most 256 letters, digits, spaces and _ . : / = + - @"
    )]
    InvalidTagValue { tag: String, value: String },
    #[error("{0:?} does not make a valid AppInstanceUserId")]
    InvalidUserId(String),
    #[error("{0:?} does not make a valid SourceIdentity (2-64 of letters, digits and _+=,.@-)")]
    InvalidSourceIdentity(String),
    #[error("no role rule matched this identity")]
    NoRoleMatched,
    #[error("no provider is configured for issuer {0:?}")]
    UnknownProvider(String),
}

pub struct Mapper {
    providers: HashMap<String, Arc<Provider>>,
    app_instance_arn: String,
    region: String,
}

impl Mapper {
    pub fn new(s: &MappingSettings) -> Self {
        Mapper {
            providers: s
                .providers
                .iter()
                .map(|p| (p.key.clone(), p.clone()))
                .collect(),
            app_instance_arn: s.app_instance_arn.clone(),
            region: s.region.clone(),
        }
    }

    pub fn map(&self, p: &Principal) -> Result<Mapped, MappingError> {
        self.map_traced(p, None)
    }

    /// As [`Mapper::map`], computed once per validated credential and shared by every request
    /// that carries it (kept in the principal's [`Derived`](crate::identity::Derived) slot; the
    /// mapping depends on the claims and the configuration only).
    pub fn map_shared(&self, p: &Principal) -> Result<Arc<Mapped>, MappingError> {
        type Memo = Result<Arc<Mapped>, MappingError>;
        match p.derived.get_or_init::<Memo>(|| self.map(p).map(Arc::new)) {
            Some(memo) => memo.clone(),
            None => self.map(p).map(Arc::new),
        }
    }

    /// As [`Mapper::map`], writing each role check to `trace`.
    fn map_traced(
        &self,
        p: &Principal,
        trace: Option<&mut Vec<Step>>,
    ) -> Result<Mapped, MappingError> {
        let provider = self.provider(p)?;
        let identity_id = self.identity_id(provider, p)?;
        let mut cx = Context {
            principal: p,
            provider: &provider.name,
            identity_id: &identity_id,
            amr: &provider.amr,
            user_id: None,
            join: provider.join.as_deref(),
        };
        let user_id = provider.user_id.render(&cx)?;
        if !is_app_instance_user_id(&user_id) {
            return Err(MappingError::InvalidUserId(provider.user_id.to_string()));
        }
        cx.user_id = Some(&user_id);
        let chosen = provider
            .roles
            .choose(p, trace)
            .ok_or(MappingError::NoRoleMatched)?;
        let shape = chosen.rule.map_or(&provider.shape, |r| &r.shape);
        let mut tags = Vec::with_capacity(provider.tags.len());
        for (tag, template) in &provider.tags {
            let value = template.render(&cx)?;
            if value.chars().count() > 256 || !value.chars().all(is_tag_char) {
                return Err(MappingError::InvalidTagValue {
                    tag: tag.clone(),
                    value: template.to_string(),
                });
            }
            tags.push((tag.clone(), value));
        }
        let source_identity = match &shape.source_identity {
            Some(t) => Some(source_identity(t, &cx)?),
            None => None,
        };
        let user_arn: Arc<str> = app_instance_user_arn(&self.app_instance_arn, &user_id).into();
        // Cannot fail: the user id was checked above and the AppInstance ARN by the config.
        let bearer = HeaderValue::from_str(&user_arn)
            .map_err(|_| MappingError::InvalidUserId(provider.user_id.to_string()))?;
        Ok(Mapped {
            spec: SessionSpec {
                role_arn: chosen.role_arn,
                session_name: session_name(&provider.session_name.render(&cx)?),
                tags,
                duration_seconds: shape.duration_seconds,
                policy: shape.policy.clone(),
                policy_arns: shape.policy_arns.clone(),
                transitive_tag_keys: shape.transitive_tag_keys.clone(),
                source_identity,
                user_arn,
                exchange: Exchange::AssumeRole,
            },
            provider: provider.clone(),
            identity_id,
            bearer,
        })
    }

    /// The AppInstanceUser ARN of `user_id` in the configured AppInstance.
    pub fn app_instance_user_arn(&self, user_id: &str) -> String {
        app_instance_user_arn(&self.app_instance_arn, user_id)
    }

    fn provider(&self, p: &Principal) -> Result<&Arc<Provider>, MappingError> {
        self.providers
            .get(&p.issuer)
            .ok_or_else(|| MappingError::UnknownProvider(p.issuer.clone()))
    }

    /// A guest's `sub` already is its identity ID; anyone else's is derived from the subject.
    fn identity_id(&self, provider: &Provider, p: &Principal) -> Result<String, MappingError> {
        let sub = p
            .claim_str("sub")
            .ok_or_else(|| MappingError::MissingClaim("sub".into()))?;
        Ok(if provider.authenticated {
            identity_id::derived(&self.region, &provider.key, &sub)
        } else {
            sub
        })
    }
}

/// Cognito's `amr`: `authenticated` or `unauthenticated`, with the provider's name.
pub fn amr_of(authenticated: bool, name: &str) -> String {
    let state = if authenticated {
        "authenticated"
    } else {
        "unauthenticated"
    };
    format!("{state}:{name}")
}

/// `SourceIdentity` allows `[\w+=,.@-]{2,64}`, not starting with `aws:`; refused, never rewritten
/// (it is an audit trail).
fn source_identity(t: &Template, cx: &Context<'_>) -> Result<String, MappingError> {
    let v = t.render(cx)?;
    let valid = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if (2..=64).contains(&v.len()) && v.chars().all(valid) && !v.starts_with("aws:") {
        Ok(v)
    } else {
        Err(MappingError::InvalidSourceIdentity(t.to_string()))
    }
}

/// `RoleSessionName` allows `[\w+=,.@-]{2,64}`. Other characters become `-`; a value that is still
/// too short or too long is replaced by a stable hash, so every caller gets a valid name.
pub fn session_name(raw: &str) -> String {
    let valid = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    let cleaned: String = raw
        .chars()
        .map(|c| if valid(c) { c } else { '-' })
        .collect();
    if (2..=64).contains(&cleaned.len()) && cleaned.chars().any(|c| c.is_ascii_alphanumeric()) {
        return cleaned;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, raw.as_bytes());
    let hex = hex::encode(&digest.as_ref()[..16]);
    format!("h-{hex}")
}

#[cfg(test)]
mod tests;
