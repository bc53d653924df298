//! Facts about the Chime messaging WebSocket: the endpoint's shape and the close codes the
//! client SDK acts on. Pure functions.

/// How to reach the messaging endpoint that GetMessagingSessionEndpoint named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEndpoint {
    /// `host[:port]`, signed as the `host` header.
    pub host: String,
    /// Plain `ws://` is used only for loopback hosts (local stand-ins), like plain HTTP elsewhere.
    pub secure: bool,
}

/// `Endpoint.Url` is documented as a bare host (`node001.ue1.ws-messaging.chime.aws`); tolerate a
/// scheme prefix and a trailing slash.
pub fn session_endpoint(url: &str) -> Option<SessionEndpoint> {
    let bare = ["wss://", "https://", "ws://", "http://"]
        .iter()
        .find_map(|p| url.strip_prefix(p))
        .unwrap_or(url)
        .trim_end_matches('/');
    let valid = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    if bare.is_empty() || !bare.chars().all(valid) {
        return None;
    }
    let host_only = bare.rsplit_once(':').map_or(bare, |(h, _)| h);
    let loopback = host_only == "localhost"
        || host_only
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    Some(SessionEndpoint {
        host: bare.to_owned(),
        secure: !loopback,
    })
}

/// Sent to clients before their session's credentials expire. The JS SDK reconnects on 1001
/// (and 1006, 1011–1014, 4xxx except 4002/4003/4401), fetching a fresh endpoint.
pub const CLOSE_RECONNECT: u16 = 1001;

/// The codes `stsgate_websocket_closes_total{code}` names, besides `other_4xxx` and `other`.
pub const CLOSE_LABELS: &[&str] = &[
    "1000", "1001", "1002", "1003", "1005", "1006", "1007", "1008", "1009", "1011", "1012", "1013",
    "1014", "4002", "4003", "4401",
];

/// Closed label set for `stsgate_websocket_closes_total{code}`.
pub fn close_code_label(code: u16) -> &'static str {
    match code {
        1000 => "1000",
        1001 => "1001",
        1002 => "1002",
        1003 => "1003",
        1005 => "1005",
        1006 => "1006",
        1007 => "1007",
        1008 => "1008",
        1009 => "1009",
        1011 => "1011",
        1012 => "1012",
        1013 => "1013",
        1014 => "1014",
        4002 => "4002",
        4003 => "4003",
        4401 => "4401",
        4000..=4999 => "other_4xxx",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_shapes() {
        let e = session_endpoint("node001.ue1.ws-messaging.chime.aws").unwrap();
        assert_eq!(
            (e.host.as_str(), e.secure),
            ("node001.ue1.ws-messaging.chime.aws", true)
        );
        assert_eq!(
            session_endpoint("wss://node001.ue1.ws-messaging.chime.aws/")
                .unwrap()
                .host,
            "node001.ue1.ws-messaging.chime.aws"
        );
        let local = session_endpoint("127.0.0.1:9999/").unwrap();
        assert_eq!(
            (local.host.as_str(), local.secure),
            ("127.0.0.1:9999", false)
        );
        assert!(session_endpoint("evil.example/path?x").is_none());
        assert!(session_endpoint("").is_none());
    }

    #[test]
    fn close_labels_are_bounded() {
        assert_eq!(close_code_label(4003), "4003");
        assert_eq!(close_code_label(4123), "other_4xxx");
        assert_eq!(close_code_label(65535), "other");
    }
}
