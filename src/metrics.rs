//! Prometheus metrics: one registry per process, handles passed to each stage, text exposition
//! served only by the admin listener. Label values come from closed sets (`&'static str` codes),
//! never from users, ARNs or paths. Metric names are public interface.

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Every finished client request, by Chime operation and HTTP status returned.
    pub requests_total: IntCounterVec,
    /// stsgate's own time per request (everything but the upstream), by operation.
    pub request_duration: HistogramVec,
    /// Time until the upstream's response headers, by operation.
    pub upstream_duration: HistogramVec,
    pub websocket_open: IntGauge,
    /// Frames relayed, by direction (`to_upstream`, `to_client`).
    pub websocket_frames: IntCounterVec,
    /// Bridged WebSockets closed, by close code.
    pub websocket_closes: IntCounterVec,
    /// `POST /credentials` answers that handed out credentials.
    pub credentials_vended: IntCounter,
    /// Validated-token cache lookups.
    pub token_cache_hits: IntCounter,
    pub token_cache_misses: IntCounter,
    /// JWKS (and discovery) fetches, by result (`ok`, `failed`).
    pub jwks_fetches: IntCounterVec,
    pub token_rejections: IntCounterVec,
    pub credential_cache_hits: IntCounter,
    pub credential_cache_misses: IntCounter,
    /// Sessions in the cache (updated when scraped).
    pub credential_cache_sessions: IntGauge,
    /// Entries removed by the cache itself, by cause (`size`, `expired`).
    pub credential_cache_evictions: IntCounterVec,
    /// Background refresh-ahead outcomes (`ok`, `failed`).
    pub credential_refreshes: IntCounterVec,
    /// Requests signed with a session in its last minute: a refresh that came too late.
    pub credential_near_expiry: IntCounter,
    pub sts_assume_role_duration: Histogram,
    pub sts_assume_role_errors: IntCounterVec,
    pub sts_assume_role_in_flight: IntGauge,
    /// Calls waiting for a concurrency or rate slot.
    pub sts_assume_role_queued: IntGauge,
    pub sts_assume_role_retries: IntCounter,
    /// Requests answered from the negative cache instead of calling STS again.
    pub sts_negative_cache_hits: IntCounter,
    /// Client connections open (both listeners).
    pub connections_open: IntGauge,
    /// Connections closed at once because `max_connections` were open.
    pub connections_refused: IntCounter,
    /// Connections closed by a limit, by kind (`header`: headers too slow, `idle`).
    pub connection_timeouts: IntCounterVec,
}

/// AssumeRole latency buckets: resolve 5 ms (loopback stand-ins) up to 10 s (throttled STS).
const STS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Per-request latency buckets: 100 µs (stsgate's own work) to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0,
];

fn histogram_vec(r: &Registry, name: &str, help: &str, buckets: &[f64]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    register(
        r,
        HistogramVec::new(opts, &["operation"]).expect("valid metric"),
    )
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    register(r, IntCounter::new(name, help).expect("valid metric"))
}

fn counter_vec(r: &Registry, name: &str, help: &str, label: &str) -> IntCounterVec {
    register(
        r,
        IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric"),
    )
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    register(r, IntGauge::new(name, help).expect("valid metric"))
}

fn register<C: Collector + Clone + 'static>(r: &Registry, c: C) -> C {
    r.register(Box::new(c.clone())).expect("unique metric name");
    c
}

