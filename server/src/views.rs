//! Stored rows as wire messages. Values were validated on the way in, so a value that does not
//! parse back is shown as unspecified rather than failing the whole read.

use chrono::{DateTime, NaiveDate, Utc};
use onsite_core::slip::{BackupKind, CostKind, FixOutcome, Role, Satisfaction, SlipState, VisitKind, WriteOffOutcome};
use onsite_core::ticket::{Category, Channel, RootCause, Severity, TicketStatus, Tier};
use onsite_proto::convert::{WireEnum, timestamp, wire_date};
use onsite_proto::v1 as pb;

use crate::repo::slips::{Labels, Records};
use crate::repo::{engineers, etag, follow_ups, quotes, split_lines, tickets};
use crate::store::entities::{
    backup, contact, cost_line, customer, customer_event, device, engineer, engineer_position, fix, follow_up, product,
    quote, sign_off, site, slip, slip_event, ticket, ticket_event, user,
};
use crate::store::from_us;

pub(crate) fn named<E: WireEnum + std::str::FromStr>(text: &str) -> i32 {
    text.parse::<E>().map(WireEnum::to_wire).unwrap_or(0)
}

fn opt_named<E: WireEnum + std::str::FromStr>(text: Option<&str>) -> i32 {
    text.map_or(0, named::<E>)
}

fn ts(us: i64) -> Option<prost_types::Timestamp> {
    Some(timestamp(from_us(us)))
}

fn opt_ts(us: Option<i64>) -> Option<prost_types::Timestamp> {
    us.map(|us| timestamp(from_us(us)))
}

fn date(text: Option<&str>) -> Option<pb::Date> {
    text.and_then(|t| t.parse::<NaiveDate>().ok()).map(wire_date)
}

fn level<E: WireEnum>(n: i32, from_level: fn(u8) -> Option<E>) -> i32 {
    u8::try_from(n).ok().and_then(from_level).map_or(0, WireEnum::to_wire)
}

/// A ticket, with its SLA state as of `now`.
pub fn ticket(t: &ticket::Model, now: DateTime<Utc>) -> pb::Ticket {
    let breaches = tickets::sla_clock(t).breaches(now);
    pb::Ticket {
        id: t.id.clone(),
        number: t.number.clone(),
        title: t.title.clone(),
        channel: named::<Channel>(&t.channel),
        category: named::<Category>(&t.category),
        severity: level(t.severity, Severity::from_level),
        tier: level(t.tier, Tier::from_level),
        status: named::<TicketStatus>(&t.status),
        customer_id: t.customer_id.clone(),
        contact_name: t.contact_name.clone(),
        contact_phone: t.contact_phone.clone(),
        organisation: t.organisation.clone(),
        product_id: t.product_id.clone().unwrap_or_default(),
        product_model: t.product_model.clone(),
        serial_number: t.serial_number.clone(),
        submitted_at: ts(t.submitted_at_us),
        fault_occurred_at: opt_ts(t.fault_occurred_at_us),
        symptoms: t.symptoms.clone(),
        error_message: t.error_message.clone(),
        impact_scope: t.impact_scope.clone(),
        initial_urgency: t.initial_urgency.clone(),
        root_cause: opt_named::<RootCause>(t.root_cause.as_deref()),
        resolution_note: t.resolution_note.clone(),
        sla: Some(pb::SlaStatus {
            respond_by: ts(t.respond_by_us),
            resolve_by: ts(t.resolve_by_us),
            responded_at: opt_ts(t.responded_at_us),
            resolved_at: opt_ts(t.resolved_at_us),
            response_breached: breaches.contains(&onsite_core::sla::Breach::Response),
            resolution_breached: breaches.contains(&onsite_core::sla::Breach::Resolution),
        }),
        created_by: t.created_by.clone(),
        update_time: ts(t.updated_at_us),
        etag: etag(t.version),
    }
}

