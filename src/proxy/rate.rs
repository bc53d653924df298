//! The optional per-user request rate (`max_requests_per_user_per_second`): a token bucket per
//! AppInstanceUser with one second of burst, kept in a bounded moka cache that forgets idle users.
//! Over the rate a request gets 429 `rate_limited` with `Retry-After`, before any STS call.

use crate::error::GatewayError;
use moka::sync::Cache;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Users whose buckets are remembered at most (idle ones are forgotten first).
const MAX_USERS: u64 = 100_000;

pub struct UserRate {
    per_second: f64,
    buckets: Cache<Arc<str>, Arc<Mutex<Bucket>>>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl UserRate {
    /// `None` when the rate is off (0).
    pub fn new(per_second: u32) -> Option<Self> {
        (per_second > 0).then(|| UserRate {
            per_second: f64::from(per_second),
            buckets: Cache::builder()
                .max_capacity(MAX_USERS)
                .time_to_idle(Duration::from_secs(60))
                .build(),
        })
    }

    /// Takes one request from `user`'s bucket, or says how long until one is there.
    pub fn check(&self, user: &Arc<str>) -> Result<(), GatewayError> {
        let full = self.per_second;
        let bucket = self.buckets.get_with(user.clone(), || {
            Arc::new(Mutex::new(Bucket {
                tokens: full,
                refilled: Instant::now(),
            }))
        });
        let mut b = bucket.lock().expect("bucket lock");
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.refilled).as_secs_f64() * full).min(full);
        b.refilled = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / full;
            Err(GatewayError::RateLimited {
                retry_after: (wait.ceil() as u64).max(1),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_its_rate_and_others_are_not_affected() {
        let rate = UserRate::new(3).unwrap();
        let (alice, bob): (Arc<str>, Arc<str>) = ("alice".into(), "bob".into());
        for _ in 0..3 {
            rate.check(&alice).unwrap();
        }
        match rate.check(&alice) {
            Err(GatewayError::RateLimited { retry_after }) => assert_eq!(retry_after, 1),
            other => panic!("{other:?}"),
        }
        rate.check(&bob).unwrap();
        assert!(UserRate::new(0).is_none(), "0 turns it off");
    }
}
