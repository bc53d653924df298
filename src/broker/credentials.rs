//! One user's STS session credentials. `Debug` never prints the secret or the token.

use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::identity::Identity;
use std::time::SystemTime;

#[derive(Clone)]
pub struct SessionCredentials {
    /// aws-credential-types' own type: already redacts its secrets in `Debug`. Private, like
    /// `identity`, which is made from it: the two cannot drift apart.
    keys: Credentials,
    pub expires_at: SystemTime,
    /// The same keys as the signer takes them, made once per session rather than per request.
    identity: Identity,
}

impl SessionCredentials {
    pub fn new(
        access_key_id: String,
        secret: String,
        session_token: String,
        expires_at: SystemTime,
    ) -> Self {
        let keys = Credentials::new(
            access_key_id,
            secret,
            Some(session_token),
            Some(expires_at),
            "stsgate",
        );
        SessionCredentials {
            identity: keys.clone().into(),
            keys,
            expires_at,
        }
    }

    pub fn keys(&self) -> &Credentials {
        &self.keys
    }

    /// What [`crate::signing::Signer`] signs with.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn access_key_id(&self) -> &str {
        self.keys.access_key_id()
    }
}

impl std::fmt::Debug for SessionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCredentials")
            .field("access_key_id", &self.access_key_id())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let c = SessionCredentials::new(
            "ASIAKEY".into(),
            "s3cr3t".into(),
            "t0k3n".into(),
            SystemTime::UNIX_EPOCH,
        );
        let shown = format!("{c:?}");
        assert!(shown.contains("ASIAKEY"));
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("t0k3n"),
            "{shown}"
        );
    }
}
