//! Bad input: each refusal has its status, JSON error code and (for 401) a `WWW-Authenticate`
//! challenge, and causes no STS call and no upstream request. Dependency failures map to
//! 403/502/503/504 as documented.

mod saml;

use crate::support::{Harness, message_body, messages_path};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};
use stsgate_standins::idp::{EC_KID, RSA_KID};
use stsgate_standins::sts::StsBehaviour;
use stsgate_standins::{APP_INSTANCE_ARN, AUDIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Case {
    name: &'static str,
    headers: Vec<(String, String)>,
    body: String,
    status: StatusCode,
    code: &'static str,
    /// `stsgate_token_rejections_total` reason, for identity failures.
    reason: Option<&'static str>,
}

fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("authorization".into(), format!("Bearer {token}"))]
}

fn unauthorized(name: &'static str, token: &str, reason: &'static str) -> Case {
    Case {
        name,
        headers: bearer(token),
        body: String::new(),
        status: StatusCode::UNAUTHORIZED,
        code: "invalid_token",
        reason: Some(reason),
    }
}

fn cases(h: &Harness) -> Vec<Case> {
    let idp = &h.standins.idp;
    let claims = |edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut c = idp.claims_for("alice", AUDIENCE);
        edit(c.as_object_mut().unwrap());
        c
    };
    let good = idp.token_for("alice", AUDIENCE);

    // Payload swapped after signing: the signature no longer matches.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(
        claims(&|c| {
            c.insert("sub".into(), "mallory".into());
        })
        .to_string(),
    );
    let tampered = parts.join(".");
    let unsigned = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims(&|_| {}).to_string())
    );
    let rsa_header = json!({"alg": "RS256", "kid": RSA_KID}).to_string();
    let mut dup = claims(&|_| {}).to_string();
    dup.insert_str(1, r#""sub":"mallory","#);
    let dup_sub = idp.sign_text(RSA_KID, &rsa_header, &dup);
    let other = idp.token_for("bob", AUDIENCE);
    let other_sig = other.rsplit('.').next().unwrap().to_owned();
    let oversize = idp.sign(
        RSA_KID,
        &claims(&|c| {
            c.insert("pad".into(), "x".repeat(9000).into());
        }),
    );

    vec![
        Case {
            name: "no token",
            headers: vec![],
            body: String::new(),
            status: StatusCode::UNAUTHORIZED,
            code: "missing_token",
            reason: Some("missing"),
        },
        Case {
            name: "basic auth",
            headers: vec![("authorization".into(), "Basic YTpi".into())],
            body: String::new(),
            status: StatusCode::UNAUTHORIZED,
            code: "missing_token",
            reason: Some("missing"),
        },
        unauthorized("not a JWT", "not-a-jwt", "malformed"),
        unauthorized(
            "expired",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.insert("exp".into(), (now() - 3600).into());
                    c.insert("iat".into(), (now() - 7200).into());
                }),
            ),
            "expired",
        ),
        unauthorized(
            "not yet valid",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.insert("nbf".into(), (now() + 3600).into());
                }),
            ),
            "not_yet_valid",
        ),
        unauthorized(
            "issued in the future",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.insert("iat".into(), (now() + 3600).into());
                }),
            ),
            "issued_in_future",
        ),
        unauthorized(
            "missing exp",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.remove("exp");
                }),
            ),
            "missing_claim",
        ),
        unauthorized(
            "wrong audience",
            &idp.token_for("alice", "someone-else"),
            "wrong_audience",
        ),
        unauthorized(
            "audience array without ours",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.insert("aud".into(), json!(["a", "b"]));
                }),
            ),
            "wrong_audience",
        ),
        unauthorized(
            "unknown issuer",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.insert("iss".into(), "https://evil.example".into());
                }),
            ),
            "unknown_issuer",
        ),
        unauthorized(
            "issuer prefix trick",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.insert("iss".into(), format!("{}/evil", idp.issuer).into());
                }),
            ),
            "unknown_issuer",
        ),
        unauthorized("tampered payload", &tampered, "bad_signature"),
        unauthorized("alg none", &unsigned, "disallowed_alg"),
        unauthorized(
            "RS256 header on the EC key",
            &idp.sign_raw(
                EC_KID,
                &json!({"alg": "ES256", "kid": RSA_KID}),
                &claims(&|_| {}),
            ),
            "unknown_kid",
        ),
        unauthorized(
            "unknown kid",
            &idp.sign_raw(
                RSA_KID,
                &json!({"alg": "RS256", "kid": "nope"}),
                &claims(&|_| {}),
            ),
            "unknown_kid",
        ),
        unauthorized(
            "crit header",
            &idp.sign_raw(
                RSA_KID,
                &json!({"alg": "RS256", "kid": RSA_KID, "crit": ["x"]}),
                &claims(&|_| {}),
            ),
            "unsupported_header",
        ),
        unauthorized("oversize", &oversize, "oversize"),
        unauthorized(
            "signed with the right key, wrong header alg",
            &idp.sign_raw(
                RSA_KID,
                &json!({"alg": "PS256", "kid": RSA_KID}),
                &claims(&|_| {}),
            ),
            "unknown_kid",
        ),
        Case {
            name: "bearer of another user",
            headers: [
                bearer(&good),
                vec![(
                    "x-amz-chime-bearer".into(),
                    format!("{APP_INSTANCE_ARN}/user/bob"),
                )],
            ]
            .concat(),
            body: String::new(),
            status: StatusCode::FORBIDDEN,
            code: "bearer_mismatch",
            reason: None,
        },
        Case {
            name: "user id Chime cannot represent",
            headers: bearer(&idp.token_for("auth0|12345", AUDIENCE)),
            body: String::new(),
            status: StatusCode::FORBIDDEN,
            code: "identity_not_mappable",
            reason: None,
        },
        Case {
            name: "body over the limit",
            headers: [
                bearer(&good),
                vec![("content-type".into(), "application/json".into())],
            ]
            .concat(),
            body: "x".repeat(1024 * 1024 + 1),
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            reason: None,
        },
        unauthorized("duplicate sub in a signed payload", &dup_sub, "malformed"),
        unauthorized(
            "duplicate alg in the header",
            &idp.sign_text(
                RSA_KID,
                &format!(r#"{{"alg":"RS256","kid":"{RSA_KID}","alg":"none"}}"#),
                &claims(&|_| {}).to_string(),
            ),
            "malformed",
        ),
        unauthorized(
            "payload is a JSON array",
            &idp.sign_text(RSA_KID, &rsa_header, "[1,2]"),
            "malformed",
        ),
        unauthorized(
            "payload is not JSON",
            &idp.sign_text(RSA_KID, &rsa_header, "not json"),
            "malformed",
        ),
        unauthorized(
            "deeply nested claims",
            &idp.sign_text(
                RSA_KID,
                &rsa_header,
                &format!(
                    r#"{{"iss":"x","a":{}1{}}}"#,
                    "[".repeat(300),
                    "]".repeat(300)
                ),
            ),
            "malformed",
        ),
        unauthorized(
            "kid is a number",
            &idp.sign_raw(
                RSA_KID,
                &json!({"alg": "RS256", "kid": 7}),
                &claims(&|_| {}),
            ),
            "malformed",
        ),
        unauthorized(
            "signature is not base64url",
            &format!("{}!!!", &good[..good.rfind('.').unwrap() + 1]),
            "bad_signature",
        ),
        unauthorized(
            "stripped signature",
            &good[..good.rfind('.').unwrap() + 1],
            "malformed",
        ),
        unauthorized(
            "signature of another token",
            &format!("{}{}", &good[..good.rfind('.').unwrap() + 1], other_sig),
            "bad_signature",
        ),
        unauthorized(
            "exp is a string",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.insert("exp".into(), "9999999999".into());
                }),
            ),
            "malformed",
        ),
        unauthorized(
            "negative exp",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.insert("exp".into(), (-1).into());
                }),
            ),
            "expired",
        ),
        unauthorized(
            "no aud and no client_id",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.remove("aud");
                }),
            ),
            "wrong_audience",
        ),
        unauthorized(
            "wrong aud with a matching client_id",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.insert("aud".into(), "other".into());
                    c.insert("client_id".into(), AUDIENCE.into());
                }),
            ),
            "wrong_audience",
        ),
        unauthorized(
            "aud is a number",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.insert("aud".into(), 5.into());
                }),
            ),
            "wrong_audience",
        ),
        unauthorized(
            "no iss",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.remove("iss");
                }),
            ),
            "missing_claim",
        ),
        unauthorized(
            "iss is a number",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.insert("iss".into(), 1.into());
                }),
            ),
            "missing_claim",
        ),
        unauthorized(
            "issuer with a trailing slash",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.insert("iss".into(), format!("{}/", idp.issuer).into());
                }),
            ),
            "unknown_issuer",
        ),
        unauthorized(
            "issuer in upper case",
            &idp.sign(
                RSA_KID,
                &claims(&|c| {
                    c.insert("iss".into(), idp.issuer.to_uppercase().into());
                }),
            ),
            "unknown_issuer",
        ),
        unauthorized(
            "alg in lower case",
            &idp.sign_raw(
                RSA_KID,
                &json!({"alg": "rs256", "kid": RSA_KID}),
                &claims(&|_| {}),
            ),
            "disallowed_alg",
        ),
        unauthorized(
            "unknown alg",
            &idp.sign_raw(
                RSA_KID,
                &json!({"alg": "RS1024", "kid": RSA_KID}),
                &claims(&|_| {}),
            ),
            "disallowed_alg",
        ),
        unauthorized(
            "nested JWT",
            &idp.sign_raw(
                RSA_KID,
                &json!({"alg": "RS256", "kid": RSA_KID, "cty": "JWT"}),
                &claims(&|_| {}),
            ),
            "unsupported_header",
        ),
        unauthorized(
            "embedded jwk",
            &idp.sign_raw(
                RSA_KID,
                &json!({"alg": "RS256", "kid": RSA_KID, "jwk": idp.jwk(RSA_KID)}),
                &claims(&|_| {}),
            ),
            "unsupported_header",
        ),
        unauthorized(
            "remote x5u",
            &idp.sign_raw(
                RSA_KID,
                &json!({"alg": "RS256", "kid": RSA_KID, "x5u": "https://evil.example/c"}),
                &claims(&|_| {}),
            ),
            "unsupported_header",
        ),
        unauthorized(
            "no kid, and no key allows the algorithm",
            &idp.sign_raw(RSA_KID, &json!({"alg": "PS256"}), &claims(&|_| {})),
            "unknown_kid",
        ),
        unauthorized(
            "token with whitespace inside",
            &format!("{} {}", &good[..10], &good[10..]),
            "malformed",
        ),
        Case {
            name: "empty bearer",
            headers: vec![("authorization".into(), "Bearer ".into())],
            body: String::new(),
            status: StatusCode::UNAUTHORIZED,
            code: "missing_token",
            reason: Some("missing"),
        },
        Case {
            name: "two Authorization headers",
            headers: [bearer(&good), bearer(&good)].concat(),
            body: String::new(),
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_token",
            reason: Some("malformed"),
        },
    ]
}

