use super::*;
use serde_json::json;

const BASE: &str = r#"
[upstream]
region = "us-east-1"
[sts]
role_arn = "arn:aws:iam::111122223333:role/R"
region = "us-east-1"
[session_tags]
my_applications_user_id = "{user_id}"
tenant = "org"
[chime]
app_instance_arn = "arn:aws:chime:us-east-1:111122223333:app-instance/ai"
"#;

const ISSUER_A: &str = r#"
[[issuers]]
issuer = "https://a.example.com"
audiences = ["app"]
"#;

/// A mapper for `BASE` plus `extra` TOML (issuers and their rules).
fn mapper(extra: &str) -> Mapper {
    let settings =
        crate::config::from_toml(&format!("{extra}\n{BASE}")).unwrap_or_else(|e| panic!("{e}"));
    Mapper::new(&settings.mapping)
}

fn principal(issuer: &str, claims: serde_json::Value) -> Principal {
    Principal::with_claims(issuer, claims)
}

fn alice(claims: serde_json::Value) -> Principal {
    principal("https://a.example.com", claims)
}

#[test]
fn maps_claims_to_tags_session_and_bearer() {
    let m = mapper(ISSUER_A)
        .map(&alice(json!({"sub": "alice", "org": "acme corp"})))
        .unwrap();
    assert_eq!(m.spec.session_name, "alice");
    assert_eq!(m.spec.role_arn.as_ref(), "arn:aws:iam::111122223333:role/R");
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
    assert_eq!(
        m.identity_id,
        identity_id::derived("us-east-1", "https://a.example.com", "alice")
    );
}

#[test]
fn refuses_unmappable_identities() {
    let m = mapper(ISSUER_A);
    assert_eq!(
        m.map(&alice(json!({"sub": "alice"}))).unwrap_err(),
        MappingError::MissingClaim("org".into())
    );
    assert!(matches!(
        m.map(&alice(json!({"sub": "alice", "org": "a|b"}))),
        Err(MappingError::InvalidTagValue { .. })
    ));
    assert_eq!(
        m.map(&alice(json!({"sub": "auth0|123", "org": "x"})))
            .unwrap_err(),
        MappingError::InvalidUserId("{sub}".into())
    );
    assert_eq!(
        m.map(&alice(json!({"sub": "a", "org": ["x", "y"]})))
            .unwrap_err(),
        MappingError::MultiValued("org".into())
    );
}

#[test]
fn two_providers_with_the_same_subject_are_two_users() {
    let m = mapper(
        r#"
        [[issuers]]
        name = "corp"
        issuer = "https://a.example.com"
        audiences = ["app"]
        [[issuers]]
        name = "social"
        issuer = "https://b.example.com"
        audiences = ["app"]
        "#,
    );
    let claims = json!({"sub": "alice", "org": "o"});
    let a = m.map(&alice(claims.clone())).unwrap();
    let b = m.map(&principal("https://b.example.com", claims)).unwrap();
    assert!(
        a.user_arn().ends_with("/user/corp-alice"),
        "{}",
        a.user_arn()
    );
    assert!(
        b.user_arn().ends_with("/user/social-alice"),
        "{}",
        b.user_arn()
    );
    assert_ne!(a.identity_id, b.identity_id);
    assert_ne!(a.spec, b.spec, "never one cached session for both");
    assert_eq!(
        a.spec.tags[0].1, "corp-alice",
        "{{user_id}} is the AppInstanceUserId"
    );
}

