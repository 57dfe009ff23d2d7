//! Wire payloads of the engineer's actions, validated into [`Step`]s. Each field violation
//! names the field as the unary request spells it (`fix.solution`, `lines[2].quantity`).

use chrono::{DateTime, Duration, Utc};
use onsite_core::FieldViolation;
use onsite_core::error::Violations;
use onsite_core::money::Currency;
use onsite_core::slip::{BackupKind, CostKind, FixOutcome, Satisfaction, SlipAction};
use onsite_core::ticket::{MAX_SHORT, MAX_TEXT, RootCause};
use onsite_proto::convert;
use onsite_proto::signoff::sha256_hex;
use onsite_proto::v1::{self as pb, op::Payload};
use sea_orm::Set;

use super::Step;
use crate::error::{Error, Result};
use crate::repo::engineers::Fix;
use crate::repo::join_lines;
use crate::repo::slips::{NewRecord, Origin};
use crate::store::entities::{backup, cost_line, fix, sign_off};
use crate::store::to_us;

/// Largest signature image accepted.
pub const MAX_SIGNATURE_PNG: usize = 1024 * 1024;
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

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
    /// A device time corrected for the device's clock skew, never later than now.
    fn correct(&self, device_time: DateTime<Utc>) -> DateTime<Utc> {
        let skew = self.device.as_ref().map_or(Duration::zero(), |d| d.skew);
        (device_time + skew).min(self.now)
    }

    /// When the action happened: the op's corrected device time, or now.
    fn happened_at(&self) -> DateTime<Utc> {
        self.device.as_ref().map_or(self.now, |d| self.correct(d.op_time))
    }

    /// A record's device time (corrected), or when the action happened.
    fn record_time(&self, ts: Option<&prost_types::Timestamp>, field: &str) -> Result<DateTime<Utc>, FieldViolation> {
        ts.map_or(Ok(self.happened_at()), |ts| convert::datetime(ts, field).map(|t| self.correct(t)))
    }

    fn step(&self, method: &'static str, action: SlipAction) -> Step {
        let mut step = Step::new(method, self.request_id, self.slip_id, self.etag, action);
        step.origin =
            self.device.as_ref().map(|d| Origin { device_id: d.device_id.clone(), device_time_us: to_us(d.op_time) });
        step
    }
}

/// The step of a pushed op's payload. Position reports are not slip steps.
pub(crate) fn step(payload: &Payload, ctx: &Context<'_>) -> Result<Step> {
    match payload {
        Payload::Confirm(_) => Ok(ctx.step("ConfirmSlip", SlipAction::Confirm)),
        Payload::Decline(d) => decline(&d.reason, ctx),
        Payload::BookAppointment(b) => book(b.window.as_ref(), &b.contact_name, ctx),
        Payload::Reschedule(r) => reschedule(r.window.as_ref(), &r.reason, r.customer_informed, ctx),
        Payload::StartTravel(_) => Ok(ctx.step("StartTravel", SlipAction::StartTravel)),
        Payload::CheckIn(c) => check_in(c.position.as_ref(), ctx),
        Payload::LogBackup(b) => log_backup(b, ctx),
        Payload::RecordFix(f) => record_fix(f, ctx),
        Payload::AddPartsCost(p) => add_parts_cost(&p.lines, ctx),
        Payload::CaptureSignOff(s) => capture_sign_off(s, None, ctx),
        Payload::Complete(_) => Ok(ctx.step("CompleteSlip", SlipAction::Complete)),
        Payload::ReportLocation(_) => Err(Error::Internal("position reports are not slip steps".into())),
    }
}

pub(crate) fn decline(reason: &str, ctx: &Context<'_>) -> Result<Step> {
    let reason = reason.trim().to_owned();
    let action = SlipAction::Decline { reason: reason.clone() };
    Ok(ctx.step("DeclineSlip", action).detail(reason.clone()).extra(move |_, c| c.decline_reason = Set(reason)))
}

