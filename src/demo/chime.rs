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
use crate::error::{ProxyBody, json_response};
use crate::proxy::serve;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::watch;

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

    /// Every request received so far, as it arrived.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.state.received.lock().expect("chime lock").clone()
    }
}

async fn handle(req: Request<Incoming>, state: Arc<State>) -> Response<ProxyBody> {
    let req = ReceivedRequest::read(req).await;
    state.received.lock().expect("chime lock").push(req.clone());
    match authorize(&req, &state) {
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

fn route(req: &ReceivedRequest, state: &State, bearer: Option<&str>) -> Response<ProxyBody> {
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
                .push(message);
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

/// Chime's REST-JSON error shape, with `x-amzn-ErrorType` as the SDKs expect.
fn chime_error(status: StatusCode, kind: &'static str, message: &str) -> Response<ProxyBody> {
    let code = kind.trim_end_matches("Exception");
    let mut r = json_response(status, &json!({"Code": code, "Message": message}));
    r.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(kind));
    r
}
