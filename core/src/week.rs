//! The working week as text ("Mon-Fri 09:00-12:00,13:00-18:00"): minutes of the day and the
//! weekly spans, shared by the business calendar and engineers' shifts.

use crate::error::FieldViolation;

/// Minutes since local midnight; 1440 stands for the end of the day.
pub(crate) type Minute = u16;

/// The end of a day, in minutes.
pub(crate) const DAY_MINUTES: Minute = 24 * 60;
/// Day names, Monday first, as the specs spell them.
pub(crate) const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

pub(crate) fn hhmm(m: Minute) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

pub(crate) fn parse_week(spec: &str) -> Result<[Vec<(Minute, Minute)>; 7], FieldViolation> {
    let bad = |why: String| FieldViolation::new("working_hours", why);
    let mut week: [Vec<(Minute, Minute)>; 7] = Default::default();
    for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (days, spans) =
            part.split_once(' ').ok_or_else(|| bad(format!("{part:?} should look like \"Mon-Fri 09:00-18:00\"")))?;
        let (first, last) = match days.split_once('-') {
            Some((a, b)) => (weekday(a), weekday(b)),
            None => (weekday(days), weekday(days)),
        };
        let (Some(first), Some(last)) = (first, last) else {
            return Err(bad(format!("{days:?} is not a day range such as Mon-Fri")));
        };
        for span in spans.split(',').map(str::trim) {
            let (open, close) = span
                .split_once('-')
                .and_then(|(a, b)| Some((minute(a)?, minute(b)?)))
                .filter(|(a, b)| a < b)
                .ok_or_else(|| bad(format!("{span:?} is not a time span such as 09:00-18:00")))?;
            let mut d = first;
            loop {
                week[d].push((open, close));
                if d == last {
                    break;
                }
                d = (d + 1) % 7;
            }
        }
    }
    for day in &mut week {
        day.sort_unstable();
        if day.windows(2).any(|w| w[0].1 > w[1].0) {
            return Err(bad("working hours of one day overlap".to_owned()));
        }
    }
    if week.iter().all(Vec::is_empty) {
        return Err(bad("at least one working interval per week is required".to_owned()));
    }
    Ok(week)
}

fn weekday(name: &str) -> Option<usize> {
    WEEKDAYS.iter().position(|d| d.eq_ignore_ascii_case(name.trim()))
}

fn minute(text: &str) -> Option<Minute> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (Minute, Minute) = (h.parse().ok()?, m.parse().ok()?);
    let total = h.checked_mul(60)?.checked_add(m)?;
    (m < 60 && total <= DAY_MINUTES).then_some(total)
}
