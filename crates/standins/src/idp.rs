//! An OIDC issuer stand-in on loopback: discovery document, JWKS with one RSA (RS256) and one
//! P-256 (ES256) key generated at start, and token minting. Counts JWKS fetches.

use crate::http::serve;
use crate::http::{Body, json_response};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub const RSA_KID: &str = "standin-rsa-1";
pub const EC_KID: &str = "standin-ec-1";

struct SigningKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

struct State {
    issuer: String,
    keys: Mutex<Vec<Arc<SigningKey>>>,
    /// Keys whose JWK is published (rotation tests unpublish or add keys).
    published: Mutex<Vec<String>>,
    jwks_fetches: AtomicUsize,
    /// While set, the JWKS answers 503 (an IdP outage).
    jwks_down: std::sync::atomic::AtomicBool,
}

pub struct IdpStandIn {
    pub addr: SocketAddr,
    pub issuer: String,
    state: Arc<State>,
    _shutdown: watch::Sender<bool>,
}

impl IdpStandIn {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let issuer = format!("http://{addr}");
        let keys = vec![Arc::new(rsa_key(RSA_KID)), Arc::new(ec_key(EC_KID))];
        let state = Arc::new(State {
            issuer: issuer.clone(),
            published: Mutex::new(keys.iter().map(|k| k.kid.clone()).collect()),
            keys: Mutex::new(keys),
            jwks_fetches: AtomicUsize::new(0),
            jwks_down: std::sync::atomic::AtomicBool::new(false),
        });
        let (tx, rx) = watch::channel(false);
        let s = state.clone();
        tokio::spawn(serve(listener, move |req| handle(req, s.clone()), rx));
        Ok(IdpStandIn {
            addr,
            issuer,
            state,
            _shutdown: tx,
        })
    }

    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks.json", self.issuer)
    }

    /// Simulates an IdP outage (JWKS answers 503) or its end.
    pub fn set_jwks_down(&self, down: bool) {
        self.state.jwks_down.store(down, Ordering::SeqCst);
    }

    /// The public JWK of `kid` (e.g. to try algorithm-confusion attacks with it).
    pub fn jwk(&self, kid: &str) -> Value {
        self.key(kid).jwk.clone()
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Adds a new RSA key; published in the JWKS only if `publish`.
    pub fn add_rsa_key(&self, kid: &str, publish: bool) {
        self.state
            .keys
            .lock()
            .expect("idp lock")
            .push(Arc::new(rsa_key(kid)));
        if publish {
            self.publish(kid);
        }
    }

    pub fn publish(&self, kid: &str) {
        self.state
            .published
            .lock()
            .expect("idp lock")
            .push(kid.to_owned());
    }

    /// Signs `claims` with the key `kid` (its own algorithm).
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        let key = self.key(kid);
        let mut header = Header::new(key.alg);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).expect("stand-in keys sign")
    }

    /// Signs an arbitrary header with `kid`'s key: for hostile-token tests.
    pub fn sign_raw(&self, kid: &str, header: &Value, claims: &Value) -> String {
        let key = self.key(kid);
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key.encoding, key.alg)
            .expect("stand-in keys sign");
        format!("{input}.{sig}")
    }

    /// Signs header and payload given as raw JSON text (duplicate keys and all) with `kid`'s key.
    pub fn sign_text(&self, kid: &str, header: &str, payload: &str) -> String {
        let key = self.key(kid);
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key.encoding, key.alg)
            .expect("stand-in keys sign");
        format!("{input}.{sig}")
    }

    /// Standard claims for `sub`, valid for an hour, for `audience`.
    pub fn claims_for(&self, sub: &str, audience: &str) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        json!({ "iss": self.issuer, "sub": sub, "aud": audience, "iat": now, "exp": now + 3600, "token_use": "id" })
    }

    /// A ready RS256 ID token for `sub`.
    pub fn token_for(&self, sub: &str, audience: &str) -> String {
        self.sign(RSA_KID, &self.claims_for(sub, audience))
    }

    fn key(&self, kid: &str) -> Arc<SigningKey> {
        let keys = self.state.keys.lock().expect("idp lock");
        keys.iter()
            .find(|k| k.kid == kid)
            .cloned()
            .unwrap_or_else(|| panic!("no stand-in key {kid}"))
    }
}

async fn handle(req: Request<Incoming>, state: Arc<State>) -> Response<Body> {
    match req.uri().path() {
        "/.well-known/openid-configuration" => json_response(
            StatusCode::OK,
            &json!({
                "issuer": state.issuer,
                "authorization_endpoint": format!("{}/authorize", state.issuer),
                "token_endpoint": format!("{}/token", state.issuer),
                "jwks_uri": format!("{}/jwks.json", state.issuer),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            }),
        ),
        "/jwks.json" => {
            state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
            if state.jwks_down.load(Ordering::SeqCst) {
                return json_response(StatusCode::SERVICE_UNAVAILABLE, &json!({"error": "down"}));
            }
            let published = state.published.lock().expect("idp lock").clone();
            let keys: Vec<Value> = state
                .keys
                .lock()
                .expect("idp lock")
                .iter()
                .filter(|k| published.contains(&k.kid))
                .map(|k| k.jwk.clone())
                .collect();
            json_response(StatusCode::OK, &json!({ "keys": keys }))
        }
        _ => json_response(StatusCode::NOT_FOUND, &json!({"error": "not_found"})),
    }
}

fn rsa_key(kid: &str) -> SigningKey {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
    let pkcs8 = pair.as_der().expect("PKCS#8 export");
    let pem = pem_wrap("PRIVATE KEY", pkcs8.as_ref());
    let public = pair.public_key();
    let jwk = json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    });
    SigningKey {
        kid: kid.into(),
        alg: Algorithm::RS256,
        encoding: EncodingKey::from_rsa_pem(pem.as_bytes()).expect("PKCS#8 RSA key"),
        jwk,
    }
}

fn ec_key(kid: &str) -> SigningKey {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .expect("EC key generation");
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("EC key");
    // Uncompressed point: 0x04 || X (32 bytes) || Y (32 bytes).
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "use": "sig", "alg": "ES256", "kid": kid, "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    SigningKey {
        kid: kid.into(),
        alg: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk,
    }
}

pub fn pem_wrap(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