/// A ticket history entry.
pub fn ticket_event(e: &ticket_event::Model) -> pb::TicketEvent {
    pb::TicketEvent {
        id: e.id.clone(),
        action: e.action.clone(),
        detail: e.detail.clone(),
        from_tier: e.from_tier.map_or(0, |t| level(t, Tier::from_level)),
        to_tier: e.to_tier.map_or(0, |t| level(t, Tier::from_level)),
        actor_user_id: e.actor_user_id.clone().unwrap_or_default(),
        time: ts(e.at_us),
        request_id: e.request_id.clone(),
    }
}

/// A slip with everything its visit recorded.
pub fn slip(s: &slip::Model, records: &Records) -> pb::Slip {
    pb::Slip {
        backups: records.backups.iter().map(backup_record).collect(),
        fix: records.fix.as_ref().map(fix_record),
        cost_lines: records.cost_lines.iter().map(cost_line).collect(),
        sign_off: records.sign_off.as_ref().map(sign_off),
        needs_manager_review: s.needs_review || !records.flagged.is_empty(),
        flagged_records: records.flagged.clone(),
        quotes: records.quotes.iter().map(quote).collect(),
        ..slip_summary(s, &records.labels)
    }
}

/// A slip without its records, for lists.
pub fn slip_summary(s: &slip::Model, labels: &Labels) -> pb::Slip {
    let appointment = match (s.appointment_start_us, s.appointment_end_us) {
        (Some(start), Some(end)) => Some(pb::Appointment {
            window: Some(pb::TimeWindow { start: ts(start), end: ts(end) }),
            contact_name: s.appointment_contact.clone(),
            reschedule_count: s.reschedule_count,
            last_reschedule_reason: s.last_reschedule_reason.clone(),
            customer_informed: s.customer_informed,
            arrived_at: opt_ts(s.arrived_at_us),
            on_time: s.arrived_on_time,
            check_in_position: s
                .check_in_latitude
                .zip(s.check_in_longitude)
                .map(|(latitude, longitude)| pb::GeoPoint { latitude, longitude }),
        }),
        _ => None,
    };
    pb::Slip {
        id: s.id.clone(),
        ticket_id: s.ticket_id.clone(),
        ticket_number: labels.ticket_number.clone(),
        visit_number: s.visit_number,
        state: named::<SlipState>(&s.state),
        engineer_id: s.engineer_id.clone().unwrap_or_default(),
        site_id: s.site_id.clone().unwrap_or_default(),
        instructions: s.instructions.clone(),
        required_skills: split_lines(&s.required_skills),
        follow_up_of: s.follow_up_of.clone().unwrap_or_default(),
        appointment,
        backups: Vec::new(),
        flagged_records: Vec::new(),
        fix: None,
        cost_lines: Vec::new(),
        sign_off: None,
        decline_reason: s.decline_reason.clone(),
        cancel_reason: s.cancel_reason.clone(),
        write_off_outcome: opt_named::<WriteOffOutcome>(s.write_off_outcome.as_deref()),
        needs_manager_review: s.needs_review,
        created_by: s.created_by.clone(),
        create_time: ts(s.created_at_us),
        update_time: ts(s.updated_at_us),
        etag: etag(s.version),
        site_position: labels.site_position.map(|(latitude, longitude)| pb::GeoPoint { latitude, longitude }),
        warranty: Some(pb::Warranty { last_day: date(s.warranty_end.as_deref()), cover: cover_expected(s).to_wire() }),
        quotes: Vec::new(),
        kind: named::<VisitKind>(&s.kind),
    }
}

/// Who pays, as decided at the check-in, or before it as it would be at the appointment (or
/// now): the columns the decision needs, without reading the slip's quotes.
fn cover_expected(s: &slip::Model) -> onsite_core::warranty::Cover {
    let last_day = s.warranty_end.as_deref().and_then(|d| d.parse().ok());
    let visit = s.arrived_at_us.or(s.appointment_start_us).map_or_else(Utc::now, from_us);
    let cause = s.root_cause.as_deref().and_then(|c| c.parse().ok());
    onsite_core::warranty::decide(last_day, visit, cause)
}

