//! The shared session tier (`[session_store]`): sessions one replica obtained, sealed in Redis or
//! Valkey for the whole fleet, a short lease so one replica per session key calls STS, and a
//! fleet-wide AssumeRole rate. The broker asks it only on a local miss or refresh.
//!
//! The store is never a single point of failure: every call has a short timeout, and after a
//! failure the store is skipped for `retry_interval` (the broker serves from its local cache and
//! calls STS itself, as without a store). The Redis client reconnects on its own.
//!
//! [`Backend`] is the engine's few primitives ([`RedisBackend`]; [`MemoryBackend`] for tests and
//! simulations); this file adds sealing, timeouts, health and metrics.

mod memory;
mod redis;
mod seal;

pub use self::redis::{RedisBackend, RedisTarget};
pub use memory::MemoryBackend;
pub use seal::{KEY_BYTES, SealKey, Sealer};

use super::SessionCredentials;
use super::sts::BoxFuture;
pub use crate::config::settings::StoreSettings;
use crate::mapping::SessionSpec;
use crate::metrics::{LeaseOutcome, Metrics, StoreLookup, StoreOp};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};

/// A failed store call. Carries the engine's error kind, never a value.
#[derive(Debug, Clone)]
pub struct BackendError(pub String);

/// What stsgate needs from the engine. Every name is stsgate's own (prefixed, hashed).
pub trait Backend: Send + Sync + 'static {
    /// `GET name`.
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, BackendError>>;
    /// `SET name value PX ttl`.
    fn put<'a>(
        &'a self,
        name: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BackendError>>;
    /// `SET name token NX PX ttl`: whether this caller now holds the lease.
    fn lease<'a>(
        &'a self,
        name: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>>;
    /// Extends the lease to `ttl` if `token` still holds it.
    fn renew<'a>(
        &'a self,
        name: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>>;
    /// Deletes the lease if `token` still holds it.
    fn release<'a>(
        &'a self,
        name: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>>;
    /// Takes one permit of a fleet-wide rate of `per_second` (one second of burst): zero when
    /// granted, else how long to wait before asking again.
    fn rate<'a>(
        &'a self,
        name: &'a str,
        per_second: u32,
    ) -> BoxFuture<'a, Result<Duration, BackendError>>;
}

/// What a lookup found.
pub enum Lookup {
    Hit(SessionCredentials),
    Miss,
    /// The store could not be asked; the caller proceeds without it.
    Unavailable,
}

/// The outcome of asking for the right to call STS for a session key.
pub enum Lease {
    Won(Held),
    /// Another replica holds it: wait for its result.
    Taken,
    Unavailable,
}

/// A lease this replica holds, kept alive until released.
pub struct Held {
    name: String,
    token: String,
    keepalive: JoinHandle<()>,
}

pub struct SharedStore {
    backend: Arc<dyn Backend>,
    sealer: Sealer,
    settings: StoreSettings,
    metrics: Arc<Metrics>,
    /// Until when the store is skipped after a failure.
    down_until: Mutex<Option<Instant>>,
}

impl SharedStore {
    pub fn new(
        backend: Arc<dyn Backend>,
        sealer: Sealer,
        settings: StoreSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        SharedStore {
            backend,
            sealer,
            settings,
            metrics,
            down_until: Mutex::new(None),
        }
    }

    /// The store `settings` describe, on Redis or Valkey (connected on first use).
    pub fn redis(settings: &StoreSettings, metrics: Arc<Metrics>) -> Self {
        let backend =
            RedisBackend::new(&settings.target).expect("validation checked the URL and CA");
        Self::new(
            Arc::new(backend),
            Sealer::from_settings(settings),
            settings.clone(),
            metrics,
        )
    }

    /// The session's entry names, the current key's first.
    pub fn names(&self, spec: &SessionSpec) -> Vec<String> {
        self.sealer.names(spec)
    }

    /// The fleet-wide AssumeRole rate, if configured.
    pub fn fleet_rate(&self) -> Option<u32> {
        self.settings.fleet_max_calls_per_second
    }

    /// The first entry under `names` that opens. A refused entry (tampered, foreign) counts as
    /// a miss: the session is fetched again and the entry replaced.
    pub async fn lookup(&self, names: &[String]) -> Lookup {
        for name in names {
            let Ok(found) = self.call(StoreOp::Get, self.backend.get(name)).await else {
                self.metrics.store_lookups.inc(StoreLookup::Unavailable);
                return Lookup::Unavailable;
            };
            let Some(sealed) = found else { continue };
            match self.sealer.open(name, &sealed) {
                Ok(c) => {
                    self.metrics.store_lookups.inc(StoreLookup::Hit);
                    return Lookup::Hit(c);
                }
                Err(why) => {
                    self.metrics.store_lookups.inc(StoreLookup::Refused);
                    tracing::warn!(reason = ?why, "refused a shared-store entry; it will be replaced");
                }
            }
        }
        self.metrics.store_lookups.inc(StoreLookup::Miss);
        Lookup::Miss
    }

