//! The messaging WebSocket bridge. A client that cannot presign opens `GET /connect` on stsgate;
//! stsgate asks Chime for the session endpoint with the user's STS session, presigns
//! `wss://{endpoint}/connect` (10 s, `host` only, session token in the signed query), connects,
//! answers the client's upgrade and relays frames both ways until either side closes, the idle
//! limit passes, or the session's credentials near their end (then the client gets 1001 and
//! reconnects, as the Chime SDK does on that code). Every send has a deadline, so a peer that
//! stops reading cannot pin the relay past its timers; each user has a cap on open sockets.

use super::Upstream;
use crate::broker::SessionCredentials;
use crate::chime::messaging_session::{
    CLOSE_RECONNECT, SessionEndpoint, close_code_label, session_endpoint,
};
use crate::config::settings::WebSocketSettings;
use crate::error::{GatewayError, ProxyBody, full};
use crate::http_client::FetchError;
use crate::metrics::Metrics;
use crate::signing::Signer;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::request::Parts;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{Connector, WebSocketStream, connect_async_tls_with_config};

/// Query parameters a client may pass through to Chime's `/connect`.
const PASSED_THROUGH: &[&str] = &["sessionId", "prefetch-on", "prefetch-sort-by"];
/// Stop using a socket this long before its credentials expire (AWS closes it at expiry).
const CREDENTIAL_SAFETY: Duration = Duration::from_secs(30);

pub struct Bridge {
    settings: WebSocketSettings,
    tls: Arc<rustls::ClientConfig>,
    metrics: Arc<Metrics>,
    /// Open sockets per AppInstanceUser.
    open: Arc<Mutex<HashMap<Arc<str>, usize>>>,
}

/// One of a user's open sockets; gives its place back when dropped.
pub struct SocketSlot {
    open: Arc<Mutex<HashMap<Arc<str>, usize>>>,
    user: Arc<str>,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().expect("socket count lock");
        if let Some(n) = open.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

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
}

/// One client's request for a bridged socket.
pub struct SocketRequest<'a> {
    pub upgrade: Upgrade,
    /// The client's raw query: `sessionId`, `prefetch-on`, `prefetch-sort-by` pass through.
    pub client_query: Option<&'a str>,
    /// The caller's AppInstanceUser ARN (`userArn`).
    pub user_arn: &'a str,
    pub session: Arc<SessionCredentials>,
    /// The caller's place under its socket cap, held for the socket's life.
    pub slot: SocketSlot,
    pub now: SystemTime,
    /// When the client's own identity expires: the socket does not outlive it.
    pub not_after: SystemTime,
}

pub type ClientSocket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

impl Bridge {
    pub fn new(
        settings: WebSocketSettings,
        tls: Arc<rustls::ClientConfig>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Bridge {
            settings,
            tls,
            metrics,
            open: Arc::default(),
        }
    }

    /// A place for one more socket of `user`, unless it has `max_per_user` open.
    pub fn reserve(&self, user: &Arc<str>) -> Result<SocketSlot, GatewayError> {
        let mut open = self.open.lock().expect("socket count lock");
        let n = open.entry(user.clone()).or_default();
        if *n >= self.settings.max_per_user {
            return Err(GatewayError::TooManySockets(self.settings.max_per_user));
        }
        *n += 1;
        Ok(SocketSlot {
            open: self.open.clone(),
            user: user.clone(),
        })
    }

    fn ws_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(Some(self.settings.max_message_bytes))
            .max_frame_size(Some(self.settings.max_message_bytes))
    }

    /// Opens the upstream socket for the caller and returns the client's 101; relaying runs in a
    /// task of its own.
    pub async fn connect(
        &self,
        r: SocketRequest<'_>,
        upstream: &Upstream,
        signer: &Signer,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        let SocketRequest {
            upgrade,
            client_query,
            user_arn,
            session,
            slot,
            now,
            not_after,
        } = r;
        let endpoint = self
            .session_endpoint(upstream, signer, &session, now)
            .await?;
        let mut params: Vec<(String, String)> =
            form_urlencoded::parse(client_query.unwrap_or_default().as_bytes())
                .into_owned()
                .filter(|(k, _)| PASSED_THROUGH.contains(&k.as_str()))
                .collect();
        if !params.iter().any(|(k, _)| k == "sessionId") {
            params.push(("sessionId".into(), fastrand::u32(..).to_string()));
        }
        params.push(("userArn".into(), user_arn.to_owned()));
        let borrowed: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let query = signer.presign_connect(&endpoint.host, &borrowed, &session.credentials, now)?;
        let url = format!(
            "{}://{}/connect?{query}",
            if endpoint.secure { "wss" } else { "ws" },
            endpoint.host
        );

        let connector = Connector::Rustls(self.tls.clone());
        let connect =
            connect_async_tls_with_config(url, Some(self.ws_config()), true, Some(connector));
        let (upstream_ws, _) = tokio::time::timeout(self.settings.connect_timeout, connect)
            .await
            .map_err(|_| GatewayError::Upstream(FetchError::Timeout))?
            .map_err(|e| {
                GatewayError::Upstream(FetchError::Transport(format!("messaging WebSocket: {e}")))
            })?;

        let ends = session
            .expires_at
            .checked_sub(CREDENTIAL_SAFETY)
            .unwrap_or(now)
            .min(not_after);
        let close_at = Instant::now() + ends.duration_since(now).unwrap_or_default();
        let (resp, client) = upgrade.accept(self.ws_config());
        let (metrics, limits) = (self.metrics.clone(), self.limits());
        tokio::spawn(async move {
            if let Some(client) = client.await {
                relay(client, upstream_ws, close_at, limits, &metrics).await;
            }
            drop(slot);
        });
        Ok(resp)
    }

    fn limits(&self) -> RelayLimits {
        RelayLimits {
            idle: self.settings.idle,
            send: self.settings.send_timeout,
        }
    }

    /// GetMessagingSessionEndpoint with the user's session.
    async fn session_endpoint(
        &self,
        upstream: &Upstream,
        signer: &Signer,
        session: &SessionCredentials,
        now: SystemTime,
    ) -> Result<SessionEndpoint, GatewayError> {
        let mut req = upstream.request(http::Method::GET, "/endpoints/messaging-session")?;
        signer.sign(&mut req, &session.credentials, now)?;
        let resp = upstream.forward(req).await?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), 64 * 1024)
            .collect()
            .await
            .map_err(|_| GatewayError::Upstream(FetchError::TooLarge(64 * 1024)))?
            .to_bytes();
        let bad = |why: String| GatewayError::Upstream(FetchError::Transport(why));
        if !status.is_success() {
            return Err(bad(format!(
                "GetMessagingSessionEndpoint answered {status}"
            )));
        }
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|_| bad("GetMessagingSessionEndpoint: not JSON".into()))?;
        v["Endpoint"]["Url"]
            .as_str()
            .and_then(session_endpoint)
            .ok_or_else(|| bad("GetMessagingSessionEndpoint: no usable Endpoint.Url".into()))
    }
}

