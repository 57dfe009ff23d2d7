//! Tickets: intake with daily numbering, SLA due times, updates, escalation, closing, history.

use chrono::{DateTime, Utc};
use onsite_core::calendar::BusinessCalendar;
use onsite_core::id::{CustomerId, TicketId};
use onsite_core::sla::SlaPolicy;
use onsite_core::sla::{Breach, SlaClock};
use onsite_core::slip::{Role, SlipState};
use onsite_core::ticket::{
    TicketAction, TicketEdit, TicketIntake, TicketNumber, TicketStatus, Tier, check_close, check_ticket_action,
    check_update,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::{check_etag, query_one};
use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::store::entities::{customer, product, slip, ticket, ticket_event};
use crate::store::{from_us, to_us};

/// Loads a ticket by id or by number.
pub async fn load(db: &impl ConnectionTrait, id_or_number: &str) -> Result<ticket::Model> {
    let found = if id_or_number.starts_with("TS") {
        ticket::Entity::find().filter(ticket::Column::Number.eq(id_or_number)).one(db).await?
    } else {
        let id: TicketId = onsite_proto::convert::id(id_or_number, "id")?;
        ticket::Entity::find_by_id(id.to_string()).one(db).await?
    };
    found.ok_or_else(|| Error::not_found("ticket", id_or_number))
}

/// Loads a ticket and locks its row until the transaction ends (PostgreSQL `FOR UPDATE`;
/// SQLite writers are serialised by `BEGIN IMMEDIATE` already).
pub async fn load_for_update(db: &impl ConnectionTrait, id: &str) -> Result<ticket::Model> {
    let id: TicketId = onsite_proto::convert::id(id, "ticket_id")?;
    ticket::Entity::find_by_id(id.to_string())
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("ticket", id))
}

/// What a ticket's due times follow: the business calendar and the SLA policy.
#[derive(Clone, Copy, Debug)]
pub struct ServiceLevels<'a> {
    pub calendar: &'a BusinessCalendar,
    pub policy: &'a SlaPolicy,
}

