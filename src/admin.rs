//! The admin listener, never the proxy port: `/metrics` (Prometheus text), `/healthz` (the
//! process is alive) and `/readyz` (config loaded, at least one issuer's keys fetched, base AWS
//! credentials resolved).

use crate::broker::SessionBroker;
use crate::error::{ProxyBody, full, json_response};
use crate::identity::IssuerKeys;
use crate::metrics::Metrics;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use std::sync::{Arc, Mutex};

/// What `/readyz` reports.
pub struct Readiness {
    issuers: Vec<Arc<IssuerKeys>>,
    saml_idps: Vec<String>,
    /// `None` until the first probe; then `Ok` or the reason the chain failed.
    base_credentials: Mutex<Option<Result<(), String>>>,
    /// Set when shutdown begins: not ready from then on, so traffic moves elsewhere.
    draining: std::sync::atomic::AtomicBool,
}

impl Readiness {
    /// `saml_idps`: entity IDs of the SAML IdPs, whose certificates are loaded before start.
    pub fn new(issuers: Vec<Arc<IssuerKeys>>, saml_idps: Vec<String>) -> Self {
        Readiness {
            issuers,
            saml_idps,
            base_credentials: Mutex::new(None),
            draining: Default::default(),
        }
    }

    /// Shutdown has begun: `/readyz` answers 503 from now on.
    pub fn set_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::Release);
    }

    pub fn set_base_credentials(&self, r: Result<(), String>) {
        *self.base_credentials.lock().expect("readiness lock") = Some(r);
    }

    pub fn report(&self) -> (bool, serde_json::Value) {
        let issuers: Vec<_> = self
            .issuers
            .iter()
            .map(|k| {
                serde_json::json!({
                    "issuer": k.issuer(),
                    "keys_loaded": k.is_loaded(),
                    // Set while the IdP is unreachable: the last good keys stay in use.
                    "last_fetch_error": k.last_error(),
                })
            })
            .collect();
        // Ready once any identity can be verified: SAML certificates are always loaded.
        let keys_ok = !self.saml_idps.is_empty() || self.issuers.iter().any(|k| k.is_loaded());
        let creds = self
            .base_credentials
            .lock()
            .expect("readiness lock")
            .clone();
        let creds_ok = matches!(creds, Some(Ok(())));
        let creds_detail = match creds {
            None => "not checked yet".to_owned(),
            Some(Ok(())) => "ok".to_owned(),
            Some(Err(e)) => e,
        };
        let draining = self.draining.load(std::sync::atomic::Ordering::Acquire);
        let ready = keys_ok && creds_ok && !draining;
        (
            ready,
            serde_json::json!({ "ready": ready, "draining": draining, "issuers": issuers, "saml_idps": self.saml_idps, "base_credentials": creds_detail }),
        )
    }
}

pub async fn handle(
    req: Request<Incoming>,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    broker: SessionBroker,
) -> Response<ProxyBody> {
    if req.method() != Method::GET {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({"error": "method_not_allowed", "message": "admin endpoints are GET only"}),
        );
    }
    match req.uri().path() {
        "/metrics" => {
            // Exact gauges at scrape time: the cache's count settles once maintenance has run.
            broker.sync().await;
            let mut r = Response::new(full(metrics.render()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        "/healthz" => json_response(StatusCode::OK, &serde_json::json!({"status": "ok"})),
        "/readyz" => {
            let (ready, detail) = readiness.report();
            let status = if ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            json_response(status, &detail)
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": "not_found", "message": "admin endpoints: /metrics, /healthz, /readyz"}),
        ),
    }
}