pub(crate) fn book(window: Option<&pb::TimeWindow>, contact_name: &str, ctx: &Context<'_>) -> Result<Step> {
    let window = convert::window(window, "window")?;
    let mut v = Violations::new();
    v.required_text("contact_name", contact_name, MAX_SHORT);
    v.check()?;
    let contact = contact_name.trim().to_owned();
    Ok(ctx
        .step("BookAppointment", SlipAction::BookAppointment { window })
        .detail(format!("{} - {} with {contact}", window.start, window.end))
        .extra(move |_, c| c.appointment_contact = Set(contact)))
}

pub(crate) fn reschedule(
    window: Option<&pb::TimeWindow>,
    reason: &str,
    informed: bool,
    ctx: &Context<'_>,
) -> Result<Step> {
    let window = convert::window(window, "window")?;
    let reason = reason.trim().to_owned();
    let action = SlipAction::Reschedule { window, reason: reason.clone(), customer_informed: informed };
    let detail = format!("to {} - {}: {reason} (customer informed: {informed})", window.start, window.end);
    Ok(ctx.step("RescheduleAppointment", action).detail(detail).extra(move |current, c| {
        c.reschedule_count = Set(current.reschedule_count + 1);
        c.last_reschedule_reason = Set(reason);
        c.customer_informed = Set(informed);
    }))
}

pub(crate) fn check_in(position: Option<&pb::GeoPoint>, ctx: &Context<'_>) -> Result<Step> {
    let position = convert::geo_point(position, "position")?;
    let arrived = to_us(ctx.happened_at());
    Ok(ctx
        .step("CheckIn", SlipAction::CheckIn)
        .detail(format!("at {:.5}, {:.5}", position.latitude(), position.longitude()))
        .extra(move |current, c| {
            c.arrived_at_us = Set(Some(arrived));
            c.check_in_latitude = Set(Some(position.latitude()));
            c.check_in_longitude = Set(Some(position.longitude()));
            // On time: at the latest by the end of the agreed window.
            c.arrived_on_time = Set(current.appointment_end_us.is_some_and(|end| arrived <= end));
        }))
}

pub(crate) fn log_backup(b: &pb::BackupRecord, ctx: &Context<'_>) -> Result<Step> {
    let kind: BackupKind = convert::required(b.kind, "backup.kind")?;
    let mut v = Violations::new();
    v.required_text("backup.location", &b.location, 500);
    v.optional_text("backup.note", &b.note, MAX_TEXT);
    check_hashes(&mut v, "backup.attachment_sha256", &b.attachment_sha256);
    let id = v.take(record_id(&b.id, "backup.id"));
    let at = v.take(ctx.record_time(b.recorded_at.as_ref(), "backup.recorded_at"));
    v.check()?;
    let model = backup::Model {
        id: id.unwrap_or_default(),
        slip_id: String::new(),
        kind: kind.as_str().to_owned(),
        location: b.location.trim().to_owned(),
        note: b.note.clone(),
        attachments: join_lines(&b.attachment_sha256),
        recorded_by: String::new(),
        recorded_at_us: to_us(at.unwrap_or(ctx.now)),
    };
    Ok(ctx.step("LogBackup", SlipAction::LogBackup { kind }).detail(kind.as_str()).record(NewRecord::Backup(model)))
}

pub(crate) fn record_fix(f: &pb::FixRecord, ctx: &Context<'_>) -> Result<Step> {
    let outcome: FixOutcome = convert::required(f.outcome, "fix.outcome")?;
    let mut v = Violations::new();
    let root_cause = v.take(convert::optional::<RootCause>(f.root_cause, "fix.root_cause")).flatten();
    v.optional_text("fix.cause", &f.cause, MAX_TEXT);
    v.required_text("fix.solution", &f.solution, MAX_TEXT);
    v.optional_text("fix.prevention", &f.prevention, MAX_TEXT);
    if !(0..=7 * 24 * 60).contains(&f.time_spent_minutes) {
        v.push("fix.time_spent_minutes", "must be between 0 and one week");
    }
    check_hashes(&mut v, "fix.attachment_sha256", &f.attachment_sha256);
    let id = v.take(record_id(&f.id, "fix.id"));
    let at = v.take(ctx.record_time(f.recorded_at.as_ref(), "fix.recorded_at"));
    v.check()?;
    let model = fix::Model {
        id: id.unwrap_or_default(),
        slip_id: String::new(),
        outcome: outcome.as_str().to_owned(),
        root_cause: root_cause.map(|c| c.as_str().to_owned()),
        cause: f.cause.clone(),
        solution: f.solution.clone(),
        prevention: f.prevention.clone(),
        time_spent_minutes: f.time_spent_minutes,
        data_removal_authorised: f.data_removal_authorised,
        attachments: join_lines(&f.attachment_sha256),
        recorded_by: String::new(),
        recorded_at_us: to_us(at.unwrap_or(ctx.now)),
    };
    Ok(ctx.step("RecordFix", SlipAction::RecordFix { outcome }).detail(outcome.as_str()).record(NewRecord::Fix(model)))
}

