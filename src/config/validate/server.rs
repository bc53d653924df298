//! The listeners and the request path's own limits.

use super::Problems;
use crate::config::Config;
use crate::config::settings::{ProxySettings, ServerSettings};
use std::time::Duration;

pub(super) fn server(c: &Config, p: &mut Problems) -> ServerSettings {
    p.positive(&[
        ("header_read_timeout_seconds", c.header_read_timeout_seconds),
        ("idle_timeout_seconds", c.idle_timeout_seconds),
        ("http2_keepalive_seconds", c.http2_keepalive_seconds),
        ("max_connections", c.max_connections as u64),
        ("shutdown_grace_seconds", c.shutdown_grace_seconds),
    ]);
    ServerSettings {
        header_read_timeout: Duration::from_secs(c.header_read_timeout_seconds),
        idle_timeout: Duration::from_secs(c.idle_timeout_seconds),
        http2_keepalive: Duration::from_secs(c.http2_keepalive_seconds),
        max_connections: c.max_connections,
        // hyper needs at least 8 KiB; headers between the two limits get stsgate's JSON 431.
        max_head_buffer: (c.max_header_bytes * 2).max(16 * 1024),
        shutdown_grace: Duration::from_secs(c.shutdown_grace_seconds),
        worker_threads: worker_threads(c, p),
        tls: super::clients::tls(c, p),
    }
}

/// Above this, `worker_threads` is a typo, not a machine: each thread holds a stack and a share of
/// the runtime's queues.
const MAX_WORKER_THREADS: usize = 1024;

/// `worker_threads`, with 0 resolved to the CPUs this process may use. The standard library reads
/// the CPU affinity and the cgroup quota, so a pod with a CPU limit of 2 on a 64-core node gets
/// 2; without a limit the manifests in `deploy/` pass the CPU request instead.
fn worker_threads(c: &Config, p: &mut Problems) -> usize {
    if c.worker_threads > MAX_WORKER_THREADS {
        p.bad("worker_threads", format!("at most {MAX_WORKER_THREADS}"));
    }
    match c.worker_threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

pub(super) fn proxy(c: &Config, p: &mut Problems) -> ProxySettings {
    // Port 0 asks the OS for a free port, so two zeros never collide.
    if c.listen == c.admin_listen && c.listen.port() != 0 {
        p.bad("admin_listen", "must differ from listen");
    }
    if c.max_token_bytes < 64 {
        p.bad("max_token_bytes", "must be at least 64");
    }
    if c.max_saml_bytes < 64 {
        p.bad("max_saml_bytes", "must be at least 64");
    }
    p.positive(&[
        ("max_body_bytes", c.max_body_bytes as u64),
        ("max_header_bytes", c.max_header_bytes as u64),
        ("body_read_timeout_seconds", c.body_read_timeout_seconds),
        ("saml_queue_timeout_seconds", c.saml_queue_timeout_seconds),
    ]);
    if c.token_cache_max_entries > 0 && c.token_cache_max_bytes < 1024 * 1024 {
        p.bad(
            "token_cache_max_bytes",
            "at least 1048576 while the cache is on",
        );
    }
    if c.max_header_bytes < 4096 {
        p.bad(
            "max_header_bytes",
            "at least 4096 (SDK requests carry a few KiB of headers)",
        );
    }
    // A credential of the largest size allowed must fit in the headers that carry it.
    let credential = match c.saml_idps.is_empty() {
        true => ("max_token_bytes", c.max_token_bytes),
        false => ("max_saml_bytes", c.max_saml_bytes.max(c.max_token_bytes)),
    };
    if c.max_header_bytes <= credential.1 {
        p.bad(
            "max_header_bytes",
            format!(
                "must exceed {} ({}) so such a credential can arrive",
                credential.0, credential.1
            ),
        );
    }
    ProxySettings {
        max_body_bytes: c.max_body_bytes,
        max_header_bytes: c.max_header_bytes,
        max_requests_per_user_per_second: c.max_requests_per_user_per_second,
        body_read_timeout: Duration::from_secs(c.body_read_timeout_seconds),
        vending: c.vending.enabled,
        cors: super::clients::cors(c, p),
        session_token_auth: c.compat.session_token_auth,
        public_host: super::clients::public_host(c, p),
        display_name_claim: c.chime.display_name_claim.clone(),
    }
}