/// A quote as the wire shows it.
pub fn quote(q: &quote::Model) -> pb::Quote {
    let lines = quotes::lines(q).unwrap_or_default();
    pb::Quote {
        id: q.id.clone(),
        slip_id: q.slip_id.clone(),
        lines: lines
            .iter()
            .map(|l| pb::CostLine {
                id: l.id.clone(),
                kind: named::<CostKind>(&l.kind),
                description: l.description.clone(),
                part_number: l.part_number.clone(),
                quantity: l.quantity,
                unit_price: Some(pb::Money { minor_units: l.unit_price_minor, currency_code: l.currency.clone() }),
                billable: true,
                recorded_by: q.created_by.clone(),
                billable_override_reason: String::new(),
            })
            .collect(),
        total: Some(pb::Money { minor_units: q.total_minor, currency_code: q.currency.clone() }),
        accepted: q.state == quotes::ACCEPTED,
        rejected: q.state == quotes::REJECTED,
        decided_at: opt_ts(q.decided_at_us),
        etag: etag(q.version),
        channel: match q.channel.as_deref().and_then(quotes::Channel::parse) {
            Some(quotes::Channel::Phone) => pb::QuoteChannel::Phone,
            Some(quotes::Channel::Email) => pb::QuoteChannel::Email,
            Some(quotes::Channel::OnDevice) => pb::QuoteChannel::OnDevice,
            None => pb::QuoteChannel::Unspecified,
        } as i32,
        decided_by_name: q.decided_by_name.clone(),
        confirmation: q.confirmation.clone(),
        recorded_by: q.recorded_by.clone().unwrap_or_default(),
        created_by: q.created_by.clone(),
        create_time: ts(q.created_at_us),
        signature_png_sha256: q.signature_png_sha256.clone(),
        signature_verified: q.signature_verified,
    }
}

fn backup_record(b: &backup::Model) -> pb::BackupRecord {
    pb::BackupRecord {
        id: b.id.clone(),
        kind: named::<BackupKind>(&b.kind),
        location: b.location.clone(),
        note: b.note.clone(),
        attachment_sha256: split_lines(&b.attachments),
        recorded_by: b.recorded_by.clone(),
        recorded_at: ts(b.recorded_at_us),
        contents: b.contents.clone(),
        size_bytes: b.size_bytes,
        performed_by: b.performed_by.clone(),
        verified: b.verified,
        waiver: b.waiver_signer.as_ref().map(|signer| pb::CustomerSignature {
            signer_name: signer.clone(),
            signature_png_sha256: b.waiver_png_sha256.clone().unwrap_or_default(),
            signed_at: b.waiver_signed_at_us.and_then(ts),
        }),
    }
}

fn fix_record(f: &fix::Model) -> pb::FixRecord {
    pb::FixRecord {
        id: f.id.clone(),
        outcome: named::<FixOutcome>(&f.outcome),
        root_cause: opt_named::<RootCause>(f.root_cause.as_deref()),
        cause: f.cause.clone(),
        solution: f.solution.clone(),
        prevention: f.prevention.clone(),
        time_spent_minutes: f.time_spent_minutes,
        data_taken_off_site: f.data_taken_off_site,
        attachment_sha256: split_lines(&f.attachments),
        recorded_by: f.recorded_by.clone(),
        recorded_at: ts(f.recorded_at_us),
        custody: f.custody_scope.as_ref().map(|scope| pb::CustodyAuthorisation {
            scope: scope.clone(),
            signature: Some(pb::CustomerSignature {
                signer_name: f.custody_signer.clone().unwrap_or_default(),
                signature_png_sha256: f.custody_png_sha256.clone().unwrap_or_default(),
                signed_at: f.custody_signed_at_us.and_then(ts),
            }),
        }),
    }
}

fn cost_line(c: &cost_line::Model) -> pb::CostLine {
    pb::CostLine {
        id: c.id.clone(),
        kind: named::<CostKind>(&c.kind),
        description: c.description.clone(),
        part_number: c.part_number.clone(),
        quantity: c.quantity,
        unit_price: Some(pb::Money { minor_units: c.unit_price_minor, currency_code: c.currency.clone() }),
        billable: c.billable,
        recorded_by: c.recorded_by.clone(),
        billable_override_reason: c.billable_override_reason.clone().unwrap_or_default(),
    }
}

