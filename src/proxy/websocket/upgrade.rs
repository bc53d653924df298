//! The server half of the client's WebSocket handshake, and refusing after it: Chime completes
//! the upgrade and then closes with a code (4401, 4003, …), and that close code is the only
//! refusal the Chime JS SDK acts on. An HTTP error on the upgrade reaches it as 1006, which it
//! retries.

use crate::error::{ProxyBody, full};
use bytes::Bytes;
use futures_util::SinkExt;
use http::request::Parts;
use http::{HeaderValue, Response, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

/// How long a refused client gets to take its close frame.
const REFUSAL_SEND: Duration = Duration::from_secs(5);

pub type ClientSocket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// A validated client upgrade request, ready to be answered with 101.
pub struct Upgrade {
    accept: String,
    on_upgrade: OnUpgrade,
}

impl Upgrade {
    /// Checks the WebSocket handshake headers and takes the connection's upgrade handle.
    pub fn from_parts(parts: &mut Parts) -> Option<Self> {
        let h = &parts.headers;
        let has = |name: header::HeaderName, want: &str| {
            h.get_all(name).iter().any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(want)))
            })
        };
        if !has(header::UPGRADE, "websocket")
            || !has(header::CONNECTION, "upgrade")
            || !has(header::SEC_WEBSOCKET_VERSION, "13")
        {
            return None;
        }
        let accept = derive_accept_key(h.get(header::SEC_WEBSOCKET_KEY)?.as_bytes());
        let on_upgrade = parts.extensions.remove::<OnUpgrade>()?;
        Some(Upgrade { accept, on_upgrade })
    }

    /// The 101 response and, once it is sent, the client's socket.
    pub fn accept(
        self,
        config: WebSocketConfig,
    ) -> (
        Response<ProxyBody>,
        impl Future<Output = Option<ClientSocket>>,
    ) {
        let mut resp = Response::new(full(Bytes::new()));
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = resp.headers_mut();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_str(&self.accept).expect("base64 is a valid header"),
        );
        let socket = async move {
            let upgraded = self.on_upgrade.await.ok()?;
            Some(
                WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await,
            )
        };
        (resp, socket)
    }

    /// Completes the handshake, then closes with `code` and `reason`.
    pub fn refuse(self, code: u16, reason: &str) -> Response<ProxyBody> {
        let (resp, socket) = self.accept(super::socket_config());
        // A close reason is at most 123 bytes.
        let reason: String = reason.chars().take(100).collect();
        tokio::spawn(async move {
            let Some(mut ws) = socket.await else { return };
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            };
            let _ = tokio::time::timeout(REFUSAL_SEND, ws.send(Message::Close(Some(frame)))).await;
            let _ = tokio::time::timeout(REFUSAL_SEND, ws.close(None)).await;
        });
        resp
    }
}
