//! The session broker under 10,000 simulated users: a cold start (every user's first request at
//! once) and a steady phase (every user again, all cache hits), against an in-process STS with a
//! fixed latency. Prints STS calls, p50/p99 wait of each user's first request, the hit path
//! against a plain moka lookup in the same process, and RSS per cached session for 100,000.
//!
//! `cargo bench --bench broker`; knobs: USERS, STS_LATENCY_MS, CONCURRENCY, RATE.

mod common;

use common::{env_or, full_run, ms, quantile, rss_bytes};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};
use stsgate::broker::{
    BoxFuture, BrokerSettings, SessionBroker, SessionCredentials, StsClient, StsError,
};
use stsgate::clock::SystemClock;
use stsgate::mapping::SessionSpec;
use stsgate::metrics::Metrics;

struct LatencySts {
    latency: Duration,
    calls: AtomicUsize,
}

impl StsClient for LatencySts {
    fn assume_role<'a>(
        &'a self,
        spec: &'a SessionSpec,
    ) -> BoxFuture<'a, Result<SessionCredentials, StsError>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::Relaxed);
            if !self.latency.is_zero() {
                tokio::time::sleep(self.latency).await;
            }
            Ok(SessionCredentials::new(
                format!("ASIA{n:016}"),
                "s".repeat(40),
                format!("{}{}", "t".repeat(600), spec.session_name),
                SystemTime::now() + Duration::from_secs(3600),
            ))
        })
    }
}

fn spec(i: usize) -> SessionSpec {
    SessionSpec {
        role_arn: "arn:aws:iam::111122223333:role/ChimeMessagingSampleAppUserRole".into(),
        session_name: format!("user-{i:08}"),
        tags: vec![("my_applications_user_id".into(), format!("user-{i:08}"))],
        duration_seconds: 3600,
        policy: None,
        user_arn: format!("arn:aws:chime:us-east-1:111122223333:app-instance/ai/user/user-{i:08}")
            .into(),
        ..Default::default()
    }
}

fn broker(sts: Arc<LatencySts>, concurrency: usize, rate: u32, max_sessions: u64) -> SessionBroker {
    let settings = BrokerSettings {
        expiry_margin: Duration::from_secs(300),
        refresh_ahead: Duration::from_secs(300),
        deadline: Duration::from_secs(600),
        negative_ttl: Duration::from_secs(30),
        max_sessions,
        max_concurrent_calls: concurrency,
        max_calls_per_second: rate,
    };
    SessionBroker::new(
        sts,
        Arc::new(Metrics::new()),
        Arc::new(SystemClock),
        settings,
    )
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let full = full_run();
    let users = env_or("USERS", if full { 10_000 } else { 200 });
    let latency = Duration::from_millis(env_or("STS_LATENCY_MS", 20) as u64);
    let concurrency = env_or("CONCURRENCY", 16);
    let rate = env_or("RATE", 2_000) as u32;
    println!(
        "broker benchmark: {users} users, STS latency {latency:?}, {concurrency} concurrent calls, {rate}/s"
    );

    // Cold start: every user's first request at once.
    let sts = Arc::new(LatencySts {
        latency,
        calls: AtomicUsize::new(0),
    });
    let b = broker(sts.clone(), concurrency, rate, 100_000);
    let specs: Vec<SessionSpec> = (0..users).map(spec).collect();
    let started = Instant::now();
    let tasks: Vec<_> = specs
        .iter()
        .cloned()
        .map(|s| {
            let b = b.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                b.session(&s).await.expect("fake STS never fails");
                t.elapsed()
            })
        })
        .collect();
    let mut waits = Vec::with_capacity(users);
    for t in tasks {
        waits.push(t.await.unwrap());
    }
    let cold = started.elapsed();
    let cold_calls = sts.calls.load(Ordering::Relaxed);
    println!(
        "cold start:  {cold_calls} STS calls for {users} users in {:.2} s ({:.0} calls/s); first-request wait p50 {} p99 {} max {}",
        cold.as_secs_f64(),
        cold_calls as f64 / cold.as_secs_f64(),
        ms(quantile(&mut waits, 0.50)),
        ms(quantile(&mut waits, 0.99)),
        ms(quantile(&mut waits, 1.0)),
    );

    // Steady phase: everyone again, sequentially per task; compare with a bare moka lookup.
    let rounds = if full { 20 } else { 2 };
    let mut hits = Vec::with_capacity(users * rounds);
    for _ in 0..rounds {
        for s in &specs {
            let t = Instant::now();
            std::hint::black_box(b.session(s).await.unwrap());
            hits.push(t.elapsed());
        }
    }
    let baseline: moka::future::Cache<SessionSpec, Arc<str>> = moka::future::Cache::new(100_000);
    for s in &specs {
        baseline.insert(s.clone(), Arc::from("x")).await;
    }
    let mut base = Vec::with_capacity(users * rounds);
    for _ in 0..rounds {
        for s in &specs {
            let t = Instant::now();
            std::hint::black_box(baseline.get(s).await);
            base.push(t.elapsed());
        }
    }
    let (hit50, base50) = (quantile(&mut hits, 0.5), quantile(&mut base, 0.5));
    println!(
        "steady:      {} more STS calls over {} requests; hit p50 {} p99 {}; bare moka get p50 {} (ratio {:.2}x)",
        sts.calls.load(Ordering::Relaxed) - cold_calls,
        users * rounds,
        ms(hit50),
        ms(quantile(&mut hits, 0.99)),
        ms(base50),
        hit50.as_secs_f64() / base50.as_secs_f64().max(1e-9),
    );

    // Memory: RSS growth for many sessions (realistic 600-byte session tokens).
    let n = if full { 100_000 } else { 2_000 };
    let sts = Arc::new(LatencySts {
        latency: Duration::ZERO,
        calls: AtomicUsize::new(0),
    });
    let b = broker(sts, 1024, u32::MAX, n as u64);
    let specs: Vec<SessionSpec> = (users..users + n).map(spec).collect();
    let before = rss_bytes();
    for s in &specs {
        b.session(s).await.unwrap();
    }
    b.sync().await;
    let after = rss_bytes();
    println!(
        "memory:      {} sessions cached, RSS +{:.1} MiB, {:.0} bytes per session",
        b.sessions(),
        (after - before) as f64 / (1 << 20) as f64,
        (after - before) as f64 / n as f64
    );
}
