//! The SDK's public records: slips, tickets, customers, visit records, the parts catalog and
//! what needs attention, as the engineer's screens read them. Nothing here is a wire type;
//! conversions from the wire are crate-private. An enum value a newer server sends stays
//! `Code::Unknown`, never shown as a known one.

use chrono::{DateTime, NaiveDate, Utc};
use onsite_core::geo::GeoPoint;
use onsite_core::op::{BackupRecord, Code, CostLine, FixRecord, Price, SignOff};
use onsite_core::slip::{SlipState, VisitKind, Window};
use onsite_core::ticket::{Severity, TicketStatus};
use onsite_core::warranty::Cover;
use onsite_proto::convert::{self, op::code};
use onsite_proto::v1 as pb;

/// A dispatch slip as the engineer sees it: the server's view with unsynced actions applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Slip {
    pub id: String,
    pub ticket_id: String,
    /// `TS20261123-0042`.
    pub ticket_number: String,
    /// 1 for the first visit of a ticket, 2 for its follow-up…
    pub visit_number: i32,
    /// Installation, repair or maintenance.
    pub kind: Code<VisitKind>,
    pub state: Code<SlipState>,
    pub engineer_id: String,
    pub site_id: String,
    pub site_position: Option<GeoPoint>,
    pub instructions: String,
    pub required_skills: Vec<String>,
    pub appointment: Option<Appointment>,
    pub backups: Vec<BackupRecord>,
    pub fix: Option<FixRecord>,
    pub cost_lines: Vec<CostLine>,
    pub sign_off: Option<SignOffRecord>,
    /// The warranty the visit is judged on and who pays, as the rules decide on this phone too.
    pub warranty: Warranty,
    /// The slip's quotes, oldest first.
    pub quotes: Vec<Quote>,
    pub decline_reason: String,
    pub cancel_reason: String,
    /// Records of this visit were kept for the manager to review.
    pub needs_manager_review: bool,
    pub update_time: Option<DateTime<Utc>>,
    /// The server's version this view is based on.
    pub etag: String,
}

impl Slip {
    /// Whether the visit is still to be worked (not completed, written off, cancelled or
    /// declined). A state this version does not know counts as open: it is never hidden.
    pub fn is_open(&self) -> bool {
        self.state.known().is_none_or(|s| s.is_open() && s != SlipState::Declined)
    }
}

/// The warranty a visit is judged on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warranty {
    /// The last day of the product's warranty, or else the customer's free service.
    pub last_day: Option<NaiveDate>,
    /// Who pays: free, billable (and why), or undecided until the fix's root cause is known.
    pub cover: Code<Cover>,
}

/// A quote for billable work, and the customer's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub id: String,
    pub lines: Vec<CostLine>,
    pub total: Option<Price>,
    pub accepted: bool,
    pub rejected: bool,
    pub decided_at: Option<DateTime<Utc>>,
    /// Who decided at the customer.
    pub decided_by_name: String,
}

/// The appointment agreed with the customer, and the arrival.
#[derive(Clone, Debug, PartialEq)]
pub struct Appointment {
    pub window: Option<Window>,
    /// The contact who agreed it.
    pub contact_name: String,
    pub reschedule_count: i32,
    pub last_reschedule_reason: String,
    pub customer_informed: bool,
    pub arrived_at: Option<DateTime<Utc>>,
    pub on_time: bool,
    pub check_in_position: Option<GeoPoint>,
}

/// The customer's sign-off as recorded, and whether the server verified it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignOffRecord {
    pub sign_off: SignOff,
    /// True once the server verified the device signature against its records.
    pub verified: bool,
}

/// The service request behind a slip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub id: String,
    /// `TS20261123-0042`.
    pub number: String,
    pub title: String,
    pub severity: Code<Severity>,
    pub status: Code<TicketStatus>,
    pub customer_id: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub organisation: String,
    pub product_id: String,
    pub product_model: String,
    pub serial_number: String,
    pub symptoms: String,
    pub error_message: String,
    pub impact_scope: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub fault_occurred_at: Option<DateTime<Utc>>,
}