#[derive(Clone, Copy)]
struct RelayLimits {
    /// Close after this long without a frame either way.
    idle: Duration,
    /// A frame not taken within this long means that side stopped reading.
    send: Duration,
}

/// Sends within `limit`; false when the peer failed or did not take the frame in time.
async fn send_within<S: SinkExt<Message> + Unpin>(
    tx: &mut S,
    msg: Message,
    limit: Duration,
) -> bool {
    matches!(tokio::time::timeout(limit, tx.send(msg)).await, Ok(Ok(())))
}

/// Relays frames both ways until a close, an error, the idle limit or `close_at`. Every send is
/// bounded by `limits.send`, so a side that stops reading delays the timers at most that long.
async fn relay<C, U>(
    client: C,
    upstream: U,
    close_at: Instant,
    limits: RelayLimits,
    metrics: &Metrics,
) where
    C: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + SinkExt<Message>
        + Unpin,
    U: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + SinkExt<Message>
        + Unpin,
{
    metrics.websocket_open.inc();
    let (mut c_tx, mut c_rx) = client.split();
    let (mut u_tx, mut u_rx) = upstream.split();
    let (idle, send) = (limits.idle, limits.send);
    let mut idle_at = Instant::now() + idle;
    let (code, to_client, to_upstream): (u16, Option<CloseFrame>, Option<CloseFrame>) = loop {
        tokio::select! {
            m = c_rx.next() => match m {
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map_or(1005, |f| u16::from(f.code));
                    break (code, None, frame);
                }
                Some(Ok(msg)) => {
                    idle_at = Instant::now() + idle;
                    metrics.websocket_frames.with_label_values(&["to_upstream"]).inc();
                    if !send_within(&mut u_tx, msg, send).await {
                        break (1011, Some(close(1011, "upstream failed or stopped reading")), None);
                    }
                }
                Some(Err(e)) => {
                    // Tell the client why (1009 for an oversize message); end upstream normally.
                    let code = error_code(&e);
                    break (code, Some(close(code, "message too large or malformed")), Some(close(1000, "client error")));
                }
                None => break (1006, None, Some(close(1001, "client went away"))),
            },
            m = u_rx.next() => match m {
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map_or(1005, |f| u16::from(f.code));
                    break (code, frame, None);
                }
                Some(Ok(msg)) => {
                    idle_at = Instant::now() + idle;
                    metrics.websocket_frames.with_label_values(&["to_client"]).inc();
                    if !send_within(&mut c_tx, msg, send).await {
                        // The client is gone or not reading: nothing more can reach it.
                        break (1006, None, Some(close(1001, "client went away")));
                    }
                }
                Some(Err(_)) | None => break (1011, Some(close(1011, "upstream connection lost")), None),
            },
            _ = sleep_until(idle_at) => break (1001, Some(close(1001, "idle")), Some(close(1000, "idle"))),
            _ = sleep_until(close_at) => break (
                CLOSE_RECONNECT,
                Some(close(CLOSE_RECONNECT, "session credentials expiring; reconnect")),
                Some(close(1000, "session credentials expiring")),
            ),
        }
    };
    if let Some(f) = to_client {
        send_within(&mut c_tx, Message::Close(Some(f)), send).await;
    }
    if let Some(f) = to_upstream {
        send_within(&mut u_tx, Message::Close(Some(f)), send).await;
    }
    let _ = tokio::time::timeout(send, c_tx.close()).await;
    let _ = tokio::time::timeout(send, u_tx.close()).await;
    metrics
        .websocket_closes
        .with_label_values(&[close_code_label(code)])
        .inc();
    metrics.websocket_open.dec();
}

fn close(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(reason),
    }
}

/// 1009 for an oversize message, 1002 for protocol violations, 1011 otherwise.
fn error_code(e: &tokio_tungstenite::tungstenite::Error) -> u16 {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Capacity(_) => 1009,
        Error::Protocol(_) | Error::Utf8(_) => 1002,
        _ => 1011,
    }
}
