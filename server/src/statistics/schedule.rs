//! Archiving each month's report by itself: once the configured day of the next month has
//! come (no later than the 5th), the month's figures are archived as revision 1. Later, when a
//! record of an archived month changes (a cost line added, a ticket resolved late), the figures
//! no longer match the last revision and a new one is appended: what was reported is never
//! rewritten.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use tokio::sync::watch;

use super::{YearMonth, archive, live};
use crate::app::App;
use crate::error::Result;

/// How many archived months are checked for corrections.
const CORRECTION_MONTHS: i32 = 12;

/// Runs [`sweep`] every `statistics_check_interval` until `stop` turns true.
pub async fn watch(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let Some(interval) = app.config.statistics.check_interval else { return };
    loop {
        if let Err(e) = sweep(&app, Utc::now()).await {
            tracing::warn!(error = %e, "archiving monthly statistics failed; retrying next round");
        }
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Archives last month's report when it is due as of `now`, and a revision of every archived
/// month of the past year whose figures changed. Returns the months it archived.
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Result<Vec<YearMonth>> {
    let tz = app.config.calendar.time_zone();
    let today = now.with_timezone(&tz).date_naive();
    let last_month = YearMonth::of(today).previous();
    let mut archived = Vec::new();
    let mut month = last_month;
    for _ in 0..CORRECTION_MONTHS {
        let revisions = archive::revisions(&app.db, month).await?;
        let latest = revisions.last();
        let due = month == last_month && today.day() >= app.config.statistics.archive_day;
        if latest.is_some() || due {
            let live = live(app, month).await?;
            let reason = match latest {
                None => Some("month closed".to_owned()),
                Some(row) if row.figures != archive::archived_bytes(&live) => {
                    Some(format!("records changed after revision {}", row.revision))
                }
                Some(_) => None,
            };
            if let Some(reason) = reason {
                archive::append(&app.db, month, latest.map_or(0, |r| r.revision), &live, &reason, now).await?;
                tracing::info!(month = %month, reason, "monthly statistics archived");
                archived.push(month);
            }
        }
        month = month.previous();
    }
    Ok(archived)
}
