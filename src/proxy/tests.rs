//! The pipeline in memory: the gateway with stub stages. Stubs that panic when touched prove that
//! a refused request costs no STS call and is never forwarded; recording stubs show exactly what
//! a good request becomes.

use super::{Gateway, Stages, Transport};
use crate::BoxFuture;
use crate::broker::{SessionCredentials, Sessions, StsError};
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::error::{ProxyBody, full};
use crate::http_client::FetchError;
use crate::identity::{Credential, IdentityError, Principal, Verify};
use crate::mapping::SessionSpec;
use crate::metrics::Metrics;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

const APP: &str = "arn:aws:chime:us-east-1:111122223333:app-instance/ai";
const CHANNEL: &str =
    "arn%3Aaws%3Achime%3Aus-east-1%3A111122223333%3Aapp-instance%2Fai%2Fchannel%2Fc1";

fn settings() -> Settings {
    crate::config::from_toml(&format!(
        r#"
[upstream]
region = "us-east-1"
endpoint = "https://chime.test"
[[issuers]]
issuer = "https://idp.test"
audiences = ["app"]
[sts]
role_arn = "arn:aws:iam::111122223333:role/User"
region = "us-east-1"
[session_tags]
my_applications_user_id = "sub"
[chime]
app_instance_arn = "{APP}"
"#
    ))
    .unwrap()
}

// === stubs ===

/// Token `good-<sub>` is `<sub>`; anything else has a bad signature.
struct StubVerify;

impl Verify for StubVerify {
    fn verify<'a>(
        &'a self,
        c: Credential<'a>,
    ) -> BoxFuture<'a, Result<Arc<Principal>, IdentityError>> {
        Box::pin(async move {
            let Credential::Jwt(token) = c else {
                return Err(IdentityError::BadSignature);
            };
            let token = token.into_owned();
            let sub = token
                .strip_prefix("good-")
                .ok_or(IdentityError::BadSignature)?;
            let claims = serde_json::json!({"sub": sub, "iss": "https://idp.test"});
            Ok(Arc::new(Principal {
                issuer: "https://idp.test".into(),
                claims: claims.as_object().unwrap().clone(),
                exp: crate::clock::unix_seconds(SystemTime::now()) + 3600,
                valid_until: crate::clock::unix_seconds(SystemTime::now()) + 3600,
                derived: Default::default(),
            }))
        })
    }
}

struct PanicSessions;

impl Sessions for PanicSessions {
    fn session<'a>(
        &'a self,
        _: &'a SessionSpec,
    ) -> BoxFuture<'a, Result<Arc<SessionCredentials>, StsError>> {
        panic!("STS must not be used for this request")
    }
}

struct PanicTransport;

impl Transport for PanicTransport {
    fn send(
        &self,
        _: Request<Bytes>,
        _: Duration,
    ) -> BoxFuture<'_, Result<Response<ProxyBody>, FetchError>> {
        panic!("the upstream must not be touched for this request")
    }
}

/// One fixed session; remembers every spec asked for.
#[derive(Default)]
struct FixedSessions(Mutex<Vec<SessionSpec>>);

impl Sessions for FixedSessions {
    fn session<'a>(
        &'a self,
        spec: &'a SessionSpec,
    ) -> BoxFuture<'a, Result<Arc<SessionCredentials>, StsError>> {
        self.0.lock().unwrap().push(spec.clone());
        Box::pin(async {
            Ok(Arc::new(SessionCredentials::new(
                "ASIATESTKEY".into(),
                "secret".into(),
                "session-token".into(),
                SystemTime::now() + Duration::from_secs(3600),
            )))
        })
    }
}

/// Remembers every request and answers 200 `{}`.
#[derive(Default)]
struct RecordingTransport(Mutex<Vec<Request<Bytes>>>);

impl Transport for RecordingTransport {
    fn send(
        &self,
        req: Request<Bytes>,
        _: Duration,
    ) -> BoxFuture<'_, Result<Response<ProxyBody>, FetchError>> {
        self.0.lock().unwrap().push(req);
        Box::pin(async { Ok(Response::new(full("{}"))) })
    }
}

