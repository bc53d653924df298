//! Refusals of who a caller becomes: no role rule matched, a role the token may not choose, a
//! multi-valued or unusable claim, guests outside their operations or over their rate. Each is a
//! 403 or 429 with no STS call and nothing forwarded.

use super::{Case, assert_refused};
use crate::support::Harness;
use serde_json::json;
use stsgate::config::{GuestsConfig, MatchType, RoleMode, RuleConfig, SessionConfig};
use stsgate_standins::AUDIENCE;
use stsgate_standins::idp::{IdpStandIn, RSA_KID};

const SALES: &str = "arn:aws:iam::111122223333:role/ChatSales";

fn token(idp: &IdpStandIn, sub: &str, extra: serde_json::Value) -> String {
    let mut claims = idp.claims_for(sub, AUDIENCE);
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    idp.sign(RSA_KID, &claims)
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

#[tokio::test]
async fn every_mapping_refusal_is_clear_and_costs_nothing_upstream() {
    let chooser = IdpStandIn::start().await.unwrap();
    let chooser_issuer = chooser.issuer.clone();
    let h = Harness::start_with(move |c| {
        // The stand-ins' issuer: rules, deny when none matches; the tenant tag from `org`.
        let i = &mut c.issuers[0];
        i.role = RoleMode::Rules;
        i.rules = vec![RuleConfig {
            claim: "dept".into(),
            match_type: MatchType::Equals,
            value: "sales".into(),
            role_arn: SALES.into(),
            session: SessionConfig {
                source_identity: Some("email".into()),
                ..SessionConfig::default()
            },
        }];
        c.session_tags.insert("tenant".into(), "org".into());
        c.saml_idps[0].tags = Some(stsgate::config::TagsConfig::Custom(
            [("my_applications_user_id".to_owned(), "{user_id}".to_owned())].into(),
        ));
        // A second issuer whose tokens choose their role.
        let mut second = c.issuers[0].clone();
        second.name = Some("chooser".into());
        second.issuer = chooser_issuer;
        second.role = RoleMode::Token;
        second.rules = Vec::new();
        second.allowed_roles = vec![SALES.into()];
        c.issuers.push(second);
        c.guests = Some(GuestsConfig {
            role_arn: "arn:aws:iam::111122223333:role/ChatGuest".into(),
            session_policy: None,
            policy_arns: Vec::new(),
            duration_seconds: 900,
            allowed_operations: Some(vec!["ListChannelMessages".into()]),
            tags: Some(stsgate::config::TagsConfig::Custom(
                [("my_applications_user_id".to_owned(), "{user_id}".to_owned())].into(),
            )),
            token_lifetime_seconds: 600,
            max_per_minute: 1,
            max_total_per_minute: 600,
            signing_key_file: None,
            create_app_instance_user: false,
            app_instance_user_expiration_days: 1,
        });
    })
    .await;
    let idp = &h.standins.idp;
    let guest = h.send("POST", "/guest", &[], "").await.json();
    let guest = guest["access_token"].as_str().unwrap().to_owned();
    let sales = json!({"dept": "sales", "org": "acme", "email": "a@x.com"});
    let with = |extra: serde_json::Value| {
        let mut claims = sales.clone();
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    let cases = vec![
        Case::get(
            "no role rule matches",
            &[(
                "authorization",
                &bearer(&token(idp, "u1", with(json!({"dept": "ops"})))),
            )],
            403,
            "no_role_matched",
        ),
        Case::get(
            "the rule's claim is missing",
            &[(
                "authorization",
                &bearer(&token(idp, "u2", json!({"org": "acme"}))),
            )],
            403,
            "no_role_matched",
        ),
        Case::get(
            "a role the token may not choose",
            &[(
                "authorization",
                &bearer(&token(
                    &chooser,
                    "u3",
                    json!({"org": "a", "cognito:preferred_role": "arn:aws:iam::111122223333:role/Root"}),
                )),
            )],
            403,
            "no_role_matched",
        ),
        Case::get(
            "two roles and no preferred one",
            &[(
                "authorization",
                &bearer(&token(
                    &chooser,
                    "u4",
                    json!({"org": "a", "cognito:roles": [SALES, "arn:aws:iam::111122223333:role/B"]}),
                )),
            )],
            403,
            "no_role_matched",
        ),
        Case::get(
            "a multi-valued tag claim",
            &[(
                "authorization",
                &bearer(&token(idp, "u5", with(json!({"org": ["a", "b"]})))),
            )],
            403,
            "identity_not_mappable",
        ),
        Case::get(
            "a tag value STS cannot take",
            &[(
                "authorization",
                &bearer(&token(idp, "u6", with(json!({"org": "a|b"})))),
            )],
            403,
            "identity_not_mappable",
        ),
        Case::get(
            "an unusable source identity",
            &[(
                "authorization",
                &bearer(&token(idp, "u7", with(json!({"email": "aws:root"})))),
            )],
            403,
            "identity_not_mappable",
        ),
        Case::get(
            "a guest outside its operations",
            &[("authorization", &bearer(&guest))],
            403,
            "operation_not_allowed",
        )
        .to(
            "GET",
            format!(
                "/channels/{}",
                stsgate_standins::encode_label(&stsgate_standins::demo_channel_arn())
            ),
        ),
        Case::get(
            "a guest token over the address's rate",
            &[],
            429,
            "rate_limited",
        )
        .to("POST", "/guest".into()),
    ];
    for case in &cases {
        assert_refused(&h, case).await;
    }
}
