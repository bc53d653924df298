//! Identity → session as rich as Cognito identity pools, over loopback: providers and their
//! identity IDs, role rules in order, token-chosen roles, the session's shape reaching STS, and
//! guests (their token, role, scope-down, `amr` tag, operations and AppInstanceUser).

use crate::support::{Harness, Reply, messages_path};
use http::StatusCode;
use serde_json::{Value, json};
use stsgate::config::{
    Ambiguous, GuestsConfig, MatchType, RoleMode, RuleConfig, SessionConfig, StsMode, TagMode,
    TagsConfig,
};
use stsgate_standins::idp::{IdpStandIn, RSA_KID};
use stsgate_standins::{APP_INSTANCE_ARN, AUDIENCE, USER_ID_TAG};

const ADMIN: &str = "arn:aws:iam::111122223333:role/ChatAdmin";
const OPS: &str = "arn:aws:iam::111122223333:role/ChatOps";
const SALES: &str = "arn:aws:iam::111122223333:role/ChatSales";
const PAID: &str = "arn:aws:iam::111122223333:role/ChatPaid";
const GUEST: &str = "arn:aws:iam::111122223333:role/ChatGuest";

fn rule(claim: &str, m: MatchType, value: &str, role: &str) -> RuleConfig {
    RuleConfig {
        claim: claim.into(),
        match_type: m,
        value: value.into(),
        role_arn: role.into(),
        session: SessionConfig::default(),
    }
}

/// A token from the stand-in IdP for `sub` with extra claims.
fn token(idp: &IdpStandIn, sub: &str, extra: Value) -> String {
    let mut claims = idp.claims_for(sub, AUDIENCE);
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    idp.sign(RSA_KID, &claims)
}

async fn get_messages(h: &Harness, token: &str) -> Reply {
    let auth = format!("Bearer {token}");
    h.send("GET", &messages_path(), &[("authorization", &auth)], "")
        .await
}

#[tokio::test]
async fn two_providers_with_the_same_subject_are_two_chime_users() {
    let other = IdpStandIn::start().await.unwrap();
    let other_issuer = other.issuer.clone();
    let h = Harness::start_with(move |c| {
        c.issuers[0].user_id = None;
        c.saml_idps[0].user_id = None;
        let mut second = c.issuers[0].clone();
        second.name = Some("social".into());
        second.issuer = other_issuer;
        c.issuers.push(second);
    })
    .await;
    let a = get_messages(&h, &h.token("alice")).await;
    let b = get_messages(&h, &other.token_for("alice", AUDIENCE)).await;
    assert_eq!(
        (a.status, b.status),
        (StatusCode::OK, StatusCode::OK),
        "{}{}",
        a.body,
        b.body
    );
    let bearers: Vec<String> = h
        .standins
        .chime
        .received()
        .iter()
        .map(|r| r.header("x-amz-chime-bearer").unwrap().to_owned())
        .collect();
    assert_eq!(
        bearers,
        [
            format!("{APP_INSTANCE_ARN}/user/oidc-alice"),
            format!("{APP_INSTANCE_ARN}/user/social-alice")
        ]
    );
    let calls = h.standins.sts.calls();
    assert_eq!(calls.len(), 2, "one session each, never shared");
    assert_eq!(
        calls[0].tags,
        [(USER_ID_TAG.to_owned(), "oidc-alice".to_owned())]
    );
}

