//! The facts of a slip's quotes as kept on the slip (`slips.quote_facts`, JSON): each quote's
//! charges and decision, read by the state machine when it decides an op in memory.

use onsite_core::money::Currency;
use onsite_core::quote::{Charge, CostKind, QuoteFacts};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::entities::slip;

/// A quote's facts as kept on its slip (JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredFacts {
    id: String,
    decision: Option<bool>,
    charges: Vec<StoredCharge>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredCharge {
    kind: String,
    item: String,
    quantity: i32,
    unit_price_minor: i64,
    currency: String,
}

/// The facts of a slip's quotes, as the state machine reads them.
pub fn decode(slip: &slip::Model) -> Result<Vec<QuoteFacts>> {
    let bad = || Error::Internal(format!("slip {} has bad quote facts", slip.id));
    let stored: Vec<StoredFacts> = serde_json::from_str(&slip.quote_facts).map_err(|_| bad())?;
    stored
        .into_iter()
        .map(|q| {
            let charges = q
                .charges
                .into_iter()
                .map(|c| {
                    Some(Charge {
                        kind: c.kind.parse::<CostKind>().ok()?,
                        item: c.item,
                        quantity: c.quantity,
                        unit_price_minor: c.unit_price_minor,
                        currency: Currency::parse(&c.currency, "currency").ok()?,
                    })
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(bad)?;
            Ok(QuoteFacts { id: q.id, charges, decision: q.decision })
        })
        .collect()
}

/// The facts of a slip's quotes as stored on the slip.
pub fn encode(quotes: &[QuoteFacts]) -> Result<String> {
    let stored: Vec<StoredFacts> = quotes
        .iter()
        .map(|q| StoredFacts {
            id: q.id.clone(),
            decision: q.decision,
            charges: q
                .charges
                .iter()
                .map(|c| StoredCharge {
                    kind: c.kind.as_str().to_owned(),
                    item: c.item.clone(),
                    quantity: c.quantity,
                    unit_price_minor: c.unit_price_minor,
                    currency: c.currency.to_string(),
                })
                .collect(),
        })
        .collect();
    serde_json::to_string(&stored).map_err(|e| Error::Internal(format!("encoding quote facts: {e}")))
}
