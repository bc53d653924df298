//! Several brokers (replicas) sharing one in-memory store and one counting STS, on paused tokio
//! time and a hand-moved wall clock.

use super::super::store::{
    Backend, MemoryBackend, RedisTarget, SealKey, Sealer, SharedStore, StoreSettings,
};
use super::super::tests::{FakeSts, err, settings, spec};
use super::super::{BrokerSettings, SessionBroker};
use crate::clock::ManualClock;
use crate::config::settings::StoreKeys;
use crate::metrics::{LeaseOutcome, Metrics, StoreLookup, StoreOp};
use futures_util::future::join_all;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

struct Fleet {
    replicas: Vec<SessionBroker>,
    metrics: Vec<Arc<Metrics>>,
    sts: Arc<FakeSts>,
    store: Arc<MemoryBackend>,
    clock: ManualClock,
}

fn store_settings(fleet_rate: Option<u32>) -> StoreSettings {
    StoreSettings {
        target: RedisTarget {
            url: "redis://127.0.0.1:1".into(),
            cluster: false,
            ca_pem: None,
            timeout: Duration::from_millis(100),
        },
        keys: StoreKeys(vec![[7u8; 32]].into()),
        prefix: "t:".into(),
        timeout: Duration::from_millis(100),
        retry_interval: Duration::from_secs(1),
        lease_ttl: Duration::from_millis(1500),
        fleet_max_calls_per_second: fleet_rate,
    }
}

fn fleet(n: usize, sts_delay: Duration, broker: BrokerSettings, store: StoreSettings) -> Fleet {
    let clock = ManualClock::new(SystemTime::now());
    let sts = FakeSts::new(&clock, sts_delay);
    let backend = Arc::new(MemoryBackend::default());
    let mut replicas = Vec::new();
    let mut metrics = Vec::new();
    for _ in 0..n {
        let m = Arc::new(Metrics::new());
        let shared = SharedStore::new(
            backend.clone(),
            Sealer::new(vec![SealKey::new(&[7u8; 32])], store.prefix.clone()),
            store.clone(),
            m.clone(),
        );
        replicas.push(SessionBroker::with_store(
            sts.clone(),
            m.clone(),
            Arc::new(clock.clone()),
            broker.clone(),
            Some(shared),
        ));
        metrics.push(m);
    }
    Fleet {
        replicas,
        metrics,
        sts,
        store: backend,
        clock,
    }
}

/// `n` replicas, STS answering in 20 ms, default settings.
fn quick_fleet(n: usize) -> Fleet {
    fleet(
        n,
        Duration::from_millis(20),
        settings(),
        store_settings(None),
    )
}

fn total(f: &Fleet, get: impl Fn(&Metrics) -> u64) -> u64 {
    f.metrics.iter().map(|m| get(m)).sum()
}

#[tokio::test(start_paused = true)]
async fn concurrent_first_requests_on_four_replicas_make_one_call() {
    let f = fleet(
        4,
        Duration::from_millis(50),
        settings(),
        store_settings(None),
    );
    let s = spec("alice");
    let all = join_all((0..100).map(|i| f.replicas[i % 4].session(&s))).await;
    assert!(
        all.iter()
            .all(|r| r.as_ref().unwrap().access_key_id() == "ASIA1")
    );
    assert_eq!(f.sts.calls(), 1);
    assert_eq!(total(&f, |m| m.store_leases.get(LeaseOutcome::Won)), 1);
    assert_eq!(total(&f, |m| m.store_leases.get(LeaseOutcome::Waited)), 3);
}

#[tokio::test(start_paused = true)]
async fn each_user_costs_one_call_whichever_replica_they_reach() {
    let f = quick_fleet(4);
    let users: Vec<_> = (0..50).map(|i| spec(&format!("u{i}"))).collect();
    for round in 0..8 {
        let calls = users
            .iter()
            .enumerate()
            .map(|(i, s)| f.replicas[(i * 7 + round * 3) % 4].session(s));
        assert!(join_all(calls).await.iter().all(Result::is_ok));
    }
    assert_eq!(f.sts.calls(), 50, "one AssumeRole per user for the fleet");
    assert!(total(&f, |m| m.store_lookups.get(StoreLookup::Hit)) > 0);
}

