use super::*;
use crate::config::{BearerMode, from_toml};
use std::time::Duration;

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
    let s = from_toml(SAMPLE).unwrap();
    assert_eq!(s.mapping.providers[0].shape.duration_seconds, 3600);
    assert_eq!(s.broker.expiry_margin, Duration::from_secs(300));
    assert_eq!(s.chime.bearer, BearerMode::Enforce);
    assert_eq!(
        s.upstream.endpoint.as_str(),
        "https://messaging-chime.us-east-1.amazonaws.com/"
    );
    assert_eq!(s.identity.issuers[0].algorithms.len(), 9);
    assert!(s.chime.allowed.contains("SendChannelMessage"));
    assert!(!s.chime.allowed.contains("SearchChannels"));
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
    let mut c = crate::config::parse(SAMPLE).unwrap();
    c.sts.role_arn = "arn:aws:iam::1111:user/x".into();
    c.chime.app_instance_arn = "arn:aws:chime:us-east-1:111122223333:channel/x".into();
    c.issuers[0].issuer = "http://cognito-idp.us-east-1.amazonaws.com/x".into();
    c.issuers[0].algorithms = Some(vec!["HS256".into()]);
    c.session_tags.insert("aws:user".into(), "sub".into());
    c.chime.allowed_operations = Some(vec!["SendChannelMesage".into()]);
    let e = crate::config::validate(&c).unwrap_err().to_string();
    for key in [
        "sts.role_arn",
        "chime.app_instance_arn",
        "issuers[0].issuer",
        "issuers[0].algorithms",
        "session_tags.aws:user",
        "chime.allowed_operations",
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

#[test]
fn a_session_must_carry_the_user_id_unless_the_operator_opts_out() {
    let mut c = crate::config::parse(SAMPLE).unwrap();
    c.session_tags.clear();
    let e = crate::config::validate(&c).unwrap_err().to_string();
    assert!(
        e.contains("session_tags") && e.contains("chime.require_user_id_tag"),
        "{e}"
    );
    c.chime.require_user_id_tag = false;
    assert!(crate::config::validate(&c).is_ok());
}

#[test]
fn the_largest_allowed_credential_fits_in_the_header_limit() {
    let mut c = crate::config::parse(SAMPLE).unwrap();
    c.max_header_bytes = c.max_token_bytes;
    let e = crate::config::validate(&c).unwrap_err().to_string();
    assert!(
        e.contains("max_header_bytes: must exceed max_token_bytes"),
        "{e}"
    );
    c.max_header_bytes = c.max_token_bytes + 4096;
    assert!(crate::config::validate(&c).is_ok());
}

/// `SAMPLE` with `extra` TOML after it.
fn problems(extra: &str) -> String {
    match from_toml(&format!("{SAMPLE}\n{extra}")) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn provider_rules_are_checked_at_load_naming_the_key() {
    let second = "[[issuers]]\nissuer = \"https://b.example.com\"\naudiences = [\"a\"]\n";
    let e = problems(second);
    assert!(
        e.contains("issuers[0].name: required when more than one provider"),
        "{e}"
    );
    assert!(e.contains("issuers[1].name: required"), "{e}");
    // `-` ends a name in `{provider}-{sub}`: `acme` + `eu-alice` must not be `acme-eu` + `alice`.
    let dashed = SAMPLE.replacen("[[issuers]]", "[[issuers]]\nname = \"acme-eu\"", 1);
    let e = from_toml(&dashed).unwrap_err().to_string();
    assert!(e.contains("issuers[0].name: 1-32 letters, digits"), "{e}");
    let cases = [
        (
            "rules = [{ claim = \"g\", match = \"Equals\", value = \"v\", role_arn = \"arn:aws:iam::1:role/R\" }]",
            "issuers[1].rules: rules are used only with role = \"rules\"",
        ),
        (
            "role = \"rules\"",
            "issuers[1].rules: role = \"rules\" needs at least one",
        ),
        (
            "role = \"token\"",
            "issuers[1].allowed_roles: role = \"token\" needs",
        ),
        (
            "user_id = \"{user_id}\"",
            "issuers[1].user_id: cannot use {user_id}",
        ),
        ("user_id = \"{sub\"", "issuers[1].user_id"),
        ("join_multi_valued = \",\"", "issuers[1].join_multi_valued"),
        (
            "session = { duration_seconds = 60 }",
            "issuers[1].session.duration_seconds",
        ),
        (
            "session = { policy_arns = [\"nope\"] }",
            "issuers[1].session.policy_arns",
        ),
        (
            "session = { transitive_tag_keys = [\"dept\"] }",
            "issuers[1].session.transitive_tag_keys: \"dept\" is not one of",
        ),
        (
            "sts_mode = \"web_identity\"",
            "issuers[1].tags: sts_mode = \"web_identity\" cannot send tags",
        ),
        (
            "role = \"rules\"\nrules = [{ claim = \"g\", match = \"Equals\", value = \"v\", role_arn = \"arn:aws:iam::111122223333:role/R\", session = { transitive_tag_keys = [\"dept\"] } }]",
            "issuers[1].rules[0].session.transitive_tag_keys: \"dept\" is not one of",
        ),
        (
            "sts_mode = \"web_identity\"\ntags = \"off\"\nrole = \"rules\"\nrules = [{ claim = \"g\", match = \"Equals\", value = \"v\", role_arn = \"arn:aws:iam::111122223333:role/R\", session = { source_identity = \"email\" } }]",
            "issuers[1].rules[0].session: sts_mode = \"web_identity\" cannot send",
        ),
        (
            "tags = \"off\"",
            "issuers[1].tags (or session_tags): no tag carries the user id",
        ),
    ];
    // The first issuer named, the second named and varied.
    let first_named = SAMPLE.replacen("[[issuers]]", "[[issuers]]\nname = \"a\"", 1);
    for (line, expected) in cases {
        let text = format!(
            "{first_named}\n[[issuers]]\nname = \"b\"\nissuer = \"https://b.example.com\"\naudiences = [\"a\"]\n{line}\n"
        );
        let e = match from_toml(&text) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(expected), "{line}: {expected:?} not in {e}");
    }
}

#[test]
fn an_inline_policy_counts_once_minified() {
    let spaced = format!("{{\n{}\"Version\": \"2012-10-17\"\n}}", " ".repeat(3000));
    let sample = SAMPLE.replacen(
        "[sts]",
        &format!("[sts]\nsession_policy = '''{spaced}'''"),
        1,
    );
    assert!(from_toml(&sample).is_ok(), "whitespace is not counted");
    let long = format!("{{\"Version\": \"{}\"}}", "x".repeat(2100));
    let sample = SAMPLE.replacen("[sts]", &format!("[sts]\nsession_policy = '{long}'"), 1);
    let e = from_toml(&sample).unwrap_err().to_string();
    assert!(
        e.contains("sts.session_policy: at most 2048 characters once minified"),
        "{e}"
    );
}

#[test]
fn guest_tags_may_only_read_what_guest_tokens_carry() {
    let guests = "[guests]\nrole_arn = \"arn:aws:iam::111122223333:role/Guest\"\n";
    // Guests are a provider: a sole issuer beside them is named and namespaced too.
    let e = from_toml(&format!("{SAMPLE}\n{guests}"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("issuers[0].name: required"), "{e}");
    let named = SAMPLE
        .replacen("[[issuers]]", "[[issuers]]\nname = \"corp\"", 1)
        .replacen("= \"sub\"", "= \"{user_id}\"", 1);
    let sample = format!("{named}\n{guests}");
    assert!(
        from_toml(&sample).is_ok(),
        "[session_tags] reads sub: fine for guests"
    );
    let with_org = sample.replacen("[session_tags]", "[session_tags]\ntenant = \"org\"", 1);
    let e = from_toml(&with_org).unwrap_err().to_string();
    assert!(
        e.contains("guests.tags (or session_tags): tag \"tenant\" reads claim \"org\""),
        "{e}"
    );
    let bad_key = format!("{sample}signing_key_file = \"/nonexistent.pem\"\n");
    let e = from_toml(&bad_key).unwrap_err().to_string();
    assert!(
        e.contains("guests.signing_key_file: cannot read /nonexistent.pem"),
        "{e}"
    );
}

#[test]
fn inline_and_managed_session_policies_share_one_budget() {
    let statement = format!(r#"{{"Version":"2012-10-17","Sid":"{}"}}"#, "x".repeat(1900));
    let arn = format!("arn:aws:iam::111122223333:policy/{}", "p".repeat(200));
    let text = format!(
        "{SAMPLE}\n[guests]\nrole_arn = \"arn:aws:iam::111122223333:role/Guest\"\nsession_policy = '{statement}'\npolicy_arns = [\"{arn}\"]\n"
    )
    .replacen("[[issuers]]", "[[issuers]]\nname = \"corp\"", 1)
    .replacen("= \"sub\"", "= \"{user_id}\"", 1);
    let e = from_toml(&text).unwrap_err().to_string();
    assert!(
        e.contains("guests.policy_arns: the inline policy (1933 characters minified)"),
        "{e}"
    );
    let short = text.replace(&"p".repeat(200), "p");
    assert!(from_toml(&short).is_ok(), "{short}");
}
