//! Golden SigV4 vectors computed by botocore 1.43.11: the independent test verifier must reproduce
//! them exactly, and stsgate's signer must produce byte-identical Authorization headers.

use crate::support::sigv4::{IndependentCheck, compute};
use bytes::Bytes;
use serde_json::Value;
use stsgate::signing::Signer;
use stsgate_standins::standin::{ReceivedRequest, SignatureCheck};

const REST_VECTORS: &[&str] = &[
    "SendChannelMessage",
    "ListChannelMessages",
    "ListChannelMembershipsForAppInstanceUser",
    "DeleteChannelMembership",
    "GetMessagingSessionEndpoint",
    "RedactChannelMessage",
];

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/sigv4-golden-vectors.json")).expect("vectors are JSON")
}

fn inputs() -> (String, String, String) {
    let v = vectors();
    let i = &v["_inputs"];
    (
        i["access_key"].as_str().unwrap().into(),
        i["secret_key"].as_str().unwrap().into(),
        i["session_token"].as_str().unwrap().into(),
    )
}

/// The vector's request as a server would receive it.
fn received(v: &Value) -> ReceivedRequest {
    let url = url::Url::parse(v["url"].as_str().unwrap()).unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert("host", url.host_str().unwrap().parse().unwrap());
    for (k, val) in v["headers"].as_object().unwrap() {
        headers.insert(
            http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).unwrap(),
            val.as_str().unwrap().parse().unwrap(),
        );
    }
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    ReceivedRequest {
        method: v["method"].as_str().unwrap().into(),
        path_and_query,
        headers,
        body: v["body"]
            .as_str()
            .map(|b| Bytes::from(b.to_owned()))
            .unwrap_or_default(),
    }
}

