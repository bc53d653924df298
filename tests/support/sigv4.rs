//! An independent SigV4 verifier, written from the AWS specification for the tests. It shares no
//! code with aws-sigv4 (the signer under test) and is itself checked against botocore's golden
//! vectors in `tests/data/sigv4-golden-vectors.json`.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use stsgate_standins::standin::{ReceivedRequest, SignatureCheck};

pub struct IndependentCheck;

/// The parts of a SigV4 computation, for comparison with golden vectors.
#[derive(Debug)]
pub struct Computed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
}

impl SignatureCheck for IndependentCheck {
    fn check_presigned(
        &self,
        req: &ReceivedRequest,
        secret: &str,
        service: &str,
        region: &str,
    ) -> Result<(), String> {
        check_presigned(req, secret, service, region, std::time::SystemTime::now())
    }

    fn check(
        &self,
        req: &ReceivedRequest,
        secret: &str,
        service: &str,
        region: &str,
    ) -> Result<(), String> {
        let auth = req
            .header("authorization")
            .ok_or("no Authorization header")?;
        let rest = auth
            .strip_prefix("AWS4-HMAC-SHA256 ")
            .ok_or("not AWS4-HMAC-SHA256")?;
        let field = |name: &str| {
            rest.split(", ")
                .find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .ok_or(format!("Authorization lacks {name}"))
        };
        let credential = field("Credential")?;
        let signed_headers: Vec<&str> = field("SignedHeaders")?.split(';').collect();
        let given = field("Signature")?;
        let scope: Vec<&str> = credential.splitn(2, '/').collect();
        let scope = scope.get(1).ok_or("credential has no scope")?;
        let expected_scope_tail = format!("/{region}/{service}/aws4_request");
        if !scope.ends_with(&expected_scope_tail) {
            return Err(format!("scope {scope} is not for {region}/{service}"));
        }
        for required in ["host", "x-amz-date"] {
            if !signed_headers.contains(&required) {
                return Err(format!("{required} is not signed"));
            }
        }
        if req.header("x-amz-security-token").is_some()
            && !signed_headers.contains(&"x-amz-security-token")
        {
            return Err("the session token is sent but not signed".into());
        }
        let amz_date = req.header("x-amz-date").ok_or("no x-amz-date")?;
        if !scope.starts_with(&amz_date[..8]) {
            return Err("scope date differs from x-amz-date".into());
        }
        let computed = compute(req, &signed_headers, amz_date, scope, secret);
        if computed.signature == given {
            Ok(())
        } else {
            Err(format!(
                "signature mismatch; canonical request was:\n{}",
                computed.canonical_request
            ))
        }
    }
}

/// Canonical request, string to sign and signature for a header-signed request.
pub fn compute(
    req: &ReceivedRequest,
    signed_headers: &[&str],
    amz_date: &str,
    scope: &str,
    secret: &str,
) -> Computed {
    let payload_hash = hex::encode(Sha256::digest(&req.body));
    let query = canonical_query(req.query().unwrap_or(""));
    compute_with(
        req,
        &query,
        signed_headers,
        &payload_hash,
        amz_date,
        scope,
        secret,
    )
}

fn compute_with(
    req: &ReceivedRequest,
    canonical_query: &str,
    signed_headers: &[&str],
    payload_hash: &str,
    amz_date: &str,
    scope: &str,
    secret: &str,
) -> Computed {
    let canonical_headers: String = signed_headers
        .iter()
        .map(|name| {
            let values: Vec<String> = req
                .headers
                .get_all(*name)
                .iter()
                .map(|v| collapse_spaces(v.to_str().unwrap_or_default()))
                .collect();
            format!("{name}:{}\n", values.join(","))
        })
        .collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(req.path()),
        canonical_query,
        canonical_headers,
        signed_headers.join(";"),
        payload_hash
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut parts = scope.split('/');
    let (date, region, service) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let signature = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));
    Computed {
        canonical_request,
        string_to_sign,
        signature,
    }
}

/// Verifies a query-string presigned URL (the messaging WebSocket's), including its expiry at `now`.
pub fn check_presigned(
    req: &ReceivedRequest,
    secret: &str,
    service: &str,
    region: &str,
    now: std::time::SystemTime,
) -> Result<(), String> {
    let raw = req.query().ok_or("no query string")?;
    let params: Vec<(String, String)> = raw
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect();
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .ok_or(format!("{k} missing"))
    };
    if get("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
        return Err("wrong algorithm".into());
    }
    let credential = get("X-Amz-Credential")?;
    let scope = credential
        .split_once('/')
        .ok_or("credential has no scope")?
        .1;
    if !scope.ends_with(&format!("/{region}/{service}/aws4_request")) {
        return Err(format!("scope {scope} is not for {region}/{service}"));
    }
    let amz_date = get("X-Amz-Date")?;
    let expires: u64 = get("X-Amz-Expires")?
        .parse()
        .map_err(|_| "bad X-Amz-Expires")?;
    let signed_at = amz_date_to_time(amz_date)?;
    if now > signed_at + std::time::Duration::from_secs(expires) {
        return Err("presigned URL expired".into());
    }
    let signed_headers: Vec<&str> = get("X-Amz-SignedHeaders")?.split(';').collect();
    let unsigned: String = raw
        .split('&')
        .filter(|p| !p.starts_with("X-Amz-Signature="))
        .collect::<Vec<_>>()
        .join("&");
    let empty_hash = hex::encode(Sha256::digest(b""));
    let c = compute_with(
        req,
        &canonical_query(&unsigned),
        &signed_headers,
        &empty_hash,
        amz_date,
        scope,
        secret,
    );
    if c.signature == get("X-Amz-Signature")? {
        Ok(())
    } else {
        Err(format!(
            "presigned signature mismatch; canonical request:\n{}",
            c.canonical_request
        ))
    }
}

/// `20240115T123045Z` → time, by counting days (no date library needed).
fn amz_date_to_time(s: &str) -> Result<std::time::SystemTime, String> {
    let n = |r: std::ops::Range<usize>| {
        s.get(r)
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or(format!("bad date {s}"))
    };
    let (y, m, d, hh, mm, ss) = (
        n(0..4)?,
        n(4..6)?,
        n(6..8)?,
        n(9..11)?,
        n(11..13)?,
        n(13..15)?,
    );
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Ok(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64))
}

/// Non-S3 rule: each segment of the (already encoded) wire path is URI-encoded again, so `%3A`
/// becomes `%253A`. The path is taken exactly as it came over the wire, without removing dot
/// segments: stsgate never forwards one, so a signer that normalised the path (and so signed
/// another path than it sent) fails here.
pub fn canonical_uri(path: &str) -> String {
    let encoded: Vec<String> = path.split('/').skip(1).map(uri_encode).collect();
    format!("/{}", encoded.join("/"))
}

/// Keys and values decoded, RFC 3986-encoded once, sorted by key then value.
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k)),
                uri_encode(&percent_decode(v)),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn uri_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let escaped = (b[i] == b'%' && i + 2 < b.len())
            .then(|| u8::from_str_radix(&s[i + 1..i + 3], 16).ok())
            .flatten();
        if let Some(v) = escaped {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn collapse_spaces(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}
