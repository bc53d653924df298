//! The session's shape (duration, session policies, transitive tag keys, source identity) for
//! `[sts]`, `[guests]`, each provider and each rule: every key over its parent's, checked against
//! STS's limits with the key named.

use super::{Problems, check_tag_key};
use crate::config::SessionConfig;
use crate::mapping::{SessionShape, Template};
use std::sync::Arc;

/// STS accepts at most 10 managed session policies per AssumeRole.
const MAX_POLICY_ARNS: usize = 10;
/// STS limit on the plaintext of inline plus managed session policies.
const MAX_POLICY_CHARS: usize = 2048;

/// `over`'s keys over `base`, each checked.
pub(super) fn shape(
    at: &str,
    over: &SessionConfig,
    base: &SessionShape,
    p: &mut Problems,
) -> SessionShape {
    let key = |n: &str| session_key(at, n);
    let duration_seconds = match over.duration_seconds {
        Some(d) => duration(d, &key("duration_seconds"), p),
        None => base.duration_seconds,
    };
    let policy = match &over.session_policy {
        Some(text) => p
            .check(key("session_policy"), minified_policy(text))
            .map(Into::into),
        None => base.policy.clone(),
    };
    let policy_arns = match &over.policy_arns {
        Some(arns) => policy_arn_list(arns, &key("policy_arns"), p),
        None => base.policy_arns.clone(),
    };
    let own = over.session_policy.is_some() || over.policy_arns.is_some();
    if own {
        policy_budget(policy.as_deref(), &policy_arns, &key("policy_arns"), p);
    }
    let transitive_tag_keys = match &over.transitive_tag_keys {
        Some(keys) => tag_keys(keys, &key("transitive_tag_keys"), p),
        None => base.transitive_tag_keys.clone(),
    };
    let source_identity = match &over.source_identity {
        Some(t) => p.check(key("source_identity"), Template::claim_or_template(t)),
        None => base.source_identity.clone(),
    };
    SessionShape {
        duration_seconds,
        policy,
        policy_arns,
        transitive_tag_keys,
        source_identity,
    }
}

/// The full key of session key `name` under `at`: `[sts]` and `[guests]` hold these keys
/// themselves; providers and rules in a `session` table.
fn session_key(at: &str, name: &str) -> String {
    match at {
        "sts" | "guests" => format!("{at}.{name}"),
        _ => format!("{at}.session.{name}"),
    }
}

/// `duration_seconds` within STS's limits (an hour when stsgate's own role is chained).
fn duration(d: u32, key: &str, p: &mut Problems) -> i32 {
    if !(900..=43200).contains(&d) {
        p.bad(key, "must be between 900 and 43200 (STS limits)");
    } else if d > 3600 && role_chaining() {
        p.bad(
            key,
            "at most 3600: stsgate's own credentials are an assumed role (AWS_ROLE_ARN is set), and STS caps chained sessions at an hour",
        );
    }
    d as i32
}

/// `policy_arns`: at most [`MAX_POLICY_ARNS`], each an IAM policy ARN.
fn policy_arn_list(arns: &[String], key: &str, p: &mut Problems) -> Arc<[Arc<str>]> {
    if arns.len() > MAX_POLICY_ARNS {
        p.bad(key, format!("at most {MAX_POLICY_ARNS} (STS limit)"));
    }
    for a in arns {
        if !(a.starts_with("arn:") && a.contains(":iam::") && a.contains(":policy/")) {
            p.bad(key, format!("{a:?} is not an IAM policy ARN"));
        }
    }
    arns.iter().map(|a| a.as_str().into()).collect()
}

/// STS counts the inline policy and the managed policies' ARNs against one budget.
fn policy_budget(policy: Option<&str>, arns: &[Arc<str>], key: &str, p: &mut Problems) {
    let arn_chars: usize = arns.iter().map(|a| a.chars().count()).sum();
    let inline_chars = policy.map_or(0, |t| t.chars().count());
    if arn_chars > 0 && inline_chars + arn_chars > MAX_POLICY_CHARS {
        p.bad(
            key,
            format!(
                "the inline policy ({inline_chars} characters minified) and the policy ARNs \
                 ({arn_chars}) exceed the {MAX_POLICY_CHARS} characters STS allows together"
            ),
        );
    }
}

/// `transitive_tag_keys`, each a valid tag key.
fn tag_keys(keys: &[String], key: &str, p: &mut Problems) -> Arc<[Arc<str>]> {
    for t in keys {
        p.check(key, check_tag_key(t));
    }
    keys.iter().map(|t| t.as_str().into()).collect()
}

/// Sessions made with chained role credentials (IRSA, `AWS_ROLE_ARN`) last at most an hour.
fn role_chaining() -> bool {
    std::env::var_os("AWS_ROLE_ARN").is_some()
}

/// A JSON policy document, minified; at most 2048 characters once minified (the STS limit).
fn minified_policy(text: &str) -> Result<String, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "must be a JSON policy document".to_owned())?;
    if !doc.is_object() {
        return Err("must be a JSON policy document".into());
    }
    let minified = strip_whitespace(text);
    if minified.chars().count() > MAX_POLICY_CHARS {
        return Err(format!(
            "at most {MAX_POLICY_CHARS} characters once minified (STS limit)"
        ));
    }
    Ok(minified)
}

/// `text` (valid JSON) without the whitespace between tokens; keys keep their order.
fn strip_whitespace(text: &str) -> String {
    let (mut out, mut in_string, mut escaped) = (String::with_capacity(text.len()), false, false);
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c.is_whitespace() {
            continue;
        } else {
            in_string = c == '"';
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn minifying_keeps_strings_and_key_order() {
        let policy = "{ \"Version\" : \"2012-10-17\",\n  \"Sid\": \"a \\\" b\" }";
        assert_eq!(
            super::minified_policy(policy).unwrap(),
            "{\"Version\":\"2012-10-17\",\"Sid\":\"a \\\" b\"}"
        );
        assert!(super::minified_policy("[1]").is_err());
    }
}
