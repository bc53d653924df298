//! SigV4 request signing with aws-sigv4: signing name `chime` (not the `messaging-chime` host
//! prefix), the exact wire path (ARN labels single-encoded on the wire, double-encoded in the
//! canonical form, as botocore does; path normalisation off, so the path signed is the path
//! sent), the body hash and the session token. No STS, no I/O; the time is passed in.

use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
/// The credentials type [`Signer`] takes (aws-smithy's), re-exported for callers with bare keys:
/// `let identity: Identity = credentials.into();`.
pub use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderName, HeaderValue, Request};
use std::time::{Duration, SystemTime};

/// The messaging WebSocket's presigned URL is valid this long (what the Chime JS SDK uses).
pub const CONNECT_PRESIGN_EXPIRES: Duration = Duration::from_secs(10);

/// SHA-256 of the empty string, hex-encoded: the payload hash of a request without a body.
const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// SigV4 service name for every Chime SDK API, messaging included.
pub const SIGNING_NAME: &str = "chime";

#[derive(Debug, thiserror::Error)]
#[error("cannot sign request: {0}")]
pub struct SignError(String);

/// Headers botocore signs for Chime: `host`, `content-type` and the `x-amz-*` family (which holds
/// `x-amz-chime-bearer`). Everything else is forwarded unsigned, so hop-by-hop or tracing headers
/// an intermediary may rewrite cannot break the signature.
pub fn is_signed_header(name: &str) -> bool {
    name == "host" || name == "content-type" || name.starts_with("x-amz-")
}

/// aws-sigv4's defaults (double percent-encoding, which Chime needs, like every service but S3)
/// with path normalisation off: a normalising signer would sign `/a/` for `/a/b/..`, another
/// operation's path than the one forwarded. stsgate refuses dot segments anyway. No excluded
/// headers: [`is_signed_header`] chooses what is signed before aws-sigv4 sees it, and without
/// the list cloning the settings for a request allocates nothing.
fn settings() -> SigningSettings {
    let mut s = SigningSettings::default();
    s.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    s.excluded_headers = None;
    s
}

/// Signs with one region's settings, built once. Credentials come as an [`Identity`], which a
/// session builds once (`SessionCredentials::identity`), not once per request.
#[derive(Debug, Clone)]
pub struct Signer {
    region: String,
    settings: SigningSettings,
}

impl Signer {
    pub fn new(region: impl Into<String>) -> Self {
        Signer {
            region: region.into(),
            settings: settings(),
        }
    }

    /// Adds `x-amz-date`, `x-amz-security-token` and `authorization` to `req`. The request's URI
    /// must be absolute and already encoded exactly as it will be sent.
    pub fn sign(
        &self,
        req: &mut Request<Bytes>,
        identity: &Identity,
        time: SystemTime,
    ) -> Result<(), SignError> {
        let params = v4::SigningParams::builder()
            .identity(identity)
            .region(&self.region)
            .name(SIGNING_NAME)
            .time(time)
            .settings(self.settings.clone())
            .build()
            .map_err(|e| SignError(e.to_string()))?
            .into();
        let instructions = {
            let signed = || {
                req.headers()
                    .iter()
                    .filter(|(name, _)| is_signed_header(name.as_str()))
            };
            if let Some((name, _)) = signed().find(|(_, v)| v.to_str().is_err()) {
                return Err(SignError(format!("header {name} is not visible ASCII")));
            }
            let headers = signed().map(|(n, v)| (n.as_str(), v.to_str().unwrap_or_default()));
            let body = match req.body().is_empty() {
                // Most calls are bodiless GETs: their payload hash is a constant.
                true => SignableBody::Precomputed(EMPTY_PAYLOAD_SHA256.to_owned()),
                false => SignableBody::Bytes(req.body()),
            };
            let signable =
                SignableRequest::new(req.method().as_str(), uri_string(req.uri()), headers, body)
                    .map_err(|e| SignError(e.to_string()))?;
            let (instructions, _signature) = sign(signable, &params)
                .map_err(|e| SignError(e.to_string()))?
                .into_parts();
            instructions
        };
        // What `apply_to_request_http1x` does for header signing, without its by-`&str` inserts
        // (each parses the name and copies it into a new allocation) or its URI round trip.
        let (headers, _no_query_params) = instructions.into_parts();
        for header in headers {
            let mut value = HeaderValue::from_str(header.value())
                .map_err(|_| SignError(format!("aws-sigv4 made an invalid {}", header.name())))?;
            value.set_sensitive(header.sensitive());
            req.headers_mut()
                .insert(signing_header_name(header.name()), value);
        }
        Ok(())
    }
}