pub(crate) fn add_parts_cost(lines: &[pb::CostLine], ctx: &Context<'_>) -> Result<Step> {
    let mut v = Violations::new();
    if lines.is_empty() || lines.len() > 100 {
        v.push("lines", "send between 1 and 100 lines");
    }
    let at = to_us(ctx.happened_at());
    let lines: Vec<cost_line::Model> =
        lines.iter().enumerate().filter_map(|(i, line)| cost_line(&mut v, i, line, at)).collect();
    v.check()?;
    Ok(ctx
        .step("AddPartsCost", SlipAction::AddPartsCost)
        .detail(format!("{} line(s)", lines.len()))
        .record(NewRecord::Costs(lines)))
}

/// A sign-off with its image inline (unary) or uploaded as an attachment (`png` is `None`).
pub(crate) fn capture_sign_off(s: &pb::SignOff, png: Option<&[u8]>, ctx: &Context<'_>) -> Result<Step> {
    let model = sign_off_record(s, png, ctx)?;
    Ok(ctx
        .step("CaptureSignOff", SlipAction::CaptureSignOff)
        .detail(format!("signed by {}", model.signer_name))
        .record(NewRecord::SignOff(model)))
}

fn record_id(id: &str, field: &str) -> Result<String, FieldViolation> {
    if id.is_empty() {
        Ok(uuid::Uuid::now_v7().to_string())
    } else {
        uuid::Uuid::parse_str(id).map(|u| u.to_string()).map_err(|_| FieldViolation::new(field, "must be a UUID"))
    }
}

fn check_hashes(v: &mut Violations, field: &str, hashes: &[String]) {
    if hashes.len() > 50 || hashes.iter().any(|h| !is_sha256_hex(h)) {
        v.push(field, "at most 50 SHA-256 hashes, each 64 lower-case hex digits");
    }
}

