//! Wire <-> domain conversions.
//!
//! Wire -> domain conversions validate and name the offending field (`ticket.severity`), so a
//! handler can answer `INVALID_ARGUMENT` with a precise field violation. Domain -> wire
//! conversions are total.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use onsite_core::error::{FieldViolation, Result, Violations};
use onsite_core::geo::GeoPoint;
use onsite_core::id::{CustomerId, ProductId};
use onsite_core::slip::{
    BackupKind, CostKind, FixOutcome, Role, Satisfaction, SlipState, VisitKind, Window, WriteOffOutcome,
};
use onsite_core::ticket::{
    Category, Channel, Description, RootCause, Severity, TicketEdit, TicketIntake, TicketStatus, Tier,
    check_description,
};
use prost_types::Timestamp;

use crate::v1 as pb;

pub mod op;

/// A domain enum with a wire counterpart whose zero value means "unspecified".
pub trait WireEnum: Sized {
    /// The domain value of a wire number, if it names one.
    fn from_wire(value: i32) -> Option<Self>;
    /// The wire number.
    fn to_wire(self) -> i32;
}

/// A required enum field: unspecified or unknown values are violations of `field`.
pub fn required<E: WireEnum>(value: i32, field: &str) -> Result<E, FieldViolation> {
    E::from_wire(value).ok_or_else(|| FieldViolation::new(field, "is required and must be a known value"))
}

/// An optional enum field (a filter, a not-yet-known fact): zero is `None`, unknown values are
/// violations.
pub fn optional<E: WireEnum>(value: i32, field: &str) -> Result<Option<E>, FieldViolation> {
    if value == 0 { Ok(None) } else { required(value, field).map(Some) }
}

macro_rules! wire_enum {
    ($core:ident => $wire:ident { $($c:ident <=> $w:ident),+ $(,)? }) => {
        impl WireEnum for $core {
            fn from_wire(value: i32) -> Option<Self> {
                match pb::$wire::try_from(value) {
                    $(Ok(pb::$wire::$w) => Some($core::$c),)+
                    _ => None,
                }
            }

            fn to_wire(self) -> i32 {
                match self { $($core::$c => pb::$wire::$w as i32),+ }
            }
        }
    };
}

wire_enum!(Severity => Severity { Urgent <=> Urgent, Important <=> Important, General <=> General });
wire_enum!(Tier => Tier { ServiceDesk <=> ServiceDesk, Field <=> Field, Expert <=> Expert });
wire_enum!(Role => Role { Admin <=> Admin, Manager <=> Manager, Engineer <=> Engineer });
wire_enum!(Category => Category { Bug <=> Bug, ChangeRequest <=> ChangeRequest, Other <=> Other });
wire_enum!(Channel => Channel {
    Hotline <=> Hotline, WebPortal <=> WebPortal, Email <=> Email, Chat <=> Chat,
    RemoteSession <=> RemoteSession, OnSite <=> OnSite,
});
wire_enum!(RootCause => RootCause {
    HardwareDamage <=> HardwareDamage, SoftwareDefect <=> SoftwareDefect,
    ConfigurationError <=> ConfigurationError, Network <=> Network,
    OperationUsage <=> OperationUsage, ThirdPartyPart <=> ThirdPartyPart,
    ManufacturingDefect <=> ManufacturingDefect, AssemblyDefect <=> AssemblyDefect, MaterialDefect <=> MaterialDefect,
});
/// Who pays, as the wire says it.
impl WireEnum for onsite_core::warranty::Cover {
    fn from_wire(value: i32) -> Option<Self> {
        use onsite_core::warranty::{Billable, Cover};
        match pb::Cover::try_from(value) {
            Ok(pb::Cover::Free) => Some(Cover::Free),
            Ok(pb::Cover::NoWarranty) => Some(Cover::Billable(Billable::NoWarranty)),
            Ok(pb::Cover::WarrantyEnded) => Some(Cover::Billable(Billable::WarrantyEnded)),
            Ok(pb::Cover::CauseNotCovered) => Some(Cover::Billable(Billable::CauseNotCovered)),
            Ok(pb::Cover::Undecided) => Some(Cover::Undecided),
            Ok(pb::Cover::Unspecified) | Err(_) => None,
        }
    }

