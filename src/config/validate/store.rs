//! `[session_store]` and `sts.fleet_max_calls_per_second`: the store's URL and CA, the sealing
//! keys (file or environment, each exactly 32 bytes), and timeouts that let a lease outlive the
//! calls that renew it.

use super::Problems;
use crate::broker::store::{KEY_BYTES, RedisTarget};
use crate::config::settings::{StoreKeys, StoreSettings};
use crate::config::{Config, ENV_STORE_KEY, ENV_STORE_PREVIOUS_KEYS, SessionStoreConfig};
use base64::Engine;
use std::time::Duration;

const SCHEMES: &[&str] = &["redis", "rediss", "valkey", "valkeys", "redis+unix", "unix"];

pub(super) fn settings(c: &Config, p: &mut Problems) -> Option<StoreSettings> {
    let fleet_rate = c.sts.fleet_max_calls_per_second;
    let Some(s) = &c.session_store else {
        if fleet_rate > 0 {
            p.bad(
                "sts.fleet_max_calls_per_second",
                "needs [session_store]: the replicas share the rate through it",
            );
        }
        return None;
    };
    check_url(s, p);
    let ca_pem = s.ca_file.as_ref().and_then(|path| {
        p.check("session_store.ca_file", super::read_pem_certificates(path))?;
        p.check(
            "session_store.ca_file",
            std::fs::read(path).map_err(|e| e.to_string()),
        )
    });
    p.positive(&[
        ("session_store.timeout_ms", s.timeout_ms),
        ("session_store.retry_interval_ms", s.retry_interval_ms),
    ]);
    if s.lease_ms < 3 * s.timeout_ms.max(1) {
        p.bad(
            "session_store.lease_ms",
            "must be at least 3 × timeout_ms, so renewals arrive before the lease lapses",
        );
    }
    if !s
        .key_prefix
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'{' && b != b'}')
    {
        p.bad(
            "session_store.key_prefix",
            "printable ASCII without spaces or braces (braces are Redis Cluster hash tags)",
        );
    }
    let keys = keys(s, p);
    let timeout = Duration::from_millis(s.timeout_ms);
    Some(StoreSettings {
        target: RedisTarget {
            url: s.url.clone(),
            cluster: s.cluster,
            ca_pem,
            timeout,
        },
        keys: StoreKeys(keys.into()),
        prefix: s.key_prefix.clone(),
        timeout,
        retry_interval: Duration::from_millis(s.retry_interval_ms),
        lease_ttl: Duration::from_millis(s.lease_ms),
        fleet_max_calls_per_second: (fleet_rate > 0).then_some(fleet_rate),
    })
}

fn check_url(s: &SessionStoreConfig, p: &mut Problems) {
    // Never echo the URL: it may carry a password.
    match redis::parse_redis_url(&s.url) {
        Some(u) if SCHEMES.contains(&u.scheme()) => {
            if redis::IntoConnectionInfo::into_connection_info(s.url.as_str()).is_err() {
                p.bad(
                    "session_store.url",
                    "not a usable Redis URL (host, port, database)",
                );
            }
            if s.cluster && u.scheme().contains("unix") {
                p.bad("session_store.url", "a cluster is reached over TCP");
            }
            if s.ca_file.is_some() && !matches!(u.scheme(), "rediss" | "valkeys") {
                p.bad(
                    "session_store.ca_file",
                    "only used with rediss:// or valkeys://",
                );
            }
        }
        _ => p.bad(
            "session_store.url",
            format!("must be a URL with scheme {}", SCHEMES.join(", ")),
        ),
    }
}

/// The current key, then the previous ones; each exactly 32 bytes of base64.
fn keys(s: &SessionStoreConfig, p: &mut Problems) -> Vec<[u8; KEY_BYTES]> {
    let mut keys = Vec::new();
    let current = match (&s.key_file, &s.env_keys.current) {
        (Some(path), _) => p.check("session_store.key_file", read_key_file(path)),
        (None, Some(text)) => p.check(ENV_STORE_KEY, decode(text)),
        (None, None) => {
            p.bad(
                "session_store.key_file",
                format!("required (or set {ENV_STORE_KEY})"),
            );
            None
        }
    };
    keys.extend(current);
    for (i, path) in s.previous_key_files.iter().enumerate() {
        let key = format!("session_store.previous_key_files[{i}]");
        keys.extend(p.check(key, read_key_file(path)));
    }
    if let Some(list) = &s.env_keys.previous {
        for (i, text) in list.split(',').filter(|t| !t.trim().is_empty()).enumerate() {
            keys.extend(p.check(format!("{ENV_STORE_PREVIOUS_KEYS}[{i}]"), decode(text)));
        }
    }
    keys
}

fn read_key_file(path: &std::path::Path) -> Result<[u8; KEY_BYTES], String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    decode(&text).map_err(|why| format!("{}: {why}", path.display()))
}

/// Base64 of exactly 32 bytes. Errors never quote the text: it is a secret.
fn decode(text: &str) -> Result<[u8; KEY_BYTES], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| "not base64 (make one with `openssl rand -base64 32`)".to_owned())?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        format!(
            "{} bytes; a key is exactly {KEY_BYTES} (make one with `openssl rand -base64 32`)",
            b.len()
        )
    })
}
