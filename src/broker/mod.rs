//! Session broker: one STS session per [`SessionSpec`] (role, session name, tags, policy),
//! cached in moka. Never sees HTTP; records its own cache and STS metrics.
//!
//! - A request never waits on STS when a usable session exists: a session used inside its
//!   refresh-ahead window is renewed in the background while the old one keeps serving, and
//!   sessions nobody uses simply expire.
//! - Concurrent misses for one key share a single AssumeRole (moka `try_get_with`); different
//!   keys proceed in parallel, within the shaper's concurrency and rate bounds.
//! - Refusals (AccessDenied, invalid tags or policy) are remembered for `negative_cache_seconds`
//!   so one bad user cannot hammer STS. Transient failures are retried within the deadline and
//!   never cached; a session that is still usable keeps serving while STS is down.
//! - Validity is judged by the injected [`Clock`](crate::clock::Clock); moka's own timers only
//!   reclaim memory.
//! - With a shared store (`store/`), a local miss asks the store, then one replica of the fleet
//!   calls STS under a lease while the others wait for its result (`fleet.rs`); without one, or
//!   while it cannot be asked, the broker calls STS itself.

mod credentials;
mod fleet;
mod session;
mod shaper;
pub mod store;
mod sts;
#[cfg(test)]
mod tests;

pub use credentials::SessionCredentials;
pub use sts::{AwsSts, BoxFuture, StsClient, StsError, StsErrorKind};

use crate::clock::SharedClock;
pub use crate::config::settings::BrokerSettings;
use crate::mapping::SessionSpec;
use crate::metrics::{Eviction, Metrics, Outcome};
use foldhash::fast::RandomState;
use moka::future::Cache;
use moka::notification::RemovalCause;
use session::Session;
use shaper::Shaper;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Sessions this close to `Expiration` when used count as `stsgate_credential_near_expiry_total`.
const NEAR_EXPIRY: Duration = Duration::from_secs(60);
/// After a failed background refresh, wait this long before a request may start another.
const REFRESH_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// Where the request path gets a caller's session: the broker, or a stub in tests.
pub trait Sessions: Send + Sync + 'static {
    fn session<'a>(
        &'a self,
        spec: &'a SessionSpec,
    ) -> BoxFuture<'a, Result<Arc<SessionCredentials>, StsError>>;
}

impl Sessions for SessionBroker {
    fn session<'a>(
        &'a self,
        spec: &'a SessionSpec,
    ) -> BoxFuture<'a, Result<Arc<SessionCredentials>, StsError>> {
        Box::pin(SessionBroker::session(self, spec))
    }
}

#[derive(Clone)]
pub struct SessionBroker {
    inner: Arc<Inner>,
}

struct Inner {
    sessions: Cache<SessionSpec, Arc<Session>, RandomState>,
    /// Refusals, each with the time until which it stands.
    refusals: Cache<SessionSpec, (StsError, SystemTime), RandomState>,
    shaper: Shaper,
    sts: Arc<dyn StsClient>,
    metrics: Arc<Metrics>,
    clock: SharedClock,
    settings: BrokerSettings,
    /// The fleet's shared sessions, leases and STS rate, when configured.
    store: Option<store::SharedStore>,
}

impl SessionBroker {
    pub fn new(
        sts: Arc<dyn StsClient>,
        metrics: Arc<Metrics>,
        clock: SharedClock,
        settings: BrokerSettings,
    ) -> Self {
        Self::with_store(sts, metrics, clock, settings, None)
    }

    /// A broker that shares sessions with the fleet through `store`.
    pub fn with_store(
        sts: Arc<dyn StsClient>,
        metrics: Arc<Metrics>,
        clock: SharedClock,
        settings: BrokerSettings,
        store: Option<store::SharedStore>,
    ) -> Self {
        let evictions = metrics.credential_cache_evictions.clone();
        let sessions = Cache::builder()
            .max_capacity(settings.max_sessions)
            .expire_after(UntilUnusable(clock.clone()))
            .eviction_listener(move |_k, _v, cause| match cause {
                RemovalCause::Size => evictions.inc(Eviction::Size),
                RemovalCause::Expired => evictions.inc(Eviction::Expired),
                RemovalCause::Explicit | RemovalCause::Replaced => {}
            })
            .build_with_hasher(RandomState::default());
        let refusals = Cache::builder()
            .max_capacity(settings.max_sessions)
            .time_to_live(settings.negative_ttl.max(Duration::from_secs(1)))
            .build_with_hasher(RandomState::default());
        let shaper = Shaper::new(settings.max_concurrent_calls, settings.max_calls_per_second);
        SessionBroker {
            inner: Arc::new(Inner {
                sessions,
                refusals,
                shaper,
                sts,
                metrics,
                clock,
                settings,
                store,
            }),
        }
    }