    fn to_wire(self) -> i32 {
        use onsite_core::warranty::{Billable, Cover};
        (match self {
            Cover::Free => pb::Cover::Free,
            Cover::Billable(Billable::NoWarranty) => pb::Cover::NoWarranty,
            Cover::Billable(Billable::WarrantyEnded) => pb::Cover::WarrantyEnded,
            Cover::Billable(Billable::CauseNotCovered) => pb::Cover::CauseNotCovered,
            Cover::Undecided => pb::Cover::Undecided,
        }) as i32
    }
}

wire_enum!(TicketStatus => TicketStatus {
    Open <=> Open, InProgress <=> InProgress, Resolved <=> Resolved, Closed <=> Closed,
});
wire_enum!(SlipState => SlipState {
    Draft <=> Draft, Verified <=> Verified, Dispatched <=> Dispatched, Declined <=> Declined,
    Confirmed <=> Confirmed, Scheduled <=> Scheduled, EnRoute <=> EnRoute, OnSite <=> OnSite,
    Completed <=> Completed, WrittenOff <=> WrittenOff, Cancelled <=> Cancelled,
});
wire_enum!(BackupKind => BackupKind { Backup <=> Backup, Waiver <=> Waiver });
wire_enum!(VisitKind => VisitKind { Installation <=> Installation, Repair <=> Repair, Maintenance <=> Maintenance });
wire_enum!(FixOutcome => FixOutcome {
    Resolved <=> Resolved, PartlyResolved <=> PartlyResolved, Unresolved <=> Unresolved,
});
wire_enum!(CostKind => CostKind {
    Part <=> Part, Material <=> Material, Labour <=> Labour, Travel <=> Travel, Transport <=> Transport,
});
wire_enum!(Satisfaction => Satisfaction {
    VerySatisfied <=> VerySatisfied, Satisfied <=> Satisfied, Average <=> Average, Dissatisfied <=> Dissatisfied,
});
wire_enum!(WriteOffOutcome => WriteOffOutcome { Resolved <=> Resolved, FollowUp <=> FollowUp, Escalate <=> Escalate });

/// A UTC instant on the wire.
pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0) }
}

/// An optional UTC instant on the wire.
pub fn opt_timestamp(at: Option<DateTime<Utc>>) -> Option<Timestamp> {
    at.map(timestamp)
}

/// A wire timestamp as a UTC instant.
pub fn datetime(ts: &Timestamp, field: &str) -> Result<DateTime<Utc>, FieldViolation> {
    u32::try_from(ts.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(ts.seconds, nanos))
        .ok_or_else(|| FieldViolation::new(field, "is not a valid timestamp"))
}

/// A required wire timestamp.
pub fn required_datetime(ts: Option<&Timestamp>, field: &str) -> Result<DateTime<Utc>, FieldViolation> {
    ts.map_or_else(|| Err(FieldViolation::new(field, "is required")), |ts| datetime(ts, field))
}

/// A validated position; a missing one is a violation of `field`.
pub fn geo_point(p: Option<&pb::GeoPoint>, field: &str) -> Result<GeoPoint, FieldViolation> {
    let p = p.ok_or_else(|| FieldViolation::new(field, "is required"))?;
    GeoPoint::new(p.latitude, p.longitude, field)
}

/// A position on the wire.
pub fn wire_point(p: GeoPoint) -> pb::GeoPoint {
    pb::GeoPoint { latitude: p.latitude(), longitude: p.longitude() }
}

/// A validated appointment window.
pub fn window(w: Option<&pb::TimeWindow>, field: &str) -> Result<Window> {
    let w = w.ok_or_else(|| FieldViolation::new(field, "is required"))?;
    let start = required_datetime(w.start.as_ref(), &format!("{field}.start"))?;
    let end = required_datetime(w.end.as_ref(), &format!("{field}.end"))?;
    Window::new(start, end, field)
}

/// A validated time range of at most `longest` (a day or a week to list), not an appointment.
pub fn span(w: Option<&pb::TimeWindow>, field: &str, longest: chrono::Duration) -> Result<Window> {
    let w = w.ok_or_else(|| FieldViolation::new(field, "is required"))?;
    let start = required_datetime(w.start.as_ref(), &format!("{field}.start"))?;
    let end = required_datetime(w.end.as_ref(), &format!("{field}.end"))?;
    if end <= start || end - start > longest {
        return Err(FieldViolation::new(
            format!("{field}.end"),
            format!("must be after the start, at most {} days later", longest.num_days()),
        )
        .into());
    }
    Ok(Window { start, end })
}

