//! What the shared store sees: entry names that are keyed hashes of the session key, and entries
//! sealed with AES-256-GCM. A reader of the store learns neither user ids nor credentials; an
//! entry that was tampered with, moved under another name or sealed with an unknown key does not
//! open.
//!
//! Each configured key (32 random bytes) yields two subkeys by HKDF-SHA256: one names entries
//! (HMAC-SHA256 over the session key's canonical bytes), one seals them. Rotation: the new key
//! writes and is tried first; previous keys are still read, under the names they gave.

use super::super::SessionCredentials;
use crate::mapping::{Exchange, SessionSpec};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::{hkdf, hmac};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// Length of a configured key.
pub const KEY_BYTES: usize = 32;
/// Format of a sealed entry: `[VERSION][key id: 4][nonce: 12][ciphertext + tag]`.
const VERSION: u8 = 1;
const KEY_ID_BYTES: usize = 4;
const HEADER: usize = 1 + KEY_ID_BYTES + NONCE_LEN;

/// One configured key, split into its naming and sealing halves.
pub struct SealKey {
    id: [u8; KEY_ID_BYTES],
    names: hmac::Key,
    seal: LessSafeKey,
}

impl SealKey {
    pub fn new(material: &[u8; KEY_BYTES]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"stsgate session store").extract(material);
        let derive = |info: &'static [u8]| {
            let mut out = [0u8; 32];
            prk.expand(&[info], hkdf::HKDF_SHA256)
                .and_then(|okm| okm.fill(&mut out))
                .expect("32 bytes is a valid HKDF-SHA256 output length");
            out
        };
        let names = hmac::Key::new(hmac::HMAC_SHA256, &derive(b"names"));
        let seal = UnboundKey::new(&AES_256_GCM, &derive(b"seal")).expect("32-byte AES key");
        let tag = hmac::sign(&names, b"key id");
        let mut id = [0u8; KEY_ID_BYTES];
        id.copy_from_slice(&tag.as_ref()[..KEY_ID_BYTES]);
        SealKey {
            id,
            names,
            seal: LessSafeKey::new(seal),
        }
    }
}

/// The current key and the previous ones still accepted for reading.
pub struct Sealer {
    keys: Vec<SealKey>,
    prefix: String,
    rng: SystemRandom,
}

/// Why a stored entry was not used.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not a format this version writes.
    Format,
    /// Sealed with a key that is not configured here.
    UnknownKey,
    /// The tag does not verify: tampered, truncated, or moved from another name.
    Tampered,
}

#[derive(Serialize, Deserialize)]
struct Plain {
    #[serde(rename = "a")]
    access_key_id: String,
    #[serde(rename = "s")]
    secret: String,
    #[serde(rename = "t")]
    token: String,
    /// `Expiration`, Unix seconds.
    #[serde(rename = "e")]
    expires: u64,
}

impl Sealer {
    /// `keys[0]` writes; every key reads. `prefix` starts every name (one store, many fleets).
    pub fn new(keys: Vec<SealKey>, prefix: String) -> Self {
        assert!(!keys.is_empty(), "validation requires a current key");
        Sealer {
            keys,
            prefix,
            rng: SystemRandom::new(),
        }
    }

    /// The sealer of the configured keys and prefix.
    pub fn from_settings(s: &super::StoreSettings) -> Self {
        let keys = s.keys.0.iter().map(SealKey::new).collect();
        Sealer::new(keys, s.prefix.clone())
    }

    /// The entry's name under each key, the current key's first.
    pub fn names(&self, spec: &SessionSpec) -> Vec<String> {
        let bytes = canonical(spec);
        self.keys.iter().map(|k| self.name(k, &bytes)).collect()
    }

    /// The lease of the entry `name` (same slot in Redis Cluster: the name is a hash tag).
    pub fn lease_name(name: &str) -> String {
        format!("{name}:lease")
    }

    /// The fleet's AssumeRole rate bucket.
    pub fn rate_name(&self) -> String {
        format!("{}rate", self.prefix)
    }

