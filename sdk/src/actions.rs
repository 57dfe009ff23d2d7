//! The engineer's actions on the device. Each builds a core op, which `apply` validates with
//! the same `onsite_core::op` rules and state machine the server runs, applies to the local
//! view, and queues with its attachments, all in one store transaction.

use chrono::{DateTime, Utc};
use onsite_core::geo::GeoPoint;
use onsite_core::op::{
    BackupRecord, Booking, CheckIn, Code, CostLine, Custody, CustomerSignature, Decline, DeviceAction, FixRecord,
    PartsCost, PositionFix, PositionReport, QuoteDecision, QuoteDraft, Reschedule, SignOff, VisitOp,
};
use onsite_core::slip::{BackupKind, FixOutcome, Satisfaction, Window};
use onsite_core::ticket::RootCause;
use onsite_proto::convert::timestamp;
use onsite_proto::signoff;
use onsite_proto::v1::{self as pb, op::Payload};

use crate::apply::apply;
use crate::error::{Result, SdkError};
use crate::model::Slip;
use crate::session::Session;
use crate::signature::{StrokePoint, render_png};
use crate::store::{self, key};

/// What the engineer found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixInput {
    pub outcome: Code<FixOutcome>,
    /// `Code::Unset` when not classified.
    pub root_cause: Code<RootCause>,
    pub cause: String,
    pub solution: String,
    pub prevention: String,
    pub time_spent_minutes: i32,
    /// Customer data leaves the site with the engineer: set by
    /// [`Session::record_fix_taking_data`], which takes the customer's authorisation.
    pub data_taken_off_site: bool,
}

/// A data backup as the engineer records it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BackupInput {
    /// What was saved.
    pub contents: String,
    /// Where the copy went.
    pub location: String,
    pub size_bytes: i64,
    /// Who performed it: the engineer, or the customer's IT by name.
    pub performed_by: String,
    /// The copy was read back and checked.
    pub verified: bool,
    pub note: String,
}

/// The customer's authorisation to take their data off site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustodyInput {
    /// What may be taken, and what for.
    pub scope: String,
    pub signer_name: String,
}

/// A signature as drawn on the screen: strokes on a canvas.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawing {
    pub strokes: Vec<Vec<StrokePoint>>,
    pub canvas_width: u32,
    pub canvas_height: u32,
}

/// The customer's side of a sign-off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerInput {
    pub signer_name: String,
    /// `Code::Unset` when not given.
    pub satisfaction: Code<Satisfaction>,
    /// Service quality, product and support, 1-5 (0 = not given).
    pub ratings: [i32; 3],
    pub customer_opinion: String,
}

