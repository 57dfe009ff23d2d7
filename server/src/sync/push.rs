//! Exactly-once application of a device's ops.
//!
//! A batch runs in one write transaction, through the batch applier ([`super::batch`]). The
//! device's row holds the last applied seq: an op at or below it gets its stored result back
//! (`DUPLICATE`), the next one is applied, anything further is `SEQUENCE_GAP`. A refused op
//! still stores its result and advances the seq, so a queue never wedges; records that only
//! add facts (backup, fix, parts, sign-off) are kept on the slip for the manager even then.
//! One commit per batch keeps pushes fast on SQLite, where every commit is fsynced.

use chrono::{DateTime, Duration, Utc};
use onsite_core::DomainError;
use onsite_core::error::Violations;
use onsite_core::op::{self, DeviceAction, PositionReport};
use onsite_core::slip::SlipState;
use onsite_proto::convert;
use onsite_proto::v1::{self as pb, op::Payload};
use sea_orm::{DatabaseTransaction, SqlErr};
use tonic::Code;

use super::batch::Batch;
use crate::app::App;
use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::feed;
use crate::repo::devices::StoredResult;
use crate::repo::{devices, engineers, flags, slips};
use crate::store::entities::device;
use crate::store::{begin_write, to_us};
use crate::visit::intents::{self, Context, DeviceClock};
use crate::visit::{self, SIGNATURE_IMAGE_MISSING};

/// Most ops one push may carry.
pub const MAX_OPS: usize = 500;

/// The push limit as devices are told it.
pub fn advertised_limit(app: &App) -> i64 {
    i64::try_from(app.config.max_push_bytes).unwrap_or(i64::MAX)
}

/// Applies `req`'s ops for the caller's device.
pub async fn push(app: &App, caller: &Caller, req: &pb::PushRequest) -> Result<pb::PushResponse> {
    let size = prost::Message::encoded_len(req);
    if size > app.config.max_push_bytes {
        return Err(Error::BatchTooLarge { size, limit: app.config.max_push_bytes });
    }
    validate(req)?;
    let now = Utc::now();
    let skew = match req.device_time.as_ref() {
        // Both clocks are bounded (see `validate`), so neither this difference nor the
        // corrections by it can overflow.
        Some(t) => now - convert::datetime(t, "device_time")?,
        None => Duration::zero(),
    };
    let txn = begin_write(&app.db).await?;
    let device = devices::load_own(&txn, caller, &req.device_id, true).await?;
    let mut last = device.last_applied_seq;
    if let Some(first) = req.ops.first()
        && first.device_seq > last + 1
    {
        return Err(Error::SequenceGap { expected: last + 1 });
    }
    let mut replays = match req.ops.first() {
        Some(first) if first.device_seq <= last => {
            devices::stored_results(&txn, &device.id, first.device_seq, last).await?
        }
        _ => Default::default(),
    };
    let mut batch = Batch::load(&txn, caller, &req.ops).await?;
    let mut results = Vec::with_capacity(req.ops.len());
    let mut stored = Vec::with_capacity(req.ops.len());
    for (i, op) in req.ops.iter().enumerate() {
        if op.device_seq <= last {
            let Some(mut replay) = replays.remove(&op.device_seq) else {
                return Err(Error::Internal(format!("device {} has no result for seq {}", device.id, op.device_seq)));
            };
            if replay.op_id != op.op_id {
                return Err(Error::invalid(
                    format!("ops[{i}].op_id"),
                    "differs from the op applied at this device_seq",
                ));
            }
            // An applied op answers DUPLICATE; a refused one its refusal again, so a device that
            // lost the first answer still learns it.
            if replay.outcome() == pb::OpOutcome::Applied {
                replay.outcome = pb::OpOutcome::Duplicate.into();
            }
            results.push(replay);
            continue;
        }
        let Some(result) = apply(&txn, &mut batch, caller, &device, op, now, skew).await? else {
            // Waits for its signature image: the device pushes it again after the upload.
            break;
        };
        let outcome = match result.outcome() {
            pb::OpOutcome::Applied => "applied",
            pb::OpOutcome::Conflict => "conflict",
            _ => "rejected",
        };
        // Stored before `attach_slips`, so without a slip: a replay shows the slip as it is then.
        stored.push(StoredResult { result: result.clone(), outcome, slip_id: op.slip_id.clone() });
        last = op.device_seq;
        results.push(result);
    }
    batch.write().await?;
    devices::store_results(&txn, &device.id, &stored, now).await?;
    attach_slips(&txn, caller, &req.ops, &mut results).await?;
    devices::advance(&txn, &device, last, now).await?;
    // Last: appending to the board feed is the last lock a transaction takes (ADR 4). One
    // event per slip the batch's new ops named (not its replays).
    let fresh = req.ops.iter().take(results.len()).filter(|op| op.device_seq > device.last_applied_seq);
    for (engineer_before, current) in batch.slips_named(fresh) {
        feed::slip_changed(&txn, engineer_before, current, to_us(now)).await?;
    }
    let moved =
        req.ops.iter().zip(&results).any(|(op, r)| {
            matches!(op.payload, Some(Payload::ReportLocation(_))) && r.outcome() == pb::OpOutcome::Applied
        });
    if let Some(engineer) = caller.engineer_id.filter(|_| moved) {
        let model = engineers::load(&txn, &engineer.to_string(), "engineer_id").await?;
        feed::engineer_changed(&txn, &model, to_us(now)).await?;
    }
    txn.commit().await?;
    app.committed().await;
    record(&req.ops, &results, skew, now);
    Ok(pb::PushResponse { results, last_applied_seq: last })
}