#[tokio::test]
async fn every_refusal_is_clear_and_costs_nothing_upstream() {
    let h = Harness::start().await;
    let mut cases = cases(&h);
    cases.extend(saml::cases(&h.standins.saml_idp));
    assert!(
        cases.len() >= 40,
        "the hostile table has {} cases",
        cases.len()
    );
    for case in cases {
        let headers: Vec<(&str, &str)> = case
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let method = if case.body.is_empty() { "GET" } else { "POST" };
        let series = case
            .reason
            .map(|reason| format!("stsgate_token_rejections_total{{reason=\"{reason}\"}}"));
        let before = match &series {
            Some(s) => h.metric(s).await,
            None => 0.0,
        };
        let r = h.send(method, &messages_path(), &headers, &case.body).await;
        assert_eq!(r.status, case.status, "{}: {}", case.name, r.body);
        let body = r.json();
        assert_eq!(body["error"], case.code, "{}", case.name);
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            case.name
        );
        assert_eq!(r.headers["content-type"], "application/json");
        let challenge = r
            .headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        if case.status == StatusCode::UNAUTHORIZED {
            let c = challenge.unwrap_or_else(|| panic!("{}: no WWW-Authenticate", case.name));
            assert!(
                c.starts_with("Bearer ") && c.contains("error=\"invalid_token\""),
                "{c}"
            );
        } else {
            assert!(challenge.is_none(), "{}", case.name);
        }
        // The caller's credential never comes back.
        for (_, v) in &case.headers {
            let token = v
                .strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("SAML "));
            if let Some(token) = token.filter(|t| !t.is_empty()) {
                assert!(!r.body.contains(token), "{}: token echoed", case.name);
            }
        }
        // Refused for exactly this reason: its counter moved by one.
        if let Some(series) = series {
            assert_eq!(
                h.metric(&series).await,
                before + 1.0,
                "{}: {series} did not move by one",
                case.name
            );
        }
        assert_eq!(
            h.standins.sts.calls().len(),
            0,
            "{}: STS was called",
            case.name
        );
        assert!(
            h.standins.chime.received().is_empty(),
            "{}: request was forwarded",
            case.name
        );
    }
}

