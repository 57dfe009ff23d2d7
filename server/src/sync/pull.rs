//! The device's change feed: the board's event log, filtered to the caller's slips.
//!
//! A cursor is bound to the engineer it was issued to. A first pull (no cursor) is a snapshot
//! of the engineer's slips with their tickets and customers, and a cursor at the feed's head
//! read before the snapshot, so nothing that commits meanwhile is missed. Later pulls walk
//! the slip events that name the engineer (before or after the change): a slip still theirs
//! comes whole, one that left them comes as `removed_slip_id`. A cursor older than the
//! feed's retention, or issued to someone else, is `RESYNC_REQUIRED`.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use onsite_core::slip::SlipState;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::app::App;
use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::repo::{board, customers, devices, engineers, parts, tickets};
use crate::store::entities::{board_event, slip};
use crate::store::to_us;
use crate::views;
use crate::visit::full_view;
use onsite_proto::v1 as pb;

/// Changes per pull unless the device asks for fewer.
const DEFAULT_LIMIT: u64 = 200;
const MAX_LIMIT: u64 = 1000;
/// Finished slips stay on the device this long, for the engineer's history.
fn history() -> Duration {
    Duration::days(30)
}

/// The caller's changes after `req.cursor`.
pub async fn pull(app: &App, caller: &Caller, req: &pb::PullRequest) -> Result<pb::PullResponse> {
    let engineer =
        caller.engineer_id.ok_or(Error::PermissionDenied("only an engineer pulls a change feed"))?.to_string();
    let device = devices::load_own(&app.db, caller, &req.device_id, false).await?;
    devices::refuse_revoked(&device)?;
    let limit = match req.limit {
        0 => DEFAULT_LIMIT,
        n if n < 0 => return Err(Error::invalid("limit", "must not be negative")),
        n => (n as u64).min(MAX_LIMIT),
    };
    let mut out = Changes::default();
    let (next, has_more, known_catalog) = if req.cursor.is_empty() {
        (snapshot(&app.db, &engineer, &mut out).await?, false, None)
    } else {
        let (after, catalog) = parse_cursor(&req.cursor, &engineer)?;
        if board::oldest(&app.db).await?.is_some_and(|oldest| after + 1 < oldest) {
            return Err(resync("the cursor is older than the change feed's retention"));
        }
        let (next, has_more) = changes_after(&app.db, &engineer, after, limit, &mut out).await?;
        (next, has_more, Some(catalog))
    };
    // The catalog comes whole, first, when the device's copy is not the current one.
    let catalog_version = parts::version(&app.db).await?;
    if known_catalog != Some(catalog_version) {
        let skills = engineers::decode_skills(&engineers::load(&app.db, &engineer, "engineer_id").await?.skills);
        let catalog = parts::catalog_for(&app.db, &skills).await?;
        let seq = out.changes.first().map_or(next, |c| c.seq);
        out.changes.insert(0, pb::Change { seq, entity: Some(pb::change::Entity::PartsCatalog(catalog)) });
    }
    Ok(pb::PullResponse {
        changes: out.changes,
        next_cursor: cursor(&engineer, next, catalog_version),
        last_applied_seq: device.last_applied_seq,
        has_more,
        max_push_bytes: super::push::advertised_limit(app),
    })
}

/// The changes of one response, each ticket and customer once.
#[derive(Default)]
struct Changes {
    changes: Vec<pb::Change>,
    seen: HashSet<String>,
}

impl Changes {
    fn push(&mut self, seq: i64, entity: pb::change::Entity) {
        self.changes.push(pb::Change { seq, entity: Some(entity) });
    }

