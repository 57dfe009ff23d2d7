//! Validated core ops turned into [`Step`]s: the state-machine action, the slip fields it sets
//! and the record it adds, with device times corrected for the device's clock skew.
//!
//! The payload rules themselves live in `onsite_core::op`, which the device runs too. What
//! needs the database (assignment, double booking, attachments present, sign-off content) is
//! checked when the step is applied, in [`super::apply`].

use chrono::{DateTime, Duration, Utc};
use onsite_core::FieldViolation;
use onsite_core::op::{self, BackupRecord, CostLine, FixRecord, PositionReport, SignOff, VisitOp};
use onsite_core::slip::SlipAction;
use sea_orm::Set;

use super::Step;
use crate::error::Result;
use crate::repo::engineers::Fix;
use crate::repo::join_lines;
use crate::repo::quotes::{self, SignedDecision};
use crate::repo::records::NewRecord;
use crate::repo::slips::Origin;
use crate::store::entities::{backup, cost_line, fix, sign_off};
use crate::store::to_us;

/// Where and when an action happened.
#[derive(Clone, Debug)]
pub(crate) struct Context<'a> {
    pub request_id: &'a str,
    pub slip_id: &'a str,
    pub etag: &'a str,
    /// Server time.
    pub now: DateTime<Utc>,
    /// Set for ops pushed by a device.
    pub device: Option<DeviceClock>,
}

/// A device's clock as seen from the server.
#[derive(Clone, Debug)]
pub(crate) struct DeviceClock {
    pub device_id: String,
    /// When the op happened, by the device's clock.
    pub op_time: DateTime<Utc>,
    /// Server clock minus device clock, measured when the batch arrived.
    pub skew: Duration,
}

impl Context<'_> {
    /// A device time corrected for the device's clock skew, never later than now. Checked:
    /// a time the correction would carry out of range is a violation of `field`.
    fn correct(&self, device_time: DateTime<Utc>, field: &str) -> Result<DateTime<Utc>, FieldViolation> {
        let skew = self.device.as_ref().map_or(Duration::zero(), |d| d.skew);
        device_time
            .checked_add_signed(skew)
            .map(|t| t.min(self.now))
            .ok_or_else(|| FieldViolation::new(field, "is out of range once corrected for the device's clock"))
    }

    /// When the action happened: the op's corrected device time, or now.
    fn happened_at(&self) -> Result<DateTime<Utc>, FieldViolation> {
        self.device.as_ref().map_or(Ok(self.now), |d| self.correct(d.op_time, "device_time"))
    }

    /// A record's device time (corrected), or when the action happened.
    fn record_time(&self, at: Option<DateTime<Utc>>, field: &str) -> Result<i64> {
        let at = match at {
            Some(at) => self.correct(at, field)?,
            None => self.happened_at()?,
        };
        Ok(to_us(at))
    }

    fn step(&self, method: &'static str, action: SlipAction) -> Step {
        let mut step = Step::new(method, self.request_id, self.slip_id, self.etag, action);
        step.origin =
            self.device.as_ref().map(|d| Origin { device_id: d.device_id.clone(), device_time_us: to_us(d.op_time) });
        step
    }
}

