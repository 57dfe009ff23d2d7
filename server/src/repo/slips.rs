//! Slips: creation, every transition through the one state machine of `onsite-core`, the
//! records a visit produces, and the append-only audit log.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use onsite_core::id::{EngineerId, SlipId};
use onsite_core::slip::{Slip, SlipAction, SlipState, Transition, VisitKind, Window};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, Iterable, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TryIntoModel,
};

use super::{check_etag, join_lines, tickets};
use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::store::entities::{backup, cost_line, fix, quote, sign_off, site, slip, slip_event, ticket};
use crate::store::{from_us, to_us};

/// Loads a slip.
pub async fn load(db: &impl ConnectionTrait, id: &str) -> Result<slip::Model> {
    let id: SlipId = onsite_proto::convert::id(id, "slip_id")?;
    slip::Entity::find_by_id(id.to_string()).one(db).await?.ok_or_else(|| Error::not_found("slip", id))
}

/// The slip with this id, if there is one; an empty or malformed id names none.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<slip::Model>> {
    match load(db, id).await {
        Ok(model) => Ok(Some(model)),
        Err(Error::NotFound { .. } | Error::Domain(onsite_core::DomainError::Invalid(_))) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Loads a slip the caller may see: managers see all, engineers only their own; to them any
/// other is not found, so its existence does not leak.
pub async fn load_visible(db: &impl ConnectionTrait, caller: &Caller, id: &str) -> Result<slip::Model> {
    let model = load(db, id).await?;
    if caller.actor().is_manager() || assigned_to(&model, caller.engineer_id) {
        Ok(model)
    } else {
        Err(Error::not_found("slip", &model.id))
    }
}

/// Whether the slip is assigned to `engineer` now.
pub fn assigned_to(model: &slip::Model, engineer: Option<EngineerId>) -> bool {
    engineer.is_some_and(|e| model.engineer_id.as_deref() == Some(e.to_string().as_str()))
}

/// The state-machine view of a stored slip.
pub fn domain(m: &slip::Model) -> Result<Slip> {
    let bad = |what: &str| Error::Internal(format!("slip {} has a bad {what}", m.id));
    let appointment = match (m.appointment_start_us, m.appointment_end_us) {
        (Some(start), Some(end)) => Some(Window { start: from_us(start), end: from_us(end) }),
        _ => None,
    };
    Ok(Slip {
        state: m.state.parse().map_err(|()| bad("state"))?,
        engineer: m.engineer_id.as_deref().map(str::parse).transpose().map_err(|_| bad("engineer"))?,
        appointment,
        backup: m.backup_kind.as_deref().map(str::parse).transpose().map_err(|()| bad("backup kind"))?,
        fix: m.fix_outcome.as_deref().map(str::parse).transpose().map_err(|()| bad("fix outcome"))?,
        signed_off: m.signed_off,
        warranty_end: m.warranty_end.as_deref().map(str::parse).transpose().map_err(|_| bad("warranty end"))?,
        arrived_at: m.arrived_at_us.map(from_us),
        root_cause: m.root_cause.as_deref().map(str::parse).transpose().map_err(|()| bad("root cause"))?,
        quotes: super::quote_facts::decode(m)?,
    })
}

/// What a new slip says.
#[derive(Debug)]
pub struct NewSlip {
    pub ticket_id: String,
    pub site_id: String,
    pub instructions: String,
    pub required_skills: Vec<String>,
    pub follow_up_of: Option<String>,
    pub state: SlipState,
    pub kind: VisitKind,
}

/// Opens a slip for a ticket; the ticket counts as answered from now on. The board hears of it
/// through `lifecycle::create`.
pub async fn create(
    db: &impl ConnectionTrait,
    caller: &Caller,
    new: NewSlip,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<slip::Model> {
    // The lock makes visit numbers of concurrent slips of one ticket distinct.
    let ticket = tickets::load_for_update(db, &new.ticket_id).await?;
    tickets::ensure_allowed(&ticket, onsite_core::ticket::TicketAction::OpenSlip)?;
    let site = crate::store::entities::site::Entity::find_by_id(new.site_id.clone()).one(db).await?;
    if site.is_none_or(|s| s.customer_id != ticket.customer_id) {
        return Err(Error::invalid("site_id", "is not a site of the ticket's customer"));
    }
    let visits = slip::Entity::find().filter(slip::Column::TicketId.eq(ticket.id.as_str())).count(db).await?;
    let model = slip::Model {
        id: SlipId::new().to_string(),
        ticket_id: ticket.id.clone(),
        visit_number: i32::try_from(visits + 1).unwrap_or(i32::MAX),
        state: new.state.as_str().to_owned(),
        engineer_id: None,
        site_id: Some(new.site_id),
        instructions: new.instructions,
        required_skills: join_lines(&new.required_skills),
        follow_up_of: new.follow_up_of,
        appointment_start_us: None,
        appointment_end_us: None,
        appointment_contact: String::new(),
        reschedule_count: 0,
        last_reschedule_reason: String::new(),
        customer_informed: false,
        arrived_at_us: None,
        arrived_on_time: false,
        check_in_latitude: None,
        check_in_longitude: None,
        backup_kind: None,
        fix_outcome: None,
        signed_off: false,
        decline_reason: String::new(),
        cancel_reason: String::new(),
        write_off_outcome: None,
        needs_review: false,
        created_by: caller.user_id.to_string(),
        created_at_us: to_us(now),
        updated_at_us: to_us(now),
        version: 1,
        warranty_end: warranty_end(db, &ticket).await?.map(|d| d.to_string()),
        root_cause: None,
        quote_facts: "[]".to_owned(),
        kind: new.kind.as_str().to_owned(),
    };
    slip::Entity::insert(slip::ActiveModel::from(model.clone())).exec(db).await?;
    let action = if model.follow_up_of.is_some() { "create_follow_up" } else { "create" };
    let audit =
        Audit { action, from: None, to: new.state, detail: format!("visit {}", model.visit_number), origin: None };
    append_audit(db, &model, caller, audit, now, request_id).await?;
    let mut changes = ticket::ActiveModel { ..Default::default() };
    tickets::start_work(&ticket, &mut changes, now);
    if changes.is_changed() {
        tickets::save(db, &ticket, changes, now).await?;
    }
    let event = tickets::Event {
        action: "slip_opened",
        detail: format!("visit {} ({})", model.visit_number, model.id),
        ..Default::default()
    };
    tickets::record(db, &ticket.id, Some(caller), event, now, request_id).await?;
    Ok(model)
}

/// The last day of the warranty a visit for `ticket` is judged on: the product's, or else the
/// customer's free service.
pub(crate) async fn warranty_end(
    db: &impl ConnectionTrait,
    ticket: &ticket::Model,
) -> Result<Option<chrono::NaiveDate>> {
    let row = super::query_one(
        db,
        "SELECT COALESCE((SELECT p.warranty_end FROM installed_products p WHERE p.id = $1),
            (SELECT c.warranty_end FROM customers c WHERE c.id = $2)) AS last_day",
        vec![ticket.product_id.clone().into(), ticket.customer_id.clone().into()],
    )
    .await?;
    let text = row.map(|r| r.try_get::<Option<String>>("", "last_day")).transpose()?.flatten();
    text.map(|t| t.parse().map_err(|_| Error::Internal(format!("a bad warranty end {t:?}")))).transpose()
}

/// One action on a slip, as requested.
#[derive(Debug)]
pub struct Act<'a> {
    pub caller: &'a Caller,
    pub action: SlipAction,
    pub etag: &'a str,
    pub now: DateTime<Utc>,
    pub request_id: &'a str,
    /// Audit detail (reason, engineer, outcome).
    pub detail: String,
    /// The device an op came from. Device ops leave the board event to the push, which
    /// appends one per slip after its batch (see `sync::push`).
    pub origin: Option<Origin>,
}

