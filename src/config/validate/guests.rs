//! `[guests]`: the guests' provider (role, scope-down, narrower operations, tags), the issuer
//! that verifies their tokens (stsgate's own key), and how tokens are handed out.

use super::Problems;
use super::mapping::{Global, check_session, tag_map};
use super::session::shape;
use crate::arn::check_role_arn;
use crate::chime::operations::{self, AllowList};
use crate::config::settings::IssuerSettings;
use crate::config::{Config, GuestsConfig, SessionConfig, StsMode, TagMode, TagsConfig};
use crate::guests::{self, GuestKey, GuestSettings};
use crate::mapping::{Provider, RoleSelection, Template, amr_of};
use std::sync::Arc;
use std::time::Duration;

/// The claims of a guest token.
const GUEST_CLAIMS: &[&str] = &["iss", "aud", "sub", "amr", "iat", "exp"];

/// What guests may call when `allowed_operations` is not set: read and send messages, and the
/// messaging WebSocket.
pub const DEFAULT_GUEST_OPERATIONS: &[&str] = &[
    "SendChannelMessage",
    "ListChannelMessages",
    "GetChannelMessage",
    "DescribeChannel",
    "ListChannelMembershipsForAppInstanceUser",
    "GetMessagingSessionEndpoint",
    "Connect",
];

pub(super) fn provider(g: &GuestsConfig, global: &Global, p: &mut Problems) -> Provider {
    p.check("guests.role_arn", check_role_arn(&g.role_arn));
    let session = SessionConfig {
        duration_seconds: Some(g.duration_seconds),
        session_policy: g.session_policy.clone(),
        policy_arns: Some(g.policy_arns.clone()),
        // Guests' sessions are their own: no transitive tags or source identity from [sts].
        transitive_tag_keys: Some(Vec::new()),
        source_identity: None,
    };
    let mut base = global.shape.clone();
    base.source_identity = None;
    let names = g.allowed_operations.clone().unwrap_or_else(|| {
        DEFAULT_GUEST_OPERATIONS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    });
    for name in &names {
        if !operations::is_known(name) {
            p.bad(
                "guests.allowed_operations",
                format!("{name:?} is not a Chime SDK messaging operation"),
            );
        }
    }
    let tags = match &g.tags {
        None => global.tags.clone(),
        Some(TagsConfig::Mode(TagMode::Off)) => Vec::new(),
        Some(TagsConfig::Mode(TagMode::Default)) => {
            vec![("username".into(), Template::claim("sub"))]
        }
        Some(TagsConfig::Custom(map)) => tag_map("guests.tags", map, p),
    };
    let v = Provider {
        key: guests::ISSUER.to_owned(),
        name: guests::PROVIDER_NAME.to_owned(),
        amr: amr_of(false, guests::PROVIDER_NAME),
        authenticated: false,
        // A guest's `sub` is its identity ID; its user ID is `guests::user_id` of that.
        user_id: Template::parse("{provider}-{sub}").expect("a valid template"),
        session_name: Template::claim("sub"),
        roles: RoleSelection::Default(g.role_arn.as_str().into()),
        tags,
        join: None,
        shape: shape("guests", &session, &base, p),
        sts_mode: StsMode::AssumeRole,
        saml_provider_arn: None,
        allowed: Some(AllowList::from_names(names.iter().map(String::as_str))),
    };
    // Guest tokens carry only stsgate's own claims: a tag from any other claim would refuse
    // every guest, so it is refused here.
    for (tag, t) in &v.tags {
        if let Some(claim) = t.claims().find(|c| !GUEST_CLAIMS.contains(c)) {
            p.bad(
                "guests.tags (or session_tags)",
                format!("tag {tag:?} reads claim {claim:?}, which guest tokens do not carry (they have {}); set guests.tags", GUEST_CLAIMS.join(", ")),
            );
        }
    }
    check_session("guests", &v, global, p);
    v
}

/// How guest tokens are issued; the key is read (or made) here, so a bad file stops start-up.
pub(super) fn settings(c: &Config, p: &mut Problems) -> Option<GuestSettings> {
    let g = c.guests.as_ref()?;
    p.positive(&[
        ("guests.token_lifetime_seconds", g.token_lifetime_seconds),
        ("guests.max_per_minute", u64::from(g.max_per_minute)),
        (
            "guests.max_total_per_minute",
            u64::from(g.max_total_per_minute),
        ),
        (
            "guests.app_instance_user_expiration_days",
            u64::from(g.app_instance_user_expiration_days),
        ),
    ]);
    if g.token_lifetime_seconds > 86_400 {
        p.bad(
            "guests.token_lifetime_seconds",
            "at most 86400 (guest tokens are short-lived)",
        );
    }
    let key = match &g.signing_key_file {
        Some(path) => {
            let read = std::fs::read(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
                .and_then(|pem| {
                    GuestKey::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
                });
            p.check("guests.signing_key_file", read)?
        }
        None => GuestKey::generate(),
    };
    let create_users = g.create_app_instance_user.then(|| {
        let endpoint = c.chime.identity_endpoint.clone().unwrap_or_else(|| {
            url::Url::parse(&format!(
                "https://identity-chime.{}.amazonaws.com/",
                c.upstream.region
            ))
            .unwrap_or_else(|_| {
                url::Url::parse("https://identity-chime.invalid/").expect("valid URL")
            })
        });
        if let Some(u) = &c.chime.identity_endpoint {
            p.check("chime.identity_endpoint", super::check_url(u));
        }
        (endpoint, g.app_instance_user_expiration_days)
    });
    Some(GuestSettings {
        key: Arc::new(key),
        token_lifetime: Duration::from_secs(g.token_lifetime_seconds),
        max_per_minute: g.max_per_minute,
        max_total_per_minute: g.max_total_per_minute,
        create_users,
    })
}

/// The issuer that verifies guest tokens: stsgate's own key set, never fetched.
pub(super) fn issuer(s: &GuestSettings) -> IssuerSettings {
    IssuerSettings {
        issuer: guests::ISSUER.to_owned(),
        audiences: vec![guests::AUDIENCE.to_owned()],
        jwks_uri: None,
        leeway_seconds: 60,
        algorithms: vec![jsonwebtoken::Algorithm::ES256],
        token_use: None,
        required_claims: vec![("amr".into(), serde_json::json!(["unauthenticated"]))],
        max_age_seconds: None,
        refetch_interval: Duration::from_secs(3600),
        refresh_interval: Duration::from_secs(86_400),
        static_jwks: Some(s.key.jwks().to_string().into_bytes().into()),
    }
}
