//! Where the client's credential is: `Authorization: Bearer <jwt>`, `Authorization: SAML <base64>`
//! or the operator's SAML header. Exactly one credential per request.

use crate::IdentityError;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A compact JWS (OIDC ID or access token).
    Jwt(&'a str),
    /// A base64 SAML 2.0 Response or Assertion.
    Saml(&'a str),
}

/// The token from `Authorization: Bearer <token>` (scheme case-insensitive, exactly one header).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, IdentityError> {
    match credential(headers, None)? {
        Credential::Jwt(t) => Ok(t),
        Credential::Saml(_) => Err(IdentityError::Missing),
    }
}

/// The request's one credential; two (an `Authorization` and the SAML header) are refused.
pub fn credential<'a>(
    headers: &'a HeaderMap,
    saml_header: Option<&HeaderName>,
) -> Result<Credential<'a>, IdentityError> {
    let from_header = match saml_header {
        Some(name) => single(headers, name)?.map(Credential::Saml),
        None => None,
    };
    let from_authorization = single(headers, &AUTHORIZATION)?.and_then(authorization);
    match (from_authorization, from_header) {
        (Some(_), Some(_)) => Err(IdentityError::Malformed("more than one credential")),
        (Some(c), None) | (None, Some(c)) => Ok(c),
        (None, None) => Err(IdentityError::Missing),
    }
}

/// A Bearer or SAML credential; other schemes (Basic, a SigV4 `AWS4-HMAC-SHA256`) are not ours.
fn authorization(value: &str) -> Option<Credential<'_>> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    if token.is_empty() {
        None
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(Credential::Jwt(token))
    } else if scheme.eq_ignore_ascii_case("saml") {
        Some(Credential::Saml(token))
    } else {
        None
    }
}

/// The header's one value, if present; non-empty after trimming.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a str>, IdentityError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(IdentityError::Malformed(
            "a credential header appears more than once",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| IdentityError::Malformed("non-ASCII credential header"))?
        .trim();
    Ok((!value.is_empty()).then_some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn finds_the_one_credential() {
        let saml = HeaderName::from_static("x-saml");
        let got = |pairs: &[(&str, &str)]| {
            credential(&headers(pairs), Some(&saml)).map(|c| match c {
                Credential::Jwt(t) => Credential::Jwt(t.to_string().leak()),
                Credential::Saml(t) => Credential::Saml(t.to_string().leak()),
            })
        };
        assert_eq!(
            got(&[("authorization", "Bearer a.b.c")]),
            Ok(Credential::Jwt("a.b.c"))
        );
        assert_eq!(
            got(&[("authorization", "saml PHg+")]),
            Ok(Credential::Saml("PHg+"))
        );
        assert_eq!(got(&[("x-saml", "PHg+")]), Ok(Credential::Saml("PHg+")));
        assert_eq!(got(&[]), Err(IdentityError::Missing));
        assert_eq!(
            got(&[("authorization", "Basic eDp5")]),
            Err(IdentityError::Missing)
        );
        assert_eq!(
            got(&[("authorization", "Bearer ")]),
            Err(IdentityError::Missing)
        );
        for two in [
            &[("authorization", "Bearer a.b.c"), ("x-saml", "PHg+")][..],
            &[("x-saml", "PHg+"), ("x-saml", "PHg+")][..],
            &[("authorization", "Bearer a"), ("authorization", "Bearer b")][..],
        ] {
            assert_eq!(got(two).unwrap_err().reason(), "malformed");
        }
    }
}
