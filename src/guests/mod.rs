//! Guests: non-authenticated users, as Cognito identity pools' guest access. `POST /guest` hands
//! out a short-lived token stsgate signs itself (`key.rs`) with a fresh identity ID as `sub` and
//! `amr: ["unauthenticated"]`; the token then works like any bearer token, verified by an issuer
//! whose keys are the signing key's public half (also served at `/.well-known/jwks.json`), and
//! mapped by the guests' provider (its role, scope-down policy and narrower operations). Issuing
//! is rate-limited per client address and, when configured, creates the guest's AppInstanceUser
//! first (`chime_users.rs`).

mod chime_users;
mod key;

pub use chime_users::{AppInstanceUsers, CreateError};
pub use key::GuestKey;

use crate::clock::{SharedClock, unix_seconds};
use crate::mapping::identity_id;
use crate::rate::KeyedRate;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The `iss` of guest tokens: not a URL, so it can never be a configured issuer's.
pub const ISSUER: &str = "urn:stsgate:guests";
/// Their `aud`.
pub const AUDIENCE: &str = "stsgate-guests";
/// The guests' provider name (`{provider}`, the `amr` tag).
pub const PROVIDER_NAME: &str = "guests";

/// A guest's AppInstanceUserId: `{provider}-{identity_id}`, the default every provider's users
/// get when there are several, so no other provider's default can make the same one.
pub fn user_id(identity_id: &str) -> String {
    format!("{PROVIDER_NAME}-{identity_id}")
}

/// What one client is, for `max_per_minute`: its IPv4 address, or its IPv6 /64 (one host is
/// usually given a whole /64, and could otherwise rotate through it).
fn client_key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

/// What issuing needs, from `[guests]`.
#[derive(Debug, Clone)]
pub struct GuestSettings {
    pub key: Arc<GuestKey>,
    pub token_lifetime: Duration,
    pub max_per_minute: u32,
    /// `max_total_per_minute`: all clients together.
    pub max_total_per_minute: u32,
    /// `create_app_instance_user`: the identity API endpoint and the users' lifetime in days.
    pub create_users: Option<(url::Url, u32)>,
}

/// One issued guest.
pub struct Issued {
    pub token: String,
    pub identity_id: String,
    /// Its AppInstanceUserId ([`user_id`]).
    pub user_id: String,
    pub expires_in: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error("too many guest tokens for this address; retry in {0} s")]
    RateLimited(u64),
    #[error("too many guest tokens for now; retry in {0} s")]
    TotalRateLimited(u64),
    #[error(transparent)]
    CreateUser(#[from] CreateError),
}

pub struct Guests {
    key: Arc<GuestKey>,
    region: String,
    lifetime: Duration,
    per_address: Option<KeyedRate<IpAddr>>,
    total: Option<KeyedRate<()>>,
    users: Option<AppInstanceUsers>,
    clock: SharedClock,
}

impl Guests {
    pub fn new(
        s: &GuestSettings,
        region: &str,
        users: Option<AppInstanceUsers>,
        clock: SharedClock,
    ) -> Self {
        let per_minute = f64::from(s.max_per_minute);
        let total = f64::from(s.max_total_per_minute);
        Guests {
            key: s.key.clone(),
            region: region.to_owned(),
            lifetime: s.token_lifetime,
            per_address: KeyedRate::new(per_minute / 60.0, per_minute),
            total: KeyedRate::new(total / 60.0, total),
            users,
            clock,
        }
    }

    pub fn jwks(&self) -> &serde_json::Value {
        self.key.jwks()
    }

    /// A new guest for a client at `peer`; its AppInstanceUser (`user_id` = the identity ID) is
    /// created first when configured.
    pub async fn issue(&self, peer: IpAddr) -> Result<Issued, GuestError> {
        if let Some(rate) = &self.per_address {
            rate.check(&client_key(peer))
                .map_err(GuestError::RateLimited)?;
        }
        if let Some(rate) = &self.total {
            rate.check(&()).map_err(GuestError::TotalRateLimited)?;
        }
        let identity_id = identity_id::fresh(&self.region);
        let user_id = user_id(&identity_id);
        if let Some(users) = &self.users {
            let short = identity_id.rsplit(':').next().unwrap_or_default();
            users
                .create(&user_id, &format!("Guest {}", &short[..8]))
                .await?;
        }
        let now = unix_seconds(self.clock.now());
        let claims = serde_json::json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": identity_id,
            "amr": ["unauthenticated"],
            "iat": now,
            "exp": now + self.lifetime.as_secs() as i64,
        });
        Ok(Issued {
            token: self.key.sign(&claims),
            identity_id,
            user_id,
            expires_in: self.lifetime.as_secs(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(client_key(v4), v4);
    }
}
