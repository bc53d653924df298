//! Identity → session: a pure function from a [`Principal`] and the config to the STS session it
//! needs ([`SessionSpec`]) and the AppInstanceUser it acts as. No I/O.

use crate::arn::{app_instance_user_arn, is_app_instance_user_id};
use crate::config::is_tag_char;
use crate::config::settings::MappingSettings;
use crate::identity::Principal;
use std::sync::Arc;

/// Everything that makes two STS sessions different; the credential cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionSpec {
    pub role_arn: Arc<str>,
    pub session_name: String,
    /// Sorted by key (the config's table order), so equal tag sets hash equally.
    pub tags: Vec<(String, String)>,
    pub duration_seconds: i32,
    /// Inline session policy that scopes the session down, if configured.
    pub policy: Option<Arc<str>>,
    /// The caller's AppInstanceUser ARN (`x-amz-chime-bearer`). Not sent to STS: it keeps two
    /// users apart in the cache even when their AssumeRole inputs are equal (`a:b` and `a-b`
    /// make the same RoleSessionName).
    pub user_arn: Arc<str>,
}

/// The result of mapping one caller.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub spec: SessionSpec,
}

impl Mapped {
    /// `x-amz-chime-bearer` for this caller.
    pub fn user_arn(&self) -> &str {
        &self.spec.user_arn
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("the token has no usable {0:?} claim")]
    MissingClaim(String),
    #[error(
        "claim {claim:?} cannot be the session tag {tag:?}: STS allows at most 256 letters, digits, spaces and _ . : / = + - @"
    )]
    InvalidTagValue { tag: String, claim: String },
    #[error("claim {0:?} is not a valid AppInstanceUserId")]
    InvalidUserId(String),
}

pub struct Mapper {
    role_arn: Arc<str>,
    session_name_claim: String,
    tags: Vec<(String, String)>,
    duration_seconds: i32,
    policy: Option<Arc<str>>,
    app_instance_arn: String,
    user_id_claim: String,
}

impl Mapper {
    pub fn new(s: &MappingSettings) -> Self {
        Mapper {
            role_arn: s.role_arn.clone(),
            session_name_claim: s.session_name_claim.clone(),
            tags: s.tags.clone(),
            duration_seconds: s.duration_seconds,
            policy: s.session_policy.clone(),
            app_instance_arn: s.app_instance_arn.clone(),
            user_id_claim: s.user_id_claim.clone(),
        }
    }

    pub fn map(&self, p: &Principal) -> Result<Mapped, MappingError> {
        let claim = |name: &str| {
            p.claim_str(name)
                .ok_or_else(|| MappingError::MissingClaim(name.to_owned()))
        };

        let user_id = claim(&self.user_id_claim)?;
        if !is_app_instance_user_id(&user_id) {
            return Err(MappingError::InvalidUserId(self.user_id_claim.clone()));
        }
        let mut tags = Vec::with_capacity(self.tags.len());
        for (tag, claim_name) in &self.tags {
            let value = claim(claim_name)?;
            if value.chars().count() > 256 || !value.chars().all(is_tag_char) {
                return Err(MappingError::InvalidTagValue {
                    tag: tag.clone(),
                    claim: claim_name.clone(),
                });
            }
            tags.push((tag.clone(), value));
        }
        let session_name = session_name(&claim(&self.session_name_claim)?);
        Ok(Mapped {
            spec: SessionSpec {
                role_arn: self.role_arn.clone(),
                session_name,
                tags,
                duration_seconds: self.duration_seconds,
                policy: self.policy.clone(),
                user_arn: app_instance_user_arn(&self.app_instance_arn, &user_id).into(),
            },
        })
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
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("h-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn principal(claims: serde_json::Value) -> Principal {
        Principal {
            issuer: "i".into(),
            claims: claims.as_object().unwrap().clone(),
            exp: 0,
            valid_until: 0,
        }
    }

    fn mapper() -> Mapper {
        Mapper {
            role_arn: "arn:aws:iam::111122223333:role/R".into(),
            session_name_claim: "sub".into(),
            tags: vec![
                ("my_applications_user_id".into(), "sub".into()),
                ("tenant".into(), "org".into()),
            ],
            duration_seconds: 3600,
            policy: None,
            app_instance_arn: "arn:aws:chime:us-east-1:111122223333:app-instance/ai".into(),
            user_id_claim: "sub".into(),
        }
    }

    #[test]
    fn maps_claims_to_tags_session_and_bearer() {
        let m = mapper()
            .map(&principal(json!({"sub": "alice", "org": "acme corp"})))
            .unwrap();
        assert_eq!(m.spec.session_name, "alice");
        assert_eq!(
            m.spec.tags,
            vec![
                ("my_applications_user_id".into(), "alice".into()),
                ("tenant".into(), "acme corp".into())
            ]
        );
        assert_eq!(
            m.user_arn(),
            "arn:aws:chime:us-east-1:111122223333:app-instance/ai/user/alice"
        );
    }

    #[test]
    fn refuses_unmappable_identities() {
        let m = mapper();
        assert_eq!(
            m.map(&principal(json!({"sub": "alice"}))).unwrap_err(),
            MappingError::MissingClaim("org".into())
        );
        assert!(matches!(
            m.map(&principal(json!({"sub": "alice", "org": "a|b"}))),
            Err(MappingError::InvalidTagValue { .. })
        ));
        assert_eq!(
            m.map(&principal(json!({"sub": "auth0|123", "org": "x"})))
                .unwrap_err(),
            MappingError::InvalidUserId("sub".into())
        );
    }

    #[test]
    fn session_names_are_always_valid() {
        assert_eq!(session_name("alice@example.com"), "alice@example.com");
        assert_eq!(session_name("auth0|123"), "auth0-123");
        for raw in ["a", "", &"x".repeat(65), "日本"] {
            let s = session_name(raw);
            assert!(s.starts_with("h-") && s.len() == 34, "{raw:?} -> {s}");
        }
        assert_eq!(session_name("a"), session_name("a"), "stable");
    }
}
