//! Every way a client credential is refused. `reason()` is the `stsgate_token_rejections_total`
//! label, a closed set that dashboards and alerts use: extend it, never rename.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("no bearer token")]
    Missing,
    #[error("token larger than the configured maximum")]
    Oversize,
    #[error("token is not a well-formed JWS: {0}")]
    Malformed(&'static str),
    #[error("token header uses an unsupported feature: {0}")]
    UnsupportedHeader(&'static str),
    #[error("token issuer is not configured")]
    UnknownIssuer,
    #[error("token algorithm is not allowed")]
    DisallowedAlgorithm,
    #[error("no key of the issuer matches the token")]
    UnknownKey,
    #[error("the issuer's keys are not available")]
    KeysUnavailable,
    #[error("too many assertions are waiting for signature checks")]
    VerifierBusy,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was issued in the future")]
    IssuedInFuture,
    #[error("token audience is not accepted")]
    WrongAudience,
    #[error("token lacks the required claim {0}")]
    MissingClaim(&'static str),
    #[error("token_use is not the one this issuer accepts")]
    WrongTokenUse,
    #[error("a required claim does not have its required value")]
    ClaimMismatch,
    #[error("token is older than the maximum token age")]
    TooOld,
    #[error("assertion is not well-formed SAML: {0}")]
    MalformedSaml(&'static str),
    #[error("assertion is not signed")]
    Unsigned,
    #[error("the signed element is not the assertion presented: {0}")]
    SignatureWrapping(&'static str),
    #[error("assertion is not addressed to this recipient")]
    WrongRecipient,
    #[error("assertion has no usable bearer SubjectConfirmation")]
    NoBearerConfirmation,
    #[error("assertion has a condition stsgate cannot honour: {0}")]
    UnsupportedCondition(&'static str),
}

impl IdentityError {
    /// Every `reason()`, for metrics created at zero.
    pub const REASONS: &'static [&'static str] = &[
        "missing",
        "oversize",
        "malformed",
        "unsupported_header",
        "unknown_issuer",
        "disallowed_alg",
        "unknown_kid",
        "keys_unavailable",
        "verifier_busy",
        "bad_signature",
        "expired",
        "not_yet_valid",
        "issued_in_future",
        "wrong_audience",
        "missing_claim",
        "wrong_token_use",
        "claim_mismatch",
        "too_old",
        "unsigned",
        "signature_wrapping",
        "wrong_recipient",
        "no_bearer_confirmation",
        "unsupported_condition",
    ];

    /// Closed label set for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            IdentityError::Missing => "missing",
            IdentityError::Oversize => "oversize",
            IdentityError::Malformed(_) => "malformed",
            IdentityError::UnsupportedHeader(_) => "unsupported_header",
            IdentityError::UnknownIssuer => "unknown_issuer",
            IdentityError::DisallowedAlgorithm => "disallowed_alg",
            IdentityError::UnknownKey => "unknown_kid",
            IdentityError::KeysUnavailable => "keys_unavailable",
            IdentityError::VerifierBusy => "verifier_busy",
            IdentityError::BadSignature => "bad_signature",
            IdentityError::Expired => "expired",
            IdentityError::NotYetValid => "not_yet_valid",
            IdentityError::IssuedInFuture => "issued_in_future",
            IdentityError::WrongAudience => "wrong_audience",
            IdentityError::MissingClaim(_) => "missing_claim",
            IdentityError::WrongTokenUse => "wrong_token_use",
            IdentityError::ClaimMismatch => "claim_mismatch",
            IdentityError::TooOld => "too_old",
            IdentityError::MalformedSaml(_) => "malformed",
            IdentityError::Unsigned => "unsigned",
            IdentityError::SignatureWrapping(_) => "signature_wrapping",
            IdentityError::WrongRecipient => "wrong_recipient",
            IdentityError::NoBearerConfirmation => "no_bearer_confirmation",
            IdentityError::UnsupportedCondition(_) => "unsupported_condition",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_listed() {
        let samples = [
            IdentityError::Missing,
            IdentityError::Oversize,
            IdentityError::Malformed("x"),
            IdentityError::UnsupportedHeader("x"),
            IdentityError::UnknownIssuer,
            IdentityError::DisallowedAlgorithm,
            IdentityError::UnknownKey,
            IdentityError::KeysUnavailable,
            IdentityError::VerifierBusy,
            IdentityError::BadSignature,
            IdentityError::Expired,
            IdentityError::NotYetValid,
            IdentityError::IssuedInFuture,
            IdentityError::WrongAudience,
            IdentityError::MissingClaim("x"),
            IdentityError::WrongTokenUse,
            IdentityError::ClaimMismatch,
            IdentityError::TooOld,
            IdentityError::MalformedSaml("x"),
            IdentityError::Unsigned,
            IdentityError::SignatureWrapping("x"),
            IdentityError::WrongRecipient,
            IdentityError::NoBearerConfirmation,
            IdentityError::UnsupportedCondition("x"),
        ];
        for e in samples {
            assert!(IdentityError::REASONS.contains(&e.reason()), "{e:?}");
        }
    }
}
