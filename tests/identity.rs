//! Inbound identity over real sockets: several issuers, key rotation and the refetch limit, an
//! IdP outage, per-issuer token rules and the validated-token cache.

use crate::support::{Harness, eventually, messages_path};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stsgate_standins::AUDIENCE;
use stsgate_standins::idp::{EC_KID, IdpStandIn, RSA_KID};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `jwks_refetch_interval_seconds = 1`, and the slack the fixed waits these polls replace had.
const INTERVAL_AND_A_BIT: Duration = Duration::from_millis(1100);

async fn get(h: &Harness, token: &str) -> crate::support::Reply {
    h.send(
        "GET",
        &messages_path(),
        &[("authorization", &format!("Bearer {token}"))],
        "",
    )
    .await
}

async fn rejected(h: &Harness, token: &str, reason: &str) {
    let r = get(h, token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{reason}: {}", r.body);
    let series = format!("stsgate_token_rejections_total{{reason=\"{reason}\"}}");
    assert!(h.metric(&series).await >= 1.0, "{series} did not move");
}

fn with(idp: &IdpStandIn, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut c = idp.claims_for("alice", AUDIENCE);
    edit(c.as_object_mut().unwrap());
    c
}

#[tokio::test]
async fn several_issuers_each_by_its_exact_iss() {
    let second = IdpStandIn::start().await.unwrap();
    let h = Harness::start_with(|c| {
        let mut other = c.issuers[0].clone();
        other.name = Some("other".into());
        other.issuer = second.issuer.clone();
        other.audiences = vec!["second-app".into()];
        c.issuers.push(other);
    })
    .await;
    assert_eq!(get(&h, &h.token("alice")).await.status, StatusCode::OK);
    assert_eq!(
        get(&h, &second.token_for("bob", "second-app")).await.status,
        StatusCode::OK
    );
    // The second issuer's audience is not the first's.
    rejected(&h, &second.token_for("bob", AUDIENCE), "wrong_audience").await;
    // A token from an unconfigured issuer costs no network call.
    let third = IdpStandIn::start().await.unwrap();
    rejected(&h, &third.token_for("eve", AUDIENCE), "unknown_issuer").await;
    assert_eq!(third.jwks_fetches(), 0);
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval_and_rotation_works() {
    let h = Harness::start_with(|c| c.issuers[0].jwks_refetch_interval_seconds = 1).await;
    let idp = &h.standins.idp;
    assert_eq!(get(&h, &h.token("alice")).await.status, StatusCode::OK);
    let before = idp.jwks_fetches();
    for i in 0..20 {
        let t = idp.sign_raw(
            RSA_KID,
            &json!({"alg": "RS256", "kid": format!("garbage-{i}")}),
            &idp.claims_for("alice", AUDIENCE),
        );
        rejected(&h, &t, "unknown_kid").await;
    }
    assert!(
        idp.jwks_fetches() - before <= 1,
        "{} fetches for 20 garbage kids",
        idp.jwks_fetches() - before
    );

    // Rotation: a new key is published; once the interval is over its token triggers a refetch
    // (until then it is refused without one).
    idp.add_rsa_key("rotated-1", true);
    let rotated = idp.sign("rotated-1", &idp.claims_for("alice", AUDIENCE));
    eventually(INTERVAL_AND_A_BIT, "the rotated key is fetched", || async {
        get(&h, &rotated).await.status == StatusCode::OK
    })
    .await;
    assert_eq!(get(&h, &rotated).await.status, StatusCode::OK);
    // Old and new keys overlap: both verify.
    assert_eq!(get(&h, &h.token("bob")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_idp_outage_keeps_the_last_good_keys_and_shows_in_readyz() {
    let h = Harness::start_with(|c| c.issuers[0].jwks_refetch_interval_seconds = 1).await;
    let idp = &h.standins.idp;
    idp.set_jwks_down(true);
    let t = idp.sign_raw(
        RSA_KID,
        &json!({"alg": "RS256", "kid": "new"}),
        &idp.claims_for("alice", AUDIENCE),
    );
    // Refused throughout; once the refetch interval is over, the unknown kid tries the IdP.
    let failed = "stsgate_jwks_fetches_total{result=\"failed\"}";
    eventually(INTERVAL_AND_A_BIT, "a refetch tries the IdP", || async {
        rejected(&h, &t, "unknown_kid").await;
        h.metric(failed).await >= 1.0
    })
    .await;
    assert!(
        h.metric("stsgate_jwks_fetches_total{result=\"failed\"}")
            .await
            >= 1.0
    );
    let ready = h.admin("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "known keys keep serving");
    assert!(
        ready.json()["issuers"][0]["last_fetch_error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{}",
        ready.body
    );
    assert_eq!(get(&h, &h.token("alice")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn per_issuer_rules() {
    let h = Harness::start_with(|c| {
        let issuer = &mut c.issuers[0];
        issuer.token_use = Some(stsgate::config::TokenUse::Id);
        issuer.max_token_age_seconds = Some(600);
        issuer.algorithms = Some(vec!["RS256".into()]);
        issuer
            .required_claims
            .insert("email_verified".into(), toml::Value::Boolean(true));
    })
    .await;
    let idp = &h.standins.idp;
    type Edit = fn(&mut serde_json::Map<String, Value>);
    // A token that meets every rule, then edited by `edit` and signed with `kid`.
    let token = |kid: &str, edit: Edit| {
        idp.sign(
            kid,
            &with(idp, |c| {
                c.insert("email_verified".into(), true.into());
                edit(c);
            }),
        )
    };
    assert_eq!(
        get(&h, &token(RSA_KID, |_| {})).await.status,
        StatusCode::OK
    );
    let cases: [(&str, Edit, &str); 6] = [
        (
            RSA_KID,
            |c| {
                c.insert("email_verified".into(), false.into());
            },
            "claim_mismatch",
        ),
        (
            RSA_KID,
            |c| {
                c.insert("email_verified".into(), "true".into());
            },
            "claim_mismatch",
        ),
        (
            RSA_KID,
            |c| {
                c.insert("token_use".into(), "access".into());
            },
            "wrong_token_use",
        ),
        (
            RSA_KID,
            |c| {
                c.insert("iat".into(), (now() - 3600).into());
            },
            "too_old",
        ),
        (
            RSA_KID,
            |c| {
                c.remove("iat");
            },
            "missing_claim",
        ),
        (EC_KID, |_| {}, "disallowed_alg"),
    ];
    for (kid, edit, reason) in cases {
        rejected(&h, &token(kid, edit), reason).await;
    }
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_refused() {
    let h = Harness::start().await;
    let idp = &h.standins.idp;
    let n = URL_SAFE_NO_PAD
        .decode(idp.jwk(RSA_KID)["n"].as_str().unwrap())
        .unwrap();
    let claims = idp.claims_for("alice", AUDIENCE);
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "kid": RSA_KID}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(&n),
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap();
    rejected(&h, &format!("{input}.{sig}"), "disallowed_alg").await;
}

#[tokio::test]
async fn validated_tokens_are_cached_until_they_expire() {
    // stsgate's clock moves only when told; the token's times are set relative to it.
    let start = now();
    let clock = stsgate::clock::ManualClock::new(UNIX_EPOCH + Duration::from_secs(start as u64));
    let h = Harness::start_with_clock(|c| c.issuers[0].leeway_seconds = 0, clock.clone()).await;
    let idp = &h.standins.idp;
    let short = idp.sign(
        RSA_KID,
        &with(idp, |c| {
            c.insert("iat".into(), (start - 1).into());
            c.insert("exp".into(), (start + 2).into());
        }),
    );
    for _ in 0..5 {
        assert_eq!(get(&h, &short).await.status, StatusCode::OK);
    }
    assert_eq!(h.metric("stsgate_token_cache_misses_total").await, 1.0);
    assert_eq!(h.metric("stsgate_token_cache_hits_total").await, 4.0);
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        get(&h, &short).await.status,
        StatusCode::OK,
        "exp itself is valid"
    );
    clock.advance(Duration::from_secs(1));
    rejected(&h, &short, "expired").await;
}
