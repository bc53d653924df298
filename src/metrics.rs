//! Prometheus metrics: one registry per process, handles passed to each stage, text exposition
//! served only by the admin listener. Label values come from closed sets (typed [`Label`] enums,
//! or `&'static str` codes from a fixed list), never from users, ARNs or paths; the closed sets
//! are created at zero, so dashboards and alerts see every series from the start. Metric names
//! are public interface.

use crate::chime::messaging_session::CLOSE_LABELS;
use crate::identity::IdentityError;
use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use std::marker::PhantomData;

/// A closed set of label values.
pub trait Label: Copy + 'static {
    const ALL: &'static [Self];
    fn label(self) -> &'static str;
}

macro_rules! label_set {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $value:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }
        impl Label for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];
            fn label(self) -> &'static str {
                match self { $(Self::$variant => $value),+ }
            }
        }
    };
}

label_set!(
    /// `stsgate_websocket_frames_total{direction}`.
    Direction { ToUpstream => "to_upstream", ToClient => "to_client" }
);
label_set!(
    /// JWKS fetches and background refreshes.
    Outcome { Ok => "ok", Failed => "failed" }
);
label_set!(
    /// `stsgate_credential_cache_evictions_total{cause}`.
    Eviction { Size => "size", Expired => "expired" }
);
label_set!(
    /// `stsgate_connection_timeouts_total{kind}`.
    Timeout { Header => "header", Idle => "idle" }
);

label_set!(
    /// `stsgate_limit_refusals_total{limit}`: the request limit that refused a request.
    Limit {
        HeaderBytes => "max_header_bytes",
        BodyBytes => "max_body_bytes",
        BodyTimeout => "body_read_timeout",
        CredentialBytes => "max_credential_bytes",
        UserRate => "max_requests_per_user_per_second",
        UserSockets => "websocket_max_per_user",
        SamlQueue => "saml_queue_timeout",
        GuestsPerMinute => "guests.max_per_minute",
        GuestsTotalPerMinute => "guests.max_total_per_minute",
    }
);

label_set!(
    /// `stsgate_session_store_errors_total{op}` and the store's latency histogram.
    StoreOp { Get => "get", Put => "put", Lease => "lease", Release => "release", Rate => "rate" }
);
label_set!(
    /// `stsgate_session_store_lookups_total{result}`; `refused`: an entry that did not open
    /// (tampered, foreign key), replaced.
    StoreLookup {
        Hit => "hit",
        Miss => "miss",
        Refused => "refused",
        Unavailable => "unavailable",
    }
);
label_set!(
    /// `stsgate_session_store_leases_total{outcome}`: won at once; found held, so the replica
    /// waited for another's result; or won after waiting, once the holder's lease expired
    /// without a result.
    LeaseOutcome { Won => "won", Waited => "waited", Expired => "expired" }
);

/// A counter per value of a closed label set.
#[derive(Clone)]
pub struct Counters<L: Label>(IntCounterVec, PhantomData<L>);

impl<L: Label> Counters<L> {
    pub fn inc(&self, l: L) {
        self.0.with_label_values(&[l.label()]).inc();
    }

    pub fn get(&self, l: L) -> u64 {
        self.0.with_label_values(&[l.label()]).get()
    }
}

/// STS error codes counted by name in `stsgate_sts_assume_role_errors_total{code}`.
pub const STS_ERROR_CODES: &[&str] = &[
    "AccessDenied",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "timeout",
    "network",
    "queue_timeout",
    "other",
];

