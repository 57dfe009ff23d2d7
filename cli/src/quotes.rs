//! The customer's decision on a quote, confirmed to the desk by phone or e-mail.

use onsite_proto::v1::{self as pb, quote_service_client::QuoteServiceClient};

use crate::table::Report;
use crate::text::time;
use crate::{Ctx, Result};

/// What the customer said, and how it reached the desk.
#[derive(Debug)]
pub struct Decision {
    pub quote: String,
    pub accepted: bool,
    /// `phone` or `email`.
    pub channel: String,
    pub by: String,
    pub note: String,
}

/// Records the customer's decision on a quote.
pub async fn decide(ctx: &Ctx, d: Decision) -> Result<Report> {
    let channel = match d.channel.as_str() {
        "phone" => pb::QuoteChannel::Phone,
        "email" | "e-mail" => pb::QuoteChannel::Email,
        other => return Err(format!("unknown channel {other:?}: phone or email").into()),
    };
    let mut client = QuoteServiceClient::new(ctx.channel.clone());
    let request = pb::DecideQuoteRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        quote_id: d.quote,
        etag: String::new(),
        accepted: d.accepted,
        channel: channel as i32,
        decided_by_name: d.by,
        confirmation: d.note,
    };
    let q = client.decide_quote(ctx.req(request)?).await?.into_inner();
    let total = q.total.as_ref().map(|m| format!("{} {}", m.minor_units, m.currency_code)).unwrap_or_default();
    let mut report = Report::default();
    report
        .field("quote", &q.id)
        .field("slip", &q.slip_id)
        .field("total", total)
        .field("decision", if q.accepted { "accepted" } else { "declined" })
        .field("by", &q.decided_by_name)
        .field("when", time(q.decided_at.as_ref()));
    Ok(report)
}
