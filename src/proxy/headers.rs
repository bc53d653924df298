//! Which headers cross the proxy. Hop-by-hop headers never do (RFC 9110 §7.6.1); the client's
//! own signing artefacts are dropped before re-signing.

use http::HeaderMap;
use http::header::{CONNECTION, HeaderName};

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Client headers that would be stale or forged after we sign: the client's auth, its SigV4
/// artefacts, and framing hyper recomputes (`host`, `content-length`, `expect`).
const REPLACED_ON_SIGNING: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "host",
    "content-length",
    "expect",
];

/// Removes hop-by-hop headers, including any the `Connection` header names.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    let named: Vec<HeaderName> = h
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        h.remove(n);
    }
    for n in HOP_BY_HOP {
        h.remove(*n);
    }
}

/// Prepares client headers for an upstream request that stsgate signs.
pub fn strip_for_upstream(h: &mut HeaderMap) {
    strip_hop_by_hop(h);
    for n in REPLACED_ON_SIGNING {
        h.remove(*n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_auth_artefacts_and_hop_by_hop() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer t"),
            ("x-amz-date", "20240101T000000Z"),
            ("x-amz-security-token", "tok"),
            ("x-amz-content-sha256", "abc"),
            ("connection", "close, x-private"),
            ("x-private", "1"),
            ("te", "trailers"),
            ("content-type", "application/json"),
            ("x-amz-chime-bearer", "arn"),
        ] {
            h.insert(k, v.parse().unwrap());
        }
        strip_for_upstream(&mut h);
        let mut left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        left.sort();
        assert_eq!(left, ["content-type", "x-amz-chime-bearer"]);
    }
}
