//! Wire <-> core for the engineer's ops (`onsite_core::op`).
//!
//! Wire -> core destructures every field, so a new proto field fails to compile here until it
//! is handled. It fails only on what core cannot hold (a timestamp out of range, a position
//! off the globe, a window that ends before it starts); everything else is left to the op's
//! own `validate`, which the device runs too. Core -> wire is total.

use onsite_core::DomainError;
use onsite_core::error::{FieldViolation, Result};
use onsite_core::op::{
    BackupRecord, Booking, CheckIn, Code, CostLine, Custody, CustomerSignature, Decline, DeviceAction, FixRecord,
    PartsCost, PositionFix, PositionReport, Price, QuoteDecision, QuoteDraft, Reschedule, SignOff, VisitOp, Withdrawal,
};

use super::{WireEnum, datetime, geo_point, opt_timestamp, timestamp, window, wire_point, wire_window};
use crate::v1::{self as pb, op::Payload};

/// An enum field as sent: unset, known, or a value this version does not know.
pub fn code<E: WireEnum>(value: i32) -> Code<E> {
    match (value, E::from_wire(value)) {
        (0, _) => Code::Unset,
        (_, Some(e)) => Code::Known(e),
        (_, None) => Code::Unknown(value),
    }
}

/// The wire number of an enum field, unknown values as they came.
pub fn wire_code<E: WireEnum>(code: Code<E>) -> i32 {
    match code {
        Code::Unset => 0,
        Code::Known(e) => e.to_wire(),
        Code::Unknown(v) => v,
    }
}

