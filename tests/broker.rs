//! The session broker over real sockets: the STS stand-in can be slow, failing or refusing, and
//! can issue short-lived credentials so refresh-ahead happens within a test.

use crate::support::{Harness, SETTLE, access_key_of, eventually, messages_path};
use futures_util::future::join_all;
use http::StatusCode;
use std::time::{Duration, Instant, SystemTime};
use stsgate::clock::ManualClock;
use stsgate_standins::sts::StsBehaviour;

#[tokio::test]
async fn hundred_concurrent_first_requests_make_one_call() {
    let h = Harness::start().await;
    h.standins.sts.set_behaviour(StsBehaviour {
        delay: Duration::from_millis(200),
        ..Default::default()
    });
    let token = format!("Bearer {}", h.token("dave"));
    let headers = [("authorization", token.as_str())];
    let path = messages_path();
    let replies = join_all((0..100).map(|_| h.send("GET", &path, &headers, ""))).await;
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    assert_eq!(h.standins.sts.calls().len(), 1);
}

#[tokio::test]
async fn a_used_session_is_renewed_before_it_expires_and_no_request_waits() {
    // Credentials live 4 s: usable until 3 s (1 s margin), refreshed from 1 s (2 s ahead).
    // stsgate runs on a clock the test moves; the stand-in STS dates credentials in real time,
    // so only the first session is short: the refreshed one lasts past the test.
    let (clock, started) = (ManualClock::new(SystemTime::now()), Instant::now());
    let h = Harness::start_with_clock(
        |c| {
            c.sts.expiry_margin_seconds = 1;
            c.sts.refresh_ahead_seconds = 2;
        },
        clock.clone(),
    )
    .await;
    h.standins.sts.set_behaviour(StsBehaviour {
        lifetime: Some(Duration::from_secs(4)),
        ..Default::default()
    });
    // Caught up with real time, the stand-in's: the first session's 4 s start now.
    clock.advance(started.elapsed());
    let path = messages_path();
    for step in 0..16 {
        let r = h.call("alice", "GET", &path, "").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        if step == 0 {
            // The renewal is an ordinary hour-long session.
            h.standins.sts.set_behaviour(StsBehaviour::default());
        }
        if step == 11 {
            // 2.75 s in, before the first session's end: its renewal, begun in the background
            // from 1 s on, has landed (as real time would have let it).
            eventually(SETTLE, "the background refresh", || async {
                h.metric("stsgate_credential_refreshes_total{result=\"ok\"}")
                    .await
                    >= 1.0
            })
            .await;
        }
        clock.advance(Duration::from_millis(250));
    }
    // 4 s of steady traffic, past the first session's end: the first request missed, every
    // other was a hit.
    assert_eq!(h.metric("stsgate_credential_cache_misses_total").await, 1.0);
    assert!(
        h.metric("stsgate_credential_refreshes_total{result=\"ok\"}")
            .await
            >= 1.0
    );
    assert!(h.standins.sts.calls().len() >= 2);
    let keys: std::collections::BTreeSet<_> = h
        .standins
        .chime
        .received()
        .iter()
        .map(access_key_of)
        .collect();
    assert!(
        keys.len() >= 2,
        "requests moved to the refreshed session: {keys:?}"
    );
}

#[tokio::test]
async fn sts_outage_fails_no_request_of_a_warm_user() {
    let h = Harness::start().await;
    let path = messages_path();
    for user in ["u1", "u2", "u3"] {
        assert_eq!(h.call(user, "GET", &path, "").await.status, StatusCode::OK);
    }
    h.standins.sts.set_behaviour(StsBehaviour {
        fail: Some((503, "ServiceUnavailable")),
        ..Default::default()
    });
    for _ in 0..10 {
        for user in ["u1", "u2", "u3"] {
            assert_eq!(h.call(user, "GET", &path, "").await.status, StatusCode::OK);
        }
    }
    // A user with no session yet does see the outage.
    let r = h.call("newcomer", "GET", &path, "").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json()["error"], "sts_unavailable");
    assert!(
        h.metric("stsgate_sts_assume_role_retries_total").await >= 1.0,
        "transient failures are retried"
    );
}

#[tokio::test]
async fn a_denied_user_is_negative_cached() {
    let h = Harness::start().await;
    h.standins.sts.set_behaviour(StsBehaviour {
        fail: Some((403, "AccessDenied")),
        ..Default::default()
    });
    for _ in 0..5 {
        let r = h.call("mallory", "GET", &messages_path(), "").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.json()["error"], "sts_denied");
    }
    assert_eq!(
        h.metric("stsgate_sts_assume_role_errors_total{code=\"AccessDenied\"}")
            .await,
        1.0
    );
    assert_eq!(h.metric("stsgate_sts_negative_cache_hits_total").await, 4.0);
}

#[tokio::test]
async fn the_concurrency_bound_holds_against_real_sts_calls() {
    let h = Harness::start_with(|c| c.sts.max_concurrent_calls = 4).await;
    h.standins.sts.set_behaviour(StsBehaviour {
        delay: Duration::from_millis(150),
        ..Default::default()
    });
    let path = messages_path();
    let users: Vec<String> = (0..20).map(|i| format!("user{i}")).collect();
    let replies = join_all(users.iter().map(|u| h.call(u, "GET", &path, ""))).await;
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    assert_eq!(h.standins.sts.calls().len(), 20);
    assert_eq!(
        h.standins.sts.peak_in_flight(),
        4,
        "bound reached and never exceeded"
    );
    assert_eq!(h.metric("stsgate_sts_assume_role_in_flight").await, 0.0);
    assert_eq!(h.metric("stsgate_credential_cache_sessions").await, 20.0);
}

#[tokio::test]
async fn the_session_policy_reaches_sts_and_the_cache_key() {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"chime:ListChannelMessages","Resource":"*"}]}"#;
    let h = Harness::start_with(|c| c.sts.session_policy = Some(policy.into())).await;
    assert_eq!(
        h.call("alice", "GET", &messages_path(), "").await.status,
        StatusCode::OK
    );
    assert_eq!(h.standins.sts.calls()[0].policy.as_deref(), Some(policy));
}
