//! A Chime SDK messaging stand-in on loopback (REST-JSON). Every request must carry a valid SigV4
//! signature (service `chime`) made with credentials the STS stand-in issued, the matching
//! session token, a fresh `x-amz-date`, and a bearer that the session's user-id tag allows —
//! the same rule as the seed's policy `…/user/${aws:PrincipalTag/my_applications_user_id}`.
//! Implements SendChannelMessage, ListChannelMessages and GetMessagingSessionEndpoint, and
//! records every request it receives.

use super::sigv4_check::parse_amz_date;
use super::standin::{
    AuthorizationHeader, CredentialStore, ReceivedRequest, SignatureCheck, random_token,
};
use crate::http::{Body, accept_websocket, json_response, serve};

use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// SigV4's own rule: a request dated more than 5 minutes from server time is refused.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

pub struct ChimeSettings {
    pub region: String,
    pub app_instance_arn: String,
    /// The session tag that names the caller's AppInstanceUserId.
    pub user_id_tag: String,
}

struct State {
    settings: ChimeSettings,
    store: CredentialStore,
    check: Arc<dyn SignatureCheck>,
    channels: Mutex<HashMap<String, Vec<Value>>>,
    received: Mutex<Vec<ReceivedRequest>>,
    endpoint: String,
    events: broadcast::Sender<SocketEvent>,
    /// Control frames received on messaging sockets, in order.
    control: Mutex<Vec<Control>>,
    /// CreateAppInstanceUser bodies (the identity API), in order.
    users: Mutex<Vec<Value>>,
}

/// What open messaging sockets are told.
#[derive(Debug, Clone)]
pub enum SocketEvent {
    Frame(String),
    Close(u16, String),
    /// Chime pings its clients (the SDK answers).
    Ping(Vec<u8>),
}

/// A ping or pong a messaging socket received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

pub struct ChimeStandIn {
    pub addr: SocketAddr,
    state: Arc<State>,
    _shutdown: watch::Sender<bool>,
}

impl ChimeStandIn {
    pub async fn start(
        settings: ChimeSettings,
        store: CredentialStore,
        check: Arc<dyn SignatureCheck>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            settings,
            store,
            check,
            channels: Mutex::new(HashMap::new()),
            received: Mutex::new(Vec::new()),
            endpoint: addr.to_string(),
            events: broadcast::channel(1024).0,
            control: Mutex::new(Vec::new()),
            users: Mutex::new(Vec::new()),
        });
        let (tx, rx) = watch::channel(false);
        let s = state.clone();
        tokio::spawn(serve(listener, move |req| handle(req, s.clone()), rx));
        Ok(ChimeStandIn {
            addr,
            state,
            _shutdown: tx,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends an event to every open messaging socket; returns how many received it.
    pub fn broadcast(&self, e: SocketEvent) -> usize {
        self.state.events.send(e).unwrap_or(0)
    }

    /// Pings and pongs its messaging sockets received.
    pub fn control_frames(&self) -> Vec<Control> {
        self.state.control.lock().expect("chime lock").clone()
    }

    /// AppInstanceUsers created through the identity API (their request bodies).
    pub fn created_users(&self) -> Vec<Value> {
        self.state.users.lock().expect("chime lock").clone()
    }

    /// Every request received so far, as it arrived.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.state.received.lock().expect("chime lock").clone()
    }
}

async fn handle(req: Request<Incoming>, state: Arc<State>) -> Response<Body> {
    if req.uri().path() == "/connect" {
        return connect(req, state).await;
    }
    let req = ReceivedRequest::read(req).await;
    state.received.lock().expect("chime lock").push(req.clone());
    match authorize(&req, &state) {
        Ok(_) if req.path() == "/app-instance-users" => create_user(&req, &state),
        Ok(caller) => route(&req, &state, caller.as_deref()),
        Err((status, kind, msg)) => chime_error(status, kind, &msg),
    }
}

