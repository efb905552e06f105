//! Sign-in's guards and settings, shared by every request: the throttle on attempts, the
//! pool that hashes passwords, how long sessions last, and this server's site for the
//! `Origin` check.

mod origin;
mod throttle;

use std::time::Duration;

pub use origin::{SiteOrigin, secure_cookies};
pub use throttle::{ClientAddress, SignInThrottle, Throttled};

use crate::access::PasswordHashing;

/// How long a session lasts.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, however much it is used.
    pub lifetime: Duration,
}

impl SessionPolicy {
    /// A session unused for 12 hours ends: a working day, but not a forgotten tab overnight.
    pub const DEFAULT_IDLE: Duration = Duration::from_secs(12 * 3600);

    /// A session ends 14 days after sign-in.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(14 * 86_400);

    /// `idle` in milliseconds, as the store keeps times.
    pub fn idle_ms(&self) -> i64 {
        i64::try_from(self.idle.as_millis()).unwrap_or(i64::MAX)
    }

    /// `lifetime` in milliseconds, as the store keeps times.
    pub fn lifetime_ms(&self) -> i64 {
        i64::try_from(self.lifetime.as_millis()).unwrap_or(i64::MAX)
    }
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Self::DEFAULT_IDLE,
            lifetime: Self::DEFAULT_LIFETIME,
        }
    }
}

/// Everything sign-in needs beyond the store.
#[derive(Debug, Default)]
pub struct SignIn {
    /// Attempts per account and per address.
    pub throttle: SignInThrottle,
    /// Hashes and checks passwords off the async threads.
    pub hashing: PasswordHashing,
    /// How long sessions last.
    pub sessions: SessionPolicy,
    /// This server's site: a change signed in with the session cookie must come from it.
    pub origin: SiteOrigin,
}