/// A photo's hash, content type and bytes, stored with the op that names it.
type Blob = (String, &'static str, Vec<u8>);

/// A signature drawn on the screen: its image, uploaded with the op, and what seals it.
struct Signature {
    png_sha256: String,
    secret: [u8; 32],
    device_id: String,
    signed_at: DateTime<Utc>,
    image: Blob,
}

/// Fixes closer together than this replace each other while they wait.
pub const MIN_FIX_GAP: std::time::Duration = std::time::Duration::from_secs(60);

impl Session {
    /// Accepts the slip.
    pub fn confirm(&self, slip_id: &str) -> Result<Slip> {
        self.act(slip_id, VisitOp::Confirm)
    }

    /// Declines the slip.
    pub fn decline(&self, slip_id: &str, reason: &str) -> Result<Slip> {
        self.act(slip_id, VisitOp::Decline(Decline { reason: reason.to_owned() }))
    }

    /// Books the appointment agreed with `contact_name`.
    pub fn book(&self, slip_id: &str, start: DateTime<Utc>, end: DateTime<Utc>, contact_name: &str) -> Result<Slip> {
        let window = Window::new(start, end, "window")?;
        self.act(slip_id, VisitOp::Book(Booking { window, contact_name: contact_name.to_owned() }))
    }

    /// Moves the appointment.
    pub fn reschedule(
        &self,
        slip_id: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        reason: &str,
        customer_informed: bool,
    ) -> Result<Slip> {
        let window = Window::new(start, end, "window")?;
        self.act(slip_id, VisitOp::Reschedule(Reschedule { window, reason: reason.to_owned(), customer_informed }))
    }

    /// Sets off to the site.
    pub fn start_travel(&self, slip_id: &str) -> Result<Slip> {
        self.act(slip_id, VisitOp::StartTravel)
    }

    /// Arrives at the site.
    pub fn check_in(&self, slip_id: &str, latitude: f64, longitude: f64) -> Result<Slip> {
        let position = GeoPoint::new(latitude, longitude, "position")?;
        self.act(slip_id, VisitOp::CheckIn(CheckIn { position }))
    }

    /// Records the customer's data backup, with photos (JPEG or PNG bytes).
    pub fn log_backup(&self, slip_id: &str, backup: &BackupInput, photos: &[Vec<u8>]) -> Result<Slip> {
        let blobs = photo_blobs(photos)?;
        let record = BackupRecord {
            id: uuid::Uuid::now_v7().to_string(),
            kind: Code::Known(BackupKind::Backup),
            location: backup.location.clone(),
            note: backup.note.clone(),
            attachments: blobs.iter().map(|b| b.0.clone()).collect(),
            recorded_at: Some(self.engine.now_ms()),
            contents: backup.contents.clone(),
            size_bytes: backup.size_bytes,
            performed_by: backup.performed_by.clone(),
            verified: backup.verified,
            waiver: None,
        };
        self.enqueue(slip_id, blobs, |_| Ok(VisitOp::LogBackup(record)))
    }

    /// Records the customer's refusal of a backup, signed on the screen by `signer_name`.
    pub fn log_waiver(&self, slip_id: &str, signer_name: &str, reason: &str, drawing: &Drawing) -> Result<Slip> {
        let (waiver, image) = self.customer_signature(signer_name, drawing)?;
        let record = BackupRecord {
            id: uuid::Uuid::now_v7().to_string(),
            kind: Code::Known(BackupKind::Waiver),
            location: String::new(),
            note: reason.to_owned(),
            attachments: Vec::new(),
            recorded_at: Some(self.engine.now_ms()),
            contents: String::new(),
            size_bytes: 0,
            performed_by: String::new(),
            verified: false,
            waiver: Some(waiver),
        };
        self.enqueue(slip_id, vec![image], |_| Ok(VisitOp::LogBackup(record)))
    }

    /// Records what was found and done, with photos. A fix that takes data off site needs
    /// [`Self::record_fix_taking_data`].
    pub fn record_fix(&self, slip_id: &str, fix: &FixInput, photos: &[Vec<u8>]) -> Result<Slip> {
        self.fix(slip_id, fix, photos, None)
    }

    /// Records a fix that takes the customer's data off site, with the customer's written
    /// authorisation: what may be taken and what for, signed on the screen.
    pub fn record_fix_taking_data(
        &self,
        slip_id: &str,
        fix: &FixInput,
        photos: &[Vec<u8>],
        custody: &CustodyInput,
        drawing: &Drawing,
    ) -> Result<Slip> {
        let (signature, image) = self.customer_signature(&custody.signer_name, drawing)?;
        let custody = Custody { scope: custody.scope.clone(), signature };
        self.fix(slip_id, &FixInput { data_taken_off_site: true, ..fix.clone() }, photos, Some((custody, image)))
    }

    fn fix(&self, slip_id: &str, fix: &FixInput, photos: &[Vec<u8>], custody: Option<(Custody, Blob)>) -> Result<Slip> {
        let mut blobs = photo_blobs(photos)?;
        let attachments = blobs.iter().map(|b| b.0.clone()).collect();
        let custody = custody.map(|(custody, image)| {
            blobs.push(image);
            custody
        });
        let record = FixRecord {
            id: uuid::Uuid::now_v7().to_string(),
            outcome: fix.outcome,
            root_cause: fix.root_cause,
            cause: fix.cause.clone(),
            solution: fix.solution.clone(),
            prevention: fix.prevention.clone(),
            time_spent_minutes: fix.time_spent_minutes,
            data_taken_off_site: fix.data_taken_off_site,
            attachments,
            recorded_at: Some(self.engine.now_ms()),
            custody,
        };
        self.enqueue(slip_id, blobs, |_| Ok(VisitOp::RecordFix(record)))
    }

    /// Adds parts and cost lines; a line without an id gets a new one.
    pub fn add_parts_cost(&self, slip_id: &str, lines: &[CostLine]) -> Result<Slip> {
        self.act(slip_id, VisitOp::AddPartsCost(PartsCost { lines: with_ids(lines) }))
    }

    /// Captures the customer's sign-off from the strokes of their signature: renders the PNG,
    /// builds the report content from the slip as the device holds it, and signs both hashes
    /// with the device key.
    pub fn capture_sign_off(
        &self,
        slip_id: &str,
        signer: &SignerInput,
        strokes: &[Vec<StrokePoint>],
        canvas_width: u32,
        canvas_height: u32,
    ) -> Result<Slip> {
        let Signature { png_sha256, secret, device_id, signed_at, image } =
            self.signature(strokes, canvas_width, canvas_height)?;
        self.enqueue(slip_id, vec![image], |local| {
            let draft = pb::SignOff {
                signer_name: signer.signer_name.trim().to_owned(),
                satisfaction: onsite_proto::convert::op::wire_code(signer.satisfaction),
                service_quality_rating: signer.ratings[0],
                product_rating: signer.ratings[1],
                support_rating: signer.ratings[2],
                customer_opinion: signer.customer_opinion.clone(),
                signature_png_sha256: png_sha256.clone(),
                device_id: device_id.clone(),
                signed_at: Some(timestamp(signed_at)),
                ..Default::default()
            };
            // The content is built from the local view; a sign-off that fails validation is
            // refused before anything is queued.
            Ok(VisitOp::CaptureSignOff(SignOff::try_from(&signoff::seal(&secret, local, draft))?))
        })
    }

    /// Drafts a quote for billable work; returns the slip, whose quotes end with it. A line
    /// without an id gets a new one.
    pub fn draft_quote(&self, slip_id: &str, lines: &[CostLine]) -> Result<Slip> {
        let draft = QuoteDraft { id: uuid::Uuid::now_v7().to_string(), lines: with_ids(lines) };
        self.enqueue(slip_id, Vec::new(), |_| Ok(VisitOp::DraftQuote(draft)))
    }

    /// The customer accepts (or declines) a quote on the phone: the signature is rendered, and
    /// the quote as the phone shows it is sealed with the device key, as for the sign-off.
    pub fn decide_quote(
        &self,
        slip_id: &str,
        quote_id: &str,
        decision: &QuoteDecisionInput,
        strokes: &[Vec<StrokePoint>],
        canvas_width: u32,
        canvas_height: u32,
    ) -> Result<Slip> {
        let Signature { png_sha256, secret, device_id, signed_at, image } =
            self.signature(strokes, canvas_width, canvas_height)?;
        self.enqueue(slip_id, vec![image], |local| {
            let draft = pb::QuoteDecisionOp {
                quote_id: quote_id.to_owned(),
                accepted: decision.accepted,
                signer_name: decision.signer_name.trim().to_owned(),
                signature_png_sha256: png_sha256.clone(),
                device_id: device_id.clone(),
                signed_at: Some(timestamp(signed_at)),
                ..Default::default()
            };
            let sealed = signoff::seal_quote(&secret, local, draft)
                .ok_or_else(|| SdkError::invalid("quote_id", "the slip has no such quote"))?;
            Ok(VisitOp::DecideQuote(QuoteDecision::try_from(&sealed)?))
        })
    }

    /// Completes the visit.
    pub fn complete(&self, slip_id: &str) -> Result<Slip> {
        self.act(slip_id, VisitOp::Complete)
    }

    /// Queues a position fix. While fixes wait unsent they are merged into one report, at
    /// most one per [`MIN_FIX_GAP`], so a day offline stays one small op.
    pub fn report_position(&self, latitude: f64, longitude: f64, accuracy_m: f64) -> Result<()> {
        let fix = PositionFix { latitude, longitude, time: Some(self.engine.now_ms()), accuracy_m };
        PositionReport { fixes: vec![fix] }.validate()?;
        let wire_fix = pb::LocationReport {
            position: Some(pb::GeoPoint { latitude, longitude }),
            time: fix.time.map(timestamp),
            accuracy_m,
        };
        let now_ms = self.engine.now().timestamp_millis();
        let mut store = self.engine.lock()?;
        store.write(|txn| {
            if let Some(mut last) = store::last_queued(txn)?.filter(|q| q.attempts == 0)
                && let Some(Payload::ReportLocation(report)) = last.op.payload.as_mut()
                && report.reports.len() < onsite_core::op::MAX_FIXES
            {
                let newest = report.reports.last().and_then(|r| r.time).map_or(0, |t| t.seconds);
                if wire_fix.time.map_or(0, |t| t.seconds).saturating_sub(newest) < MIN_FIX_GAP.as_secs() as i64 {
                    report.reports.pop();
                }
                report.reports.push(wire_fix);
                if store::replace_unsent(txn, &last.op)? {
                    return Ok(());
                }
            }
            let payload = Payload::from(&DeviceAction::Positions(PositionReport { fixes: vec![fix] }));
            let op = new_op(txn, "", "", payload, self.engine.now_ms())?;
            store::enqueue(txn, &op, now_ms)
        })?;
        drop(store);
        self.engine.after_write();
        Ok(())
    }

    fn act(&self, slip_id: &str, op: VisitOp) -> Result<Slip> {
        self.enqueue(slip_id, Vec::new(), |_| Ok(op))
    }

    /// A customer's signature drawn on the screen, as a record names it, and its image.
    fn customer_signature(&self, signer_name: &str, drawing: &Drawing) -> Result<(CustomerSignature, Blob)> {
        let Signature { png_sha256, signed_at, image, .. } =
            self.signature(&drawing.strokes, drawing.canvas_width, drawing.canvas_height)?;
        let signature =
            CustomerSignature { signer_name: signer_name.trim().to_owned(), png_sha256, signed_at: Some(signed_at) };
        Ok((signature, image))
    }

    /// A signature drawn on the screen, rendered and ready to seal with the device key.
    fn signature(&self, strokes: &[Vec<StrokePoint>], canvas_width: u32, canvas_height: u32) -> Result<Signature> {
        let png = render_png(strokes, canvas_width, canvas_height)?;
        let png_sha256 = signoff::sha256_hex(&png);
        let (secret, _) = self.engine.device_key(&*self.engine.lock()?)?;
        let device_id = self.device_id()?.ok_or(SdkError::NotSignedIn)?;
        Ok(Signature {
            image: (png_sha256.clone(), "image/png", png),
            png_sha256,
            secret,
            device_id,
            signed_at: self.engine.now_ms(),
        })
    }

    /// Validates an op and applies it to the local view through the core rules, then queues it
    /// with its attachments, in one transaction.
    fn enqueue(
        &self,
        slip_id: &str,
        blobs: Vec<Blob>,
        build: impl FnOnce(&pb::Slip) -> Result<VisitOp>,
    ) -> Result<Slip> {
        let now = self.engine.now_ms();
        let mut store = self.engine.lock()?;
        let next = store.write(|txn| {
            let engineer = store::engineer(txn)?;
            let (server, local) =
                store::slip(txn, slip_id)?.ok_or_else(|| SdkError::UnknownSlip(slip_id.to_owned()))?;
            let op = new_op(txn, slip_id, &server.etag, Payload::from(&build(&local)?), now)?;
            let next = apply(&local, &op, engineer)?;
            // An op the server can never take is refused now, not after the visit.
            crate::sync::fits_one_push(&op, crate::sync::push_budget(txn)?)?;
            for (sha256, content_type, data) in &blobs {
                store::put_attachment(txn, sha256, content_type, data)?;
            }
            store::put_local(txn, &next)?;
            store::enqueue(txn, &op, now.timestamp_millis())?;
            Ok(next)
        })?;
        drop(store);
        self.engine.after_write();
        Ok(Slip::from_wire(&next))
    }
}

/// The customer's decision on a quote, as the quote screen takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteDecisionInput {
    pub accepted: bool,
    /// Who signs for the customer.
    pub signer_name: String,
}

