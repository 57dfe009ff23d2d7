//! Service levels: how fast a ticket must be answered and solved, measured in working time.

use chrono::{DateTime, Duration, Utc};

use crate::calendar::BusinessCalendar;
use crate::ticket::{Severity, Tier};

/// A span of working time, as the handbooks state it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlaSpan {
    /// Working hours on the calendar.
    Hours(u32),
    /// Working days; one working day is the calendar's longest working day.
    WorkingDays(u32),
}

impl SlaSpan {
    /// The span as working time on `calendar`.
    pub fn working_time(self, calendar: &BusinessCalendar) -> Duration {
        match self {
            Self::Hours(h) => Duration::hours(i64::from(h)),
            Self::WorkingDays(d) => calendar.working_day() * i32::try_from(d).unwrap_or(i32::MAX),
        }
    }
}

/// Respond and resolve commitments of one severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceLevel {
    pub respond_within: SlaSpan,
    pub resolve_within: SlaSpan,
}

/// The service-level table, one row per severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlaPolicy {
    pub urgent: ServiceLevel,
    pub important: ServiceLevel,
    pub general: ServiceLevel,
}

impl Default for SlaPolicy {
    /// The handbooks' table: urgent 2 h / 4 h, important 4 h / 24 h, general 8 h / 3 working days.
    fn default() -> Self {
        Self {
            urgent: ServiceLevel { respond_within: SlaSpan::Hours(2), resolve_within: SlaSpan::Hours(4) },
            important: ServiceLevel { respond_within: SlaSpan::Hours(4), resolve_within: SlaSpan::Hours(24) },
            general: ServiceLevel { respond_within: SlaSpan::Hours(8), resolve_within: SlaSpan::WorkingDays(3) },
        }
    }
}

impl SlaPolicy {
    /// The row for `severity`.
    pub fn level(&self, severity: Severity) -> ServiceLevel {
        match severity {
            Severity::Urgent => self.urgent,
            Severity::Important => self.important,
            Severity::General => self.general,
        }
    }

    /// When a ticket of `severity` submitted at `submitted_at` must be answered and solved.
    pub fn due_times(&self, calendar: &BusinessCalendar, severity: Severity, submitted_at: DateTime<Utc>) -> DueTimes {
        let level = self.level(severity);
        DueTimes {
            respond_by: calendar.add_working_time(submitted_at, level.respond_within.working_time(calendar)),
            resolve_by: calendar.add_working_time(submitted_at, level.resolve_within.working_time(calendar)),
        }
    }
}

/// The two due times of a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DueTimes {
    pub respond_by: DateTime<Utc>,
    pub resolve_by: DateTime<Utc>,
}

/// Which commitment was missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Breach {
    Response,
    Resolution,
}

impl Breach {
    /// The stable reason code, as used in audit records and errors.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::Response => "SLA_RESPONSE_BREACHED",
            Self::Resolution => "SLA_RESOLUTION_BREACHED",
        }
    }
}

/// A ticket's SLA clock: its due times and when it was actually answered and solved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlaClock {
    pub due: DueTimes,
    pub responded_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl SlaClock {
    /// The commitments missed as of `now`: met late, or still unmet after the due time.
    pub fn breaches(&self, now: DateTime<Utc>) -> Vec<Breach> {
        let missed = |met: Option<DateTime<Utc>>, due: DateTime<Utc>| met.unwrap_or(now) > due;
        let mut out = Vec::new();
        if missed(self.responded_at, self.due.respond_by) {
            out.push(Breach::Response);
        }
        if missed(self.resolved_at, self.due.resolve_by) {
            out.push(Breach::Resolution);
        }
        out
    }
}

/// The escalation rule: a breach moves the ticket one tier up (1 -> 2 -> 3) and the manager
/// is told. At tier 3 there is nowhere higher to go; the manager is still told.
pub fn escalate_on_breach(tier: Tier) -> Option<Tier> {
    tier.next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).single().unwrap_or_default()
    }

    #[test]
    fn the_handbook_table_in_working_time() {
        let cal = BusinessCalendar::default(); // Mon-Fri 09-18 UTC
        let policy = SlaPolicy::default();
        // Friday 2026-11-27 16:00, urgent: respond by 18:00, resolve by Monday 11:00.
        let due = policy.due_times(&cal, Severity::Urgent, at(27, 16));
        assert_eq!(due, DueTimes { respond_by: at(27, 18), resolve_by: at(30, 11) });
        // General, Monday 09:00: 8 h respond = Monday 17:00, 3 working days of 9 h = Wed 18:00.
        let due = policy.due_times(&cal, Severity::General, at(23, 9));
        assert_eq!(due, DueTimes { respond_by: at(23, 17), resolve_by: at(25, 18) });
    }

    #[test]
    fn breaches_are_detected_late_or_open() {
        let clock = SlaClock {
            due: DueTimes { respond_by: at(23, 11), resolve_by: at(23, 13) },
            responded_at: Some(at(23, 10)),
            resolved_at: None,
        };
        assert_eq!(clock.breaches(at(23, 12)), vec![]);
        assert_eq!(clock.breaches(at(23, 14)), vec![Breach::Resolution]);
        let late = SlaClock { responded_at: Some(at(23, 12)), resolved_at: Some(at(23, 12)), ..clock };
        assert_eq!(late.breaches(at(24, 0)), vec![Breach::Response]);
    }

    #[test]
    fn escalation_climbs_the_tiers() {
        assert_eq!(escalate_on_breach(Tier::ServiceDesk), Some(Tier::Field));
        assert_eq!(escalate_on_breach(Tier::Expert), None);
    }
}
