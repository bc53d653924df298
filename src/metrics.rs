//! Prometheus metrics: one registry per process, handles passed to each stage, text exposition
//! served only by the admin listener. Label values come from closed sets (`&'static str` codes),
//! never from users, ARNs or paths. Metric names are public interface.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Every finished client request, by HTTP status returned.
    pub requests_total: IntCounterVec,
    pub credential_cache_hits: IntCounter,
    pub credential_cache_misses: IntCounter,
    pub sts_assume_role_duration: Histogram,
    pub sts_assume_role_errors: IntCounterVec,
    pub token_rejections: IntCounterVec,
}

/// AssumeRole latency buckets: resolve 5 ms (loopback stand-ins) up to 10 s (throttled STS).
const STS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let m = Metrics {
            requests_total: IntCounterVec::new(
                Opts::new(
                    "stsgate_requests_total",
                    "Client requests finished, by HTTP status",
                ),
                &["status"],
            )
            .expect("valid metric"),
            credential_cache_hits: IntCounter::new(
                "stsgate_credential_cache_hits_total",
                "Requests served with a cached STS session",
            )
            .expect("valid metric"),
            credential_cache_misses: IntCounter::new(
                "stsgate_credential_cache_misses_total",
                "Requests that found no cached STS session",
            )
            .expect("valid metric"),
            sts_assume_role_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "stsgate_sts_assume_role_duration_seconds",
                    "Latency of STS AssumeRole calls, retries included",
                )
                .buckets(STS_BUCKETS.to_vec()),
            )
            .expect("valid metric"),
            sts_assume_role_errors: IntCounterVec::new(
                Opts::new(
                    "stsgate_sts_assume_role_errors_total",
                    "Failed AssumeRole calls, by STS error code",
                ),
                &["code"],
            )
            .expect("valid metric"),
            token_rejections: IntCounterVec::new(
                Opts::new(
                    "stsgate_token_rejections_total",
                    "Refused client identities, by reason",
                ),
                &["reason"],
            )
            .expect("valid metric"),
            registry,
        };
        let r = &m.registry;
        r.register(Box::new(m.requests_total.clone()))
            .expect("unique metric");
        r.register(Box::new(m.credential_cache_hits.clone()))
            .expect("unique metric");
        r.register(Box::new(m.credential_cache_misses.clone()))
            .expect("unique metric");
        r.register(Box::new(m.sts_assume_role_duration.clone()))
            .expect("unique metric");
        r.register(Box::new(m.sts_assume_role_errors.clone()))
            .expect("unique metric");
        r.register(Box::new(m.token_rejections.clone()))
            .expect("unique metric");
        m
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
