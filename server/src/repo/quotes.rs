//! Quotes for billable work: drafted for an open slip, decided once by the customer, at the
//! desk (by phone or e-mail) or on the engineer's phone (signed and sealed, as a visit op).
//!
//! Each quote's charges and decision are also kept on its slip (`slips.quote_facts`), where
//! the state machine checks every billable cost line against the accepted ones, in memory, as
//! the phone does offline. Drafting or deciding a quote changes the slip's view, so both move
//! the slip's version; the caller appends the board event (`lifecycle`).

use chrono::{DateTime, Utc};
use onsite_core::id::QuoteId;
use onsite_core::op::{CostLine, quote_total};
use onsite_core::quote::QuoteFacts;
use onsite_core::slip::SlipState;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};

use super::{check_etag, quote_facts, slips};
use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::store::entities::{quote, slip};
use crate::store::to_us;

/// Where a quote stands.
pub const OPEN: &str = "open";
pub const ACCEPTED: &str = "accepted";
pub const REJECTED: &str = "rejected";

/// How the customer's decision reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Phone,
    Email,
    OnDevice,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Email => "email",
            Self::OnDevice => "on_device",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Phone, Self::Email, Self::OnDevice].into_iter().find(|c| c.as_str() == text)
    }
}

/// A quoted line as stored (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLine {
    pub id: String,
    pub kind: String,
    pub description: String,
    pub part_number: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub currency: String,
}

impl StoredLine {
    fn of(line: &CostLine) -> Self {
        let line = line.stored();
        let (unit_price_minor, currency) =
            line.unit_price.map(|p| (p.minor_units, p.currency_code)).unwrap_or_default();
        Self {
            id: if line.id.is_empty() { uuid::Uuid::now_v7().to_string() } else { line.id },
            kind: line.kind.known().map(|k| k.as_str().to_owned()).unwrap_or_default(),
            description: line.description,
            part_number: line.part_number,
            quantity: line.quantity,
            unit_price_minor,
            currency,
        }
    }
}

/// The lines of a stored quote.
pub fn lines(model: &quote::Model) -> Result<Vec<StoredLine>> {
    serde_json::from_str(&model.lines).map_err(|_| Error::Internal(format!("quote {} has bad lines", model.id)))
}

/// A quote drafted on the phone, as a row: the device's id, the lines in their stored form and
/// the total the core computed. `slip_id` and `created_by` are filled in when it is stored.
pub fn drafted(id: &str, lines: &[CostLine], at_us: i64) -> Result<quote::Model> {
    let total = quote_total(lines)?;
    let stored: Vec<StoredLine> = lines.iter().map(StoredLine::of).collect();
    Ok(quote::Model {
        id: id.to_owned(),
        slip_id: String::new(),
        lines: encode(&stored)?,
        total_minor: total.minor_units,
        currency: total.currency.to_string(),
        state: OPEN.to_owned(),
        channel: None,
        decided_by_name: String::new(),
        confirmation: String::new(),
        recorded_by: None,
        decided_at_us: None,
        created_by: String::new(),
        created_at_us: at_us,
        version: 1,
        signature_png_sha256: String::new(),
        content_sha256: String::new(),
        content: None,
        device_signature: None,
        device_id: None,
        signature_verified: false,
    })
}

/// A decision signed on the phone, as it changes its quote's row.
#[derive(Clone, Debug)]
pub struct SignedDecision {
    pub quote_id: String,
    pub accepted: bool,
    pub signer_name: String,
    pub decided_at_us: i64,
    pub signature_png_sha256: String,
    pub content_sha256: String,
    pub content: Vec<u8>,
    pub device_signature: Vec<u8>,
    pub device_id: String,
    /// Set once the device signature verified against the quote the server holds.
    pub verified: bool,
    /// Who recorded it (the engineer's user id); filled in when it is stored.
    pub recorded_by: String,
}

/// Stores a decision signed on the phone on its quote's row. The state machine decided it, so
/// the quote is open; the row's version moves on.
pub async fn record_signed(db: &impl ConnectionTrait, d: SignedDecision) -> Result<()> {
    let row = quote::Entity::find_by_id(d.quote_id.clone()).one(db).await?;
    let current = row.ok_or_else(|| Error::not_found("quote", &d.quote_id))?;
    let changes = quote::ActiveModel {
        state: Set((if d.accepted { ACCEPTED } else { REJECTED }).to_owned()),
        channel: Set(Some(Channel::OnDevice.as_str().to_owned())),
        decided_by_name: Set(d.signer_name.trim().to_owned()),
        confirmation: Set(format!("signed on device {}", d.device_id)),
        recorded_by: Set(Some(d.recorded_by)),
        decided_at_us: Set(Some(d.decided_at_us)),
        version: Set(current.version + 1),
        signature_png_sha256: Set(d.signature_png_sha256),
        content_sha256: Set(d.content_sha256),
        content: Set(Some(d.content)),
        device_signature: Set(Some(d.device_signature)),
        device_id: Set(Some(d.device_id)),
        signature_verified: Set(d.verified),
        ..Default::default()
    };
    quote::Entity::update_many().set(changes).filter(quote::Column::Id.eq(current.id.as_str())).exec(db).await?;
    Ok(())
}

