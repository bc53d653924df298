//! Criterion benchmarks of the per-request hot functions: JWS parsing (baseline), full token
//! verification (RS256, ES256, a signed SAML assertion), the validated-credential cache, claim
//! mapping, and SigV4 signing of a small and a 64 KiB body (beside building the request, the
//! signing-key derivation that aws-sigv4 repeats inside every signing, and the hashing any
//! signer must do for the small one).
//!
//! `cargo bench --bench hot_paths`

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use stsgate::clock::SystemClock;
use stsgate::config::from_toml;
use stsgate::http_client::HttpClient;
use stsgate::identity::Authenticator;
use stsgate::mapping::Mapper;
use stsgate::signing::Signer;
use stsgate_standins::idp::{EC_KID, IdpStandIn, RSA_KID};
use stsgate_standins::{AUDIENCE, StandIns, sigv4_check::ResigningCheck};

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    h
}

fn identity(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let standins = rt
        .block_on(StandIns::start(Arc::new(ResigningCheck)))
        .unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let config = from_toml(&standins.config_toml(any, any)).unwrap();
    let metrics = Arc::new(stsgate::metrics::Metrics::new());
    let mut uncached = config.identity.clone();
    uncached.token_cache_max_entries = 0;
    let auth = Authenticator::new(
        &uncached,
        &HttpClient::new(),
        Arc::new(SystemClock),
        metrics.clone(),
    );
    let cached = Authenticator::new(
        &config.identity,
        &HttpClient::new(),
        Arc::new(SystemClock),
        metrics,
    );
    for v in auth.issuers().chain(cached.issuers()) {
        rt.block_on(v.keys().refresh()).unwrap();
    }
    let idp: &IdpStandIn = &standins.idp;
    let rs = bearer(&idp.sign(RSA_KID, &idp.claims_for("alice", AUDIENCE)));
    let es = bearer(&idp.sign(EC_KID, &idp.claims_for("alice", AUDIENCE)));
    let mut saml = HeaderMap::new();
    let assertion = format!("SAML {}", standins.saml_assertion_for("alice"));
    saml.insert("authorization", assertion.parse().unwrap());
    let mapper = Mapper::new(&config.mapping);
    let principal = rt.block_on(auth.authenticate(&rs)).unwrap();

    let mut g = c.benchmark_group("identity");
    g.bench_function("bearer_extraction_baseline", |b| {
        b.iter(|| {
            stsgate::identity::bearer_token(black_box(&rs))
                .unwrap()
                .len()
        })
    });
    g.bench_function("verify_rs256", |b| {
        b.iter(|| rt.block_on(auth.authenticate(black_box(&rs))).unwrap())
    });
    g.bench_function("cached_rs256", |b| {
        b.iter(|| rt.block_on(cached.authenticate(black_box(&rs))).unwrap())
    });
    g.bench_function("verify_es256", |b| {
        b.iter(|| rt.block_on(auth.authenticate(black_box(&es))).unwrap())
    });
    g.bench_function("verify_saml_assertion", |b| {
        b.iter(|| rt.block_on(auth.authenticate(black_box(&saml))).unwrap())
    });
    g.bench_function("cached_saml_assertion", |b| {
        b.iter(|| rt.block_on(cached.authenticate(black_box(&saml))).unwrap())
    });
    g.bench_function("map_claims", |b| {
        b.iter(|| mapper.map(black_box(&principal)).unwrap())
    });
    g.finish();
}

fn signing(c: &mut Criterion) {
    let creds: stsgate::signing::Identity = aws_credential_types::Credentials::new(
        "ASIAEXAMPLE",
        "secret",
        Some("t".repeat(600)),
        None,
        "bench",
    )
    .into();
    let signer = Signer::new("us-east-1");
    let request = |body: Bytes| {
        http::Request::post("https://messaging-chime.us-east-1.amazonaws.com/channels/arn%3Aaws%3Achime%3Aus-east-1%3A111122223333%3Aapp-instance%2Fx%2Fchannel%2Fc/messages")
            .header("host", "messaging-chime.us-east-1.amazonaws.com")
            .header("content-type", "application/json")
            .header("x-amz-chime-bearer", "arn:aws:chime:us-east-1:111122223333:app-instance/x/user/alice")
            .body(body)
            .unwrap()
    };
    let small = Bytes::from_static(br#"{"Content":"hello world","Type":"STANDARD","Persistence":"PERSISTENT","ClientRequestToken":"req-0001"}"#);
    let large = Bytes::from(vec![b'x'; 64 * 1024]);
    let now = SystemTime::now();
    let mut g = c.benchmark_group("signing");
    g.bench_function("clone_request_baseline", |b| {
        b.iter(|| black_box(request(small.clone())))
    });
    g.bench_function("sign_small_post", |b| {
        b.iter(|| {
            let mut r = request(small.clone());
            signer.sign(&mut r, &creds, now).unwrap();
            r
        })
    });
    // What an aws-sigv4 able to reuse a derived key would save per request (issue #14): the
    // four HMACs of the day's signing key, which `sign` repeats on every call.
    g.bench_function("signing_key_derivation_alone", |b| {
        b.iter(|| {
            let key =
                aws_sigv4::sign::v4::generate_signing_key("secret", now, "us-east-1", "chime");
            black_box(key.as_ref()[0])
        })
    });
    // The hashing no SigV4 signer can skip for the small POST, to set `sign_small_post` against
    // (issue #14): SHA-256 of the body, of as many bytes as its canonical request holds and of
    // a string to sign, and five HMAC-SHA256 (four for the day's key, one for the signature).
    // Zero bytes stand in for the texts: it is a cost floor, not a signature.
    let sample = request(small.clone());
    let canonical_len = sample.uri().to_string().len()
        + sample
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 2)
            .sum::<usize>()
        + 600 // the session token
        + 200; // the date and token header names, the signed-header list, the payload hash
    let canonical = vec![0u8; canonical_len];
    g.bench_function("irreducible_hashing_baseline", |b| {
        use hmac::{Hmac, Mac};
        use sha2::{Digest, Sha256};
        let hmac = |key: &[u8], data: &[u8]| {
            let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
            m.update(data);
            m.finalize().into_bytes()
        };
        b.iter(|| {
            let body = Sha256::digest(black_box(&small[..]));
            let canonical = Sha256::digest(black_box(&canonical[..]));
            let to_sign = Sha256::digest([&body[..], &canonical[..], &[0u8; 64][..]].concat());
            let mut key = hmac(b"AWS4secret", b"20261203");
            for part in [&b"us-east-1"[..], b"chime", b"aws4_request"] {
                key = hmac(&key, part);
            }
            black_box(hmac(&key, &to_sign))
        })
    });
    g.bench_function("sign_64KiB_post", |b| {
        b.iter(|| {
            let mut r = request(large.clone());
            signer.sign(&mut r, &creds, now).unwrap();
            r
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = identity, signing
}
criterion_main!(benches);
