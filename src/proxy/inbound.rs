//! What a client request may look like at the HTTP level before stsgate acts on it: no dot or
//! empty path segments (a normalising signer or server would read another path), no
//! `Connection` header naming a header stsgate checks or signs, only the content types Chime's
//! REST-JSON operations take, and only an allow-list of headers forwarded. Pure.

use crate::error::GatewayError;
use http::header::{self, HeaderName};
use http::request::Parts;
use http::{HeaderMap, HeaderValue};
use percent_encoding::percent_decode_str;

/// Client headers that travel to Chime (plus the bound `x-amz-chime-bearer` and what the signer
/// adds). Everything else stays here: cookies, origins, forwarding and override headers, the
/// client's own signing artefacts, any other `x-amz-*`.
const FORWARDED: &[HeaderName] = &[
    header::CONTENT_TYPE,
    header::ACCEPT,
    header::ACCEPT_ENCODING,
    header::USER_AGENT,
];

/// Media types Chime's REST-JSON operations take: what the AWS SDKs send (`application/json`),
/// and the iOS SDK's `application/x-amz-json-1.0`.
const CONTENT_TYPES: &[&str] = &["application/json", "application/x-amz-json-1.0"];

/// A path whose every segment is a name: no `.` or `..` in any encoding, no empty segment.
pub fn check_path(raw_path: &str) -> Result<(), GatewayError> {
    let Some(rest) = raw_path.strip_prefix('/') else {
        return Err(bad("request target must be a path"));
    };
    for segment in rest.split('/') {
        if segment.is_empty() {
            return Err(bad("path has an empty segment"));
        }
        // Only a short segment can be a dot segment, "." up to "%2E%2E": longer ones (ARNs)
        // are not decoded, which saves a copy on every request.
        let dots = segment.len() <= "%2E%2E".len()
            && matches!(
                &*percent_decode_str(segment).decode_utf8_lossy(),
                "." | ".."
            );
        if dots {
            return Err(bad("path has a dot segment"));
        }
    }
    Ok(())
}

/// A `Connection` header may name only hop-by-hop headers, never one stsgate reads or signs.
pub fn check_connection(headers: &HeaderMap) -> Result<(), GatewayError> {
    for value in headers.get_all(header::CONNECTION) {
        let value = value
            .to_str()
            .map_err(|_| bad("Connection is not visible ASCII"))?;
        for name in value.split(',').map(|n| n.trim().to_ascii_lowercase()) {
            let protected = matches!(name.as_str(), "host" | "authorization" | "content-type")
                || name.starts_with("x-amz-");
            if protected {
                return Err(bad("Connection names a header stsgate checks or signs"));
            }
        }
    }
    Ok(())
}

/// The request head (target, header names and values) fits in `max` bytes (431 otherwise).
/// hyper refuses far larger heads itself; this gives the ones in between a JSON answer.
pub fn check_header_size(parts: &Parts, max: usize) -> Result<(), GatewayError> {
    let target = parts.uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    let headers: usize = parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if target + headers > max {
        return Err(GatewayError::HeadersTooLarge(max));
    }
    Ok(())
}

/// `Content-Type`, when present, is one Chime's REST-JSON operations take (415 otherwise).
pub fn check_content_type(headers: &HeaderMap) -> Result<(), GatewayError> {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let Some(value) = values.next() else {
        return Ok(());
    };
    let media = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    let accepted = media.is_some_and(|m| CONTENT_TYPES.contains(&m.as_str()));
    if !accepted || values.next().is_some() {
        return Err(GatewayError::UnsupportedMediaType);
    }
    Ok(())
}

/// The client headers that may be forwarded, each value kept as sent.
pub fn forwarded_headers(from: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(FORWARDED.len() + 4);
    for name in FORWARDED {
        for value in from.get_all(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Header values that will be signed must be visible ASCII; checked before any STS call.
pub fn check_signable(headers: &HeaderMap) -> Result<(), GatewayError> {
    let invisible = |v: &HeaderValue| v.to_str().is_err();
    match headers
        .iter()
        .find(|(n, v)| crate::signing::is_signed_header(n.as_str()) && invisible(v))
    {
        Some((name, _)) => Err(bad(&format!("header {name} is not visible ASCII"))),
        None => Ok(()),
    }
}

fn bad(why: &str) -> GatewayError {
    GatewayError::BadRequest(why.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn dot_and_empty_segments_in_any_encoding_are_refused() {
        for bad in [
            "/channels/a/messages/..",
            "/channels/a/messages/.",
            "/channels/a/messages/%2E",
            "/channels/a/messages/%2e%2e",
            "/channels/a/messages/.%2E",
            "/channels/a/../b",
            "/channels//messages",
            "/channels/a/",
            "channels",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        for ok in [
            "/channels",
            "/channels/arn%3Aaws%3Ax/messages/msg-1",
            "/channels/a.b/..c",
        ] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn connection_cannot_name_what_stsgate_signs() {
        for named in [
            "x-amz-chime-bearer",
            "close, Host",
            "Authorization",
            "content-type",
            "X-Amz-Date",
        ] {
            assert!(
                check_connection(&headers(&[("connection", named.as_bytes())])).is_err(),
                "{named}"
            );
        }
        assert!(check_connection(&headers(&[("connection", b"keep-alive, x-trace")])).is_ok());
    }

    #[test]
    fn only_chime_content_types() {
        for ok in [
            "application/json",
            "application/json; charset=UTF-8",
            "application/x-amz-json-1.0",
        ] {
            assert!(
                check_content_type(&headers(&[("content-type", ok.as_bytes())])).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "application/x-amz-json-1.1",
            "text/plain",
            "application/xml",
        ] {
            assert!(
                check_content_type(&headers(&[("content-type", bad.as_bytes())])).is_err(),
                "{bad}"
            );
        }
        let two = headers(&[
            ("content-type", b"application/json"),
            ("content-type", b"text/plain"),
        ]);
        assert!(check_content_type(&two).is_err());
        assert!(check_content_type(&HeaderMap::new()).is_ok());
    }

    #[test]
    fn only_the_allow_list_is_forwarded() {
        let from = headers(&[
            ("content-type", b"application/json"),
            ("user-agent", b"aws-sdk-js/3"),
            ("accept", b"*/*"),
            ("cookie", b"s=1"),
            ("x-amz-target", b"Chime.X"),
            ("x-amz-meta", "café".as_bytes()),
            ("x-http-method-override", b"DELETE"),
            ("x-forwarded-for", b"10.0.0.1"),
            ("origin", b"https://app.example"),
            ("amz-sdk-invocation-id", b"1"),
        ]);
        let mut kept: Vec<_> = forwarded_headers(&from)
            .keys()
            .map(|k| k.as_str().to_owned())
            .collect();
        kept.sort();
        assert_eq!(kept, ["accept", "content-type", "user-agent"]);
        assert!(
            check_signable(&from).is_err(),
            "x-amz-meta: café cannot be signed"
        );
        assert!(check_signable(&forwarded_headers(&from)).is_ok());
    }
}