/// A customer with the people, sites and installed products the visit needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub notes: String,
    pub warranty_end: Option<NaiveDate>,
    pub contacts: Vec<Contact>,
    pub sites: Vec<Site>,
    pub products: Vec<InstalledProduct>,
}

/// A person to call at the customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub role: String,
    pub phone: String,
    pub email: String,
}

/// A place where the customer's equipment stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub address: String,
    pub position: Option<GeoPoint>,
}

/// A product installed at a site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalledProduct {
    pub id: String,
    pub site_id: String,
    pub model: String,
    pub serial_number: String,
    pub installed_on: Option<NaiveDate>,
    pub warranty_end: Option<NaiveDate>,
}

/// A spare part from the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub part_number: String,
    pub description: String,
    pub unit_price: Option<Price>,
    pub product_lines: Vec<String>,
}

/// An op the server refused, kept on the device until someone deals with it.
#[derive(Clone, Debug, PartialEq)]
pub struct Attention {
    pub op_id: String,
    pub device_seq: i64,
    pub slip_id: String,
    /// What the op did (`confirm`, `record_fix`…).
    pub action: String,
    /// `CONFLICT` (the slip moved on) or `REJECTED`.
    pub outcome: String,
    /// UPPER_SNAKE_CASE, e.g. `SLIP_REASSIGNED`.
    pub reason: String,
    pub message: String,
    /// The slip as the server holds it, when it still shows it to this engineer.
    pub server_slip: Option<Slip>,
    /// The slip as this phone showed it when the refusal arrived: read-only, and kept after the
    /// slip left the phone (a reassignment, a cancellation).
    pub slip_snapshot: Option<Slip>,
    /// When the refusal arrived (Unix ms).
    pub at_ms: i64,
}

/// An op still on its way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingChange {
    pub device_seq: i64,
    pub op_id: String,
    pub slip_id: String,
    /// What it does (`confirm`, `log_backup`…).
    pub action: String,
    /// Sends tried so far.
    pub attempts: i64,
}

fn time(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    ts.and_then(|t| convert::datetime(t, "time").ok())
}

/// A record's time if it is one; a record with a time out of range shows without it.
fn readable(ts: Option<prost_types::Timestamp>) -> Option<prost_types::Timestamp> {
    ts.filter(|t| time(Some(t)).is_some())
}

fn point(p: Option<&pb::GeoPoint>) -> Option<GeoPoint> {
    p.and_then(|p| convert::geo_point(Some(p), "position").ok())
}

fn date(d: Option<&pb::Date>) -> Option<NaiveDate> {
    convert::date(d, "date").ok().flatten()
}

fn price(m: Option<&pb::Money>) -> Option<Price> {
    m.map(|m| Price { minor_units: m.minor_units, currency_code: m.currency_code.clone() })
}

/// The action name of a queued op.
pub(crate) fn action_name(op: &pb::Op) -> &'static str {
    op.payload.as_ref().and_then(|p| onsite_core::op::DeviceAction::try_from(p).ok()).map_or("unknown", |a| a.name())
}

