//! Validated tokens, remembered by the SHA-256 of the token (never the token itself) until the
//! identity's `valid_until`, so a busy user costs one signature check rather than one per request.
//!
//! Bounded by memory, not only by count: each entry weighs its estimated heap size (claims
//! included), at least `max_bytes / max_entries`, and the total stays under `max_bytes`. An 8 KiB
//! token with hundreds of small claims costs tens of kilobytes as a parsed map.

use super::Principal;
use crate::metrics::Metrics;
use foldhash::fast::RandomState;
use moka::future::Cache;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub type TokenHash = [u8; 32];

pub struct TokenCache {
    entries: Option<Cache<TokenHash, Arc<Principal>, RandomState>>,
    metrics: Arc<Metrics>,
}

impl TokenCache {
    /// `max_entries = 0` disables the cache.
    pub fn new(max_entries: u64, max_bytes: u64, metrics: Arc<Metrics>) -> Self {
        let entries = (max_entries > 0).then(|| {
            // The floor makes the count bound hold too: max_entries entries of the floor fill it.
            let floor = (max_bytes / max_entries).max(1);
            Cache::builder()
                .max_capacity(max_bytes)
                .weigher(move |_k, p: &Arc<Principal>| {
                    u32::try_from(estimated_bytes(p).max(floor)).unwrap_or(u32::MAX)
                })
                .expire_after(UntilInvalid)
                .build_with_hasher(RandomState::default())
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

/// Heap bytes of a cached identity, generously: the entry and its key, plus every claim as a
/// map node (key and value) with its strings, plus the mapping memoized on it later
/// ([`Principal::derived`]): its tags, session name and user ARN copy at most the claims they
/// read, so claims count twice, with a fixed allowance for the rest.
fn estimated_bytes(p: &Principal) -> u64 {
    const ENTRY: u64 = 256;
    const MAPPING: u64 = 512;
    const NODE: u64 = 96;
    fn value(v: &Value) -> u64 {
        NODE + match v {
            Value::String(s) => s.len() as u64,
            Value::Array(a) => a.iter().map(value).sum(),
            Value::Object(o) => o.iter().map(|(k, v)| k.len() as u64 + value(v)).sum(),
            _ => 0,
        }
    }
    let claims: u64 = p
        .claims
        .iter()
        .map(|(k, v)| k.len() as u64 + value(v))
        .sum();
    ENTRY + MAPPING + p.issuer.len() as u64 + 2 * claims
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

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(claims: usize) -> Arc<Principal> {
        let mut m = serde_json::Map::new();
        for i in 0..claims {
            m.insert(format!("c{i}"), Value::String("v".repeat(8)));
        }
        let later = crate::clock::unix_seconds(std::time::SystemTime::now()) + 3600;
        Arc::new(Principal {
            issuer: "https://idp.test".into(),
            claims: m,
            exp: later,
            valid_until: later,
            derived: Default::default(),
        })
    }

    #[tokio::test]
    async fn many_claims_weigh_more_and_the_total_stays_under_the_ceiling() {
        assert!(estimated_bytes(&principal(300)) > 30_000);
        // A one-claim identity: the entry, the memoized mapping's allowance and the claim.
        assert!(estimated_bytes(&principal(1)) < 1_500);

        let metrics = Arc::new(Metrics::new());
        // 1 MiB and 1,000 entries: at least 1 KiB each.
        let cache = TokenCache::new(1_000, 1024 * 1024, metrics);
        let now = crate::clock::unix_seconds(std::time::SystemTime::now());
        for i in 0..200u8 {
            cache.insert([i; 32], principal(300), now).await;
        }
        let entries = cache.entries.as_ref().unwrap();
        entries.run_pending_tasks().await;
        assert!(
            entries.weighted_size() <= 1024 * 1024,
            "{}",
            entries.weighted_size()
        );
        assert!(
            entries.entry_count() < 40,
            "{} heavy entries kept",
            entries.entry_count()
        );

        for i in 0..250u8 {
            cache.insert([i; 32], principal(1), now).await;
        }
        entries.run_pending_tasks().await;
        assert!(entries.entry_count() <= 1_000);
    }
}
