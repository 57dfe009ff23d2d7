//! The manager's decisions on a slip: verifying the on-site request, writing a visit off.

use onsite_proto::v1::{self as pb, slip_service_client::SlipServiceClient};

use crate::table::Report;
use crate::text::slip_state;
use crate::{Ctx, Result};

/// Opens a slip (a visit) for a ticket (id or TS number) at one of its customer's sites.
pub async fn open(ctx: &Ctx, ticket: &str, site: String, instructions: String, kind: &str) -> Result<Report> {
    let kind = match kind {
        "installation" => pb::VisitKind::Installation,
        "repair" => pb::VisitKind::Repair,
        "maintenance" => pb::VisitKind::Maintenance,
        other => return Err(format!("unknown kind {other:?}: installation, repair or maintenance").into()),
    };
    let tickets = pb::ticket_service_client::TicketServiceClient::new(ctx.channel.clone());
    let ticket = tickets.clone().get_ticket(ctx.req(pb::GetTicketRequest { id: ticket.to_owned() })?).await?;
    let request = pb::CreateSlipRequest {
        request_id: request_id(),
        ticket_id: ticket.into_inner().id,
        site_id: site,
        instructions,
        required_skills: Vec::new(),
        kind: kind as i32,
    };
    let s = SlipServiceClient::new(ctx.channel.clone()).create_slip(ctx.req(request)?).await?.into_inner();
    let mut report = Report::default();
    report
        .field("slip", &s.id)
        .field("ticket", &s.ticket_number)
        .field("visit", s.visit_number)
        .field("state", slip_state(s.state));
    Ok(report)
}

/// Verifies the on-site request record of a draft slip.
pub async fn verify(ctx: &Ctx, slip: String) -> Result<Report> {
    let request = pb::SlipActionRequest { request_id: request_id(), slip_id: slip, etag: String::new() };
    let s = SlipServiceClient::new(ctx.channel.clone()).verify_slip(ctx.req(request)?).await?.into_inner();
    let mut report = Report::default();
    report.field("slip", &s.id).field("state", slip_state(s.state));
    Ok(report)
}

/// Writes a completed or cancelled slip off: resolved, follow-up (another visit) or escalate.
pub async fn write_off(ctx: &Ctx, slip: String, outcome: &str, note: String) -> Result<Report> {
    let outcome = match outcome {
        "resolved" => pb::WriteOffOutcome::Resolved,
        "follow-up" => pb::WriteOffOutcome::FollowUp,
        "escalate" => pb::WriteOffOutcome::Escalate,
        other => return Err(format!("unknown outcome {other:?}: resolved, follow-up or escalate").into()),
    };
    let request = pb::WriteOffSlipRequest {
        request_id: request_id(),
        slip_id: slip,
        etag: String::new(),
        outcome: outcome as i32,
        note,
    };
    let done = SlipServiceClient::new(ctx.channel.clone()).write_off_slip(ctx.req(request)?).await?.into_inner();
    let slip = done.slip.unwrap_or_default();
    let ticket = done.ticket.unwrap_or_default();
    let status = pb::TicketStatus::try_from(ticket.status).map(|s| s.as_str_name()).unwrap_or("?");
    let mut report = Report::default();
    report
        .field("slip", &slip.id)
        .field("state", slip_state(slip.state))
        .field("ticket", &ticket.number)
        .field("ticket status", status)
        .field("follow-up slip", done.follow_up.map(|f| f.id).unwrap_or_default());
    Ok(report)
}

fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Sets one cost line billable or free against the rule's decision, with the reason.
pub async fn override_billable(
    ctx: &Ctx,
    slip: String,
    line: String,
    billable: bool,
    reason: String,
) -> Result<Report> {
    let request = pb::OverrideBillableRequest {
        request_id: request_id(),
        slip_id: slip,
        etag: String::new(),
        line_id: line.clone(),
        billable,
        reason,
    };
    let s = SlipServiceClient::new(ctx.channel.clone()).override_billable(ctx.req(request)?).await?.into_inner();
    let l = s.cost_lines.iter().find(|l| l.id == line).cloned().unwrap_or_default();
    let mut report = Report::default();
    report
        .field("slip", &s.id)
        .field("line", format!("{} x{}", l.description, l.quantity))
        .field("billable", if l.billable { "yes" } else { "no" })
        .field("reason", &l.billable_override_reason);
    Ok(report)
}
