//! The records an engineer's action adds (backup, fix, cost lines, sign-off): filled in for
//! their slip, stored one action at a time or many actions' worth in a few multi-row
//! statements, and the check that a device's record ids are new.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, Iterable, QueryFilter, QuerySelect};

use super::quotes::SignedDecision;
use crate::caller::Caller;
use crate::error::Result;
use crate::store::entities::{backup, cost_line, fix, quote, sign_off, slip, slip_event};
use crate::store::to_us;

/// A record a visit adds, validated before the transaction starts.
#[derive(Debug)]
pub enum NewRecord {
    None,
    Backup(backup::Model),
    Fix(fix::Model),
    Costs(Vec<cost_line::Model>),
    SignOff(sign_off::Model),
    /// A quote drafted on the phone.
    Quote(quote::Model),
    /// The customer's decision on a quote, signed on the phone.
    QuoteDecision(SignedDecision),
}

impl NewRecord {
    /// The record as the state machine decided it: cost lines billable or not by the warranty,
    /// whatever the client sent.
    pub fn decided(self, transition: &onsite_core::slip::Transition) -> Self {
        match (self, transition.billable) {
            (Self::Costs(lines), Some(billable)) => {
                Self::Costs(lines.into_iter().map(|c| cost_line::Model { billable, ..c }).collect())
            }
            (record, _) => record,
        }
    }

    /// The record as stored: on `slip`, by the caller, cost lines stamped with `now`.
    pub fn on(self, slip: &slip::Model, caller: &Caller, now: DateTime<Utc>) -> Self {
        let by = caller.user_id.to_string();
        match self {
            Self::None => Self::None,
            Self::Backup(b) => Self::Backup(backup::Model { slip_id: slip.id.clone(), recorded_by: by, ..b }),
            Self::Fix(f) => Self::Fix(fix::Model { slip_id: slip.id.clone(), recorded_by: by, ..f }),
            Self::Costs(lines) => Self::Costs(
                lines
                    .into_iter()
                    .map(|c| cost_line::Model {
                        slip_id: slip.id.clone(),
                        recorded_by: by.clone(),
                        recorded_at_us: to_us(now),
                        ..c
                    })
                    .collect(),
            ),
            Self::SignOff(s) => Self::SignOff(sign_off::Model { slip_id: slip.id.clone(), recorded_by: by, ..s }),
            Self::Quote(q) => Self::Quote(quote::Model { slip_id: slip.id.clone(), created_by: by, ..q }),
            Self::QuoteDecision(d) => Self::QuoteDecision(SignedDecision { recorded_by: by, ..d }),
        }
    }
}

/// Stores a record of the visit, filling in the slip and who recorded it.
pub async fn insert_record(
    db: &impl ConnectionTrait,
    slip: &slip::Model,
    record: NewRecord,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut records = Stored::default();
    records.add(record.on(slip, caller, now));
    records.insert(db).await
}

/// The audit events and records of many actions, stored in a few multi-row statements.
#[derive(Debug, Default)]
pub struct Stored {
    pub backups: Vec<backup::Model>,
    pub fixes: Vec<fix::Model>,
    pub cost_lines: Vec<cost_line::Model>,
    pub sign_offs: Vec<sign_off::Model>,
    pub quotes: Vec<quote::Model>,
    pub quote_decisions: Vec<SignedDecision>,
    pub events: Vec<slip_event::Model>,
}

impl Stored {
    /// Queues a record made by [`NewRecord::on`].
    pub fn add(&mut self, record: NewRecord) {
        match record {
            NewRecord::None => {}
            NewRecord::Backup(b) => self.backups.push(b),
            NewRecord::Fix(f) => self.fixes.push(f),
            NewRecord::Costs(lines) => self.cost_lines.extend(lines),
            NewRecord::SignOff(s) => self.sign_offs.push(s),
            NewRecord::Quote(q) => self.quotes.push(q),
            NewRecord::QuoteDecision(d) => self.quote_decisions.push(d),
        }
    }

    /// Writes and forgets what is queued.
    pub async fn insert(&mut self, db: &impl ConnectionTrait) -> Result<()> {
        insert_rows::<slip_event::ActiveModel>(db, std::mem::take(&mut self.events)).await?;
        insert_rows::<backup::ActiveModel>(db, std::mem::take(&mut self.backups)).await?;
        insert_rows::<fix::ActiveModel>(db, std::mem::take(&mut self.fixes)).await?;
        insert_rows::<cost_line::ActiveModel>(db, std::mem::take(&mut self.cost_lines)).await?;
        insert_rows::<sign_off::ActiveModel>(db, std::mem::take(&mut self.sign_offs)).await?;
        insert_rows::<quote::ActiveModel>(db, std::mem::take(&mut self.quotes)).await?;
        for decision in std::mem::take(&mut self.quote_decisions) {
            super::quotes::record_signed(db, decision).await?;
        }
        Ok(())
    }
}