/// A quote drafted for `slip_id`, which the caller may see and which is still being worked.
/// Returns the quote and the slip one version on.
pub async fn create(
    db: &impl ConnectionTrait,
    caller: &Caller,
    slip_id: &str,
    lines: &[CostLine],
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<(quote::Model, slip::Model)> {
    let current = slips::load_visible(db, caller, slip_id).await?;
    ensure_open(&current)?;
    let model = quote::Model {
        slip_id: current.id.clone(),
        created_by: caller.user_id.to_string(),
        ..drafted(&QuoteId::new().to_string(), lines, to_us(now))?
    };
    quote::Entity::insert(quote::ActiveModel::from(model.clone())).exec(db).await?;
    let charges = lines.iter().filter_map(CostLine::charge).collect();
    let slip =
        touch(db, &current, |quotes| quotes.push(QuoteFacts { id: model.id.clone(), charges, decision: None }), now)
            .await?;
    let detail = format!("quote {}: {} line(s), {}", model.id, lines.len(), amount(&model));
    slips::audit_change(db, &slip, caller, "create_quote", detail, now, request_id).await?;
    Ok((model, slip))
}

/// The customer's decision on a quote.
#[derive(Debug)]
pub struct Decision<'a> {
    pub quote_id: &'a str,
    pub etag: &'a str,
    pub accepted: bool,
    pub channel: Channel,
    pub decided_by_name: &'a str,
    pub confirmation: &'a str,
}

/// Records the customer's decision, once. An accepted quote's charges join its slip's.
/// Returns the quote and the slip one version on.
pub async fn decide(
    db: &impl ConnectionTrait,
    caller: &Caller,
    d: Decision<'_>,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<(quote::Model, slip::Model)> {
    let current = load_visible(db, caller, d.quote_id).await?;
    check_etag(d.etag, current.version, "quote")?;
    if current.state != OPEN {
        return Err(Error::precondition("QUOTE_DECIDED", format!("the customer already {} this quote", current.state)));
    }
    let slip = slips::load(db, &current.slip_id).await?;
    ensure_open(&slip)?;
    let state = if d.accepted { ACCEPTED } else { REJECTED };
    let saved = quote::ActiveModel {
        id: Set(current.id.clone()),
        state: Set(state.to_owned()),
        channel: Set(Some(d.channel.as_str().to_owned())),
        decided_by_name: Set(d.decided_by_name.trim().to_owned()),
        confirmation: Set(d.confirmation.trim().to_owned()),
        recorded_by: Set(Some(caller.user_id.to_string())),
        decided_at_us: Set(Some(to_us(now))),
        version: Set(current.version + 1),
        ..Default::default()
    };
    let updated = quote::Entity::update_many()
        .set(saved)
        .filter(quote::Column::Id.eq(current.id.as_str()))
        .filter(quote::Column::Version.eq(current.version))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(Error::StaleEtag { resource: "quote" });
    }
    let decide = |quotes: &mut Vec<QuoteFacts>| {
        if let Some(q) = quotes.iter_mut().find(|q| q.id == current.id) {
            q.decision = Some(d.accepted);
        }
    };
    let slip = touch(db, &slip, decide, now).await?;
    let detail = format!(
        "quote {}: {} by {} ({}): {}",
        current.id,
        amount(&current),
        d.decided_by_name.trim(),
        d.channel.as_str(),
        d.confirmation.trim()
    );
    let action = if d.accepted { "accept_quote" } else { "reject_quote" };
    slips::audit_change(db, &slip, caller, action, detail, now, request_id).await?;
    let model = quote::Entity::find_by_id(current.id.clone())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("quote", &current.id))?;
    Ok((model, slip))
}

/// A quote the caller may see: managers see all, engineers those of their own slips.
pub async fn load_visible(db: &impl ConnectionTrait, caller: &Caller, id: &str) -> Result<quote::Model> {
    let id: QuoteId = onsite_proto::convert::id(id, "id")?;
    let model =
        quote::Entity::find_by_id(id.to_string()).one(db).await?.ok_or_else(|| Error::not_found("quote", id))?;
    match slips::load_visible(db, caller, &model.slip_id).await {
        Ok(_) => Ok(model),
        Err(Error::NotFound { .. }) => Err(Error::not_found("quote", id)),
        Err(e) => Err(e),
    }
}

/// Quotes are for visits still being worked.
fn ensure_open(slip: &slip::Model) -> Result<()> {
    let state = slips::state(slip)?;
    if state.is_open() && state != SlipState::Declined {
        Ok(())
    } else {
        Err(Error::precondition(
            "SLIP_NOT_OPEN",
            format!("the slip is {state}: quotes are for visits still being worked"),
        ))
    }
}

/// Moves the slip one version on, with its quote facts changed by `change`.
async fn touch(
    db: &impl ConnectionTrait,
    current: &slip::Model,
    change: impl FnOnce(&mut Vec<QuoteFacts>),
    now: DateTime<Utc>,
) -> Result<slip::Model> {
    slips::touch(db, current, now, |slip| {
        let mut quotes = quote_facts::decode(current)?;
        change(&mut quotes);
        slip.quote_facts = quote_facts::encode(&quotes)?;
        Ok(())
    })
    .await
}

/// The quote's total as people read it: `1234.50 CNY`.
fn amount(q: &quote::Model) -> String {
    let (major, minor) = (q.total_minor / 100, q.total_minor % 100);
    format!("{major}.{minor:02} {}", q.currency)
}

fn encode(lines: &[StoredLine]) -> Result<String> {
    serde_json::to_string(lines).map_err(|e| Error::Internal(format!("encoding quote lines: {e}")))
}
