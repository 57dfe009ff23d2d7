//! Dispatch policy: how far to look for an engineer, when a job is urgent, the tier it needs
//! and the window checked. The server's index applies it; the rules live here so one place
//! says what "urgent" means.

use chrono::{DateTime, Duration, Utc};

use crate::error::FieldViolation;
use crate::slip::Window;
use crate::ticket::{Severity, Tier};

/// Search radius when the dispatcher names none, km.
pub const DEFAULT_RADIUS_KM: f64 = 100.0;
/// Largest search radius, km.
pub const MAX_RADIUS_KM: f64 = 2000.0;
/// An urgent job widens the radius by this factor (up to [`MAX_RADIUS_KM`]).
pub const URGENT_WIDENING: f64 = 3.0;
/// A ticket due within this much is urgent.
pub const URGENT_WITHIN: Duration = Duration::hours(4);
/// Window checked when neither the request nor the slip has one.
pub const DEFAULT_WINDOW: Duration = Duration::hours(2);
/// Suggestions when the dispatcher names no number.
pub const DEFAULT_LIMIT: usize = 5;
/// Most suggestions one call returns.
pub const MAX_LIMIT: usize = 50;

/// How many suggestions to return: 0 asks for the default.
pub fn limit(requested: i32) -> Result<usize, FieldViolation> {
    match usize::try_from(requested) {
        Ok(0) => Ok(DEFAULT_LIMIT),
        Ok(n) if n <= MAX_LIMIT => Ok(n),
        _ => Err(FieldViolation::new("limit", format!("must be between 1 and {MAX_LIMIT}"))),
    }
}

/// The search radius asked for: 0 asks for the default.
pub fn radius(requested_km: f64) -> Result<f64, FieldViolation> {
    if requested_km == 0.0 {
        Ok(DEFAULT_RADIUS_KM)
    } else if requested_km.is_finite() && requested_km > 0.0 && requested_km <= MAX_RADIUS_KM {
        Ok(requested_km)
    } else {
        Err(FieldViolation::new("max_distance_km", format!("must be above 0 and at most {MAX_RADIUS_KM}")))
    }
}

/// A job is urgent when its ticket is urgent, or unresolved and due within [`URGENT_WITHIN`].
pub fn is_urgent(severity: Severity, resolve_by: DateTime<Utc>, resolved: bool, now: DateTime<Utc>) -> bool {
    severity == Severity::Urgent || (!resolved && now.checked_add_signed(URGENT_WITHIN).is_some_and(|t| resolve_by < t))
}

/// The radius searched: urgent jobs look [`URGENT_WIDENING`] times as far.
pub fn search_radius(radius_km: f64, urgent: bool) -> f64 {
    if urgent { (radius_km * URGENT_WIDENING).min(MAX_RADIUS_KM) } else { radius_km }
}

/// The lowest tier that may take a ticket: field engineers at least, experts for an escalated
/// ticket.
pub fn min_tier(ticket_tier: Tier) -> Tier {
    ticket_tier.max(Tier::Field)
}

/// The window checked for shifts and appointments: the one asked for, the slip's own, or the
/// next [`DEFAULT_WINDOW`].
pub fn window(asked: Option<Window>, booked: Option<Window>, now: DateTime<Utc>) -> Window {
    asked.or(booked).unwrap_or(Window { start: now, end: now + DEFAULT_WINDOW })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgency_tier_and_radius() {
        let now = Utc::now();
        assert!(is_urgent(Severity::Urgent, now + Duration::days(3), false, now));
        assert!(is_urgent(Severity::General, now + Duration::hours(3), false, now));
        assert!(!is_urgent(Severity::General, now + Duration::hours(3), true, now));
        assert!(!is_urgent(Severity::Important, now + Duration::hours(5), false, now));
        assert_eq!(search_radius(100.0, true), 300.0);
        assert_eq!(search_radius(1000.0, true), MAX_RADIUS_KM);
        assert_eq!(min_tier(Tier::ServiceDesk), Tier::Field);
        assert_eq!(min_tier(Tier::Expert), Tier::Expert);
        assert_eq!(limit(0), Ok(DEFAULT_LIMIT));
        assert!(limit(51).is_err() && limit(-1).is_err());
        assert!(radius(f64::NAN).is_err() && radius(2000.1).is_err());
    }
}
