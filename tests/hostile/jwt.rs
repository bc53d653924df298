//! The JWT rows of the hostile table: one line each, a token and the reason it is refused for.
//! Every row holds for every carrier the gateway accepts (see `mod.rs`).

use super::now;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use stsgate_standins::AUDIENCE;
use stsgate_standins::idp::{EC_KID, IdpStandIn, RSA_KID};

/// A bad token and the `stsgate_token_rejections_total` reason it must be refused with.
pub struct Jwt {
    pub name: &'static str,
    pub token: String,
    pub reason: &'static str,
}

fn row(name: &'static str, token: String, reason: &'static str) -> Jwt {
    Jwt {
        name,
        token,
        reason,
    }
}

/// Tokens for alice from the stand-in IdP, edited before signing.
struct Tokens<'a>(&'a IdpStandIn);

impl Tokens<'_> {
    /// alice's claims with `set` applied; a `Null` value removes the claim.
    fn claims(&self, set: &[(&str, Value)]) -> Value {
        let mut c = self.0.claims_for("alice", AUDIENCE);
        let m = c.as_object_mut().unwrap();
        for (k, v) in set {
            match v {
                Value::Null => m.remove(*k),
                v => m.insert((*k).into(), v.clone()),
            };
        }
        c
    }
    /// Signed (RS256, the published key) after `set`.
    fn with(&self, set: &[(&str, Value)]) -> String {
        self.0.sign(RSA_KID, &self.claims(set))
    }
    /// alice's claims signed by `kid` under `header`.
    fn header(&self, kid: &str, header: Value) -> String {
        self.0.sign_raw(kid, &header, &self.claims(&[]))
    }
    /// `payload` as sent, signed under a plain RS256 header.
    fn payload(&self, payload: &str) -> String {
        let header = json!({"alg": "RS256", "kid": RSA_KID}).to_string();
        self.0.sign_text(RSA_KID, &header, payload)
    }
}

fn ago(s: i64) -> Value {
    (now() - s).into()
}
fn ahead(s: i64) -> Value {
    (now() + s).into()
}
const GONE: Value = Value::Null;

#[rustfmt::skip]
pub fn rows(idp: &IdpStandIn) -> Vec<Jwt> {
    let t = Tokens(idp);
    let good = idp.token_for("alice", AUDIENCE);
    let (signed_part, _) = good.rsplit_once('.').unwrap();
    let other_sig = idp.token_for("bob", AUDIENCE).rsplit_once('.').unwrap().1.to_owned();
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(t.claims(&[("sub", "mallory".into())]).to_string());
    let tampered = parts.join(".");
    let unsigned = format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), URL_SAFE_NO_PAD.encode(t.claims(&[]).to_string()));
    let mut dup = t.claims(&[]).to_string();
    dup.insert_str(1, r#""sub":"mallory","#);
    let iss = &idp.issuer;
    vec![
        row("not a JWT", "not-a-jwt".into(), "malformed"),
        row("expired", t.with(&[("exp", ago(3600)), ("iat", ago(7200))]), "expired"),
        row("negative exp", t.with(&[("exp", json!(-1))]), "expired"),
        row("not yet valid", t.with(&[("nbf", ahead(3600))]), "not_yet_valid"),
        row("issued in the future", t.with(&[("iat", ahead(3600))]), "issued_in_future"),
        row("missing exp", t.with(&[("exp", GONE)]), "missing_claim"),
        row("exp is a string", t.with(&[("exp", "9999999999".into())]), "malformed"),
        row("wrong audience", idp.token_for("alice", "someone-else"), "wrong_audience"),
        row("audience array without ours", t.with(&[("aud", json!(["a", "b"]))]), "wrong_audience"),
        row("no aud and no client_id", t.with(&[("aud", GONE)]), "wrong_audience"),
        row("wrong aud with a matching client_id", t.with(&[("aud", "other".into()), ("client_id", AUDIENCE.into())]), "wrong_audience"),
        row("aud is a number", t.with(&[("aud", json!(5))]), "wrong_audience"),
        row("no iss", t.with(&[("iss", GONE)]), "missing_claim"),
        row("iss is a number", t.with(&[("iss", json!(1))]), "missing_claim"),
        row("unknown issuer", t.with(&[("iss", "https://evil.example".into())]), "unknown_issuer"),
        row("issuer prefix trick", t.with(&[("iss", format!("{iss}/evil").into())]), "unknown_issuer"),
        row("issuer with a trailing slash", t.with(&[("iss", format!("{iss}/").into())]), "unknown_issuer"),
        row("issuer in upper case", t.with(&[("iss", iss.to_uppercase().into())]), "unknown_issuer"),
        row("tampered payload", tampered, "bad_signature"),
        row("alg none", unsigned, "disallowed_alg"),
        row("alg in lower case", t.header(RSA_KID, json!({"alg": "rs256", "kid": RSA_KID})), "disallowed_alg"),
        row("unknown alg", t.header(RSA_KID, json!({"alg": "RS1024", "kid": RSA_KID})), "disallowed_alg"),
        row("RS256 header on the EC key", t.header(EC_KID, json!({"alg": "ES256", "kid": RSA_KID})), "unknown_kid"),
        row("unknown kid", t.header(RSA_KID, json!({"alg": "RS256", "kid": "nope"})), "unknown_kid"),
        row("no kid, and no key allows the algorithm", t.header(RSA_KID, json!({"alg": "PS256"})), "unknown_kid"),
        row("signed with the right key, wrong header alg", t.header(RSA_KID, json!({"alg": "PS256", "kid": RSA_KID})), "unknown_kid"),
        row("kid is a number", t.header(RSA_KID, json!({"alg": "RS256", "kid": 7})), "malformed"),
        row("crit header", t.header(RSA_KID, json!({"alg": "RS256", "kid": RSA_KID, "crit": ["x"]})), "unsupported_header"),
        row("nested JWT", t.header(RSA_KID, json!({"alg": "RS256", "kid": RSA_KID, "cty": "JWT"})), "unsupported_header"),
        row("embedded jwk", t.header(RSA_KID, json!({"alg": "RS256", "kid": RSA_KID, "jwk": idp.jwk(RSA_KID)})), "unsupported_header"),
        row("remote x5u", t.header(RSA_KID, json!({"alg": "RS256", "kid": RSA_KID, "x5u": "https://evil.example/c"})), "unsupported_header"),
        row("duplicate sub in a signed payload", t.payload(&dup), "malformed"),
        row("duplicate alg in the header", idp.sign_text(RSA_KID, &format!(r#"{{"alg":"RS256","kid":"{RSA_KID}","alg":"none"}}"#), &t.claims(&[]).to_string()), "malformed"),
        row("payload is a JSON array", t.payload("[1,2]"), "malformed"),
        row("payload is not JSON", t.payload("not json"), "malformed"),
        row("deeply nested claims", t.payload(&format!(r#"{{"iss":"x","a":{}1{}}}"#, "[".repeat(300), "]".repeat(300))), "malformed"),
        row("signature is not base64url", format!("{signed_part}.!!!"), "bad_signature"),
        row("stripped signature", format!("{signed_part}."), "malformed"),
        row("signature of another token", format!("{signed_part}.{other_sig}"), "bad_signature"),
        row("token with whitespace inside", format!("{} {}", &good[..10], &good[10..]), "malformed"),
        row("oversize", t.with(&[("pad", "x".repeat(9000).into())]), "oversize"),
    ]
}
