//! Monthly statistics: the figures and KPIs of a calendar month (`figures`), archived by the
//! server once the month is over (`archive`, `schedule`). The SQL and each figure's
//! definition are in `repo::statistics`.

pub mod archive;
mod figures;
pub mod schedule;

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;

pub use figures::compute;

use onsite_proto::v1 as pb;

use crate::app::App;
use crate::error::{Error, Result};
use crate::repo::statistics::Month;

/// The month's statistics: an archived `revision`, or with 0 the latest one, or the live
/// figures while the month is not archived.
pub async fn shown(app: &App, month: YearMonth, revision: i32) -> Result<pb::MonthlyStatistics> {
    if revision < 0 {
        return Err(Error::invalid("revision", "must be 0 for the latest, or an archived revision"));
    }
    let revisions = archive::revisions(&app.db, month).await?;
    let chosen = match revision {
        0 => revisions.last(),
        n => Some(
            revisions
                .iter()
                .find(|r| r.revision == n)
                .ok_or_else(|| Error::not_found("statistics revision", format!("{month} #{n}")))?,
        ),
    };
    match chosen {
        Some(row) => archive::shown(row, &revisions),
        None => live(app, month).await,
    }
}

/// The month's figures as the records stand now, in the team's time zone and currency.
pub async fn live(app: &App, month: YearMonth) -> Result<pb::MonthlyStatistics> {
    let bounds = month.bounds(app.config.calendar.time_zone())?;
    compute(&app.db, month, bounds, app.config.statistics.currency).await
}

/// A calendar month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct YearMonth {
    pub year: i32,
    pub month: u32,
}

impl YearMonth {
    /// A month as requested; `year` and `month` are the request's fields.
    pub fn new(year: i32, month: i32) -> Result<Self> {
        let month = u32::try_from(month).ok().filter(|m| (1..=12).contains(m));
        let year = Some(year).filter(|y| (2000..=2200).contains(y));
        match (year, month) {
            (Some(year), Some(month)) => Ok(Self { year, month }),
            (None, _) => Err(Error::invalid("year", "must be between 2000 and 2200")),
            (_, None) => Err(Error::invalid("month", "must be 1-12")),
        }
    }

    /// The month of `date`.
    pub fn of(date: NaiveDate) -> Self {
        Self { year: date.year(), month: date.month() }
    }

    /// The month before.
    pub fn previous(self) -> Self {
        if self.month == 1 { Self { year: self.year - 1, month: 12 } } else { Self { month: self.month - 1, ..self } }
    }

    fn next(self) -> Self {
        if self.month == 12 { Self { year: self.year + 1, month: 1 } } else { Self { month: self.month + 1, ..self } }
    }

    fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }

    /// The month's bounds in `tz`: from its first midnight to the next month's.
    pub fn bounds(self, tz: Tz) -> Result<Month> {
        let start = |m: Self| {
            m.first_day()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(|t| tz.from_local_datetime(&t).earliest())
                .map(|t| t.timestamp_micros())
                .ok_or_else(|| Error::invalid("month", "has no first midnight in the team's time zone"))
        };
        Ok(Month { from_us: start(self)?, to_us: start(self.next())? })
    }
}

impl std::fmt::Display for YearMonth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}
