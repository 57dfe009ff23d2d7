//! Follow-ups on unhappy customers: opened with the sign-off that calls for one
//! (`onsite_core::slip::follow_up_reason`), listed for the manager open ones first by due time,
//! and closed once with what was done.

use chrono::{DateTime, Utc};
use onsite_core::slip::{FOLLOW_UP_WITHIN, follow_up_reason};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::check_etag;
use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::store::entities::{customer, follow_up, sign_off, slip, ticket};
use crate::store::to_us;

pub const OPEN: &str = "open";
pub const CLOSED: &str = "closed";

/// Opens a follow-up when the sign-off of `slip` calls for one; returns it if it did.
pub async fn open_if_unhappy(
    db: &impl ConnectionTrait,
    slip: &slip::Model,
    sign_off: &sign_off::Model,
    now: DateTime<Utc>,
) -> Result<Option<follow_up::Model>> {
    let satisfaction = sign_off.satisfaction.as_deref().and_then(|s| s.parse().ok());
    let ratings = [sign_off.service_quality_rating, sign_off.product_rating, sign_off.support_rating];
    let Some(reason) = follow_up_reason(satisfaction, ratings) else { return Ok(None) };
    let ticket = ticket::Entity::find_by_id(slip.ticket_id.clone()).one(db).await?;
    let ticket = ticket.ok_or_else(|| Error::not_found("ticket", &slip.ticket_id))?;
    let customer = customer::Entity::find_by_id(ticket.customer_id.clone()).one(db).await?;
    let model = follow_up::Model {
        id: uuid::Uuid::now_v7().to_string(),
        slip_id: slip.id.clone(),
        ticket_number: ticket.number.clone(),
        customer_id: ticket.customer_id.clone(),
        customer_name: customer.map(|c| c.name).unwrap_or_default(),
        reason,
        signer_name: sign_off.signer_name.clone(),
        customer_opinion: sign_off.customer_opinion.clone(),
        due_at_us: to_us(now + FOLLOW_UP_WITHIN),
        created_at_us: to_us(now),
        state: OPEN.to_owned(),
        closed_at_us: None,
        outcome: String::new(),
        closed_by: None,
        version: 1,
    };
    follow_up::Entity::insert(follow_up::ActiveModel::from(model.clone())).exec(db).await?;
    Ok(Some(model))
}

/// A page of follow-ups after `after` (see [`page_key`]): open ones first by due time, then,
/// when asked, the closed ones.
pub async fn list(
    db: &impl ConnectionTrait,
    include_closed: bool,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<follow_up::Model>> {
    use follow_up::Column as C;
    let mut query = follow_up::Entity::find();
    if !include_closed {
        query = query.filter(C::State.eq(OPEN));
    }
    if let Some(after) = after {
        let mut parts = after.splitn(3, '\u{1f}');
        let (Some(state), Some(due), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::invalid("page_token", "is not a token from the previous page of this query"));
        };
        let due: i64 = due.parse().map_err(|_| Error::invalid("page_token", "is not a token of this query"))?;
        // `open` sorts after `closed`, so state descends.
        let later = Condition::any().add(C::State.lt(state)).add(Condition::all().add(C::State.eq(state)).add(
            Condition::any().add(C::DueAtUs.gt(due)).add(Condition::all().add(C::DueAtUs.eq(due)).add(C::Id.gt(id))),
        ));
        query = query.filter(later);
    }
    Ok(query.order_by_desc(C::State).order_by_asc(C::DueAtUs).order_by_asc(C::Id).limit(limit).all(db).await?)
}

/// The page key of a follow-up.
pub fn page_key(f: &follow_up::Model) -> String {
    format!("{}\u{1f}{}\u{1f}{}", f.state, f.due_at_us, f.id)
}

/// Closes a follow-up, once, with what was done.
pub async fn close(
    db: &impl ConnectionTrait,
    caller: &Caller,
    id: &str,
    etag: &str,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<follow_up::Model> {
    let id: uuid::Uuid = onsite_proto::convert::id(id, "id")?;
    let current = follow_up::Entity::find_by_id(id.to_string()).one(db).await?;
    let current = current.ok_or_else(|| Error::not_found("follow-up", id))?;
    check_etag(etag, current.version, "follow-up")?;
    if current.state == CLOSED {
        return Err(Error::precondition("FOLLOW_UP_CLOSED", "this follow-up is closed already"));
    }
    let changes = follow_up::ActiveModel {
        state: Set(CLOSED.to_owned()),
        closed_at_us: Set(Some(to_us(now))),
        outcome: Set(outcome.trim().to_owned()),
        closed_by: Set(Some(caller.user_id.to_string())),
        version: Set(current.version + 1),
        ..Default::default()
    };
    let updated = follow_up::Entity::update_many()
        .set(changes)
        .filter(follow_up::Column::Id.eq(current.id.as_str()))
        .filter(follow_up::Column::Version.eq(current.version))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(Error::StaleEtag { resource: "follow-up" });
    }
    let saved = follow_up::Entity::find_by_id(current.id.clone()).one(db).await?;
    saved.ok_or_else(|| Error::not_found("follow-up", &current.id))
}
