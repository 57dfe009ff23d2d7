//! Quotes at the desk: drafting one, and the customer's decision confirmed by phone or e-mail.

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
    let total = crate::text::money(q.total.as_ref());
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

/// Drafts a quote for a slip from lines written `KIND:PART:DESCRIPTION:QTY:PRICE:CURRENCY`
/// (e.g. `part:PSU-750:Power supply:1:650.00:CNY`; the part number may be empty).
pub async fn create(ctx: &Ctx, slip: String, lines: &[String]) -> Result<Report> {
    let lines = lines.iter().map(|l| parse_line(l)).collect::<Result<Vec<_>>>()?;
    let request = pb::CreateQuoteRequest { request_id: uuid::Uuid::now_v7().to_string(), slip_id: slip, lines };
    let q = QuoteServiceClient::new(ctx.channel.clone()).create_quote(ctx.req(request)?).await?.into_inner();
    let total = crate::text::money(q.total.as_ref());
    let mut report = Report::default();
    report.field("quote", &q.id).field("slip", &q.slip_id).field("lines", q.lines.len()).field("total", total);
    Ok(report)
}

/// One quoted line from `KIND:PART:DESCRIPTION:QTY:PRICE:CURRENCY`.
fn parse_line(text: &str) -> Result<pb::CostLine> {
    let bad = || format!("{text:?}: write a line as KIND:PART:DESCRIPTION:QTY:PRICE:CURRENCY");
    let parts: Vec<&str> = text.split(':').collect();
    let [kind, part, description, quantity, price, currency] = parts.as_slice() else { return Err(bad().into()) };
    let kind = match *kind {
        "part" => pb::CostKind::Part,
        "material" => pb::CostKind::Material,
        "labour" => pb::CostKind::Labour,
        "travel" => pb::CostKind::Travel,
        "transport" => pb::CostKind::Transport,
        other => return Err(format!("unknown kind {other:?}: part, material, labour, travel or transport").into()),
    };
    Ok(pb::CostLine {
        kind: kind as i32,
        part_number: (*part).to_owned(),
        description: (*description).to_owned(),
        quantity: quantity.parse().map_err(|_| bad())?,
        unit_price: Some(pb::Money {
            minor_units: minor_units(price).ok_or_else(bad)?,
            currency_code: (*currency).to_owned(),
        }),
        ..Default::default()
    })
}

/// `650`, `650.5` or `650.50` as minor units (two decimals).
fn minor_units(price: &str) -> Option<i64> {
    let (major, fraction) = price.split_once('.').unwrap_or((price, ""));
    if fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fraction: i64 = format!("{fraction:0<2}").parse().ok()?;
    major.parse::<i64>().ok()?.checked_mul(100)?.checked_add(fraction)
}