type Refusal = (StatusCode, &'static str, String);

/// Checks signature, token, date and the bearer policy; returns the bearer ARN if any.
fn authorize(req: &ReceivedRequest, state: &State) -> Result<Option<String>, Refusal> {
    let forbidden = |kind: &'static str, m: String| (StatusCode::FORBIDDEN, kind, m);
    let auth = req
        .header("authorization")
        .and_then(AuthorizationHeader::parse)
        .ok_or_else(|| {
            forbidden(
                "UnauthorizedClientException",
                "missing SigV4 Authorization".into(),
            )
        })?;
    if auth.service != "chime" || auth.region != state.settings.region {
        return Err(forbidden(
            "ForbiddenException",
            format!("credential scope {}/{} is wrong", auth.region, auth.service),
        ));
    }
    let cred = state
        .store
        .get(&auth.access_key_id)
        .ok_or_else(|| forbidden("UnauthorizedClientException", "unknown access key".into()))?;
    if cred.session_token.as_deref() != req.header("x-amz-security-token") {
        return Err(forbidden(
            "UnauthorizedClientException",
            "security token does not match the access key".into(),
        ));
    }
    if cred.expires_at.is_some_and(|e| e < SystemTime::now()) {
        return Err(forbidden(
            "UnauthorizedClientException",
            "credentials expired".into(),
        ));
    }
    let date = parse_amz_date(req.header("x-amz-date").unwrap_or_default())
        .map_err(|e| forbidden("ForbiddenException", e))?;
    let skew = date
        .duration_since(SystemTime::now())
        .or_else(|e| Ok::<_, ()>(e.duration()))
        .unwrap_or_default();
    if skew > MAX_CLOCK_SKEW {
        return Err(forbidden(
            "ForbiddenException",
            "request date too far from server time".into(),
        ));
    }
    state
        .check
        .check(req, &cred.secret, "chime", &state.settings.region)
        .map_err(|e| forbidden("ForbiddenException", format!("signature check failed: {e}")))?;

    let bearer = req.header("x-amz-chime-bearer").map(str::to_owned);
    if let Some(b) = &bearer {
        let user = cred
            .tags
            .iter()
            .find(|(k, _)| *k == state.settings.user_id_tag)
            .map(|(_, v)| v.as_str());
        let allowed = user.map(|u| format!("{}/user/{u}", state.settings.app_instance_arn));
        if allowed.as_deref() != Some(b.as_str()) {
            return Err(forbidden(
                "ForbiddenException",
                "the session's tags do not allow this bearer".into(),
            ));
        }
    }
    Ok(bearer)
}

/// The identity API's CreateAppInstanceUser: only the account's own (long-term) credentials may
/// call it, as a user role's policy would not allow it.
fn create_user(req: &ReceivedRequest, state: &State) -> Response<Body> {
    if req.method != "POST" {
        return chime_error(
            StatusCode::NOT_FOUND,
            "NotFoundException",
            "no such operation",
        );
    }
    if req.header("x-amz-security-token").is_some() {
        return chime_error(
            StatusCode::FORBIDDEN,
            "ForbiddenException",
            "session credentials may not create AppInstanceUsers",
        );
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let (Some(app_instance), Some(id), Some(_name)) = (
        body["AppInstanceArn"].as_str(),
        body["AppInstanceUserId"].as_str(),
        body["Name"].as_str(),
    ) else {
        return chime_error(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            "AppInstanceArn, AppInstanceUserId and Name are required",
        );
    };
    if app_instance != state.settings.app_instance_arn {
        return chime_error(
            StatusCode::NOT_FOUND,
            "NotFoundException",
            "no such AppInstance",
        );
    }
    let arn = format!("{app_instance}/user/{id}");
    let mut users = state.users.lock().expect("chime lock");
    if users.iter().any(|u| u["AppInstanceUserId"] == id) {
        return chime_error(StatusCode::CONFLICT, "ConflictException", "the user exists");
    }
    users.push(body.clone());
    json_response(StatusCode::CREATED, &json!({"AppInstanceUserArn": arn}))
}

fn route(req: &ReceivedRequest, state: &State, bearer: Option<&str>) -> Response<Body> {
    let segments: Vec<&str> = req.path().trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["endpoints", "messaging-session"]) => json_response(
            StatusCode::OK,
            &json!({"Endpoint": {"Url": state.endpoint}}),
        ),
        ("POST", ["channels", arn, "messages"]) if req.query().is_none() => {
            let Some(sender) = bearer else {
                return chime_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequestException",
                    "x-amz-chime-bearer is required",
                );
            };
            let channel = percent_decode_str(arn).decode_utf8_lossy().into_owned();
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let (Some(content), Some(_), Some(_)) = (
                body["Content"].as_str(),
                body["Type"].as_str(),
                body["Persistence"].as_str(),
            ) else {
                return chime_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequestException",
                    "Content, Type and Persistence are required",
                );
            };
            let id = random_token("msg-", 20);
            let message = json!({
                "MessageId": id, "Content": content, "Type": body["Type"],
                "Sender": {"Arn": sender}, "Persistence": body["Persistence"],
            });
            state
                .channels
                .lock()
                .expect("chime lock")
                .entry(channel.clone())
                .or_default()
                .push(message.clone());
            let _ = state.events.send(SocketEvent::Frame(chime_event(
                "CREATE_CHANNEL_MESSAGE",
                &message,
            )));
            json_response(
                StatusCode::CREATED,
                &json!({"ChannelArn": channel, "MessageId": id}),
            )
        }
        ("GET", ["channels", arn, "messages"]) => {
            let channel = percent_decode_str(arn).decode_utf8_lossy().into_owned();
            let messages = state
                .channels
                .lock()
                .expect("chime lock")
                .get(&channel)
                .cloned()
                .unwrap_or_default();
            json_response(
                StatusCode::OK,
                &json!({"ChannelArn": channel, "ChannelMessages": messages}),
            )
        }
        ("GET", ["channels"]) => json_response(
            StatusCode::OK,
            &json!({"Channels": [], "ChannelMemberships": []}),
        ),
        _ => chime_error(
            StatusCode::NOT_FOUND,
            "NotFoundException",
            "the stand-in does not implement this operation",
        ),
    }
}

