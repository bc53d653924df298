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
    // redis-rs takes the PEM itself; it is checked here like every other CA file.
    let ca_pem = s.ca_file.as_ref().and_then(|path| {
        let (_, pem) = p.check("session_store.ca_file", super::certs::read_pem_file(path))?;
        Some(pem)
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

#[cfg(test)]
mod tests {
    use super::super::tests::SAMPLE;
    use crate::config::{EnvKeys, parse, validate};

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn with_store(lines: &str, env: EnvKeys) -> Result<crate::config::Settings, String> {
        let mut c = parse(&format!("{SAMPLE}\n[session_store]\n{lines}\n")).unwrap();
        c.session_store.as_mut().unwrap().env_keys = env;
        validate(&c).map_err(|e| e.to_string())
    }

    fn env_key(key: &str) -> EnvKeys {
        EnvKeys {
            current: Some(key.into()),
            previous: None,
        }
    }

    #[test]
    fn a_store_with_a_key_from_the_environment_is_valid_with_defaults() {
        let s = with_store("url = \"redis://10.0.0.5:6379\"", env_key(KEY)).unwrap();
        let st = s.store.unwrap();
        assert_eq!(st.keys.0.len(), 1);
        assert_eq!(st.keys.0[0][1], 1);
        assert_eq!(st.timeout.as_millis(), 100);
        assert_eq!(st.lease_ttl.as_millis(), 1500);
        assert_eq!(st.prefix, "stsgate:");
        assert_eq!(st.fleet_max_calls_per_second, None);
        assert!(!format!("{st:?}").contains(KEY), "Debug shows no key");
    }

    #[test]
    fn every_store_problem_is_named_and_no_secret_is_echoed() {
        let e = with_store(
            "url = \"http://:hunter2@cache:6379\"\nretry_interval_ms = 0\nlease_ms = 100\nkey_prefix = \"a {b}\"\nprevious_key_files = [\"/nonexistent/old\"]",
            EnvKeys { current: Some("c2hvcnQ=".into()), previous: Some("bm90LWEta2V5,!!".into()) },
        )
        .unwrap_err();
        for key in [
            "session_store.url",
            "session_store.retry_interval_ms",
            "session_store.lease_ms",
            "session_store.key_prefix",
            "session_store.previous_key_files[0]",
            "STSGATE_SESSION_STORE_KEY: 5 bytes",
            "STSGATE_SESSION_STORE_PREVIOUS_KEYS[0]",
            "STSGATE_SESSION_STORE_PREVIOUS_KEYS[1]: not base64",
        ] {
            assert!(e.contains(key), "{key} missing from:\n{e}");
        }
        for secret in ["hunter2", "c2hvcnQ=", "bm90LWEta2V5"] {
            assert!(!e.contains(secret), "{secret} echoed:\n{e}");
        }
    }

    #[test]
    fn a_key_is_required_and_the_fleet_rate_needs_a_store() {
        let e = with_store("url = \"redis://127.0.0.1:6379\"", EnvKeys::default()).unwrap_err();
        assert!(
            e.contains("session_store.key_file: required (or set STSGATE_SESSION_STORE_KEY)"),
            "{e}"
        );
        let mut c = parse(SAMPLE).unwrap();
        c.sts.fleet_max_calls_per_second = 100;
        let e = validate(&c).unwrap_err().to_string();
        assert!(
            e.contains("sts.fleet_max_calls_per_second: needs [session_store]"),
            "{e}"
        );
    }

    #[test]
    fn a_key_file_wins_over_the_environment_and_previous_keys_follow() {
        let dir = tempfile::tempdir().unwrap();
        let (cur, old) = (dir.path().join("cur"), dir.path().join("old"));
        std::fs::write(&cur, format!("{KEY}\n")).unwrap();
        std::fs::write(&old, "//////////////////////////////////////////8=").unwrap();
        let lines = format!(
            "url = \"rediss://cache:6380\"\ncluster = true\nkey_file = \"{}\"\nprevious_key_files = [\"{}\"]",
            cur.display(),
            old.display()
        );
        let mut env = env_key("//////////////////////////////////////////8=");
        env.previous = Some(KEY.into());
        let st = with_store(&lines, env).unwrap().store.unwrap();
        let firsts: Vec<u8> = st.keys.0.iter().map(|k| k[1]).collect();
        assert_eq!(
            firsts,
            [1, 255, 1],
            "file key, previous file, previous variable"
        );
        assert!(st.target.cluster);
    }
}
