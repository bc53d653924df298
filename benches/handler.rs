//! Criterion benchmarks of one warm request through the whole in-process handler
//! (`Gateway::handle`), the upstream and STS stubbed, against its pieces in the same run:
//! classification (route table), SigV4 signing of the same request, and a request refused before
//! authentication (the handler's fixed cost: routing, the error answer, metrics, the log line).
//! The gap between the whole handler and the sum of its pieces is what the glue costs.
//!
//! `cargo bench --bench handler`

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use stsgate::BoxFuture;
use stsgate::bench::{Gateway, Stages, Transport};
use stsgate::broker::{SessionCredentials, Sessions, StsError};
use stsgate::clock::SystemClock;
use stsgate::http_client::{FetchError, HttpClient};
use stsgate::identity::{Credential, Derived, IdentityError, Principal, Verify};
use stsgate::mapping::SessionSpec;
use stsgate::signing::Signer;

/// As the binary: the handler's allocations are a large part of its cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const APP: &str = "arn:aws:chime:us-east-1:111122223333:app-instance/ai";
const PATH: &str = "/channels/arn%3Aaws%3Achime%3Aus-east-1%3A111122223333%3Aapp-instance%2Fai%2Fchannel%2Fc1/messages?max-results=50";

/// One validated identity, as the token cache hands it out on a hit.
struct CachedPrincipal(Arc<Principal>);

impl Verify for CachedPrincipal {
    fn verify<'a>(
        &'a self,
        _: Credential<'a>,
    ) -> BoxFuture<'a, Result<Arc<Principal>, IdentityError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

/// One warm session, as the session cache hands it out on a hit.
struct WarmSession(Arc<SessionCredentials>);

impl Sessions for WarmSession {
    fn session<'a>(
        &'a self,
        _: &'a SessionSpec,
    ) -> BoxFuture<'a, Result<Arc<SessionCredentials>, StsError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

/// Chime answering at once.
struct Ok200;

impl Transport for Ok200 {
    fn send(
        &self,
        _: Request<Bytes>,
        _: Duration,
    ) -> BoxFuture<'_, Result<Response<BoxBody<Bytes, hyper::Error>>, FetchError>> {
        Box::pin(async {
            let body = Full::new(Bytes::from_static(br#"{"ChannelMessages":[]}"#))
                .map_err(|never| match never {})
                .boxed();
            Ok(Response::new(body))
        })
    }
}

fn gateway() -> Gateway {
    let settings = stsgate::config::from_toml(&format!(
        r#"
[upstream]
region = "us-east-1"
endpoint = "https://messaging-chime.us-east-1.amazonaws.com"
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
    .unwrap();
    let now = stsgate::clock::unix_seconds(SystemTime::now());
    let claims = serde_json::json!({"sub": "alice", "iss": "https://idp.test", "aud": "app"});
    let principal = Principal {
        issuer: "https://idp.test".into(),
        claims: claims.as_object().unwrap().clone(),
        exp: now + 3600,
        valid_until: now + 3600,
        derived: Derived::default(),
    };
    let session = SessionCredentials::new(
        "ASIAEXAMPLE".into(),
        "secret".into(),
        "t".repeat(600),
        SystemTime::now() + Duration::from_secs(3600),
    );
    let stages = Stages {
        verifier: Arc::new(CachedPrincipal(Arc::new(principal))),
        sessions: Arc::new(WarmSession(Arc::new(session))),
        transport: Arc::new(Ok200),
        tls: HttpClient::new().tls_config(),
        metrics: Arc::new(stsgate::metrics::Metrics::new()),
        clock: Arc::new(SystemClock),
        shutdown: tokio::sync::watch::channel(false).1,
        guests: None,
    };
    Gateway::new(&settings, stages)
}

fn get(authorized: bool) -> Request<Empty<Bytes>> {
    let mut r = Request::get(PATH);
    if authorized {
        r = r.header("authorization", "Bearer cached");
    }
    r.body(Empty::new()).unwrap()
}

fn handler(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let gateway = gateway();
    // Both must work, or the numbers mean nothing.
    let warm = rt.block_on(gateway.handle(get(true)));
    assert_eq!(warm.status(), StatusCode::OK);
    assert_eq!(
        rt.block_on(gateway.handle(get(false))).status(),
        StatusCode::UNAUTHORIZED
    );

    let (path, query) = PATH.split_once('?').unwrap();
    let signer = Signer::new("us-east-1");
    let session: stsgate::signing::Identity = aws_credential_types::Credentials::new(
        "ASIAEXAMPLE",
        "secret",
        Some("t".repeat(600)),
        None,
        "bench",
    )
    .into();
    let upstream_request = || {
        Request::get(format!(
            "https://messaging-chime.us-east-1.amazonaws.com{PATH}"
        ))
        .header("host", "messaging-chime.us-east-1.amazonaws.com")
        .header("x-amz-chime-bearer", format!("{APP}/user/alice"))
        .body(Bytes::new())
        .unwrap()
    };

    let mut g = c.benchmark_group("handler");
    g.bench_function("classify", |b| {
        b.iter(|| {
            stsgate::chime::operations::classify(&Method::GET, black_box(path), Some(query))
                .unwrap()
        })
    });
    g.bench_function("sign_the_same_request", |b| {
        b.iter(|| {
            let mut r = upstream_request();
            signer.sign(&mut r, &session, SystemTime::now()).unwrap();
            r
        })
    });
    g.bench_function("refused_before_authentication", |b| {
        b.iter(|| rt.block_on(gateway.handle(black_box(get(false)))))
    });
    g.bench_function("warm_get_whole_handler", |b| {
        b.iter(|| rt.block_on(gateway.handle(black_box(get(true)))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = handler
}
criterion_main!(benches);