fn gateway(sessions: Arc<dyn Sessions>, transport: Arc<dyn Transport>) -> (Gateway, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let stages = Stages {
        verifier: Arc::new(StubVerify),
        sessions,
        transport,
        tls: crate::http_client::HttpClient::new().tls_config(),
        metrics: metrics.clone(),
        clock: Arc::new(SystemClock),
        shutdown: tokio::sync::watch::channel(false).1,
        guests: None,
    };
    (Gateway::new(&settings(), stages), metrics)
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request<Full<Bytes>> {
    let mut r = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
}

async fn json_of(resp: Response<ProxyBody>) -> serde_json::Value {
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap()
}

// === tests ===

#[tokio::test]
async fn every_refusal_before_the_session_phase_costs_nothing() {
    let (g, metrics) = gateway(Arc::new(PanicSessions), Arc::new(PanicTransport));
    let messages = format!("/channels/{CHANNEL}/messages");
    let bob = format!("{APP}/user/bob");
    let bob_query = format!(
        "/channels?scope=app-instance-user-memberships&app-instance-user-arn={}",
        crate::arn::app_instance_user_arn(APP, "bob")
            .replace(':', "%3A")
            .replace('/', "%2F")
    );
    let alice = [("authorization", "Bearer good-alice")];
    let cases: Vec<(Request<Full<Bytes>>, u16, &str)> = vec![
        (request("GET", &messages, &[], ""), 401, "missing_token"),
        (
            request("GET", &messages, &[("authorization", "Bearer forged")], ""),
            401,
            "invalid_token",
        ),
        (
            request("GET", "/not/chime", &alice, ""),
            403,
            "operation_not_allowed",
        ),
        (
            request("POST", "/channels?operation=search", &alice, "{}"),
            403,
            "operation_not_allowed",
        ),
        (
            request(
                "GET",
                &messages,
                &[alice[0], ("x-amz-chime-bearer", bob.as_str())],
                "",
            ),
            403,
            "bearer_mismatch",
        ),
        (
            request("GET", &bob_query, &alice, ""),
            403,
            "bearer_mismatch",
        ),
        (
            request(
                "POST",
                &messages,
                &[alice[0], ("content-length", "2000000")],
                "",
            ),
            413,
            "payload_too_large",
        ),
        (
            request("POST", &messages, &alice, &"x".repeat(1024 * 1024 + 1)),
            413,
            "payload_too_large",
        ),
        (request("GET", "/connect", &alice, ""), 400, "bad_request"),
    ];
    for (req, status, code) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let resp = g.handle(req).await;
        assert_eq!(resp.status().as_u16(), status, "{what}");
        assert_eq!(
            resp.status() == StatusCode::UNAUTHORIZED,
            resp.headers().contains_key("www-authenticate"),
            "{what}"
        );
        assert_eq!(json_of(resp).await["error"], code, "{what}");
    }
    let refused: u64 = ["401", "403", "413", "400"]
        .iter()
        .flat_map(|s| {
            [
                "unknown",
                "SearchChannels",
                "ListChannelMessages",
                "SendChannelMessage",
                "ListChannelMembershipsForAppInstanceUser",
                "Connect",
            ]
            .map(|op| (op, *s))
        })
        .map(|(op, s)| metrics.requests_total.with_label_values(&[op, s]).get())
        .sum();
    assert_eq!(refused, 9, "each refusal counted once");
}

#[tokio::test]
async fn a_good_request_is_signed_and_forwarded_as_sent() {
    let sessions = Arc::new(FixedSessions::default());
    let transport = Arc::new(RecordingTransport::default());
    let (g, metrics) = gateway(sessions.clone(), transport.clone());
    let path = format!("/channels/{CHANNEL}/messages?max-results=10&next-token=a%2Bb");
    let resp = g
        .handle(request(
            "GET",
            &path,
            &[
                ("authorization", "Bearer good-alice"),
                ("x-amz-date", "19990101T000000Z"),
            ],
            "",
        ))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    let specs = sessions.0.lock().unwrap().clone();
    assert_eq!(specs.len(), 1);
    assert_eq!(specs[0].session_name, "alice");
    assert_eq!(
        specs[0].tags,
        vec![("my_applications_user_id".into(), "alice".into())]
    );

    let sent = transport.0.lock().unwrap();
    let [r] = &sent[..] else {
        panic!("{} requests forwarded", sent.len())
    };
    assert_eq!(r.uri().to_string(), format!("https://chime.test{path}"));
    let h = r.headers();
    assert_eq!(h["host"], "chime.test");
    assert_eq!(
        h["x-amz-chime-bearer"],
        format!("{APP}/user/alice").as_str()
    );
    assert_eq!(h["x-amz-security-token"], "session-token");
    assert_ne!(h["x-amz-date"], "19990101T000000Z");
    let auth = h["authorization"].to_str().unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=ASIATESTKEY/"),
        "{auth}"
    );
    assert!(auth.contains("/us-east-1/chime/aws4_request"), "{auth}");
    assert_eq!(
        metrics
            .requests_total
            .with_label_values(&["ListChannelMessages", "200"])
            .get(),
        1
    );
}

/// A request's future is moved whole (into hyper's dispatcher, into each `.await`), so the rare
/// routes' large futures (the WebSocket bridge's is ~10 KiB) are boxed and the common one stays
/// small: unboxed, the whole-proxy benchmark spent ~2.5 % of its CPU in memcpy (issue #14).
#[tokio::test]
async fn a_request_future_stays_small() {
    let (gw, _) = gateway(Arc::new(PanicSessions), Arc::new(PanicTransport));
    let handling = gw.handle(request("GET", "/channels", &[], ""));
    let size = std::mem::size_of_val(&handling);
    assert!(size <= 4096, "Gateway::handle's future is {size} bytes");
}
