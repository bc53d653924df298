//! Validation: checks every key, reports all problems at once (each naming its key), and builds
//! the typed [`Settings`] from the same pass, so nothing is parsed twice. One file per concern:
//! the server (`server.rs`), OIDC issuers (`issuers.rs`), SAML IdPs (`saml.rs`, certificates in
//! `certs.rs`), AWS (`aws.rs`: STS, the broker, the upstream), who callers become (`mapping.rs`,
//! guests in `guests.rs`), Chime (`chime.rs`) and the shared session store (`store.rs`).

mod aws;
mod certs;
mod chime;
mod clients;
mod guests;
mod issuers;
mod mapping;
mod saml;
mod server;
mod session;
mod store;

use super::Config;
use super::settings::{IdentitySettings, Settings};
use url::Url;

pub use certs::read_pem_certificates;

/// Every problem found, each as `key: why`.
#[derive(Default)]
pub(super) struct Problems(Vec<String>);

impl Problems {
    pub(super) fn bad(&mut self, key: impl std::fmt::Display, why: impl Into<String>) {
        self.0.push(format!("{key}: {}", why.into()));
    }

    /// Each `(key, value)` must be greater than 0 (timeouts, limits, capacities).
    pub(super) fn positive(&mut self, keys: &[(&str, u64)]) {
        for (key, value) in keys {
            if *value == 0 {
                self.bad(key, "must be greater than 0");
            }
        }
    }

    /// `Err(why)` becomes a problem of `key`; `Ok(v)` passes `v` on.
    pub(super) fn check<T>(
        &mut self,
        key: impl std::fmt::Display,
        r: Result<T, String>,
    ) -> Option<T> {
        r.map_err(|why| self.bad(key, why)).ok()
    }
}

/// Checks `c` and, when every key is valid, returns the settings it describes.
pub fn validate(c: &Config) -> Result<Settings, Vec<String>> {
    let mut p = Problems::default();
    let server = server::server(c, &mut p);
    let proxy = server::proxy(c, &mut p);
    let guests = guests::settings(c, &mut p);
    let mut oidc = issuers::issuers(c, &mut p);
    oidc.extend(guests.as_ref().map(guests::issuer));
    let identity = IdentitySettings {
        issuers: oidc,
        saml_idps: saml::idps(c, &mut p),
        saml_header: saml::header(c, &mut p),
        max_token_bytes: c.max_token_bytes,
        max_saml_bytes: c.max_saml_bytes,
        token_cache_max_entries: c.token_cache_max_entries,
        token_cache_max_bytes: c.token_cache_max_bytes,
        saml_queue_timeout: std::time::Duration::from_secs(c.saml_queue_timeout_seconds),
        saml_check_slots: server.worker_threads,
    };
    if c.issuers.is_empty() && c.saml_idps.is_empty() {
        p.bad(
            "issuers",
            "at least one [[issuers]] or [[saml_idps]] entry is required",
        );
    }
    let settings = Settings {
        listen: c.listen,
        admin_listen: c.admin_listen,
        server,
        proxy,
        identity,
        mapping: mapping::mapping(c, &mut p),
        guests,
        sts: aws::sts(c, &mut p),
        broker: aws::broker(c, &mut p),
        upstream: aws::upstream(c, &mut p),
        chime: chime::chime(c, &mut p),
        store: store::settings(c, &mut p),
    };
    if p.0.is_empty() {
        Ok(settings)
    } else {
        Err(p.0)
    }
}

/// HTTPS everywhere; plain HTTP only to this machine (tests, local stand-ins, a TLS sidecar).
pub fn check_url(u: &Url) -> Result<(), String> {
    match u.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(u) => Ok(()),
        "http" => Err(format!(
            "{u}: plain http is allowed only for loopback hosts"
        )),
        other => Err(format!("{u}: unsupported scheme {other:?}")),
    }
}

fn is_loopback(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn is_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Bounds that keep time arithmetic far from overflow: an hour of clock skew, a year of age.
const MAX_LEEWAY: u64 = 3600;
const MAX_AGE: u64 = 366 * 86_400;

/// A leeway or maximum age, within the bounds above.
fn seconds_within(p: &mut Problems, key: &str, value: u64, max: u64) -> i64 {
    if value > max {
        p.bad(key, format!("at most {max}"));
    }
    value.min(max) as i64
}

/// `required_claims` as JSON values, the form claims are compared in.
fn required_claims(
    from_config: &std::collections::BTreeMap<String, toml::Value>,
) -> Vec<(String, serde_json::Value)> {
    from_config
        .iter()
        .map(|(k, v)| {
            let v = serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
            (k.clone(), v)
        })
        .collect()
}

/// STS tag key rules: 1..128 chars of letters, digits, spaces and `_.:/=+-@`; no `aws:` prefix.
pub fn check_tag_key(k: &str) -> Result<(), String> {
    if k.is_empty() || k.chars().count() > 128 {
        return Err("tag keys are 1 to 128 characters".into());
    }
    if k.to_ascii_lowercase().starts_with("aws:") {
        return Err("tag keys must not start with aws:".into());
    }
    if !k.chars().all(is_tag_char) {
        return Err("tag keys allow letters, digits, spaces and _ . : / = + - @".into());
    }
    Ok(())
}

pub fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

#[cfg(test)]
mod tests;