fn opt_datetime(
    ts: Option<&prost_types::Timestamp>,
    field: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, FieldViolation> {
    ts.map(|ts| datetime(ts, field)).transpose()
}

impl TryFrom<&Payload> for DeviceAction {
    type Error = DomainError;

    fn try_from(payload: &Payload) -> Result<Self> {
        Ok(match payload {
            Payload::Confirm(pb::ConfirmSlipOp {}) => Self::Visit(VisitOp::Confirm),
            Payload::Decline(pb::DeclineSlipOp { reason }) => {
                Self::Visit(VisitOp::Decline(Decline { reason: reason.clone() }))
            }
            Payload::BookAppointment(pb::BookAppointmentOp { window: w, contact_name }) => {
                Self::Visit(VisitOp::Book(Booking {
                    window: window(w.as_ref(), "window")?,
                    contact_name: contact_name.clone(),
                }))
            }
            Payload::Reschedule(pb::RescheduleOp { window: w, reason, customer_informed }) => {
                Self::Visit(VisitOp::Reschedule(Reschedule {
                    window: window(w.as_ref(), "window")?,
                    reason: reason.clone(),
                    customer_informed: *customer_informed,
                }))
            }
            Payload::StartTravel(pb::StartTravelOp {}) => Self::Visit(VisitOp::StartTravel),
            Payload::CheckIn(pb::CheckInOp { position }) => {
                Self::Visit(VisitOp::CheckIn(CheckIn { position: geo_point(position.as_ref(), "position")? }))
            }
            Payload::LogBackup(b) => Self::Visit(VisitOp::LogBackup(b.try_into()?)),
            Payload::RecordFix(f) => Self::Visit(VisitOp::RecordFix(f.try_into()?)),
            Payload::AddPartsCost(pb::PartsCostOp { lines }) => {
                Self::Visit(VisitOp::AddPartsCost(PartsCost { lines: cost_lines(lines) }))
            }
            Payload::DraftQuote(pb::QuoteDraftOp { quote_id, lines }) => {
                Self::Visit(VisitOp::DraftQuote(QuoteDraft { id: quote_id.clone(), lines: cost_lines(lines) }))
            }
            Payload::DecideQuote(d) => Self::Visit(VisitOp::DecideQuote(d.try_into()?)),
            Payload::CaptureSignOff(s) => Self::Visit(VisitOp::CaptureSignOff(s.try_into()?)),
            Payload::Complete(pb::CompleteSlipOp {}) => Self::Visit(VisitOp::Complete),
            Payload::ReportLocation(r) => Self::Positions(r.try_into()?),
            Payload::Withdrawn(pb::WithdrawnOp { reason, message }) => {
                Self::Withdrawn(Withdrawal { reason: reason.clone(), message: message.clone() })
            }
        })
    }
}

impl From<&DeviceAction> for Payload {
    fn from(action: &DeviceAction) -> Self {
        match action {
            DeviceAction::Visit(op) => op.into(),
            DeviceAction::Positions(report) => Payload::ReportLocation(report.into()),
            DeviceAction::Withdrawn(w) => {
                Payload::Withdrawn(pb::WithdrawnOp { reason: w.reason.clone(), message: w.message.clone() })
            }
        }
    }
}

impl From<&VisitOp> for Payload {
    fn from(op: &VisitOp) -> Self {
        match op {
            VisitOp::Confirm => Payload::Confirm(pb::ConfirmSlipOp {}),
            VisitOp::Decline(d) => Payload::Decline(pb::DeclineSlipOp { reason: d.reason.clone() }),
            VisitOp::Book(b) => Payload::BookAppointment(pb::BookAppointmentOp {
                window: Some(wire_window(b.window)),
                contact_name: b.contact_name.clone(),
            }),
            VisitOp::Reschedule(r) => Payload::Reschedule(pb::RescheduleOp {
                window: Some(wire_window(r.window)),
                reason: r.reason.clone(),
                customer_informed: r.customer_informed,
            }),
            VisitOp::StartTravel => Payload::StartTravel(pb::StartTravelOp {}),
            VisitOp::CheckIn(c) => Payload::CheckIn(pb::CheckInOp { position: Some(wire_point(c.position)) }),
            VisitOp::LogBackup(b) => Payload::LogBackup(b.into()),
            VisitOp::RecordFix(f) => Payload::RecordFix(f.into()),
            VisitOp::AddPartsCost(p) => {
                Payload::AddPartsCost(pb::PartsCostOp { lines: p.lines.iter().map(Into::into).collect() })
            }
            VisitOp::DraftQuote(q) => Payload::DraftQuote(pb::QuoteDraftOp {
                quote_id: q.id.clone(),
                lines: q.lines.iter().map(Into::into).collect(),
            }),
            VisitOp::DecideQuote(d) => Payload::DecideQuote(d.into()),
            VisitOp::CaptureSignOff(s) => Payload::CaptureSignOff(s.into()),
            VisitOp::Complete => Payload::Complete(pb::CompleteSlipOp {}),
        }
    }
}

impl TryFrom<&pb::BackupRecord> for BackupRecord {
    type Error = DomainError;

    fn try_from(wire: &pb::BackupRecord) -> Result<Self> {
        let pb::BackupRecord {
            id,
            kind,
            location,
            note,
            attachment_sha256,
            recorded_by: _,
            recorded_at,
            contents,
            size_bytes,
            performed_by,
            verified,
            waiver,
        } = wire;
        Ok(Self {
            id: id.clone(),
            kind: code(*kind),
            location: location.clone(),
            note: note.clone(),
            attachments: attachment_sha256.clone(),
            recorded_at: opt_datetime(recorded_at.as_ref(), "backup.recorded_at")?,
            contents: contents.clone(),
            size_bytes: *size_bytes,
            performed_by: performed_by.clone(),
            verified: *verified,
            waiver: waiver.as_ref().map(|w| customer_signature(w, "backup.waiver.signed_at")).transpose()?,
        })
    }
}

impl From<&BackupRecord> for pb::BackupRecord {
    fn from(b: &BackupRecord) -> Self {
        Self {
            id: b.id.clone(),
            kind: wire_code(b.kind),
            location: b.location.clone(),
            note: b.note.clone(),
            attachment_sha256: b.attachments.clone(),
            recorded_by: String::new(),
            recorded_at: opt_timestamp(b.recorded_at),
            contents: b.contents.clone(),
            size_bytes: b.size_bytes,
            performed_by: b.performed_by.clone(),
            verified: b.verified,
            waiver: b.waiver.as_ref().map(Into::into),
        }
    }
}

fn customer_signature(wire: &pb::CustomerSignature, time_field: &str) -> Result<CustomerSignature> {
    Ok(CustomerSignature {
        signer_name: wire.signer_name.clone(),
        png_sha256: wire.signature_png_sha256.clone(),
        signed_at: opt_datetime(wire.signed_at.as_ref(), time_field)?,
    })
}

impl From<&CustomerSignature> for pb::CustomerSignature {
    fn from(s: &CustomerSignature) -> Self {
        Self {
            signer_name: s.signer_name.clone(),
            signature_png_sha256: s.png_sha256.clone(),
            signed_at: opt_timestamp(s.signed_at),
        }
    }
}

impl TryFrom<&pb::FixRecord> for FixRecord {
    type Error = DomainError;

    fn try_from(wire: &pb::FixRecord) -> Result<Self> {
        let pb::FixRecord {
            id,
            outcome,
            root_cause,
            cause,
            solution,
            prevention,
            time_spent_minutes,
            data_taken_off_site,
            attachment_sha256,
            recorded_by: _,
            recorded_at,
            custody,
        } = wire;
        let custody = custody
            .as_ref()
            .map(|c| {
                let signature = c.signature.clone().unwrap_or_default();
                Ok::<_, DomainError>(Custody {
                    scope: c.scope.clone(),
                    signature: customer_signature(&signature, "fix.custody.signature.signed_at")?,
                })
            })
            .transpose()?;
        Ok(Self {
            id: id.clone(),
            outcome: code(*outcome),
            root_cause: code(*root_cause),
            cause: cause.clone(),
            solution: solution.clone(),
            prevention: prevention.clone(),
            time_spent_minutes: *time_spent_minutes,
            data_taken_off_site: *data_taken_off_site,
            attachments: attachment_sha256.clone(),
            recorded_at: opt_datetime(recorded_at.as_ref(), "fix.recorded_at")?,
            custody,
        })
    }
}

impl From<&FixRecord> for pb::FixRecord {
    fn from(f: &FixRecord) -> Self {
        Self {
            id: f.id.clone(),
            outcome: wire_code(f.outcome),
            root_cause: wire_code(f.root_cause),
            cause: f.cause.clone(),
            solution: f.solution.clone(),
            prevention: f.prevention.clone(),
            time_spent_minutes: f.time_spent_minutes,
            data_taken_off_site: f.data_taken_off_site,
            attachment_sha256: f.attachments.clone(),
            recorded_by: String::new(),
            recorded_at: opt_timestamp(f.recorded_at),
            custody: f
                .custody
                .as_ref()
                .map(|c| pb::CustodyAuthorisation { scope: c.scope.clone(), signature: Some((&c.signature).into()) }),
        }
    }
}

impl From<&pb::CostLine> for CostLine {
    fn from(wire: &pb::CostLine) -> Self {
        let pb::CostLine {
            id,
            kind,
            description,
            part_number,
            quantity,
            unit_price,
            billable,
            recorded_by: _,
            billable_override_reason: _,
        } = wire;
        Self {
            id: id.clone(),
            kind: code(*kind),
            description: description.clone(),
            part_number: part_number.clone(),
            quantity: *quantity,
            unit_price: unit_price.as_ref().map(|pb::Money { minor_units, currency_code }| Price {
                minor_units: *minor_units,
                currency_code: currency_code.clone(),
            }),
            billable: *billable,
        }
    }
}

impl From<&CostLine> for pb::CostLine {
    fn from(line: &CostLine) -> Self {
        Self {
            id: line.id.clone(),
            kind: wire_code(line.kind),
            description: line.description.clone(),
            part_number: line.part_number.clone(),
            quantity: line.quantity,
            unit_price: line
                .unit_price
                .as_ref()
                .map(|p| pb::Money { minor_units: p.minor_units, currency_code: p.currency_code.clone() }),
            billable: line.billable,
            recorded_by: String::new(),
            billable_override_reason: String::new(),
        }
    }
}

/// Cost lines as sent; nothing in a line can fail to convert.
pub fn cost_lines(lines: &[pb::CostLine]) -> Vec<CostLine> {
    lines.iter().map(CostLine::from).collect()
}

impl TryFrom<&pb::SignOff> for SignOff {
    type Error = DomainError;

    fn try_from(wire: &pb::SignOff) -> Result<Self> {
        let pb::SignOff {
            signer_name,
            satisfaction,
            service_quality_rating,
            product_rating,
            support_rating,
            customer_opinion,
            signature_png_sha256,
            report_content_sha256,
            device_signature,
            device_id,
            signed_at,
            verified: _,
            report_content,
        } = wire;
        Ok(Self {
            signer_name: signer_name.clone(),
            satisfaction: code(*satisfaction),
            service_quality_rating: *service_quality_rating,
            product_rating: *product_rating,
            support_rating: *support_rating,
            customer_opinion: customer_opinion.clone(),
            signature_png_sha256: signature_png_sha256.clone(),
            report_content_sha256: report_content_sha256.clone(),
            report_content: report_content.clone(),
            device_signature: device_signature.clone(),
            device_id: device_id.clone(),
            signed_at: opt_datetime(signed_at.as_ref(), "sign_off.signed_at")?,
        })
    }
}

impl From<&SignOff> for pb::SignOff {
    fn from(s: &SignOff) -> Self {
        Self {
            signer_name: s.signer_name.clone(),
            satisfaction: wire_code(s.satisfaction),
            service_quality_rating: s.service_quality_rating,
            product_rating: s.product_rating,
            support_rating: s.support_rating,
            customer_opinion: s.customer_opinion.clone(),
            signature_png_sha256: s.signature_png_sha256.clone(),
            report_content_sha256: s.report_content_sha256.clone(),
            device_signature: s.device_signature.clone(),
            device_id: s.device_id.clone(),
            signed_at: opt_timestamp(s.signed_at),
            verified: false,
            report_content: s.report_content.clone(),
        }
    }
}

impl TryFrom<&pb::QuoteDecisionOp> for QuoteDecision {
    type Error = DomainError;

    fn try_from(wire: &pb::QuoteDecisionOp) -> Result<Self> {
        let pb::QuoteDecisionOp {
            quote_id,
            accepted,
            signer_name,
            signature_png_sha256,
            content_sha256,
            content,
            device_signature,
            device_id,
            signed_at,
        } = wire;
        Ok(Self {
            quote_id: quote_id.clone(),
            accepted: *accepted,
            signer_name: signer_name.clone(),
            signature_png_sha256: signature_png_sha256.clone(),
            content_sha256: content_sha256.clone(),
            content: content.clone(),
            device_signature: device_signature.clone(),
            device_id: device_id.clone(),
            signed_at: opt_datetime(signed_at.as_ref(), "decision.signed_at")?,
        })
    }
}

impl From<&QuoteDecision> for pb::QuoteDecisionOp {
    fn from(d: &QuoteDecision) -> Self {
        Self {
            quote_id: d.quote_id.clone(),
            accepted: d.accepted,
            signer_name: d.signer_name.clone(),
            signature_png_sha256: d.signature_png_sha256.clone(),
            content_sha256: d.content_sha256.clone(),
            content: d.content.clone(),
            device_signature: d.device_signature.clone(),
            device_id: d.device_id.clone(),
            signed_at: opt_timestamp(d.signed_at),
        }
    }
}

impl TryFrom<&pb::ReportLocationRequest> for PositionReport {
    type Error = DomainError;

    fn try_from(wire: &pb::ReportLocationRequest) -> Result<Self> {
        let pb::ReportLocationRequest { request_id: _, reports } = wire;
        let fixes = reports
            .iter()
            .enumerate()
            .map(|(i, pb::LocationReport { position, time, accuracy_m })| {
                let pb::GeoPoint { latitude, longitude } =
                    position.ok_or_else(|| FieldViolation::new(format!("reports[{i}].position"), "is required"))?;
                Ok(PositionFix {
                    latitude,
                    longitude,
                    time: opt_datetime(time.as_ref(), &format!("reports[{i}].time"))?,
                    accuracy_m: *accuracy_m,
                })
            })
            .collect::<Result<_, FieldViolation>>()?;
        Ok(Self { fixes })
    }
}

impl From<&PositionReport> for pb::ReportLocationRequest {
    fn from(report: &PositionReport) -> Self {
        Self {
            request_id: String::new(),
            reports: report
                .fixes
                .iter()
                .map(|f| pb::LocationReport {
                    position: Some(pb::GeoPoint { latitude: f.latitude, longitude: f.longitude }),
                    time: f.time.map(timestamp),
                    accuracy_m: f.accuracy_m,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn payloads_round_trip_through_core() {
        let fix = pb::FixRecord {
            id: uuid::Uuid::now_v7().to_string(),
            outcome: 99,
            root_cause: pb::RootCause::Network as i32,
            solution: "reseated the card".into(),
            time_spent_minutes: 30,
            attachment_sha256: vec!["ab".repeat(32)],
            recorded_at: Some(timestamp(Utc::now())),
            ..Default::default()
        };
        let payloads = [
            Payload::RecordFix(fix),
            Payload::AddPartsCost(pb::PartsCostOp {
                lines: vec![pb::CostLine {
                    kind: 42,
                    quantity: -3,
                    unit_price: Some(pb::Money { minor_units: -5, currency_code: "cny".into() }),
                    ..Default::default()
                }],
            }),
            Payload::Decline(pb::DeclineSlipOp { reason: "on leave".into() }),
        ];
        for payload in payloads {
            let core = DeviceAction::try_from(&payload).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(Payload::from(&core), payload);
        }
    }

    #[test]
    fn unknown_enums_stay_unknown() {
        assert_eq!(code::<onsite_core::slip::FixOutcome>(77), Code::Unknown(77));
        assert_eq!(code::<onsite_core::slip::FixOutcome>(0), Code::Unset);
        assert_eq!(wire_code::<onsite_core::slip::FixOutcome>(Code::Unknown(77)), 77);
    }
}
