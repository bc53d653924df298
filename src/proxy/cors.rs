//! CORS for browser apps on other origins (`[cors]`): stsgate answers preflights itself (no token,
//! no STS, nothing forwarded) and puts `Access-Control-Allow-Origin` on every response to an
//! allowed origin, refusals and upstream errors included, so the SDKs can read them (a response
//! without it reaches the page as a network error, which the SDKs retry). Pure.

use crate::config::settings::CorsSettings;
use crate::error::{GatewayError, ProxyBody, full};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode};

/// The methods Chime's operations use.
const METHODS: &str = "GET, POST, PUT, DELETE";
/// The request headers the AWS and Chime SDKs send, signing headers included (session-token mode).
const ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "x-amz-chime-bearer",
    "x-amz-user-agent",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];
/// Response headers the SDKs read: the error's exception name, the request id, the back-off.
const EXPOSED: &str = "x-amzn-errortype, x-amzn-requestid, retry-after";

pub struct Cors(CorsSettings);

impl Cors {
    pub fn new(s: CorsSettings) -> Self {
        Cors(s)
    }

    /// The request's `Origin` if it is allowed.
    pub fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let allowed = match &self.0.origins {
            None => true,
            Some(list) => origin.to_str().is_ok_and(|o| list.contains(o)),
        };
        allowed.then(|| origin.clone())
    }

    /// Whether the request is a CORS preflight.
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The preflight answer: 204 with the allowed methods and headers, or a refusal without CORS
    /// headers for an origin, method or header that is not allowed.
    pub fn preflight(&self, headers: &HeaderMap) -> Result<Response<ProxyBody>, GatewayError> {
        let refuse = |why: &str| GatewayError::OriginNotAllowed(why.to_owned());
        let origin = self
            .allowed_origin(headers)
            .ok_or_else(|| refuse("this origin may not call stsgate"))?;
        let method = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
            .unwrap_or_default();
        if !METHODS.split(", ").any(|m| m == method) {
            return Err(refuse("the requested method is not one Chime uses"));
        }
        let asked = headers
            .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty());
        for h in asked {
            if !ALLOWED_HEADERS.contains(&h.as_str()) {
                return Err(refuse("a requested header is not one the SDKs send"));
            }
        }
        let mut resp = Response::new(full(""));
        *resp.status_mut() = StatusCode::NO_CONTENT;
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_str(&ALLOWED_HEADERS.join(", ")).expect("static header names"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            self.0.max_age.as_secs().into(),
        );
        self.decorate(&origin, &mut resp);
        Ok(resp)
    }

    /// Puts this origin's CORS headers on a response (replacing any the upstream sent).
    pub fn decorate(&self, origin: &HeaderValue, resp: &mut Response<ProxyBody>) {
        let h = resp.headers_mut();
        let foreign: Vec<HeaderName> = h
            .keys()
            .filter(|k| {
                k.as_str().starts_with("access-control-allow-")
                    || *k == header::ACCESS_CONTROL_EXPOSE_HEADERS
            })
            .filter(|k| !is_preflight_header(k))
            .cloned()
            .collect();
        for k in foreign {
            h.remove(k);
        }
        let value = if self.0.origins.is_none() {
            HeaderValue::from_static("*")
        } else {
            origin.clone()
        };
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
        if self.0.allow_credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

/// The preflight's own answer headers, which `decorate` keeps.
fn is_preflight_header(k: &HeaderName) -> bool {
    *k == header::ACCESS_CONTROL_ALLOW_METHODS || *k == header::ACCESS_CONTROL_ALLOW_HEADERS
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cors(origins: Option<&[&str]>, credentials: bool) -> Cors {
        Cors::new(CorsSettings {
            origins: origins.map(|o| o.iter().map(|s| s.to_string()).collect()),
            allow_credentials: credentials,
            max_age: Duration::from_secs(600),
        })
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn the_sdks_preflight_is_answered_for_an_allowed_origin() {
        let c = cors(Some(&["https://app.example"]), true);
        let asked = headers(&[
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "amz-sdk-invocation-id,amz-sdk-request,authorization,content-type,x-amz-chime-bearer,x-amz-content-sha256,x-amz-date,x-amz-security-token,x-amz-user-agent",
            ),
        ]);
        let r = c.preflight(&asked).unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], "https://app.example");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-max-age"], "600");
        assert_eq!(h["vary"], "Origin");
        assert!(
            h["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("PUT")
        );
    }

    #[test]
    fn other_origins_methods_and_headers_are_refused() {
        let c = cors(Some(&["https://app.example"]), false);
        for asked in [
            headers(&[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ]),
            headers(&[
                ("origin", "https://app.example"),
                ("access-control-request-method", "PATCH"),
            ]),
            headers(&[
                ("origin", "https://app.example"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "x-custom"),
            ]),
        ] {
            assert!(c.preflight(&asked).is_err(), "{asked:?}");
        }
        assert!(
            c.allowed_origin(&headers(&[("origin", "https://app.example.evil")]))
                .is_none()
        );
    }

    #[test]
    fn any_origin_gets_a_star_and_upstream_cors_headers_are_replaced() {
        let c = cors(None, false);
        let origin = c
            .allowed_origin(&headers(&[("origin", "https://x.example")]))
            .unwrap();
        let mut resp = Response::new(full(""));
        resp.headers_mut().insert(
            "access-control-allow-origin",
            "https://upstream".parse().unwrap(),
        );
        c.decorate(&origin, &mut resp);
        let h = resp.headers();
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(h["access-control-expose-headers"], EXPOSED);
        assert!(!h.contains_key("access-control-allow-credentials"));
    }
}