impl Metrics {
    pub fn new() -> Self {
        let r = Registry::new();
        Metrics {
            requests_total: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "stsgate_requests_total",
                        "Client requests finished, by operation and HTTP status",
                    ),
                    &["operation", "status"],
                )
                .expect("valid metric"),
            ),
            request_duration: histogram_vec(
                &r,
                "stsgate_request_duration_seconds",
                "stsgate's own time per request, upstream excluded",
                LATENCY_BUCKETS,
            ),
            upstream_duration: histogram_vec(
                &r,
                "stsgate_upstream_duration_seconds",
                "Time until the upstream's response headers",
                LATENCY_BUCKETS,
            ),
            websocket_open: gauge(
                &r,
                "stsgate_websocket_open",
                "Bridged messaging WebSockets open",
            ),
            websocket_frames: counter_vec(
                &r,
                "stsgate_websocket_frames_total",
                "WebSocket frames relayed, by direction",
                "direction",
            ),
            websocket_closes: counter_vec(
                &r,
                "stsgate_websocket_closes_total",
                "Bridged WebSockets closed, by close code",
                "code",
            ),
            credentials_vended: counter(
                &r,
                "stsgate_credentials_vended_total",
                "Session credentials handed to clients by POST /credentials",
            ),
            token_cache_hits: counter(
                &r,
                "stsgate_token_cache_hits_total",
                "Requests whose token was found in the validated-token cache",
            ),
            token_cache_misses: counter(
                &r,
                "stsgate_token_cache_misses_total",
                "Requests whose token had to be verified",
            ),
            jwks_fetches: counter_vec(
                &r,
                "stsgate_jwks_fetches_total",
                "JWKS fetches, by result",
                "result",
            ),
            token_rejections: counter_vec(
                &r,
                "stsgate_token_rejections_total",
                "Refused client identities, by reason",
                "reason",
            ),
            credential_cache_hits: counter(
                &r,
                "stsgate_credential_cache_hits_total",
                "Requests served with a cached STS session",
            ),
            credential_cache_misses: counter(
                &r,
                "stsgate_credential_cache_misses_total",
                "Requests that found no cached STS session",
            ),
            credential_cache_sessions: gauge(
                &r,
                "stsgate_credential_cache_sessions",
                "STS sessions currently cached",
            ),
            credential_cache_evictions: counter_vec(
                &r,
                "stsgate_credential_cache_evictions_total",
                "Sessions removed by the cache, by cause",
                "cause",
            ),
            credential_refreshes: counter_vec(
                &r,
                "stsgate_credential_refreshes_total",
                "Background session refreshes, by result",
                "result",
            ),
            credential_near_expiry: counter(
                &r,
                "stsgate_credential_near_expiry_total",
                "Requests signed with a session in its last minute",
            ),
            sts_assume_role_duration: register(
                &r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "stsgate_sts_assume_role_duration_seconds",
                        "Latency of one STS AssumeRole call",
                    )
                    .buckets(STS_BUCKETS.to_vec()),
                )
                .expect("valid metric"),
            ),
            sts_assume_role_errors: counter_vec(
                &r,
                "stsgate_sts_assume_role_errors_total",
                "Failed AssumeRole calls, by STS error code",
                "code",
            ),
            sts_assume_role_in_flight: gauge(
                &r,
                "stsgate_sts_assume_role_in_flight",
                "AssumeRole calls in progress",
            ),
            sts_assume_role_queued: gauge(
                &r,
                "stsgate_sts_assume_role_queued",
                "AssumeRole calls waiting for a concurrency or rate slot",
            ),
            sts_assume_role_retries: counter(
                &r,
                "stsgate_sts_assume_role_retries_total",
                "AssumeRole calls retried after throttling or a transient failure",
            ),
            sts_negative_cache_hits: counter(
                &r,
                "stsgate_sts_negative_cache_hits_total",
                "Requests refused from the negative cache without calling STS",
            ),
            connections_open: gauge(&r, "stsgate_connections_open", "Client connections open"),
            connections_refused: counter(
                &r,
                "stsgate_connections_refused_total",
                "Connections closed at once because max_connections were open",
            ),
            connection_timeouts: counter_vec(
                &r,
                "stsgate_connection_timeouts_total",
                "Connections closed by a timeout, by kind",
                "kind",
            ),
            registry: r,
        }
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into a Vec cannot fail");
        String::from_utf8(out).expect("prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