/// The lines, each with an id: a line without one gets a new one.
fn with_ids(lines: &[CostLine]) -> Vec<CostLine> {
    lines
        .iter()
        .map(|line| CostLine {
            id: if line.id.is_empty() { uuid::Uuid::now_v7().to_string() } else { line.id.clone() },
            ..line.clone()
        })
        .collect()
}

/// Photos as attachments: JPEG or PNG images of bounded size (`onsite_core::image`).
fn photo_blobs(photos: &[Vec<u8>]) -> Result<Vec<Blob>> {
    photos
        .iter()
        .enumerate()
        .map(|(i, photo)| {
            let kind = onsite_core::image::photo(photo, &format!("photos[{i}]"))?;
            Ok((signoff::sha256_hex(photo), kind.content_type(), photo.clone()))
        })
        .collect()
}

/// A new op of this device with its next sequence number.
fn new_op(
    txn: &rusqlite::Connection,
    slip_id: &str,
    base_etag: &str,
    payload: Payload,
    device_time: DateTime<Utc>,
) -> Result<pb::Op> {
    let device_id = store::meta_text(txn, key::DEVICE_ID)?.ok_or(SdkError::NotSignedIn)?;
    let seq = store::meta_int(txn, key::NEXT_SEQ)?.max(1);
    store::set_meta(txn, key::NEXT_SEQ, seq.saturating_add(1).to_string())?;
    Ok(pb::Op {
        op_id: uuid::Uuid::now_v7().to_string(),
        device_id,
        device_seq: seq,
        slip_id: slip_id.to_owned(),
        base_etag: base_etag.to_owned(),
        device_time: Some(timestamp(device_time)),
        payload: Some(payload),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Config;

    fn session() -> (Session, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = Config { sync_interval: None, sync_after_write: false, ..Config::new(dir.path()) };
        (Session::open(config).unwrap_or_else(|e| panic!("{e}")), dir)
    }

    fn field<T: std::fmt::Debug>(r: Result<T>) -> String {
        match r {
            Err(SdkError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// Work per action is bounded before anything is stored: photos must be images of at most
    /// 10 MiB, and a signature must lie on its canvas.
    #[test]
    fn bad_photos_and_signatures_are_refused_before_anything_is_kept() {
        let (session, _dir) = session();
        let backup = |photo: Vec<u8>| session.log_backup("s", &BackupInput::default(), &[photo]);
        assert_eq!(field(backup(b"\x89PNG\r\n\x1a\n".to_vec())), "photos[0]", "a bare PNG header");
        let mut twelve_mb =
            vec![0xff, 0xd8, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x10, 0x00, 0x10, 0x01, 0x01, 0x11, 0x00];
        twelve_mb.resize(12 * 1024 * 1024, 0);
        assert_eq!(field(backup(twelve_mb)), "photos[0]", "a 12 MB photo");
        let outside = vec![vec![
            StrokePoint { x: -50.0, y: 10.0, t_ms: 0, pressure: 0.5 },
            StrokePoint { x: -10.0, y: 10.0, t_ms: 100, pressure: 0.5 },
        ]];
        let signer = SignerInput {
            signer_name: "Ms. Zhou".into(),
            satisfaction: Code::Known(Satisfaction::Satisfied),
            ratings: [0; 3],
            customer_opinion: String::new(),
        };
        assert_eq!(field(session.capture_sign_off("s", &signer, &outside, 320, 120)), "strokes");
    }
}
