//! Broker behaviour with a counting fake STS, a hand-moved wall clock and paused tokio time.

use super::*;
use crate::clock::{Clock, ManualClock};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

pub(super) struct FakeSts {
    clock: ManualClock,
    delay: Duration,
    lifetime: Duration,
    calls: AtomicUsize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    /// Errors returned by the next calls, in order; then `always`, if set.
    script: Mutex<VecDeque<StsError>>,
    always: Mutex<Option<StsError>>,
}

impl FakeSts {
    pub(super) fn new(clock: &ManualClock, delay: Duration) -> Arc<Self> {
        Arc::new(FakeSts {
            clock: clock.clone(),
            delay,
            lifetime: Duration::from_secs(3600),
            calls: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            script: Mutex::new(VecDeque::new()),
            always: Mutex::new(None),
        })
    }

    pub(super) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub(super) fn fail_always(&self, e: Option<StsError>) {
        *self.always.lock().unwrap() = e;
    }
}

impl StsClient for FakeSts {
    fn assume_role<'a>(
        &'a self,
        spec: &'a SessionSpec,
    ) -> BoxFuture<'a, Result<SessionCredentials, StsError>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let scripted = self.script.lock().unwrap().pop_front();
            if let Some(e) = scripted.or_else(|| self.always.lock().unwrap().clone()) {
                return Err(e);
            }
            let expires = self.clock.now() + self.lifetime;
            Ok(SessionCredentials::new(
                format!("ASIA{n}"),
                "secret".into(),
                format!("token-{}", spec.session_name),
                expires,
            ))
        })
    }
}

pub(super) fn err(code: &str) -> StsError {
    StsError::from_code(code, None, "fake".into())
}

pub(super) fn settings() -> BrokerSettings {
    BrokerSettings {
        expiry_margin: Duration::from_secs(300),
        refresh_ahead: Duration::from_secs(300),
        deadline: Duration::from_secs(10),
        negative_ttl: Duration::from_secs(30),
        max_sessions: 100_000,
        max_concurrent_calls: 16,
        max_calls_per_second: 1000,
    }
}

pub(super) fn spec(user: &str) -> SessionSpec {
    SessionSpec {
        role_arn: "arn:aws:iam::111122223333:role/R".into(),
        session_name: user.into(),
        tags: vec![("uid".into(), user.into())],
        duration_seconds: 3600,
        policy: None,
        user_arn: format!("arn:aws:chime:us-east-1:111122223333:app-instance/ai/user/{user}")
            .into(),
        ..Default::default()
    }
}

struct Setup {
    broker: SessionBroker,
    sts: Arc<FakeSts>,
    clock: ManualClock,
    metrics: Arc<Metrics>,
}

fn setup(delay: Duration, s: BrokerSettings) -> Setup {
    let clock = ManualClock::new(SystemTime::now());
    let sts = FakeSts::new(&clock, delay);
    let metrics = Arc::new(Metrics::new());
    let broker = SessionBroker::new(sts.clone(), metrics.clone(), Arc::new(clock.clone()), s);
    Setup {
        broker,
        sts,
        clock,
        metrics,
    }
}

#[tokio::test(start_paused = true)]
async fn concurrent_first_requests_share_one_call() {
    let t = setup(Duration::from_millis(50), settings());
    let s = spec("alice");
    let all = futures_util::future::join_all((0..100).map(|_| t.broker.session(&s))).await;
    assert!(
        all.iter()
            .all(|r| r.as_ref().unwrap().access_key_id() == "ASIA1")
    );
    assert_eq!(t.sts.calls(), 1);
    assert_eq!(
        t.metrics.credential_cache_misses.get() + t.metrics.credential_cache_hits.get(),
        100
    );
}

#[tokio::test(start_paused = true)]
async fn different_users_proceed_in_parallel_within_the_concurrency_bound() {
    let t = setup(Duration::from_millis(100), settings());
    let specs: Vec<_> = (0..100).map(|i| spec(&format!("u{i}"))).collect();
    let started = tokio::time::Instant::now();
    let all = futures_util::future::join_all(specs.iter().map(|s| t.broker.session(s))).await;
    assert!(all.iter().all(Result::is_ok));
    assert_eq!(t.sts.calls(), 100);
    assert_eq!(
        t.sts.peak.load(Ordering::SeqCst),
        16,
        "bound reached and never exceeded"
    );
    // 100 calls of 100 ms, 16 at a time: 7 waves.
    assert!(
        started.elapsed() >= Duration::from_millis(700)
            && started.elapsed() < Duration::from_millis(800)
    );
}