/// The push's outcomes and how long its oldest op waited on the phone, for the metrics.
fn record(ops: &[pb::Op], results: &[pb::OpResult], skew: Duration, now: chrono::DateTime<Utc>) {
    for outcome in [pb::OpOutcome::Applied, pb::OpOutcome::Duplicate, pb::OpOutcome::Conflict, pb::OpOutcome::Rejected]
    {
        let count = results.iter().filter(|r| r.outcome() == outcome).count() as u64;
        if count > 0 {
            let name = match outcome {
                pb::OpOutcome::Applied => "applied",
                pb::OpOutcome::Duplicate => "duplicate",
                pb::OpOutcome::Conflict => "conflict",
                _ => "rejected",
            };
            crate::metrics::ops_settled(name, count);
        }
    }
    let oldest =
        ops.iter().filter_map(|op| op.device_time.as_ref()).filter_map(|t| convert::datetime(t, "").ok()).min();
    if let Some(recorded) = oldest {
        // Device times and the skew are bounded by validation, so this cannot overflow.
        crate::metrics::oldest_op_waited((now - (recorded + skew)).to_std().unwrap_or_default());
    }
}

/// Puts the slip's state after the batch on the last refused result of each slip the engineer
/// still has, so the device can show what it conflicts with. A slip that left the engineer is
/// not shown (the device keeps its own snapshot). Applied ops carry no slip: the device's next
/// pull brings every slip the batch changed, and a response stays small however many ops it holds.
async fn attach_slips(
    txn: &DatabaseTransaction,
    caller: &Caller,
    ops: &[pb::Op],
    results: &mut [pb::OpResult],
) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (op, result) in ops.iter().zip(results.iter_mut()).rev() {
        let refused = matches!(result.outcome(), pb::OpOutcome::Conflict | pb::OpOutcome::Rejected);
        result.slip = None;
        if refused && !op.slip_id.is_empty() && seen.insert(op.slip_id.as_str()) {
            result.slip = match slips::find(txn, &op.slip_id).await? {
                Some(model) if slips::assigned_to(&model, caller.engineer_id) => {
                    Some(visit::full_view(txn, &model).await?)
                }
                _ => None,
            };
        }
    }
    Ok(())
}

