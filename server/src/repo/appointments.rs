//! Appointments: the windows agreed with customers, stored on their slips. An engineer is
//! never double-booked.
//!
//! The check runs in the booking transaction after the engineer's row is locked (PostgreSQL
//! `FOR UPDATE`; SQLite has one writer anyway), so of two dispatchers booking the same
//! engineer at the same instant the second one sees the first one's appointment.

use onsite_core::slip::{SlipState, Window};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::error::{Error, Result};
use crate::store::entities::{slip, ticket};
use crate::store::{from_us, to_us};

/// States whose appointment still holds the engineer's time.
const HOLDING: [SlipState; 3] = [SlipState::Scheduled, SlipState::EnRoute, SlipState::OnSite];

/// Refuses `window` when it overlaps another held appointment of `engineer_id`.
pub async fn ensure_free(db: &impl ConnectionTrait, engineer_id: &str, window: &Window, slip_id: &str) -> Result<()> {
    let conflict = slip::Entity::find()
        .filter(slip::Column::EngineerId.eq(engineer_id))
        .filter(slip::Column::Id.ne(slip_id))
        .filter(slip::Column::State.is_in(HOLDING.map(SlipState::as_str)))
        .filter(slip::Column::AppointmentStartUs.lt(to_us(window.end)))
        .filter(slip::Column::AppointmentEndUs.gt(to_us(window.start)))
        .order_by_asc(slip::Column::AppointmentStartUs)
        .one(db)
        .await?;
    let Some(conflict) = conflict else { return Ok(()) };
    let number = ticket::Entity::find_by_id(conflict.ticket_id.clone()).one(db).await?.map(|t| t.number);
    Err(Error::DoubleBooked {
        slip_id: conflict.id,
        ticket_number: number.unwrap_or_default(),
        window: Window {
            start: from_us(conflict.appointment_start_us.unwrap_or_default()),
            end: from_us(conflict.appointment_end_us.unwrap_or_default()),
        },
    })
}

/// An engineer's appointments overlapping `range`, by start time (cancelled slips left out).
pub async fn of_engineer(db: &impl ConnectionTrait, engineer_id: &str, range: &Window) -> Result<Vec<slip::Model>> {
    Ok(slip::Entity::find()
        .filter(slip::Column::EngineerId.eq(engineer_id))
        .filter(slip::Column::State.ne(SlipState::Cancelled.as_str()))
        .filter(slip::Column::AppointmentStartUs.lt(to_us(range.end)))
        .filter(slip::Column::AppointmentEndUs.gt(to_us(range.start)))
        .order_by_asc(slip::Column::AppointmentStartUs)
        .order_by_asc(slip::Column::Id)
        .all(db)
        .await?)
}