#[tokio::test(start_paused = true)]
async fn a_store_that_is_down_costs_nothing_but_local_sessions() {
    let f = quick_fleet(2);
    f.store.set_down(true);
    let users = ["alice", "bob", "carol"];
    for r in &f.replicas {
        // One unreachable call costs only its own step; three in a row make the store rest.
        assert!(r.session(&spec(users[0])).await.is_ok());
        assert_eq!(r.metrics_up(&f), 1);
        for u in &users[1..] {
            assert!(r.session(&spec(u)).await.is_ok());
        }
    }
    assert_eq!(f.sts.calls(), 6, "each replica called STS itself");
    assert_eq!(total(&f, |m| m.store_fallbacks.get()), 6);
    assert!(f.metrics.iter().all(|m| m.store_up.get() == 0));

    // While it rests, the store is not asked at all.
    let asked = f.store.calls.load(Ordering::SeqCst);
    assert!(f.replicas[0].session(&spec("dave")).await.is_ok());
    assert_eq!(f.store.calls.load(Ordering::SeqCst), asked);

    // Back up: after the rest, the next miss uses the store again.
    f.store.set_down(false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(f.replicas[0].session(&spec("erin")).await.is_ok());
    assert!(f.replicas[1].session(&spec("erin")).await.is_ok());
    assert_eq!(f.sts.calls(), 8, "erin cost one call for both replicas");
    assert_eq!(f.metrics[0].store_up.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_after_the_rest_rests_again_at_once() {
    let f = quick_fleet(1);
    f.store.set_down(true);
    for u in ["a", "b", "c"] {
        f.replicas[0].session(&spec(u)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = f.store.calls.load(Ordering::SeqCst);
    f.replicas[0].session(&spec("d")).await.unwrap();
    f.replicas[0].session(&spec("e")).await.unwrap();
    assert_eq!(
        f.store.calls.load(Ordering::SeqCst),
        asked + 1,
        "one probe, then resting again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_store_is_not_down_and_every_request_is_served() {
    let f = quick_fleet(2);
    f.store.set_full(true);
    for u in ["a", "b", "c", "d"] {
        for r in &f.replicas {
            assert!(r.session(&spec(u)).await.is_ok());
        }
    }
    // Nothing could be shared (each replica called STS), but the store kept answering:
    // leases still kept the replicas from calling at once, and nobody rested.
    assert_eq!(f.sts.calls(), 8);
    assert!(f.metrics.iter().all(|m| m.store_up.get() == 1));
    assert!(total(&f, |m| m.store_errors.get(StoreOp::Put)) >= 4);
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_gives_up_mid_call_releases_its_lease() {
    let f = fleet(2, Duration::from_secs(5), settings(), store_settings(None));
    let s = spec("alice");
    // Replica 0 takes the lease, then its request is cancelled during the 5 s STS call.
    let cancelled = tokio::time::timeout(Duration::from_millis(100), f.replicas[0].session(&s));
    assert!(cancelled.await.is_err());
    let started = tokio::time::Instant::now();
    assert!(f.replicas[1].session(&s).await.is_ok());
    // Replica 1 got the lease at once (released in the background), not after it lapsed
    // (1.5 s) or half the deadline: its own 5 s call is all it waited for.
    assert!(
        started.elapsed() < Duration::from_millis(5_500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(f.metrics[1].store_fallbacks.get(), 0);
    assert_eq!(f.sts.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_lease_nobody_answers_for_costs_half_the_deadline_not_the_request() {
    let f = quick_fleet(1);
    let s = spec("alice");
    // Someone with write access holds the lease and keeps renewing it.
    let lease = f.lease_name(&s);
    let squatter = f.store.clone();
    tokio::spawn(async move {
        loop {
            let _ = Backend::lease(&*squatter, &lease, "mallory", Duration::from_secs(2)).await;
            let _ = Backend::renew(&*squatter, &lease, "mallory", Duration::from_secs(2)).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let started = tokio::time::Instant::now();
    assert!(f.replicas[0].session(&s).await.is_ok());
    let waited = started.elapsed();
    // deadline 10 s: half of it waiting, then STS directly.
    assert!(waited >= Duration::from_millis(4_800), "{waited:?}");
    assert!(waited < Duration::from_secs(6), "{waited:?}");
    assert_eq!(f.metrics[0].store_fallbacks.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_tampered_entry_is_refused_and_replaced() {
    let f = quick_fleet(2);
    let s = spec("alice");
    f.replicas[0].session(&s).await.unwrap();
    let (name, mut sealed) = f
        .store
        .entries()
        .into_iter()
        .find(|(n, _)| !n.ends_with(":lease"))
        .expect("published");
    *sealed.last_mut().unwrap() ^= 1;
    f.store.overwrite(&name, sealed);

    let c = f.replicas[1].session(&s).await.unwrap();
    assert_eq!(
        c.access_key_id(),
        "ASIA2",
        "fetched again, not the tampered entry"
    );
    assert!(f.metrics[1].store_lookups.get(StoreLookup::Refused) >= 1);
    // The replacement opens for everyone.
    let again = f.fleet_lookup(&s).await;
    assert_eq!(again.as_deref(), Some("ASIA2"));
}

#[tokio::test(start_paused = true)]
async fn a_dead_lease_holder_is_taken_over_once_its_lease_lapses() {
    let f = quick_fleet(1);
    let s = spec("alice");
    // A replica took the lease and died: nobody renews it.
    let lease = f.lease_name(&s);
    assert!(matches!(
        Backend::lease(&*f.store, &lease, "dead", Duration::from_millis(1500)).await,
        Ok(true)
    ));
    let started = tokio::time::Instant::now();
    let c = f.replicas[0].session(&s).await.unwrap();
    assert_eq!(c.access_key_id(), "ASIA1");
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert_eq!(f.sts.calls(), 1);
    assert_eq!(f.metrics[0].store_leases.get(LeaseOutcome::Expired), 1);
}

#[tokio::test(start_paused = true)]
async fn a_slow_sts_call_keeps_its_lease() {
    // STS takes 3 s, two lease lifetimes: renewals keep the other replicas waiting.
    let f = fleet(3, Duration::from_secs(3), settings(), store_settings(None));
    let s = spec("alice");
    let all = join_all((0..3).map(|i| f.replicas[i].session(&s))).await;
    assert!(all.iter().all(Result::is_ok));
    assert_eq!(f.sts.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_refused_role_is_not_retried_by_waiters_more_than_once_each() {
    let f = quick_fleet(3);
    f.sts.fail_always(Some(err("AccessDenied")));
    let s = spec("mallory");
    let all = join_all((0..30).map(|i| f.replicas[i % 3].session(&s))).await;
    assert!(all.iter().all(Result::is_err));
    assert!(f.sts.calls() <= 3, "{} calls", f.sts.calls());
    // Each replica remembers the refusal: no more calls.
    let _ = join_all((0..30).map(|i| f.replicas[i % 3].session(&s))).await;
    assert!(f.sts.calls() <= 3);
}

#[tokio::test(start_paused = true)]
async fn one_replica_refreshes_and_the_others_adopt_its_session() {
    let f = quick_fleet(3);
    let s = spec("alice");
    for r in &f.replicas {
        r.session(&s).await.unwrap();
    }
    assert_eq!(f.sts.calls(), 1);
    // Into the refresh-ahead window (3600 − 300 margin − 300 ahead = 3000 s).
    f.clock.advance(Duration::from_secs(3100));
    for _ in 0..5 {
        for r in &f.replicas {
            r.session(&s).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    assert_eq!(f.sts.calls(), 2, "one refresh for the fleet");
    for r in &f.replicas {
        assert_eq!(r.session(&s).await.unwrap().access_key_id(), "ASIA2");
    }
}

#[tokio::test(start_paused = true)]
async fn the_fleet_rate_holds_across_replicas() {
    let f = fleet(
        4,
        Duration::from_millis(1),
        settings(),
        store_settings(Some(5)),
    );
    let users: Vec<_> = (0..40).map(|i| spec(&format!("u{i}"))).collect();
    let started = tokio::time::Instant::now();
    let all = join_all(
        users
            .iter()
            .enumerate()
            .map(|(i, s)| f.replicas[i % 4].session(s)),
    )
    .await;
    assert!(all.iter().all(Result::is_ok));
    assert_eq!(f.sts.calls(), 40);
    // 5 at once (one second of burst), then 5 per second: 35 more take 7 s.
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(6), "{took:?}");
    assert!(total(&f, |m| m.fleet_rate_wait.get_sample_count()) > 0);
}

trait Up {
    fn metrics_up(&self, f: &Fleet) -> i64;
}

impl Up for SessionBroker {
    /// `stsgate_session_store_up` of this replica.
    fn metrics_up(&self, f: &Fleet) -> i64 {
        let i = f
            .replicas
            .iter()
            .position(|r| std::ptr::eq(r, self))
            .expect("a replica of the fleet");
        f.metrics[i].store_up.get()
    }
}

#[tokio::test(start_paused = true)]
async fn without_the_store_the_fleet_rate_falls_back_to_the_local_one() {
    // Fleet limit 1/s, local limit 1000/s: with the store down, only the local one holds.
    let f = fleet(
        2,
        Duration::from_millis(1),
        settings(),
        store_settings(Some(1)),
    );
    f.store.set_down(true);
    let users: Vec<_> = (0..20).map(|i| spec(&format!("u{i}"))).collect();
    let started = tokio::time::Instant::now();
    let all = join_all(
        users
            .iter()
            .enumerate()
            .map(|(i, s)| f.replicas[i % 2].session(s)),
    )
    .await;
    assert!(all.iter().all(Result::is_ok));
    assert_eq!(f.sts.calls(), 20);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

impl Fleet {
    fn lease_name(&self, s: &crate::mapping::SessionSpec) -> String {
        format!("{}:lease", self.names(s)[0])
    }

    fn names(&self, s: &crate::mapping::SessionSpec) -> Vec<String> {
        Sealer::new(vec![SealKey::new(&[7u8; 32])], "t:".into()).names(s)
    }

    /// The access key of the entry the store holds for `s`, if it opens.
    async fn fleet_lookup(&self, s: &crate::mapping::SessionSpec) -> Option<String> {
        let sealer = Sealer::new(vec![SealKey::new(&[7u8; 32])], "t:".into());
        let name = &sealer.names(s)[0];
        let sealed = Backend::get(&*self.store, name).await.ok()??;
        sealer
            .open(name, &sealed)
            .ok()
            .map(|c| c.access_key_id().to_owned())
    }
}
