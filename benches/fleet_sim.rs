//! The fleet at internet scale, simulated: 100,000 users over 50 replicas for 4 hours, with a
//! deploy (every replica restarted, local caches empty) after 2½ hours. Every request goes to a
//! random replica, as behind a load balancer without affinity. The replicas are stsgate's own
//! session brokers (production code: cache, lease, refresh-ahead, STS shaping), sharing one
//! in-memory store with Redis's semantics and a counting STS, on paused tokio time, so four
//! simulated hours take seconds and every run with the same seed gives the same numbers.
//!
//! Arrival: each user opens the app as a Poisson process (one visit per 2 hours on average);
//! a visit makes 1 + Geometric(mean 4) requests, Exp(20 s) apart. At the deploy, every user
//! active in the half hour before reconnects within 10 s.
//!
//! Each replica keeps to 50 AssumeRole calls a second (the default); the single process of the
//! ideal run gets the whole fleet's 50 × replicas.
//!
//! Reported, with and without the store: AssumeRole calls (and per user-lifetime: against a
//! single process serving everyone, which needs exactly one session per user-lifetime), store
//! operations per request, the fleet's peak STS rate in any one second, and the worst request
//! wait. `cargo bench --bench fleet_sim`; knobs USERS, REPLICAS, HOURS, SEED.

mod common;

use common::{env_or, full_run};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use stsgate::broker::store::{
    MemoryBackend, RedisTarget, SealKey, Sealer, SharedStore, StoreSettings,
};
use stsgate::broker::{
    BoxFuture, BrokerSettings, SessionBroker, SessionCredentials, StsClient, StsError,
};
use stsgate::clock::Clock;
use stsgate::config::settings::StoreKeys;
use stsgate::mapping::SessionSpec;
use stsgate::metrics::Metrics;
use tokio::time::Instant;

/// Wall-clock time that follows tokio's (paused) clock.
struct SimClock {
    start: Instant,
    epoch: SystemTime,
}

impl Clock for SimClock {
    fn now(&self) -> SystemTime {
        self.epoch + self.start.elapsed()
    }
}

/// STS answering in 30 ms, recording when each call arrived (simulated seconds).
struct CountingSts {
    clock: Arc<SimClock>,
    calls: Mutex<Vec<u64>>,
}

impl StsClient for CountingSts {
    fn assume_role<'a>(
        &'a self,
        spec: &'a SessionSpec,
    ) -> BoxFuture<'a, Result<SessionCredentials, StsError>> {
        Box::pin(async move {
            let second = self.clock.start.elapsed().as_secs();
            self.calls.lock().unwrap().push(second);
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok(SessionCredentials::new(
                "ASIASIM".into(),
                "secret".into(),
                spec.session_name.clone(),
                self.clock.now() + Duration::from_secs(3600),
            ))
        })
    }
}

/// Every request: when (ms from the start), who, and a draw for the replica; and when the
/// deploy happens. At the deploy, every user active in the 30 minutes before reconnects within
/// 10 s (their WebSockets were closed with 1001), as a rollout of every replica at once does.
fn schedule(users: usize, hours: u64, seed: u64) -> (Vec<(u64, u32, u32)>, u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let end = hours * 3_600_000;
    let deploy_at = end * 5 / 8;
    let exp = |rng: &mut fastrand::Rng, mean_ms: f64| (-(1.0 - rng.f64()).ln() * mean_ms) as u64;
    let mut events = Vec::new();
    for user in 0..users as u32 {
        let mut t = exp(&mut rng, 7_200_000.0);
        let mut active_before_deploy = false;
        while t < end {
            let mut at = t;
            loop {
                events.push((at, user, rng.u32(..)));
                active_before_deploy |= (deploy_at - 1_800_000..deploy_at).contains(&at);
                if rng.f64() < 0.2 {
                    break;
                }
                at += exp(&mut rng, 20_000.0);
            }
            t += exp(&mut rng, 7_200_000.0);
        }
        if active_before_deploy {
            events.push((deploy_at + rng.u64(..10_000), user, rng.u32(..)));
        }
    }
    events.sort_unstable();
    (events, deploy_at)
}

fn spec(user: u32) -> SessionSpec {
    SessionSpec {
        role_arn: "arn:aws:iam::111122223333:role/ChimeMessagingSampleAppUserRole".into(),
        session_name: format!("u{user}"),
        tags: vec![("my_applications_user_id".into(), format!("u{user}"))],
        duration_seconds: 3600,
        user_arn: format!("arn:aws:chime:us-east-1:111122223333:app-instance/ai/user/u{user}")
            .into(),
        ..Default::default()
    }
}

/// `per_second`: each replica's own `sts.max_calls_per_second`.
fn broker_settings(per_second: u32) -> BrokerSettings {
    BrokerSettings {
        expiry_margin: Duration::from_secs(300),
        refresh_ahead: Duration::from_secs(300),
        deadline: Duration::from_secs(10),
        negative_ttl: Duration::from_secs(30),
        max_sessions: 1_000_000,
        max_concurrent_calls: 16,
        max_calls_per_second: per_second,
    }
}

