//! Quotes for billable work: what the customer is asked to accept before work starts, and
//! whether an accepted quote covers a billable cost line.
//!
//! A billable line is covered when an accepted quote of its slip lists the same kind and item
//! (the part number, or the description when there is none), in the same currency, at a unit
//! price no lower than the line's and a quantity no smaller. The phone checks this offline
//! against the accepted quotes it holds, and the server against the same quotes.

use crate::error::{FieldViolation, Result, Violations};
use crate::money::{Currency, Money};
use crate::op::{CostLine, MAX_COST_LINES};
use crate::slip::CostKind;

/// One quoted or charged item, in the form both sides compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    pub kind: CostKind,
    /// The part number, or the description (trimmed, lower-case) when there is none.
    pub item: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub currency: Currency,
}

impl Charge {
    /// The charge of a cost line; `None` for a line that does not validate.
    pub fn of(line: &CostLine) -> Option<Self> {
        let price = line.unit_price.as_ref()?;
        let part_number = line.part_number.trim();
        let item = if part_number.is_empty() { line.description.trim().to_lowercase() } else { part_number.to_owned() };
        Some(Self {
            kind: line.kind.known()?,
            item,
            quantity: line.quantity,
            unit_price_minor: price.minor_units,
            currency: price.currency("unit_price.currency_code").ok()?,
        })
    }

    /// Whether this quoted charge covers `charged`.
    pub fn covers(&self, charged: &Charge) -> bool {
        self.kind == charged.kind
            && self.item == charged.item
            && self.currency == charged.currency
            && self.unit_price_minor >= charged.unit_price_minor
            && self.quantity >= charged.quantity
    }
}

/// What the state machine knows of one of a slip's quotes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteFacts {
    pub id: String,
    pub charges: Vec<Charge>,
    /// `Some(true)` once accepted, `Some(false)` once declined; a quote is decided once.
    pub decision: Option<bool>,
}

impl QuoteFacts {
    pub fn accepted(&self) -> bool {
        self.decision == Some(true)
    }
}

/// Whether a charge of an accepted quote covers `charged`.
pub fn covered(quotes: &[QuoteFacts], charged: &Charge) -> bool {
    quotes.iter().filter(|q| q.accepted()).flat_map(|q| &q.charges).any(|q| q.covers(charged))
}

/// The lines of a new quote. Validates them as `lines[i]` and returns the total, in the one
/// currency every line must share.
pub fn total(lines: &[CostLine]) -> Result<Money> {
    let mut v = Violations::new();
    if lines.is_empty() || lines.len() > MAX_COST_LINES {
        v.push("lines", format!("quote between 1 and {MAX_COST_LINES} lines"));
    }
    for (i, line) in lines.iter().enumerate() {
        line.check(&mut v, i);
    }
    v.check()?;
    let mut v = Violations::new();
    let charges: Vec<Charge> = lines.iter().filter_map(|l| Charge::of(&l.stored())).collect();
    let Some(currency) = charges.first().map(|c| c.currency) else {
        return Err(FieldViolation::new("lines", "is required").into());
    };
    let mut minor_units: i64 = 0;
    for (i, charge) in charges.iter().enumerate() {
        if charge.currency != currency {
            v.push(format!("lines[{i}].unit_price.currency_code"), format!("must be {currency}, like the first line"));
        }
        // Bounded lines cannot overflow one by one; their sum is checked all the same.
        match charge.unit_price_minor.checked_mul(i64::from(charge.quantity)).and_then(|t| minor_units.checked_add(t)) {
            Some(sum) => minor_units = sum,
            None => v.push("lines", "the total is too large"),
        }
    }
    v.check()?;
    Ok(Money { minor_units, currency })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{Code, Price};

    fn line(kind: CostKind, description: &str, part: &str, qty: i32, minor: i64, currency: &str) -> CostLine {
        CostLine {
            id: String::new(),
            kind: Code::Known(kind),
            description: description.into(),
            part_number: part.into(),
            quantity: qty,
            unit_price: Some(Price { minor_units: minor, currency_code: currency.into() }),
            billable: false,
        }
    }

    fn charge(l: &CostLine) -> Charge {
        Charge::of(&l.stored()).unwrap_or_else(|| panic!("a valid line"))
    }

    fn accepted(charges: Vec<Charge>) -> Vec<QuoteFacts> {
        vec![QuoteFacts { id: "q".into(), charges, decision: Some(true) }]
    }

    #[test]
    fn a_quoted_item_covers_what_it_lists_and_no_more() {
        let lines = [
            charge(&line(CostKind::Part, "Fuser", "FU-1", 2, 45_000, "CNY")),
            charge(&line(CostKind::Travel, "Taxi to site", "", 1, 9_000, "cny")),
        ];
        let quoted = accepted(lines.to_vec());
        assert!(covered(&quoted, &charge(&line(CostKind::Part, "Fuser unit", "FU-1", 2, 45_000, "CNY"))));
        assert!(covered(&quoted, &charge(&line(CostKind::Travel, " taxi to SITE ", "", 1, 8_650, "CNY"))));
        // More units, a higher price, another currency, another kind or item: not covered.
        for uncovered in [
            line(CostKind::Part, "Fuser", "FU-1", 3, 45_000, "CNY"),
            line(CostKind::Part, "Fuser", "FU-1", 1, 45_001, "CNY"),
            line(CostKind::Part, "Fuser", "FU-1", 1, 45_000, "EUR"),
            line(CostKind::Material, "Fuser", "FU-1", 1, 45_000, "CNY"),
            line(CostKind::Part, "Fuser", "FU-2", 1, 45_000, "CNY"),
        ] {
            assert!(!covered(&quoted, &charge(&uncovered)), "{uncovered:?}");
        }
        assert!(!covered(&[], &lines[0]));
        let declined = vec![QuoteFacts { decision: Some(false), ..quoted[0].clone() }];
        assert!(!covered(&declined, &lines[0]), "a declined quote covers nothing");
    }

    #[test]
    fn a_quote_totals_exactly_in_one_currency() {
        let lines = [
            line(CostKind::Part, "Fuser", "FU-1", 2, 45_001, "CNY"),
            line(CostKind::Labour, "Labour", "", 3, 33_333, "cny"),
        ];
        assert_eq!(
            total(&lines).ok(),
            Some(Money { minor_units: 190_001, currency: Currency::parse("CNY", "c").unwrap_or_else(|_| panic!()) })
        );
        let mixed = [lines[0].clone(), line(CostKind::Travel, "Taxi", "", 1, 100, "EUR")];
        let err = total(&mixed).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("lines[1].unit_price.currency_code"), "{err}");
        assert!(total(&[]).is_err());
    }
}
