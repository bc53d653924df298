//! An STS stand-in on loopback speaking the Query protocol: `POST /` with a form body, XML
//! answers and errors. It checks the AssumeRole request's own SigV4 signature against the base
//! keys it trusts, enforces STS's parameter limits, records every call (tags included) and
//! registers the credentials it issues so the Chime stand-in can verify requests signed with them.
//! `AssumeRoleWithWebIdentity` and `AssumeRoleWithSAML` must come unsigned, as STS takes them; a
//! web identity must name an issuer the stand-in trusts and be unexpired (its signature is
//! stsgate's to check), and its `https://aws.amazon.com/tags` claim becomes the session's tags.
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
    /// `AssumeRole`, `AssumeRoleWithWebIdentity` or `AssumeRoleWithSAML`.
    pub action: String,
    /// Whether the request carried a SigV4 signature.
    pub signed: bool,
    /// `WebIdentityToken` or `SAMLAssertion`.
    pub credential: Option<String>,
    pub principal_arn: Option<String>,
    pub role_arn: String,
    pub session_name: String,
    pub duration_seconds: u64,
    pub tags: Vec<(String, String)>,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
    pub transitive_tag_keys: Vec<String>,
    pub source_identity: Option<String>,
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
    /// Length of issued session tokens, instead of [`SHORT_SESSION_TOKEN_CHARS`]. Real ones are
    /// not fixed in size (AWS says to assume no maximum) and run to a thousand characters or more
    /// with session tags; signing copies and hashes the token on every request.
    pub session_token_chars: Option<usize>,
}

/// The default length of an issued session token: short, so that tests read easily.
pub const SHORT_SESSION_TOKEN_CHARS: usize = 137;
const SESSION_TOKEN_PREFIX: &str = "IQoJb3JpZ2luX2VjE";

struct State {
    base_access_key_id: String,
    store: CredentialStore,
    check: Arc<dyn SignatureCheck>,
    calls: Mutex<Vec<AssumeRoleCall>>,
    behaviour: Mutex<StsBehaviour>,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    /// Issuers whose tokens `AssumeRoleWithWebIdentity` accepts.
    trusted_issuers: Mutex<Vec<String>>,
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
            trusted_issuers: Mutex::new(Vec::new()),
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