/// Whether `h` is a lower-case hex SHA-256.
pub fn is_sha256_hex(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn cost_line(v: &mut Violations, i: usize, line: &pb::CostLine, at_us: i64) -> Option<cost_line::Model> {
    let field = |name: &str| format!("lines[{i}].{name}");
    let kind = v.take(convert::required::<CostKind>(line.kind, &field("kind")));
    v.required_text(&field("description"), &line.description, MAX_SHORT);
    v.optional_text(&field("part_number"), &line.part_number, 100);
    if !(1..=10_000).contains(&line.quantity) {
        v.push(field("quantity"), "must be between 1 and 10000");
    }
    let price = line.unit_price.as_ref();
    if price.is_none() {
        v.push(field("unit_price"), "is required");
    }
    let currency = price.and_then(|p| v.take(Currency::parse(&p.currency_code, &field("unit_price.currency_code"))));
    let id = v.take(record_id(&line.id, &field("id")));
    Some(cost_line::Model {
        id: id?,
        slip_id: String::new(),
        kind: kind?.as_str().to_owned(),
        description: line.description.trim().to_owned(),
        part_number: line.part_number.trim().to_owned(),
        quantity: line.quantity,
        unit_price_minor: price?.minor_units,
        currency: currency?.to_string(),
        billable: line.billable,
        recorded_by: String::new(),
        recorded_at_us: at_us,
    })
}

fn sign_off_record(s: &pb::SignOff, png: Option<&[u8]>, ctx: &Context<'_>) -> Result<sign_off::Model> {
    let mut v = Violations::new();
    v.required_text("sign_off.signer_name", &s.signer_name, MAX_SHORT);
    v.optional_text("sign_off.customer_opinion", &s.customer_opinion, MAX_TEXT);
    let satisfaction = v.take(convert::optional::<Satisfaction>(s.satisfaction, "sign_off.satisfaction")).flatten();
    for (name, rating) in [
        ("service_quality_rating", s.service_quality_rating),
        ("product_rating", s.product_rating),
        ("support_rating", s.support_rating),
    ] {
        if !(0..=5).contains(&rating) {
            v.push(format!("sign_off.{name}"), "must be 1-5, or 0 when not given");
        }
    }
    let png_hash = match png {
        Some(png) => {
            if png.is_empty() || png.len() > MAX_SIGNATURE_PNG || !png.starts_with(PNG_MAGIC) {
                v.push("signature_png", "must be a PNG image of at most 1 MiB");
            }
            let hash = sha256_hex(png);
            if !s.signature_png_sha256.is_empty() && s.signature_png_sha256 != hash {
                v.push("sign_off.signature_png_sha256", "does not match the signature image");
            }
            hash
        }
        None => {
            if !is_sha256_hex(&s.signature_png_sha256) {
                v.push("sign_off.signature_png_sha256", "must be the 64 lower-case hex digits of the uploaded image");
            }
            s.signature_png_sha256.clone()
        }
    };
    if !is_sha256_hex(&s.report_content_sha256) {
        v.push("sign_off.report_content_sha256", "must be 64 lower-case hex digits");
    }
    if s.report_content.is_empty() || s.report_content.len() > 256 * 1024 {
        v.push("sign_off.report_content", "is required: the signed report content, at most 256 KiB");
    }
    if s.device_signature.len() != 64 {
        v.push("sign_off.device_signature", "must be a 64-byte Ed25519 signature");
    }
    if uuid::Uuid::parse_str(&s.device_id).is_err() {
        v.push("sign_off.device_id", "must be the UUID of a registered device");
    }
    let at =
        v.take(s.signed_at.as_ref().map_or(Ok(ctx.happened_at()), |ts| convert::datetime(ts, "sign_off.signed_at")));
    v.check()?;
    Ok(sign_off::Model {
        slip_id: String::new(),
        signer_name: s.signer_name.trim().to_owned(),
        satisfaction: satisfaction.map(|s| s.as_str().to_owned()),
        service_quality_rating: s.service_quality_rating,
        product_rating: s.product_rating,
        support_rating: s.support_rating,
        customer_opinion: s.customer_opinion.clone(),
        signature_png: png.map(<[u8]>::to_vec).unwrap_or_default(),
        signature_png_sha256: png_hash,
        report_content_sha256: s.report_content_sha256.clone(),
        device_signature: s.device_signature.clone(),
        device_id: s.device_id.clone(),
        // As the device signed it: this time is part of the signed content.
        signed_at_us: to_us(at.unwrap_or(ctx.now)),
        verified: false,
        recorded_by: String::new(),
        report_content: Some(s.report_content.clone()),
    })
}

/// Most fixes one report may carry.
pub const MAX_FIXES: usize = 1000;

/// Validates a batch of fixes; a missing time means "now". Device times are corrected by the
/// device's clock `skew` (server minus device).
pub(crate) fn location_fixes(reports: &[pb::LocationReport], now: DateTime<Utc>, skew: Duration) -> Result<Vec<Fix>> {
    let mut v = Violations::new();
    if reports.is_empty() || reports.len() > MAX_FIXES {
        v.push("reports", format!("send between 1 and {MAX_FIXES} reports"));
    }
    let fixes = reports
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let position = v.take(convert::geo_point(r.position.as_ref(), &format!("reports[{i}].position")));
            let time = v.take(r.time.as_ref().map_or(Ok(now), |t| convert::datetime(t, &format!("reports[{i}].time"))));
            if !r.accuracy_m.is_finite() || !(0.0..=100_000.0).contains(&r.accuracy_m) {
                v.push(format!("reports[{i}].accuracy_m"), "must be between 0 and 100000 metres");
            }
            Some(Fix { position: position?, device_time_us: to_us(time? + skew), accuracy_m: r.accuracy_m })
        })
        .collect();
    v.check()?;
    Ok(fixes)
}
