//! The shared session tier against a real `redis-server`: stsgate replicas as separate
//! processes, one STS stand-in counting AssumeRole calls, users reaching random replicas.

use crate::support::redis::{Cluster, Redis};
use crate::support::replica::{Replica, get};
use crate::support::sigv4::IndependentCheck;
use base64::Engine;
use futures_util::StreamExt;
use futures_util::future::join_all;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stsgate_standins::{AUDIENCE, StandIns};

/// A fresh 32-byte key, base64, as `openssl rand -base64 32` makes one.
fn new_key() -> String {
    let bytes: Vec<u8> = (0..32).map(|_| fastrand::u8(..)).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn key_file(key: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, key.as_bytes()).unwrap();
    f
}

/// The stand-ins' config with `[session_store]` (`store` lines) appended.
fn config(standins: &StandIns, store: &str) -> String {
    let any = crate::support::any_port();
    format!(
        "{}\n[session_store]\n{store}\n",
        standins.config_toml(any, any)
    )
}

/// The store's keys. Timeouts well above the default: the suite shares 2 cores with many
/// processes, and a store call that times out is (correctly) skipped, which would blur what
/// these tests count.
fn store_lines(url: &str, key: &tempfile::NamedTempFile) -> String {
    format!(
        "url = \"{url}\"\nkey_file = \"{}\"\ntimeout_ms = 2000\nlease_ms = 6000",
        key.path().display()
    )
}

async fn standins() -> StandIns {
    StandIns::start(Arc::new(IndependentCheck)).await.unwrap()
}

async fn replicas(
    n: usize,
    standins: &StandIns,
    config: &str,
    env: &[(&str, &str)],
) -> Vec<Replica> {
    join_all((0..n).map(|_| Replica::start(standins, config, env))).await
}

/// `ListChannelMessages` as `sub` through `replica`: the status.
async fn list(standins: &StandIns, replica: &Replica, sub: &str) -> u16 {
    let token = standins.idp.token_for(sub, AUDIENCE);
    let url = format!("{}{}", replica.proxy, crate::support::messages_path());
    get(&url, Some(&token)).await.0
}

