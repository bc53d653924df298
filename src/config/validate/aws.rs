//! AWS: STS (role, region, endpoint, session shape), the session broker's bounds, the Chime
//! upstream (the identity → session mapping is `mapping.rs`).

use super::{Problems, check_url, is_region};
use crate::config::Config;
use crate::config::settings::{BrokerSettings, StsSettings, UpstreamSettings};
use std::time::Duration;
use url::Url;

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