pub struct Metrics {
    registry: Registry,
    /// Every finished client request, by Chime operation and HTTP status returned.
    pub requests_total: IntCounterVec,
    /// stsgate's own time per request (everything but the upstream), by operation.
    pub request_duration: HistogramVec,
    /// Time until the upstream's response headers, by operation.
    pub upstream_duration: HistogramVec,
    pub websocket_open: IntGauge,
    pub websocket_frames: Counters<Direction>,
    /// Bridged WebSockets closed, by close code.
    pub websocket_closes: IntCounterVec,
    /// `POST /credentials` answers that handed out credentials.
    pub credentials_vended: IntCounter,
    /// Validated-token cache lookups.
    pub token_cache_hits: IntCounter,
    pub token_cache_misses: IntCounter,
    /// JWKS (and discovery) fetches.
    pub jwks_fetches: Counters<Outcome>,
    /// Refused identities, by `IdentityError::reason`.
    pub token_rejections: IntCounterVec,
    pub credential_cache_hits: IntCounter,
    pub credential_cache_misses: IntCounter,
    /// Sessions in the cache (updated when scraped).
    pub credential_cache_sessions: IntGauge,
    /// Entries removed by the cache itself.
    pub credential_cache_evictions: Counters<Eviction>,
    /// Background refresh-ahead outcomes.
    pub credential_refreshes: Counters<Outcome>,
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
    /// Connections closed by a limit.
    pub connection_timeouts: Counters<Timeout>,
    /// Requests refused by a request limit (they also count in `requests_total`).
    pub limit_refusals: Counters<Limit>,
    /// `POST /guest` answers that issued a guest token.
    pub guest_tokens_issued: IntCounter,
    /// Changed TLS files that were loaded, or refused (the old certificate stays).
    pub tls_reloads: Counters<Outcome>,
    /// The serving certificate's notAfter (Unix seconds); 0 without TLS.
    pub tls_not_after: IntGauge,
    /// 1 while the shared session store answers (or none is configured), 0 while it rests.
    pub store_up: IntGauge,
    pub store_lookups: Counters<StoreLookup>,
    /// Failed or timed-out store calls (each makes the store rest `retry_interval_ms`).
    pub store_errors: Counters<StoreOp>,
    pub store_duration: HistogramVec,
    pub store_leases: Counters<LeaseOutcome>,
    /// Sessions obtained from STS directly because the store could not be asked.
    pub store_fallbacks: IntCounter,
    /// Time AssumeRole calls waited for the fleet-wide rate (`sts.fleet_max_calls_per_second`).
    pub fleet_rate_wait: Histogram,
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

/// Each metric's name and help text.
type Def = (&'static str, &'static str);

const REQUESTS: Def = (
    "stsgate_requests_total",
    "Client requests finished, by operation and HTTP status",
);
const REQUEST_DURATION: Def = (
    "stsgate_request_duration_seconds",
    "stsgate's own time per request, upstream excluded",
);
const UPSTREAM_DURATION: Def = (
    "stsgate_upstream_duration_seconds",
    "Time until the upstream's response headers",
);
const WS_OPEN: Def = (
    "stsgate_websocket_open",
    "Bridged messaging WebSockets open",
);
const WS_FRAMES: Def = (
    "stsgate_websocket_frames_total",
    "WebSocket frames relayed, by direction",
);
const WS_CLOSES: Def = (
    "stsgate_websocket_closes_total",
    "Bridged WebSockets closed, by close code",
);
const VENDED: Def = (
    "stsgate_credentials_vended_total",
    "Session credentials handed to clients by POST /credentials",
);
const TOKEN_HITS: Def = (
    "stsgate_token_cache_hits_total",
    "Requests whose token was found in the validated-token cache",
);
const TOKEN_MISSES: Def = (
    "stsgate_token_cache_misses_total",
    "Requests whose token had to be verified",
);
const JWKS: Def = ("stsgate_jwks_fetches_total", "JWKS fetches, by result");
const REJECTIONS: Def = (
    "stsgate_token_rejections_total",
    "Refused client identities, by reason",
);
const SESSION_HITS: Def = (
    "stsgate_credential_cache_hits_total",
    "Requests served with a cached STS session",
);
const SESSION_MISSES: Def = (
    "stsgate_credential_cache_misses_total",
    "Requests that found no cached STS session",
);
const SESSIONS: Def = (
    "stsgate_credential_cache_sessions",
    "STS sessions currently cached",
);
const EVICTIONS: Def = (
    "stsgate_credential_cache_evictions_total",
    "Sessions removed by the cache, by cause",
);
const REFRESHES: Def = (
    "stsgate_credential_refreshes_total",
    "Background session refreshes, by result",
);
const NEAR_EXPIRY: Def = (
    "stsgate_credential_near_expiry_total",
    "Requests signed with a session in its last minute",
);
const STS_DURATION: Def = (
    "stsgate_sts_assume_role_duration_seconds",
    "Latency of one STS AssumeRole call",
);
const STS_ERRORS: Def = (
    "stsgate_sts_assume_role_errors_total",
    "Failed AssumeRole calls, by STS error code",
);
const STS_IN_FLIGHT: Def = (
    "stsgate_sts_assume_role_in_flight",
    "AssumeRole calls in progress",
);
const STS_QUEUED: Def = (
    "stsgate_sts_assume_role_queued",
    "AssumeRole calls waiting for a concurrency or rate slot",
);
const STS_RETRIES: Def = (
    "stsgate_sts_assume_role_retries_total",
    "AssumeRole calls retried after throttling or a transient failure",
);
const NEGATIVE_HITS: Def = (
    "stsgate_sts_negative_cache_hits_total",
    "Requests refused from the negative cache without calling STS",
);
const CONNECTIONS: Def = ("stsgate_connections_open", "Client connections open");
const REFUSED: Def = (
    "stsgate_connections_refused_total",
    "Connections closed at once because max_connections were open",
);
const TIMEOUTS: Def = (
    "stsgate_connection_timeouts_total",
    "Connections closed by a timeout, by kind",
);

const LIMITS: Def = (
    "stsgate_limit_refusals_total",
    "Requests refused by a configured limit, by limit",
);

const GUESTS: Def = (
    "stsgate_guest_tokens_issued_total",
    "Guest tokens issued by POST /guest",
);
const TLS_RELOADS: Def = (
    "stsgate_tls_reloads_total",
    "Changed TLS certificate files, by result (failed: the previous certificate stays)",
);
const TLS_NOT_AFTER: Def = (
    "stsgate_tls_certificate_expiry_timestamp_seconds",
    "notAfter of the listener's serving certificate, in Unix seconds",
);

const STORE_UP: Def = (
    "stsgate_session_store_up",
    "1 while the shared session store answers (or none is configured), 0 while it is skipped after a failure",
);
const STORE_LOOKUPS: Def = (
    "stsgate_session_store_lookups_total",
    "Shared session store lookups after a local miss, by result",
);
const STORE_ERRORS: Def = (
    "stsgate_session_store_errors_total",
    "Failed or timed-out shared session store calls, by operation",
);
const STORE_DURATION: Def = (
    "stsgate_session_store_operation_duration_seconds",
    "Latency of one shared session store call, by operation",
);
const STORE_LEASES: Def = (
    "stsgate_session_store_leases_total",
    "AssumeRole leases: won at once, waited for another replica, or won after a lease expired",
);
const STORE_FALLBACKS: Def = (
    "stsgate_session_store_fallbacks_total",
    "Sessions obtained from STS directly because the shared store could not be asked",
);
const FLEET_RATE_WAIT: Def = (
    "stsgate_sts_fleet_rate_wait_seconds",
    "Time an AssumeRole call waited for the fleet-wide rate limit",
);

/// Shared-store call latency: 100 µs (same host) to the longest timeout.
const STORE_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Registers metrics in one registry.
struct Builder(Registry);

impl Builder {
    fn register<C: Collector + Clone + 'static>(&self, c: C) -> C {
        self.0
            .register(Box::new(c.clone()))
            .expect("unique metric name");
        c
    }

