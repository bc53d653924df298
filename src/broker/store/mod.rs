//! The shared session tier (`[session_store]`): sessions one replica obtained, sealed in Redis or
//! Valkey for the whole fleet, a short lease so one replica per session key calls STS, and a
//! fleet-wide AssumeRole rate. The broker asks it only on a local miss or refresh.
//!
//! The store is never a single point of failure: every call has a short timeout, and a call that
//! fails or times out makes only that step go without the store. After
//! [`FAILURES_TO_REST`] unreachable calls in a row, the store is skipped for `retry_interval`
//! (the broker serves from its local cache and calls STS itself, as without a store). An answer
//! that is an error (out of memory, no permission) is counted and logged, never a reason to rest.
//! The Redis client reconnects on its own.
//!
//! [`Backend`] is the engine's few primitives ([`RedisBackend`]; [`MemoryBackend`] for tests and
//! simulations); this file adds sealing, timeouts, health and metrics.

mod health;
mod lease;
mod memory;
mod redis;
mod seal;

pub use self::redis::{RedisBackend, RedisTarget};
pub use health::FAILURES_TO_REST;
pub use lease::Held;
pub use memory::MemoryBackend;
pub use seal::{KEY_BYTES, SealKey, Sealer};

use super::SessionCredentials;
use super::sts::BoxFuture;
pub use crate::config::settings::StoreSettings;
use crate::mapping::SessionSpec;
use crate::metrics::{Label, LeaseOutcome, Metrics, StoreLookup, StoreOp};
use health::Health;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout};

/// A failed store call. Carries the engine's error kind, never a value.
#[derive(Debug, Clone)]
pub struct BackendError {
    /// The store could not be reached (connection refused or lost, timeout); else it answered
    /// with an error.
    pub unreachable: bool,
    pub detail: String,
}

impl BackendError {
    pub fn unreachable(detail: impl Into<String>) -> Self {
        BackendError {
            unreachable: true,
            detail: detail.into(),
        }
    }
}

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
    /// Reserves the next slot of a fleet-wide rate of `per_second` (one second of burst): how
    /// long to wait for it, or `None` (nothing reserved) if that is longer than `max_wait`.
    fn rate<'a>(
        &'a self,
        name: &'a str,
        per_second: u32,
        max_wait: Duration,
    ) -> BoxFuture<'a, Result<Option<Duration>, BackendError>>;
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

/// Whether a call may be skipped while the store rests.
#[derive(Clone, Copy, PartialEq)]
enum Gate {
    /// Lookups, leases, publishing, the rate: skipped while the store rests.
    Resting,
    /// Renewing and releasing a lease this replica holds: always tried, or the lease lingers.
    Always,
}

pub struct SharedStore {
    backend: Arc<dyn Backend>,
    sealer: Sealer,
    settings: StoreSettings,
    metrics: Arc<Metrics>,
    health: Health,
}

impl SharedStore {
    pub fn new(
        backend: Arc<dyn Backend>,
        sealer: Sealer,
        settings: StoreSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        let health = Health::new(settings.retry_interval, metrics.clone());
        SharedStore {
            backend,
            sealer,
            settings,
            metrics,
            health,
        }
    }

    /// The store `settings` describe, on Redis or Valkey. The first connection is made in the
    /// background, with its own time budget, so start-up never waits for the store.
    pub fn redis(settings: &StoreSettings, metrics: Arc<Metrics>) -> Self {
        let backend =
            Arc::new(RedisBackend::new(&settings.target).expect("validation checked the URL"));
        backend.clone().connect_in_background();
        Self::new(
            backend,
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
        let mut refused = false;
        for name in names {
            let get = self.backend.get(name);
            let Ok(found) = self.call(StoreOp::Get, Gate::Resting, get).await else {
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
                    refused = true;
                    self.health.warn_now_and_then(|| {
                        tracing::warn!(reason = ?why, "refused a shared-store entry; it will be replaced");
                    });
                }
            }
        }
        let result = if refused {
            StoreLookup::Refused
        } else {
            StoreLookup::Miss
        };
        self.metrics.store_lookups.inc(result);
        Lookup::Miss
    }

    /// Asks for the lease of entry `name`, to be held at most `max_hold` (the STS deadline).
    pub async fn lease(&self, name: &str, max_hold: Duration) -> Lease {
        let lease_name = Sealer::lease_name(name);
        let token = lease::token();
        let ttl = self.settings.lease_ttl;
        let take = self.backend.lease(&lease_name, &token, ttl);
        match self.call(StoreOp::Lease, Gate::Resting, take).await {
            Ok(true) => Lease::Won(Held::new(
                self.backend.clone(),
                lease_name,
                token,
                ttl,
                self.settings.timeout,
                max_hold,
            )),
            Ok(false) => Lease::Taken,
            Err(_) => Lease::Unavailable,
        }
    }

    /// Gives the lease back (the waiting replicas find the session, or take the lease).
    pub async fn release(&self, mut held: Held) {
        let release = held.release_call();
        let _ = self.call(StoreOp::Release, Gate::Always, release).await;
    }

    /// Shares `c` under `name` for `ttl`: until no replica may use it any more.
    pub async fn publish(&self, name: &str, c: &SessionCredentials, ttl: Duration) {
        if ttl < Duration::from_secs(1) {
            return;
        }
        let sealed = self.sealer.seal(name, c);
        let put = self.backend.put(name, sealed, ttl);
        let _ = self.call(StoreOp::Put, Gate::Resting, put).await;
    }

    /// Waits for a reserved slot of the fleet-wide AssumeRole rate; false if none is free within
    /// `max_wait`. If the store cannot be asked, the local `sts.max_calls_per_second` alone
    /// applies (true).
    pub async fn fleet_permit(&self, per_second: u32, max_wait: Duration) -> bool {
        let name = self.sealer.rate_name();
        let reserve = self.backend.rate(&name, per_second, max_wait);
        match self.call(StoreOp::Rate, Gate::Resting, reserve).await {
            Ok(Some(wait)) if wait.is_zero() => true,
            Ok(Some(wait)) => {
                sleep(wait).await;
                self.metrics.fleet_rate_wait.observe(wait.as_secs_f64());
                true
            }
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// Counts one lease outcome.
    pub fn count_lease(&self, outcome: LeaseOutcome) {
        self.metrics.store_leases.inc(outcome);
    }

    /// Runs one store call within the timeout (unless the store rests and `gate` allows
    /// skipping it), and keeps the health and metrics.
    async fn call<T>(
        &self,
        op: StoreOp,
        gate: Gate,
        f: BoxFuture<'_, Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        if gate == Gate::Resting && self.health.resting() {
            return Err(BackendError::unreachable("skipped while the store rests"));
        }
        let started = Instant::now();
        let result = match timeout(self.settings.timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(BackendError::unreachable("timeout")),
        };
        self.metrics
            .store_duration
            .with_label_values(&[op.label()])
            .observe(started.elapsed().as_secs_f64());
        match &result {
            Ok(_) => self.health.answered(),
            Err(e) => {
                self.metrics.store_errors.inc(op);
                self.health.failed(op, e);
            }
        }
        result
    }
}
