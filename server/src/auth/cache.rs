//! Verified callers, kept for a moment: a token seen again within [`Callers::ttl`] is not looked
//! up again. That lookup was the one database round trip every authenticated call paid.
//!
//! Revocations reach every replica within the lifetime of an entry (a second by default), as
//! each replica's entries run out; the replica that revoked forgets at once (`forget_all`). An
//! access token's own expiry is checked on every hit.

use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::caller::Caller;
use crate::error::{Error, Result};

/// More entries than this and the cache starts over: it holds tokens seen in the last second,
/// so only a flood of distinct valid tokens reaches it.
const MAX_ENTRIES: usize = 50_000;

/// The callers verified in the last `ttl`, by token hash.
#[derive(Debug)]
pub struct Callers {
    entries: DashMap<String, Entry>,
    ttl: Duration,
}

#[derive(Debug)]
struct Entry {
    caller: Caller,
    expires_at_us: Option<i64>,
    verified: Instant,
}

impl Callers {
    /// Entries live `ttl`; zero turns the cache off.
    pub fn new(ttl: Duration) -> Self {
        Self { entries: DashMap::new(), ttl }
    }

    /// How long an entry lives: the longest a revocation on another replica takes to bite here.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The caller of `token_hash` if verified within the ttl; TOKEN_EXPIRED once its access
    /// token has run out; `None` to look it up.
    pub fn get(&self, token_hash: &str, now_us: i64) -> Option<Result<Caller>> {
        let entry = self.entries.get(token_hash)?;
        if entry.verified.elapsed() >= self.ttl {
            drop(entry);
            self.entries.remove(token_hash);
            return None;
        }
        if entry.expires_at_us.is_some_and(|at| at <= now_us) {
            return Some(Err(Error::TokenExpired));
        }
        Some(Ok(entry.caller.clone()))
    }

    /// Keeps a verified caller.
    pub fn put(&self, token_hash: String, caller: Caller, expires_at_us: Option<i64>) {
        if self.ttl.is_zero() {
            return;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(token_hash, Entry { caller, expires_at_us, verified: Instant::now() });
    }

    /// Forgets every caller: something was revoked here.
    pub fn forget_all(&self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onsite_core::slip::Role;

    fn caller() -> Caller {
        Caller {
            user_id: onsite_core::id::UserId::new(),
            role: Role::Manager,
            engineer_id: None,
            session_id: None,
            device: None,
        }
    }

    #[test]
    fn entries_run_out_expire_and_are_forgotten() {
        let callers = Callers::new(Duration::from_secs(60));
        assert!(callers.get("a", 0).is_none());
        callers.put("a".into(), caller(), Some(100));
        assert!(matches!(callers.get("a", 99), Some(Ok(_))));
        assert!(matches!(callers.get("a", 100), Some(Err(Error::TokenExpired))));
        callers.forget_all();
        assert!(callers.get("a", 0).is_none());

        let brief = Callers::new(Duration::ZERO);
        brief.put("a".into(), caller(), None);
        assert!(brief.get("a", 0).is_none(), "a zero ttl keeps nothing");
    }
}