#[tokio::test]
async fn chunked_oversize_body_is_refused_without_content_length() {
    let h = Harness::start().await;
    let token = h.token("alice");
    let mut s = tokio::net::TcpStream::connect(h.gateway.proxy_addr)
        .await
        .unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n",
        messages_path()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..20 {
        let frame = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk.clone(),
            b"\r\n".to_vec(),
        ]
        .concat();
        if s.write_all(&frame).await.is_err() {
            break; // the proxy may answer and close early
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut reply = Vec::new();
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut reply)).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(h.standins.sts.calls().is_empty());
    assert!(h.standins.chime.received().is_empty());
}

#[tokio::test]
async fn sts_refusal_is_403_and_sts_outage_is_503_with_retry_after() {
    // A short STS budget: the outage is retried for 2 s, not the default 10.
    let h = Harness::start_with(|c| c.sts.timeout_seconds = 2).await;
    h.standins.sts.set_behaviour(StsBehaviour {
        fail: Some((403, "AccessDenied")),
        ..Default::default()
    });
    let r = h.call("alice", "GET", &messages_path(), "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.json()["error"], "sts_denied");
    assert_eq!(
        h.metric("stsgate_sts_assume_role_errors_total{code=\"AccessDenied\"}")
            .await,
        1.0
    );

    h.standins.sts.set_behaviour(StsBehaviour {
        fail: Some((500, "InternalFailure")),
        ..Default::default()
    });
    let r = h.call("bob", "GET", &messages_path(), "").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.json()["error"], "sts_unavailable");
    assert_eq!(r.headers["retry-after"], "5");
    assert!(
        !r.body.contains("InternalFailure"),
        "STS details stay in the log"
    );
    assert!(h.standins.chime.received().is_empty());

    // Failures are not cached: STS back, the same user succeeds.
    h.standins.sts.set_behaviour(StsBehaviour::default());
    let r = h
        .call("bob", "POST", &messages_path(), &message_body("back"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let h = Harness::start_with(|c| {
        c.upstream.endpoint = Some(format!("http://{closed}").parse().unwrap())
    })
    .await;
    let r = h.call("alice", "GET", &messages_path(), "").await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.body);
    assert_eq!(r.json()["error"], "upstream_unavailable");
}

#[tokio::test]
async fn silent_upstream_is_504() {
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let h = Harness::start_with(|c| {
        c.upstream.endpoint = Some(format!("http://{addr}").parse().unwrap());
        c.upstream.timeout_seconds = 1;
    })
    .await;
    let r = h.call("alice", "GET", &messages_path(), "").await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{}", r.body);
    assert_eq!(r.json()["error"], "upstream_timeout");
}
