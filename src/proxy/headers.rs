//! Hop-by-hop headers never cross the proxy (RFC 9110 §7.6.1): neither the client's (removed
//! before any check; the forwarded request is rebuilt from an allow-list anyway, `inbound.rs`) nor
//! the upstream's.

use http::HeaderMap;
use http::header::{
    CONNECTION, HeaderName, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER,
    TRANSFER_ENCODING, UPGRADE,
};

const HOP_BY_HOP: [HeaderName; 9] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name)
}

/// Removes hop-by-hop headers, including any the `Connection` header names. One pass over the
/// names present, and removals only for what is there: this runs on every request and answer,
/// and most carry none or only `Connection`.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    // Collecting nothing allocates nothing: the common case costs one scan of the names.
    let mut doomed: Vec<HeaderName> = h.keys().filter(|n| is_hop_by_hop(n)).cloned().collect();
    if doomed.contains(&CONNECTION) {
        // Only the names present: `Connection: keep-alive` names no header, and turning the
        // token into a `HeaderName` would allocate.
        let named: Vec<HeaderName> = h
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|n| h.contains_key(*n))
            .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
            .collect();
        doomed.extend(named);
    }
    for n in doomed {
        h.remove(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_what_connection_names_go() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "close, x-private"),
            ("x-private", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("content-type", "application/json"),
            ("x-amzn-requestid", "r1"),
        ] {
            h.insert(k, v.parse().unwrap());
        }
        strip_hop_by_hop(&mut h);
        let mut left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        left.sort();
        assert_eq!(left, ["content-type", "x-amzn-requestid"]);
    }

    #[test]
    fn without_hop_by_hop_headers_nothing_changes_and_every_name_is_caught() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/json".parse().unwrap());
        h.append("x-amz-chime-bearer", "arn".parse().unwrap());
        let before = h.clone();
        strip_hop_by_hop(&mut h);
        assert_eq!(h, before);
        for name in HOP_BY_HOP {
            let mut h = before.clone();
            h.insert(name.clone(), "x".parse().unwrap());
            strip_hop_by_hop(&mut h);
            assert_eq!(h, before, "{name} is removed");
        }
    }
}