/// A window on the wire.
pub fn wire_window(w: Window) -> pb::TimeWindow {
    pb::TimeWindow { start: Some(timestamp(w.start)), end: Some(timestamp(w.end)) }
}

/// An optional calendar date (an all-zero or missing date is `None`).
pub fn date(d: Option<&pb::Date>, field: &str) -> Result<Option<NaiveDate>, FieldViolation> {
    match d {
        None => Ok(None),
        Some(d) if d.year == 0 && d.month == 0 && d.day == 0 => Ok(None),
        Some(d) => u32::try_from(d.month)
            .ok()
            .zip(u32::try_from(d.day).ok())
            .and_then(|(m, day)| NaiveDate::from_ymd_opt(d.year, m, day))
            .map(Some)
            .ok_or_else(|| FieldViolation::new(field, "is not a valid calendar date")),
    }
}

/// A date on the wire.
pub fn wire_date(d: NaiveDate) -> pb::Date {
    pb::Date { year: d.year(), month: d.month() as i32, day: d.day() as i32 }
}

/// Parses a required id field.
pub fn id<T: std::str::FromStr>(text: &str, field: &str) -> Result<T, FieldViolation> {
    if text.is_empty() {
        return Err(FieldViolation::new(field, "is required"));
    }
    text.parse().map_err(|_| FieldViolation::new(field, "must be a UUID"))
}

/// Parses an optional id field (empty is `None`).
pub fn opt_id<T: std::str::FromStr>(text: &str, field: &str) -> Result<Option<T>, FieldViolation> {
    if text.is_empty() { Ok(None) } else { id(text, field).map(Some) }
}

/// The intake of a ticket sent to `CreateTicket`, validated; `submitted_at` is the server's clock.
/// Every bad field is reported at once, as `ticket.<field>`.
pub fn ticket_intake(t: &pb::Ticket, submitted_at: DateTime<Utc>) -> Result<TicketIntake> {
    let mut v = Violations::new();
    let channel = v.take(required(t.channel, "channel"));
    let category = v.take(required(t.category, "category"));
    let severity = v.take(required(t.severity, "severity"));
    let customer_id = v.take(id::<CustomerId>(&t.customer_id, "customer_id"));
    let product_id = v.take(opt_id::<ProductId>(&t.product_id, "product_id"));
    let fault_occurred_at =
        v.take(t.fault_occurred_at.as_ref().map(|ts| datetime(ts, "fault_occurred_at")).transpose());
    let description = Description {
        title: &t.title,
        contact_name: &t.contact_name,
        contact_phone: &t.contact_phone,
        organisation: &t.organisation,
        product_model: &t.product_model,
        serial_number: &t.serial_number,
        symptoms: &t.symptoms,
        error_message: &t.error_message,
        impact_scope: &t.impact_scope,
        initial_urgency: &t.initial_urgency,
        fault_occurred_at: fault_occurred_at.flatten(),
    };
    check_description(&mut v, &description, submitted_at);
    v.check().map_err(|e| prefix(e, "ticket"))?;
    match (channel, category, severity, customer_id, product_id, fault_occurred_at) {
        (
            Some(channel),
            Some(category),
            Some(severity),
            Some(customer_id),
            Some(product_id),
            Some(fault_occurred_at),
        ) => Ok(TicketIntake {
            channel,
            category,
            severity,
            customer_id,
            contact_name: t.contact_name.clone(),
            contact_phone: t.contact_phone.clone(),
            organisation: t.organisation.clone(),
            product_id,
            product_model: t.product_model.clone(),
            serial_number: t.serial_number.clone(),
            fault_occurred_at,
            symptoms: t.symptoms.clone(),
            error_message: t.error_message.clone(),
            impact_scope: t.impact_scope.clone(),
            initial_urgency: t.initial_urgency.clone(),
            title: t.title.clone(),
        }),
        // Each None above recorded a violation, so check() already returned.
        _ => Err(onsite_core::DomainError::invalid("ticket", "is invalid")),
    }
}

