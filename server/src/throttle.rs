//! Rate limits: a caller who sends more than their share is answered RESOURCE_EXHAUSTED with a
//! RetryInfo detail saying when to try again, before any work. Calls are limited per user;
//! sign-in attempts (passwords, codes, refresh tokens) per login and per network address, so
//! guessing is slow whichever of the two an attacker varies.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use onsite_core::id::UserId;

use crate::error::{Error, Result};

/// Calls per second each user may make, and how many at once above that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl RateLimit {
    /// Far above what a phone or a dispatcher's console sends; it stops a runaway script or
    /// a stolen token from taking the server for itself.
    pub const DEFAULT: Self = Self { per_second: 500, burst: 1000 };
}

/// The limits of every user.
#[derive(Debug)]
pub struct Throttle {
    limiter: Option<DefaultKeyedRateLimiter<UserId>>,
    clock: DefaultClock,
}

impl Throttle {
    /// `None` lets every call through.
    pub fn new(limit: Option<RateLimit>) -> Self {
        let limiter = limit.and_then(|l| {
            let quota = Quota::per_second(NonZeroU32::new(l.per_second)?).allow_burst(NonZeroU32::new(l.burst.max(1))?);
            Some(DefaultKeyedRateLimiter::keyed(quota))
        });
        Self { limiter, clock: DefaultClock::default() }
    }

    /// Counts a call of `user`, or says how long they must wait.
    pub fn admit(&self, user: UserId) -> Result<()> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(&user).map_err(|not_until| Error::RateLimited {
            retry_after: not_until.wait_time_from(self.clock.now()).max(Duration::from_millis(1)),
        })
    }
}

/// Sign-in attempts allowed per login and per address: each a burst, then one per period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignInLimit {
    pub login_burst: u32,
    pub login_period: Duration,
    pub address_burst: u32,
    pub address_period: Duration,
}

impl SignInLimit {
    /// Five tries for a login, then one every 20 s; thirty from an address (a site's shared
    /// uplink), then one every 2 s.
    pub const DEFAULT: Self = Self {
        login_burst: 5,
        login_period: Duration::from_secs(20),
        address_burst: 30,
        address_period: Duration::from_secs(2),
    };
}

/// Keyed limiters hold one entry per key seen; past this many, forgotten keys are dropped.
const SIGN_IN_KEYS: usize = 10_000;

/// The sign-in limits of every login and address.
#[derive(Debug)]
pub struct SignInThrottle {
    limiters: Option<(DefaultKeyedRateLimiter<String>, DefaultKeyedRateLimiter<String>)>,
    clock: DefaultClock,
}

impl SignInThrottle {
    /// `None` lets every attempt through.
    pub fn new(limit: Option<SignInLimit>) -> Self {
        let keyed = |burst: u32, period: Duration| {
            Quota::with_period(period)
                .and_then(|q| Some(q.allow_burst(NonZeroU32::new(burst)?)))
                .map(DefaultKeyedRateLimiter::keyed)
        };
        let limiters = limit
            .and_then(|l| Some((keyed(l.login_burst, l.login_period)?, keyed(l.address_burst, l.address_period)?)));
        Self { limiters, clock: DefaultClock::default() }
    }

    /// Counts an attempt from `address`, for `login` when it names one.
    pub fn admit(&self, address: &str, login: Option<&str>) -> Result<()> {
        let Some((per_login, per_address)) = &self.limiters else { return Ok(()) };
        let wait = |not_until: governor::NotUntil<_>| Error::SignInThrottled {
            retry_after: not_until.wait_time_from(self.clock.now()).max(Duration::from_millis(1)),
        };
        if per_address.len() > SIGN_IN_KEYS {
            per_address.retain_recent();
        }
        per_address.check_key(&address.to_owned()).map_err(wait)?;
        if let Some(login) = login {
            if per_login.len() > SIGN_IN_KEYS {
                per_login.retain_recent();
            }
            per_login.check_key(&login.trim().to_lowercase()).map_err(wait)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_attempts_are_limited_per_login_and_per_address() {
        let limit = SignInLimit {
            login_burst: 2,
            login_period: Duration::from_secs(3600),
            address_burst: 3,
            address_period: Duration::from_secs(3600),
        };
        let throttle = SignInThrottle::new(Some(limit));
        assert!(throttle.admit("10.0.0.1", Some("zhou")).is_ok());
        assert!(throttle.admit("10.0.0.2", Some("ZHOU ")).is_ok());
        let third = throttle.admit("10.0.0.3", Some("zhou"));
        assert!(matches!(third, Err(Error::SignInThrottled { retry_after }) if retry_after > Duration::from_secs(60)));
        assert!(throttle.admit("10.0.0.3", Some("li")).is_ok(), "another login goes on");
        assert!(throttle.admit("10.0.0.1", None).is_ok());
        assert!(throttle.admit("10.0.0.1", None).is_ok());
        assert!(throttle.admit("10.0.0.1", None).is_err(), "the address has had its share");
    }
}
