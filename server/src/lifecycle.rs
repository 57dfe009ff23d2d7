//! The slip lifecycle above the store: every transition and every new slip also tells the
//! board, and the manager's write-off opens a follow-up slip, escalates the ticket or marks it
//! resolved, as the core state machine's side effect says.

use chrono::{DateTime, Utc};
use onsite_core::slip::{SideEffect, SlipAction, SlipState, VisitKind, WriteOffOutcome, follow_up_instructions};
use sea_orm::{ConnectionTrait, Set};

use crate::caller::Caller;
use crate::error::Result;
use crate::feed;
use crate::repo::slips::{self as repo, Act, Acted, NewSlip};
use crate::repo::{customer_updates, customers, quotes, records, split_lines, tickets};
use crate::store::entities::{quote, slip, ticket};
use crate::store::to_us;

/// Runs one transition (see `repo::slips::act`) and tells the board. Device ops leave the
/// board event to the push, which appends one per slip after its batch.
pub async fn act(
    db: &impl ConnectionTrait,
    slip_id: &str,
    act: Act<'_>,
    extra: impl FnOnce(&slip::Model, &mut slip::ActiveModel),
) -> Result<Acted> {
    let (now, from_device) = (act.now, act.origin.is_some());
    let acted = repo::act(db, slip_id, act, extra).await?;
    if !from_device {
        feed::slip_changed(db, acted.engineer_before.as_deref(), &acted.saved, to_us(now)).await?;
    }
    Ok(acted)
}

/// Opens a slip (see `repo::slips::create`) and tells the board.
pub async fn create(
    db: &impl ConnectionTrait,
    caller: &Caller,
    new: NewSlip,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<slip::Model> {
    let model = repo::create(db, caller, new, now, request_id).await?;
    feed::slip_changed(db, None, &model, to_us(now)).await?;
    Ok(model)
}

/// The manager's write-off of a completed visit.
#[derive(Debug)]
pub struct WriteOff<'a> {
    pub slip_id: &'a str,
    pub etag: &'a str,
    pub outcome: WriteOffOutcome,
    pub note: &'a str,
}

/// What a write-off changed.
#[derive(Debug)]
pub struct WrittenOff {
    pub slip: slip::Model,
    /// The next visit, when the problem needs one.
    pub follow_up: Option<slip::Model>,
    /// The ticket after the write-off's side effect.
    pub ticket: ticket::Model,
}

/// Writes a completed slip off and carries out the state machine's side effect on the ticket.
pub async fn write_off(
    db: &impl ConnectionTrait,
    caller: &Caller,
    w: WriteOff<'_>,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<WrittenOff> {
    // The ticket changes after the slip's board event: lock it first (see repo::board).
    let current = repo::load(db, w.slip_id).await?;
    tickets::load_for_update(db, &current.ticket_id).await?;
    let note = w.note.trim();
    let act = Act {
        caller,
        action: SlipAction::WriteOff { outcome: w.outcome },
        etag: w.etag,
        now,
        request_id,
        detail: format!("{}: {note}", w.outcome),
        origin: None,
    };
    let outcome = w.outcome.as_str().to_owned();
    let acted = self::act(db, w.slip_id, act, |_, c| c.write_off_outcome = Set(Some(outcome))).await?;
    let saved = acted.saved;
    let mut follow_up = None;
    let ticket = match acted.transition.side_effect {
        Some(SideEffect::OpenFollowUp) => {
            let new = NewSlip {
                ticket_id: saved.ticket_id.clone(),
                site_id: saved.site_id.clone().unwrap_or_default(),
                instructions: follow_up_instructions(saved.visit_number, note, &saved.instructions),
                required_skills: split_lines(&saved.required_skills),
                follow_up_of: Some(saved.id.clone()),
                // The manager asked for the visit while writing off: no second check.
                state: SlipState::Verified,
                kind: saved.kind.parse().unwrap_or(VisitKind::Repair),
            };
            follow_up = Some(create(db, caller, new, now, request_id).await?);
            tickets::load(db, &saved.ticket_id).await?
        }
        Some(SideEffect::EscalateTicket) => {
            let reason = format!("visit {} could not solve it: {note}", saved.visit_number);
            tickets::escalate_to_experts(db, &saved.ticket_id, caller, &reason, now, request_id).await?
        }
        Some(SideEffect::ResolveTicket) => tickets::resolve(db, &saved.ticket_id, caller, now, request_id).await?,
        None => tickets::load(db, &saved.ticket_id).await?,
    };
    Ok(WrittenOff { slip: saved, follow_up, ticket })
}

/// Drafts a quote for a slip (see `repo::quotes::create`) and tells the board: the slip's
/// view shows its quotes.
pub async fn create_quote(
    db: &impl ConnectionTrait,
    caller: &Caller,
    slip_id: &str,
    lines: &[onsite_core::op::CostLine],
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<quote::Model> {
    let (quote, slip) = quotes::create(db, caller, slip_id, lines, now, request_id).await?;
    feed::slip_changed(db, slip.engineer_id.as_deref(), &slip, to_us(now)).await?;
    Ok(quote)
}

/// Records the customer's decision on a quote (see `repo::quotes::decide`) and tells the board:
/// an accepted quote's charges join the slip's, and the phone checks lines against them.
pub async fn decide_quote(
    db: &impl ConnectionTrait,
    caller: &Caller,
    decision: quotes::Decision<'_>,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<quote::Model> {
    let (quote, slip) = quotes::decide(db, caller, decision, now, request_id).await?;
    feed::slip_changed(db, slip.engineer_id.as_deref(), &slip, to_us(now)).await?;
    Ok(quote)
}

/// A manager's override of a line's billable decision (see `repo::records::override_billable`),
/// told to the board.
pub async fn override_billable(
    db: &impl ConnectionTrait,
    caller: &Caller,
    o: records::Override<'_>,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<slip::Model> {
    let saved = records::override_billable(db, caller, o, now, request_id).await?;
    feed::slip_changed(db, saved.engineer_id.as_deref(), &saved, to_us(now)).await?;
    Ok(saved)
}

/// Changes a customer's archive (see `repo::customer_updates::update`) and tells the board of
/// each of the customer's open slips, so the phones holding them pull the customer again (and
/// the slips whose warranty end moved with it).
pub async fn update_customer(
    db: &impl ConnectionTrait,
    caller: &Caller,
    update: customer_updates::Update<'_>,
    now: DateTime<Utc>,
) -> Result<customers::NewCustomer> {
    let updated = customer_updates::update(db, caller, update, now).await?;
    for slip in &updated.slips {
        feed::slip_changed(db, slip.engineer_id.as_deref(), slip, to_us(now)).await?;
    }
    Ok(updated.customer)
}