/// The step of a visit op, after the op's own validation. `signature_png` is the sign-off's
/// image when the unary call carries it inline; a pushed sign-off's image is an attachment.
pub(crate) fn step(op: &VisitOp, signature_png: Option<&[u8]>, ctx: &Context<'_>) -> Result<Step> {
    let action = op.validate()?;
    let step = ctx.step(method(op), action);
    Ok(match op {
        VisitOp::Confirm | VisitOp::StartTravel | VisitOp::Complete => step,
        VisitOp::Decline(d) => {
            let reason = d.reason.trim().to_owned();
            step.detail(reason.clone()).extra(move |_, c| c.decline_reason = Set(reason))
        }
        VisitOp::Book(b) => {
            let contact = b.contact_name.trim().to_owned();
            step.detail(format!("{} - {} with {contact}", b.window.start, b.window.end))
                .extra(move |_, c| c.appointment_contact = Set(contact))
        }
        VisitOp::Reschedule(r) => {
            let (window, reason, informed) = (r.window, r.reason.trim().to_owned(), r.customer_informed);
            let detail = format!("to {} - {}: {reason} (customer informed: {informed})", window.start, window.end);
            step.detail(detail).extra(move |current, c| {
                c.reschedule_count = Set(current.reschedule_count.saturating_add(1));
                c.last_reschedule_reason = Set(reason);
                c.customer_informed = Set(informed);
            })
        }
        VisitOp::CheckIn(check_in) => {
            let position = check_in.position;
            let arrived = to_us(ctx.happened_at()?);
            step.detail(format!("at {:.5}, {:.5}", position.latitude(), position.longitude())).extra(
                move |current, c| {
                    c.arrived_at_us = Set(Some(arrived));
                    c.check_in_latitude = Set(Some(position.latitude()));
                    c.check_in_longitude = Set(Some(position.longitude()));
                    // On time: at the latest by the end of the agreed window.
                    c.arrived_on_time = Set(current.appointment_end_us.is_some_and(|end| arrived <= end));
                },
            )
        }
        VisitOp::LogBackup(b) => {
            let model = backup_model(b, ctx)?;
            step.detail(model.kind.clone()).record(NewRecord::Backup(model))
        }
        VisitOp::RecordFix(f) => {
            let model = fix_model(f, ctx)?;
            step.detail(model.outcome.clone()).record(NewRecord::Fix(model))
        }
        VisitOp::AddPartsCost(p) => {
            let at = to_us(ctx.happened_at()?);
            let lines: Vec<_> = p.lines.iter().map(|line| cost_line_model(&line.stored(), at)).collect();
            step.detail(format!("{} line(s)", lines.len())).record(NewRecord::Costs(lines))
        }
        VisitOp::DraftQuote(q) => {
            let model = quotes::drafted(&q.id, &q.lines, to_us(ctx.happened_at()?))?;
            let detail = format!("quote {}: {} line(s), {} {}", q.id, q.lines.len(), model.total_minor, model.currency);
            step.detail(detail).record(NewRecord::Quote(model))
        }
        VisitOp::DecideQuote(d) => {
            let verb = if d.accepted { "accepted" } else { "declined" };
            let detail = format!("quote {}: {verb} by {} on the phone", d.quote_id, d.signer_name.trim());
            let decision = SignedDecision {
                quote_id: d.quote_id.clone(),
                accepted: d.accepted,
                signer_name: d.signer_name.clone(),
                decided_at_us: ctx.record_time(d.signed_at, "decision.signed_at")?,
                signature_png_sha256: d.signature_png_sha256.clone(),
                content_sha256: d.content_sha256.clone(),
                content: d.content.clone(),
                device_signature: d.device_signature.clone(),
                device_id: d.device_id.clone(),
                verified: false,
                recorded_by: String::new(),
            };
            step.detail(detail).record(NewRecord::QuoteDecision(decision))
        }
        VisitOp::CaptureSignOff(s) => {
            let model = sign_off_model(s, signature_png, ctx)?;
            step.detail(format!("signed by {}", model.signer_name)).record(NewRecord::SignOff(model))
        }
    })
}

/// The manager cancels a slip; the reason is kept on it.
pub(crate) fn cancel(reason: &str, ctx: &Context<'_>) -> Step {
    let reason = reason.trim().to_owned();
    ctx.step("CancelSlip", SlipAction::Cancel { reason: reason.clone() })
        .detail(reason.clone())
        .extra(move |_, c| c.cancel_reason = Set(reason))
}

/// The audit method name of an op, as the unary RPC is called.
fn method(op: &VisitOp) -> &'static str {
    match op {
        VisitOp::Confirm => "ConfirmSlip",
        VisitOp::Decline(_) => "DeclineSlip",
        VisitOp::Book(_) => "BookAppointment",
        VisitOp::Reschedule(_) => "RescheduleAppointment",
        VisitOp::StartTravel => "StartTravel",
        VisitOp::CheckIn(_) => "CheckIn",
        VisitOp::LogBackup(_) => "LogBackup",
        VisitOp::RecordFix(_) => "RecordFix",
        VisitOp::AddPartsCost(_) => "AddPartsCost",
        VisitOp::DraftQuote(_) => "DraftQuote",
        VisitOp::DecideQuote(_) => "DecideQuote",
        VisitOp::CaptureSignOff(_) => "CaptureSignOff",
        VisitOp::Complete => "CompleteSlip",
    }
}

/// A record id as the device made it, or a new one.
fn record_id(id: &str) -> String {
    if id.is_empty() { uuid::Uuid::now_v7().to_string() } else { id.to_owned() }
}

fn backup_model(b: &BackupRecord, ctx: &Context<'_>) -> Result<backup::Model> {
    let kind = b.kind.required("backup.kind")?;
    let b = b.stored();
    Ok(backup::Model {
        id: record_id(&b.id),
        slip_id: String::new(),
        kind: kind.as_str().to_owned(),
        location: b.location.clone(),
        note: b.note.clone(),
        attachments: join_lines(&b.attachments),
        recorded_by: String::new(),
        recorded_at_us: ctx.record_time(b.recorded_at, "backup.recorded_at")?,
        contents: b.contents.clone(),
        size_bytes: b.size_bytes,
        performed_by: b.performed_by.clone(),
        verified: b.verified,
        waiver_signer: b.waiver.as_ref().map(|w| w.signer_name.clone()),
        waiver_png_sha256: b.waiver.as_ref().map(|w| w.png_sha256.clone()),
        waiver_signed_at_us: b
            .waiver
            .as_ref()
            .map(|w| ctx.record_time(w.signed_at, "backup.waiver.signed_at"))
            .transpose()?,
    })
}