    fn name(&self, key: &SealKey, canonical: &[u8]) -> String {
        let tag = hmac::sign(&key.names, canonical);
        // `{…}`: Redis Cluster hashes only this part, so an entry and its lease share a slot.
        format!("{}s:{{{}}}", self.prefix, hex::encode(&tag.as_ref()[..20]))
    }

    /// Seals `c` for `name` with the current key.
    pub fn seal(&self, name: &str, c: &SessionCredentials) -> Vec<u8> {
        let key = &self.keys[0];
        let plain = Plain {
            access_key_id: c.keys().access_key_id().to_owned(),
            secret: c.keys().secret_access_key().to_owned(),
            token: c.keys().session_token().unwrap_or_default().to_owned(),
            expires: c
                .expires_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        };
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).expect("system randomness");
        let mut body = serde_json::to_vec(&plain).expect("plain JSON");
        key.seal
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut body,
            )
            .expect("AES-GCM seals any length stsgate writes");
        let mut out = Vec::with_capacity(HEADER + body.len());
        out.push(VERSION);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out
    }

    /// Opens an entry read under `name`.
    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<SessionCredentials, Refused> {
        if sealed.len() < HEADER || sealed[0] != VERSION {
            return Err(Refused::Format);
        }
        let id = &sealed[1..1 + KEY_ID_BYTES];
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1 + KEY_ID_BYTES..HEADER]);
        // Every key with that id (4 bytes can collide), until one opens it.
        let mut candidates = self.keys.iter().filter(|k| k.id == id).peekable();
        if candidates.peek().is_none() {
            return Err(Refused::UnknownKey);
        }
        let mut opened = None;
        for key in candidates {
            let mut body = sealed[HEADER..].to_vec();
            if let Ok(plain) = key.seal.open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut body,
            ) {
                opened = Some(plain.to_vec());
                break;
            }
        }
        let plain = opened.ok_or(Refused::Tampered)?;
        let p: Plain = serde_json::from_slice(&plain).map_err(|_| Refused::Format)?;
        Ok(SessionCredentials::new(
            p.access_key_id,
            p.secret,
            p.token,
            SystemTime::UNIX_EPOCH + Duration::from_secs(p.expires),
        ))
    }
}

/// Every field of the session key, length-prefixed so no two keys encode alike. The struct is
/// destructured whole: a field added to [`SessionSpec`] does not compile until it is named here.
fn canonical(spec: &SessionSpec) -> Vec<u8> {
    let SessionSpec {
        role_arn,
        session_name,
        tags,
        duration_seconds,
        policy,
        policy_arns,
        transitive_tag_keys,
        source_identity,
        user_arn,
        exchange,
    } = spec;
    let mut out = Vec::with_capacity(256);
    let mut put = |b: &[u8]| {
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(b);
    };
    put(role_arn.as_bytes());
    put(session_name.as_bytes());
    put(&(tags.len() as u32).to_be_bytes());
    for (k, v) in tags {
        put(k.as_bytes());
        put(v.as_bytes());
    }
    put(&duration_seconds.to_be_bytes());
    put(policy.as_deref().unwrap_or("\u{0}none").as_bytes());
    put(&(policy_arns.len() as u32).to_be_bytes());
    for a in policy_arns.iter() {
        put(a.as_bytes());
    }
    put(&(transitive_tag_keys.len() as u32).to_be_bytes());
    for k in transitive_tag_keys.iter() {
        put(k.as_bytes());
    }
    put(source_identity.as_deref().unwrap_or("\u{0}none").as_bytes());
    put(user_arn.as_bytes());
    match exchange {
        Exchange::AssumeRole => put(b"assume_role"),
        Exchange::WebIdentity(c) => {
            put(b"web_identity");
            put(c.digest());
        }
        Exchange::Saml {
            principal_arn,
            assertion,
        } => {
            put(b"saml");
            put(principal_arn.as_bytes());
            put(assertion.digest());
        }
    }
    out
}

#[cfg(test)]
mod tests;