    fn counter(&self, (name, help): Def) -> IntCounter {
        self.register(IntCounter::new(name, help).expect("valid metric"))
    }

    fn gauge(&self, (name, help): Def) -> IntGauge {
        self.register(IntGauge::new(name, help).expect("valid metric"))
    }

    /// Counters by `labels`, with the series of `known` values (one label) created at zero.
    fn vec(&self, (name, help): Def, labels: &[&str], known: &[&str]) -> IntCounterVec {
        let v =
            self.register(IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"));
        for value in known {
            v.with_label_values(&[value]);
        }
        v
    }

    /// A counter per value of `L`, each created at zero.
    fn counters<L: Label>(&self, def: Def, label: &str) -> Counters<L> {
        let known: Vec<&str> = L::ALL.iter().map(|l| l.label()).collect();
        Counters(self.vec(def, &[label], &known), PhantomData)
    }

    fn histogram(&self, (name, help): Def, buckets: &[f64]) -> Histogram {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.register(Histogram::with_opts(opts).expect("valid metric"))
    }

    fn per_operation(&self, def: Def, buckets: &[f64]) -> HistogramVec {
        self.by_label(def, "operation", buckets)
    }

    fn by_label(&self, (name, help): Def, label: &str, buckets: &[f64]) -> HistogramVec {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.register(HistogramVec::new(opts, &[label]).expect("valid metric"))
    }
}

impl Metrics {
    pub fn new() -> Self {
        let b = Builder(Registry::new());
        Metrics {
            requests_total: b.vec(REQUESTS, &["operation", "status"], &[]),
            request_duration: b.per_operation(REQUEST_DURATION, LATENCY_BUCKETS),
            upstream_duration: b.per_operation(UPSTREAM_DURATION, LATENCY_BUCKETS),
            websocket_open: b.gauge(WS_OPEN),
            websocket_frames: b.counters(WS_FRAMES, "direction"),
            websocket_closes: b.vec(WS_CLOSES, &["code"], CLOSE_LABELS),
            credentials_vended: b.counter(VENDED),
            token_cache_hits: b.counter(TOKEN_HITS),
            token_cache_misses: b.counter(TOKEN_MISSES),
            jwks_fetches: b.counters(JWKS, "result"),
            token_rejections: b.vec(REJECTIONS, &["reason"], IdentityError::REASONS),
            credential_cache_hits: b.counter(SESSION_HITS),
            credential_cache_misses: b.counter(SESSION_MISSES),
            credential_cache_sessions: b.gauge(SESSIONS),
            credential_cache_evictions: b.counters(EVICTIONS, "cause"),
            credential_refreshes: b.counters(REFRESHES, "result"),
            credential_near_expiry: b.counter(NEAR_EXPIRY),
            sts_assume_role_duration: b.histogram(STS_DURATION, STS_BUCKETS),
            sts_assume_role_errors: b.vec(STS_ERRORS, &["code"], STS_ERROR_CODES),
            sts_assume_role_in_flight: b.gauge(STS_IN_FLIGHT),
            sts_assume_role_queued: b.gauge(STS_QUEUED),
            sts_assume_role_retries: b.counter(STS_RETRIES),
            sts_negative_cache_hits: b.counter(NEGATIVE_HITS),
            connections_open: b.gauge(CONNECTIONS),
            connections_refused: b.counter(REFUSED),
            connection_timeouts: b.counters(TIMEOUTS, "kind"),
            limit_refusals: b.counters(LIMITS, "limit"),
            guest_tokens_issued: b.counter(GUESTS),
            tls_reloads: b.counters(TLS_RELOADS, "result"),
            tls_not_after: b.gauge(TLS_NOT_AFTER),
            store_up: up(b.gauge(STORE_UP)),
            store_lookups: b.counters(STORE_LOOKUPS, "result"),
            store_errors: b.counters(STORE_ERRORS, "op"),
            store_duration: b.by_label(STORE_DURATION, "op", STORE_BUCKETS),
            store_leases: b.counters(STORE_LEASES, "outcome"),
            store_fallbacks: b.counter(STORE_FALLBACKS),
            fleet_rate_wait: b.histogram(FLEET_RATE_WAIT, STS_BUCKETS),
            registry: b.0,
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

/// A gauge that starts at 1.
fn up(g: IntGauge) -> IntGauge {
    g.set(1);
    g
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_label_sets_are_exported_at_zero_from_the_start() {
        let text = Metrics::new().render();
        for series in [
            "stsgate_jwks_fetches_total{result=\"failed\"} 0",
            "stsgate_credential_cache_evictions_total{cause=\"size\"} 0",
            "stsgate_credential_refreshes_total{result=\"ok\"} 0",
            "stsgate_websocket_frames_total{direction=\"to_client\"} 0",
            "stsgate_websocket_closes_total{code=\"4401\"} 0",
            "stsgate_sts_assume_role_errors_total{code=\"Throttling\"} 0",
            "stsgate_token_rejections_total{reason=\"verifier_busy\"} 0",
            "stsgate_connection_timeouts_total{kind=\"idle\"} 0",
            "stsgate_limit_refusals_total{limit=\"max_requests_per_user_per_second\"} 0",
            "stsgate_session_store_lookups_total{result=\"refused\"} 0",
            "stsgate_session_store_errors_total{op=\"lease\"} 0",
            "stsgate_session_store_leases_total{outcome=\"expired\"} 0",
        ] {
            assert!(text.contains(series), "{series} missing");
        }
    }
}
