//! The hostile table: every row is a request stsgate must refuse, with the status, the JSON error
//! code and (for identity failures) the `stsgate_token_rejections_total` reason it must be
//! refused with. Each row also proves that nothing is echoed back, no STS call was made and
//! nothing was forwarded. Rows live by kind: `jwt.rs` (tokens), `saml.rs` (assertions),
//! `request.rs` (carriers and requests).

mod forwarded;
mod jwt;
mod mapping;
mod request;
mod saml;

use crate::support::{Harness, messages_path};
use http::StatusCode;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub struct Case {
    pub name: &'static str,
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub status: StatusCode,
    pub code: &'static str,
    /// `stsgate_token_rejections_total` reason, for identity failures.
    pub reason: Option<&'static str>,
}

impl Case {
    /// A GET of the demo channel's messages with these headers, refused with `status`/`code`.
    pub fn get(
        name: &'static str,
        headers: &[(&str, &str)],
        status: u16,
        code: &'static str,
    ) -> Self {
        Case {
            name,
            method: "GET",
            path: messages_path(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: String::new(),
            status: StatusCode::from_u16(status).unwrap(),
            code,
            reason: None,
        }
    }

    /// The same case sent as `method` to `path`.
    pub fn to(self, method: &'static str, path: String) -> Self {
        Case {
            method,
            path,
            ..self
        }
    }

    /// The same case with a body.
    pub fn with_body(self, body: impl Into<String>) -> Self {
        Case {
            body: body.into(),
            ..self
        }
    }

    /// A credential refused as `invalid_token` for `reason`.
    pub fn invalid(name: &'static str, headers: &[(&str, &str)], reason: &'static str) -> Self {
        Case {
            reason: Some(reason),
            ..Case::get(name, headers, 401, "invalid_token")
        }
    }
}

/// Every JWT row in `Authorization: Bearer`.
fn bearer_cases(h: &Harness) -> Vec<Case> {
    jwt::rows(&h.standins.idp)
        .into_iter()
        .map(|j| {
            Case::invalid(
                j.name,
                &[("authorization", &format!("Bearer {}", j.token))],
                j.reason,
            )
        })
        .collect()
}

/// Every JWT row as a stock SDK carries it in session-token mode: the JWT is the session token
/// of placeholder credentials, the request signed with them.
fn session_token_cases(h: &Harness) -> Vec<Case> {
    let placeholder = "AWS4-HMAC-SHA256 Credential=stsgate/20260101/us-east-1/chime/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=0000";
    jwt::rows(&h.standins.idp)
        .into_iter()
        .map(|j| {
            let headers = [
                ("authorization", placeholder),
                ("x-amz-date", "20260101T000000Z"),
                ("x-amz-security-token", j.token.as_str()),
            ];
            Case::invalid(j.name, &headers, j.reason)
        })
        .collect()
}

#[tokio::test]
async fn every_jwt_row_holds_for_the_session_token_carrier() {
    let h = Harness::start_with(|c| c.compat.session_token_auth = true).await;
    let mut cases = session_token_cases(&h);
    let good = h.token("alice");
    cases.push(Case::invalid(
        "a bearer token and a session token",
        &[
            ("authorization", &format!("Bearer {good}")),
            ("x-amz-security-token", &good),
        ],
        "malformed",
    ));
    cases.push(Case {
        reason: Some("missing"),
        ..Case::get("placeholder signature, no session token", &[("authorization", "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/chime/aws4_request, SignedHeaders=host, Signature=00")], 401, "missing_token")
    });
    assert!(cases.len() > 40);
    for case in &cases {
        assert_refused(&h, case).await;
    }
}

/// Representative JWT rows as the Chime JS SDK's default signer carries a token on `/connect`:
/// `X-Amz-Security-Token` in its presigned query. Each completes the upgrade, closes with 4401
/// (the SDK stops) and is counted for its reason, with no STS call and nothing bridged.
#[tokio::test]
async fn jwt_rows_hold_for_the_connect_query_carrier() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let h = Harness::start_with(|c| c.compat.session_token_auth = true).await;
    let picked = [
        "expired",
        "wrong audience",
        "tampered payload",
        "signature of another token",
        "alg none",
        "unknown issuer",
        "unknown kid",
    ];
    let rows: Vec<_> = jwt::rows(&h.standins.idp)
        .into_iter()
        .filter(|j| picked.contains(&j.name))
        .collect();
    assert_eq!(rows.len(), picked.len());
    let user = format!("{}/user/alice", stsgate_standins::APP_INSTANCE_ARN);
    for j in rows {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
            .append_pair(
                "X-Amz-Credential",
                "stsgate/20260101/us-east-1/chime/aws4_request",
            )
            .append_pair("X-Amz-Date", "20260101T000000Z")
            .append_pair("X-Amz-Expires", "10")
            .append_pair("X-Amz-Security-Token", &j.token)
            .append_pair("X-Amz-SignedHeaders", "host")
            .append_pair("sessionId", "4242")
            .append_pair("userArn", &user)
            .append_pair("X-Amz-Signature", "0000")
            .finish();
        let series = format!("stsgate_token_rejections_total{{reason=\"{}\"}}", j.reason);
        let before = h.metric(&series).await;
        let url = format!("ws://{}/connect?{query}", h.gateway.proxy_addr);
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("{}: no upgrade: {e}", j.name));
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .unwrap_or_else(|_| panic!("{}: no close in time", j.name));
        match frame {
            Some(Ok(Message::Close(Some(f)))) => {
                assert_eq!(u16::from(f.code), 4401, "{}", j.name);
                assert!(!f.reason.contains(&j.token), "{}: token echoed", j.name);
            }
            other => panic!("{}: {other:?}", j.name),
        }
        assert_eq!(
            h.metric(&series).await,
            before + 1.0,
            "{}: {series}",
            j.name
        );
        assert!(
            h.standins.sts.calls().is_empty(),
            "{}: STS was called",
            j.name
        );
        assert!(
            h.standins.chime.received().is_empty(),
            "{}: something was bridged",
            j.name
        );
    }
}

