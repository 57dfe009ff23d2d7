//! Quotes for billable work: drafted for an open slip, decided once by the customer.
//!
//! An accepted quote's charges are copied onto its slip (`slips.quoted`), where the state
//! machine checks every billable cost line against them, in memory, as the phone does offline.
//! Drafting or deciding a quote changes the slip's view, so both move the slip's version; the
//! caller appends the board event (`lifecycle`).

use chrono::{DateTime, Utc};
use onsite_core::id::QuoteId;
use onsite_core::op::{Code, CostLine, Price};
use onsite_core::quote::{Charge, total};
use onsite_core::slip::{CostKind, SlipState};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};

use super::{check_etag, slips};
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

    /// The line as the core compares it.
    pub fn cost_line(&self) -> CostLine {
        CostLine {
            id: self.id.clone(),
            kind: self.kind.parse::<CostKind>().map_or(Code::Unset, Code::Known),
            description: self.description.clone(),
            part_number: self.part_number.clone(),
            quantity: self.quantity,
            unit_price: Some(Price { minor_units: self.unit_price_minor, currency_code: self.currency.clone() }),
            billable: true,
        }
    }
}

/// The lines of a stored quote.
pub fn lines(model: &quote::Model) -> Result<Vec<StoredLine>> {
    serde_json::from_str(&model.lines).map_err(|_| Error::Internal(format!("quote {} has bad lines", model.id)))
}

/// The charges of the quotes accepted for a slip, as stored on the slip.
pub fn quoted(slip: &slip::Model) -> Result<Vec<Charge>> {
    let stored: Vec<StoredLine> = serde_json::from_str(&slip.quoted)
        .map_err(|_| Error::Internal(format!("slip {} has bad quoted charges", slip.id)))?;
    Ok(stored.iter().filter_map(|l| Charge::of(&l.cost_line())).collect())
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
    let total = total(lines)?;
    let current = slips::load_visible(db, caller, slip_id).await?;
    ensure_open(&current)?;
    let stored: Vec<StoredLine> = lines.iter().map(StoredLine::of).collect();
    let model = quote::Model {
        id: QuoteId::new().to_string(),
        slip_id: current.id.clone(),
        lines: encode(&stored)?,
        total_minor: total.minor_units,
        currency: total.currency.to_string(),
        state: OPEN.to_owned(),
        channel: None,
        decided_by_name: String::new(),
        confirmation: String::new(),
        recorded_by: None,
        decided_at_us: None,
        created_by: caller.user_id.to_string(),
        created_at_us: to_us(now),
        version: 1,
    };
    quote::Entity::insert(quote::ActiveModel::from(model.clone())).exec(db).await?;
    let slip = touch(db, &current, None, now).await?;
    let detail = format!("quote {}: {} line(s), {}", model.id, stored.len(), amount(&model));
    audit(db, &slip, caller, "create_quote", detail, now, request_id).await?;
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
    let accepted = d.accepted.then(|| lines(&current)).transpose()?;
    let slip = touch(db, &slip, accepted.as_deref(), now).await?;
    let detail = format!(
        "quote {}: {} by {} ({}): {}",
        current.id,
        amount(&current),
        d.decided_by_name.trim(),
        d.channel.as_str(),
        d.confirmation.trim()
    );
    let action = if d.accepted { "accept_quote" } else { "reject_quote" };
    audit(db, &slip, caller, action, detail, now, request_id).await?;
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

/// The quotes of a slip, oldest first.
pub async fn of_slip(db: &impl ConnectionTrait, slip_id: &str) -> Result<Vec<quote::Model>> {
    Ok(quote::Entity::find()
        .filter(quote::Column::SlipId.eq(slip_id))
        .order_by_asc(quote::Column::CreatedAtUs)
        .order_by_asc(quote::Column::Id)
        .all(db)
        .await?)
}

/// Quotes are for visits still being worked.
fn ensure_open(slip: &slip::Model) -> Result<()> {
    let state: SlipState =
        slip.state.parse().map_err(|()| Error::Internal(format!("slip {} has a bad state", slip.id)))?;
    if state.is_open() && state != SlipState::Declined {
        Ok(())
    } else {
        Err(Error::precondition(
            "SLIP_NOT_OPEN",
            format!("the slip is {state}: quotes are for visits still being worked"),
        ))
    }
}

/// Moves the slip one version on, adding `accepted` lines to its quoted charges.
async fn touch(
    db: &impl ConnectionTrait,
    current: &slip::Model,
    accepted: Option<&[StoredLine]>,
    now: DateTime<Utc>,
) -> Result<slip::Model> {
    let mut saved = current.clone();
    if let Some(lines) = accepted {
        let mut quoted: Vec<StoredLine> = serde_json::from_str(&current.quoted).unwrap_or_default();
        quoted.extend_from_slice(lines);
        saved.quoted = encode(&quoted)?;
    }
    saved.version = current.version + 1;
    saved.updated_at_us = to_us(now);
    if !slips::write_row(db, &saved, current.version).await? {
        return Err(Error::StaleEtag { resource: "slip" });
    }
    Ok(saved)
}

/// The quote's total as people read it: `1234.50 CNY`.
fn amount(q: &quote::Model) -> String {
    let (major, minor) = (q.total_minor / 100, q.total_minor % 100);
    format!("{major}.{minor:02} {}", q.currency)
}

/// A quote's audit event in the slip's log; the slip's state does not change.
async fn audit(
    db: &impl ConnectionTrait,
    slip: &slip::Model,
    caller: &Caller,
    action: &'static str,
    detail: String,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<()> {
    let state: SlipState =
        slip.state.parse().map_err(|()| Error::Internal(format!("slip {} has a bad state", slip.id)))?;
    let audit = slips::Audit { action, from: Some(state), to: state, detail, origin: None };
    slips::append_audit(db, slip, caller, audit, now, request_id).await
}

fn encode(lines: &[StoredLine]) -> Result<String> {
    serde_json::to_string(lines).map_err(|e| Error::Internal(format!("encoding quote lines: {e}")))
}
