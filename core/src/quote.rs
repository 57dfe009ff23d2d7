//! What a quote covers: the charges of cost lines and quotes in the one form both sides compare,
//! and whether an accepted quote covers a billable line.
//!
//! A billable line is covered when an accepted quote of its slip lists the same kind and item
//! (the part number, or the description when there is none), in the same currency, at a unit
//! price no lower than the line's and a quantity no smaller. The phone checks this offline
//! against the accepted quotes it holds, and the server against the same quotes. A line's
//! charge and a quote's total are made from the op's cost lines (`op::CostLine::charge`,
//! `op::quote_total`).

use crate::money::Currency;
use crate::ticket::named_enum;

named_enum! {
    /// Kind of a cost line of a visit.
    CostKind {
        /// A spare part.
        Part = "part",
        /// Consumable materials.
        Material = "material",
        /// Labour.
        Labour = "labour",
        /// Travel; must match the destination.
        Travel = "travel",
        /// Transport of goods.
        Transport = "transport",
    }
}

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
    /// The item a line names: its part number, or its description when it has none.
    pub fn item(part_number: &str, description: &str) -> String {
        let part_number = part_number.trim();
        if part_number.is_empty() { description.trim().to_lowercase() } else { part_number.to_owned() }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(kind: CostKind, item: &str, quantity: i32, unit_price_minor: i64, currency: &str) -> Charge {
        let currency = Currency::parse(currency, "c").unwrap_or_else(|_| panic!("{currency}"));
        Charge { kind, item: item.into(), quantity, unit_price_minor, currency }
    }

    fn accepted(charges: Vec<Charge>) -> Vec<QuoteFacts> {
        vec![QuoteFacts { id: "q".into(), charges, decision: Some(true) }]
    }

    #[test]
    fn a_quoted_item_covers_what_it_lists_and_no_more() {
        let lines = [
            charge(CostKind::Part, "FU-1", 2, 45_000, "CNY"),
            charge(CostKind::Travel, &Charge::item("", " Taxi to SITE "), 1, 9_000, "CNY"),
        ];
        let quoted = accepted(lines.to_vec());
        assert!(covered(&quoted, &charge(CostKind::Part, "FU-1", 2, 45_000, "CNY")));
        assert!(covered(&quoted, &charge(CostKind::Travel, &Charge::item("", "taxi to site"), 1, 8_650, "CNY")));
        // More units, a higher price, another currency, another kind or item: not covered.
        for uncovered in [
            charge(CostKind::Part, "FU-1", 3, 45_000, "CNY"),
            charge(CostKind::Part, "FU-1", 1, 45_001, "CNY"),
            charge(CostKind::Part, "FU-1", 1, 45_000, "EUR"),
            charge(CostKind::Material, "FU-1", 1, 45_000, "CNY"),
            charge(CostKind::Part, "FU-2", 1, 45_000, "CNY"),
        ] {
            assert!(!covered(&quoted, &uncovered), "{uncovered:?}");
        }
        assert!(!covered(&[], &lines[0]));
        let declined = vec![QuoteFacts { decision: Some(false), ..quoted[0].clone() }];
        assert!(!covered(&declined, &lines[0]), "a declined quote covers nothing");
    }
}