/// Each user calls every replica once, in a random order, 64 requests at a time: all 200.
async fn every_user_on_every_replica(standins: &StandIns, fleet: &[Replica], users: &[String]) {
    let mut calls = Vec::new();
    for u in users {
        let mut order: Vec<usize> = (0..fleet.len()).collect();
        fastrand::shuffle(&mut order);
        calls.extend(order.into_iter().map(move |r| (u.clone(), r)));
    }
    fastrand::shuffle(&mut calls);
    let statuses: Vec<u16> = futures_util::stream::iter(calls)
        .map(|(u, r)| async move { list(standins, &fleet[r], &u).await })
        .buffer_unordered(64)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

fn assume_role_calls(standins: &StandIns) -> usize {
    standins.sts.calls().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_replicas_make_one_assume_role_per_user_instead_of_one_per_replica() {
    let standins = standins().await;
    let redis = Redis::start();
    let key = key_file(&new_key());
    let users: Vec<String> = (0..200).map(|i| format!("user{i}")).collect();

    let alone = replicas(
        4,
        &standins,
        &standins.config_toml(crate::support::any_port(), crate::support::any_port()),
        &[],
    )
    .await;
    every_user_on_every_replica(&standins, &alone, &users).await;
    let without_store = assume_role_calls(&standins);
    assert_eq!(without_store, 800, "each replica assumed each user's role");
    drop(alone);

    let fleet = replicas(
        4,
        &standins,
        &config(&standins, &store_lines(&redis.url(), &key)),
        &[],
    )
    .await;
    every_user_on_every_replica(&standins, &fleet, &users).await;
    let with_store = assume_role_calls(&standins) - without_store;
    assert_eq!(
        with_store, 200,
        "one AssumeRole per user for the whole fleet"
    );

    // 100 concurrent first requests of one user, over the four replicas: one call.
    let before = assume_role_calls(&standins);
    let all = join_all((0..100).map(|i| list(&standins, &fleet[i % 4], "newcomer"))).await;
    assert!(all.iter().all(|s| *s == 200), "{all:?}");
    assert_eq!(assume_role_calls(&standins) - before, 1);
    let mut waited = 0.0;
    for r in &fleet {
        waited += r
            .metric("stsgate_session_store_leases_total{outcome=\"waited\"}")
            .await;
    }
    assert!(
        waited >= 1.0,
        "the other replicas waited for the lease holder"
    );

    assert_store_reveals_nothing(&standins, &redis, &users);
    for r in &fleet {
        assert_logs_reveal_nothing(&standins, r, &key);
    }
}

/// Names and values in the store: no user id, session name, role, access key or credential.
fn assert_store_reveals_nothing(standins: &StandIns, redis: &Redis, users: &[String]) {
    let keys = redis.keys();
    assert!(keys.len() >= users.len(), "{} keys", keys.len());
    let used_keys: Vec<String> = standins
        .chime
        .received()
        .iter()
        .map(crate::support::access_key_of)
        .collect();
    assert!(!used_keys.is_empty());
    for name in &keys {
        assert!(name.starts_with("stsgate:"), "{name}");
        let value = redis.cli_bytes(&["GET", name]);
        let value = String::from_utf8_lossy(&value);
        for user in users.iter().take(20) {
            assert!(
                !name.contains(user.as_str()) && !value.contains(user.as_str()),
                "{user} in {name}"
            );
        }
        for clear in ["arn:aws", "chime", "ASIA", "Expiration"] {
            assert!(
                !name.contains(clear) && !value.contains(clear),
                "{clear} in {name}"
            );
        }
        for k in used_keys.iter().take(20) {
            assert!(!value.contains(k.as_str()), "an access key in {name}");
        }
    }
}

fn assert_logs_reveal_nothing(standins: &StandIns, r: &Replica, key: &tempfile::NamedTempFile) {
    let logs = r.logs();
    let key_text = std::fs::read_to_string(key.path()).unwrap();
    assert!(!logs.contains(key_text.trim()), "the store key in the logs");
    assert!(!logs.contains(standins.base_credentials.secret_access_key()));
    assert!(!logs.contains("eyJ"), "a token in the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_killed_mid_traffic_fails_no_request_and_is_used_again_once_back() {
    let standins = standins().await;
    let mut redis = Redis::start();
    let key = key_file(&new_key());
    let fleet = replicas(
        2,
        &standins,
        &config(&standins, &store_lines(&redis.url(), &key)),
        &[],
    )
    .await;

    let traffic = |from: usize, n: usize| {
        let (standins, fleet) = (&standins, &fleet);
        async move {
            let mut statuses = Vec::new();
            for i in from..from + n {
                // New users and returning ones, on both replicas.
                for sub in [format!("k{i}"), format!("k{}", i / 3)] {
                    statuses.push(list(standins, &fleet[i % 2], &sub).await);
                }
            }
            statuses
        }
    };
    let mut statuses = traffic(0, 20).await;
    // Killed while two streams of requests are in flight.
    let kill = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        redis.kill();
    };
    let (a, b, ()) = tokio::join!(traffic(20, 40), traffic(100, 40), kill);
    statuses.extend(a.into_iter().chain(b));
    statuses.extend(traffic(200, 10).await);
    let mut fallbacks = 0.0;
    for r in &fleet {
        fallbacks += r.metric("stsgate_session_store_fallbacks_total").await;
        assert_eq!(r.metric("stsgate_session_store_up").await, 0.0);
    }
    assert!(
        fallbacks >= 1.0,
        "sessions came from STS directly while the store was gone"
    );

    redis.restart();
    // Each replica's client reconnects by itself (on its own back-off): users none of them has
    // seen (so every request asks the store) until both use the store again.
    let back = Instant::now();
    let mut next = 1000;
    loop {
        statuses.extend(traffic(next, 2).await);
        next += 2;
        let mut up = 0.0;
        for r in &fleet {
            up += r.metric("stsgate_session_store_up").await;
        }
        if up == 2.0 && !redis.keys().is_empty() {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(20),
            "the store was not used again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_stops_answering_costs_a_timeout_not_a_failure() {
    let standins = standins().await;
    let redis = Redis::start();
    let key = key_file(&new_key());
    // The default timeout, 100 ms.
    let store = format!(
        "url = \"{}\"\nkey_file = \"{}\"",
        redis.url(),
        key.path().display()
    );
    let fleet = replicas(1, &standins, &config(&standins, &store), &[]).await;
    assert_eq!(list(&standins, &fleet[0], "before").await, 200);
    redis.freeze(true);
    let started = Instant::now();
    for i in 0..5 {
        assert_eq!(list(&standins, &fleet[0], &format!("frozen{i}")).await, 200);
    }
    let took = started.elapsed();
    redis.freeze(false);
    // The first calls wait out timeout_ms (100 ms) each; after three in a row the store rests,
    // and the rest go
    // straight to STS. Far below the 10 s STS deadline; not a timing assertion, a bound on
    // what a frozen store may cost.
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        fleet[0]
            .metric("stsgate_session_store_errors_total{op=\"get\"}")
            .await
            >= 1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_entry_is_refused_fetched_again_and_replaced() {
    let standins = standins().await;
    let redis = Redis::start();
    let key = key_file(&new_key());
    let config = config(&standins, &store_lines(&redis.url(), &key));
    let fleet = replicas(2, &standins, &config, &[]).await;
    assert_eq!(list(&standins, &fleet[0], "alice").await, 200);
    assert_eq!(assume_role_calls(&standins), 1);
    let entries: Vec<String> = redis
        .keys()
        .into_iter()
        .filter(|k| !k.ends_with(":lease"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    let before = redis.cli_bytes(&["GET", entry]);
    // One byte of the ciphertext changed, whatever it was.
    let flipped = if before[40] == b'A' { "B" } else { "A" };
    redis.cli(&["SETRANGE", entry, "40", flipped]);

    assert_eq!(list(&standins, &fleet[1], "alice").await, 200);
    assert_eq!(assume_role_calls(&standins), 2, "refused, so fetched again");
    assert!(
        fleet[1]
            .metric("stsgate_session_store_lookups_total{result=\"refused\"}")
            .await
            >= 1.0
    );
    let mut flipped_bytes = before.clone();
    flipped_bytes[40] = flipped.as_bytes()[0];
    let after = redis.cli_bytes(&["GET", entry]);
    assert_ne!(after, flipped_bytes, "the tampered entry was replaced");
    assert_ne!(after, before);
    // The replacement serves a replica that never saw alice.
    let late = Replica::start(&standins, &config, &[]).await;
    assert_eq!(list(&standins, &late, "alice").await, 200);
    assert_eq!(assume_role_calls(&standins), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_still_reads_the_old_keys_entries() {
    let standins = standins().await;
    let redis = Redis::start();
    let (old, new) = (new_key(), new_key());
    let store = format!("url = \"{}\"", redis.url());
    // The old replica takes its key from the environment.
    let before = Replica::start(
        &standins,
        &config(&standins, &store),
        &[("STSGATE_SESSION_STORE_KEY", &old)],
    )
    .await;
    assert_eq!(list(&standins, &before, "alice").await, 200);
    // The rotated one writes with the new key and still reads the old one's entries.
    let new_file = key_file(&new);
    let rotated = Replica::start(
        &standins,
        &config(&standins, &store_lines(&redis.url(), &new_file)),
        &[("STSGATE_SESSION_STORE_PREVIOUS_KEYS", &old)],
    )
    .await;
    assert_eq!(list(&standins, &rotated, "alice").await, 200);
    assert_eq!(
        assume_role_calls(&standins),
        1,
        "read under the old key's name"
    );
    // Once the old key is dropped, its entries are foreign: fetched again.
    let only_new = Replica::start(
        &standins,
        &config(&standins, &store_lines(&redis.url(), &new_file)),
        &[],
    )
    .await;
    assert_eq!(list(&standins, &only_new, "alice").await, 200);
    assert_eq!(assume_role_calls(&standins), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca() {
    let standins = standins().await;
    let redis = Redis::start_tls();
    let key = key_file(&new_key());
    let ca = redis.tls().unwrap().ca_file.display().to_string();
    let store = format!("{}\nca_file = \"{ca}\"", store_lines(&redis.url(), &key));
    assert!(redis.url().starts_with("rediss://"));
    let fleet = replicas(2, &standins, &config(&standins, &store), &[]).await;
    for r in &fleet {
        assert_eq!(list(&standins, r, "alice").await, 200);
    }
    assert_eq!(assume_role_calls(&standins), 1);
    assert!(!redis.keys().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_shares_sessions_across_its_nodes() {
    let standins = standins().await;
    let cluster = Cluster::start();
    let key = key_file(&new_key());
    let store = format!(
        "{}\ncluster = true",
        store_lines(&cluster.nodes[0].url(), &key)
    );
    let fleet = replicas(2, &standins, &config(&standins, &store), &[]).await;
    let users: Vec<String> = (0..30).map(|i| format!("c{i}")).collect();
    every_user_on_every_replica(&standins, &fleet, &users).await;
    assert_eq!(assume_role_calls(&standins), 30);
    let holding = cluster
        .nodes
        .iter()
        .filter(|n| !n.keys().is_empty())
        .count();
    assert!(
        holding >= 2,
        "entries spread over the cluster's slots ({holding} nodes)"
    );
    assert!(cluster.keys().len() >= 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_wide_sts_rate_holds_across_replicas() {
    let standins = standins().await;
    let redis = Redis::start();
    let key = key_file(&new_key());
    let env = [("STSGATE_STS_FLEET_MAX_CALLS_PER_SECOND", "10")];
    let fleet = replicas(
        2,
        &standins,
        &config(&standins, &store_lines(&redis.url(), &key)),
        &env,
    )
    .await;
    let started = Instant::now();
    let users: Vec<String> = (0..30).map(|i| format!("r{i}")).collect();
    let all = join_all(
        users
            .iter()
            .enumerate()
            .map(|(i, u)| list(&standins, &fleet[i % 2], u)),
    )
    .await;
    let took = started.elapsed();
    assert!(all.iter().all(|s| *s == 200), "{all:?}");
    assert_eq!(assume_role_calls(&standins), 30);
    // 10 at once (one second of burst), then 10 a second: the last 20 need 2 s. A lower bound,
    // which only the limiter can explain (the stand-ins answer in milliseconds).
    assert!(took >= Duration::from_millis(1800), "{took:?}");
    let mut waits = 0.0;
    for r in &fleet {
        waits += r.metric("stsgate_sts_fleet_rate_wait_seconds_count").await;
    }
    assert!(waits >= 15.0, "{waits} calls waited for the fleet's rate");
}