    /// Credentials for `spec`: a usable cached session, or one AssumeRole shared by every
    /// concurrent caller of the same spec.
    pub async fn session(&self, spec: &SessionSpec) -> Result<Arc<SessionCredentials>, StsError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        if let Some(session) = inner.sessions.get(spec).await {
            if now < session.use_until {
                inner.metrics.credential_cache_hits.inc();
                if now >= session.refresh_at && session.claim_refresh() {
                    self.refresh_in_background(spec.clone(), session.clone());
                }
                inner.note_near_expiry(&session, now);
                return Ok(session.issued.clone());
            }
            inner.sessions.invalidate(spec).await;
        }
        if let Some((refusal, until)) = inner.refusals.get(spec).await {
            if now < until {
                inner.metrics.sts_negative_cache_hits.inc();
                return Err(refusal);
            }
            inner.refusals.invalidate(spec).await;
        }
        inner.metrics.credential_cache_misses.inc();
        // Boxed: the STS path's future is several KiB, and inline it would be allocated and
        // copied with every cache hit's future too (issue #14).
        Box::pin(inner.obtain_shared(spec, now)).await
    }

    /// Number of cached sessions (approximate while moka has pending maintenance).
    pub fn sessions(&self) -> u64 {
        self.inner.sessions.entry_count()
    }

    /// Runs moka's pending maintenance (evictions, counts) and publishes the session count.
    pub async fn sync(&self) {
        self.inner.sessions.run_pending_tasks().await;
        self.inner
            .metrics
            .credential_cache_sessions
            .set(self.sessions() as i64);
    }

    fn refresh_in_background(&self, spec: SessionSpec, old: Arc<Session>) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            match inner.renew(&spec, &old).await {
                Ok(Some(fresh)) => {
                    inner.sessions.insert(spec, fresh).await;
                    inner.metrics.credential_refreshes.inc(Outcome::Ok);
                }
                Ok(None) => {
                    // Another replica is refreshing: look for its session a little later.
                    tokio::time::sleep(fleet::RECHECK_PAUSE).await;
                    old.release_refresh();
                }
                Err(e) => {
                    inner.metrics.credential_refreshes.inc(Outcome::Failed);
                    tracing::warn!(session = %spec.session_name, code = e.code, "background refresh failed; the current session keeps serving");
                    tokio::time::sleep(REFRESH_RETRY_PAUSE).await;
                    old.release_refresh();
                }
            }
        });
    }
}

impl Inner {
    /// A miss: one caller per spec obtains the session (the others wait for its result).
    async fn obtain_shared(
        &self,
        spec: &SessionSpec,
        now: SystemTime,
    ) -> Result<Arc<SessionCredentials>, StsError> {
        let session = self
            .sessions
            .try_get_with_by_ref(spec, self.obtain(spec))
            .await
            .map_err(|e| (*e).clone())?;
        self.note_near_expiry(&session, now);
        Ok(session.issued.clone())
    }

    async fn assume_role(&self, spec: &SessionSpec) -> Result<Arc<Session>, StsError> {
        self.assume_role_within(spec, self.settings.deadline).await
    }

    /// AssumeRole (with retries) within `budget`; with a fleet-wide rate, each attempt first
    /// waits for its reserved slot.
    async fn assume_role_within(
        &self,
        spec: &SessionSpec,
        budget: Duration,
    ) -> Result<Arc<Session>, StsError> {
        let started = tokio::time::Instant::now();
        let fleet_rate = self.store.as_ref().and_then(|s| Some((s, s.fleet_rate()?)));
        let result = self
            .shaper
            .call(budget, &self.metrics, || async move {
                if let Some((store, per_second)) = fleet_rate {
                    let left = budget.saturating_sub(started.elapsed());
                    if !store.fleet_permit(per_second, left).await {
                        return Err(StsError::transport(
                            shaper::QUEUE_TIMEOUT,
                            "no slot of the fleet's AssumeRole rate within the deadline".into(),
                        ));
                    }
                }
                self.sts.assume_role(spec).await
            })
            .await;
        match result {
            Ok(c) => {
                tracing::debug!(session = %spec.session_name, access_key_id = c.access_key_id(), elapsed_ms = started.elapsed().as_millis() as u64, "assumed role");
                Ok(self.session_of(c))
            }
            Err(e) => {
                tracing::warn!(session = %spec.session_name, code = e.code, error = %e.message, "AssumeRole failed");
                if !e.is_retryable() {
                    let until = self.clock.now() + self.settings.negative_ttl;
                    self.refusals.insert(spec.clone(), (e.clone(), until)).await;
                }
                Err(e)
            }
        }
    }

    /// A cached session for `c`, with this replica's expiry margin and refresh window.
    fn session_of(&self, c: SessionCredentials) -> Arc<Session> {
        Arc::new(Session::new(
            c,
            self.settings.expiry_margin,
            self.settings.refresh_ahead,
        ))
    }

    fn note_near_expiry(&self, s: &Session, now: SystemTime) {
        if s.issued.expires_at.duration_since(now).unwrap_or_default() < NEAR_EXPIRY {
            self.metrics.credential_near_expiry.inc();
        }
    }
}

/// moka reclaims an entry once it can no longer be used. Its timer runs on its own clock, so this
/// is memory hygiene only; `use_until` is checked against the injected clock on every read.
struct UntilUnusable(SharedClock);

impl UntilUnusable {
    fn left(&self, s: &Session) -> Duration {
        s.use_until.duration_since(self.0.now()).unwrap_or_default()
    }
}

impl moka::Expiry<SessionSpec, Arc<Session>> for UntilUnusable {
    fn expire_after_create(
        &self,
        _k: &SessionSpec,
        v: &Arc<Session>,
        _at: std::time::Instant,
    ) -> Option<Duration> {
        Some(self.left(v))
    }

    fn expire_after_update(
        &self,
        _k: &SessionSpec,
        v: &Arc<Session>,
        _at: std::time::Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.left(v))
    }
}