/// The edits an update mask asks for, each value converted from the wire ticket. Unknown paths
/// and bad values name their field (`ticket.severity`, `update_mask.paths`).
pub fn ticket_edits(wanted: &pb::Ticket, paths: &[String]) -> Result<Vec<TicketEdit>> {
    let mut v = Violations::new();
    let mut edits = Vec::with_capacity(paths.len());
    for path in paths {
        let field = format!("ticket.{path}");
        let text = |t: &String| t.trim().to_owned();
        let edit = match path.as_str() {
            "title" => Some(TicketEdit::Title(text(&wanted.title))),
            "contact_name" => Some(TicketEdit::ContactName(text(&wanted.contact_name))),
            "contact_phone" => Some(TicketEdit::ContactPhone(text(&wanted.contact_phone))),
            "organisation" => Some(TicketEdit::Organisation(text(&wanted.organisation))),
            "product_model" => Some(TicketEdit::ProductModel(text(&wanted.product_model))),
            "serial_number" => Some(TicketEdit::SerialNumber(text(&wanted.serial_number))),
            "symptoms" => Some(TicketEdit::Symptoms(text(&wanted.symptoms))),
            "error_message" => Some(TicketEdit::ErrorMessage(text(&wanted.error_message))),
            "impact_scope" => Some(TicketEdit::ImpactScope(text(&wanted.impact_scope))),
            "initial_urgency" => Some(TicketEdit::InitialUrgency(text(&wanted.initial_urgency))),
            "category" => v.take(required(wanted.category, &field)).map(TicketEdit::Category),
            "severity" => v.take(required(wanted.severity, &field)).map(TicketEdit::Severity),
            "root_cause" => v.take(optional(wanted.root_cause, &field)).map(TicketEdit::RootCause),
            "product_id" => v.take(opt_id(&wanted.product_id, &field)).map(TicketEdit::ProductId),
            "fault_occurred_at" => v
                .take(wanted.fault_occurred_at.as_ref().map(|t| datetime(t, &field)).transpose())
                .map(TicketEdit::FaultOccurredAt),
            "status" => v.take(required(wanted.status, &field)).map(TicketEdit::Status),
            other => {
                v.push("update_mask.paths", format!("{other:?} is not an updatable field"));
                None
            }
        };
        edits.extend(edit);
    }
    v.finish(edits)
}

/// Puts `prefix.` in front of every violated field of a domain error.
pub fn prefix(err: onsite_core::DomainError, prefix: &str) -> onsite_core::DomainError {
    match err {
        onsite_core::DomainError::Invalid(vs) => {
            onsite_core::DomainError::Invalid(vs.into_iter().map(|v| v.nested(prefix)).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onsite_core::DomainError;

    #[test]
    fn enums_round_trip_and_reject_unspecified() {
        fn round_trip<E: WireEnum + Copy + PartialEq + std::fmt::Debug>(all: &[E]) {
            for e in all {
                assert_eq!(E::from_wire(e.to_wire()), Some(*e));
                assert_ne!(e.to_wire(), 0, "{e:?} must not map to UNSPECIFIED");
            }
        }
        round_trip(SlipState::ALL);
        round_trip(Severity::ALL);
        round_trip(Tier::ALL);
        round_trip(Role::ALL);
        round_trip(Category::ALL);
        round_trip(Channel::ALL);
        round_trip(RootCause::ALL);
        round_trip(TicketStatus::ALL);
        round_trip(BackupKind::ALL);
        round_trip(FixOutcome::ALL);
        round_trip(WriteOffOutcome::ALL);
        round_trip(CostKind::ALL);
        round_trip(Satisfaction::ALL);
        assert_eq!(required::<Severity>(0, "ticket.severity").err().map(|v| v.field), Some("ticket.severity".into()));
        assert!(required::<Severity>(99, "s").is_err());
        assert_eq!(optional::<RootCause>(0, "r"), Ok(None));
    }

    #[test]
    fn intake_reports_every_bad_field_with_its_path() {
        let t = pb::Ticket { title: "Printer jam".into(), customer_id: "nope".into(), ..Default::default() };
        let Err(DomainError::Invalid(vs)) = ticket_intake(&t, Utc::now()) else { panic!("accepted") };
        let fields: Vec<_> = vs.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "ticket.channel",
                "ticket.category",
                "ticket.severity",
                "ticket.customer_id",
                "ticket.contact_name",
                "ticket.symptoms",
                "ticket.impact_scope",
            ]
        );
    }

    #[test]
    fn timestamps_and_dates() {
        let now = Utc::now();
        assert_eq!(datetime(&timestamp(now), "t"), Ok(now));
        assert!(datetime(&Timestamp { seconds: 0, nanos: -1 }, "t").is_err());
        assert!(date(Some(&pb::Date { year: 2026, month: 2, day: 30 }), "d").is_err());
        assert_eq!(date(Some(&pb::Date::default()), "d"), Ok(None));
    }
}
