//! The service desk's lists and records: tickets, slips, engineers, customers.

use onsite_proto::v1 as pb;
use pb::engineer_service_client::EngineerServiceClient;
use pb::slip_service_client::SlipServiceClient;
use pb::ticket_service_client::TicketServiceClient;

use crate::table::{Report, Table};
use crate::text::{engineer_status, point, role, short, slip_state, time};
use crate::{Ctx, Result};

pub async fn whoami(ctx: &Ctx) -> Result<Report> {
    let mut admin = pb::admin_service_client::AdminServiceClient::new(ctx.channel.clone());
    let me = admin.who_am_i(ctx.req(pb::WhoAmIRequest {})?).await?.into_inner();
    let mut report = Report::default();
    report.field("user", format!("{} ({})", me.name, role(me.role))).field("id", me.id);
    Ok(report)
}

/// Which tickets `tickets` lists, and in which order.
#[derive(Debug)]
pub struct TicketQuery {
    pub status: Option<String>,
    pub severity: Option<i32>,
    pub breached: bool,
    /// The desk's queue: bugs first, then severity, then the oldest.
    pub queue: bool,
}

pub async fn tickets(ctx: &Ctx, q: TicketQuery) -> Result<Report> {
    let TicketQuery { status, severity, breached, queue } = q;
    let status = match status.as_deref() {
        None => 0,
        Some(s) => pb::TicketStatus::from_str_name(&format!("TICKET_STATUS_{}", s.to_uppercase()))
            .ok_or_else(|| format!("unknown status {s:?}"))? as i32,
    };
    let request = pb::ListTicketsRequest {
        page_size: 200,
        status,
        severity: severity.unwrap_or(0),
        sla_breached: breached.then_some(true),
        order: if queue { pb::TicketOrder::Queue } else { pb::TicketOrder::Unspecified } as i32,
        ..Default::default()
    };
    let list = TicketServiceClient::new(ctx.channel.clone()).list_tickets(ctx.req(request)?).await?.into_inner();
    let mut table = Table::new(["NUMBER", "SEV", "TIER", "STATUS", "SLA", "TITLE"]);
    for t in &list.tickets {
        let sla = t.sla.unwrap_or_default();
        let breach = if sla.response_breached || sla.resolution_breached { "BREACHED" } else { "ok" };
        let status = pb::TicketStatus::try_from(t.status).map(|s| s.as_str_name()).unwrap_or("?");
        table.row([
            t.number.clone(),
            t.severity.to_string(),
            t.tier.to_string(),
            short(status, "TICKET_STATUS_"),
            breach.to_owned(),
            t.title.clone(),
        ]);
    }
    let mut report = Report::default();
    report.table("tickets", table);
    Ok(report)
}

pub async fn ticket(ctx: &Ctx, id: String) -> Result<Report> {
    let mut tickets = TicketServiceClient::new(ctx.channel.clone());
    let t = tickets.get_ticket(ctx.req(pb::GetTicketRequest { id: id.clone() })?).await?.into_inner();
    let events = tickets.list_ticket_events(ctx.req(pb::ListTicketEventsRequest { id })?).await?.into_inner();
    let mut history = Table::new(["WHEN", "ACTION", "DETAIL"]);
    for e in events.events {
        history.row([time(e.time.as_ref()), e.action, e.detail]);
    }
    let mut report = Report::default();
    report
        .field("number", &t.number)
        .field("title", &t.title)
        .field("severity", t.severity)
        .field("tier", t.tier)
        .field("customer", &t.customer_id)
        .field("contact", &t.contact_name)
        .field("symptoms", &t.symptoms)
        .field("impact", &t.impact_scope)
        .table("history", history);
    Ok(report)
}

