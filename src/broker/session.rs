//! One cached STS session and the moments that matter in its life: when a request should start a
//! background refresh, and when it must no longer be used.

use super::credentials::SessionCredentials;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

pub struct Session {
    pub issued: Arc<SessionCredentials>,
    /// From here on, a request that uses the session starts a background refresh.
    pub refresh_at: SystemTime,
    /// From here on, the session is not used (the expiry margin before `Expiration`).
    pub use_until: SystemTime,
    /// One background refresh per session at a time.
    refreshing: AtomicBool,
}

impl Session {
    pub fn new(credentials: SessionCredentials, margin: Duration, refresh_ahead: Duration) -> Self {
        let use_until = credentials
            .expires_at
            .checked_sub(margin)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let refresh_at = use_until
            .checked_sub(refresh_ahead)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        Session {
            issued: Arc::new(credentials),
            refresh_at,
            use_until,
            refreshing: AtomicBool::new(false),
        }
    }

    /// Claims the right to refresh this session; false if a refresh is already running.
    pub fn claim_refresh(&self) -> bool {
        self.refreshing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Lets a later request try again after a failed refresh.
    pub fn release_refresh(&self) {
        self.refreshing.store(false, Ordering::Release);
    }
}
