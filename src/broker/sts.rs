//! The STS boundary: the [`StsClient`] capability and its aws-sdk-sts implementation, which uses
//! the proxy's own base credentials from the standard AWS chain (env, profile, web identity/IRSA,
//! container, IMDS). Errors are classified once here so callers never parse STS codes.

use super::credentials::SessionCredentials;
use crate::config::settings::StsSettings;
use crate::http_client::error_chain;
use crate::mapping::{Exchange, SessionSpec};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::types::{Credentials, PolicyDescriptorType, Tag};
use std::time::{Duration, SystemTime};

pub use crate::BoxFuture;

/// Anything that can turn a [`SessionSpec`] into credentials.
pub trait StsClient: Send + Sync + 'static {
    fn assume_role<'a>(
        &'a self,
        spec: &'a SessionSpec,
    ) -> BoxFuture<'a, Result<SessionCredentials, StsError>>;
}

/// How the caller should treat a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsErrorKind {
    /// The role or the tags are refused (AccessDenied, missing sts:TagSession, region disabled).
    Denied,
    /// The request itself is invalid (policy too large, validation): retrying cannot help.
    Invalid,
    /// STS asked us to slow down.
    Throttled,
    /// STS or the network failed; a later try may succeed.
    Unavailable,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("AssumeRole failed ({code}): {message}")]
pub struct StsError {
    pub kind: StsErrorKind,
    /// Closed label set for metrics.
    pub code: &'static str,
    pub message: String,
}

/// STS error codes we name in metrics; any other becomes `other`.
const KNOWN_CODES: &[&str] = &[
    "AccessDenied",
    "RegionDisabledException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MalformedPolicyDocument",
    "PackedPolicyTooLarge",
    "ValidationError",
    "InvalidIdentityToken",
    "IDPRejectedClaim",
    "IDPCommunicationError",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

impl StsError {
    /// Throttling and outages may pass; refusals and invalid requests will not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            StsErrorKind::Throttled | StsErrorKind::Unavailable
        )
    }

    pub fn from_code(code: &str, http_status: Option<u16>, message: String) -> Self {
        let label = KNOWN_CODES
            .iter()
            .find(|k| **k == code)
            .copied()
            .unwrap_or("other");
        let kind = match code {
            "AccessDenied"
            | "RegionDisabledException"
            | "InvalidIdentityToken"
            | "IDPRejectedClaim" => StsErrorKind::Denied,
            "MalformedPolicyDocument" | "PackedPolicyTooLarge" | "ValidationError" => {
                StsErrorKind::Invalid
            }
            "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => {
                StsErrorKind::Throttled
            }
            _ if http_status == Some(429) => StsErrorKind::Throttled,
            _ => StsErrorKind::Unavailable,
        };
        StsError {
            kind,
            code: label,
            message,
        }
    }

    pub fn transport(code: &'static str, message: String) -> Self {
        StsError {
            kind: StsErrorKind::Unavailable,
            code,
            message,
        }
    }
}

// === impl AwsSts ===

pub struct AwsSts {
    client: aws_sdk_sts::Client,
    base_credentials: Option<SharedCredentialsProvider>,
}

impl AwsSts {
    /// `base` replaces the default chain (the demo's static keys); `None` uses the chain.
    pub async fn new(c: &StsSettings, base: Option<SharedCredentialsProvider>) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(c.region.clone()))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_timeout(c.timeout)
                    .build(),
            )
            // Retries, back-off and deadlines are the broker's (shaper.rs), so the SDK makes one attempt.
            .retry_config(RetryConfig::disabled());
        if let Some(p) = base {
            loader = loader.credentials_provider(p);
        }
        if let Some(ep) = &c.endpoint {
            loader = loader.endpoint_url(ep.as_str().trim_end_matches('/'));
        }
        let sdk = loader.load().await;
        AwsSts {
            base_credentials: sdk.credentials_provider(),
            client: aws_sdk_sts::Client::new(&sdk),
        }
    }

    /// stsgate's own credentials (for the Chime identity API), if a provider is configured.
    pub fn base_credentials(&self) -> Option<SharedCredentialsProvider> {
        self.base_credentials.clone()
    }

    /// Resolves the proxy's own credentials once (readiness).
    pub async fn check_base_credentials(&self) -> Result<(), String> {
        let p = self
            .base_credentials
            .as_ref()
            .ok_or("no AWS credentials provider configured")?;
        p.provide_credentials()
            .await
            .map(|_| ())
            .map_err(|e| error_chain(&e))
    }
}

