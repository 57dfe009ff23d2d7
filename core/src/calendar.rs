//! The business calendar: time zone, weekly working hours and holidays, and arithmetic in
//! working time.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::FieldViolation;
use crate::shift::Shift;
use crate::week::{Minute, WEEKDAYS, hhmm, parse_week};

/// When the service organisation works.
#[derive(Clone, Debug, PartialEq)]
pub struct BusinessCalendar {
    tz: Tz,
    /// Working intervals per weekday (Monday first), sorted and disjoint.
    week: [Vec<(Minute, Minute)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl Default for BusinessCalendar {
    /// Monday to Friday, 09:00-18:00 UTC, no holidays.
    fn default() -> Self {
        let day = vec![(9 * 60, 18 * 60)];
        Self {
            tz: Tz::UTC,
            week: [day.clone(), day.clone(), day.clone(), day.clone(), day, vec![], vec![]],
            holidays: BTreeSet::new(),
        }
    }
}

impl BusinessCalendar {
    /// Builds a calendar from an IANA time zone (`Asia/Shanghai`), weekly hours such as
    /// `Mon-Fri 09:00-12:00,13:00-18:00; Sat 09:00-12:00` (`24:00` ends a day), and holidays.
    pub fn new(
        time_zone: &str,
        hours: &str,
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, FieldViolation> {
        let tz: Tz = time_zone
            .parse()
            .map_err(|_| FieldViolation::new("time_zone", "must be an IANA time zone such as Europe/Berlin"))?;
        let week = parse_week(hours)?;
        Ok(Self { tz, week, holidays: holidays.into_iter().collect() })
    }

    /// Parses holidays written as `2026-12-25,2027-01-01`.
    pub fn parse_holidays(text: &str) -> Result<Vec<NaiveDate>, FieldViolation> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|_| FieldViolation::new("holidays", format!("{s:?} is not a YYYY-MM-DD date")))
            })
            .collect()
    }

    /// The calendar's time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The team's working hours and holidays as a shift: what an engineer without a shift of
    /// their own works.
    pub fn as_shift(&self) -> Shift {
        Shift::from_parts(self.week.clone(), self.holidays.clone())
    }

    /// The longest working day of the week: what "one working day" of an SLA means.
    pub fn working_day(&self) -> Duration {
        let longest = self.week.iter().map(|d| d.iter().map(|(a, b)| b - a).sum::<Minute>()).max();
        Duration::minutes(i64::from(longest.unwrap_or(0)))
    }

    /// Whether `at` lies within working hours (both ends of an interval included).
    pub fn is_working_time(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz).date_naive();
        // An instant near midnight may belong to an interval of the previous local day in
        // the UTC arithmetic below (24:00 ends a day), so look at both days.
        [local.pred_opt(), Some(local)]
            .into_iter()
            .flatten()
            .flat_map(|day| self.intervals(day))
            .any(|(open, close)| open <= at && at <= close)
    }

    /// The instant `work` of working time after `start`. The result always lies in working
    /// hours; with zero `work` it is the first working instant at or after `start`.
    pub fn add_working_time(&self, start: DateTime<Utc>, work: Duration) -> DateTime<Utc> {
        let mut remaining = work.max(Duration::zero());
        let mut day = start.with_timezone(&self.tz).date_naive();
        // Holidays are finite, so working time always comes; the bound only guards bad data.
        for _ in 0..200_000 {
            for (open, close) in self.intervals(day) {
                let from = open.max(start);
                if from > close || (from == close && remaining > Duration::zero()) {
                    continue;
                }
                let available = close - from;
                if remaining <= available {
                    return from + remaining;
                }
                remaining -= available;
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        start + work
    }

    /// The working intervals of a local day as UTC instants (none on holidays).
    fn intervals(&self, day: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.contains(&day) {
            return Vec::new();
        }
        let weekday = day.weekday().num_days_from_monday() as usize;
        self.week[weekday]
            .iter()
            .filter_map(|&(open, close)| Some((self.instant(day, open)?, self.instant(day, close)?)))
            .filter(|(open, close)| open < close)
            .collect()
    }

    /// The UTC instant of a local wall-clock time; in a DST gap, the first instant after it.
    fn instant(&self, day: NaiveDate, minute: Minute) -> Option<DateTime<Utc>> {
        let wall: NaiveDateTime = day.and_hms_opt(0, 0, 0)? + Duration::minutes(i64::from(minute));
        (0..=2)
            .find_map(|h| self.tz.from_local_datetime(&(wall + Duration::hours(h))).earliest())
            .map(|t| t.with_timezone(&Utc))
    }
}

impl fmt::Display for BusinessCalendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days: Vec<String> = self
            .week
            .iter()
            .zip(WEEKDAYS)
            .filter(|(hours, _)| !hours.is_empty())
            .map(|(hours, name)| {
                let spans: Vec<String> = hours.iter().map(|(a, b)| format!("{}-{}", hhmm(*a), hhmm(*b))).collect();
                format!("{name} {}", spans.join(","))
            })
            .collect();
        write!(f, "{} in {}", days.join("; "), self.tz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap_or_default()
    }

    fn shanghai() -> BusinessCalendar {
        let holidays = BusinessCalendar::parse_holidays("2026-12-25").unwrap_or_default();
        BusinessCalendar::new("Asia/Shanghai", "Mon-Fri 09:00-12:00,13:00-18:00", holidays).unwrap_or_default()
    }

    #[test]
    fn adds_within_a_day_and_skips_lunch() {
        let cal = shanghai();
        // Mon 2026-11-23 10:00 local = 02:00 UTC; 3 working hours later, lunch skipped: 14:00 local.
        assert_eq!(cal.add_working_time(at(2026, 11, 23, 2, 0), Duration::hours(3)), at(2026, 11, 23, 6, 0));
    }

    #[test]
    fn rolls_over_weekends_and_holidays() {
        let cal = shanghai();
        // Thu 2026-12-24 17:00 local; 2 hours: 1 h Thursday, Fri 25th is a holiday,
        // weekend, so Monday 28th 10:00 local = 02:00 UTC.
        assert_eq!(cal.add_working_time(at(2026, 12, 24, 9, 0), Duration::hours(2)), at(2026, 12, 28, 2, 0));
    }

    #[test]
    fn a_request_at_night_starts_counting_in_the_morning() {
        let cal = BusinessCalendar::default();
        assert_eq!(cal.add_working_time(at(2026, 11, 21, 23, 0), Duration::zero()), at(2026, 11, 23, 9, 0));
        assert_eq!(cal.add_working_time(at(2026, 11, 23, 17, 0), Duration::hours(1)), at(2026, 11, 23, 18, 0));
    }

    #[test]
    fn round_the_clock_calendar_is_plain_time() {
        let cal = BusinessCalendar::new("UTC", "Mon-Sun 00:00-24:00", []).unwrap_or_default();
        let start = at(2026, 11, 21, 23, 30);
        assert_eq!(cal.add_working_time(start, Duration::hours(4)), start + Duration::hours(4));
        assert_eq!(cal.working_day(), Duration::hours(24));
    }

    #[test]
    fn bad_specs_name_the_field() {
        for (tz, hours) in [
            ("Mars/Olympus", "Mon-Fri 09:00-18:00"),
            ("UTC", "Mon-Fri 18:00-09:00"),
            ("UTC", "Funday 09:00-10:00"),
            ("UTC", ""),
            ("UTC", "Mon 09:00-12:00,11:00-13:00"),
        ] {
            let err = BusinessCalendar::new(tz, hours, []).err();
            assert!(err.is_some(), "{tz} {hours}");
        }
        assert!(BusinessCalendar::parse_holidays("2026-02-30").is_err());
    }

    #[test]
    fn display_is_readable() {
        assert_eq!(
            shanghai().to_string(),
            "Mon 09:00-12:00,13:00-18:00; Tue 09:00-12:00,13:00-18:00; \
            Wed 09:00-12:00,13:00-18:00; Thu 09:00-12:00,13:00-18:00; Fri 09:00-12:00,13:00-18:00 in Asia/Shanghai"
        );
    }

    proptest! {
        /// Due times never fall outside working hours, never precede the start, and grow with
        /// the amount of work (also across DST changes in Berlin).
        #[test]
        fn due_times_fall_in_working_hours(
            start_secs in 1_767_225_600i64..1_830_297_600, // 2026-01-01 .. 2028-01-01
            minutes in 0i64..(60 * 80),
            extra in 1i64..600,
            berlin in any::<bool>(),
        ) {
            let cal = if berlin {
                BusinessCalendar::new("Europe/Berlin", "Mon-Fri 08:00-12:00,12:30-17:00; Sat 09:00-13:00",
                    BusinessCalendar::parse_holidays("2026-12-25,2026-12-26,2027-01-01").unwrap_or_default())
                    .unwrap_or_default()
            } else {
                shanghai()
            };
            let start = DateTime::from_timestamp(start_secs, 0).unwrap_or_default();
            let due = cal.add_working_time(start, Duration::minutes(minutes));
            prop_assert!(cal.is_working_time(due), "{due} is outside working hours");
            prop_assert!(due >= start);
            let later = cal.add_working_time(start, Duration::minutes(minutes + extra));
            prop_assert!(later > due);
        }
    }
}
