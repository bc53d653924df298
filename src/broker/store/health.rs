//! Whether the store is worth asking. A call that cannot reach the store costs that one step;
//! [`FAILURES_TO_REST`] in a row make the replica skip the store for `retry_interval`, after which
//! one call probes it (a failed probe rests again at once). `stsgate_session_store_up` is 0 from
//! the first rest until a call is answered.

use super::BackendError;
use crate::metrics::{Label, Metrics, StoreOp};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Unreachable calls in a row before the store is skipped.
pub const FAILURES_TO_REST: u32 = 3;
/// At most one warning per this long for answers that are errors (they can come per request).
const WARN_EVERY: Duration = Duration::from_secs(10);

pub struct Health {
    state: Mutex<State>,
    rest: Duration,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct State {
    failures: u32,
    resting_until: Option<Instant>,
    /// The rest is over and the next call decides: answered, or rest again.
    probing: bool,
    last_warning: Option<Instant>,
}

impl Health {
    pub fn new(rest: Duration, metrics: Arc<Metrics>) -> Self {
        Health {
            state: Mutex::default(),
            rest,
            metrics,
        }
    }

    pub fn resting(&self) -> bool {
        let mut s = self.state.lock().expect("store health lock");
        match s.resting_until {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                s.resting_until = None;
                s.probing = true;
                false
            }
            None => false,
        }
    }

    pub fn answered(&self) {
        let mut s = self.state.lock().expect("store health lock");
        s.failures = 0;
        s.probing = false;
        if self.metrics.store_up.get() == 0 {
            tracing::info!("shared session store reachable again");
            self.metrics.store_up.set(1);
        }
    }

    pub fn failed(&self, op: StoreOp, e: &BackendError) {
        if !e.unreachable {
            // The store answered: nothing to rest from, but somebody should look (full, ACL).
            self.warn_now_and_then(|| {
                tracing::warn!(op = op.label(), error = %e.detail, "the shared session store answered with an error");
            });
            return;
        }
        let mut s = self.state.lock().expect("store health lock");
        s.failures += 1;
        if s.probing || s.failures >= FAILURES_TO_REST {
            s.failures = 0;
            s.probing = false;
            s.resting_until = Some(Instant::now() + self.rest);
            if self.metrics.store_up.get() == 1 {
                tracing::warn!(op = op.label(), error = %e.detail, rest_ms = self.rest.as_millis() as u64,
                    "shared session store unavailable; serving from the local cache and STS");
                self.metrics.store_up.set(0);
            }
        }
    }

    /// Runs `warn` at most once per [`WARN_EVERY`].
    pub fn warn_now_and_then(&self, warn: impl FnOnce()) {
        let mut s = self.state.lock().expect("store health lock");
        if s.last_warning.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            s.last_warning = Some(Instant::now());
            drop(s);
            warn();
        }
    }
}
