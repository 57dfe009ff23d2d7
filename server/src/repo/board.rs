//! The board's change feed: one row per slip or engineer change, written in the changing
//! transaction. It drives the live board (`WatchBoard`) and keeps every replica's dispatch
//! index current.
//!
//! Readers page through it by `seq`, so `seq` order must be commit order. SQLite has one
//! writer, so it is. On PostgreSQL a writer takes a transaction-scoped advisory lock right
//! before it appends and holds it until commit: the next writer gets its `seq` only after the
//! previous one committed. Appending is therefore the last lock a transaction takes; rows a
//! transaction changes after appending must be locked before (see `lifecycle::write_off`).
//!
//! The feed stores ready payloads; `feed.rs` encodes them and decodes them for watchers.

use chrono::Duration;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

use crate::error::Result;
use crate::store::entities::board_event;

/// Any value; PostgreSQL writers of the feed queue on it.
const FEED_LOCK: i64 = 0x006f_6e73_6974_6501;

/// How long events stay readable for resuming watchers.
pub fn retention() -> Duration {
    Duration::days(7)
}

/// What an event is about.
pub const SLIP: &str = "slip";
/// What an event is about.
pub const ENGINEER: &str = "engineer";
/// What an event is about: a ticket's urgency or tier, which replicas keep for dispatch.
/// The board does not show tickets, so watchers skip these.
pub const TICKET: &str = "ticket";

async fn append(
    db: &impl ConnectionTrait,
    kind: &str,
    subject_id: &str,
    engineer_ids: &[&str],
    payload: Vec<u8>,
    now_us: i64,
) -> Result<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_advisory_xact_lock({FEED_LOCK})"),
        ))
        .await?;
    }
    let mut ids: Vec<&str> = engineer_ids.iter().copied().filter(|id| !id.is_empty()).collect();
    ids.sort_unstable();
    ids.dedup();
    board_event::Entity::insert(board_event::ActiveModel {
        at_us: Set(now_us),
        kind: Set(kind.to_owned()),
        subject_id: Set(subject_id.to_owned()),
        engineer_ids: Set(ids.join(",")),
        payload: Set(payload),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Appends that a slip changed, for the engineers before and after the change.
pub async fn append_slip(
    db: &impl ConnectionTrait,
    slip_id: &str,
    engineer_ids: [&str; 2],
    payload: Vec<u8>,
    now_us: i64,
) -> Result<()> {
    append(db, SLIP, slip_id, &engineer_ids, payload, now_us).await
}

/// Appends that an engineer changed or moved.
pub async fn append_engineer(
    db: &impl ConnectionTrait,
    engineer_id: &str,
    payload: Vec<u8>,
    now_us: i64,
) -> Result<()> {
    append(db, ENGINEER, engineer_id, &[engineer_id], payload, now_us).await
}

/// Appends that a ticket's urgency or tier changed.
pub async fn append_ticket(db: &impl ConnectionTrait, ticket_id: &str, now_us: i64) -> Result<()> {
    append(db, TICKET, ticket_id, &[], Vec::new(), now_us).await
}

/// Up to `limit` events after `seq`, oldest first.
pub async fn after(db: &impl ConnectionTrait, seq: i64, limit: u64) -> Result<Vec<board_event::Model>> {
    Ok(board_event::Entity::find()
        .filter(board_event::Column::Seq.gt(seq))
        .order_by_asc(board_event::Column::Seq)
        .limit(limit)
        .all(db)
        .await?)
}

/// The newest `seq` (0 when empty).
pub async fn head(db: &impl ConnectionTrait) -> Result<i64> {
    let newest = board_event::Entity::find().order_by_desc(board_event::Column::Seq).one(db).await?;
    Ok(newest.map_or(0, |e| e.seq))
}

/// The oldest `seq` still kept, if any.
pub async fn oldest(db: &impl ConnectionTrait) -> Result<Option<i64>> {
    let oldest = board_event::Entity::find().order_by_asc(board_event::Column::Seq).one(db).await?;
    Ok(oldest.map(|e| e.seq))
}

/// Drops events older than `before_us`, keeping the newest so `seq` never restarts.
pub async fn prune(db: &impl ConnectionTrait, before_us: i64) -> Result<u64> {
    let newest = head(db).await?;
    let result = board_event::Entity::delete_many()
        .filter(board_event::Column::AtUs.lt(before_us))
        .filter(board_event::Column::Seq.lt(newest))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