#[tokio::test(start_paused = true)]
async fn the_rate_bound_spaces_calls_out() {
    let t = setup(
        Duration::ZERO,
        BrokerSettings {
            max_calls_per_second: 10,
            ..settings()
        },
    );
    let specs: Vec<_> = (0..30).map(|i| spec(&format!("u{i}"))).collect();
    let started = tokio::time::Instant::now();
    let all = futures_util::future::join_all(specs.iter().map(|s| t.broker.session(s))).await;
    assert!(all.iter().all(Result::is_ok));
    // A burst of 10, then 20 more at 10 per second.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(2200),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_used_session_is_refreshed_in_the_background_and_nobody_waits() {
    let t = setup(Duration::from_secs(1), settings());
    let s = spec("alice");
    assert_eq!(t.broker.session(&s).await.unwrap().access_key_id(), "ASIA1");
    // Into the refresh-ahead window: 3600 - 300 margin - 300 ahead = 3000 s.
    t.clock.advance(Duration::from_secs(3100));
    let started = tokio::time::Instant::now();
    assert_eq!(t.broker.session(&s).await.unwrap().access_key_id(), "ASIA1");
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "the request did not wait for STS"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(t.sts.calls(), 2);
    assert_eq!(
        t.metrics
            .credential_refreshes
            .get(crate::metrics::Outcome::Ok),
        1
    );
    let started = tokio::time::Instant::now();
    assert_eq!(t.broker.session(&s).await.unwrap().access_key_id(), "ASIA2");
    assert_eq!(started.elapsed(), Duration::ZERO);
    // Steady traffic for a whole day: never a wait, one refresh per session lifetime.
    for _ in 0..24 * 60 {
        t.clock.advance(Duration::from_secs(60));
        let started = tokio::time::Instant::now();
        t.broker.session(&s).await.unwrap();
        assert_eq!(started.elapsed(), Duration::ZERO);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert_eq!(
        t.metrics.credential_cache_misses.get(),
        1,
        "only the very first request missed"
    );
    assert_eq!(t.metrics.credential_near_expiry.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn idle_sessions_expire_without_background_work() {
    let t = setup(Duration::ZERO, settings());
    let s = spec("alice");
    t.broker.session(&s).await.unwrap();
    t.clock.advance(Duration::from_secs(3400));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(t.sts.calls(), 1, "nothing refreshed an unused session");
    assert_eq!(t.broker.session(&s).await.unwrap().access_key_id(), "ASIA2");
    assert_eq!(t.metrics.credential_cache_misses.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn while_sts_is_down_warm_sessions_keep_serving_until_unusable() {
    let t = setup(Duration::from_millis(10), settings());
    let users: Vec<_> = (0..20).map(|i| spec(&format!("u{i}"))).collect();
    for s in &users {
        t.broker.session(s).await.unwrap();
    }
    t.sts.fail_always(Some(err("ServiceUnavailable")));
    // Through the refresh window (from 3000 s) up to just before `use_until` (3300 s): no
    // request fails.
    t.clock.advance(Duration::from_secs(2990));
    for _ in 0..30 {
        t.clock.advance(Duration::from_secs(10));
        for s in &users {
            t.broker
                .session(s)
                .await
                .expect("a warm session serves while STS is down");
        }
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    assert!(
        t.metrics
            .credential_refreshes
            .get(crate::metrics::Outcome::Failed)
            >= 20
    );
    // Past the margin the session is no longer used, and the outage shows.
    t.clock.advance(Duration::from_secs(10));
    let e = t.broker.session(&users[0]).await.unwrap_err();
    assert_eq!(e.kind, StsErrorKind::Unavailable);
    // Once STS is back, the next request recovers.
    t.sts.fail_always(None);
    t.broker.session(&users[0]).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn refusals_are_negative_cached() {
    let t = setup(Duration::ZERO, settings());
    let s = spec("mallory");
    t.sts.fail_always(Some(err("AccessDenied")));
    for _ in 0..10 {
        assert_eq!(
            t.broker.session(&s).await.unwrap_err().kind,
            StsErrorKind::Denied
        );
    }
    assert_eq!(
        t.sts.calls(),
        1,
        "one refusal, then the negative cache answers"
    );
    assert_eq!(t.metrics.sts_negative_cache_hits.get(), 9);
    // Other users are unaffected.
    t.sts.fail_always(None);
    t.broker.session(&spec("alice")).await.unwrap();
    t.clock.advance(Duration::from_secs(31));
    t.broker.session(&s).await.unwrap();
    assert_eq!(t.sts.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_with_backoff() {
    let t = setup(Duration::ZERO, settings());
    t.sts.script.lock().unwrap().extend([
        err("Throttling"),
        err("ThrottlingException"),
        err("RequestLimitExceeded"),
    ]);
    let started = tokio::time::Instant::now();
    t.broker.session(&spec("alice")).await.unwrap();
    assert_eq!(t.sts.calls(), 4);
    assert_eq!(t.metrics.sts_assume_role_retries.get(), 3);
    assert!(
        started.elapsed() < Duration::from_millis(100 + 200 + 400 + 1),
        "full jitter stays under the caps"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_the_deadline() {
    let t = setup(
        Duration::from_millis(50),
        BrokerSettings {
            deadline: Duration::from_secs(3),
            ..settings()
        },
    );
    t.sts.fail_always(Some(err("Throttling")));
    let started = tokio::time::Instant::now();
    let e = t.broker.session(&spec("alice")).await.unwrap_err();
    assert_eq!(e.kind, StsErrorKind::Throttled);
    assert!(started.elapsed() <= Duration::from_secs(3));
    assert!(t.sts.calls() > 3);
    // Transient failures are never cached: the next request calls again.
    let before = t.sts.calls();
    t.sts.fail_always(None);
    t.broker.session(&spec("alice")).await.unwrap();
    assert_eq!(t.sts.calls(), before + 1);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_inside_a_retry_reports_what_sts_last_said() {
    // Each attempt takes 1 s; the first is throttled, the retry starts by 1.1 s and is cut at 1.5 s.
    let t = setup(
        Duration::from_secs(1),
        BrokerSettings {
            deadline: Duration::from_millis(1500),
            ..settings()
        },
    );
    t.sts.fail_always(Some(err("Throttling")));
    let e = t.broker.session(&spec("alice")).await.unwrap_err();
    assert_eq!((e.kind, e.code), (StsErrorKind::Throttled, "Throttling"));
    assert_eq!(t.sts.calls(), 2);
    assert_eq!(
        t.metrics
            .sts_assume_role_errors
            .with_label_values(&["timeout"])
            .get(),
        1,
        "the cut attempt is still counted"
    );
}

#[tokio::test(start_paused = true)]
async fn queued_callers_give_up_at_the_deadline() {
    let t = setup(
        Duration::from_secs(5),
        BrokerSettings {
            max_concurrent_calls: 1,
            deadline: Duration::from_secs(2),
            ..settings()
        },
    );
    let (sa, sb) = (spec("a"), spec("b"));
    let (a, b) = tokio::join!(t.broker.session(&sa), t.broker.session(&sb));
    // Both time out: one waiting for STS, one waiting for the single slot.
    let codes: Vec<_> = [a, b].into_iter().map(|r| r.unwrap_err().code).collect();
    assert!(
        codes.contains(&"queue_timeout") && codes.contains(&"timeout"),
        "{codes:?}"
    );
}

#[tokio::test]
async fn capacity_is_bounded() {
    let t = setup(
        Duration::ZERO,
        BrokerSettings {
            max_sessions: 50,
            ..settings()
        },
    );
    for i in 0..300 {
        t.broker.session(&spec(&format!("u{i}"))).await.unwrap();
    }
    t.broker.sync().await;
    assert!(t.broker.sessions() <= 50, "{}", t.broker.sessions());
    assert!(
        t.metrics
            .credential_cache_evictions
            .get(crate::metrics::Eviction::Size)
            >= 250
    );
}

/// A cache hit's future is allocated and copied whole: the STS path is boxed out of it.
#[tokio::test]
async fn a_cache_hits_future_stays_small() {
    let t = setup(Duration::ZERO, settings());
    let spec = spec("alice");
    let size = std::mem::size_of_val(&t.broker.session(&spec));
    assert!(
        size <= 2048,
        "SessionBroker::session's future is {size} bytes"
    );
}
