//! STS load shaping: a concurrency bound, a token-bucket rate bound, and retries with full-jitter
//! exponential back-off, all within one deadline per caller. Callers beyond a bound wait for a
//! slot rather than fail at once. Time is tokio's, so tests can pause it.
//!
//! When the deadline cuts a retry short (while it queues or while it runs), the caller gets the
//! last answer STS actually gave (say `Throttling`), not the cut: that is what an operator needs
//! to see, and it does not depend on where inside the last attempt the deadline fell.

use super::sts::StsError;
use crate::metrics::Metrics;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep, timeout_at};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
const MIN_TOKEN_WAIT: Duration = Duration::from_millis(1);
/// `stsgate_sts_assume_role_errors_total{code}` (and the error's code) when no slot came in time.
pub const QUEUE_TIMEOUT: &str = "queue_timeout";

pub struct Shaper {
    slots: Semaphore,
    bucket: Mutex<Bucket>,
    rate: f64,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Shaper {
    pub fn new(max_concurrent: usize, per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        Shaper {
            slots: Semaphore::new(max_concurrent.max(1)),
            bucket: Mutex::new(Bucket {
                tokens: rate,
                refilled: Instant::now(),
            }),
            rate,
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or `budget` runs out.
    pub async fn call<T, F, Fut>(
        &self,
        budget: Duration,
        metrics: &Metrics,
        mut attempt: F,
    ) -> Result<T, StsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StsError>>,
    {
        let deadline = Instant::now() + budget;
        let mut backoff = FIRST_BACKOFF;
        let mut last: Option<StsError> = None;
        loop {
            metrics.sts_assume_role_queued.inc();
            let slot = timeout_at(deadline, async {
                self.take_token().await;
                self.slots.acquire().await.expect("semaphore never closes")
            })
            .await;
            metrics.sts_assume_role_queued.dec();
            let Ok(_slot) = slot else {
                metrics
                    .sts_assume_role_errors
                    .with_label_values(&[QUEUE_TIMEOUT])
                    .inc();
                return Err(last.unwrap_or_else(|| {
                    StsError::transport(QUEUE_TIMEOUT, "no STS slot within the deadline".into())
                }));
            };

            metrics.sts_assume_role_in_flight.inc();
            let started = Instant::now();
            let outcome = timeout_at(deadline, attempt()).await;
            metrics
                .sts_assume_role_duration
                .observe(started.elapsed().as_secs_f64());
            metrics.sts_assume_role_in_flight.dec();

            let (err, cut) = match outcome {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => (e, false),
                Err(_) => (
                    StsError::transport(
                        "timeout",
                        "AssumeRole did not finish within the deadline".into(),
                    ),
                    true,
                ),
            };
            metrics
                .sts_assume_role_errors
                .with_label_values(&[err.code])
                .inc();
            if cut {
                return Err(last.unwrap_or(err));
            }
            if !err.is_retryable() {
                return Err(err);
            }
            // Full jitter: spread retries of many callers over the whole window.
            let pause = backoff.mul_f64(fastrand::f64());
            if Instant::now() + pause >= deadline {
                return Err(err);
            }
            metrics.sts_assume_role_retries.inc();
            sleep(pause).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            last = Some(err);
        }
    }

    async fn take_token(&self) {
        loop {
            let wait = {
                let mut b = self.bucket.lock().expect("bucket lock");
                let now = Instant::now();
                let earned = now.duration_since(b.refilled).as_secs_f64() * self.rate;
                b.tokens = (b.tokens + earned).min(self.rate);
                b.refilled = now;
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    return;
                }
                // At least a millisecond: a wait that rounds to nothing would spin (and, on
                // paused test time, never let the clock advance).
                Duration::from_secs_f64((1.0 - b.tokens) / self.rate).max(MIN_TOKEN_WAIT)
            };
            sleep(wait).await;
        }
    }
}
