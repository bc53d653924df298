//! Strict parsing of a compact JWS before any key is touched: three base64url segments, JSON
//! objects, no JOSE features we do not implement. Signature checking is not done here.

use crate::IdentityError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// A token whose structure is sound but whose signature is not yet verified.
pub struct UnverifiedJws<'a> {
    /// `iss`, which picks the issuer whose keys and rules apply.
    pub issuer: String,
    pub alg: String,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: &'a str,
}

/// Structure, JOSE header rules and a string `iss`; the signature is not checked here.
pub fn parse(token: &str) -> Result<UnverifiedJws<'_>, IdentityError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdentityError::Malformed("not three dot-separated segments"));
    };
    if s.is_empty() {
        return Err(IdentityError::Malformed("missing signature"));
    }
    let header = decode_object(h, "header")?;
    let claims = decode_object(p, "payload")?;

    let alg = match header.get("alg") {
        Some(Value::String(a)) => a.clone(),
        _ => return Err(IdentityError::Malformed("header has no alg")),
    };
    // We implement no JOSE extensions, so any `crit` must be refused (RFC 7515 §4.1.11).
    if header.contains_key("crit") {
        return Err(IdentityError::UnsupportedHeader("crit"));
    }
    // Nested JWTs (signed-then-encrypted or signed twice) are not identities we accept.
    if header
        .get("cty")
        .and_then(Value::as_str)
        .is_some_and(|c| c.eq_ignore_ascii_case("JWT"))
    {
        return Err(IdentityError::UnsupportedHeader("cty"));
    }
    // Keys come only from the configured issuer's JWKS, never from the token itself.
    for embedded in ["jwk", "jku", "x5u", "x5c"] {
        if header.contains_key(embedded) {
            return Err(IdentityError::UnsupportedHeader("embedded key"));
        }
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(IdentityError::Malformed("kid is not a string")),
    };
    let issuer = match claims.get("iss") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(IdentityError::MissingClaim("iss")),
    };
    Ok(UnverifiedJws {
        issuer,
        alg,
        kid,
        claims,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: s,
    })
}

fn decode_object(segment: &str, what: &'static str) -> Result<Map<String, Value>, IdentityError> {
    let header = what == "header";
    let bytes = URL_SAFE_NO_PAD.decode(segment).map_err(|_| {
        IdentityError::Malformed(if header {
            "header is not base64url"
        } else {
            "payload is not base64url"
        })
    })?;
    match serde_json::from_slice::<Strict>(&bytes) {
        Ok(Strict(Value::Object(m))) => Ok(m),
        _ => Err(IdentityError::Malformed(if header {
            "header is not a JSON object without duplicate keys"
        } else {
            "payload is not a JSON object without duplicate keys"
        })),
    }
}

/// JSON that refuses duplicate object keys at any depth. serde_json keeps the last duplicate;
/// another parser (the IdP's, or a downstream's) may keep the first, and a signed token must
/// mean one thing to everyone.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(v) = map.next_value()?;
            if out.insert(key, v).is_some() {
                return Err(serde::de::Error::custom("duplicate key"));
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &str) -> String {
        URL_SAFE_NO_PAD.encode(v)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    #[test]
    fn parses_a_plain_token() {
        let t = token(r#"{"alg":"RS256","kid":"k1"}"#, r#"{"iss":"x"}"#);
        let j = parse(&t).unwrap();
        assert_eq!(j.alg, "RS256");
        assert_eq!(j.kid.as_deref(), Some("k1"));
        assert_eq!(j.signature, "c2ln");
        assert_eq!(j.signing_input.matches('.').count(), 1);
    }

    #[test]
    fn refuses_structural_problems() {
        let cases = [
            ("a.b", "not three"),
            ("a.b.c.d", "not three"),
            (
                &*format!("{}.{}.", b64("{}"), b64("{}")),
                "missing signature",
            ),
            ("!!.e30.c2ln", "header is not base64url"),
            (&*token("[1]", "{}"), "header is not a JSON object"),
            (
                &*token(r#"{"alg":"RS256"}"#, "nope"),
                "payload is not a JSON object",
            ),
            (&*token("{}", "{}"), "header has no alg"),
            (
                &*token(r#"{"alg":"RS256","alg":"none"}"#, "{}"),
                "duplicate",
            ),
            (
                &*token(r#"{"alg":"RS256"}"#, r#"{"sub":"a","x":{"k":1,"k":2}}"#),
                "duplicate",
            ),
            (
                &*token(
                    r#"{"alg":"RS256"}"#,
                    &format!("{}1{}", "[".repeat(500), "]".repeat(500)),
                ),
                "payload is not a JSON object",
            ),
        ];
        for (t, want) in cases {
            match parse(t) {
                Err(IdentityError::Malformed(m)) => assert!(m.contains(want), "{t}: {m}"),
                other => panic!("{t}: {:?}", other.err()),
            }
        }
    }

    #[test]
    fn refuses_jose_features_we_do_not_implement() {
        for h in [
            r#"{"alg":"RS256","crit":["exp"]}"#,
            r#"{"alg":"RS256","cty":"JWT"}"#,
            r#"{"alg":"RS256","jwk":{}}"#,
            r#"{"alg":"RS256","jku":"https://evil"}"#,
        ] {
            assert!(
                matches!(
                    parse(&token(h, "{}")),
                    Err(IdentityError::UnsupportedHeader(_))
                ),
                "{h}"
            );
        }
    }
}
