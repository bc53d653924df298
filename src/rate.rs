//! Token buckets per key in a bounded moka cache that forgets idle keys: the per-user request
//! rate (`max_requests_per_user_per_second`) and guest tokens per client address
//! (`guests.max_per_minute`). Over the rate, [`KeyedRate::check`] says how long until a token.

use moka::sync::Cache;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys whose buckets are remembered at most (idle ones are forgotten first).
const MAX_KEYS: u64 = 100_000;

pub struct KeyedRate<K: Hash + Eq + Send + Sync + 'static> {
    per_second: f64,
    burst: f64,
    buckets: Cache<K, Arc<Mutex<Bucket>>>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> KeyedRate<K> {
    /// `per_second` tokens a second, at most `burst` saved up; `None` when the rate is 0 (off).
    pub fn new(per_second: f64, burst: f64) -> Option<Self> {
        (per_second > 0.0).then(|| KeyedRate {
            per_second,
            burst: burst.max(1.0),
            buckets: Cache::builder()
                .max_capacity(MAX_KEYS)
                .time_to_idle(Duration::from_secs_f64((burst / per_second).max(60.0)))
                .build(),
        })
    }

    /// Takes a token from `key`'s bucket, or returns the whole seconds until one is there.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        let full = self.burst;
        let bucket = self.buckets.get_with(key.clone(), || {
            Arc::new(Mutex::new(Bucket {
                tokens: full,
                refilled: Instant::now(),
            }))
        });
        let mut b = bucket.lock().expect("bucket lock");
        let now = Instant::now();
        let earned = now.duration_since(b.refilled).as_secs_f64() * self.per_second;
        b.tokens = (b.tokens + earned).min(full);
        b.refilled = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / self.per_second;
            Err((wait.ceil() as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_rate_and_others_are_not_affected() {
        let rate = KeyedRate::new(3.0, 3.0).unwrap();
        let (alice, bob): (Arc<str>, Arc<str>) = ("alice".into(), "bob".into());
        for _ in 0..3 {
            rate.check(&alice).unwrap();
        }
        assert_eq!(rate.check(&alice), Err(1));
        rate.check(&bob).unwrap();
        assert!(
            KeyedRate::<Arc<str>>::new(0.0, 1.0).is_none(),
            "0 turns it off"
        );
    }

    #[test]
    fn a_slow_rate_says_how_long_to_wait() {
        // 10 a minute: the 11th waits 6 s.
        let rate = KeyedRate::new(10.0 / 60.0, 10.0).unwrap();
        for _ in 0..10 {
            rate.check(&1u8).unwrap();
        }
        assert_eq!(rate.check(&1u8), Err(6));
    }
}