fn validate(req: &pb::PushRequest) -> Result<()> {
    let mut v = Violations::new();
    if uuid::Uuid::parse_str(&req.device_id).is_err() {
        v.push("device_id", "must be the UUID of a registered device");
    }
    if let Some(t) = &req.device_time {
        v.take(convert::datetime(t, "device_time").and_then(|t| op::device_time(t, "device_time")));
    }
    if req.ops.is_empty() || req.ops.len() > MAX_OPS {
        v.push("ops", format!("send between 1 and {MAX_OPS} ops"));
    }
    for (i, op) in req.ops.iter().enumerate() {
        if uuid::Uuid::parse_str(&op.op_id).is_err() {
            v.push(format!("ops[{i}].op_id"), "must be a UUID");
        }
        if op.device_id != req.device_id {
            v.push(format!("ops[{i}].device_id"), "must be the pushing device");
        }
        let expected = req.ops[0].device_seq + i as i64;
        if op.device_seq < 1 || op.device_seq != expected {
            v.push(format!("ops[{i}].device_seq"), "must be at least 1 and follow the previous op by exactly 1");
        }
        if op.payload.is_none() {
            v.push(format!("ops[{i}].payload"), "is required");
        }
        // Device clocks are corrected by the skew: bounded times keep that arithmetic in range.
        if let Some(t) = &op.device_time {
            let field = format!("ops[{i}].device_time");
            v.take(convert::datetime(t, &field).and_then(|t| op::device_time(t, &field)));
        }
    }
    v.check()?;
    Ok(())
}