impl Slip {
    /// The record as the server sent it.
    pub(crate) fn from_wire(s: &pb::Slip) -> Self {
        Self {
            id: s.id.clone(),
            ticket_id: s.ticket_id.clone(),
            ticket_number: s.ticket_number.clone(),
            visit_number: s.visit_number,
            kind: code(s.kind),
            state: code(s.state),
            engineer_id: s.engineer_id.clone(),
            site_id: s.site_id.clone(),
            site_position: point(s.site_position.as_ref()),
            instructions: s.instructions.clone(),
            required_skills: s.required_skills.clone(),
            appointment: s.appointment.as_ref().map(|a| Appointment {
                window: a.window.as_ref().and_then(|w| convert::window(Some(w), "window").ok()),
                contact_name: a.contact_name.clone(),
                reschedule_count: a.reschedule_count,
                last_reschedule_reason: a.last_reschedule_reason.clone(),
                customer_informed: a.customer_informed,
                arrived_at: time(a.arrived_at.as_ref()),
                on_time: a.on_time,
                check_in_position: point(a.check_in_position.as_ref()),
            }),
            // Only a time out of range can fail to convert; such a record shows without it.
            backups: s
                .backups
                .iter()
                .filter_map(|b| {
                    BackupRecord::try_from(&pb::BackupRecord { recorded_at: readable(b.recorded_at), ..b.clone() }).ok()
                })
                .collect(),
            fix: s.fix.as_ref().and_then(|f| {
                FixRecord::try_from(&pb::FixRecord { recorded_at: readable(f.recorded_at), ..f.clone() }).ok()
            }),
            cost_lines: s.cost_lines.iter().map(CostLine::from).collect(),
            sign_off: s.sign_off.as_ref().and_then(|o| {
                let sign_off =
                    SignOff::try_from(&pb::SignOff { signed_at: readable(o.signed_at), ..o.clone() }).ok()?;
                Some(SignOffRecord { sign_off, verified: o.verified })
            }),
            warranty: Warranty {
                last_day: date(s.warranty.as_ref().and_then(|w| w.last_day.as_ref())),
                cover: code(s.warranty.as_ref().map_or(0, |w| w.cover)),
            },
            quotes: s
                .quotes
                .iter()
                .map(|q| Quote {
                    id: q.id.clone(),
                    lines: q.lines.iter().map(CostLine::from).collect(),
                    total: price(q.total.as_ref()),
                    accepted: q.accepted,
                    rejected: q.rejected,
                    decided_at: time(q.decided_at.as_ref()),
                    decided_by_name: q.decided_by_name.clone(),
                })
                .collect(),
            decline_reason: s.decline_reason.clone(),
            cancel_reason: s.cancel_reason.clone(),
            needs_manager_review: s.needs_manager_review,
            update_time: time(s.update_time.as_ref()),
            etag: s.etag.clone(),
        }
    }
}

impl Ticket {
    /// The record as the server sent it.
    pub(crate) fn from_wire(t: &pb::Ticket) -> Self {
        Self {
            id: t.id.clone(),
            number: t.number.clone(),
            title: t.title.clone(),
            severity: code(t.severity),
            status: code(t.status),
            customer_id: t.customer_id.clone(),
            contact_name: t.contact_name.clone(),
            contact_phone: t.contact_phone.clone(),
            organisation: t.organisation.clone(),
            product_id: t.product_id.clone(),
            product_model: t.product_model.clone(),
            serial_number: t.serial_number.clone(),
            symptoms: t.symptoms.clone(),
            error_message: t.error_message.clone(),
            impact_scope: t.impact_scope.clone(),
            submitted_at: time(t.submitted_at.as_ref()),
            fault_occurred_at: time(t.fault_occurred_at.as_ref()),
        }
    }
}

impl Customer {
    /// The record as the server sent it.
    pub(crate) fn from_wire(c: &pb::Customer) -> Self {
        Self {
            id: c.id.clone(),
            name: c.name.clone(),
            notes: c.notes.clone(),
            warranty_end: date(c.warranty_end.as_ref()),
            contacts: c
                .contacts
                .iter()
                .map(|k| Contact {
                    id: k.id.clone(),
                    name: k.name.clone(),
                    role: k.role.clone(),
                    phone: k.phone.clone(),
                    email: k.email.clone(),
                })
                .collect(),
            sites: c
                .sites
                .iter()
                .map(|s| Site {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    address: s.address.clone(),
                    position: point(s.position.as_ref()),
                })
                .collect(),
            products: c
                .products
                .iter()
                .map(|p| InstalledProduct {
                    id: p.id.clone(),
                    site_id: p.site_id.clone(),
                    model: p.model.clone(),
                    serial_number: p.serial_number.clone(),
                    installed_on: date(p.installed_on.as_ref()),
                    warranty_end: date(p.warranty_end.as_ref()),
                })
                .collect(),
        }
    }
}

impl Part {
    /// The record as the server sent it.
    pub(crate) fn from_wire(p: &pb::Part) -> Self {
        Self {
            part_number: p.part_number.clone(),
            description: p.description.clone(),
            unit_price: price(p.unit_price.as_ref()),
            product_lines: p.product_lines.clone(),
        }
    }
}