fn signed_headers(v: &Value) -> Vec<String> {
    let auth = v["headers"]["Authorization"].as_str().unwrap();
    let list = auth
        .split("SignedHeaders=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    list.split(';').map(str::to_owned).collect()
}

#[test]
fn independent_verifier_reproduces_botocore() {
    let all = vectors();
    let (_, secret, _) = inputs();
    for name in REST_VECTORS {
        let v = &all[*name];
        let req = received(v);
        let signed = signed_headers(v);
        let signed: Vec<&str> = signed.iter().map(String::as_str).collect();
        let date = req.header("x-amz-date").unwrap().to_owned();
        let scope = format!("{}/us-east-1/chime/aws4_request", &date[..8]);
        let c = compute(&req, &signed, &date, &scope, &secret);
        assert_eq!(
            c.canonical_request,
            v["canonical_request"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            c.string_to_sign,
            v["string_to_sign"].as_str().unwrap(),
            "{name}"
        );
        IndependentCheck
            .check(&req, &secret, "chime", "us-east-1")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn independent_verifier_rejects_tampering() {
    let all = vectors();
    let (_, secret, _) = inputs();
    let original = received(&all["SendChannelMessage"]);
    let mut tampered = Vec::new();
    let mut body = original.clone();
    body.body = Bytes::from_static(b"{\"Content\": \"evil\"}");
    tampered.push(("body", body));
    let mut bearer = original.clone();
    bearer.headers.insert(
        "x-amz-chime-bearer",
        "arn:aws:chime:us-east-1:123456789012:app-instance/x/user/mallory"
            .parse()
            .unwrap(),
    );
    tampered.push(("bearer", bearer));
    let mut path = original.clone();
    path.path_and_query = path.path_and_query.replace("chan-1", "chan-2");
    tampered.push(("path", path));
    let mut token = original.clone();
    token
        .headers
        .insert("x-amz-security-token", "other".parse().unwrap());
    tampered.push(("token", token));
    for (what, req) in tampered {
        assert!(
            IndependentCheck
                .check(&req, &secret, "chime", "us-east-1")
                .is_err(),
            "{what} tampering passed"
        );
    }
    assert!(
        IndependentCheck
            .check(&original, "wrong-secret", "chime", "us-east-1")
            .is_err()
    );
    assert!(
        IndependentCheck
            .check(&original, &secret, "messaging-chime", "us-east-1")
            .is_err()
    );
}

#[test]
fn signer_matches_botocore_byte_for_byte() {
    let all = vectors();
    let (ak, sk, token) = inputs();
    let creds: stsgate::signing::Identity =
        aws_credential_types::Credentials::new(ak, sk, Some(token.clone()), None, "vectors").into();
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_705_321_845); // 2024-01-15T12:30:45Z
    for name in REST_VECTORS {
        let v = &all[*name];
        let url = url::Url::parse(v["url"].as_str().unwrap()).unwrap();
        let mut req = http::Request::builder()
            .method(v["method"].as_str().unwrap())
            .uri(v["url"].as_str().unwrap())
            .header("host", url.host_str().unwrap());
        for h in ["x-amz-chime-bearer", "Content-Type"] {
            if let Some(val) = v["headers"][h].as_str() {
                req = req.header(h, val);
            }
        }
        let body = v["body"]
            .as_str()
            .map(|b| Bytes::from(b.to_owned()))
            .unwrap_or_default();
        let mut req = req.body(body).unwrap();
        Signer::new("us-east-1")
            .sign(&mut req, &creds, time)
            .unwrap();
        let h = req.headers();
        assert_eq!(
            h["authorization"],
            v["headers"]["Authorization"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(h["x-amz-date"], "20240115T123045Z", "{name}");
        assert_eq!(h["x-amz-security-token"], token.as_str(), "{name}");
    }
}

#[test]
fn websocket_presign_matches_botocore_and_the_js_sdk() {
    let all = vectors();
    let (ak, sk, token) = inputs();
    let creds: stsgate::signing::Identity =
        aws_credential_types::Credentials::new(ak, sk, Some(token), None, "vectors").into();
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_705_321_845);
    let user = "arn:aws:chime:us-east-1:123456789012:app-instance/11111111-2222-3333-4444-555555555555/user/alice";
    let query = Signer::new("us-east-1")
        .presign_connect(
            "abcdef123.us-east-1.ws-messaging.chime.aws",
            &[
                ("userArn", user),
                ("sessionId", "1234567890"),
                ("prefetch-on", "connect"),
            ],
            &creds,
            time,
        )
        .unwrap();
    let expected = all["WebSocketConnect_js_algorithm"]["signature"]
        .as_str()
        .unwrap();
    assert!(
        query.contains(&format!("X-Amz-Signature={expected}")),
        "{query}"
    );
    assert!(
        query.contains("X-Amz-Expires=10") && query.contains("X-Amz-SignedHeaders=host"),
        "{query}"
    );
    // The independent verifier agrees with the same URL.
    let received = ReceivedRequest {
        method: "GET".into(),
        path_and_query: format!("/connect?{query}"),
        headers: [(
            http::header::HOST,
            "abcdef123.us-east-1.ws-messaging.chime.aws"
                .parse()
                .unwrap(),
        )]
        .into_iter()
        .collect(),
        body: Bytes::new(),
    };
    crate::support::sigv4::check_presigned(&received, &inputs().1, "chime", "us-east-1", time)
        .unwrap();
}

#[test]
fn the_signature_covers_the_exact_wire_path() {
    // stsgate refuses dot segments before signing; its signer must still never normalise, or
    // `…/messages/msg-1/..` would be signed as `…/messages`, another operation's path.
    let (ak, secret, token) = inputs();
    let creds: stsgate::signing::Identity =
        aws_credential_types::Credentials::new(ak, secret.clone(), Some(token), None, "t").into();
    let path = "/channels/arn%3Aaws%3Achime%3Aus-east-1%3A111122223333%3Aapp-instance%2Fai%2Fchannel%2Fc1/messages/msg-1/..";
    let mut req = http::Request::put(format!(
        "https://messaging-chime.us-east-1.amazonaws.com{path}"
    ))
    .header("host", "messaging-chime.us-east-1.amazonaws.com")
    .header("content-type", "application/json")
    .body(Bytes::from_static(b"{}"))
    .unwrap();
    Signer::new("us-east-1")
        .sign(&mut req, &creds, std::time::SystemTime::now())
        .unwrap();
    let received = ReceivedRequest {
        method: "PUT".into(),
        path_and_query: path.into(),
        headers: req.headers().clone(),
        body: req.body().clone(),
    };
    IndependentCheck
        .check(&received, &secret, "chime", "us-east-1")
        .expect("signed over the path exactly as sent");
}

#[test]
fn the_verifier_reads_the_path_as_sent() {
    // The proof above is worth something only if the verifier does not normalise either: a
    // request signed by a normalising signer (aws-sigv4's defaults) over `…/msg-1/..` carries a
    // signature for `…/messages/`, and must not verify against the path on the wire. (botocore
    // cannot make this proof: its SigV4Auth removes dot segments before signing.)
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_smithy_runtime_api::client::identity::Identity;
    let (ak, secret, token) = inputs();
    let identity: Identity =
        aws_credential_types::Credentials::new(ak, secret.clone(), Some(token), None, "t").into();
    let host = "messaging-chime.us-east-1.amazonaws.com";
    let messages = "/channels/arn%3Aaws%3Achime%3Aus-east-1%3A111122223333%3Aapp-instance%2Fai%2Fchannel%2Fc1/messages";
    let wire = format!("{messages}/msg-1/..");
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("chime")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let mut req = http::Request::put(format!("https://{host}{wire}"))
        .header("host", host)
        .header("content-type", "application/json")
        .body(Bytes::from_static(b"{}"))
        .unwrap();
    let signable = SignableRequest::new(
        "PUT",
        req.uri().to_string(),
        [("host", host), ("content-type", "application/json")].into_iter(),
        SignableBody::Bytes(b"{}"),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    let received_at = |path: &str| ReceivedRequest {
        method: "PUT".into(),
        path_and_query: path.into(),
        headers: req.headers().clone(),
        body: req.body().clone(),
    };
    // Control: the signature is sound, for the normalised path it was made over.
    IndependentCheck
        .check(
            &received_at(&format!("{messages}/")),
            &secret,
            "chime",
            "us-east-1",
        )
        .expect("valid over the normalised path");
    let refused = IndependentCheck
        .check(&received_at(&wire), &secret, "chime", "us-east-1")
        .expect_err("a signature over the normalised path verified against the wire path");
    assert!(refused.contains("signature mismatch"), "{refused}");
}
