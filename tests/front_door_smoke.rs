//! A deterministic mutation run over the token front door (the same checks the cargo-fuzz target
//! in `fuzz/` drives for hours): valid tokens bit-flipped, truncated, spliced and padded must get
//! Ok or a typed refusal, never a panic, and anything accepted must keep the JWS shape.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use stsgate::identity::{bearer_token, inspect_token};

const MAX: usize = 8 * 1024;

fn seeds() -> Vec<String> {
    let b = |s: &str| URL_SAFE_NO_PAD.encode(s);
    vec![
        format!(
            "{}.{}.{}",
            b(r#"{"alg":"RS256","kid":"k"}"#),
            b(r#"{"iss":"https://i","sub":"a","exp":9999999999}"#),
            b("sig")
        ),
        format!(
            "{}.{}.{}",
            b(r#"{"alg":"ES256"}"#),
            b(r#"{"iss":"x","aud":["a","b"],"nested":{"k":[1,2,{"z":null}]}}"#),
            b("s")
        ),
        format!(
            "{}.{}.{}",
            b(r#"{"alg":"none","crit":["exp"]}"#),
            b(r#"{"iss":"x"}"#),
            "x"
        ),
    ]
}

fn check(token: &str) {
    if inspect_token(token, MAX).is_ok() {
        assert!(token.len() <= MAX, "accepted an oversize token");
        assert_eq!(
            token.split('.').count(),
            3,
            "accepted a token that is not three segments: {token}"
        );
    }
    let Ok(value) = http::HeaderValue::from_str(&format!("Bearer {token}")) else {
        return;
    };
    let mut h = http::HeaderMap::new();
    h.insert(http::header::AUTHORIZATION, value);
    if let Ok(t) = bearer_token(&h) {
        let _ = inspect_token(t, MAX);
    }
}

#[test]
fn mutated_tokens_never_panic_the_front_door() {
    fastrand::seed(0x5157_6a7e);
    let seeds = seeds();
    let mut runs = 0;
    for seed in &seeds {
        check(seed);
        for _ in 0..5_000 {
            let mut bytes = seed.clone().into_bytes();
            match fastrand::u8(..5) {
                0 => {
                    let i = fastrand::usize(..bytes.len());
                    bytes[i] ^= 1 << fastrand::u8(..8);
                }
                1 => bytes.truncate(fastrand::usize(..bytes.len())),
                2 => {
                    let other = seeds[fastrand::usize(..seeds.len())].as_bytes();
                    let at = fastrand::usize(..bytes.len());
                    bytes.splice(
                        at..at,
                        other[..fastrand::usize(..other.len())].iter().copied(),
                    );
                }
                3 => bytes.extend(std::iter::repeat_n(b'A', fastrand::usize(..10_000))),
                _ => {
                    let i = fastrand::usize(..bytes.len());
                    bytes.insert(i, [b'.', b'=', b'%', 0, 0xff][fastrand::usize(..5)]);
                }
            }
            check(&String::from_utf8_lossy(&bytes));
            runs += 1;
        }
    }
    assert_eq!(runs, 15_000);
}

#[test]
fn mutated_saml_never_panics_the_front_door() {
    use stsgate::identity::{decode_saml, inspect_assertion};
    use stsgate_standins::saml_idp::{AssertionSpec, SamlIdpStandIn, encode};
    fastrand::seed(0x5a31_0001);
    let idp = SamlIdpStandIn::new("https://idp.example/saml");
    let spec = AssertionSpec::new(&idp.entity_id, "alice", "aud", "https://acs", 0);
    let signed = idp.signed_assertion(&spec);
    let seeds = [signed.clone(), idp.response(&signed, "https://acs", 0)];
    let markup = [
        &b"<"[..],
        b">",
        b"<!--",
        b"<!DOCTYPE",
        b"&amp;",
        b"&#x0;",
        b"\"",
        b"xmlns:saml=\"x\"",
    ];
    let mut accepted = 0;
    for seed in &seeds {
        for _ in 0..3_000 {
            let mut bytes = seed.clone().into_bytes();
            let at = fastrand::usize(..bytes.len());
            match fastrand::u8(..3) {
                0 => bytes.truncate(at),
                1 => bytes
                    .splice(
                        at..at,
                        markup[fastrand::usize(..markup.len())].iter().copied(),
                    )
                    .for_each(drop),
                _ => bytes[at] ^= 1 << fastrand::u8(..8),
            }
            let xml = String::from_utf8_lossy(&bytes);
            let encoded = encode(&xml);
            if let Ok(s) = inspect_assertion(&encoded, 64 * 1024) {
                accepted += 1;
                assert!(!s.scanned.issuer.is_empty());
                assert_eq!(decode_saml(&encoded, 64 * 1024).as_deref(), Ok(&*xml));
            }
        }
    }
    // Some mutations (in text, say) keep the structure; the rest are refused with a reason.
    assert!(accepted > 0 && accepted < 6_000, "{accepted}");
}
