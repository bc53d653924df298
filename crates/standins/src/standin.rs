//! What every stand-in shares: the request as received (raw path, headers, body), the registry
//! of credentials the STS stand-in issued, and the pluggable SigV4 check (tests plug in a
//! verifier independent of the signing code).

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// A request as a stand-in saw it on the wire.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub method: String,
    /// Exactly as sent: still percent-encoded.
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ReceivedRequest {
    pub async fn read(req: Request<Incoming>) -> Self {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        ReceivedRequest {
            method: parts.method.to_string(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "/".into()),
            headers: parts.headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn path(&self) -> &str {
        self.path_and_query.split('?').next().unwrap_or("/")
    }

    pub fn query(&self) -> Option<&str> {
        self.path_and_query.split_once('?').map(|(_, q)| q)
    }
}

/// Verifies a request's SigV4 signature. Implementations must not share code with the signer
/// under test when used as evidence.
pub trait SignatureCheck: Send + Sync + 'static {
    /// `Ok` when `req`'s header signature was made with `secret` for `service` and `region`.
    fn check(
        &self,
        req: &ReceivedRequest,
        secret: &str,
        service: &str,
        region: &str,
    ) -> Result<(), String>;

    /// `Ok` when `req`'s query-string (presigned) signature is valid and not expired.
    fn check_presigned(
        &self,
        req: &ReceivedRequest,
        secret: &str,
        service: &str,
        region: &str,
    ) -> Result<(), String>;
}

/// The fields of an `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl AuthorizationHeader {
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
        let mut credential = None;
        let mut signed = None;
        let mut signature = None;
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=')?;
            match k {
                "Credential" => credential = Some(v),
                "SignedHeaders" => signed = Some(v),
                "Signature" => signature = Some(v),
                _ => return None,
            }
        }
        let mut scope = credential?.split('/');
        let (ak, date, region, service, term) = (
            scope.next()?,
            scope.next()?,
            scope.next()?,
            scope.next()?,
            scope.next()?,
        );
        if term != "aws4_request" || scope.next().is_some() {
            return None;
        }
        Some(AuthorizationHeader {
            access_key_id: ak.into(),
            date: date.into(),
            region: region.into(),
            service: service.into(),
            signed_headers: signed?.split(';').map(str::to_owned).collect(),
            signature: signature?.into(),
        })
    }
}

/// Credentials a stand-in STS issued (or the base keys it trusts), by access key id.
#[derive(Debug, Clone)]
pub struct IssuedCredential {
    pub secret: String,
    pub session_token: Option<String>,
    pub tags: Vec<(String, String)>,
    pub expires_at: Option<SystemTime>,
}

#[derive(Clone, Default)]
pub struct CredentialStore(Arc<Mutex<HashMap<String, IssuedCredential>>>);

impl CredentialStore {
    pub fn insert(&self, access_key_id: String, c: IssuedCredential) {
        self.0.lock().expect("store lock").insert(access_key_id, c);
    }

    pub fn get(&self, access_key_id: &str) -> Option<IssuedCredential> {
        self.0
            .lock()
            .expect("store lock")
            .get(access_key_id)
            .cloned()
    }
}

/// Random visible-ASCII string for stand-in keys and ids (not secrets of any real system).
pub fn random_token(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut s = String::from(prefix);
    s.extend((0..len).map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char));
    s
}