/// Takes a request in: numbers it, computes its due times, records the intake event.
pub async fn create(
    db: &impl ConnectionTrait,
    levels: ServiceLevels<'_>,
    caller: &Caller,
    intake: TicketIntake,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<ticket::Model> {
    customer::Entity::find_by_id(intake.customer_id.to_string())
        .one(db)
        .await?
        .ok_or_else(|| Error::invalid("ticket.customer_id", "no such customer"))?;
    if let Some(product_id) = intake.product_id {
        let product = product::Entity::find_by_id(product_id.to_string()).one(db).await?;
        if product.is_none_or(|p| p.customer_id != intake.customer_id.to_string()) {
            return Err(Error::invalid("ticket.product_id", "is not a product of this customer"));
        }
    }
    let number = next_number(db, levels.calendar, now).await?;
    let due = levels.policy.due_times(levels.calendar, intake.severity, now);
    let model = ticket::Model {
        id: TicketId::new().to_string(),
        number: number.to_string(),
        title: intake.title.trim().to_owned(),
        channel: intake.channel.as_str().to_owned(),
        category: intake.category.as_str().to_owned(),
        severity: i32::from(intake.severity.level()),
        tier: i32::from(Tier::ServiceDesk.level()),
        status: TicketStatus::Open.as_str().to_owned(),
        customer_id: intake.customer_id.to_string(),
        contact_name: intake.contact_name.trim().to_owned(),
        contact_phone: intake.contact_phone,
        organisation: intake.organisation,
        product_id: intake.product_id.map(|p| p.to_string()),
        product_model: intake.product_model,
        serial_number: intake.serial_number,
        submitted_at_us: to_us(now),
        fault_occurred_at_us: intake.fault_occurred_at.map(to_us),
        symptoms: intake.symptoms,
        error_message: intake.error_message,
        impact_scope: intake.impact_scope,
        initial_urgency: intake.initial_urgency,
        root_cause: None,
        resolution_note: String::new(),
        respond_by_us: to_us(due.respond_by),
        resolve_by_us: to_us(due.resolve_by),
        responded_at_us: None,
        resolved_at_us: None,
        response_breach_escalated: false,
        resolution_breach_escalated: false,
        created_by: caller.user_id.to_string(),
        updated_at_us: to_us(now),
        version: 1,
    };
    ticket::Entity::insert(ticket::ActiveModel::from(model.clone())).exec(db).await?;
    let event = Event { action: "created", detail: format!("taken in by {}", model.channel), ..Event::default() };
    record(db, &model.id, Some(caller), event, now, request_id).await?;
    Ok(model)
}

/// The next daily number. The counter row is bumped atomically, so concurrent intakes (also
/// on several replicas sharing PostgreSQL) never share a number.
async fn next_number(
    db: &impl ConnectionTrait,
    calendar: &BusinessCalendar,
    now: DateTime<Utc>,
) -> Result<TicketNumber> {
    let day = now.with_timezone(&calendar.time_zone()).date_naive();
    let row = query_one(
        db,
        "INSERT INTO ticket_counters (day, last_serial) VALUES ($1, 1)
         ON CONFLICT (day) DO UPDATE SET last_serial = ticket_counters.last_serial + 1
         RETURNING last_serial",
        vec![day.format("%Y%m%d").to_string().into()],
    )
    .await?
    .ok_or_else(|| Error::Internal("ticket counter returned no row".into()))?;
    let serial: i64 = row.try_get("", "last_serial")?;
    Ok(TicketNumber::new(day, u32::try_from(serial).map_err(|_| Error::Internal("serial overflow".into()))?)?)
}

/// Writes `changes` if the ticket is still at `version`; bumps the version.
pub async fn save(
    db: &impl ConnectionTrait,
    current: &ticket::Model,
    mut changes: ticket::ActiveModel,
    now: DateTime<Utc>,
) -> Result<ticket::Model> {
    // Replicas keep each ticket's urgency for dispatch (`dispatch::facts`); tell them.
    let urgency_changed = changes.severity.is_set()
        || changes.tier.is_set()
        || changes.resolve_by_us.is_set()
        || changes.resolved_at_us.is_set();
    changes.version = Set(current.version + 1);
    changes.updated_at_us = Set(to_us(now));
    let result = ticket::Entity::update_many()
        .set(changes)
        .filter(ticket::Column::Id.eq(current.id.as_str()))
        .filter(ticket::Column::Version.eq(current.version))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(Error::StaleEtag { resource: "ticket" });
    }
    if urgency_changed {
        super::board::append_ticket(db, &current.id, to_us(now)).await?;
    }
    load(db, &current.id).await
}

/// Marks the first response, if none was recorded yet.
pub fn mark_responded(current: &ticket::Model, changes: &mut ticket::ActiveModel, now: DateTime<Utc>) {
    if current.responded_at_us.is_none() {
        changes.responded_at_us = Set(Some(to_us(now)));
    }
}

/// Someone acts on the ticket: it counts as answered, and an open ticket is now in progress.
pub fn start_work(current: &ticket::Model, changes: &mut ticket::ActiveModel, now: DateTime<Utc>) {
    mark_responded(current, changes, now);
    if current.status == TicketStatus::Open.as_str() {
        changes.status = Set(TicketStatus::InProgress.as_str().to_owned());
    }
}

