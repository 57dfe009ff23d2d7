//! Service levels: how fast a ticket must be answered and solved. Urgent faults count round the
//! clock by default; the others count in working time on the business calendar.

use chrono::{DateTime, Duration, Utc};

use crate::calendar::BusinessCalendar;
use crate::error::FieldViolation;
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

/// How a severity's spans are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counting {
    /// Elapsed time, nights, weekends, holidays and clock changes included: a working day is
    /// 24 hours.
    RoundTheClock,
    /// Working time on the business calendar.
    WorkingTime,
}

/// Respond and resolve commitments of one severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceLevel {
    pub respond_within: SlaSpan,
    pub resolve_within: SlaSpan,
    pub counting: Counting,
}

impl ServiceLevel {
    /// When a span started at `start` ends under this level's counting.
    fn due(&self, calendar: &BusinessCalendar, start: DateTime<Utc>, span: SlaSpan) -> DateTime<Utc> {
        match self.counting {
            Counting::WorkingTime => calendar.add_working_time(start, span.working_time(calendar)),
            Counting::RoundTheClock => {
                let elapsed = match span {
                    SlaSpan::Hours(h) => Duration::hours(i64::from(h)),
                    SlaSpan::WorkingDays(d) => Duration::days(i64::from(d)),
                };
                start.checked_add_signed(elapsed).unwrap_or(DateTime::<Utc>::MAX_UTC)
            }
        }
    }
}

/// The service-level table, one row per severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlaPolicy {
    pub urgent: ServiceLevel,
    pub important: ServiceLevel,
    pub general: ServiceLevel,
}

impl Default for SlaPolicy {
    /// The handbooks' table: urgent 2 h / 4 h round the clock; important 4 h / 24 h and general
    /// 8 h / 3 working days, in working time.
    fn default() -> Self {
        use Counting::{RoundTheClock, WorkingTime};
        let level =
            |respond_within, resolve_within, counting| ServiceLevel { respond_within, resolve_within, counting };
        Self {
            urgent: level(SlaSpan::Hours(2), SlaSpan::Hours(4), RoundTheClock),
            important: level(SlaSpan::Hours(4), SlaSpan::Hours(24), WorkingTime),
            general: level(SlaSpan::Hours(8), SlaSpan::WorkingDays(3), WorkingTime),
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

    /// The table with the severities in `round_the_clock` counted round the clock and the
    /// others in working time.
    pub fn counting_round_the_clock(mut self, round_the_clock: &[Severity]) -> Self {
        for (severity, level) in [
            (Severity::Urgent, &mut self.urgent),
            (Severity::Important, &mut self.important),
            (Severity::General, &mut self.general),
        ] {
            level.counting =
                if round_the_clock.contains(&severity) { Counting::RoundTheClock } else { Counting::WorkingTime };
        }
        self
    }

    /// Severities written as `urgent,important`; empty names none.
    pub fn parse_severities(text: &str, field: &str) -> Result<Vec<Severity>, FieldViolation> {
        text.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| {
                name.parse().map_err(|()| {
                    FieldViolation::new(field, format!("{name:?} is not a severity (urgent, important, general)"))
                })
            })
            .collect()
    }

    /// When a ticket of `severity` submitted at `submitted_at` must be answered and solved.
    pub fn due_times(&self, calendar: &BusinessCalendar, severity: Severity, submitted_at: DateTime<Utc>) -> DueTimes {
        let level = self.level(severity);
        DueTimes {
            respond_by: level.due(calendar, submitted_at, level.respond_within),
            resolve_by: level.due(calendar, submitted_at, level.resolve_within),
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
        let policy = SlaPolicy::default().counting_round_the_clock(&[]);
        // Friday 2026-11-27 16:00, urgent in working time: respond by 18:00, resolve by Monday 11:00.
        let due = policy.due_times(&cal, Severity::Urgent, at(27, 16));
        assert_eq!(due, DueTimes { respond_by: at(27, 18), resolve_by: at(30, 11) });
        // General, Monday 09:00: 8 h respond = Monday 17:00, 3 working days of 9 h = Wed 18:00.
        let due = policy.due_times(&cal, Severity::General, at(23, 9));
        assert_eq!(due, DueTimes { respond_by: at(23, 17), resolve_by: at(25, 18) });
    }

    #[test]
    fn an_urgent_fault_on_friday_evening_is_due_that_night() {
        let cal = BusinessCalendar::default(); // Mon-Fri 09-18 UTC
        let policy = SlaPolicy::default();
        // Friday 2026-11-27 17:00: urgent counts round the clock, answered by 19:00, solved by 21:00.
        let due = policy.due_times(&cal, Severity::Urgent, at(27, 17));
        assert_eq!(due, DueTimes { respond_by: at(27, 19), resolve_by: at(27, 21) });
        // Important at the same moment counts in working time: one hour on Friday, three on Monday.
        let due = policy.due_times(&cal, Severity::Important, at(27, 17));
        assert_eq!(due.respond_by, at(30, 12));
        // Round the clock, three "working days" are three elapsed days.
        let all = policy.counting_round_the_clock(&[Severity::Urgent, Severity::General]);
        assert_eq!(all.due_times(&cal, Severity::General, at(27, 17)).resolve_by, at(30, 17));
    }

    #[test]
    fn clocks_keep_counting_across_a_clock_change() {
        use chrono_tz::Europe::Berlin;
        // Berlin moves its clocks from 02:00 to 03:00 on Sunday 2026-03-29.
        let cal = BusinessCalendar::new("Europe/Berlin", "Mon-Fri 09:00-18:00", []).unwrap_or_else(|e| panic!("{e:?}"));
        let local = |d: u32, h: u32| {
            Berlin.with_ymd_and_hms(2026, 3, d, h, 0, 0).single().map(|t| t.with_timezone(&Utc)).unwrap_or_default()
        };
        let policy = SlaPolicy::default();
        // Urgent at Saturday 23:00 local: answered by 01:00; solved four hours on, when the wall
        // clock shows 04:00, since 02:00-03:00 never happened.
        let due = policy.due_times(&cal, Severity::Urgent, local(28, 23));
        assert_eq!(due, DueTimes { respond_by: local(29, 1), resolve_by: local(29, 4) });
        assert_eq!(due.resolve_by - local(28, 23), Duration::hours(4));
        // Important at the same moment: working time starts Monday 09:00 local (07:00 UTC in summer).
        let due = policy.due_times(&cal, Severity::Important, local(28, 23));
        assert_eq!(due.respond_by, local(30, 13));
    }

    #[test]
    fn severities_to_count_round_the_clock_are_named() {
        let parsed = SlaPolicy::parse_severities(" urgent, important ", "round_the_clock");
        assert_eq!(parsed, Ok(vec![Severity::Urgent, Severity::Important]));
        assert_eq!(SlaPolicy::parse_severities("", "round_the_clock"), Ok(vec![]));
        let wrong = SlaPolicy::parse_severities("urgent,critical", "round_the_clock");
        assert!(wrong.is_err_and(|v| v.field == "round_the_clock" && v.description.contains("critical")));
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
