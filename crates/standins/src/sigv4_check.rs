//! The demo's signature check: recomputes the signature with aws-sigv4 from the signed headers
//! and compares. Good enough to show the demo working; tests use an independent verifier.

use super::standin::{AuthorizationHeader, ReceivedRequest, SignatureCheck};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::date_time::{DateTime, Format};
use std::time::SystemTime;

pub struct ResigningCheck;

impl SignatureCheck for ResigningCheck {
    fn check(
        &self,
        req: &ReceivedRequest,
        secret: &str,
        service: &str,
        region: &str,
    ) -> Result<(), String> {
        let auth = req
            .header("authorization")
            .and_then(AuthorizationHeader::parse)
            .ok_or("missing or malformed Authorization header")?;
        let time = parse_amz_date(req.header("x-amz-date").ok_or("missing x-amz-date")?)?;
        let token = req.header("x-amz-security-token").map(str::to_owned);
        let identity: Identity =
            Credentials::new(&auth.access_key_id, secret, token, None, "standin").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let headers = auth
            .signed_headers
            .iter()
            .filter(|h| *h != "x-amz-date" && *h != "x-amz-security-token")
            .map(|h| {
                Ok((
                    h.as_str(),
                    req.header(h).ok_or(format!("signed header {h} missing"))?,
                ))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let host = req.header("host").ok_or("missing host")?;
        let uri = format!("http://{host}{}", req.path_and_query);
        let signable = SignableRequest::new(
            &req.method,
            uri,
            headers.into_iter(),
            SignableBody::Bytes(&req.body),
        )
        .map_err(|e| e.to_string())?;
        let out = sign(signable, &params).map_err(|e| e.to_string())?;
        if out.signature() == auth.signature {
            Ok(())
        } else {
            Err("signature does not match".into())
        }
    }

    fn check_presigned(
        &self,
        req: &ReceivedRequest,
        secret: &str,
        service: &str,
        region: &str,
    ) -> Result<(), String> {
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(req.query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .ok_or(format!("{k} missing"))
        };
        let time = parse_amz_date(&get("X-Amz-Date")?)?;
        let expires: u64 = get("X-Amz-Expires")?
            .parse()
            .map_err(|_| "bad X-Amz-Expires")?;
        if SystemTime::now() > time + std::time::Duration::from_secs(expires) {
            return Err("presigned URL expired".into());
        }
        let access_key = get("X-Amz-Credential")?
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let token = get("X-Amz-Security-Token").ok();
        let identity: Identity =
            Credentials::new(access_key, secret, token, None, "standin").into();
        let mut settings = SigningSettings::default();
        settings.signature_location = aws_sigv4::http_request::SignatureLocation::QueryParams;
        settings.expires_in = Some(std::time::Duration::from_secs(expires));
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let own: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().filter(|(k, _)| !k.starts_with("X-Amz-")))
            .finish();
        let host = req.header("host").ok_or("missing host")?;
        let uri = format!("https://{host}{}?{own}", req.path());
        let signable = SignableRequest::new(
            &req.method,
            uri,
            [("host", host)].into_iter(),
            SignableBody::Bytes(&[]),
        )
        .map_err(|e| e.to_string())?;
        let out = sign(signable, &params).map_err(|e| e.to_string())?;
        if out.signature() == get("X-Amz-Signature")? {
            Ok(())
        } else {
            Err("presigned signature does not match".into())
        }
    }
}

/// `20240115T123045Z` → time.
pub fn parse_amz_date(s: &str) -> Result<SystemTime, String> {
    if s.len() != 16 {
        return Err(format!("bad x-amz-date {s:?}"));
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    let dt = DateTime::from_str(&iso, Format::DateTime).map_err(|e| e.to_string())?;
    SystemTime::try_from(dt).map_err(|e| e.to_string())
}
