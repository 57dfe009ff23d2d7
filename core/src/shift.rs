//! An engineer's shift: weekly hours and days off in the team's time zone, and whether the
//! engineer works at some time during an appointment window.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Timelike};
use chrono_tz::Tz;

use crate::error::FieldViolation;
use crate::slip::Window;
use crate::week::{DAY_MINUTES, Minute, parse_week};

/// Weekly working intervals (Monday first, minutes since local midnight). Many engineers share
/// the same hours, so these compare and hash, and a clone shares the intervals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct WeeklyHours(Arc<[Vec<(Minute, Minute)>; 7]>);

impl WeeklyHours {
    /// Parses weekly hours written like the business calendar's (`Mon-Fri 08:00-17:00`).
    /// `field` names the field in the violation.
    pub fn parse(text: &str, field: &str) -> Result<Self, FieldViolation> {
        let week = parse_week(text).map_err(|e| FieldViolation::new(field, e.description))?;
        Ok(Self(Arc::new(week)))
    }

    /// Whether these hours overlap the window on some day that `day_off` does not exclude.
    pub fn works_during(&self, span: &LocalSpan, day_off: impl Fn(NaiveDate) -> bool) -> bool {
        span.pieces
            .iter()
            .any(|p| !day_off(p.date) && self.0[p.weekday].iter().any(|&(open, close)| open < p.to && p.from < close))
    }
}

/// An engineer's weekly hours and days off.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shift {
    hours: WeeklyHours,
    days_off: BTreeSet<NaiveDate>,
}

impl Shift {
    /// Parses weekly hours written like the business calendar's (`Mon-Fri 08:00-17:00`).
    /// `field` names the field in the violation.
    pub fn parse(
        hours: &str,
        days_off: impl IntoIterator<Item = NaiveDate>,
        field: &str,
    ) -> Result<Self, FieldViolation> {
        Ok(Self::new(WeeklyHours::parse(hours, field)?, days_off))
    }

    /// Hours (perhaps shared with other engineers) and days off.
    pub fn new(hours: WeeklyHours, days_off: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self { hours, days_off: days_off.into_iter().collect() }
    }

    pub(crate) fn from_parts(week: [Vec<(Minute, Minute)>; 7], days_off: BTreeSet<NaiveDate>) -> Self {
        Self { hours: WeeklyHours(Arc::new(week)), days_off }
    }

    /// The same hours with more days off.
    pub fn with_days_off(mut self, days_off: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.days_off.extend(days_off);
        self
    }

    /// The weekly hours.
    pub fn hours(&self) -> &WeeklyHours {
        &self.hours
    }

    /// The days off.
    pub fn days_off(&self) -> &BTreeSet<NaiveDate> {
        &self.days_off
    }

    /// Whether the engineer works at some instant inside the window: an engineer whose shift
    /// ends at 17:00 can still take a 16:00-18:00 arrival window.
    pub fn works_during(&self, span: &LocalSpan) -> bool {
        self.hours.works_during(span, |day| self.days_off.contains(&day))
    }
}

impl LocalSpan {
    /// Whether any of `days` falls on a day the window touches.
    pub fn touches_any(&self, days: &BTreeSet<NaiveDate>) -> bool {
        !days.is_empty() && self.pieces.iter().any(|p| days.contains(&p.date))
    }
}

/// One local day's part of a window.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Piece {
    date: NaiveDate,
    weekday: usize,
    from: Minute,
    to: Minute,
}

/// A UTC window cut into local days, computed once per query and checked against many shifts.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalSpan {
    pieces: Vec<Piece>,
}

impl LocalSpan {
    /// The window in the time zone `tz`.
    pub fn new(window: &Window, tz: Tz) -> Self {
        let start = window.start.with_timezone(&tz).naive_local();
        // The end is exclusive: a window ending at 09:00 does not touch a shift opening at 09:00.
        let end = window.end.with_timezone(&tz).naive_local();
        let minute = |t: chrono::NaiveTime| (t.hour() * 60 + t.minute()) as Minute;
        let mut pieces = Vec::with_capacity(2);
        let mut date = start.date();
        // Windows are at most 12 hours; a DST change can stretch that over one more day.
        while date <= end.date() && pieces.len() < 3 {
            let from = if date == start.date() { minute(start.time()) } else { 0 };
            let to = if date == end.date() { minute(end.time()) } else { DAY_MINUTES };
            if from < to {
                pieces.push(Piece { date, weekday: date.weekday().num_days_from_monday() as usize, from, to });
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        Self { pieces }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn window(y: i32, mo: u32, d: u32, h: u32, hours: i64) -> Window {
        let start = Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).single().unwrap_or_default();
        Window { start, end: start + Duration::hours(hours) }
    }

    fn shanghai() -> Tz {
        "Asia/Shanghai".parse().unwrap_or(Tz::UTC)
    }

    #[test]
    fn works_when_the_window_touches_the_shift() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default();
        let shift = Shift::parse("Mon-Fri 08:00-17:00", [day], "shift").unwrap_or_default();
        let tz = shanghai();
        // Mon 2026-11-23 16:00-18:00 local (08:00 UTC): overlaps the end of the shift.
        assert!(shift.works_during(&LocalSpan::new(&window(2026, 11, 23, 8, 2), tz)));
        // Mon 18:00-20:00 local: after the shift.
        assert!(!shift.works_during(&LocalSpan::new(&window(2026, 11, 23, 10, 2), tz)));
        // Mon 06:00-08:00 local: ends exactly when the shift starts.
        assert!(!shift.works_during(&LocalSpan::new(&window(2026, 11, 22, 22, 2), tz)));
        // Tue is a day off.
        assert!(!shift.works_during(&LocalSpan::new(&window(2026, 11, 24, 2, 2), tz)));
        // Sat is not a working day.
        assert!(!shift.works_during(&LocalSpan::new(&window(2026, 11, 28, 2, 2), tz)));
    }

    #[test]
    fn a_window_over_midnight_is_checked_on_both_days() {
        let night = Shift::parse("Tue 00:00-06:00", [], "shift").unwrap_or_default();
        // Mon 22:00 - Tue 02:00 local.
        assert!(night.works_during(&LocalSpan::new(&window(2026, 11, 23, 14, 4), shanghai())));
        assert!(!night.works_during(&LocalSpan::new(&window(2026, 11, 23, 10, 4), shanghai())));
    }

    #[test]
    fn bad_hours_name_the_field() {
        assert_eq!(
            Shift::parse("Mon-Fri 18:00-08:00", [], "engineer.shift").err().map(|e| e.field),
            Some("engineer.shift".to_owned())
        );
    }
}
