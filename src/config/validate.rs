//! Checks every key and reports all problems at once, each naming the key at fault.

use super::Config;
use crate::arn::{check_app_instance_arn, check_role_arn};
use url::Url;

/// Bounds that keep time arithmetic far from overflow: an hour of clock skew, a year of age.
const MAX_LEEWAY: u64 = 3600;
const MAX_AGE: u64 = 366 * 86_400;

/// STS accepts at most 50 session tags per AssumeRole.
const MAX_SESSION_TAGS: usize = 50;

pub fn validate(c: &Config) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let mut bad = |key: &str, why: String| problems.push(format!("{key}: {why}"));

    // Port 0 asks the OS for a free port, so two zeros never collide.
    if c.listen == c.admin_listen && c.listen.port() != 0 {
        bad("admin_listen", "must differ from listen".into());
    }
    if c.max_token_bytes < 64 {
        bad("max_token_bytes", "must be at least 64".into());
    }
    if c.max_body_bytes == 0 {
        bad("max_body_bytes", "must be greater than 0".into());
    }

    if !is_region(&c.upstream.region) {
        bad(
            "upstream.region",
            format!("{:?} is not an AWS region name", c.upstream.region),
        );
    }
    if let Some(u) = &c.upstream.endpoint {
        if let Err(why) = check_url(u) {
            bad("upstream.endpoint", why);
        } else if u.path() != "/" || u.query().is_some() {
            bad(
                "upstream.endpoint",
                "must be scheme://host[:port] without a path".into(),
            );
        }
    }
    if let Some(Err(why)) = c
        .upstream
        .ca_file
        .as_deref()
        .map(crate::http_client::read_ca_file)
    {
        bad("upstream.ca_file", why);
    }
    if c.upstream.timeout_seconds == 0 {
        bad("upstream.timeout_seconds", "must be greater than 0".into());
    }

    if c.issuers.is_empty() && c.saml_idps.is_empty() {
        bad(
            "issuers",
            "at least one [[issuers]] or [[saml_idps]] entry is required".into(),
        );
    }
    validate_saml(c, &mut bad);
    for (i, iss) in c.issuers.iter().enumerate() {
        let key = |k: &str| format!("issuers[{i}].{k}");
        match Url::parse(&iss.issuer) {
            Ok(u) => {
                if let Err(why) = check_url(&u) {
                    bad(&key("issuer"), why);
                }
            }
            Err(e) => bad(&key("issuer"), format!("not a URL: {e}")),
        }
        if iss.audiences.is_empty() || iss.audiences.iter().any(|a| a.is_empty()) {
            bad(
                &key("audiences"),
                "list at least one non-empty audience".into(),
            );
        }
        if iss.leeway_seconds > MAX_LEEWAY {
            bad(&key("leeway_seconds"), format!("at most {MAX_LEEWAY}"));
        }
        if iss.max_token_age_seconds.is_some_and(|a| a > MAX_AGE) {
            bad(&key("max_token_age_seconds"), format!("at most {MAX_AGE}"));
        }
        if let Some(Err(why)) = iss.jwks_uri.as_ref().map(check_url) {
            bad(&key("jwks_uri"), why);
        }
        for alg in iss.algorithms.iter().flatten() {
            if let Err(why) = crate::identity::check_algorithm(alg) {
                bad(&key("algorithms"), why);
            }
        }
        if iss.algorithms.as_ref().is_some_and(Vec::is_empty) {
            bad(&key("algorithms"), "list at least one algorithm".into());
        }
        if iss.jwks_refetch_interval_seconds == 0 || iss.jwks_refresh_seconds == 0 {
            bad(
                &key("jwks_refresh_seconds"),
                "JWKS intervals must be greater than 0".into(),
            );
        }
        if c.issuers[..i].iter().any(|o| o.issuer == iss.issuer) {
            bad(&key("issuer"), "duplicate issuer".into());
        }
    }

    if let Err(why) = check_role_arn(&c.sts.role_arn) {
        bad("sts.role_arn", why);
    }
    if !is_region(&c.sts.region) {
        bad(
            "sts.region",
            format!("{:?} is not an AWS region name", c.sts.region),
        );
    }
    if let Some(Err(why)) = c.sts.endpoint.as_ref().map(check_url) {
        bad("sts.endpoint", why);
    }
    if !(900..=43200).contains(&c.sts.duration_seconds) {
        bad(
            "sts.duration_seconds",
            "must be between 900 and 43200 (STS limits)".into(),
        );
    }
    if c.sts.expiry_margin_seconds * 2 > u64::from(c.sts.duration_seconds) {
        bad(
            "sts.expiry_margin_seconds",
            "must be at most half of sts.duration_seconds, or sessions would barely be cached"
                .into(),
        );
    }
    if c.sts.timeout_seconds == 0 {
        bad("sts.timeout_seconds", "must be greater than 0".into());
    }
    if c.sts.expiry_margin_seconds + c.sts.refresh_ahead_seconds
        >= u64::from(c.sts.duration_seconds)
    {
        bad(
            "sts.refresh_ahead_seconds",
            "expiry_margin_seconds + refresh_ahead_seconds must be less than duration_seconds"
                .into(),
        );
    }
    if c.sts.max_concurrent_calls == 0 {
        bad("sts.max_concurrent_calls", "must be at least 1".into());
    }
    if c.sts.max_calls_per_second == 0 {
        bad("sts.max_calls_per_second", "must be at least 1".into());
    }
    if c.sts.max_sessions == 0 {
        bad("sts.max_sessions", "must be at least 1".into());
    }
    if let Some(p) = &c.sts.session_policy {
        // STS limit on the plaintext of inline plus managed session policies.
        if p.len() > 2048 {
            bad(
                "sts.session_policy",
                "at most 2048 characters (STS limit)".into(),
            );
        } else if !serde_json::from_str::<serde_json::Value>(p).is_ok_and(|v| v.is_object()) {
            bad(
                "sts.session_policy",
                "must be a JSON policy document".into(),
            );
        }
    }
    if c.sts.session_name_claim.is_empty() {
        bad("sts.session_name_claim", "must name a claim".into());
    }

    if c.session_tags.len() > MAX_SESSION_TAGS {
        bad(
            "session_tags",
            format!("at most {MAX_SESSION_TAGS} tags (STS limit)"),
        );
    }
    let mut seen = std::collections::HashSet::new();
    for (tag, claim) in &c.session_tags {
        let key = format!("session_tags.{tag}");
        if let Err(why) = check_tag_key(tag) {
            bad(&key, why);
        }
        // STS treats tag keys case-insensitively: `Dept` and `dept` would collide.
        if !seen.insert(tag.to_lowercase()) {
            bad(&key, "differs from another tag key only by case".into());
        }
        if claim.is_empty() {
            bad(&key, "must name a claim".into());
        }
    }

    if let Err(why) = check_app_instance_arn(&c.chime.app_instance_arn) {
        bad("chime.app_instance_arn", why);
    }
    for name in c.chime.allowed_operations.iter().flatten() {
        if name != crate::chime::operations::CONNECT
            && crate::chime::operations::by_name(name).is_none()
        {
            bad(
                "chime.allowed_operations",
                format!("{name:?} is not a Chime SDK messaging operation"),
            );
        }
    }
    for id in &c.chime.admin_user_ids {
        if !crate::arn::is_app_instance_user_id(id) {
            bad(
                "chime.admin_user_ids",
                format!("{id:?} is not an AppInstanceUserId"),
            );
        }
    }
    if c.chime.websocket_idle_seconds == 0 || c.chime.websocket_max_message_bytes == 0 {
        bad(
            "chime.websocket_idle_seconds",
            "WebSocket limits must be greater than 0".into(),
        );
    }
    if c.chime.user_id_claim.is_empty() {
        bad("chime.user_id_claim", "must name a claim".into());
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
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

fn validate_saml(c: &Config, bad: &mut impl FnMut(&str, String)) {
    if c.max_saml_bytes < 64 {
        bad("max_saml_bytes", "must be at least 64".into());
    }
    if let Some(h) = &c.saml_header {
        let reserved = [
            "authorization",
            "host",
            "content-length",
            "x-amz-chime-bearer",
        ];
        if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
            bad("saml_header", format!("{h:?} is not a header name"));
        } else if reserved.contains(&h.to_ascii_lowercase().as_str()) {
            bad("saml_header", format!("{h:?} has another meaning"));
        }
    }
    for (i, idp) in c.saml_idps.iter().enumerate() {
        let key = |k: &str| format!("saml_idps[{i}].{k}");
        if idp.leeway_seconds > MAX_LEEWAY {
            bad(&key("leeway_seconds"), format!("at most {MAX_LEEWAY}"));
        }
        if idp.max_assertion_age_seconds.is_some_and(|a| a > MAX_AGE) {
            bad(
                &key("max_assertion_age_seconds"),
                format!("at most {MAX_AGE}"),
            );
        }
        if idp.entity_id.trim().is_empty() {
            bad(&key("entity_id"), "must not be empty".into());
        }
        if c.saml_idps[..i]
            .iter()
            .any(|o| o.entity_id == idp.entity_id)
        {
            bad(&key("entity_id"), "duplicate entity_id".into());
        }
        if let Err(why) = crate::identity::load_certificates(idp) {
            bad(&key("certificate_files"), why);
        }
        for (k, list) in [
            ("audiences", &idp.audiences),
            ("recipients", &idp.recipients),
        ] {
            if list.is_empty() || list.iter().any(|a| a.is_empty()) {
                bad(&key(k), "list at least one non-empty value".into());
            }
        }
        for alg in idp.signature_algorithms.iter().flatten() {
            if let Err(why) = crate::identity::check_signature_algorithm(alg) {
                bad(&key("signature_algorithms"), why);
            }
        }
        if idp.signature_algorithms.as_ref().is_some_and(Vec::is_empty) {
            bad(
                &key("signature_algorithms"),
                "list at least one method".into(),
            );
        }
        for claim in idp.claims.keys() {
            if ["iss", "aud", "exp", "iat"].contains(&claim.as_str()) {
                bad(
                    &key("claims"),
                    format!("{claim:?} is set by the assertion itself"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::from_toml;

    pub const SAMPLE: &str = r#"
listen = "127.0.0.1:8080"
admin_listen = "127.0.0.1:9090"
[upstream]
region = "us-east-1"
[[issuers]]
issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example"
audiences = ["3n4b5urk1ft4fl3mg5e62d9ado"]
[sts]
role_arn = "arn:aws:iam::111122223333:role/ChimeMessagingSampleAppUserRole"
region = "us-east-1"
[session_tags]
my_applications_user_id = "sub"
[chime]
app_instance_arn = "arn:aws:chime:us-east-1:111122223333:app-instance/11111111-2222-3333-4444-555555555555"
"#;

    #[test]
    fn sample_from_the_readme_is_valid_with_defaults() {
        let c = from_toml(SAMPLE).unwrap();
        assert_eq!(c.sts.duration_seconds, 3600);
        assert_eq!(c.sts.expiry_margin_seconds, 300);
        assert_eq!(c.chime.bearer, crate::config::BearerMode::Enforce);
        assert_eq!(
            c.upstream.endpoint_url().as_str(),
            "https://messaging-chime.us-east-1.amazonaws.com/"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let e = from_toml(&SAMPLE.replace("[sts]", "[sts]\nrole_arm = \"x\"")).unwrap_err();
        assert!(e.to_string().contains("role_arm"), "{e}");
    }

    #[test]
    fn missing_key_is_named() {
        let text = SAMPLE.replace("region = \"us-east-1\"\n[session_tags]", "[session_tags]");
        let e = from_toml(&text).unwrap_err();
        assert!(e.to_string().contains("missing field `region`"), "{e}");
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let text = SAMPLE
            .replace("arn:aws:iam::111122223333:role/", "arn:aws:iam::1111:user/")
            .replace(
                "arn:aws:chime:us-east-1:111122223333:app-instance/",
                "arn:aws:chime:us-east-1:111122223333:channel/",
            )
            .replace("https://cognito-idp", "http://cognito-idp")
            .replace("my_applications_user_id", "\"aws:user\"");
        let e = from_toml(&text).unwrap_err().to_string();
        for key in [
            "sts.role_arn",
            "chime.app_instance_arn",
            "issuers[0].issuer",
            "session_tags.aws:user",
        ] {
            assert!(e.contains(key), "{key} missing from: {e}");
        }
    }

    #[test]
    fn http_only_for_loopback() {
        assert!(check_url(&Url::parse("http://127.0.0.1:1/").unwrap()).is_ok());
        assert!(check_url(&Url::parse("http://localhost:1/").unwrap()).is_ok());
        assert!(check_url(&Url::parse("http://[::1]:1/").unwrap()).is_ok());
        assert!(check_url(&Url::parse("http://10.0.0.1/").unwrap()).is_err());
        assert!(check_url(&Url::parse("ftp://127.0.0.1/").unwrap()).is_err());
    }
}