    /// A slip in scope, preceded by its customer and ticket the first time.
    async fn slip(&mut self, db: &impl ConnectionTrait, seq: i64, model: &slip::Model) -> Result<()> {
        let ticket = tickets::load(db, &model.ticket_id).await?;
        if self.seen.insert(ticket.customer_id.clone()) {
            let c = customers::load(db, &ticket.customer_id).await?;
            let customer = views::customer(&c.customer, &c.contacts, &c.sites, &c.products);
            self.push(seq, pb::change::Entity::Customer(customer));
        }
        if self.seen.insert(ticket.id.clone()) {
            self.push(seq, pb::change::Entity::Ticket(views::ticket(&ticket, Utc::now())));
        }
        let view = full_view(db, model).await?;
        self.push(seq, pb::change::Entity::Slip(view));
        Ok(())
    }
}

async fn snapshot(db: &impl ConnectionTrait, engineer: &str, out: &mut Changes) -> Result<i64> {
    // Read the head first: anything committed after it comes with the next pull.
    let head = board::head(db).await?;
    let since = to_us(Utc::now() - history());
    let slips = slip::Entity::find()
        .filter(slip::Column::EngineerId.eq(engineer))
        .filter(slip::Column::State.ne(SlipState::Cancelled.as_str()))
        .order_by_asc(slip::Column::Id)
        .all(db)
        .await?;
    for model in slips.iter().filter(|s| in_scope(s, engineer, since)) {
        out.slip(db, head, model).await?;
    }
    Ok(head)
}

async fn changes_after(
    db: &impl ConnectionTrait,
    engineer: &str,
    after: i64,
    limit: u64,
    out: &mut Changes,
) -> Result<(i64, bool)> {
    let head = board::head(db).await?;
    let events = board_event::Entity::find()
        .filter(board_event::Column::Seq.gt(after))
        .filter(board_event::Column::Kind.eq(board::SLIP))
        .filter(board_event::Column::EngineerIds.contains(engineer))
        .order_by_asc(board_event::Column::Seq)
        .limit(limit)
        .all(db)
        .await?;
    let has_more = events.len() as u64 == limit;
    let since = to_us(Utc::now() - history());
    // Each slip once, at its newest event: its current state covers the older ones.
    let mut done = HashSet::new();
    for event in events.iter().rev() {
        if !done.insert(event.subject_id.clone()) {
            continue;
        }
        let current = slip::Entity::find_by_id(event.subject_id.clone()).one(db).await?;
        match current.filter(|s| in_scope(s, engineer, since)) {
            Some(model) => out.slip(db, event.seq, &model).await?,
            None => out.push(event.seq, pb::change::Entity::RemovedSlipId(event.subject_id.clone())),
        }
    }
    out.changes.sort_by_key(|c| c.seq);
    let last = events.last().map_or(after, |e| e.seq);
    // With nothing more to read, the cursor can skip to the head read before the query.
    let next = if has_more { last } else { last.max(head) };
    Ok((next, has_more))
}

fn in_scope(model: &slip::Model, engineer: &str, since_us: i64) -> bool {
    let finished = model.state == SlipState::WrittenOff.as_str() || model.state == SlipState::Completed.as_str();
    model.engineer_id.as_deref() == Some(engineer)
        && model.state != SlipState::Cancelled.as_str()
        && (!finished || model.updated_at_us >= since_us)
}

/// `engineer.feed-seq.catalog-version`.
fn cursor(engineer: &str, seq: i64, catalog: i64) -> String {
    format!("{engineer}.{seq}.{catalog}")
}

fn parse_cursor(text: &str, engineer: &str) -> Result<(i64, i64)> {
    let bad = || Error::invalid("cursor", "is not a cursor of this feed");
    let mut parts = text.split('.');
    let (Some(owner), Some(seq), Some(catalog), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let (seq, catalog) = (seq.parse().map_err(|_| bad())?, catalog.parse().map_err(|_| bad())?);
    if owner != engineer {
        return Err(resync("the cursor was issued to another engineer"));
    }
    Ok((seq, catalog))
}

fn resync(message: &str) -> Error {
    Error::precondition("RESYNC_REQUIRED", format!("{message}; pull again without a cursor"))
}
