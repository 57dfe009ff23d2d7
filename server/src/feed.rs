//! What the board hears. Every slip and engineer change appends one event, encoded as the
//! board shows it, in the changing transaction (the feed itself is `repo::board`); watchers
//! get the events back as wire events.

use onsite_proto::v1 as pb;
use prost::Message;
use sea_orm::ConnectionTrait;

use crate::error::{Error, Result};
use crate::repo::{board, slips};
use crate::store::entities::{board_event, engineer, slip};
use crate::views;

/// Records that a slip changed; `before` is its engineer before the change.
pub async fn slip_changed(
    db: &impl ConnectionTrait,
    before: Option<&str>,
    after: &slip::Model,
    now_us: i64,
) -> Result<()> {
    let labels = slips::labels(db, std::slice::from_ref(after)).await?;
    let view = views::slip_summary(after, labels.get(&after.id).unwrap_or(&slips::Labels::default()));
    let engineers = [before.unwrap_or(""), after.engineer_id.as_deref().unwrap_or("")];
    board::append_slip(db, &after.id, engineers, view.encode_to_vec(), now_us).await
}

/// Records that an engineer changed or moved.
pub async fn engineer_changed(db: &impl ConnectionTrait, model: &engineer::Model, now_us: i64) -> Result<()> {
    board::append_engineer(db, &model.id, views::engineer(model).encode_to_vec(), now_us).await
}

/// Whether watchers see `event`: the board shows slips and engineers, not tickets.
pub fn on_board(event: &board_event::Model) -> bool {
    event.kind != board::TICKET
}

/// A stored event as the board streams it.
pub fn to_wire(event: &board_event::Model) -> Result<pb::BoardEvent> {
    let bad = |e: prost::DecodeError| Error::Internal(format!("board event {}: {e}", event.seq));
    let change = match event.kind.as_str() {
        board::SLIP => pb::board_event::Change::Slip(pb::Slip::decode(event.payload.as_slice()).map_err(bad)?),
        _ => pb::board_event::Change::Engineer(pb::Engineer::decode(event.payload.as_slice()).map_err(bad)?),
    };
    Ok(pb::BoardEvent {
        cursor: event.seq.to_string(),
        time: Some(onsite_proto::convert::timestamp(crate::store::from_us(event.at_us))),
        change: Some(change),
    })
}