/// A sign-off as the wire shows it.
pub fn sign_off(s: &sign_off::Model) -> pb::SignOff {
    pb::SignOff {
        signer_name: s.signer_name.clone(),
        satisfaction: opt_named::<Satisfaction>(s.satisfaction.as_deref()),
        service_quality_rating: s.service_quality_rating,
        product_rating: s.product_rating,
        support_rating: s.support_rating,
        customer_opinion: s.customer_opinion.clone(),
        signature_png_sha256: s.signature_png_sha256.clone(),
        report_content_sha256: s.report_content_sha256.clone(),
        device_signature: s.device_signature.clone(),
        device_id: s.device_id.clone(),
        signed_at: ts(s.signed_at_us),
        verified: s.verified,
        report_content: s.report_content.clone().unwrap_or_default(),
    }
}

/// An audit entry.
pub fn slip_event(e: &slip_event::Model) -> pb::SlipEvent {
    pb::SlipEvent {
        id: e.id.clone(),
        slip_id: e.slip_id.clone(),
        action: e.action.clone(),
        from_state: named::<SlipState>(&e.from_state),
        to_state: named::<SlipState>(&e.to_state),
        actor_user_id: e.actor_user_id.clone(),
        actor_role: named::<Role>(&e.actor_role),
        device_id: e.device_id.clone().unwrap_or_default(),
        server_time: ts(e.server_time_us),
        device_time: opt_ts(e.device_time_us),
        request_id: e.request_id.clone(),
        detail: e.detail.clone(),
    }
}

/// A customer with what it owns.
pub fn customer(
    c: &customer::Model,
    contacts: &[contact::Model],
    sites: &[site::Model],
    products: &[product::Model],
) -> pb::Customer {
    pb::Customer {
        id: c.id.clone(),
        name: c.name.clone(),
        project_name: c.project_name.clone(),
        project_manager: c.project_manager.clone(),
        implementation_staff: c.implementation_staff.clone(),
        contract_signed_on: date(c.contract_signed_on.as_deref()),
        implementation_started_on: date(c.implementation_started_on.as_deref()),
        accepted_on: date(c.accepted_on.as_deref()),
        service_started_on: date(c.service_started_on.as_deref()),
        warranty_start: date(c.warranty_start.as_deref()),
        warranty_end: date(c.warranty_end.as_deref()),
        notes: c.notes.clone(),
        contacts: contacts
            .iter()
            .map(|k| pb::Contact {
                id: k.id.clone(),
                name: k.name.clone(),
                role: k.role.clone(),
                phone: k.phone.clone(),
                email: k.email.clone(),
            })
            .collect(),
        sites: sites
            .iter()
            .map(|s| pb::Site {
                id: s.id.clone(),
                name: s.name.clone(),
                address: s.address.clone(),
                position: Some(pb::GeoPoint { latitude: s.latitude, longitude: s.longitude }),
            })
            .collect(),
        products: products
            .iter()
            .map(|p| pb::InstalledProduct {
                id: p.id.clone(),
                site_id: p.site_id.clone().unwrap_or_default(),
                model: p.model.clone(),
                serial_number: p.serial_number.clone(),
                installed_on: date(p.installed_on.as_deref()),
                warranty_end: date(p.warranty_end.as_deref()),
            })
            .collect(),
        create_time: ts(c.created_at_us),
        etag: etag(c.version),
    }
}

/// An engineer.
pub fn engineer(e: &engineer::Model) -> pb::Engineer {
    let status = match e.status.as_str() {
        "available" => pb::EngineerStatus::Available,
        "busy" => pb::EngineerStatus::Busy,
        "off" => pb::EngineerStatus::Off,
        _ => pb::EngineerStatus::Unspecified,
    };
    pb::Engineer {
        id: e.id.clone(),
        employee_number: e.employee_number.clone(),
        name: e.name.clone(),
        phone: e.phone.clone(),
        tier: level(e.tier, Tier::from_level),
        skills: engineers::decode_skills(&e.skills),
        home_base: Some(pb::GeoPoint { latitude: e.home_latitude, longitude: e.home_longitude }),
        status: status as i32,
        shift: e.shift.clone(),
        days_off: e.days_off.split(',').filter_map(|d| date(Some(d))).collect(),
        last_position: e
            .last_latitude
            .zip(e.last_longitude)
            .map(|(latitude, longitude)| pb::GeoPoint { latitude, longitude }),
        last_position_time: opt_ts(e.last_position_at_us),
        etag: etag(e.version),
    }
}

