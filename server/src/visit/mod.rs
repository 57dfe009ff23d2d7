//! The engineer's visit actions. The unary `SlipService` RPCs and the ops a device pushes
//! through `SyncService` take the same path: a core op (`onsite_core::op`, validated there,
//! as on the phone) becomes a [`Step`] in [`intents`], and [`apply`] runs it in the caller's
//! transaction with the checks that need the database.

pub mod intents;
mod signature;

use chrono::{DateTime, Utc};
use onsite_core::slip::SlipAction;
use onsite_proto::v1 as pb;
use prost::Message;
use sea_orm::{ConnectionTrait, DatabaseTransaction, EntityTrait};

use crate::app::App;
use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::idempotency;
use crate::repo::records::{self, NewRecord};
use crate::repo::slips::{self as repo, Act, Origin};
use crate::repo::{appointments, engineers, follow_ups};
pub(crate) use crate::slip_views::full_view;
use crate::store::entities::{attachment, slip};

/// Extra fields a transition sets, given the slip as it was.
pub(crate) type Extra = Box<dyn FnOnce(&slip::Model, &mut slip::ActiveModel) + Send>;

/// Reason of a completion whose signature image has not been uploaded yet. A device push
/// stops before such an op and sends it again after the upload.
pub const SIGNATURE_IMAGE_MISSING: &str = "SIGNATURE_IMAGE_MISSING";

/// One transition as a handler or an op asks for it.
pub(crate) struct Step {
    pub method: &'static str,
    pub request_id: String,
    pub slip_id: String,
    pub etag: String,
    pub action: SlipAction,
    pub detail: String,
    pub extra: Extra,
    pub record: NewRecord,
    /// The device and its clock, for ops pushed by a device.
    pub origin: Option<Origin>,
}

impl Step {
    pub(crate) fn new(method: &'static str, request_id: &str, slip_id: &str, etag: &str, action: SlipAction) -> Self {
        Self {
            method,
            request_id: request_id.to_owned(),
            slip_id: slip_id.to_owned(),
            etag: etag.to_owned(),
            action,
            detail: String::new(),
            extra: Box::new(|_, _| {}),
            record: NewRecord::None,
            origin: None,
        }
    }

    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    pub(crate) fn extra(mut self, extra: impl FnOnce(&slip::Model, &mut slip::ActiveModel) + Send + 'static) -> Self {
        self.extra = Box::new(extra);
        self
    }

    pub(crate) fn record(mut self, record: NewRecord) -> Self {
        self.record = record;
        self
    }
}

/// Runs one step idempotently (by its request id) in its own transaction.
pub(crate) async fn perform<R: Message>(
    app: &App,
    caller: &Caller,
    request: &R,
    step: Step,
    now: DateTime<Utc>,
) -> Result<pb::Slip> {
    let (method, request_id) = (step.method, step.request_id.clone());
    idempotency::run(app, caller, method, &request_id, request, |txn| async {
        let saved = apply(&txn, caller, step, now).await?;
        let view = full_view(&txn, &saved).await?;
        Ok((txn, view))
    })
    .await
}

/// An engineer acts only on slips they have or had; any other answers as no slip at all, so
/// its existence does not leak. (A displaced engineer learns the slip moved on.)
async fn ensure_known(txn: &DatabaseTransaction, caller: &Caller, slip_id: &str) -> Result<()> {
    if caller.actor().is_manager() {
        return Ok(());
    }
    let id: onsite_core::id::SlipId = onsite_proto::convert::id(slip_id, "slip_id")?;
    let known = match caller.engineer_id {
        Some(engineer) => repo::ever_assigned(txn, &id.to_string(), engineer).await?,
        None => false,
    };
    if known { Ok(()) } else { Err(Error::not_found("slip", id)) }
}

/// Whether [`apply`] checks `action` against more than its slip: these are the actions a
/// push's batch applier runs through [`apply`] rather than deciding them in memory.
pub(crate) fn checks_database(action: &SlipAction) -> bool {
    matches!(
        action,
        SlipAction::Dispatch { .. }
            | SlipAction::BookAppointment { .. }
            | SlipAction::Reschedule { .. }
            | SlipAction::CaptureSignOff
            | SlipAction::DecideQuote { .. }
            | SlipAction::Complete
    )
}

