//! The desk's ticket work: taking a fault report in, escalating it, closing it.

use onsite_proto::v1::{self as pb, ticket_service_client::TicketServiceClient};

use crate::table::Report;
use crate::{Ctx, Result};

/// A fault report as the desk takes it in.
#[derive(Debug)]
pub struct Intake {
    pub customer: String,
    pub title: String,
    /// 1 urgent, 2 important, 3 general.
    pub severity: i32,
    /// bug, change or other.
    pub category: String,
    /// hotline, email, web, chat, remote or onsite.
    pub channel: String,
    pub contact: String,
    pub phone: String,
    pub product: String,
    pub symptoms: String,
    pub impact: String,
}

/// Takes a fault report in as a ticket.
pub async fn intake(ctx: &Ctx, i: Intake) -> Result<Report> {
    let category = match i.category.as_str() {
        "bug" => pb::Category::Bug,
        "change" => pb::Category::ChangeRequest,
        "other" => pb::Category::Other,
        other => return Err(format!("unknown category {other:?}: bug, change or other").into()),
    };
    let channel = match i.channel.as_str() {
        "hotline" => pb::Channel::Hotline,
        "email" => pb::Channel::Email,
        "web" => pb::Channel::WebPortal,
        "chat" => pb::Channel::Chat,
        "remote" => pb::Channel::RemoteSession,
        "onsite" => pb::Channel::OnSite,
        other => return Err(format!("unknown channel {other:?}: hotline, email, web, chat, remote or onsite").into()),
    };
    let ticket = pb::Ticket {
        title: i.title,
        channel: channel as i32,
        category: category as i32,
        severity: i.severity,
        customer_id: i.customer,
        contact_name: i.contact,
        contact_phone: i.phone,
        product_id: i.product,
        symptoms: i.symptoms,
        impact_scope: i.impact,
        ..Default::default()
    };
    let request = pb::CreateTicketRequest { request_id: request_id(), ticket: Some(ticket) };
    let t = TicketServiceClient::new(ctx.channel.clone()).create_ticket(ctx.req(request)?).await?.into_inner();
    Ok(summary(&t))
}

/// Escalates a ticket (id or TS number) one tier up, with a reason.
pub async fn escalate(ctx: &Ctx, ticket: &str, reason: String) -> Result<Report> {
    let mut client = TicketServiceClient::new(ctx.channel.clone());
    let id = resolve(&mut client, ctx, ticket).await?;
    let request = pb::EscalateTicketRequest { request_id: request_id(), id, etag: String::new(), reason };
    Ok(summary(&client.escalate_ticket(ctx.req(request)?).await?.into_inner()))
}

/// Closes a ticket (id or TS number) with how it ended.
pub async fn close(ctx: &Ctx, ticket: &str, note: String) -> Result<Report> {
    let mut client = TicketServiceClient::new(ctx.channel.clone());
    let id = resolve(&mut client, ctx, ticket).await?;
    let request = pb::CloseTicketRequest { request_id: request_id(), id, etag: String::new(), resolution_note: note };
    Ok(summary(&client.close_ticket(ctx.req(request)?).await?.into_inner()))
}

/// The id of a ticket named by id or TS number.
async fn resolve(
    client: &mut TicketServiceClient<tonic::transport::Channel>,
    ctx: &Ctx,
    ticket: &str,
) -> Result<String> {
    let request = pb::GetTicketRequest { id: ticket.to_owned() };
    Ok(client.get_ticket(ctx.req(request)?).await?.into_inner().id)
}

fn summary(t: &pb::Ticket) -> Report {
    let status = pb::TicketStatus::try_from(t.status).map(|s| s.as_str_name()).unwrap_or("?");
    let tier = pb::Tier::try_from(t.tier).map(|s| s.as_str_name()).unwrap_or("?");
    let mut report = Report::default();
    report
        .field("number", &t.number)
        .field("title", &t.title)
        .field("status", status)
        .field("tier", tier)
        .field("id", &t.id);
    report
}

fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
