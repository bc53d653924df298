//! The broker's miss and refresh paths with a shared store: the store first, then one replica of
//! the fleet calls STS under the session key's lease while the others poll for its result. The
//! store never decides whether a request fails: when it cannot be asked, the broker calls STS
//! itself, as it does without a store.

use super::store::{Lease, Lookup, SharedStore};
use super::{Inner, Session, SessionSpec, StsError};
use crate::metrics::LeaseOutcome;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// After finding another replica refreshing a session, wait this long before looking for its
/// result (the next request in the refresh window does).
pub const RECHECK_PAUSE: Duration = Duration::from_secs(1);
/// Polling for another replica's session: from this, doubling, up to `MAX_POLL`.
const FIRST_POLL: Duration = Duration::from_millis(10);
const MAX_POLL: Duration = Duration::from_millis(200);

impl Inner {
    /// A session for a local miss.
    pub(super) async fn obtain(&self, spec: &SessionSpec) -> Result<Arc<Session>, StsError> {
        let Some(store) = &self.store else {
            return self.assume_role(spec).await;
        };
        let names = store.names(spec);
        let deadline = Instant::now() + self.settings.deadline;
        let (mut poll, mut waited) = (FIRST_POLL, false);
        loop {
            match store.lookup(&names).await {
                Lookup::Hit(c) => {
                    let session = self.session_of(c);
                    if self.clock.now() < session.use_until {
                        return Ok(session);
                    }
                }
                Lookup::Unavailable => return self.without_store(spec).await,
                Lookup::Miss => {}
            }
            match store.lease(&names[0]).await {
                Lease::Won(held) => {
                    // The previous holder publishes, then releases: between this replica's
                    // lookup and its lease, it may have done both.
                    if let Lookup::Hit(c) = store.lookup(&names[..1]).await {
                        let session = self.session_of(c);
                        if self.clock.now() < session.use_until {
                            store.release(held).await;
                            return Ok(session);
                        }
                    }
                    store.count_lease(if waited {
                        LeaseOutcome::Expired
                    } else {
                        LeaseOutcome::Won
                    });
                    let result = self.assume_and_publish(store, &names[0], spec).await;
                    store.release(held).await;
                    return result;
                }
                Lease::Unavailable => return self.without_store(spec).await,
                Lease::Taken => {
                    if !waited {
                        store.count_lease(LeaseOutcome::Waited);
                        waited = true;
                    }
                    if Instant::now() + poll >= deadline {
                        return Err(StsError::transport(
                            "timeout",
                            "another replica's AssumeRole did not finish within the deadline"
                                .into(),
                        ));
                    }
                    sleep(poll).await;
                    poll = (poll * 2).min(MAX_POLL);
                }
            }
        }
    }

    /// A fresher session for `old`, in its refresh window: one another replica already shared,
    /// or one this replica obtains under the lease. `None`: another replica holds the lease.
    pub(super) async fn renew(
        &self,
        spec: &SessionSpec,
        old: &Session,
    ) -> Result<Option<Arc<Session>>, StsError> {
        let Some(store) = &self.store else {
            return self.assume_role(spec).await.map(Some);
        };
        let names = store.names(spec);
        match store.lookup(&names).await {
            Lookup::Hit(c) if c.expires_at > old.issued.expires_at => {
                return Ok(Some(self.session_of(c)));
            }
            Lookup::Unavailable => return self.without_store(spec).await.map(Some),
            Lookup::Hit(_) | Lookup::Miss => {}
        }
        match store.lease(&names[0]).await {
            Lease::Won(held) => {
                store.count_lease(LeaseOutcome::Won);
                let result = self.assume_and_publish(store, &names[0], spec).await;
                store.release(held).await;
                result.map(Some)
            }
            Lease::Taken => Ok(None),
            Lease::Unavailable => self.without_store(spec).await.map(Some),
        }
    }

    async fn assume_and_publish(
        &self,
        store: &SharedStore,
        name: &str,
        spec: &SessionSpec,
    ) -> Result<Arc<Session>, StsError> {
        let session = self.assume_role(spec).await?;
        let ttl = session
            .use_until
            .duration_since(self.clock.now())
            .unwrap_or_default();
        store.publish(name, &session.issued, ttl).await;
        Ok(session)
    }

    async fn without_store(&self, spec: &SessionSpec) -> Result<Arc<Session>, StsError> {
        self.metrics.store_fallbacks.inc();
        self.assume_role(spec).await
    }
}

#[cfg(test)]
mod tests;