/// A transition as stored.
#[derive(Debug)]
pub struct Acted {
    pub saved: slip::Model,
    pub transition: Transition,
    /// The engineer before the transition, whose board also hears of it.
    pub engineer_before: Option<String>,
}

/// The device an op was recorded on, and when by its clock.
#[derive(Clone, Debug)]
pub struct Origin {
    pub device_id: String,
    pub device_time_us: i64,
}

/// A transition decided in memory: the row as it will be written and what goes with it.
#[derive(Debug)]
pub struct Planned {
    pub saved: slip::Model,
    pub transition: Transition,
    /// The audit event of the transition.
    pub event: slip_event::Model,
    /// Set when the transition hands the slip to an engineer it has not had before.
    pub assignment: Option<Assignment>,
}

/// A slip handed to an engineer, remembered so a displaced engineer still knows the slip.
#[derive(Clone, Debug)]
pub struct Assignment {
    pub slip_id: String,
    pub engineer_id: String,
    pub at_us: i64,
}

/// Decides `act` on the slip as it is (`current`) with the state machine. When legal, the
/// result is the row with the new state and the fields set by `extra` (which sees the slip as
/// it was), one version on, with its audit event. Nothing is written: see [`act`] and the
/// push's batch applier (`sync::batch`).
pub fn plan(
    current: &slip::Model,
    act: Act<'_>,
    extra: impl FnOnce(&slip::Model, &mut slip::ActiveModel),
) -> Result<Planned> {
    check_etag(act.etag, current.version, "slip")?;
    let mut slip = domain(current)?;
    let transition = slip.apply(&act.caller.actor(), &act.action)?;
    let mut changes = slip::ActiveModel {
        state: Set(slip.state.as_str().to_owned()),
        engineer_id: Set(slip.engineer.map(|e| e.to_string())),
        appointment_start_us: Set(slip.appointment.map(|w| to_us(w.start))),
        appointment_end_us: Set(slip.appointment.map(|w| to_us(w.end))),
        backup_kind: Set(slip.backup.map(|b| b.as_str().to_owned())),
        fix_outcome: Set(slip.fix.map(|f| f.as_str().to_owned())),
        root_cause: Set(slip.root_cause.map(|c| c.as_str().to_owned())),
        quote_facts: Set(super::quote_facts::encode(&slip.quotes)?),
        signed_off: Set(slip.signed_off),
        version: Set(current.version + 1),
        updated_at_us: Set(to_us(act.now)),
        ..Default::default()
    };
    extra(current, &mut changes);
    // The loaded row with the changes laid over it.
    let mut written = slip::ActiveModel::from(current.clone());
    for column in slip::Column::iter() {
        if let sea_orm::ActiveValue::Set(value) = changes.get(column) {
            written.set(column, value);
        }
    }
    let saved = written.try_into_model()?;
    let audit = Audit {
        action: act.action.name(),
        from: Some(transition.from),
        to: transition.to,
        detail: act.detail,
        origin: act.origin,
    };
    let event = audit_event(&saved, act.caller, audit, act.now, act.request_id);
    let assignment =
        saved.engineer_id.as_deref().filter(|e| current.engineer_id.as_deref() != Some(*e)).map(|engineer| {
            Assignment { slip_id: saved.id.clone(), engineer_id: engineer.to_owned(), at_us: to_us(act.now) }
        });
    Ok(Planned { saved, transition, event, assignment })
}