/// Applies one step in `txn` and returns the saved slip: a dispatched engineer must not be
/// off, a booked window must not overlap another appointment of the engineer, a sign-off must
/// verify against the device's key and the records it names, and completion needs the
/// signature image (see [`checks_database`]).
pub(crate) async fn apply(
    txn: &DatabaseTransaction,
    caller: &Caller,
    step: Step,
    now: DateTime<Utc>,
) -> Result<slip::Model> {
    let Step { method: _, request_id, slip_id, etag, action, detail, extra, mut record, origin } = step;
    ensure_known(txn, caller, &slip_id).await?;
    match &action {
        SlipAction::Dispatch { engineer, .. } => {
            let engineer = engineers::load(txn, &engineer.to_string(), "engineer_id").await?;
            if engineer.status == "off" {
                return Err(Error::precondition("ENGINEER_OFF", "the engineer is off and cannot be dispatched"));
            }
        }
        SlipAction::BookAppointment { window } | SlipAction::Reschedule { window, .. } => {
            let current = repo::load(txn, &slip_id).await?;
            if let Some(engineer) = current.engineer_id.as_deref() {
                // Bookings of one engineer queue on the engineer's row (see repo::appointments).
                engineers::load_for_update(txn, engineer).await?;
                appointments::ensure_free(txn, engineer, window, &current.id).await?;
            }
        }
        SlipAction::CaptureSignOff => {
            if let NewRecord::SignOff(sign_off) = &mut record {
                let current = repo::load(txn, &slip_id).await?;
                // Only a sign-off that could be applied is worth verifying against the records.
                repo::domain(&current)?.decide(&caller.actor(), &action)?;
                let view = full_view(txn, &current).await?;
                signature::verify(txn, caller, &view, sign_off).await?;
            }
        }
        SlipAction::DecideQuote { .. } => {
            if let NewRecord::QuoteDecision(decision) = &mut record {
                let current = repo::load(txn, &slip_id).await?;
                // Only a decision that could be applied is worth verifying against the quote.
                repo::domain(&current)?.decide(&caller.actor(), &action)?;
                let view = full_view(txn, &current).await?;
                signature::verify_quote(txn, caller, &view, decision).await?;
            }
        }
        SlipAction::Complete => {
            let current = repo::load(txn, &slip_id).await?;
            repo::domain(&current)?.decide(&caller.actor(), &action)?;
            ensure_signature_images(txn, &current).await?;
        }
        _ => {}
    }
    let act = Act { caller, action, etag: &etag, now, request_id: &request_id, detail, origin };
    let acted = crate::lifecycle::act(txn, &slip_id, act, extra).await?;
    // An unhappy customer's sign-off opens a follow-up for the manager.
    if let NewRecord::SignOff(sign_off) = &record {
        follow_ups::open_if_unhappy(txn, &acted.saved, sign_off, now).await?;
    }
    records::insert_record(txn, &acted.saved, record.decided(&acted.transition), caller, now).await?;
    Ok(acted.saved)
}

/// The full view of a slip the caller may see (as `repo::slips::load_visible`), from the
/// views kept since the slip last changed when there is one (see `slip_views`).
pub(crate) async fn visible_view(app: &App, caller: &Caller, id: &str) -> Result<pb::Slip> {
    let id: onsite_core::id::SlipId = onsite_proto::convert::id(id, "slip_id")?;
    let kept = app.slip_views.read(&app.db, &id.to_string()).await?;
    if caller.actor().is_manager() || repo::assigned_to(&kept.model, caller.engineer_id) {
        Ok(kept.view.clone())
    } else {
        Err(Error::not_found("slip", id))
    }
}

/// Before a visit completes, every signature it holds must be on the server and readable: the
/// sign-off's, and those of a waiver or a custody authorisation.
async fn ensure_signature_images(db: &impl ConnectionTrait, slip: &slip::Model) -> Result<()> {
    use crate::store::entities::{backup, fix, sign_off};
    use sea_orm::{ColumnTrait, QueryFilter};
    let mut hashes = Vec::new();
    if let Some(sign_off) = sign_off::Entity::find_by_id(slip.id.clone()).one(db).await?
        && sign_off.signature_png.is_empty()
    {
        hashes.push(sign_off.signature_png_sha256);
    }
    let backups = backup::Entity::find().filter(backup::Column::SlipId.eq(&slip.id)).all(db).await?;
    hashes.extend(backups.into_iter().filter_map(|b| b.waiver_png_sha256));
    let fixes = fix::Entity::find().filter(fix::Column::SlipId.eq(&slip.id)).all(db).await?;
    hashes.extend(fixes.into_iter().filter_map(|f| f.custody_png_sha256));
    for sha256 in hashes {
        ensure_signature_image(db, &sha256).await?;
    }
    Ok(())
}

async fn ensure_signature_image(db: &impl ConnectionTrait, sha256: &str) -> Result<()> {
    let uploaded = attachment::Entity::find_by_id(sha256.to_owned()).one(db).await?;
    if !uploaded.is_some_and(|a| a.complete) {
        return Err(Error::precondition(SIGNATURE_IMAGE_MISSING, "a signature image has not been uploaded yet"));
    }
    // A blank or unreadable image proves no signature, whatever the device signed.
    let png = crate::sync::attachments::content(db, sha256).await?.unwrap_or_default();
    onsite_core::image::signature(&png, "signature_png").map_err(|e| {
        Error::precondition("SIGNATURE_UNREADABLE", format!("the uploaded signature image {}", e.description))
    })
}