impl StsClient for AwsSts {
    fn assume_role<'a>(
        &'a self,
        spec: &'a SessionSpec,
    ) -> BoxFuture<'a, Result<SessionCredentials, StsError>> {
        Box::pin(async move {
            let policy_arns: Vec<PolicyDescriptorType> = spec
                .policy_arns
                .iter()
                .map(|arn| PolicyDescriptorType::builder().arn(&**arn).build())
                .collect();
            let policy = spec.policy.as_deref().map(str::to_owned);
            let c = match &spec.exchange {
                Exchange::AssumeRole => self.assume(spec, policy, policy_arns).await?,
                // Unsigned calls: the caller's credential is the authentication.
                Exchange::WebIdentity(token) => {
                    self.client
                        .assume_role_with_web_identity()
                        .role_arn(&*spec.role_arn)
                        .role_session_name(&spec.session_name)
                        .web_identity_token(&*token.secret)
                        .duration_seconds(spec.duration_seconds)
                        .set_policy(policy)
                        .set_policy_arns(non_empty(policy_arns))
                        .send()
                        .await
                        .map_err(classify)?
                        .credentials
                }
                Exchange::Saml {
                    principal_arn,
                    assertion,
                } => {
                    self.client
                        .assume_role_with_saml()
                        .role_arn(&*spec.role_arn)
                        .principal_arn(&**principal_arn)
                        .saml_assertion(&*assertion.secret)
                        .duration_seconds(spec.duration_seconds)
                        .set_policy(policy)
                        .set_policy_arns(non_empty(policy_arns))
                        .send()
                        .await
                        .map_err(classify)?
                        .credentials
                }
            };
            session(c)
        })
    }
}

impl AwsSts {
    /// `AssumeRole` with stsgate's own credentials: tags, transitive keys, source identity.
    async fn assume(
        &self,
        spec: &SessionSpec,
        policy: Option<String>,
        policy_arns: Vec<PolicyDescriptorType>,
    ) -> Result<Option<Credentials>, StsError> {
        let tags = spec
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StsError::from_code("ValidationError", None, e.to_string()))?;
        let transitive: Vec<String> = spec
            .transitive_tag_keys
            .iter()
            .map(|k| k.to_string())
            .collect();
        Ok(self
            .client
            .assume_role()
            .role_arn(&*spec.role_arn)
            .role_session_name(&spec.session_name)
            .duration_seconds(spec.duration_seconds)
            .set_policy(policy)
            .set_tags(non_empty(tags))
            .set_policy_arns(non_empty(policy_arns))
            .set_transitive_tag_keys(non_empty(transitive))
            .set_source_identity(spec.source_identity.clone())
            .send()
            .await
            .map_err(classify)?
            .credentials)
    }
}

/// STS's credentials as a session; a response without them is a bad response.
fn session(c: Option<Credentials>) -> Result<SessionCredentials, StsError> {
    let c =
        c.ok_or_else(|| StsError::transport("bad_response", "STS returned no credentials".into()))?;
    let expires_at = SystemTime::try_from(c.expiration)
        .map_err(|_| StsError::transport("bad_response", "Expiration out of range".into()))?;
    Ok(SessionCredentials::new(
        c.access_key_id,
        c.secret_access_key,
        c.session_token,
        expires_at,
    ))
}

/// STS lists are left out when empty.
fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn classify<E>(e: SdkError<E, HttpResponse>) -> StsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &e {
        SdkError::ServiceError(se) => StsError::from_code(
            se.err().code().unwrap_or("unknown"),
            Some(se.raw().status().as_u16()),
            se.err().message().unwrap_or("").to_owned(),
        ),
        SdkError::TimeoutError(_) => StsError::transport("timeout", "AssumeRole timed out".into()),
        SdkError::DispatchFailure(_) => StsError::transport("network", error_chain(&e)),
        _ => StsError::transport("bad_response", error_chain(&e)),
    }
}
