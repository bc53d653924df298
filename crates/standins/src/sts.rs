//! An STS stand-in on loopback speaking the Query protocol: `POST /` with a form body, XML
//! answers and errors. It checks the AssumeRole request's own SigV4 signature against the base
//! keys it trusts, enforces STS's parameter limits, records every call (tags included) and
//! registers the credentials it issues so the Chime stand-in can verify requests signed with them.
//! Tests can make it slow or failing and read the peak number of concurrent calls.

use super::standin::{
    AuthorizationHeader, CredentialStore, IssuedCredential, ReceivedRequest, SignatureCheck,
    random_token,
};
use crate::http::Body;
use crate::http::serve;
use aws_smithy_types::date_time::{DateTime, Format};
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub const REGION: &str = "us-east-1";

/// One AssumeRole call as the stand-in received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleCall {
    pub role_arn: String,
    pub session_name: String,
    pub duration_seconds: u64,
    pub tags: Vec<(String, String)>,
    pub policy: Option<String>,
}

/// How the stand-in answers.
#[derive(Debug, Clone, Default)]
pub struct StsBehaviour {
    /// Added before answering.
    pub delay: Duration,
    /// Answer every call with this error (HTTP status, STS code).
    pub fail: Option<(u16, &'static str)>,
    /// Lifetime of issued credentials instead of `DurationSeconds`.
    pub lifetime: Option<Duration>,
}

struct State {
    base_access_key_id: String,
    store: CredentialStore,
    check: Arc<dyn SignatureCheck>,
    calls: Mutex<Vec<AssumeRoleCall>>,
    behaviour: Mutex<StsBehaviour>,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

pub struct StsStandIn {
    pub addr: SocketAddr,
    state: Arc<State>,
    _shutdown: watch::Sender<bool>,
}

impl StsStandIn {
    /// Trusts `(base_access_key_id, base_secret)` as the proxy's own credentials.
    pub async fn start(
        base_access_key_id: &str,
        base_secret: &str,
        store: CredentialStore,
        check: Arc<dyn SignatureCheck>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        store.insert(
            base_access_key_id.to_owned(),
            IssuedCredential {
                secret: base_secret.to_owned(),
                session_token: None,
                tags: vec![],
                expires_at: None,
            },
        );
        let state = Arc::new(State {
            base_access_key_id: base_access_key_id.to_owned(),
            store,
            check,
            calls: Mutex::new(Vec::new()),
            behaviour: Mutex::new(StsBehaviour::default()),
            in_flight: AtomicUsize::new(0),
            peak_in_flight: AtomicUsize::new(0),
        });
        let (tx, rx) = watch::channel(false);
        let s = state.clone();
        tokio::spawn(serve(listener, move |req| handle(req, s.clone()), rx));
        Ok(StsStandIn {
            addr,
            state,
            _shutdown: tx,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn calls(&self) -> Vec<AssumeRoleCall> {
        self.state.calls.lock().expect("sts lock").clone()
    }

    pub fn set_behaviour(&self, b: StsBehaviour) {
        *self.state.behaviour.lock().expect("sts lock") = b;
    }

    pub fn peak_in_flight(&self) -> usize {
        self.state.peak_in_flight.load(Ordering::SeqCst)
    }
}

async fn handle(req: Request<Incoming>, state: Arc<State>) -> Response<Body> {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.peak_in_flight.fetch_max(now, Ordering::SeqCst);
    let req = ReceivedRequest::read(req).await;
    let behaviour = state.behaviour.lock().expect("sts lock").clone();
    tokio::time::sleep(behaviour.delay).await;
    let resp = match behaviour.fail {
        Some((status, code)) => error(status, code, "stand-in failure"),
        None => answer(&req, &state, &behaviour)
            .unwrap_or_else(|(status, code, msg)| error(status, code, &msg)),
    };
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    resp
}

type Refusal = (u16, &'static str, String);

fn answer(
    req: &ReceivedRequest,
    state: &State,
    behaviour: &StsBehaviour,
) -> Result<Response<Body>, Refusal> {
    let auth = req
        .header("authorization")
        .and_then(AuthorizationHeader::parse)
        .ok_or((
            403,
            "MissingAuthenticationToken",
            "request is not signed".to_owned(),
        ))?;
    if auth.access_key_id != state.base_access_key_id || auth.service != "sts" {
        return Err((
            403,
            "InvalidClientTokenId",
            "unknown access key or wrong service".into(),
        ));
    }
    let secret = state
        .store
        .get(&auth.access_key_id)
        .map(|c| c.secret)
        .unwrap_or_default();
    state
        .check
        .check(req, &secret, "sts", &auth.region)
        .map_err(|e| (403, "SignatureDoesNotMatch", e))?;

    let form: BTreeMap<String, String> = form_urlencoded::parse(&req.body).into_owned().collect();
    if form.get("Action").map(String::as_str) != Some("AssumeRole") {
        return Err((
            400,
            "InvalidAction",
            "only AssumeRole is implemented".into(),
        ));
    }
    let call = parse_assume_role(&form)?;
    let lifetime = behaviour
        .lifetime
        .unwrap_or(Duration::from_secs(call.duration_seconds));
    let expires_at = SystemTime::now() + lifetime;
    let access_key_id = random_token("ASIA", 16);
    let secret = random_token("", 40);
    let token = random_token("IQoJb3JpZ2luX2VjE", 120);
    state.store.insert(
        access_key_id.clone(),
        IssuedCredential {
            secret: secret.clone(),
            session_token: Some(token.clone()),
            tags: call.tags.clone(),
            expires_at: Some(expires_at),
        },
    );
    let account = call
        .role_arn
        .split(':')
        .nth(4)
        .unwrap_or("000000000000")
        .to_owned();
    let role_name = call
        .role_arn
        .rsplit('/')
        .next()
        .unwrap_or("role")
        .to_owned();
    let expiration = DateTime::from(expires_at)
        .fmt(Format::DateTime)
        .unwrap_or_default();
    let xml = format!(
        r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>{access_key_id}</AccessKeyId>
      <SecretAccessKey>{secret}</SecretAccessKey>
      <SessionToken>{token}</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROASTANDIN:{session}</AssumedRoleId>
      <Arn>arn:aws:sts::{account}:assumed-role/{role_name}/{session}</Arn>
    </AssumedRoleUser>
    <PackedPolicySize>{packed}</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#,
        session = call.session_name,
        packed = call.tags.len() * 2,
        request_id = random_token("", 26),
    );
    state.calls.lock().expect("sts lock").push(call);
    Ok(xml_response(StatusCode::OK, xml))
}

/// Reads AssumeRole parameters and enforces STS's own limits.
fn parse_assume_role(form: &BTreeMap<String, String>) -> Result<AssumeRoleCall, Refusal> {
    let invalid = |m: &str| (400, "ValidationError", m.to_owned());
    let role_arn = form
        .get("RoleArn")
        .ok_or_else(|| invalid("RoleArn is required"))?
        .clone();
    let session_name = form
        .get("RoleSessionName")
        .ok_or_else(|| invalid("RoleSessionName is required"))?
        .clone();
    let valid_name = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if !(2..=64).contains(&session_name.len()) || !session_name.chars().all(valid_name) {
        return Err(invalid("RoleSessionName must satisfy [\\w+=,.@-]{2,64}"));
    }
    let duration_seconds = match form.get("DurationSeconds") {
        Some(d) => d
            .parse::<u64>()
            .map_err(|_| invalid("DurationSeconds is not a number"))?,
        None => 3600,
    };
    if !(900..=43200).contains(&duration_seconds) {
        return Err(invalid("DurationSeconds must be between 900 and 43200"));
    }
    let mut tags = Vec::new();
    for n in 1.. {
        let Some(key) = form.get(&format!("Tags.member.{n}.Key")) else {
            break;
        };
        let value = form
            .get(&format!("Tags.member.{n}.Value"))
            .cloned()
            .unwrap_or_default();
        if key.is_empty() || key.len() > 128 || value.len() > 256 {
            return Err(invalid("tag key or value too long"));
        }
        tags.push((key.clone(), value));
    }
    if tags.len() > 50 {
        return Err(invalid("at most 50 session tags"));
    }
    let policy = form.get("Policy").cloned();
    if policy.as_ref().is_some_and(|p| p.len() > 2048) {
        return Err((
            400,
            "PackedPolicyTooLarge",
            "session policy too large".to_owned(),
        ));
    }
    Ok(AssumeRoleCall {
        role_arn,
        session_name,
        duration_seconds,
        tags,
        policy,
    })
}

fn error(status: u16, code: &str, message: &str) -> Response<Body> {
    let xml = format!(
        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{}</RequestId></ErrorResponse>"#,
        random_token("", 26)
    );
    xml_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        xml,
    )
}

fn xml_response(status: StatusCode, xml: String) -> Response<Body> {
    let mut r = Response::new(Body::from(xml));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    r
}