fn store_settings(fleet_rate: Option<u32>) -> StoreSettings {
    StoreSettings {
        target: RedisTarget {
            url: "redis://unused".into(),
            cluster: false,
            ca_pem: None,
            timeout: Duration::from_millis(100),
        },
        keys: StoreKeys(vec![[1u8; 32]].into()),
        prefix: "sim:".into(),
        timeout: Duration::from_millis(100),
        retry_interval: Duration::from_secs(1),
        lease_ttl: Duration::from_millis(1500),
        fleet_max_calls_per_second: fleet_rate,
    }
}

struct Outcome {
    requests: u64,
    calls: usize,
    peak_per_second: usize,
    store_ops: u64,
    worst_wait: Duration,
    failed: u64,
}

/// One simulated run: `replicas` brokers, sharing `store` when given.
async fn run(
    events: &[(u64, u32, u32)],
    replicas: usize,
    store: Option<StoreSettings>,
    deploy_at: Option<u64>,
    replicas_total: usize,
) -> Outcome {
    let clock = Arc::new(SimClock {
        start: Instant::now(),
        epoch: SystemTime::now(),
    });
    let sts = Arc::new(CountingSts {
        clock: clock.clone(),
        calls: Mutex::new(Vec::new()),
    });
    let backend = Arc::new(MemoryBackend::default());
    let fleet = || -> Vec<SessionBroker> {
        (0..replicas)
            .map(|_| {
                let metrics = Arc::new(Metrics::new());
                let shared = store.as_ref().map(|s| {
                    let sealer = Sealer::new(vec![SealKey::new(&[1u8; 32])], s.prefix.clone());
                    SharedStore::new(backend.clone(), sealer, s.clone(), metrics.clone())
                });
                SessionBroker::with_store(
                    sts.clone(),
                    metrics,
                    clock.clone(),
                    broker_settings(50 * (replicas_total / replicas) as u32),
                    shared,
                )
            })
            .collect()
    };
    let mut brokers = Arc::new(fleet());
    let mut deployed = deploy_at.is_none();
    let deploy_at = deploy_at.unwrap_or(u64::MAX);
    let worst = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for &(at, user, draw) in events {
        tokio::time::sleep_until(clock.start + Duration::from_millis(at)).await;
        if !deployed && at >= deploy_at {
            brokers = Arc::new(fleet());
            deployed = true;
        }
        let (brokers, worst, failed) = (brokers.clone(), worst.clone(), failed.clone());
        tasks.spawn(async move {
            let started = Instant::now();
            let b = &brokers[draw as usize % brokers.len()];
            if b.session(&spec(user)).await.is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            worst.fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let calls = sts.calls.lock().unwrap();
    let mut per_second = std::collections::HashMap::<u64, usize>::new();
    for s in calls.iter() {
        *per_second.entry(*s).or_default() += 1;
    }
    Outcome {
        requests: events.len() as u64,
        calls: calls.len(),
        peak_per_second: per_second.values().copied().max().unwrap_or(0),
        store_ops: backend.calls.load(Ordering::Relaxed),
        worst_wait: Duration::from_micros(worst.load(Ordering::Relaxed)),
        failed: failed.load(Ordering::Relaxed),
    }
}

fn main() {
    let full = full_run();
    let users = env_or("USERS", if full { 100_000 } else { 2_000 });
    let replicas = env_or("REPLICAS", if full { 50 } else { 5 });
    let hours = env_or("HOURS", 4) as u64;
    let seed = env_or("SEED", 7) as u64;
    let (events, deploy_at) = schedule(users, hours, seed);
    println!(
        "{users} users, {replicas} replicas, {hours} h simulated, a deploy at {:.1} h: {} requests",
        deploy_at as f64 / 3_600_000.0,
        events.len()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let runs = [
        ("one process, never restarted (the ideal)", 1, None, None),
        ("fleet, local caches only", replicas, None, Some(deploy_at)),
        (
            "fleet, shared store",
            replicas,
            Some(store_settings(None)),
            Some(deploy_at),
        ),
        (
            "fleet, shared store, fleet limit 100/s",
            replicas,
            Some(store_settings(Some(100))),
            Some(deploy_at),
        ),
    ];
    println!(
        "| run | AssumeRole calls | per user-lifetime | store ops / request | peak STS calls/s | worst wait | failed |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut ideal = None;
    for (name, n, store, deploy) in runs {
        let wall = std::time::Instant::now();
        let o = rt.block_on(run(&events, n, store, deploy, replicas));
        let ideal_calls = *ideal.get_or_insert(o.calls) as f64;
        println!(
            "| {name} | {} | {:.2} | {:.2} | {} | {:.0} ms | {} |",
            o.calls,
            o.calls as f64 / ideal_calls,
            o.store_ops as f64 / o.requests as f64,
            o.peak_per_second,
            o.worst_wait.as_secs_f64() * 1000.0,
            o.failed,
        );
        eprintln!(
            "  ({name}: {:.1} s of real time)",
            wall.elapsed().as_secs_f64()
        );
    }
}