/// A stored position fix.
pub fn position_fix(p: &engineer_position::Model) -> pb::PositionFix {
    pb::PositionFix {
        position: Some(pb::GeoPoint { latitude: p.latitude, longitude: p.longitude }),
        time: ts(p.device_time_us),
        accuracy_m: p.accuracy_m,
        receive_time: ts(p.received_at_us),
    }
}

/// An engineer's phone.
pub fn device(d: &device::Model) -> pb::Device {
    pb::Device {
        id: d.id.clone(),
        engineer_id: d.engineer_id.clone().unwrap_or_default(),
        label: d.label.clone(),
        last_applied_seq: d.last_applied_seq,
        registered_at: ts(d.registered_at_us),
        last_push_at: opt_ts(d.last_push_at_us),
        revoked_at: opt_ts(d.revoked_at_us),
        revoke_reason: d.revoke_reason.clone().unwrap_or_default(),
    }
}

/// A user.
pub fn user(u: &user::Model) -> pb::User {
    pb::User {
        id: u.id.clone(),
        name: u.name.clone(),
        role: named::<Role>(&u.role),
        engineer_id: u.engineer_id.clone().unwrap_or_default(),
        create_time: ts(u.created_at_us),
        login: u.login.clone().unwrap_or_default(),
    }
}

/// The tokens of a session, for the one response that shows them.
pub fn session(issued: crate::auth::sessions::Issued, u: &user::Model) -> pb::Session {
    pb::Session {
        session_id: issued.session_id,
        access_token: issued.access_token,
        access_expire_time: ts(issued.access_expires_us),
        refresh_token: issued.refresh_token,
        refresh_expire_time: ts(issued.refresh_expires_us),
        user: Some(user(u)),
    }
}

/// A one-time code, for the one response that shows it.
pub fn one_time_code(code: String, expires_at_us: i64) -> pb::OneTimeCode {
    pb::OneTimeCode { code, expire_time: ts(expires_at_us) }
}

/// An entry of the audit log.
pub fn audit_event(e: &crate::store::entities::audit_event::Model) -> pb::AuditEvent {
    pb::AuditEvent {
        id: e.id.clone(),
        time: ts(e.at_us),
        kind: e.kind.clone(),
        user_id: e.user_id.clone().unwrap_or_default(),
        subject: e.subject.clone(),
        address: e.address.clone(),
        detail: e.detail.clone(),
    }
}

/// A follow-up as the wire shows it.
pub fn follow_up(f: &follow_up::Model) -> pb::FollowUp {
    pb::FollowUp {
        id: f.id.clone(),
        slip_id: f.slip_id.clone(),
        ticket_number: f.ticket_number.clone(),
        customer_id: f.customer_id.clone(),
        customer_name: f.customer_name.clone(),
        reason: f.reason.clone(),
        signer_name: f.signer_name.clone(),
        customer_opinion: f.customer_opinion.clone(),
        due_time: ts(f.due_at_us),
        create_time: ts(f.created_at_us),
        closed: f.state == follow_ups::CLOSED,
        close_time: opt_ts(f.closed_at_us),
        outcome: f.outcome.clone(),
        closed_by: f.closed_by.clone().unwrap_or_default(),
        etag: etag(f.version),
    }
}

/// A customer audit record as the wire shows it.
pub fn customer_event(e: &customer_event::Model) -> pb::CustomerEvent {
    pb::CustomerEvent {
        id: e.id.clone(),
        action: e.action.clone(),
        detail: e.detail.clone(),
        actor_user_id: e.actor_user_id.clone(),
        time: ts(e.at_us),
    }
}