/// Decides `act` with the state machine and, when legal, stores the new state, the fields set
/// by `extra` (which sees the slip as it was) and the audit event, in the caller's
/// transaction. `lifecycle::act` adds the board event.
pub async fn act(
    db: &impl ConnectionTrait,
    slip_id: &str,
    act: Act<'_>,
    extra: impl FnOnce(&slip::Model, &mut slip::ActiveModel),
) -> Result<Acted> {
    let current = load(db, slip_id).await?;
    let planned = plan(&current, act, extra)?;
    if !write_row(db, &planned.saved, current.version).await? {
        return Err(Error::StaleEtag { resource: "slip" });
    }
    slip_event::Entity::insert(slip_event::ActiveModel::from(planned.event)).exec(db).await?;
    if let Some(assignment) = planned.assignment {
        remember_assignments(db, &[assignment]).await?;
    }
    Ok(Acted { saved: planned.saved, transition: planned.transition, engineer_before: current.engineer_id })
}

/// Writes a slip's row as decided, if it is still at `version`; false when it moved on.
pub async fn write_row(db: &impl ConnectionTrait, saved: &slip::Model, version: i64) -> Result<bool> {
    // Every column set, but the key.
    let mut changes = slip::ActiveModel::from(saved.clone()).reset_all();
    changes.not_set(slip::Column::Id);
    let result = slip::Entity::update_many()
        .set(changes)
        .filter(slip::Column::Id.eq(saved.id.as_str()))
        .filter(slip::Column::Version.eq(version))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Moves a slip one version on for a change its view shows that is not a transition (a
/// quote, an override); `change` edits the row first. ABORTED when the slip moved on.
pub async fn touch(
    db: &impl ConnectionTrait,
    current: &slip::Model,
    now: DateTime<Utc>,
    change: impl FnOnce(&mut slip::Model) -> Result<()>,
) -> Result<slip::Model> {
    let mut saved = current.clone();
    change(&mut saved)?;
    saved.version = current.version + 1;
    saved.updated_at_us = to_us(now);
    if !write_row(db, &saved, current.version).await? {
        return Err(Error::StaleEtag { resource: "slip" });
    }
    Ok(saved)
}

/// The stored state of a slip.
pub fn state(slip: &slip::Model) -> Result<SlipState> {
    slip.state.parse().map_err(|()| Error::Internal(format!("slip {} has a bad state", slip.id)))
}

/// Appends a slip's audit event for a change that leaves its state as it is.
pub(crate) async fn audit_change(
    db: &impl ConnectionTrait,
    slip: &slip::Model,
    caller: &Caller,
    action: &'static str,
    detail: String,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<()> {
    let state = state(slip)?;
    let audit = Audit { action, from: Some(state), to: state, detail, origin: None };
    append_audit(db, slip, caller, audit, now, request_id).await
}

/// Remembers who had which slip (see [`ever_assigned`]).
pub async fn remember_assignments(db: &impl ConnectionTrait, assignments: &[Assignment]) -> Result<()> {
    for a in assignments {
        super::execute(
            db,
            "INSERT INTO slip_assignments (slip_id, engineer_id, assigned_at_us) VALUES ($1, $2, $3)
             ON CONFLICT (slip_id, engineer_id) DO NOTHING",
            vec![a.slip_id.clone().into(), a.engineer_id.clone().into(), a.at_us.into()],
        )
        .await?;
    }
    Ok(())
}

/// Whether the slip was ever assigned to `engineer`, now or before a reassignment.
pub async fn ever_assigned(db: &impl ConnectionTrait, slip_id: &str, engineer: EngineerId) -> Result<bool> {
    let row = super::query_one(
        db,
        "SELECT 1 AS known FROM slip_assignments WHERE slip_id = $1 AND engineer_id = $2",
        vec![slip_id.to_owned().into(), engineer.to_string().into()],
    )
    .await?;
    Ok(row.is_some())
}

/// Which of `slip_ids` `engineer` has or had, in one query.
pub async fn known_to(
    db: &impl ConnectionTrait,
    engineer: EngineerId,
    slip_ids: &[String],
) -> Result<std::collections::HashSet<String>> {
    if slip_ids.is_empty() {
        return Ok(Default::default());
    }
    let sql = format!(
        "SELECT slip_id FROM slip_assignments WHERE engineer_id = $1 AND slip_id IN ({})",
        super::parameter_list(2, slip_ids.len())
    );
    let mut values = vec![engineer.to_string().into()];
    values.extend(slip_ids.iter().map(|id| id.clone().into()));
    let rows = super::query_all(db, &sql, values).await?;
    Ok(rows.iter().map(|row| row.try_get::<String>("", "slip_id")).collect::<Result<_, _>>()?)
}

/// The slips with these ids, locked for the transaction on PostgreSQL (in id order, so two
/// transactions locking several never wait on each other in a circle).
pub async fn load_many_for_update(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<slip::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query =
        slip::Entity::find().filter(slip::Column::Id.is_in(ids.iter().cloned())).order_by_asc(slip::Column::Id);
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query.all(db).await?)
}

/// What goes into the audit log.
#[derive(Debug)]
pub struct Audit {
    pub action: &'static str,
    pub from: Option<SlipState>,
    pub to: SlipState,
    pub detail: String,
    pub origin: Option<Origin>,
}

async fn append_audit(
    db: &impl ConnectionTrait,
    slip: &slip::Model,
    caller: &Caller,
    audit: Audit,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<()> {
    let event = audit_event(slip, caller, audit, now, request_id);
    slip_event::Entity::insert(slip_event::ActiveModel::from(event)).exec(db).await?;
    Ok(())
}

/// The audit event of an action on `slip`, as it will be stored.
fn audit_event(
    slip: &slip::Model,
    caller: &Caller,
    audit: Audit,
    now: DateTime<Utc>,
    request_id: &str,
) -> slip_event::Model {
    slip_event::Model {
        id: uuid::Uuid::now_v7().to_string(),
        slip_id: slip.id.clone(),
        ticket_id: slip.ticket_id.clone(),
        action: audit.action.to_owned(),
        from_state: audit.from.map(|s| s.as_str()).unwrap_or("").to_owned(),
        to_state: audit.to.as_str().to_owned(),
        actor_user_id: caller.user_id.to_string(),
        actor_role: caller.role.as_str().to_owned(),
        device_id: audit.origin.as_ref().map(|o| o.device_id.clone()),
        server_time_us: to_us(now),
        device_time_us: audit.origin.map(|o| o.device_time_us),
        request_id: request_id.to_owned(),
        detail: audit.detail,
    }
}

/// The audit history of a slip, oldest first.
pub async fn events(db: &impl ConnectionTrait, slip_id: &str) -> Result<Vec<slip_event::Model>> {
    Ok(slip_event::Entity::find()
        .filter(slip_event::Column::SlipId.eq(slip_id))
        .order_by_asc(slip_event::Column::ServerTimeUs)
        .order_by_asc(slip_event::Column::Id)
        .all(db)
        .await?)
}

/// Everything a visit recorded, for the full view of a slip.
#[derive(Debug, Default)]
pub struct Records {
    pub labels: Labels,
    pub backups: Vec<backup::Model>,
    pub fix: Option<fix::Model>,
    pub cost_lines: Vec<cost_line::Model>,
    pub sign_off: Option<sign_off::Model>,
    /// Device records kept for the manager (see `sync::push`).
    pub flagged: Vec<onsite_proto::v1::FlaggedRecord>,
    /// The slip's quotes, oldest first.
    pub quotes: Vec<quote::Model>,
}

/// Loads the records of a slip.
pub async fn records(db: &impl ConnectionTrait, slip: &slip::Model) -> Result<Records> {
    let labels = labels(db, std::slice::from_ref(slip)).await?.remove(&slip.id).unwrap_or_default();
    Ok(Records {
        labels,
        backups: backup::Entity::find()
            .filter(backup::Column::SlipId.eq(slip.id.as_str()))
            .order_by_asc(backup::Column::RecordedAtUs)
            .all(db)
            .await?,
        fix: fix::Entity::find()
            .filter(fix::Column::SlipId.eq(slip.id.as_str()))
            .order_by_desc(fix::Column::RecordedAtUs)
            .one(db)
            .await?,
        cost_lines: cost_line::Entity::find()
            .filter(cost_line::Column::SlipId.eq(slip.id.as_str()))
            .order_by_asc(cost_line::Column::RecordedAtUs)
            .order_by_asc(cost_line::Column::Id)
            .all(db)
            .await?,
        sign_off: sign_off::Entity::find_by_id(slip.id.clone()).one(db).await?,
        flagged: super::flags::of_slip(db, &slip.id).await?,
        quotes: quote::Entity::find()
            .filter(quote::Column::SlipId.eq(slip.id.as_str()))
            .order_by_asc(quote::Column::CreatedAtUs)
            .order_by_asc(quote::Column::Id)
            .all(db)
            .await?,
    })
}

/// What a slip view shows from other tables.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    pub ticket_number: String,
    /// The site's position (latitude, longitude).
    pub site_position: Option<(f64, f64)>,
}

/// Labels of a set of slips by slip id, in two queries.
pub async fn labels(db: &impl ConnectionTrait, slips: &[slip::Model]) -> Result<HashMap<String, Labels>> {
    let ticket_ids: Vec<&str> = slips.iter().map(|s| s.ticket_id.as_str()).collect();
    let site_ids: Vec<&str> = slips.iter().filter_map(|s| s.site_id.as_deref()).collect();
    let numbers: HashMap<String, String> = ticket::Entity::find()
        .filter(ticket::Column::Id.is_in(ticket_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t.number))
        .collect();
    let positions: HashMap<String, (f64, f64)> = site::Entity::find()
        .filter(site::Column::Id.is_in(site_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, (s.latitude, s.longitude)))
        .collect();
    Ok(slips
        .iter()
        .map(|s| {
            let labels = Labels {
                ticket_number: numbers.get(&s.ticket_id).cloned().unwrap_or_default(),
                site_position: s.site_id.as_ref().and_then(|id| positions.get(id).copied()),
            };
            (s.id.clone(), labels)
        })
        .collect())
}

/// Filters of a slip list.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub ticket_id: Option<String>,
    pub state: Option<SlipState>,
    pub engineer_id: Option<String>,
}

/// One page of slips, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &ListFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<slip::Model>> {
    let mut query = slip::Entity::find();
    if let Some(ticket_id) = &filter.ticket_id {
        query = query.filter(slip::Column::TicketId.eq(ticket_id.as_str()));
    }
    if let Some(state) = filter.state {
        query = query.filter(slip::Column::State.eq(state.as_str()));
    }
    if let Some(engineer) = &filter.engineer_id {
        query = query.filter(slip::Column::EngineerId.eq(engineer.as_str()));
    }
    if let Some(after) = after {
        query = query.filter(slip::Column::Id.lt(after));
    }
    Ok(query.order_by_desc(slip::Column::Id).limit(limit).all(db).await?)
}