/// Applies one op through the batch. `None` when it must wait for an attachment.
async fn apply(
    txn: &DatabaseTransaction,
    batch: &mut Batch<'_>,
    caller: &Caller,
    device: &device::Model,
    op: &pb::Op,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<Option<pb::OpResult>> {
    let mut result = pb::OpResult { op_id: op.op_id.clone(), device_seq: op.device_seq, ..Default::default() };
    let Some(payload) = op.payload.as_ref() else {
        return Err(Error::invalid("ops.payload", "is required"));
    };
    let op_time = op.device_time.as_ref().and_then(|t| convert::datetime(t, "device_time").ok()).unwrap_or(now);
    let action = DeviceAction::try_from(payload);
    // A revoked phone's ops are refused; the records they carry are kept below.
    let applied = match devices::refuse_revoked(device).map(|()| action) {
        Err(e) => Err(e),
        Ok(Err(e)) => Err(e.into()),
        // Validated before it writes, so it needs no savepoint.
        Ok(Ok(DeviceAction::Positions(report))) => report_location(txn, caller, &report, now, skew).await,
        Ok(Ok(DeviceAction::Withdrawn(withdrawal))) => withdrawn(&withdrawal),
        Ok(Ok(DeviceAction::Visit(visit_op))) => {
            let ctx = Context {
                request_id: &op.op_id,
                slip_id: &op.slip_id,
                etag: "",
                now,
                device: Some(DeviceClock { device_id: device.id.clone(), op_time, skew }),
            };
            match intents::step(&visit_op, None, &ctx) {
                Ok(step) => batch.apply(step, now).await,
                Err(e) => Err(e),
            }
        }
    };
    match applied {
        Ok(()) => {
            result.outcome = pb::OpOutcome::Applied.into();
            Ok(Some(result))
        }
        Err(Error::Domain(DomainError::Precondition { reason: SIGNATURE_IMAGE_MISSING, .. })) => Ok(None),
        Err(e) => {
            // A slip the engineer never had is refused as one that does not exist
            // (`visit::apply`), and nothing is kept on it.
            let current = batch.known_slip(&op.slip_id);
            let refusal = Refusal::of(e)?;
            let reason = refusal.reason_on(current, caller);
            if let (Some(model), Some(record)) = (current, fact_record(payload)) {
                let flagged = pb::FlaggedRecord {
                    op_id: op.op_id.clone(),
                    device_id: device.id.clone(),
                    recorded_by: caller.user_id.to_string(),
                    reason: reason.to_owned(),
                    message: refusal.message.clone(),
                    received_at: Some(convert::timestamp(now)),
                    record: Some(record),
                };
                flags::keep(txn, &model.id, flagged, now).await?;
            }
            let moved_on = matches!(reason, "SLIP_REASSIGNED" | "SLIP_CANCELLED" | "INVALID_TRANSITION");
            result.outcome = if moved_on { pb::OpOutcome::Conflict.into() } else { pb::OpOutcome::Rejected.into() };
            result.error =
                Some(pb::OpError { reason: reason.to_owned(), message: refusal.message, field: refusal.field });
            Ok(Some(result))
        }
    }
}

/// A withdrawn op is answered with its own refusal, so the device's sequence goes on.
fn withdrawn(withdrawal: &op::Withdrawal) -> Result<()> {
    withdrawal.validate()?;
    Err(Error::precondition(
        "OP_WITHDRAWN",
        format!("the device withdrew this op ({}): {}", withdrawal.reason, withdrawal.message),
    ))
}

async fn report_location(
    db: &DatabaseTransaction,
    caller: &Caller,
    report: &PositionReport,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<()> {
    let engineer = caller.engineer_id.ok_or(Error::PermissionDenied("only an engineer reports a location"))?;
    let fixes = intents::location_fixes(report, now, skew)?;
    engineers::record_positions(db, &engineer.to_string(), &fixes, to_us(now)).await?;
    Ok(())
}

/// Why an op was refused, as the device is told.
struct Refusal {
    reason: &'static str,
    message: String,
    /// The first field violated, for invalid input.
    field: String,
}

impl Refusal {
    /// The refusal of a failed op; errors that are not the op's fault abort the batch.
    fn of(error: Error) -> Result<Self> {
        let message = error.to_string();
        let field = match &error {
            Error::Domain(domain) => domain.first_field().unwrap_or_default().to_owned(),
            _ => String::new(),
        };
        let reason = match (&error, error.classify()) {
            // A record id the device reused: refuse the op rather than wedge the queue.
            (Error::Database(e), _) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                "DUPLICATE_RECORD"
            }
            (_, (Code::Internal | Code::Unavailable | Code::Unauthenticated, _))
            | (_, (_, "SEQUENCE_GAP" | "REQUEST_ID_REUSED")) => return Err(error),
            (_, (_, reason)) => reason,
        };
        Ok(Self { reason, message, field })
    }

    /// The reason, made specific when the slip moved away from the engineer.
    fn reason_on(&self, current: Option<&crate::store::entities::slip::Model>, caller: &Caller) -> &'static str {
        let Some(slip) = current else { return self.reason };
        if slip.state == SlipState::Cancelled.as_str() {
            return "SLIP_CANCELLED";
        }
        let mine = caller.engineer_id.is_some_and(|e| slip.engineer_id.as_deref() == Some(e.to_string().as_str()));
        if !mine && matches!(self.reason, "SLIP_NOT_ASSIGNED" | "INVALID_TRANSITION" | "ROLE_NOT_ALLOWED") {
            return "SLIP_REASSIGNED";
        }
        self.reason
    }
}

/// The record an op adds, if it only adds facts: such records are kept even when refused.
fn fact_record(payload: &Payload) -> Option<pb::flagged_record::Record> {
    use pb::flagged_record::Record;
    match payload {
        Payload::LogBackup(b) => Some(Record::Backup(b.clone())),
        Payload::RecordFix(f) => Some(Record::Fix(f.clone())),
        Payload::AddPartsCost(p) => Some(Record::CostLines(pb::CostLines { lines: p.lines.clone() })),
        Payload::CaptureSignOff(s) => Some(Record::SignOff(s.clone())),
        Payload::DraftQuote(q) => Some(Record::QuoteDraft(q.clone())),
        Payload::DecideQuote(d) => Some(Record::QuoteDecision(d.clone())),
        _ => None,
    }
}
