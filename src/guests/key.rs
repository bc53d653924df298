//! The key guest tokens are signed with: ES256 (P-256), from a PKCS#8 PEM file shared by every
//! replica, or generated at start. Its public half is the guests' key set (JWKS).

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

pub struct GuestKey {
    encoding: EncodingKey,
    kid: String,
    jwks: Value,
}

impl std::fmt::Debug for GuestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl GuestKey {
    /// A PKCS#8 PEM P-256 private key (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`).
    pub fn from_pem(pem: &[u8]) -> Result<GuestKey, String> {
        let der = match PrivateKeyDer::from_pem_slice(pem) {
            Ok(PrivateKeyDer::Pkcs8(k)) => k.secret_pkcs8_der().to_vec(),
            Ok(_) => return Err("the key must be PKCS#8 (BEGIN PRIVATE KEY)".into()),
            Err(e) => return Err(format!("no private key: {e}")),
        };
        Self::from_pkcs8(&der)
    }

    /// A fresh key, for one replica or the demo.
    pub fn generate() -> GuestKey {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("P-256 key generation works");
        Self::from_pkcs8(doc.as_ref()).expect("a generated key loads")
    }

    fn from_pkcs8(der: &[u8]) -> Result<GuestKey, String> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|_| "not a P-256 (ES256) key".to_owned())?;
        // Uncompressed point: 0x04 || X || Y.
        let point = pair.public_key().as_ref();
        let (x, y) = point[1..].split_at(32);
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, point);
        let kid = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12]);
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        });
        Ok(GuestKey {
            encoding: EncodingKey::from_ec_der(der),
            kid,
            jwks: json!({ "keys": [jwk] }),
        })
    }

    /// The public key set, as `/.well-known/jwks.json` serves it.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("ES256 signing works")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_verifies_with_the_published_key() {
        let key = GuestKey::generate();
        let token = key.sign(&json!({"sub": "g", "exp": 4_000_000_000u64, "aud": "a"}));
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(key.jwks()["keys"][0].clone()).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(Algorithm::ES256);
        v.set_audience(&["a"]);
        let data = jsonwebtoken::decode::<Value>(&token, &decoding, &v).unwrap();
        assert_eq!(data.claims["sub"], "g");
        assert!(GuestKey::from_pem(b"not pem").is_err());
    }
}
