//! Validated tokens, remembered by the SHA-256 of the token (never the token itself) until the
//! identity's `valid_until`, so a busy user costs one signature check rather than one per request.

use super::Principal;
use crate::metrics::Metrics;
use moka::future::Cache;
use std::sync::Arc;
use std::time::Duration;

pub type TokenHash = [u8; 32];

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

    pub async fn get(&self, key: TokenHash, now: i64) -> Option<Arc<Principal>> {
        let entries = self.entries.as_ref()?;
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

    pub async fn insert(&self, key: TokenHash, p: Arc<Principal>, now: i64) {
        if let Some(entries) = self.entries.as_ref().filter(|_| p.valid_until >= now) {
            entries.insert(key, p).await;
        }
    }
}

/// The cache key of a credential: SHA-256 over its kind and its bytes, so a JWT and a SAML
/// assertion can never share an entry.
pub fn hash(kind: &str, token: &str) -> TokenHash {
    let mut d = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    d.update(kind.as_bytes());
    d.update(&[0]);
    d.update(token.as_bytes());
    d.finish().as_ref().try_into().expect("SHA-256 is 32 bytes")
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
