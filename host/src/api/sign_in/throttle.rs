//! Sign-in attempts, throttled per account and per client address, so that guessing a
//! password takes years and one address cannot try many accounts.
//!
//! The account is checked first, and an attempt refused for its account does not count
//! against its address: a flood of guesses at one account then leaves the sign-ins of
//! everyone else behind the same address alone.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The longest email kept as a key: longer ones share a key, so a key's memory is bounded.
const MAX_EMAIL_KEY: usize = 320;

/// The header a proxy names the client's address in.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// After this many attempts, keys back to a full allowance are forgotten.
const FORGET_EVERY: u64 = 1024;

/// Where a request came from: the peer's address, or, when the peer is a proxy on this
/// machine, the address that proxy saw. None when the server has no socket (a router
/// called without one, as tests do).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(
            |ConnectInfo(peer)| client_of(peer.ip(), &parts.headers),
        )))
    }
}

/// The client behind `peer`. A loopback peer is a proxy on this machine (or someone who
/// could reach the server anyway): without this, every client behind it would share one
/// allowance, and a stranger's guesses would lock everyone out. The last address of
/// `X-Forwarded-For` is the one the nearest proxy saw; earlier ones are the client's word.
fn client_of(peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    if !peer.to_canonical().is_loopback() {
        return peer;
    }
    headers
        .get_all(FORWARDED_FOR)
        .iter()
        .next_back()
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|address| address.trim().parse().ok())
        .unwrap_or(peer)
}

/// A refused sign-in attempt: whose allowance ran out, and when the next attempt may come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Throttled {
    /// Too many attempts for this account.
    Account(Duration),
    /// Too many attempts from this address.
    Address(Duration),
}

impl Throttled {
    /// How long until the next attempt is allowed, in whole seconds, at least one.
    pub fn retry_after_secs(&self) -> u64 {
        let (Self::Account(wait) | Self::Address(wait)) = self;
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
    }

    /// What to tell the person.
    pub fn message(&self) -> String {
        let whose = match self {
            Self::Account(_) => "this account",
            Self::Address(_) => "your address",
        };
        format!(
            "too many sign-in attempts for {whose}; try again in {} seconds",
            self.retry_after_secs()
        )
    }
}

/// Allowances of sign-in attempts by account (email) and by client address.
#[derive(Debug)]
pub struct SignInThrottle {
    accounts: DefaultKeyedRateLimiter<String>,
    addresses: DefaultKeyedRateLimiter<IpAddr>,
    attempts: AtomicU64,
}

impl Default for SignInThrottle {
    /// 5 attempts per account at once, then one every 12 seconds; 20 per address at once,
    /// then one every 3 seconds.
    fn default() -> Self {
        Self::new(per_minute(5), per_minute(20))
    }
}

/// `n` attempts at once, then `n` a minute.
fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl SignInThrottle {
    /// Allowances of `account` per account and `address` per client address.
    pub fn new(account: Quota, address: Quota) -> Self {
        Self {
            accounts: RateLimiter::keyed(account),
            addresses: RateLimiter::keyed(address),
            attempts: AtomicU64::new(0),
        }
    }

    /// Counts an attempt to sign in as `email` from `address`; refused when either
    /// allowance is spent.
    pub fn check(&self, email: &str, address: Option<IpAddr>) -> Result<(), Throttled> {
        if self.attempts.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.accounts.retain_recent();
            self.addresses.retain_recent();
        }
        let account: String = email
            .trim()
            .to_lowercase()
            .chars()
            .take(MAX_EMAIL_KEY)
            .collect();
        self.accounts.check_key(&account).map_err(|until| {
            Throttled::Account(until.wait_time_from(self.accounts.clock().now()))
        })?;
        if let Some(address) = address {
            self.addresses
                .check_key(&network_of(address))
                .map_err(|until| {
                    Throttled::Address(until.wait_time_from(self.addresses.clock().now()))
                })?;
        }
        Ok(())
    }
}

/// The key of a client address: an IPv6 client holds a whole /64, so its /64 is one key.
fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
        IpAddr::V4(_) => address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("an address"))
    }

    #[test]
    fn an_account_gets_five_attempts_then_waits_whatever_the_address() {
        let throttle = SignInThrottle::default();
        for i in 0..5 {
            assert_eq!(
                throttle.check("ada@acme.test", address(&format!("192.0.2.{i}"))),
                Ok(())
            );
        }
        let refused = throttle
            .check(" Ada@ACME.test", address("198.51.100.7"))
            .expect_err("the sixth attempt on the account");
        assert!(matches!(refused, Throttled::Account(_)), "{refused:?}");
        assert!(
            (1..=12).contains(&refused.retry_after_secs()),
            "{refused:?}"
        );
        assert_eq!(
            refused.message(),
            format!(
                "too many sign-in attempts for this account; try again in {} seconds",
                refused.retry_after_secs()
            )
        );
        assert_eq!(
            throttle.check("grace@globex.test", address("198.51.100.7")),
            Ok(()),
            "another account is not held back"
        );
    }

    #[test]
    fn an_address_gets_twenty_attempts_across_accounts_and_its_ipv6_64_is_one_address() {
        let throttle = SignInThrottle::default();
        for i in 0..20 {
            let from = address(&format!("2001:db8:1:2::{i:x}"));
            assert_eq!(throttle.check(&format!("user{i}@acme.test"), from), Ok(()));
        }
        let refused = throttle
            .check("user99@acme.test", address("2001:db8:1:2:ffff::1"))
            .expect_err("the same /64");
        assert!(matches!(refused, Throttled::Address(_)), "{refused:?}");
        assert!(
            refused
                .message()
                .starts_with("too many sign-in attempts for your address;")
        );
        assert_eq!(
            throttle.check("user99@acme.test", address("2001:db8:1:3::1")),
            Ok(()),
            "another /64"
        );
    }

    #[test]
    fn only_a_proxy_on_this_machine_names_the_client() {
        let forwarded = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(FORWARDED_FOR, value.parse().expect("a header value"));
            headers
        };
        let ip = |text: &str| text.parse::<IpAddr>().expect("an address");
        let through = forwarded("198.51.100.1, 203.0.113.9");
        assert_eq!(client_of(ip("127.0.0.1"), &through), ip("203.0.113.9"));
        assert_eq!(client_of(ip("::1"), &through), ip("203.0.113.9"));
        assert_eq!(
            client_of(ip("::ffff:127.0.0.1"), &through),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_of(ip("192.0.2.7"), &through),
            ip("192.0.2.7"),
            "a remote peer cannot name someone else"
        );
        assert_eq!(
            client_of(ip("127.0.0.1"), &forwarded("not an address")),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_of(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn attempts_refused_for_their_account_do_not_spend_the_address() {
        let throttle = SignInThrottle::default();
        for _ in 0..50 {
            let _ = throttle.check("ada@acme.test", address("192.0.2.1"));
        }
        for i in 0..15 {
            assert_eq!(
                throttle.check(&format!("user{i}@acme.test"), address("192.0.2.1")),
                Ok(())
            );
        }
    }
}