/// Moves the ticket one tier up.
pub async fn escalate(
    db: &impl ConnectionTrait,
    current: &ticket::Model,
    caller: Option<&Caller>,
    reason: &str,
    etag: &str,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<ticket::Model> {
    check_etag(etag, current.version, "ticket")?;
    ensure_allowed(current, TicketAction::Escalate)?;
    let next = tier_of(current)?
        .next()
        .ok_or_else(|| Error::precondition("ALREADY_AT_TOP_TIER", "the ticket is already with tier 3 (experts)"))?;
    move_to_tier(db, current, caller, next, reason, now, request_id).await
}

/// Escalates straight to tier 3 (a slip written off as unsolved).
pub async fn escalate_to_experts(
    db: &impl ConnectionTrait,
    ticket_id: &str,
    caller: &Caller,
    reason: &str,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<ticket::Model> {
    let current = load(db, ticket_id).await?;
    move_to_tier(db, &current, Some(caller), Tier::Expert, reason, now, request_id).await
}

/// Hands the ticket to `tier`, marks it answered, and records the escalation.
async fn move_to_tier(
    db: &impl ConnectionTrait,
    current: &ticket::Model,
    caller: Option<&Caller>,
    tier: Tier,
    reason: &str,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<ticket::Model> {
    let from = tier_of(current)?;
    let mut changes = ticket::ActiveModel { tier: Set(i32::from(tier.level())), ..Default::default() };
    start_work(current, &mut changes, now);
    let saved = save(db, current, changes, now).await?;
    let event = Event { action: "escalated", detail: reason.to_owned(), from_tier: Some(from), to_tier: Some(tier) };
    record(db, &saved.id, caller, event, now, request_id).await?;
    Ok(saved)
}

/// Marks the ticket resolved (a slip written off as solved).
pub async fn resolve(
    db: &impl ConnectionTrait,
    ticket_id: &str,
    caller: &Caller,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<ticket::Model> {
    let current = load(db, ticket_id).await?;
    if current.status == TicketStatus::Closed.as_str() {
        return Ok(current);
    }
    let mut changes =
        ticket::ActiveModel { status: Set(TicketStatus::Resolved.as_str().to_owned()), ..Default::default() };
    if current.resolved_at_us.is_none() {
        changes.resolved_at_us = Set(Some(to_us(now)));
    }
    let saved = save(db, &current, changes, now).await?;
    let event = Event { action: "resolved", detail: "on-site visit solved the problem".into(), ..Event::default() };
    record(db, &saved.id, Some(caller), event, now, request_id).await?;
    Ok(saved)
}

/// The ticket's status.
pub fn status_of(t: &ticket::Model) -> Result<TicketStatus> {
    t.status.parse().map_err(|()| Error::Internal(format!("ticket {} has status {}", t.id, t.status)))
}

/// Refuses `action` on a ticket whose status forbids it (a closed ticket is frozen).
pub fn ensure_allowed(current: &ticket::Model, action: TicketAction) -> Result<()> {
    Ok(check_ticket_action(status_of(current)?, action)?)
}

/// Loads a ticket the caller may see: managers see every ticket, engineers only those of
/// slips assigned to them; to them any other is not found.
pub async fn load_visible(db: &impl ConnectionTrait, caller: &Caller, id: &str) -> Result<ticket::Model> {
    let model = load(db, id).await?;
    if caller.role != Role::Engineer {
        return Ok(model);
    }
    let mine = match caller.engineer_id {
        Some(engineer) => {
            slip::Entity::find()
                .filter(slip::Column::TicketId.eq(model.id.as_str()))
                .filter(slip::Column::EngineerId.eq(engineer.to_string()))
                .count(db)
                .await?
        }
        None => 0,
    };
    // Another's ticket answers as no ticket, so its existence does not leak.
    if mine > 0 { Ok(model) } else { Err(Error::not_found("ticket", &model.id)) }
}

/// The desk changes a ticket: the edits are checked by the core rules, a new severity moves
/// the due times, and the change is recorded.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    db: &impl ConnectionTrait,
    levels: ServiceLevels<'_>,
    caller: &Caller,
    id: &str,
    etag: &str,
    edits: &[TicketEdit],
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<ticket::Model> {
    let current = load(db, id).await?;
    check_etag(etag, current.version, "ticket")?;
    check_update(status_of(&current)?, edits, now)?;
    let mut c = ticket::ActiveModel { ..Default::default() };
    for edit in edits {
        match edit {
            TicketEdit::Title(t) => c.title = Set(t.clone()),
            TicketEdit::ContactName(t) => c.contact_name = Set(t.clone()),
            TicketEdit::ContactPhone(t) => c.contact_phone = Set(t.clone()),
            TicketEdit::Organisation(t) => c.organisation = Set(t.clone()),
            TicketEdit::ProductModel(t) => c.product_model = Set(t.clone()),
            TicketEdit::SerialNumber(t) => c.serial_number = Set(t.clone()),
            TicketEdit::Symptoms(t) => c.symptoms = Set(t.clone()),
            TicketEdit::ErrorMessage(t) => c.error_message = Set(t.clone()),
            TicketEdit::ImpactScope(t) => c.impact_scope = Set(t.clone()),
            TicketEdit::InitialUrgency(t) => c.initial_urgency = Set(t.clone()),
            TicketEdit::Category(category) => c.category = Set(category.as_str().to_owned()),
            TicketEdit::Severity(severity) => {
                let due = levels.policy.due_times(levels.calendar, *severity, from_us(current.submitted_at_us));
                c.severity = Set(i32::from(severity.level()));
                c.respond_by_us = Set(to_us(due.respond_by));
                c.resolve_by_us = Set(to_us(due.resolve_by));
            }
            TicketEdit::RootCause(cause) => c.root_cause = Set(cause.map(|r| r.as_str().to_owned())),
            TicketEdit::ProductId(product) => {
                if let Some(product) = product {
                    let found = product::Entity::find_by_id(product.to_string()).one(db).await?;
                    if found.is_none_or(|p| p.customer_id != current.customer_id) {
                        return Err(Error::invalid("ticket.product_id", "is not a product of this customer"));
                    }
                }
                c.product_id = Set(product.map(|p| p.to_string()));
            }
            TicketEdit::FaultOccurredAt(at) => c.fault_occurred_at_us = Set(at.map(to_us)),
            TicketEdit::Status(status) => {
                mark_responded(&current, &mut c, now);
                c.status = Set(status.as_str().to_owned());
                c.resolved_at_us = match status {
                    TicketStatus::Resolved => Set(current.resolved_at_us.or(Some(to_us(now)))),
                    _ => Set(None),
                };
            }
        }
    }
    let saved = save(db, &current, c, now).await?;
    let detail = edits.iter().map(TicketEdit::path).collect::<Vec<_>>().join(", ");
    let event = Event { action: "updated", detail, ..Default::default() };
    record(db, &saved.id, Some(caller), event, now, request_id).await?;
    Ok(saved)
}

/// Closes a ticket whose slips are all written off or cancelled.
pub async fn close(
    db: &impl ConnectionTrait,
    caller: &Caller,
    id: &str,
    etag: &str,
    resolution_note: &str,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<ticket::Model> {
    let current = load(db, id).await?;
    check_etag(etag, current.version, "ticket")?;
    let unfinished = slip::Entity::find()
        .filter(slip::Column::TicketId.eq(current.id.as_str()))
        .filter(slip::Column::State.is_not_in([SlipState::WrittenOff.as_str(), SlipState::Cancelled.as_str()]))
        .count(db)
        .await?;
    check_close(status_of(&current)?, resolution_note, unfinished > 0)?;
    let mut changes = ticket::ActiveModel {
        status: Set(TicketStatus::Closed.as_str().to_owned()),
        resolution_note: Set(resolution_note.trim().to_owned()),
        ..Default::default()
    };
    mark_responded(&current, &mut changes, now);
    if current.resolved_at_us.is_none() {
        changes.resolved_at_us = Set(Some(to_us(now)));
    }
    let saved = save(db, &current, changes, now).await?;
    let event = Event { action: "closed", detail: resolution_note.to_owned(), ..Default::default() };
    record(db, &saved.id, Some(caller), event, now, request_id).await?;
    Ok(saved)
}

/// The ticket's severity.
pub fn severity_of(t: &ticket::Model) -> Result<onsite_core::ticket::Severity> {
    u8::try_from(t.severity)
        .ok()
        .and_then(onsite_core::ticket::Severity::from_level)
        .ok_or_else(|| Error::Internal(format!("ticket {} has severity {}", t.id, t.severity)))
}

/// The ticket's tier.
pub fn tier_of(t: &ticket::Model) -> Result<Tier> {
    u8::try_from(t.tier)
        .ok()
        .and_then(Tier::from_level)
        .ok_or_else(|| Error::Internal(format!("ticket {} has tier {}", t.id, t.tier)))
}

/// The ticket's SLA clock.
pub fn sla_clock(t: &ticket::Model) -> SlaClock {
    SlaClock {
        due: onsite_core::sla::DueTimes { respond_by: from_us(t.respond_by_us), resolve_by: from_us(t.resolve_by_us) },
        responded_at: t.responded_at_us.map(from_us),
        resolved_at: t.resolved_at_us.map(from_us),
    }
}

/// Filters of a ticket list.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub status: Option<TicketStatus>,
    pub severity: Option<onsite_core::ticket::Severity>,
    pub customer_id: Option<CustomerId>,
    pub sla_breached: Option<bool>,
    /// The desk's queue order instead of newest first.
    pub queue: bool,
}

/// The desk's queue order as SQL: bugs first, then severity (1, urgent, first), then the
/// oldest submission, then the id.
const QUEUE_KEY: &str = "(CASE WHEN category = 'bug' THEN 0 ELSE 1 END), severity, submitted_at_us, id";
/// Bugs before everything else, as SQL: the first part of [`QUEUE_KEY`].
const BUG_RANK: &str = "(CASE WHEN category = 'bug' THEN 0 ELSE 1 END)";

/// The page key of a ticket in `filter`'s order.
pub fn page_key(filter: &ListFilter, t: &ticket::Model) -> String {
    if filter.queue {
        let rank = u8::from(t.category != "bug");
        format!("{rank}\u{1f}{}\u{1f}{}\u{1f}{}", t.severity, t.submitted_at_us, t.id)
    } else {
        t.id.clone()
    }
}

/// One page of tickets, newest first or in the desk's queue order.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &ListFilter,
    after: Option<&str>,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<Vec<ticket::Model>> {
    let mut query = ticket::Entity::find();
    if let Some(status) = filter.status {
        query = query.filter(ticket::Column::Status.eq(status.as_str()));
    }
    if let Some(severity) = filter.severity {
        query = query.filter(ticket::Column::Severity.eq(i32::from(severity.level())));
    }
    if let Some(customer) = filter.customer_id {
        query = query.filter(ticket::Column::CustomerId.eq(customer.to_string()));
    }
    if let Some(breached) = filter.sla_breached {
        let condition = breached_condition(to_us(now));
        query = query.filter(if breached { condition } else { condition.not() });
    }
    if filter.queue {
        if let Some(after) = after {
            let bad = || Error::invalid("page_token", "is not a token from the previous page of this query");
            let mut parts = after.split('\u{1f}');
            let mut number = || parts.next().and_then(|p| p.parse::<i64>().ok()).ok_or_else(bad);
            let (rank, severity, submitted) = (number()?, number()?, number()?);
            let id = parts.next().ok_or_else(bad)?.to_owned();
            // (rank, severity, submitted, id) > the key, spelled out for both backends.
            use ticket::Column as C;
            let rank_expr = || Expr::cust(BUG_RANK);
            let after_id = Condition::all().add(C::SubmittedAtUs.eq(submitted)).add(C::Id.gt(id));
            let after_time = Condition::any().add(C::SubmittedAtUs.gt(submitted)).add(after_id);
            let after_severity = Condition::any()
                .add(C::Severity.gt(severity))
                .add(Condition::all().add(C::Severity.eq(severity)).add(after_time));
            let later = Condition::any()
                .add(rank_expr().gt(rank))
                .add(Condition::all().add(rank_expr().eq(rank)).add(after_severity));
            query = query.filter(later);
        }
        return Ok(query.order_by(Expr::cust(QUEUE_KEY), sea_orm::Order::Asc).limit(limit).all(db).await?);
    }
    if let Some(after) = after {
        query = query.filter(ticket::Column::Id.lt(after));
    }
    Ok(query.order_by_desc(ticket::Column::Id).limit(limit).all(db).await?)
}

/// SQL form of [`SlaClock::breaches`]: answered or solved late, or overdue now.
fn breached_condition(now_us: i64) -> Condition {
    use ticket::Column as C;
    // Every part is NULL-safe, so that NOT of the whole means "not breached" in SQL too.
    let late = |met: C, due: C| Condition::all().add(met.is_not_null()).add(Expr::col(met).gt(Expr::col(due)));
    Condition::any()
        .add(Condition::all().add(C::RespondedAtUs.is_null()).add(C::RespondByUs.lt(now_us)))
        .add(late(C::RespondedAtUs, C::RespondByUs))
        .add(Condition::all().add(C::ResolvedAtUs.is_null()).add(C::ResolveByUs.lt(now_us)))
        .add(late(C::ResolvedAtUs, C::ResolveByUs))
}

/// Open tickets with a breach that was not escalated yet, for the SLA watch.
pub async fn unescalated_breaches(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Vec<ticket::Model>> {
    use ticket::Column as C;
    let now = to_us(now);
    let response = Condition::all().add(C::ResponseBreachEscalated.eq(false)).add(
        Condition::any()
            .add(C::RespondedAtUs.is_null().and(C::RespondByUs.lt(now)))
            .add(Expr::col(C::RespondedAtUs).gt(Expr::col(C::RespondByUs))),
    );
    let resolution = Condition::all()
        .add(C::ResolutionBreachEscalated.eq(false))
        .add(C::ResolvedAtUs.is_null())
        .add(C::ResolveByUs.lt(now));
    Ok(ticket::Entity::find()
        .filter(C::Status.ne(TicketStatus::Closed.as_str()))
        .filter(Condition::any().add(response).add(resolution))
        .order_by_asc(C::Id)
        .limit(500)
        .all(db)
        .await?)
}

/// Escalates one breached ticket one tier (if not at the top) and marks the breach handled,
/// so each breach escalates exactly once.
pub async fn escalate_breach(
    db: &impl ConnectionTrait,
    current: &ticket::Model,
    breach: Breach,
    now: DateTime<Utc>,
) -> Result<ticket::Model> {
    let tier = tier_of(current)?;
    let next = onsite_core::sla::escalate_on_breach(tier);
    let mut changes = ticket::ActiveModel { ..Default::default() };
    match breach {
        Breach::Response => changes.response_breach_escalated = Set(true),
        Breach::Resolution => changes.resolution_breach_escalated = Set(true),
    }
    if let Some(next) = next {
        changes.tier = Set(i32::from(next.level()));
    }
    let saved = save(db, current, changes, now).await?;
    let detail = match next {
        Some(_) => format!("{}: escalated, manager notified", breach.reason()),
        None => format!("{}: already at tier 3, manager notified", breach.reason()),
    };
    let event = Event { action: "sla_breached", detail, from_tier: Some(tier), to_tier: Some(next.unwrap_or(tier)) };
    record(db, &saved.id, None, event, now, "").await?;
    Ok(saved)
}

/// What goes into a ticket's history.
#[derive(Debug, Default)]
pub struct Event {
    pub action: &'static str,
    pub detail: String,
    pub from_tier: Option<Tier>,
    pub to_tier: Option<Tier>,
}

/// Appends an event to the ticket's history.
pub async fn record(
    db: &impl ConnectionTrait,
    ticket_id: &str,
    caller: Option<&Caller>,
    event: Event,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<()> {
    ticket_event::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        ticket_id: Set(ticket_id.to_owned()),
        action: Set(event.action.to_owned()),
        detail: Set(event.detail),
        from_tier: Set(event.from_tier.map(|t| i32::from(t.level()))),
        to_tier: Set(event.to_tier.map(|t| i32::from(t.level()))),
        actor_user_id: Set(caller.map(|c| c.user_id.to_string())),
        at_us: Set(to_us(now)),
        request_id: Set(request_id.to_owned()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The ticket's history, oldest first.
pub async fn events(db: &impl ConnectionTrait, ticket_id: &str) -> Result<Vec<ticket_event::Model>> {
    Ok(ticket_event::Entity::find()
        .filter(ticket_event::Column::TicketId.eq(ticket_id))
        .order_by_asc(ticket_event::Column::Id)
        .all(db)
        .await?)
}