#[tokio::test]
async fn every_refusal_is_clear_and_costs_nothing_upstream() {
    let h = Harness::start().await;
    let mut cases = bearer_cases(&h);
    cases.extend(request::cases(&h));
    cases.extend(saml::cases(&h.standins.saml_idp));
    assert!(
        cases.len() >= 90,
        "the hostile table has {} cases",
        cases.len()
    );
    for case in &cases {
        assert_refused(&h, case).await;
    }
}

/// The case's status, code, message and challenge; nothing echoed; its reason counted once; no
/// STS call; nothing forwarded.
pub async fn assert_refused(h: &Harness, case: &Case) {
    let headers: Vec<(&str, &str)> = case
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let series = case
        .reason
        .map(|reason| format!("stsgate_token_rejections_total{{reason=\"{reason}\"}}"));
    let before = match &series {
        Some(s) => h.metric(s).await,
        None => 0.0,
    };
    let r = h.send(case.method, &case.path, &headers, &case.body).await;
    let name = case.name;
    assert_eq!(r.status, case.status, "{name}: {}", r.body);
    let body = r.json();
    assert_eq!(body["error"], case.code, "{name}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{name}"
    );
    assert_eq!(r.headers["content-type"], "application/json", "{name}");
    // The shape the AWS SDKs decode: the exception in the header and in the body.
    let exception = r.headers["x-amzn-errortype"].to_str().unwrap();
    assert_eq!(body["Code"], exception, "{name}");
    assert_eq!(body["Message"], body["message"], "{name}");
    let challenge = r
        .headers
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    if case.status == StatusCode::UNAUTHORIZED {
        let c = challenge.unwrap_or_else(|| panic!("{name}: no WWW-Authenticate"));
        assert!(
            c.starts_with("Bearer ") && c.contains("error=\"invalid_token\""),
            "{c}"
        );
    } else {
        assert!(challenge.is_none(), "{name}");
    }
    // The caller's credential never comes back.
    for (_, v) in &case.headers {
        let token = v.rsplit(' ').next().unwrap_or_default();
        if token.len() > 8 {
            assert!(!r.body.contains(token), "{name}: credential echoed");
        }
    }
    // Refused for exactly this reason: its counter moved by one.
    if let Some(series) = series {
        assert_eq!(
            h.metric(&series).await,
            before + 1.0,
            "{name}: {series} did not move by one"
        );
    }
    assert_eq!(h.standins.sts.calls().len(), 0, "{name}: STS was called");
    assert!(
        h.standins.chime.received().is_empty(),
        "{name}: request was forwarded"
    );
}
