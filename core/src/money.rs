//! Exact money: integer minor units and an ISO 4217 currency code, never floating point.

use std::fmt;

use crate::error::FieldViolation;

/// An amount of money.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money {
    /// Amount in minor units (cents, fen).
    pub minor_units: i64,
    /// ISO 4217 code, three upper-case letters.
    pub currency: Currency,
}

/// A validated ISO 4217 currency code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Accepts three upper-case ASCII letters.
    pub fn parse(code: &str, field: &str) -> Result<Self, FieldViolation> {
        match code.as_bytes() {
            [a, b, c] if code.bytes().all(|b| b.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(FieldViolation::new(field, "must be an ISO 4217 code such as EUR or CNY")),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored, so this never fails.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes() {
        assert_eq!(Currency::parse("CNY", "c").map(|c| c.to_string()).ok(), Some("CNY".into()));
        assert!(Currency::parse("cny", "c").is_err());
        assert!(Currency::parse("EURO", "c").is_err());
    }
}