const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");

/// The header aws-sigv4 asks to set, as a constant for the ones it sets on every request.
fn signing_header_name(name: &'static str) -> HeaderName {
    match name {
        "authorization" => AUTHORIZATION,
        "x-amz-date" => X_AMZ_DATE,
        "x-amz-security-token" => X_AMZ_SECURITY_TOKEN,
        other => HeaderName::from_static(other),
    }
}

/// `uri` as the string aws-sigv4 takes, the same as `uri.to_string()` but put together without
/// `fmt`, whose machinery cost more than the copying (issue #14).
fn uri_string(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str();
    let authority = uri.authority().map(http::uri::Authority::as_str);
    let rest = uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let mut s = String::with_capacity(64 + rest.len());
    if let Some(scheme) = scheme {
        s.push_str(scheme);
        s.push_str("://");
    }
    s.push_str(authority.unwrap_or_default());
    s.push_str(rest);
    s
}

impl Signer {
    /// Presigns `GET https://{host}/connect?{params}` for the messaging WebSocket: only `host` is
    /// signed, the payload hash is that of an empty body, the session token is inside the signed
    /// query, and the URL expires after [`CONNECT_PRESIGN_EXPIRES`]. Returns the full query string.
    pub fn presign_connect(
        &self,
        host: &str,
        params: &[(&str, &str)],
        identity: &Identity,
        time: SystemTime,
    ) -> Result<String, SignError> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let mut req = Request::get(format!("https://{host}/connect?{query}"))
            .header("host", host)
            .body(Bytes::new())
            .map_err(|e| SignError(e.to_string()))?;
        let mut settings = self.settings.clone();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(CONNECT_PRESIGN_EXPIRES);
        let params = v4::SigningParams::builder()
            .identity(identity)
            .region(&self.region)
            .name(SIGNING_NAME)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| SignError(e.to_string()))?
            .into();
        let instructions = {
            let signable = SignableRequest::new(
                "GET",
                uri_string(req.uri()),
                [("host", host)].into_iter(),
                SignableBody::Bytes(&[]),
            )
            .map_err(|e| SignError(e.to_string()))?;
            sign(signable, &params)
                .map_err(|e| SignError(e.to_string()))?
                .into_parts()
                .0
        };
        instructions.apply_to_request_http1x(&mut req);
        Ok(req.uri().query().unwrap_or_default().to_owned())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_header_aws_sigv4_sets_keeps_its_name() {
        for name in [
            "authorization",
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-content-sha256",
        ] {
            assert_eq!(super::signing_header_name(name).as_str(), name);
        }
    }

    #[test]
    fn the_empty_payload_hash_is_sha256_of_nothing() {
        use sha2::Digest;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(b"")),
            super::EMPTY_PAYLOAD_SHA256
        );
    }

    #[test]
    fn the_uri_given_to_aws_sigv4_is_the_uri_sent() {
        for uri in [
            "https://messaging-chime.us-east-1.amazonaws.com/channels/arn%3Aaws%3Achime%3Aus-east-1%3A1%3Aapp-instance%2Fa/messages?max-results=2&sort-order=DESCENDING",
            "http://127.0.0.1:8080/",
            "https://example.com",
            "/relative?x=1",
        ] {
            let uri: http::Uri = uri.parse().unwrap();
            assert_eq!(super::uri_string(&uri), uri.to_string());
        }
    }
}
