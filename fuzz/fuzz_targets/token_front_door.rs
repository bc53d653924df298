//! The token front door: whatever arrives in `Authorization` (or `?token=`), extraction and the
//! structural checks must answer Ok or a typed refusal and never panic; anything accepted is a
//! three-segment JWS within the size limit that names an issuer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stsgate::identity::{bearer_token, inspect_token};

const MAX: usize = 8 * 1024;

fn check(token: &str) {
    if let Ok(iss) = inspect_token(token, MAX) {
        assert!(token.len() <= MAX);
        assert_eq!(token.split('.').count(), 3);
        let _ = iss;
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value);
        if let Ok(token) = bearer_token(&headers) {
            check(token);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        check(text);
    }
});