/// `GET /connect`: the messaging WebSocket. Like Chime, it accepts the upgrade and then either
/// closes with 4401 (bad signature, token or user) or sends SESSION_ESTABLISHED and events. It
/// echoes client frames back (a test facility: Chime itself ignores them).
async fn connect(mut req: Request<Incoming>, state: Arc<State>) -> Response<Body> {
    let upgrade = accept_websocket(&mut req);
    let received = ReceivedRequest {
        method: req.method().to_string(),
        path_and_query: req
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers: req.headers().clone(),
        body: Default::default(),
    };
    state
        .received
        .lock()
        .expect("chime lock")
        .push(received.clone());
    let Some((resp, socket)) = upgrade else {
        return chime_error(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            "WebSocket upgrade required",
        );
    };
    let verdict = authorize_presigned(&received, &state);
    let mut events = state.events.subscribe();
    tokio::spawn(async move {
        let Some(mut ws) = socket.await else { return };
        if let Err(why) = verdict {
            tracing::debug!(%why, "stand-in refused a messaging socket");
            let _ = ws
                .send(Message::Close(Some(close_frame(4401, "Unauthorized"))))
                .await;
            return;
        }
        let established = json!({"Headers": {"x-amz-chime-event-type": "SESSION_ESTABLISHED", "x-amz-chime-message-type": "SYSTEM"}});
        if ws
            .send(Message::text(established.to_string()))
            .await
            .is_err()
        {
            return;
        }
        loop {
            tokio::select! {
                m = ws.next() => match m {
                    Some(Ok(Message::Text(t))) => { let _ = ws.send(Message::Text(t)).await; }
                    Some(Ok(Message::Binary(b))) => { let _ = ws.send(Message::Binary(b)).await; }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    // tungstenite answers pings itself; note what arrived.
                    Some(Ok(Message::Ping(p))) => state.control.lock().expect("chime lock").push(Control::Ping(p.to_vec())),
                    Some(Ok(Message::Pong(p))) => state.control.lock().expect("chime lock").push(Control::Pong(p.to_vec())),
                    Some(Ok(_)) => {}
                },
                e = events.recv() => match e {
                    Ok(SocketEvent::Frame(f)) => { let _ = ws.send(Message::text(f)).await; }
                    Ok(SocketEvent::Ping(p)) => { let _ = ws.send(Message::Ping(p.into())).await; }
                    Ok(SocketEvent::Close(code, reason)) => {
                        let _ = ws.send(Message::Close(Some(close_frame(code, &reason)))).await;
                        break;
                    }
                    Err(_) => break,
                },
            }
        }
        let _ = ws.close(None).await;
    });
    resp
}

/// The presigned URL's signature, expiry, session token, and `chime:Connect` on `userArn`.
fn authorize_presigned(req: &ReceivedRequest, state: &State) -> Result<(), String> {
    let params: HashMap<String, String> =
        form_urlencoded::parse(req.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let access_key = params
        .get("X-Amz-Credential")
        .and_then(|c| c.split('/').next())
        .ok_or("no credential")?;
    let cred = state.store.get(access_key).ok_or("unknown access key")?;
    if cred.session_token.as_deref() != params.get("X-Amz-Security-Token").map(String::as_str) {
        return Err("session token does not match".into());
    }
    if params.get("X-Amz-Expires").map(String::as_str) != Some("10") {
        return Err("presigned URLs for /connect expire after 10 s".into());
    }
    state
        .check
        .check_presigned(req, &cred.secret, "chime", &state.settings.region)?;
    let user = cred
        .tags
        .iter()
        .find(|(k, _)| *k == state.settings.user_id_tag)
        .map(|(_, v)| v.clone());
    let allowed = user.map(|u| format!("{}/user/{u}", state.settings.app_instance_arn));
    if allowed.as_ref() != params.get("userArn") {
        return Err("userArn is not the session's user".into());
    }
    if !params.contains_key("sessionId") {
        return Err("sessionId is required".into());
    }
    Ok(())
}

/// A Chime event frame: `Payload` is itself a JSON string.
pub fn chime_event(event_type: &str, payload: &Value) -> String {
    json!({
        "Headers": {"x-amz-chime-event-type": event_type, "x-amz-chime-message-type": "STANDARD"},
        "Payload": payload.to_string(),
    })
    .to_string()
}

fn close_frame(code: u16, reason: &str) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    }
}

/// Chime's REST-JSON error shape, with `x-amzn-ErrorType` as the SDKs expect.
fn chime_error(status: StatusCode, kind: &'static str, message: &str) -> Response<Body> {
    let code = kind.trim_end_matches("Exception");
    let mut r = json_response(status, &json!({"Code": code, "Message": message}));
    r.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(kind));
    r
}
