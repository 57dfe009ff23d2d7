//! Records from devices that could not join their slip's visit (the slip was reassigned or
//! moved on while the engineer was offline). They are kept whole for the manager.

use chrono::{DateTime, Utc};
use onsite_proto::v1 as pb;
use prost::Message;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::error::{Error, Result};
use crate::store::entities::flagged_record;
use crate::store::to_us;

/// Keeps `record` on `slip_id` for the manager.
pub async fn keep(
    db: &impl ConnectionTrait,
    slip_id: &str,
    record: pb::FlaggedRecord,
    now: DateTime<Utc>,
) -> Result<()> {
    flagged_record::Entity::insert(flagged_record::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        slip_id: Set(slip_id.to_owned()),
        op_id: Set(record.op_id.clone()),
        device_id: Set(record.device_id.clone()),
        recorded_by: Set(record.recorded_by.clone()),
        reason: Set(record.reason.clone()),
        record: Set(record.encode_to_vec()),
        received_at_us: Set(to_us(now)),
    })
    .exec(db)
    .await?;
    Ok(())
}

/// The flagged records of a slip, oldest first.
pub async fn of_slip(db: &impl ConnectionTrait, slip_id: &str) -> Result<Vec<pb::FlaggedRecord>> {
    let rows = flagged_record::Entity::find()
        .filter(flagged_record::Column::SlipId.eq(slip_id))
        .order_by_asc(flagged_record::Column::ReceivedAtUs)
        .order_by_asc(flagged_record::Column::Id)
        .all(db)
        .await?;
    rows.iter()
        .map(|r| {
            pb::FlaggedRecord::decode(r.record.as_slice())
                .map_err(|e| Error::Internal(format!("flagged record {}: {e}", r.id)))
        })
        .collect()
}