#[tokio::test]
async fn rules_pick_the_first_matching_role_and_deny_the_rest() {
    let h = Harness::start_with(|c| {
        let i = &mut c.issuers[0];
        i.role = RoleMode::Rules;
        i.rules = vec![
            rule("cognito:groups", MatchType::Contains, "admin", ADMIN),
            rule("email", MatchType::StartsWith, "ops@", OPS),
            rule("dept", MatchType::Equals, "sales", SALES),
            rule("tier", MatchType::NotEqual, "free", PAID),
        ];
        i.rules[0].session.duration_seconds = Some(900);
        i.rules[0].session.source_identity = Some("email".into());
    })
    .await;
    let idp = &h.standins.idp;
    let cases = [
        (
            "a1",
            json!({"cognito:groups": ["users", "chat-admins"], "email": "a1@x.com", "dept": "sales"}),
            ADMIN,
        ),
        ("o1", json!({"email": "ops@x.com", "dept": "sales"}), OPS),
        ("s1", json!({"dept": "sales", "tier": "free"}), SALES),
        ("p1", json!({"tier": "gold"}), PAID),
    ];
    for (sub, claims, _) in &cases {
        let r = get_messages(&h, &token(idp, sub, claims.clone())).await;
        assert_eq!(r.status, StatusCode::OK, "{sub}: {}", r.body);
    }
    let calls = h.standins.sts.calls();
    let roles: Vec<&str> = calls.iter().map(|c| c.role_arn.as_str()).collect();
    assert_eq!(roles, cases.iter().map(|c| c.2).collect::<Vec<_>>());
    assert_eq!(calls[0].duration_seconds, 900, "the rule's session shape");
    assert_eq!(calls[0].source_identity.as_deref(), Some("a1@x.com"));
    assert_eq!(calls[1].duration_seconds, 3600);
    assert_eq!(calls[1].source_identity, None);
    // Nothing matches (NotEqual is false; a missing claim never matches): 403, no STS call.
    for claims in [json!({"tier": "free"}), json!({})] {
        let r = get_messages(&h, &token(idp, "n1", claims)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(r.json()["error"], "no_role_matched");
    }
    assert_eq!(h.standins.sts.calls().len(), 4);
}

#[tokio::test]
async fn ambiguous_default_falls_back_to_the_providers_role() {
    let h = Harness::start_with(|c| {
        let i = &mut c.issuers[0];
        i.role = RoleMode::Rules;
        i.ambiguous = Ambiguous::Default;
        i.role_arn = Some(PAID.into());
        i.rules = vec![rule("dept", MatchType::Equals, "sales", SALES)];
    })
    .await;
    let r = get_messages(&h, &h.token("bob")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(h.standins.sts.calls()[0].role_arn, PAID);
}

#[tokio::test]
async fn a_token_chooses_only_an_allowed_role() {
    let h = Harness::start_with(|c| {
        let i = &mut c.issuers[0];
        i.role = RoleMode::Token;
        i.allowed_roles = vec![ADMIN.into(), OPS.into()];
    })
    .await;
    let idp = &h.standins.idp;
    let preferred = token(
        idp,
        "a2",
        json!({"cognito:preferred_role": OPS, "cognito:roles": [ADMIN, OPS]}),
    );
    assert_eq!(get_messages(&h, &preferred).await.status, StatusCode::OK);
    let only = token(idp, "a3", json!({"cognito:roles": [ADMIN]}));
    assert_eq!(get_messages(&h, &only).await.status, StatusCode::OK);
    let roles: Vec<String> = h
        .standins
        .sts
        .calls()
        .into_iter()
        .map(|c| c.role_arn)
        .collect();
    assert_eq!(roles, [OPS, ADMIN]);
    for claims in [
        json!({"cognito:preferred_role": "arn:aws:iam::111122223333:role/Root"}),
        json!({"cognito:roles": [ADMIN, OPS]}),
        json!({}),
    ] {
        let r = get_messages(&h, &token(idp, "a4", claims)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(r.json()["error"], "no_role_matched");
    }
    assert_eq!(h.standins.sts.calls().len(), 2, "refusals cost no STS call");
}

#[tokio::test]
async fn more_than_25_rules_stop_start_up_naming_the_key() {
    let mut c = stsgate::config::parse(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/stsgate.example.toml"
        ))
        .unwrap(),
    )
    .unwrap();
    c.issuers[0].role = RoleMode::Rules;
    c.issuers[0].rules = (0..26)
        .map(|i| rule("dept", MatchType::Equals, &format!("d{i}"), SALES))
        .collect();
    let e = stsgate::config::validate(&c).unwrap_err().to_string();
    assert!(e.contains("issuers[0].rules: at most 25 rules"), "{e}");
    c.issuers[0].rules.truncate(25);
    assert!(stsgate::config::validate(&c).is_ok());
}

fn guests(c: &mut stsgate::config::Config, chime: String, per_minute: u32) {
    guests_with_total(c, chime, per_minute, 600)
}

fn guests_with_total(c: &mut stsgate::config::Config, chime: String, per_minute: u32, total: u32) {
    let tags = [
        (USER_ID_TAG.to_owned(), "{user_id}".to_owned()),
        ("amr".to_owned(), "{amr}".to_owned()),
    ];
    c.guests = Some(GuestsConfig {
        role_arn: GUEST.into(),
        session_policy: Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["chime:SendChannelMessage","chime:ListChannelMessages","chime:Connect"],"Resource":"*"}]}"#.into()),
        policy_arns: Vec::new(),
        duration_seconds: 900,
        allowed_operations: None,
        tags: Some(TagsConfig::Custom(tags.into_iter().collect())),
        token_lifetime_seconds: 600,
        max_per_minute: per_minute,
        max_total_per_minute: total,
        signing_key_file: None,
        create_app_instance_user: true,
        app_instance_user_expiration_days: 2,
    });
    c.chime.identity_endpoint = Some(chime.parse().unwrap());
}

