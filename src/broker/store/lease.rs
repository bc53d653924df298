//! A lease this replica holds on a session key while it calls STS: renewed every third of its
//! lifetime (so a slow STS does not let a second replica in), never beyond the STS deadline, and
//! released when done, or when the caller gave up (dropped), so no lease outlives its purpose.

use super::{Backend, BackendError, BoxFuture};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};

pub struct Held {
    backend: Arc<dyn Backend>,
    name: String,
    token: String,
    timeout: Duration,
    keepalive: JoinHandle<()>,
    released: bool,
}

impl Held {
    pub(super) fn new(
        backend: Arc<dyn Backend>,
        name: String,
        token: String,
        ttl: Duration,
        call_timeout: Duration,
        max_hold: Duration,
    ) -> Self {
        let keepalive = {
            let (backend, name, token) = (backend.clone(), name.clone(), token.clone());
            let until = Instant::now() + max_hold;
            tokio::spawn(async move {
                loop {
                    sleep(ttl / 3).await;
                    if Instant::now() >= until {
                        return;
                    }
                    // A renewal that fails is tried again next time; one that finds the lease
                    // gone (lapsed, taken) ends the keepalive.
                    if let Ok(Ok(false)) =
                        timeout(call_timeout, backend.renew(&name, &token, ttl)).await
                    {
                        return;
                    }
                }
            })
        };
        Held {
            backend,
            name,
            token,
            timeout: call_timeout,
            keepalive,
            released: false,
        }
    }

    /// The call that gives the lease back; the keepalive stops.
    pub(super) fn release_call(&mut self) -> BoxFuture<'_, Result<(), BackendError>> {
        self.released = true;
        self.keepalive.abort();
        self.backend.release(&self.name, &self.token)
    }
}

impl Drop for Held {
    /// A caller that gave up mid-call (its request was cancelled) releases in the background.
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.keepalive.abort();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (backend, name, token) =
                (self.backend.clone(), self.name.clone(), self.token.clone());
            let limit = self.timeout;
            rt.spawn(async move {
                let _ = timeout(limit, backend.release(&name, &token)).await;
            });
        }
    }
}

/// A random lease token: who holds a lease, so only its holder renews or releases it.
pub fn token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}
