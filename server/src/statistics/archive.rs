//! The archive of monthly reports: each month's figures as first reported, and every later
//! correction as a new revision. Rows are never changed (the table is append-only).

use chrono::{DateTime, Utc};
use onsite_proto::v1 as pb;
use prost::Message;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::YearMonth;
use crate::error::{Error, Result};
use crate::repo::execute;
use crate::store::entities::monthly_report;

/// The month's revisions, oldest first.
pub async fn revisions(db: &impl ConnectionTrait, month: YearMonth) -> Result<Vec<monthly_report::Model>> {
    Ok(monthly_report::Entity::find()
        .filter(monthly_report::Column::Year.eq(month.year))
        .filter(monthly_report::Column::Month.eq(month.month as i32))
        .order_by_asc(monthly_report::Column::Revision)
        .all(db)
        .await?)
}

/// The figures as archived: the statistics without the archive's own fields, encoded.
pub fn archived_bytes(stats: &pb::MonthlyStatistics) -> Vec<u8> {
    pb::MonthlyStatistics { revision: 0, revisions: Vec::new(), ..stats.clone() }.encode_to_vec()
}

/// Appends `stats` as the next revision after `latest` (0 for none). Two replicas may try at
/// once: the second finds the revision taken and leaves it.
pub async fn append(
    db: &impl ConnectionTrait,
    month: YearMonth,
    latest: i32,
    stats: &pb::MonthlyStatistics,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let figures = archived_bytes(stats);
    let sha256 = onsite_proto::signoff::sha256_hex(&figures);
    execute(
        db,
        "INSERT INTO monthly_reports (year, month, revision, produced_at_us, reason, figures, sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        vec![
            month.year.into(),
            (month.month as i32).into(),
            (latest + 1).into(),
            now.timestamp_micros().into(),
            reason.into(),
            figures.into(),
            sha256.into(),
        ],
    )
    .await
}

/// The statistics of an archived revision, with the month's revision list.
pub fn shown(row: &monthly_report::Model, all: &[monthly_report::Model]) -> Result<pb::MonthlyStatistics> {
    let stats = pb::MonthlyStatistics::decode(row.figures.as_slice())
        .map_err(|e| Error::Internal(format!("archived statistics of {}-{}: {e}", row.year, row.month)))?;
    Ok(pb::MonthlyStatistics { revision: row.revision, revisions: all.iter().map(revision).collect(), ..stats })
}

fn revision(row: &monthly_report::Model) -> pb::StatisticsRevision {
    pb::StatisticsRevision {
        revision: row.revision,
        produce_time: Some(prost_types::Timestamp { seconds: row.produced_at_us.div_euclid(1_000_000), nanos: 0 }),
        reason: row.reason.clone(),
        sha256: row.sha256.clone(),
    }
}
