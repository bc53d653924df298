//! Session broker: one STS session per [`SessionSpec`], cached in moka until a margin before its
//! own `Expiration`. Concurrent misses for one key share a single AssumeRole call (moka's
//! `try_get_with`). Never sees HTTP; records its own cache and STS metrics.

mod credentials;
mod sts;

pub use credentials::SessionCredentials;
pub use sts::{AwsSts, BoxFuture, StsClient, StsError, StsErrorKind};

use crate::clock::SharedClock;
use crate::mapping::SessionSpec;
use crate::metrics::Metrics;
use moka::Expiry;
use moka::future::Cache;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Upper bound on cached sessions (each is ~1–2 KiB).
pub const DEFAULT_MAX_SESSIONS: u64 = 100_000;

pub struct SessionBroker {
    cache: Cache<SessionSpec, Arc<SessionCredentials>>,
    sts: Arc<dyn StsClient>,
    metrics: Arc<Metrics>,
}

impl SessionBroker {
    pub fn new(
        sts: Arc<dyn StsClient>,
        metrics: Arc<Metrics>,
        clock: SharedClock,
        margin: Duration,
    ) -> Self {
        let cache = Cache::builder()
            .max_capacity(DEFAULT_MAX_SESSIONS)
            .expire_after(UntilMargin { margin, clock })
            .build();
        SessionBroker {
            cache,
            sts,
            metrics,
        }
    }

    /// Credentials for `spec`: cached, or from one AssumeRole shared by all concurrent callers.
    pub async fn credentials(
        &self,
        spec: &SessionSpec,
    ) -> Result<Arc<SessionCredentials>, StsError> {
        if let Some(c) = self.cache.get(spec).await {
            self.metrics.credential_cache_hits.inc();
            return Ok(c);
        }
        self.metrics.credential_cache_misses.inc();
        self.cache
            .try_get_with(spec.clone(), self.assume_role(spec))
            .await
            .map_err(|e| (*e).clone())
    }

    async fn assume_role(&self, spec: &SessionSpec) -> Result<Arc<SessionCredentials>, StsError> {
        let started = Instant::now();
        let result = self.sts.assume_role(spec).await;
        self.metrics
            .sts_assume_role_duration
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(c) => {
                tracing::debug!(session = %spec.session_name, access_key_id = c.access_key_id(), "assumed role");
                Ok(Arc::new(c))
            }
            Err(e) => {
                self.metrics
                    .sts_assume_role_errors
                    .with_label_values(&[e.code])
                    .inc();
                tracing::warn!(session = %spec.session_name, code = e.code, error = %e.message, "AssumeRole failed");
                Err(e)
            }
        }
    }
}

/// Each entry lives until `margin` before its own `Expiration`.
struct UntilMargin {
    margin: Duration,
    clock: SharedClock,
}

impl Expiry<SessionSpec, Arc<SessionCredentials>> for UntilMargin {
    fn expire_after_create(
        &self,
        _key: &SessionSpec,
        value: &Arc<SessionCredentials>,
        _created_at: Instant,
    ) -> Option<Duration> {
        let left = value
            .expires_at
            .duration_since(self.clock.now())
            .unwrap_or_default();
        Some(left.saturating_sub(self.margin))
    }
}