pub async fn slips(ctx: &Ctx, engineer: Option<String>) -> Result<Report> {
    let engineer_id = match engineer {
        Some(e) => engineer_id(ctx, &e).await?,
        None => String::new(),
    };
    let mut table = Table::new(["SLIP", "TICKET", "VISIT", "STATE", "ENGINEER", "APPOINTMENT"]);
    for s in all_slips(ctx, &engineer_id).await? {
        let window = s.appointment.as_ref().and_then(|a| a.window.as_ref());
        table.row([
            s.id.clone(),
            s.ticket_number.clone(),
            s.visit_number.to_string(),
            slip_state(s.state),
            s.engineer_id.clone(),
            crate::text::window(window),
        ]);
    }
    let mut report = Report::default();
    report.table("slips", table);
    Ok(report)
}

pub async fn slip(ctx: &Ctx, id: String) -> Result<Report> {
    let mut slips = SlipServiceClient::new(ctx.channel.clone());
    let s = slips.get_slip(ctx.req(pb::GetSlipRequest { id: id.clone() })?).await?.into_inner();
    let events = slips.list_slip_events(ctx.req(pb::ListSlipEventsRequest { id })?).await?.into_inner();
    let mut history = Table::new(["WHEN", "ACTION", "FROM", "TO", "BY", "DETAIL"]);
    for e in events.events {
        history.row([
            time(e.server_time.as_ref()),
            e.action,
            slip_state(e.from_state),
            slip_state(e.to_state),
            role(e.actor_role),
            e.detail,
        ]);
    }
    let mut report = Report::default();
    report
        .field("slip", &s.id)
        .field("ticket", &s.ticket_number)
        .field("visit", s.visit_number)
        .field("state", slip_state(s.state))
        .field("engineer", &s.engineer_id)
        .field("appointment", crate::text::window(s.appointment.as_ref().and_then(|a| a.window.as_ref())))
        .field("arrived", time(s.appointment.as_ref().and_then(|a| a.arrived_at.as_ref())))
        .field("fix", s.fix.as_ref().map(|f| f.solution.clone()).unwrap_or_default())
        .field("who pays", cover(s.warranty.as_ref()))
        .field("signed off by", s.sign_off.as_ref().map(|o| o.signer_name.clone()).unwrap_or_default())
        .field("signature verified", if s.sign_off.as_ref().is_some_and(|o| o.verified) { "yes" } else { "no" })
        .field("needs review", if s.needs_manager_review { "yes" } else { "no" })
        .table("records", records(&s))
        .table("history", history);
    Ok(report)
}

/// Who pays for the visit, as the warranty decides.
fn cover(w: Option<&pb::Warranty>) -> String {
    let Some(w) = w else { return String::new() };
    let until = w.last_day.as_ref().map_or_else(
        || "no warranty on record".to_owned(),
        |d| format!("warranty to {:04}-{:02}-{:02}", d.year, d.month, d.day),
    );
    let cover = match w.cover() {
        pb::Cover::Free => "free (in warranty)",
        pb::Cover::NoWarranty | pb::Cover::WarrantyEnded => "billable (out of warranty)",
        pb::Cover::CauseNotCovered => "billable (cause not covered)",
        pb::Cover::Undecided => "decided by the root cause",
        pb::Cover::Unspecified => "unknown",
    };
    format!("{cover}; {until}")
}