    /// Accepts web identities from `issuer` (an IAM OIDC provider, in AWS terms).
    pub fn trust_issuer(&self, issuer: &str) {
        self.state
            .trusted_issuers
            .lock()
            .expect("sts lock")
            .push(issuer.to_owned());
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
    let form: BTreeMap<String, String> = form_urlencoded::parse(&req.body).into_owned().collect();
    let action = form.get("Action").cloned().unwrap_or_default();
    let call = match action.as_str() {
        "AssumeRole" => {
            check_signature(req, state)?;
            parse_assume_role(&form)?
        }
        "AssumeRoleWithWebIdentity" | "AssumeRoleWithSAML" => {
            if req.header("authorization").is_some() {
                return Err((400, "InvalidRequest", format!("{action} is not signed")));
            }
            federated(&action, &form, state)?
        }
        _ => {
            return Err((
                400,
                "InvalidAction",
                format!("{action:?} is not implemented"),
            ));
        }
    };
    Ok(issue(state, behaviour, call))
}

fn check_signature(req: &ReceivedRequest, state: &State) -> Result<(), Refusal> {
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
        .map_err(|e| (403, "SignatureDoesNotMatch", e))
}

/// Credentials for `call`, registered for the Chime stand-in, in `{Action}Response` XML.
fn issue(state: &State, behaviour: &StsBehaviour, call: AssumeRoleCall) -> Response<Body> {
    let lifetime = behaviour
        .lifetime
        .unwrap_or(Duration::from_secs(call.duration_seconds));
    let expires_at = SystemTime::now() + lifetime;
    let access_key_id = random_token("ASIA", 16);
    let secret = random_token("", 40);
    let chars = behaviour
        .session_token_chars
        .unwrap_or(SHORT_SESSION_TOKEN_CHARS);
    let mut token = random_token(
        SESSION_TOKEN_PREFIX,
        chars.saturating_sub(SESSION_TOKEN_PREFIX.len()),
    );
    // Shorter than the prefix: still exactly `chars` long.
    token.truncate(chars);
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
    let action = &call.action;
    let xml = format!(
        r#"<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <{action}Result>
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
  </{action}Result>
  <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>
</{action}Response>"#,
        session = call.session_name,
        packed = call.tags.len() * 2,
        request_id = random_token("", 26),
    );
    state.calls.lock().expect("sts lock").push(call);
    xml_response(StatusCode::OK, xml)
}

/// `AssumeRoleWithWebIdentity` and `AssumeRoleWithSAML`: no tags, transitive keys or source
/// identity parameters exist; the credential carries them.
fn federated(
    action: &str,
    form: &BTreeMap<String, String>,
    state: &State,
) -> Result<AssumeRoleCall, Refusal> {
    let invalid = |m: &str| (400, "ValidationError", m.to_owned());
    if form.keys().any(|k| {
        k.starts_with("Tags.") || k.starts_with("TransitiveTagKeys.") || k == "SourceIdentity"
    }) {
        return Err(invalid("this action takes no tags or source identity"));
    }
    let mut with_name = form.clone();
    if action == "AssumeRoleWithSAML" {
        // SAML sessions are named by the assertion.
        with_name.insert("RoleSessionName".into(), "saml-session".into());
    }
    let mut call = parse_assume_role(&with_name)?;
    call.action = action.to_owned();
    call.signed = false;
    if action == "AssumeRoleWithSAML" {
        call.credential = Some(
            form.get("SAMLAssertion")
                .ok_or_else(|| invalid("SAMLAssertion is required"))?
                .clone(),
        );
        call.principal_arn = Some(
            form.get("PrincipalArn")
                .ok_or_else(|| invalid("PrincipalArn is required"))?
                .clone(),
        );
        return Ok(call);
    }
    let token = form
        .get("WebIdentityToken")
        .ok_or_else(|| invalid("WebIdentityToken is required"))?;
    let claims = jwt_claims(token).ok_or((400, "InvalidIdentityToken", "not a JWT".into()))?;
    let trusted = state.trusted_issuers.lock().expect("sts lock").clone();
    if !claims["iss"]
        .as_str()
        .is_some_and(|i| trusted.iter().any(|t| t == i))
    {
        return Err((400, "InvalidIdentityToken", "untrusted issuer".into()));
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if claims["exp"].as_u64().is_none_or(|e| e <= now) {
        return Err((400, "ExpiredTokenException", "the token has expired".into()));
    }
    if let Some(tags) = claims["https://aws.amazon.com/tags"]["principal_tags"].as_object() {
        call.tags = tags
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.get(0)?.as_str()?.to_owned())))
            .collect();
    }
    call.credential = Some(token.clone());
    Ok(call)
}

/// A JWT's payload, unverified.
fn jwt_claims(token: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
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
    let list = |name: &str| -> Vec<String> {
        (1..)
            .map_while(|n| form.get(&name.replace('N', &n.to_string())).cloned())
            .collect()
    };
    let policy_arns = list("PolicyArns.member.N.arn");
    let transitive_tag_keys = list("TransitiveTagKeys.member.N");
    if policy_arns.len() > 10 {
        return Err(invalid("at most 10 managed session policies"));
    }
    // STS: every transitive key must be one of this call's tags.
    if transitive_tag_keys
        .iter()
        .any(|t| !tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(t)))
    {
        return Err(invalid("a transitive tag key is not a session tag"));
    }
    let source_identity = form.get("SourceIdentity").cloned();
    if source_identity
        .as_ref()
        .is_some_and(|s| !(2..=64).contains(&s.len()) || s.starts_with("aws:"))
    {
        return Err(invalid("SourceIdentity must be 2-64 characters, not aws:"));
    }
    Ok(AssumeRoleCall {
        action: "AssumeRole".into(),
        signed: true,
        credential: None,
        principal_arn: None,
        role_arn,
        session_name,
        duration_seconds,
        tags,
        policy,
        policy_arns,
        transitive_tag_keys,
        source_identity,
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
