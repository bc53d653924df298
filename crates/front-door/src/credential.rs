//! Where the client's credential is. Always `Authorization: Bearer <jwt>` or `Authorization: SAML
//! <base64>`; the operator's SAML header; the `token` query parameter where a browser cannot set
//! headers (`GET /connect`); and, in session-token mode, wherever a stock AWS SDK puts its session
//! token (`x-amz-security-token`, or `X-Amz-Security-Token` in a presigned URL), whose signature
//! is then a placeholder and ignored. Exactly one credential per request.

use crate::IdentityError;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName};
use std::borrow::Cow;

/// The header a stock SDK puts its session token in.
pub const SESSION_TOKEN_HEADER: &str = "x-amz-security-token";
/// The same in a presigned URL.
pub const SESSION_TOKEN_PARAM: &str = "X-Amz-Security-Token";
/// The browser's query carrier on `GET /connect`.
pub const TOKEN_PARAM: &str = "token";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A compact JWS (OIDC ID or access token).
    Jwt(Cow<'a, str>),
    /// A base64 SAML 2.0 Response or Assertion.
    Saml(Cow<'a, str>),
}

/// Where credentials may travel besides `Authorization`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Carriers<'a> {
    /// A header carrying a base64 SAML assertion.
    pub saml_header: Option<&'a HeaderName>,
    /// Session-token mode: the JWT is the session token of a stock SDK's placeholder credentials.
    pub session_token: bool,
    /// The raw query, where a token may travel (`GET /connect` only).
    pub query: Option<&'a str>,
}

/// The token from `Authorization: Bearer <token>` (scheme case-insensitive, exactly one header).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, IdentityError> {
    match single(headers, &AUTHORIZATION)?.and_then(authorization) {
        Some(Credential::Jwt(Cow::Borrowed(t))) => Ok(t),
        _ => Err(IdentityError::Missing),
    }
}

/// The request's one credential; two in different places are refused.
pub fn credential<'a>(
    headers: &'a HeaderMap,
    carriers: &Carriers<'a>,
) -> Result<Credential<'a>, IdentityError> {
    let mut found: Option<Credential<'a>> =
        single(headers, &AUTHORIZATION)?.and_then(authorization);
    let mut add = |c: Option<Credential<'a>>| match (&found, c) {
        (_, None) => Ok(()),
        (None, c) => {
            found = c;
            Ok(())
        }
        (Some(_), Some(_)) => Err(IdentityError::Malformed("more than one credential")),
    };
    if let Some(name) = carriers.saml_header {
        add(single(headers, name)?.map(|s| Credential::Saml(s.into())))?;
    }
    if carriers.session_token {
        let name = HeaderName::from_static(SESSION_TOKEN_HEADER);
        add(single(headers, &name)?.map(|t| Credential::Jwt(t.into())))?;
    }
    if let Some(query) = carriers.query {
        add(query_param(query, TOKEN_PARAM)?.map(Credential::Jwt))?;
        if carriers.session_token {
            add(query_param(query, SESSION_TOKEN_PARAM)?.map(Credential::Jwt))?;
        }
    }
    found.ok_or(IdentityError::Missing)
}

/// A Bearer or SAML credential; other schemes (Basic, a SigV4 `AWS4-HMAC-SHA256`) are not ours.
fn authorization(value: &str) -> Option<Credential<'_>> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    if token.is_empty() {
        None
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(Credential::Jwt(token.into()))
    } else if scheme.eq_ignore_ascii_case("saml") {
        Some(Credential::Saml(token.into()))
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

/// The query parameter's one non-empty value, decoded.
fn query_param<'a>(query: &'a str, name: &str) -> Result<Option<Cow<'a, str>>, IdentityError> {
    let mut values = form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == name);
    let Some((_, value)) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(IdentityError::Malformed(
            "a credential parameter appears more than once",
        ));
    }
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

    fn jwt(t: &str) -> Credential<'_> {
        Credential::Jwt(t.into())
    }

    #[test]
    fn finds_the_one_credential() {
        let saml = HeaderName::from_static("x-saml");
        let carriers = Carriers {
            saml_header: Some(&saml),
            ..Carriers::default()
        };
        let got = |pairs: &[(&str, &str)]| {
            credential(&headers(pairs), &carriers).map(|c| match c {
                Credential::Jwt(t) => Credential::Jwt(t.into_owned().into()),
                Credential::Saml(t) => Credential::Saml(t.into_owned().into()),
            })
        };
        assert_eq!(got(&[("authorization", "Bearer a.b.c")]), Ok(jwt("a.b.c")));
        assert_eq!(
            got(&[("authorization", "saml PHg+")]),
            Ok(Credential::Saml("PHg+".into()))
        );
        assert_eq!(
            got(&[("x-saml", "PHg+")]),
            Ok(Credential::Saml("PHg+".into()))
        );
        assert_eq!(got(&[]), Err(IdentityError::Missing));
        assert_eq!(
            got(&[("authorization", "Basic eDp5")]),
            Err(IdentityError::Missing)
        );
        assert_eq!(
            got(&[("authorization", "Bearer ")]),
            Err(IdentityError::Missing)
        );
        // Not session-token mode: the header is nobody's credential.
        assert_eq!(
            got(&[("x-amz-security-token", "a.b.c")]),
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

    #[test]
    fn session_token_mode_reads_the_sdks_carriers() {
        let sdk = headers(&[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=stsgate/20260101/us-east-1/chime/aws4_request, SignedHeaders=host, Signature=00",
            ),
            ("x-amz-security-token", "a.b.c"),
        ]);
        let on = Carriers {
            session_token: true,
            ..Carriers::default()
        };
        assert_eq!(credential(&sdk, &on), Ok(jwt("a.b.c")));
        let both = headers(&[
            ("authorization", "Bearer d.e.f"),
            ("x-amz-security-token", "a.b.c"),
        ]);
        assert_eq!(credential(&both, &on).unwrap_err().reason(), "malformed");
        let presigned = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Security-Token=a.b.c&userArn=x";
        let query = Carriers {
            query: Some(presigned),
            ..on
        };
        assert_eq!(credential(&HeaderMap::new(), &query), Ok(jwt("a.b.c")));
        let off = Carriers {
            query: Some(presigned),
            ..Carriers::default()
        };
        assert_eq!(
            credential(&HeaderMap::new(), &off),
            Err(IdentityError::Missing)
        );
        let two = Carriers {
            query: Some("token=a.b.c&X-Amz-Security-Token=a.b.c"),
            ..on
        };
        assert_eq!(
            credential(&HeaderMap::new(), &two).unwrap_err().reason(),
            "malformed"
        );
    }
}
