//! Validated tokens, remembered by the SHA-256 of the token (never the token itself) until the
//! identity's `valid_until`, so a busy user costs one signature check rather than one per request.

use super::Principal;
use crate::metrics::Metrics;
use moka::future::Cache;
use std::sync::Arc;
use std::time::Duration;

type TokenHash = [u8; 32];

pub struct TokenCache {
    entries: Option<Cache<TokenHash, Arc<Principal>>>,
    metrics: Arc<Metrics>,
}

impl TokenCache {
    /// `max_entries = 0` disables the cache.
    pub fn new(max_entries: u64, metrics: Arc<Metrics>) -> Self {
        let entries = (max_entries > 0).then(|| {
            Cache::builder()
                .max_capacity(max_entries)
                .expire_after(UntilInvalid)
                .build()
        });
        TokenCache { entries, metrics }
    }

    pub async fn get(&self, token: &str, now: i64) -> Option<Arc<Principal>> {
        let entries = self.entries.as_ref()?;
        let key = hash(token);
        match entries.get(&key).await {
            Some(p) if now <= p.valid_until => {
                self.metrics.token_cache_hits.inc();
                Some(p)
            }
            Some(_) => {
                entries.invalidate(&key).await;
                self.metrics.token_cache_misses.inc();
                None
            }
            None => {
                self.metrics.token_cache_misses.inc();
                None
            }
        }
    }

    pub async fn insert(&self, token: &str, p: Arc<Principal>, now: i64) {
        if let Some(entries) = self.entries.as_ref().filter(|_| p.valid_until >= now) {
            entries.insert(hash(token), p).await;
        }
    }
}

fn hash(token: &str) -> TokenHash {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    d.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// Memory reclamation only: validity is re-checked against the injected clock on every hit.
struct UntilInvalid;

impl moka::Expiry<TokenHash, Arc<Principal>> for UntilInvalid {
    fn expire_after_create(
        &self,
        _k: &TokenHash,
        p: &Arc<Principal>,
        _at: std::time::Instant,
    ) -> Option<Duration> {
        let now = crate::clock::unix_seconds(std::time::SystemTime::now());
        Some(Duration::from_secs(
            (p.valid_until - now).clamp(0, 86_400 * 7) as u64,
        ))
    }
}