#[test]
fn rules_choose_the_role_and_the_session_shape() {
    let m = mapper(&format!(
        r#"{ISSUER_A}
        role = "rules"
        ambiguous = "default"
        role_arn = "arn:aws:iam::111122223333:role/Fallback"
        [[issuers.rules]]
        claim = "groups"
        match = "Contains"
        value = "admin"
        role_arn = "arn:aws:iam::111122223333:role/Admin"
        session = {{ duration_seconds = 900, policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"] }}
        "#
    ));
    let admin = m
        .map(&alice(
            json!({"sub": "a", "org": "o", "groups": ["admins"]}),
        ))
        .unwrap();
    assert_eq!(
        admin.spec.role_arn.as_ref(),
        "arn:aws:iam::111122223333:role/Admin"
    );
    assert_eq!(admin.spec.duration_seconds, 900);
    assert_eq!(admin.spec.policy_arns.len(), 1);
    let user = m.map(&alice(json!({"sub": "a", "org": "o"}))).unwrap();
    assert_eq!(
        user.spec.role_arn.as_ref(),
        "arn:aws:iam::111122223333:role/Fallback"
    );
    assert_eq!(user.spec.duration_seconds, 3600);
    assert!(user.spec.policy_arns.is_empty());
}

#[test]
fn cognito_default_tags_and_joined_claims() {
    let m = mapper(&format!(
        "{ISSUER_A}\ntags = \"default\"\njoin_multi_valued = \":\"\nuser_id = \"{{sub}}\"\n"
    ));
    let spec = m
        .map(&alice(json!({"sub": "alice", "aud": ["app", "other"]})))
        .unwrap()
        .spec;
    assert_eq!(
        spec.tags,
        vec![
            ("client".into(), "app:other".into()),
            ("username".into(), "alice".into())
        ]
    );
}

#[test]
fn source_identity_is_taken_from_a_claim_and_never_rewritten() {
    let m = mapper(&format!(
        "{ISSUER_A}\nsession = {{ source_identity = \"email\" }}\n"
    ));
    let claims = |email: &str| json!({"sub": "a", "org": "o", "email": email});
    let spec = m.map(&alice(claims("alice@example.com"))).unwrap().spec;
    assert_eq!(spec.source_identity.as_deref(), Some("alice@example.com"));
    assert_eq!(
        m.map(&alice(claims("a b"))).unwrap_err(),
        MappingError::InvalidSourceIdentity("{email}".into())
    );
}

#[test]
fn explain_reports_each_rule_and_the_refusal() {
    let m = mapper(&format!(
        r#"{ISSUER_A}
        role = "rules"
        [[issuers.rules]]
        claim = "dept"
        match = "Equals"
        value = "sales"
        role_arn = "arn:aws:iam::111122223333:role/Sales"
        "#
    ));
    let allowed = AllowList::default_list();
    let e = m.explain(
        &alice(json!({"sub": "a", "org": "o", "dept": "ops"})),
        &allowed,
    );
    assert_eq!(e.role_checks.len(), 1);
    assert!(!e.role_checks[0].matched);
    assert!(
        e.refused
            .as_deref()
            .unwrap()
            .starts_with("403 no_role_matched")
    );
    let text = e.to_string();
    assert!(text.contains("rule 1: dept Equals \"sales\""), "{text}");
    let e = m.explain(
        &alice(json!({"sub": "a", "org": "o", "dept": "sales"})),
        &allowed,
    );
    assert_eq!(
        e.role_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/Sales")
    );
    assert!(e.refused.is_none());
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

#[test]
fn a_principal_is_mapped_once_and_its_mapping_shared() {
    let m = mapper(ISSUER_A);
    let p = alice(json!({"sub": "alice", "org": "acme"}));
    let first = m.map_shared(&p).unwrap();
    let again = m.map_shared(&p).unwrap();
    assert!(
        Arc::ptr_eq(&first, &again),
        "the second request reuses the mapping"
    );
    assert_eq!(first.spec, m.map(&p).unwrap().spec);
    // A refusal is remembered the same way, and stays a refusal.
    let bad = alice(json!({"sub": "alice"}));
    assert_eq!(
        m.map_shared(&bad).unwrap_err(),
        MappingError::MissingClaim("org".into())
    );
    assert!(m.map_shared(&bad).is_err());
}
