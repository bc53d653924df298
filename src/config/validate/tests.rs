use super::*;
use crate::config::{BearerMode, ConfigError, GuestsConfig, IssuerConfig, from_toml};
use std::time::Duration;
use toml::{Table, Value};

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

/// `SAMPLE` as typed config: tests edit its keys, then validate.
fn sample() -> Config {
    crate::config::parse(SAMPLE).unwrap()
}

/// What validation reports for `c`: every problem, or "" when it is valid.
fn problems(c: &Config) -> String {
    match crate::config::validate(c) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

/// One table of the file (an `[[issuers]]` entry, `[guests]`) from its keys.
fn entry<T: serde::de::DeserializeOwned>(keys: &str) -> T {
    toml::from_str(keys).unwrap_or_else(|e| panic!("{keys}: {e}"))
}

/// `SAMPLE`'s TOML table edited by `edit`, then loaded: for what only parsing checks (keys that
/// are unknown or missing cannot be set on the typed config).
fn load_edited(edit: impl FnOnce(&mut Table)) -> Result<Settings, ConfigError> {
    let mut t: Table = SAMPLE.parse().unwrap();
    edit(&mut t);
    from_toml(&toml::to_string(&t).unwrap())
}

/// The table at `key` of `t`.
fn table<'a>(t: &'a mut Table, key: &str) -> &'a mut Table {
    t.get_mut(key)
        .and_then(Value::as_table_mut)
        .unwrap_or_else(|| panic!("no [{key}]"))
}

#[test]
fn unknown_key_is_named() {
    let e = load_edited(|t| {
        table(t, "sts").insert("role_arm".into(), "x".into());
    })
    .unwrap_err();
    assert!(e.to_string().contains("role_arm"), "{e}");
}

#[test]
fn missing_key_is_named() {
    let e = load_edited(|t| {
        table(t, "sts").remove("region").expect("sts.region is set");
    })
    .unwrap_err();
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
fn worker_threads_default_to_the_cpus_allowed_and_are_bounded() {
    let mut c = sample();
    let allowed = std::thread::available_parallelism().unwrap().get();
    let s = crate::config::validate(&c).unwrap();
    assert_eq!(s.server.worker_threads, allowed);
    assert_eq!(s.identity.saml_check_slots, allowed);
    c.worker_threads = allowed + 3;
    let s = crate::config::validate(&c).unwrap();
    assert_eq!(s.server.worker_threads, allowed + 3);
    assert_eq!(s.identity.saml_check_slots, allowed + 3);
    c.worker_threads = 1025;
    assert!(
        problems(&c).contains("worker_threads: at most 1024"),
        "{}",
        problems(&c)
    );
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

#[test]
fn provider_rules_are_checked_at_load_naming_the_key() {
    let second = "issuer = \"https://b.example.com\"\naudiences = [\"a\"]\n";
    let mut c = sample();
    c.issuers.push(entry(second));
    let e = problems(&c);
    assert!(
        e.contains("issuers[0].name: required when more than one provider"),
        "{e}"
    );
    assert!(e.contains("issuers[1].name: required"), "{e}");
    // `-` ends a name in `{provider}-{sub}`: `acme` + `eu-alice` must not be `acme-eu` + `alice`.
    let mut dashed = sample();
    dashed.issuers[0].name = Some("acme-eu".into());
    let e = problems(&dashed);
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
    for (line, expected) in cases {
        let mut c = sample();
        c.issuers[0].name = Some("a".into());
        c.issuers.push(entry::<IssuerConfig>(&format!(
            "name = \"b\"\n{second}{line}"
        )));
        let e = problems(&c);
        assert!(e.contains(expected), "{line}: {expected:?} not in {e}");
    }
}

#[test]
fn an_inline_policy_counts_once_minified() {
    let spaced = format!("{{\n{}\"Version\": \"2012-10-17\"\n}}", " ".repeat(3000));
    let mut c = sample();
    c.sts.session_policy = Some(spaced);
    assert_eq!(problems(&c), "", "whitespace is not counted");
    let long = format!("{{\"Version\": \"{}\"}}", "x".repeat(2100));
    c.sts.session_policy = Some(long);
    let e = problems(&c);
    assert!(
        e.contains("sts.session_policy: at most 2048 characters once minified"),
        "{e}"
    );
}

#[test]
fn guest_tags_may_only_read_what_guest_tokens_carry() {
    // Guests are a provider: a sole issuer beside them is named and namespaced too.
    let mut c = sample();
    c.guests = Some(guests());
    let e = problems(&c);
    assert!(e.contains("issuers[0].name: required"), "{e}");
    let named = named_beside_guests();
    assert_eq!(
        problems(&named),
        "",
        "[session_tags] reads sub: fine for guests"
    );
    let mut with_org = named.clone();
    with_org.session_tags.insert("tenant".into(), "org".into());
    let e = problems(&with_org);
    assert!(
        e.contains("guests.tags (or session_tags): tag \"tenant\" reads claim \"org\""),
        "{e}"
    );
    let mut bad_key = named;
    bad_key.guests.as_mut().unwrap().signing_key_file = Some("/nonexistent.pem".into());
    let e = problems(&bad_key);
    assert!(
        e.contains("guests.signing_key_file: cannot read /nonexistent.pem"),
        "{e}"
    );
}

#[test]
fn inline_and_managed_session_policies_share_one_budget() {
    let statement = format!(r#"{{"Version":"2012-10-17","Sid":"{}"}}"#, "x".repeat(1900));
    let arn = format!("arn:aws:iam::111122223333:policy/{}", "p".repeat(200));
    let mut c = named_beside_guests();
    let g = c.guests.as_mut().unwrap();
    g.session_policy = Some(statement);
    g.policy_arns = vec![arn];
    let e = problems(&c);
    assert!(
        e.contains("guests.policy_arns: the inline policy (1933 characters minified)"),
        "{e}"
    );
    c.guests.as_mut().unwrap().policy_arns = vec!["arn:aws:iam::111122223333:policy/p".into()];
    assert_eq!(problems(&c), "");
}

/// `[guests]` with only its role.
fn guests() -> GuestsConfig {
    entry("role_arn = \"arn:aws:iam::111122223333:role/Guest\"")
}

/// `SAMPLE` with guests beside its issuer: the issuer named, the user-id tag the user id.
fn named_beside_guests() -> Config {
    let mut c = sample();
    c.issuers[0].name = Some("corp".into());
    c.session_tags
        .insert("my_applications_user_id".into(), "{user_id}".into());
    c.guests = Some(guests());
    c
}