fn fix_model(f: &FixRecord, ctx: &Context<'_>) -> Result<fix::Model> {
    let outcome = f.outcome.required("fix.outcome")?;
    let custody = f.custody.as_ref();
    Ok(fix::Model {
        id: record_id(&f.id),
        slip_id: String::new(),
        outcome: outcome.as_str().to_owned(),
        root_cause: f.root_cause.known().map(|c| c.as_str().to_owned()),
        cause: f.cause.clone(),
        solution: f.solution.clone(),
        prevention: f.prevention.clone(),
        time_spent_minutes: f.time_spent_minutes,
        data_taken_off_site: f.data_taken_off_site,
        attachments: join_lines(&f.attachments),
        recorded_by: String::new(),
        recorded_at_us: ctx.record_time(f.recorded_at, "fix.recorded_at")?,
        custody_scope: custody.map(|c| c.scope.trim().to_owned()),
        custody_signer: custody.map(|c| c.signature.signer_name.trim().to_owned()),
        custody_png_sha256: custody.map(|c| c.signature.png_sha256.clone()),
        custody_signed_at_us: custody
            .map(|c| ctx.record_time(c.signature.signed_at, "fix.custody.signature.signed_at"))
            .transpose()?,
    })
}

/// A validated cost line, in its stored form, as a row.
pub(crate) fn cost_line_model(line: &CostLine, at_us: i64) -> cost_line::Model {
    let price = line.unit_price.clone().unwrap_or(op::Price { minor_units: 0, currency_code: String::new() });
    cost_line::Model {
        id: record_id(&line.id),
        slip_id: String::new(),
        kind: line.kind.known().map_or("", |k| k.as_str()).to_owned(),
        description: line.description.clone(),
        part_number: line.part_number.clone(),
        quantity: line.quantity,
        unit_price_minor: price.minor_units,
        currency: price.currency_code,
        billable: line.billable,
        recorded_by: String::new(),
        recorded_at_us: at_us,
        billable_override_reason: None,
    }
}

fn sign_off_model(s: &SignOff, png: Option<&[u8]>, ctx: &Context<'_>) -> Result<sign_off::Model> {
    if let Some(png) = png {
        let mut v = onsite_core::error::Violations::new();
        if v.take(onsite_core::image::signature(png, "signature_png")).is_some()
            && s.signature_png_sha256 != onsite_proto::signoff::sha256_hex(png)
        {
            v.push("sign_off.signature_png_sha256", "does not match the signature image");
        }
        v.check()?;
    }
    // As the device signed it: this time is part of the signed content, so it is not corrected.
    let signed_at = match s.signed_at {
        Some(at) => to_us(at),
        None => to_us(ctx.happened_at()?),
    };
    Ok(sign_off::Model {
        slip_id: String::new(),
        signer_name: s.signer_name.trim().to_owned(),
        satisfaction: s.satisfaction.known().map(|s| s.as_str().to_owned()),
        service_quality_rating: s.service_quality_rating,
        product_rating: s.product_rating,
        support_rating: s.support_rating,
        customer_opinion: s.customer_opinion.clone(),
        signature_png: png.map(<[u8]>::to_vec).unwrap_or_default(),
        signature_png_sha256: s.signature_png_sha256.clone(),
        report_content_sha256: s.report_content_sha256.clone(),
        device_signature: s.device_signature.clone(),
        device_id: s.device_id.clone(),
        signed_at_us: signed_at,
        verified: false,
        recorded_by: String::new(),
        report_content: Some(s.report_content.clone()),
    })
}

/// Validates a report of fixes and corrects their device times by the device's clock `skew`
/// (server minus device); a missing time means now.
pub(crate) fn location_fixes(report: &PositionReport, now: DateTime<Utc>, skew: Duration) -> Result<Vec<Fix>> {
    report.validate()?;
    let fixes = report
        .fixes
        .iter()
        .enumerate()
        .map(|(i, fix)| {
            let time = match fix.time {
                Some(t) => t.checked_add_signed(skew).ok_or_else(|| {
                    FieldViolation::new(format!("reports[{i}].time"), "is out of range once corrected for the clock")
                })?,
                None => now,
            };
            Ok(Fix {
                position: fix.position(&format!("reports[{i}].position"))?,
                device_time_us: to_us(time),
                accuracy_m: fix.accuracy_m,
            })
        })
        .collect::<Result<_, FieldViolation>>()?;
    Ok(fixes)
}
