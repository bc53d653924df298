//! `[session_store]`: the shared session tier's keys, as the operator writes them.

use schemars::JsonSchema;
use serde::Deserialize;
use std::path::PathBuf;

/// The variable holding the sealing key when `session_store.key_file` is not set.
pub const ENV_STORE_KEY: &str = "STSGATE_SESSION_STORE_KEY";
/// Earlier keys still accepted for reading, comma-separated (besides `previous_key_files`).
pub const ENV_STORE_PREVIOUS_KEYS: &str = "STSGATE_SESSION_STORE_PREVIOUS_KEYS";

/// Sessions shared by every replica through Redis or Valkey: one AssumeRole per user for the
/// fleet, and a fleet-wide STS rate. Off when absent. `Debug` leaves out the URL (it may carry
/// a password).
#[derive(Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionStoreConfig {
    /// `redis://host:6379`, `rediss://host:6380` (TLS), `valkey://` or `valkeys://`; with
    /// `cluster`, any one node of the cluster. A password goes in the URL
    /// (`rediss://:secret@host`), best given as STSGATE_SESSION_STORE_URL.
    pub url: String,
    /// The store is a Redis Cluster (or Valkey cluster).
    #[serde(default)]
    pub cluster: bool,
    /// PEM CA certificates trusted for `rediss://`, instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// File holding the key that seals stored sessions and names entries: 32 random bytes,
    /// base64 (`openssl rand -base64 32`). When absent, read from STSGATE_SESSION_STORE_KEY.
    pub key_file: Option<PathBuf>,
    /// Files with earlier keys, still read during a rotation (STSGATE_SESSION_STORE_PREVIOUS_KEYS
    /// adds more, comma-separated).
    #[serde(default)]
    pub previous_key_files: Vec<PathBuf>,
    /// Prefix of every name stsgate writes, so several deployments can share one store.
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
    /// Longest wait for one store call before stsgate carries on without the store.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// After a failed or slow call, the store is skipped this long (local cache and STS only).
    #[serde(default = "default_retry_interval_ms")]
    pub retry_interval_ms: u64,
    /// Lifetime of the lease that lets one replica call STS for a session; renewed while the
    /// call runs, so it matters only when a replica dies mid-call.
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
    /// The key variables, read from the environment by the layering (never from the file).
    #[serde(skip)]
    #[schemars(skip)]
    pub env_keys: EnvKeys,
}

impl std::fmt::Debug for SessionStoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStoreConfig")
            .field("cluster", &self.cluster)
            .field("ca_file", &self.ca_file)
            .field("key_file", &self.key_file)
            .field("previous_key_files", &self.previous_key_files)
            .field("key_prefix", &self.key_prefix)
            .field("timeout_ms", &self.timeout_ms)
            .field("retry_interval_ms", &self.retry_interval_ms)
            .field("lease_ms", &self.lease_ms)
            .field("env_keys", &self.env_keys)
            .finish_non_exhaustive()
    }
}

/// STSGATE_SESSION_STORE_KEY and STSGATE_SESSION_STORE_PREVIOUS_KEYS. `Debug` shows only
/// whether each is set.
#[derive(Clone, Default)]
pub struct EnvKeys {
    pub current: Option<String>,
    pub previous: Option<String>,
}

impl EnvKeys {
    pub fn from_env(env: &[(String, String)]) -> Self {
        let get = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        EnvKeys {
            current: get(ENV_STORE_KEY),
            previous: get(ENV_STORE_PREVIOUS_KEYS),
        }
    }
}

impl std::fmt::Debug for EnvKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvKeys")
            .field("current", &self.current.is_some())
            .field("previous", &self.previous.is_some())
            .finish()
    }
}

fn default_prefix() -> String {
    "stsgate:".to_owned()
}
fn default_timeout_ms() -> u64 {
    100
}
fn default_retry_interval_ms() -> u64 {
    1000
}
fn default_lease_ms() -> u64 {
    1500
}