    /// Asks for the lease of entry `name`.
    pub async fn lease(&self, name: &str) -> Lease {
        let lease_name = Sealer::lease_name(name);
        let token = lease_token();
        let ttl = self.settings.lease_ttl;
        match self
            .call(StoreOp::Lease, self.backend.lease(&lease_name, &token, ttl))
            .await
        {
            Ok(true) => {
                let keepalive = self.keep_alive(lease_name.clone(), token.clone());
                Lease::Won(Held {
                    name: lease_name,
                    token,
                    keepalive,
                })
            }
            Ok(false) => Lease::Taken,
            Err(_) => Lease::Unavailable,
        }
    }

    /// Renews the lease every third of its lifetime while its holder calls STS, so a slow STS
    /// does not let a second replica in, while a holder that dies frees it within `lease_ttl`.
    fn keep_alive(&self, name: String, token: String) -> JoinHandle<()> {
        let backend = self.backend.clone();
        let (ttl, limit) = (self.settings.lease_ttl, self.settings.timeout);
        tokio::spawn(async move {
            loop {
                sleep(ttl / 3).await;
                match timeout(limit, backend.renew(&name, &token, ttl)).await {
                    Ok(Ok(true)) => {}
                    _ => return,
                }
            }
        })
    }

    /// Gives the lease back (the waiting replicas find the session, or take the lease).
    pub async fn release(&self, held: Held) {
        held.keepalive.abort();
        let _ = self
            .call(
                StoreOp::Release,
                self.backend.release(&held.name, &held.token),
            )
            .await;
    }

    /// Shares `c` under `name` for `ttl`: until no replica may use it any more.
    pub async fn publish(&self, name: &str, c: &SessionCredentials, ttl: Duration) {
        if ttl < Duration::from_secs(1) {
            return;
        }
        let sealed = self.sealer.seal(name, c);
        let _ = self
            .call(StoreOp::Put, self.backend.put(name, sealed, ttl))
            .await;
    }

    /// Waits for a permit of the fleet-wide AssumeRole rate. If the store cannot be asked, the
    /// local `sts.max_calls_per_second` alone applies.
    pub async fn fleet_permit(&self, per_second: u32) {
        let name = self.sealer.rate_name();
        let started = Instant::now();
        let mut waited = false;
        while let Ok(wait) = self
            .call(StoreOp::Rate, self.backend.rate(&name, per_second))
            .await
        {
            if wait.is_zero() {
                break;
            }
            waited = true;
            sleep(wait.min(Duration::from_secs(1))).await;
        }
        if waited {
            self.metrics
                .fleet_rate_wait
                .observe(started.elapsed().as_secs_f64());
        }
    }

    /// Runs one store call within the timeout, unless the store is resting after a failure.
    async fn call<T>(
        &self,
        op: StoreOp,
        f: BoxFuture<'_, Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        if self.resting() {
            return Err(BackendError("skipped while the store rests".into()));
        }
        let started = Instant::now();
        let result = match timeout(self.settings.timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(BackendError("timeout".into())),
        };
        self.metrics
            .store_duration
            .with_label_values(&[crate::metrics::Label::label(op)])
            .observe(started.elapsed().as_secs_f64());
        match &result {
            Ok(_) => self.recovered(),
            Err(e) => self.failed(op, e),
        }
        result
    }

    fn resting(&self) -> bool {
        let mut down = self.down_until.lock().expect("store health lock");
        match *down {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                // Rested: the next call tries the store again.
                *down = None;
                false
            }
            None => false,
        }
    }

    fn failed(&self, op: StoreOp, e: &BackendError) {
        self.metrics.store_errors.inc(op);
        let mut down = self.down_until.lock().expect("store health lock");
        if self.metrics.store_up.get() == 1 {
            tracing::warn!(op = crate::metrics::Label::label(op), error = %e.0, rest_ms = self.settings.retry_interval.as_millis() as u64,
                "shared session store unavailable; serving from the local cache and STS");
        }
        self.metrics.store_up.set(0);
        *down = Some(Instant::now() + self.settings.retry_interval);
    }

    fn recovered(&self) {
        if self.metrics.store_up.get() == 0 {
            tracing::info!("shared session store reachable again");
            self.metrics.store_up.set(1);
        }
    }

    /// Counts one lease outcome.
    pub fn count_lease(&self, outcome: LeaseOutcome) {
        self.metrics.store_leases.inc(outcome);
    }
}

/// A random lease token: who holds a lease, so only its holder renews or releases it.
fn lease_token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}