/// Inserts rows in statements of at most [`super::PARAMETERS_PER_STATEMENT`] parameters.
async fn insert_rows<A>(db: &impl ConnectionTrait, rows: Vec<<A::Entity as EntityTrait>::Model>) -> Result<()>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send + From<<A::Entity as EntityTrait>::Model>,
{
    let columns = <A::Entity as EntityTrait>::Column::iter().count().max(1);
    let per_statement = (super::PARAMETERS_PER_STATEMENT / columns).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(per_statement).map(A::from).collect();
        <A::Entity as EntityTrait>::insert_many(chunk).exec(db).await?;
    }
    Ok(())
}

/// Ids of records already stored, by kind, among those given.
#[derive(Debug, Default)]
pub struct RecordIds {
    pub backups: HashSet<String>,
    pub fixes: HashSet<String>,
    pub cost_lines: HashSet<String>,
    pub quotes: HashSet<String>,
}

impl RecordIds {
    /// Which of these ids are taken, one query per kind that has any.
    pub async fn taken(db: &impl ConnectionTrait, given: &RecordIds) -> Result<RecordIds> {
        Ok(RecordIds {
            backups: taken::<backup::Entity, _>(db, backup::Column::Id, &given.backups).await?,
            fixes: taken::<fix::Entity, _>(db, fix::Column::Id, &given.fixes).await?,
            cost_lines: taken::<cost_line::Entity, _>(db, cost_line::Column::Id, &given.cost_lines).await?,
            quotes: taken::<quote::Entity, _>(db, quote::Column::Id, &given.quotes).await?,
        })
    }

    /// Claims the ids of `record`: false, claiming none, when one is in the set already or
    /// repeats within the record.
    pub fn claim(&mut self, record: &NewRecord) -> bool {
        let (set, ids): (_, Vec<&String>) = match record {
            NewRecord::Backup(b) => (&mut self.backups, vec![&b.id]),
            NewRecord::Fix(f) => (&mut self.fixes, vec![&f.id]),
            NewRecord::Costs(lines) => (&mut self.cost_lines, lines.iter().map(|c| &c.id).collect()),
            NewRecord::Quote(q) => (&mut self.quotes, vec![&q.id]),
            NewRecord::None | NewRecord::SignOff(_) | NewRecord::QuoteDecision(_) => return true,
        };
        let mut seen = HashSet::new();
        if ids.iter().any(|id| set.contains(*id) || !seen.insert(*id)) {
            return false;
        }
        set.extend(ids.into_iter().cloned());
        true
    }
}

async fn taken<E: EntityTrait, C: ColumnTrait>(
    db: &impl ConnectionTrait,
    column: C,
    ids: &HashSet<String>,
) -> Result<HashSet<String>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(E::find()
        .select_only()
        .column(column)
        .filter(column.is_in(ids.iter().cloned()))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// A manager's override of the rule's billable decision on one cost line.
#[derive(Debug)]
pub struct Override<'a> {
    pub slip_id: &'a str,
    pub etag: &'a str,
    pub line_id: &'a str,
    pub billable: bool,
    pub reason: &'a str,
}

/// Sets a cost line billable or free against the rule's decision, keeps the reason on the line
/// and in the slip's audit trail, and moves the slip one version on.
pub async fn override_billable(
    db: &impl ConnectionTrait,
    caller: &Caller,
    o: Override<'_>,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<slip::Model> {
    let current = super::slips::load(db, o.slip_id).await?;
    super::check_etag(o.etag, current.version, "slip")?;
    let line_id: uuid::Uuid = onsite_proto::convert::id(o.line_id, "line_id")?;
    let line = cost_line::Entity::find_by_id(line_id.to_string())
        .filter(cost_line::Column::SlipId.eq(current.id.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| crate::error::Error::not_found("cost line", line_id))?;
    if line.billable == o.billable {
        let now_is = if line.billable { "billable" } else { "free" };
        return Err(crate::error::Error::precondition("BILLABLE_UNCHANGED", format!("the line is {now_is} already")));
    }
    let reason = o.reason.trim().to_owned();
    let changes = cost_line::ActiveModel {
        billable: sea_orm::Set(o.billable),
        billable_override_reason: sea_orm::Set(Some(reason.clone())),
        ..Default::default()
    };
    cost_line::Entity::update_many().set(changes).filter(cost_line::Column::Id.eq(line.id.as_str())).exec(db).await?;
    let saved = super::slips::touch(db, &current, now, |_| Ok(())).await?;
    let to = if o.billable { "billable" } else { "free" };
    let detail = format!("line {} ({}): {to}: {reason}", line.id, line.description);
    super::slips::audit_change(db, &saved, caller, "override_billable", detail, now, request_id).await?;
    Ok(saved)
}