/// The visit's records, and those kept for the manager from devices.
fn records(s: &pb::Slip) -> Table {
    let mut table = Table::new(["RECORD", "DETAIL", "FLAGGED"]);
    for b in &s.backups {
        table.row(["backup".into(), format!("{} ({} photos)", b.location, b.attachment_sha256.len()), String::new()]);
    }
    for c in &s.cost_lines {
        let price = crate::text::money(c.unit_price.as_ref());
        let billable = if c.billable { ", billable" } else { "" };
        table.row(["cost".into(), format!("{} x{} at {price}{billable}", c.description, c.quantity), String::new()]);
    }
    for q in &s.quotes {
        let total = crate::text::money(q.total.as_ref());
        let state = match (q.accepted, q.rejected) {
            (true, _) => format!("accepted by {}", q.decided_by_name),
            (_, true) => format!("declined by {}", q.decided_by_name),
            _ => "awaiting the customer".to_owned(),
        };
        table.row(["quote".into(), format!("{} line(s), {total}, {state} ({})", q.lines.len(), q.id), String::new()]);
    }
    for f in &s.flagged_records {
        let kind = match &f.record {
            Some(pb::flagged_record::Record::Backup(_)) => "backup",
            Some(pb::flagged_record::Record::Fix(_)) => "fix",
            Some(pb::flagged_record::Record::CostLines(_)) => "cost",
            Some(pb::flagged_record::Record::SignOff(_)) => "sign-off",
            Some(pb::flagged_record::Record::QuoteDraft(_)) => "quote",
            Some(pb::flagged_record::Record::QuoteDecision(_)) => "quote decision",
            None => "?",
        };
        table.row([kind.into(), format!("by {} from device {}", f.recorded_by, f.device_id), f.reason.clone()]);
    }
    table
}

pub async fn engineers(ctx: &Ctx) -> Result<Report> {
    let mut table = Table::new(["NO.", "NAME", "TIER", "STATUS", "SKILLS", "POSITION", "SEEN", "ID"]);
    for e in all_engineers(ctx).await? {
        let position = e.last_position.as_ref().or(e.home_base.as_ref());
        table.row([
            e.employee_number,
            e.name,
            e.tier.to_string(),
            engineer_status(e.status),
            e.skills.join(","),
            point(position),
            time(e.last_position_time.as_ref()),
            e.id,
        ]);
    }
    let mut report = Report::default();
    report.table("engineers", table);
    Ok(report)
}

pub async fn customers(ctx: &Ctx) -> Result<Report> {
    let mut customers = pb::customer_service_client::CustomerServiceClient::new(ctx.channel.clone());
    let request = pb::ListCustomersRequest { page_size: 200, ..Default::default() };
    let list = customers.list_customers(ctx.req(request)?).await?.into_inner();
    let mut table = Table::new(["NAME", "PROJECT", "ID"]);
    for c in list.customers {
        table.row([c.name, c.project_name, c.id]);
    }
    let mut report = Report::default();
    report.table("customers", table);
    Ok(report)
}

/// Every engineer, page by page.
pub async fn all_engineers(ctx: &Ctx) -> Result<Vec<pb::Engineer>> {
    let mut client = EngineerServiceClient::new(ctx.channel.clone());
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListEngineersRequest { page_size: 200, page_token, ..Default::default() };
        let page = client.list_engineers(ctx.req(request)?).await?.into_inner();
        all.extend(page.engineers);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        page_token = page.next_page_token;
    }
}

/// Every slip (of one engineer when `engineer_id` is set), page by page.
pub async fn all_slips(ctx: &Ctx, engineer_id: &str) -> Result<Vec<pb::Slip>> {
    let mut client = SlipServiceClient::new(ctx.channel.clone());
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListSlipsRequest {
            page_size: 200,
            page_token,
            engineer_id: engineer_id.to_owned(),
            ..Default::default()
        };
        let page = client.list_slips(ctx.req(request)?).await?.into_inner();
        all.extend(page.slips);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        page_token = page.next_page_token;
    }
}

/// An engineer's id from an id or an employee number.
pub async fn engineer_id(ctx: &Ctx, id_or_number: &str) -> Result<String> {
    if id_or_number.len() == 36 && id_or_number.chars().filter(|c| *c == '-').count() == 4 {
        return Ok(id_or_number.to_owned());
    }
    all_engineers(ctx)
        .await?
        .into_iter()
        .find(|e| e.employee_number == id_or_number)
        .map(|e| e.id)
        .ok_or_else(|| format!("no engineer with employee number {id_or_number:?}").into())
}
