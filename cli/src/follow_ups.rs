//! Follow-ups on unhappy customers: the list the desk works through, and closing one.

use onsite_proto::v1::{self as pb, follow_up_service_client::FollowUpServiceClient};

use crate::table::{Report, Table};
use crate::text::time;
use crate::{Ctx, Result};

/// Follow-ups, open ones first by due time; with `all`, the closed ones too.
pub async fn list(ctx: &Ctx, all: bool) -> Result<Report> {
    let mut client = FollowUpServiceClient::new(ctx.channel.clone());
    let mut table = Table::new(["DUE", "TICKET", "CUSTOMER", "WHY", "SIGNED BY", "STATE", "ID"]);
    let mut page_token = String::new();
    loop {
        let request = pb::ListFollowUpsRequest { page_size: 200, page_token, include_closed: all };
        let page = client.list_follow_ups(ctx.req(request)?).await?.into_inner();
        for f in page.follow_ups {
            let state = if f.closed { format!("closed: {}", f.outcome) } else { "open".to_owned() };
            table.row([
                time(f.due_time.as_ref()),
                f.ticket_number,
                f.customer_name,
                f.reason,
                f.signer_name,
                state,
                f.id,
            ]);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut report = Report::default();
    report.table("follow-ups", table);
    Ok(report)
}

/// Closes a follow-up with what was done.
pub async fn close(ctx: &Ctx, id: String, outcome: String) -> Result<Report> {
    let mut client = FollowUpServiceClient::new(ctx.channel.clone());
    let request =
        pb::CloseFollowUpRequest { request_id: uuid::Uuid::now_v7().to_string(), id, etag: String::new(), outcome };
    let f = client.close_follow_up(ctx.req(request)?).await?.into_inner();
    let mut report = Report::default();
    report
        .field("follow-up", &f.id)
        .field("ticket", &f.ticket_number)
        .field("customer", &f.customer_name)
        .field("closed", time(f.close_time.as_ref()))
        .field("outcome", &f.outcome);
    Ok(report)
}
