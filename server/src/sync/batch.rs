//! The batch applier of a push: the slips a batch names are read once, every op is decided in
//! memory with the core state machine on the slip as the ops before it left it, and the rows
//! of the whole batch are written in a few multi-row statements.
//!
//! An op whose checks read more than its slip (booking against the engineer's calendar, a
//! sign-off against its device key and records, completion against the uploaded signature)
//! goes through `visit::apply` after the queued rows are written, in a savepoint of its own:
//! those are the only ops that can fail after writing. Every other op is refused before it
//! queues anything, so a refusal never leaves a half-written op behind.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use onsite_core::id::SlipId;
use onsite_proto::convert;
use onsite_proto::v1::{self as pb, op::Payload};
use sea_orm::{DatabaseTransaction, TransactionTrait};

use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::repo::records::{RecordIds, Stored};
use crate::repo::slips::{self, Act, Assignment};
use crate::store::entities::slip;
use crate::visit::{self, Step};

/// The slips of one push, as its ops leave them, and the rows not yet written.
pub(super) struct Batch<'a> {
    txn: &'a DatabaseTransaction,
    caller: &'a Caller,
    slips: HashMap<String, Slot>,
    /// The batch's slips the engineer has or had (all of them for a manager).
    known: HashSet<String>,
    /// Record ids stored or queued, so a reused one is refused before anything is written.
    record_ids: RecordIds,
    queued: Stored,
    assignments: Vec<Assignment>,
}

/// One slip of the batch.
struct Slot {
    /// As the ops so far left it.
    current: slip::Model,
    /// The version of the stored row.
    stored_version: i64,
    /// The engineer before the batch, whose board hears of the change too.
    engineer_before: Option<String>,
}

impl<'a> Batch<'a> {
    /// Reads what the ops name: their slips (locked on PostgreSQL), which of them the engineer
    /// knows, and which of their record ids are taken.
    pub async fn load(txn: &'a DatabaseTransaction, caller: &'a Caller, ops: &[pb::Op]) -> Result<Self> {
        let mut ids: Vec<String> = ops.iter().filter_map(|op| canonical(&op.slip_id)).collect();
        ids.sort_unstable();
        ids.dedup();
        let loaded = slips::load_many_for_update(txn, &ids).await?;
        let known = match caller.engineer_id {
            _ if caller.actor().is_manager() => loaded.iter().map(|s| s.id.clone()).collect(),
            Some(engineer) => slips::known_to(txn, engineer, &ids).await?,
            None => HashSet::new(),
        };
        let slips = loaded
            .into_iter()
            .map(|current| {
                let slot =
                    Slot { stored_version: current.version, engineer_before: current.engineer_id.clone(), current };
                (slot.current.id.clone(), slot)
            })
            .collect();
        let record_ids = RecordIds::taken(txn, &record_ids(ops)).await?;
        Ok(Self { txn, caller, slips, known, record_ids, queued: Stored::default(), assignments: Vec::new() })
    }

    /// The slip an op names as it stands now, if it exists and the engineer has or had it.
    pub fn known_slip(&self, slip_id: &str) -> Option<&slip::Model> {
        let id = canonical(slip_id)?;
        self.slips.get(&id).filter(|_| self.known.contains(&id)).map(|slot| &slot.current)
    }

