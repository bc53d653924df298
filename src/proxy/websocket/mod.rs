//! The messaging WebSocket bridge. A client opens `GET /connect` on stsgate (with its own
//! signer's URL or a stock SDK's presigned one); stsgate asks Chime for the session endpoint with
//! the user's STS session, presigns `wss://{endpoint}/connect` (10 s, `host` only, session token
//! in the signed query), connects, answers the client's upgrade and relays frames both ways
//! (`relay.rs`). Each user has a cap on open sockets. Refusals complete the handshake and close
//! with a code the SDK understands (`upgrade.rs`).

mod relay;
mod upgrade;

pub use upgrade::Upgrade;

use super::Upstream;
use crate::broker::SessionCredentials;
use crate::chime::messaging_session::{SessionEndpoint, session_endpoint};
use crate::config::settings::WebSocketSettings;
use crate::error::{GatewayError, ProxyBody};
use crate::http_client::FetchError;
use crate::metrics::Metrics;
use crate::signing::Signer;
use http::Response;
use http_body_util::{BodyExt, Limited};
use relay::{RelayLimits, relay};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{
    Connector, MaybeTlsStream, WebSocketStream, connect_async_tls_with_config,
};

/// Query parameters a client may pass through to Chime's `/connect`.
const PASSED_THROUGH: &[&str] = &["sessionId", "prefetch-on", "prefetch-sort-by"];
/// Stop using a socket this long before its credentials expire (AWS closes it at expiry).
const CREDENTIAL_SAFETY: Duration = Duration::from_secs(30);
/// Each side's read buffer. tungstenite's default (128 KiB) is allocated up front for every
/// socket and zero-filled again before every read; Chime's frames are a few KiB, and a larger
/// message grows the buffer as it arrives (issue #14: see benches/ws_bridge.rs).
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// What every socket stsgate opens or accepts starts from, refusals included.
pub(super) fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES)
}

type UpstreamSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Bridge {
    settings: WebSocketSettings,
    tls: Arc<rustls::ClientConfig>,
    metrics: Arc<Metrics>,
    /// Open sockets per AppInstanceUser.
    open: Arc<Mutex<HashMap<Arc<str>, usize>>>,
    /// Fires once when stsgate shuts down: every relay closes with 1001.
    shutdown: watch::Receiver<bool>,
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

/// One client's request for a bridged socket.
pub struct SocketRequest<'a> {
    /// The client's raw query: `sessionId`, `prefetch-on`, `prefetch-sort-by` pass through.
    pub client_query: Option<&'a str>,
    /// The caller's AppInstanceUser ARN (`userArn`).
    pub user_arn: &'a str,
    pub session: Arc<SessionCredentials>,
    pub now: SystemTime,
    /// When the client's own identity expires: the socket does not outlive it.
    pub not_after: SystemTime,
}

/// A connected upstream socket, waiting for the client's side.
pub struct Opened {
    upstream: UpstreamSocket,
    close_at: Instant,
}

impl Bridge {
    pub fn new(
        settings: WebSocketSettings,
        tls: Arc<rustls::ClientConfig>,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Bridge {
            settings,
            tls,
            metrics,
            open: Arc::default(),
            shutdown,
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
        socket_config()
            .max_message_size(Some(self.settings.max_message_bytes))
            .max_frame_size(Some(self.settings.max_message_bytes))
    }

    /// Opens the upstream socket for the caller: the session endpoint, the presigned URL, the
    /// connection (within the connect timeout).
    pub async fn open(
        &self,
        r: SocketRequest<'_>,
        upstream: &Upstream,
        signer: &Signer,
    ) -> Result<Opened, GatewayError> {
        let endpoint = self
            .session_endpoint(upstream, signer, &r.session, r.now)
            .await?;
        let mut params: Vec<(String, String)> =
            form_urlencoded::parse(r.client_query.unwrap_or_default().as_bytes())
                .into_owned()
                .filter(|(k, _)| PASSED_THROUGH.contains(&k.as_str()))
                .collect();
        if !params.iter().any(|(k, _)| k == "sessionId") {
            params.push(("sessionId".into(), fastrand::u32(..).to_string()));
        }
        params.push(("userArn".into(), r.user_arn.to_owned()));
        let borrowed: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let query =
            signer.presign_connect(&endpoint.host, &borrowed, r.session.identity(), r.now)?;
        let scheme = if endpoint.secure { "wss" } else { "ws" };
        let url = format!("{scheme}://{}/connect?{query}", endpoint.host);

        let connector = Connector::Rustls(self.tls.clone());
        let connect =
            connect_async_tls_with_config(url, Some(self.ws_config()), true, Some(connector));
        let (upstream, _) = tokio::time::timeout(self.settings.connect_timeout, connect)
            .await
            .map_err(|_| GatewayError::Upstream(FetchError::Timeout))?
            .map_err(|e| {
                GatewayError::Upstream(FetchError::Transport(format!("messaging WebSocket: {e}")))
            })?;
        let ends = r
            .session
            .expires_at
            .checked_sub(CREDENTIAL_SAFETY)
            .unwrap_or(r.now)
            .min(r.not_after);
        let close_at = Instant::now() + ends.duration_since(r.now).unwrap_or_default();
        Ok(Opened { upstream, close_at })
    }

    /// Answers the client's upgrade; relaying runs in a task of its own, holding `slot`.
    pub fn accept(
        &self,
        upgrade: Upgrade,
        opened: Opened,
        slot: SocketSlot,
    ) -> Response<ProxyBody> {
        let (resp, client) = upgrade.accept(self.ws_config());
        let limits = RelayLimits {
            idle: self.settings.idle,
            send: self.settings.send_timeout,
        };
        let (metrics, shutdown) = (self.metrics.clone(), self.shutdown.clone());
        tokio::spawn(async move {
            if let Some(client) = client.await {
                let Opened { upstream, close_at } = opened;
                relay(client, upstream, close_at, limits, shutdown, &metrics).await;
            }
            drop(slot);
        });
        resp
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
        signer.sign(&mut req, session.identity(), now)?;
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
