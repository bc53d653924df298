//! AWS: STS (role, region, endpoint, session shape), the session broker's bounds, the Chime
//! upstream, and the identity → session mapping (session name, tags, user id claim).

use super::{Problems, check_tag_key, check_url, is_region};
use crate::arn::check_role_arn;
use crate::config::Config;
use crate::config::settings::{BrokerSettings, MappingSettings, StsSettings, UpstreamSettings};
use std::time::Duration;
use url::Url;

/// STS accepts at most 50 session tags per AssumeRole.
const MAX_SESSION_TAGS: usize = 50;
/// STS limit on the plaintext of inline plus managed session policies.
const MAX_POLICY_CHARS: usize = 2048;

pub(super) fn sts(c: &Config, p: &mut Problems) -> StsSettings {
    let s = &c.sts;
    if !is_region(&s.region) {
        p.bad(
            "sts.region",
            format!("{:?} is not an AWS region name", s.region),
        );
    }
    if let Some(u) = &s.endpoint {
        p.check("sts.endpoint", check_url(u));
    }
    p.positive(&[("sts.timeout_seconds", s.timeout_seconds)]);
    StsSettings {
        region: s.region.clone(),
        endpoint: s.endpoint.clone(),
        timeout: Duration::from_secs(s.timeout_seconds),
    }
}

pub(super) fn broker(c: &Config, p: &mut Problems) -> BrokerSettings {
    let s = &c.sts;
    let duration = u64::from(s.duration_seconds);
    if s.expiry_margin_seconds * 2 > duration {
        p.bad(
            "sts.expiry_margin_seconds",
            "must be at most half of sts.duration_seconds, or sessions would barely be cached",
        );
    }
    if s.expiry_margin_seconds + s.refresh_ahead_seconds >= duration {
        p.bad(
            "sts.refresh_ahead_seconds",
            "expiry_margin_seconds + refresh_ahead_seconds must be less than duration_seconds",
        );
    }
    p.positive(&[
        ("sts.max_concurrent_calls", s.max_concurrent_calls as u64),
        (
            "sts.max_calls_per_second",
            u64::from(s.max_calls_per_second),
        ),
        ("sts.max_sessions", s.max_sessions),
    ]);
    BrokerSettings {
        expiry_margin: Duration::from_secs(s.expiry_margin_seconds),
        refresh_ahead: Duration::from_secs(s.refresh_ahead_seconds),
        deadline: Duration::from_secs(s.timeout_seconds),
        negative_ttl: Duration::from_secs(s.negative_cache_seconds),
        max_sessions: s.max_sessions,
        max_concurrent_calls: s.max_concurrent_calls,
        max_calls_per_second: s.max_calls_per_second,
    }
}

pub(super) fn upstream(c: &Config, p: &mut Problems) -> UpstreamSettings {
    let u = &c.upstream;
    if !is_region(&u.region) {
        p.bad(
            "upstream.region",
            format!("{:?} is not an AWS region name", u.region),
        );
    }
    let endpoint = match &u.endpoint {
        Some(url) => {
            if p.check("upstream.endpoint", check_url(url)).is_some()
                && (url.path() != "/" || url.query().is_some())
            {
                p.bad(
                    "upstream.endpoint",
                    "must be scheme://host[:port] without a path",
                );
            }
            url.clone()
        }
        None => default_endpoint(&u.region),
    };
    let extra_roots = match &u.ca_file {
        Some(path) => p
            .check("upstream.ca_file", super::read_pem_certificates(path))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    p.positive(&[
        ("upstream.timeout_seconds", u.timeout_seconds),
        (
            "upstream.connect_timeout_seconds",
            u.connect_timeout_seconds,
        ),
    ]);
    UpstreamSettings {
        region: u.region.clone(),
        endpoint,
        timeout: Duration::from_secs(u.timeout_seconds),
        connect_timeout: Duration::from_secs(u.connect_timeout_seconds),
        extra_roots,
    }
}

/// `https://messaging-chime.{region}.amazonaws.com`.
fn default_endpoint(region: &str) -> Url {
    Url::parse(&format!("https://messaging-chime.{region}.amazonaws.com"))
        .unwrap_or_else(|_| Url::parse("https://messaging-chime.invalid").expect("valid URL"))
}

pub(super) fn mapping(c: &Config, p: &mut Problems) -> MappingSettings {
    let s = &c.sts;
    p.check("sts.role_arn", check_role_arn(&s.role_arn));
    if !(900..=43200).contains(&s.duration_seconds) {
        p.bad(
            "sts.duration_seconds",
            "must be between 900 and 43200 (STS limits)",
        );
    }
    if let Some(policy) = &s.session_policy {
        if policy.len() > MAX_POLICY_CHARS {
            p.bad(
                "sts.session_policy",
                format!("at most {MAX_POLICY_CHARS} characters (STS limit)"),
            );
        } else if !serde_json::from_str::<serde_json::Value>(policy).is_ok_and(|v| v.is_object()) {
            p.bad("sts.session_policy", "must be a JSON policy document");
        }
    }
    for (key, claim) in [
        ("sts.session_name_claim", &s.session_name_claim),
        ("chime.user_id_claim", &c.chime.user_id_claim),
    ] {
        if claim.is_empty() {
            p.bad(key, "must name a claim");
        }
    }
    let user_id_tagged = c
        .session_tags
        .values()
        .any(|claim| *claim == c.chime.user_id_claim);
    if c.chime.require_user_id_tag && !user_id_tagged {
        p.bad(
            "session_tags",
            format!(
                "no tag carries chime.user_id_claim ({:?}), so the user role's policy cannot tie \
                 a session to its bearer; add one (e.g. my_applications_user_id = {:?}) or set \
                 chime.require_user_id_tag = false",
                c.chime.user_id_claim, c.chime.user_id_claim
            ),
        );
    }
    MappingSettings {
        role_arn: s.role_arn.as_str().into(),
        session_name_claim: s.session_name_claim.clone(),
        tags: session_tags(c, p),
        duration_seconds: s.duration_seconds as i32,
        session_policy: s.session_policy.as_deref().map(Into::into),
        app_instance_arn: c.chime.app_instance_arn.clone(),
        user_id_claim: c.chime.user_id_claim.clone(),
    }
}

fn session_tags(c: &Config, p: &mut Problems) -> Vec<(String, String)> {
    if c.session_tags.len() > MAX_SESSION_TAGS {
        p.bad(
            "session_tags",
            format!("at most {MAX_SESSION_TAGS} tags (STS limit)"),
        );
    }
    let mut seen = std::collections::HashSet::new();
    for (tag, claim) in &c.session_tags {
        let key = format!("session_tags.{tag}");
        p.check(&key, check_tag_key(tag));
        // STS treats tag keys case-insensitively: `Dept` and `dept` would collide.
        if !seen.insert(tag.to_lowercase()) {
            p.bad(&key, "differs from another tag key only by case");
        }
        if claim.is_empty() {
            p.bad(&key, "must name a claim");
        }
    }
    c.session_tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