    /// The slips that exist among those named by `ops`: each with its engineer before the batch
    /// and as it stands now.
    pub fn slips_named<'b>(
        &'b self,
        ops: impl Iterator<Item = &'b pb::Op> + 'b,
    ) -> impl Iterator<Item = (Option<&'b str>, &'b slip::Model)> + 'b {
        let mut seen = HashSet::new();
        ops.filter_map(move |op| canonical(&op.slip_id))
            .filter(move |id| seen.insert(id.clone()))
            .filter_map(|id| self.slips.get(&id))
            .map(|slot| (slot.engineer_before.as_deref(), &slot.current))
    }

    /// Applies one step of the batch; on a refusal nothing of it is written or queued.
    pub async fn apply(&mut self, step: Step, now: DateTime<Utc>) -> Result<()> {
        if visit::checks_database(&step.action) {
            return self.apply_checked(step, now).await;
        }
        let id = self.ensure_known(&step.slip_id)?;
        let Some(slot) = self.slips.get_mut(&id) else { return Err(Error::not_found("slip", id)) };
        let Step { method: _, request_id, slip_id: _, etag, action, detail, extra, record, origin } = step;
        let act = Act { caller: self.caller, action, etag: &etag, now, request_id: &request_id, detail, origin };
        let planned = slips::plan(&slot.current, act, extra)?;
        let record = record.decided(&planned.transition).on(&planned.saved, self.caller, now);
        if !self.record_ids.claim(&record) {
            return Err(Error::AlreadyExists {
                reason: "DUPLICATE_RECORD",
                message: "a record with this id is stored already; the device must give each record a new id".into(),
            });
        }
        slot.current = planned.saved;
        self.queued.events.push(planned.event);
        self.queued.add(record);
        self.assignments.extend(planned.assignment);
        Ok(())
    }

    /// Applies a step whose checks read the database, after writing what is queued, in a
    /// savepoint of its own.
    async fn apply_checked(&mut self, step: Step, now: DateTime<Utc>) -> Result<()> {
        self.write().await?;
        let savepoint = self.txn.begin().await?;
        match visit::apply(&savepoint, self.caller, step, now).await {
            Ok(saved) => {
                savepoint.commit().await?;
                if let Some(slot) = self.slips.get_mut(&saved.id) {
                    slot.stored_version = saved.version;
                    slot.current = saved;
                }
                Ok(())
            }
            Err(e) => {
                savepoint.rollback().await?;
                Err(e)
            }
        }
    }

    /// Writes what is queued: each changed slip's row, then the events and records.
    pub async fn write(&mut self) -> Result<()> {
        for slot in self.slips.values_mut().filter(|slot| slot.current.version != slot.stored_version) {
            // The batch holds the write lock (SQLite) or the slip's row lock (PostgreSQL).
            if !slips::write_row(self.txn, &slot.current, slot.stored_version).await? {
                return Err(Error::Internal(format!("slip {} changed under the push's lock", slot.current.id)));
            }
            slot.stored_version = slot.current.version;
        }
        self.queued.insert(self.txn).await?;
        slips::remember_assignments(self.txn, &std::mem::take(&mut self.assignments)).await
    }

    /// An engineer acts only on slips they have or had; any other answers as no slip at all,
    /// as in `visit::apply`.
    fn ensure_known(&self, slip_id: &str) -> Result<String> {
        let id: SlipId = convert::id(slip_id, "slip_id")?;
        let id = id.to_string();
        if self.known.contains(&id) { Ok(id) } else { Err(Error::not_found("slip", id)) }
    }
}

/// A slip id as stored, if it is one.
fn canonical(slip_id: &str) -> Option<String> {
    slip_id.parse::<SlipId>().ok().map(|id| id.to_string())
}

/// The record ids the ops' payloads carry (an empty one gets a new id on the server).
fn record_ids(ops: &[pb::Op]) -> RecordIds {
    let mut ids = RecordIds::default();
    for payload in ops.iter().filter_map(|op| op.payload.as_ref()) {
        let (set, given): (_, Vec<&String>) = match payload {
            Payload::LogBackup(b) => (&mut ids.backups, vec![&b.id]),
            Payload::RecordFix(f) => (&mut ids.fixes, vec![&f.id]),
            Payload::AddPartsCost(p) => (&mut ids.cost_lines, p.lines.iter().map(|l| &l.id).collect()),
            Payload::DraftQuote(q) => (&mut ids.quotes, vec![&q.quote_id]),
            _ => continue,
        };
        set.extend(given.into_iter().filter(|id| !id.is_empty()).cloned());
    }
    ids
}
