//! The broker's miss and refresh paths with a shared store: the store first, then one replica of
//! the fleet calls STS under the session key's lease while the others poll for its result. The
//! store never decides whether a request fails: when it cannot be asked, or another replica's
//! call takes more than half the deadline, the broker calls STS itself within what is left, as
//! it does without a store.

use super::store::{Held, Lease, Lookup, SharedStore};
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
        let started = Instant::now();
        let deadline = self.settings.deadline;
        let (mut poll, mut waited) = (FIRST_POLL, false);
        loop {
            match store.lookup(&names).await {
                Lookup::Hit(c) => {
                    if let Some(s) = self.usable(c) {
                        return Ok(s);
                    }
                }
                Lookup::Unavailable => return self.without_store(spec, started).await,
                Lookup::Miss => {}
            }
            match store.lease(&names[0], deadline).await {
                Lease::Won(held) => {
                    let outcome = if waited {
                        LeaseOutcome::Expired
                    } else {
                        LeaseOutcome::Won
                    };
                    let left = deadline.saturating_sub(started.elapsed());
                    let usable = |found| match found {
                        Lookup::Hit(c) => self.usable(c),
                        _ => None,
                    };
                    return self
                        .under_lease(store, held, &names, spec, left, outcome, usable)
                        .await;
                }
                Lease::Unavailable => return self.without_store(spec, started).await,
                Lease::Taken => {
                    if !waited {
                        store.count_lease(LeaseOutcome::Waited);
                        waited = true;
                    }
                    // Half the deadline for another replica's call, the rest for this one's.
                    if started.elapsed() + poll >= deadline / 2 {
                        return self.without_store(spec, started).await;
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
        let fresher = |found: Lookup| match found {
            Lookup::Hit(c) if c.expires_at > old.issued.expires_at => Some(self.session_of(c)),
            _ => None,
        };
        match store.lookup(&names).await {
            Lookup::Unavailable => {
                return self.without_store(spec, Instant::now()).await.map(Some);
            }
            found => {
                if let Some(s) = fresher(found) {
                    return Ok(Some(s));
                }
            }
        }
        match store.lease(&names[0], self.settings.deadline).await {
            Lease::Won(held) => {
                let deadline = self.settings.deadline;
                let won = LeaseOutcome::Won;
                self.under_lease(store, held, &names, spec, deadline, won, &fresher)
                    .await
                    .map(Some)
            }
            Lease::Taken => Ok(None),
            Lease::Unavailable => self.without_store(spec, Instant::now()).await.map(Some),
        }
    }

    /// A stored session, if this replica may still use it.
    fn usable(&self, c: super::SessionCredentials) -> Option<Arc<Session>> {
        let session = self.session_of(c);
        (self.clock.now() < session.use_until).then_some(session)
    }

    /// With the lease held: a session published just before it, if `accept` takes it (the
    /// previous holder publishes, then releases, and both can fall between this replica's
    /// lookup and its lease); else STS within `budget`, shared under `names[0]`. The lease is
    /// released either way.
    #[allow(clippy::too_many_arguments)]
    async fn under_lease(
        &self,
        store: &SharedStore,
        held: Held,
        names: &[String],
        spec: &SessionSpec,
        budget: Duration,
        outcome: LeaseOutcome,
        accept: impl FnOnce(Lookup) -> Option<Arc<Session>>,
    ) -> Result<Arc<Session>, StsError> {
        if let Some(s) = accept(store.lookup(&names[..1]).await) {
            store.release(held).await;
            return Ok(s);
        }
        store.count_lease(outcome);
        let result = self.assume_role_within(spec, budget).await;
        if let Ok(session) = &result {
            let ttl = session
                .use_until
                .duration_since(self.clock.now())
                .unwrap_or_default();
            store.publish(&names[0], &session.issued, ttl).await;
        }
        store.release(held).await;
        result
    }

    /// STS without the store, within what is left of the deadline since `started`.
    async fn without_store(
        &self,
        spec: &SessionSpec,
        started: Instant,
    ) -> Result<Arc<Session>, StsError> {
        self.metrics.store_fallbacks.inc();
        let left = self.settings.deadline.saturating_sub(started.elapsed());
        self.assume_role_within(spec, left).await
    }
}

#[cfg(test)]
mod tests;