#[tokio::test]
async fn guests_get_their_role_scope_down_amr_and_chime_user() {
    let h = Harness::start_with_standins(|s, c| {
        guests(c, s.chime.endpoint(), 2);
        c.vending.enabled = true;
    })
    .await;
    let r = h.send("POST", "/guest", &[], "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let g = r.json();
    let (token, id) = (
        g["access_token"].as_str().unwrap(),
        g["identity_id"].as_str().unwrap(),
    );
    assert_eq!(g["token_type"], "Bearer");
    assert!(id.starts_with("us-east-1:"), "{id}");
    // Namespaced like every provider's default, so no other provider's user can be this one.
    let user_id = format!("guests-{id}");
    assert_eq!(
        g["app_instance_user_arn"],
        format!("{APP_INSTANCE_ARN}/user/{user_id}")
    );
    assert_eq!(r.headers["cache-control"], "no-store");
    // Its AppInstanceUser was created once, with an expiry, by stsgate's own credentials.
    let users = h.standins.chime.created_users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["AppInstanceUserId"], user_id);
    assert_eq!(users[0]["ExpirationSettings"]["ExpirationDays"], 2);

    for _ in 0..2 {
        let r = get_messages(&h, token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let calls = h.standins.sts.calls();
    assert_eq!(calls.len(), 1, "one session for the guest");
    assert_eq!(calls[0].role_arn, GUEST);
    assert_eq!(calls[0].duration_seconds, 900);
    assert!(
        calls[0]
            .policy
            .as_deref()
            .unwrap()
            .contains("chime:Connect")
    );
    let tags: std::collections::BTreeMap<_, _> = calls[0].tags.iter().cloned().collect();
    assert_eq!(tags["amr"], "unauthenticated:guests");
    assert_eq!(tags[USER_ID_TAG], user_id);
    assert_eq!(h.standins.chime.created_users().len(), 1, "created once");
    // Outside the guests' operations: refused before STS.
    let auth = format!("Bearer {token}");
    let body =
        json!({"AppInstanceArn": APP_INSTANCE_ARN, "Name": "x", "ClientRequestToken": "t-0001"})
            .to_string();
    let r = h
        .send(
            "POST",
            "/channels",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            &body,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.json()["error"], "operation_not_allowed");
    assert_eq!(h.standins.sts.calls().len(), 1);
    // Nor raw credentials, which would reach every operation of the role as any bearer.
    let r = h
        .send("POST", "/credentials", &[("authorization", &auth)], "")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.json()["error"], "operation_not_allowed");
    assert_eq!(h.standins.sts.calls().len(), 1);
    // The key that verifies guest tokens is published.
    let keys = h.send("GET", "/.well-known/jwks.json", &[], "").await;
    assert_eq!(keys.json()["keys"][0]["alg"], "ES256");
    // Rate-limited per client address: the third token in a minute waits.
    one_more_guest_then_refused(&h, "guests.max_per_minute").await;
    assert_eq!(h.metric("stsgate_guest_tokens_issued_total").await, 2.0);
    assert_eq!(h.standins.chime.created_users().len(), 2);
}

/// One more guest token is issued; the next is refused by `limit`, with a Retry-After.
async fn one_more_guest_then_refused(h: &Harness, limit: &str) {
    let r = h.send("POST", "/guest", &[], "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = h.send("POST", "/guest", &[], "").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.json()["error"], "rate_limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    let refusals = format!("stsgate_limit_refusals_total{{limit=\"{limit}\"}}");
    assert_eq!(h.metric(&refusals).await, 1.0);
}

#[tokio::test]
async fn guest_tokens_are_capped_for_all_clients_together() {
    let h =
        Harness::start_with_standins(|s, c| guests_with_total(c, s.chime.endpoint(), 10, 1)).await;
    one_more_guest_then_refused(&h, "guests.max_total_per_minute").await;
    assert_eq!(
        h.standins.chime.created_users().len(),
        1,
        "no user for the refused one"
    );
}

#[tokio::test]
async fn without_guests_configured_there_is_no_guest_route() {
    let h = Harness::start().await;
    let r = h.send("POST", "/guest", &[], "").await;
    assert_ne!(r.status, StatusCode::OK);
    assert!(h.standins.sts.calls().is_empty());
}

#[tokio::test]
async fn web_identity_mode_exchanges_the_callers_own_credential_unsigned() {
    let h = Harness::start_with(|c| {
        c.issuers[0].sts_mode = Some(StsMode::WebIdentity);
        c.issuers[0].tags = Some(TagsConfig::Mode(TagMode::Off));
        let s = &mut c.saml_idps[0];
        s.sts_mode = Some(StsMode::WebIdentity);
        s.tags = Some(TagsConfig::Mode(TagMode::Off));
        s.saml_provider_arn = Some("arn:aws:iam::111122223333:saml-provider/Corp".into());
    })
    .await;
    // The user-id tag comes from the token itself, as AssumeRoleWithWebIdentity takes it.
    let tags = json!({"https://aws.amazon.com/tags": {"principal_tags": {USER_ID_TAG: ["alice"]}}});
    let jwt = token(&h.standins.idp, "alice", tags);
    for _ in 0..2 {
        let r = get_messages(&h, &jwt).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let calls = h.standins.sts.calls();
    assert_eq!(calls.len(), 1, "one session per token");
    assert_eq!(calls[0].action, "AssumeRoleWithWebIdentity");
    assert!(!calls[0].signed, "no stsgate signature");
    assert_eq!(calls[0].credential.as_deref(), Some(jwt.as_str()));
    assert_eq!(
        calls[0].tags,
        [(USER_ID_TAG.to_owned(), "alice".to_owned())]
    );
    // A SAML IdP in this mode: AssumeRoleWithSAML with the assertion and the IAM SAML provider.
    let r = h
        .call_saml("bob", "GET", "/endpoints/messaging-session", "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let call = h.standins.sts.calls().pop().unwrap();
    assert_eq!(call.action, "AssumeRoleWithSAML");
    assert!(!call.signed);
    assert_eq!(
        call.principal_arn.as_deref(),
        Some("arn:aws:iam::111122223333:saml-provider/Corp")
    );
    assert!(call.credential.is_some_and(|a| !a.is_empty()));
}
