//! Per-user rate limits: a caller who sends more than their share is answered
//! RESOURCE_EXHAUSTED with a RetryInfo detail saying when to try again, before any work.

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
