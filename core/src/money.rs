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
    /// Renminbi, the default reporting currency.
    pub const CNY: Self = Self(*b"CNY");

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

impl Currency {
    /// Digits after the decimal point (ISO 4217): none for yen and won, three for the Gulf
    /// dinars, two for the rest.
    pub fn minor_digits(&self) -> u32 {
        match self.as_str() {
            "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" | "XAF" | "XOF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }
}

impl fmt::Display for Money {
    /// `CNY 1,234.50`: exact, from the minor units.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.currency.minor_digits();
        let scale = 10_u64.pow(digits);
        let magnitude = self.minor_units.unsigned_abs();
        let (major, minor) = (magnitude / scale, magnitude % scale);
        let grouped = major
            .to_string()
            .as_bytes()
            .rchunks(3)
            .rev()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(",");
        let sign = if self.minor_units < 0 { "-" } else { "" };
        if digits == 0 {
            write!(f, "{} {sign}{grouped}", self.currency)
        } else {
            write!(f, "{} {sign}{grouped}.{minor:0width$}", self.currency, width = digits as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_print_exactly_in_their_currency() {
        let money = |minor_units, code| Money {
            minor_units,
            currency: Currency::parse(code, "c").unwrap_or_else(|e| panic!("{e:?}")),
        };
        assert_eq!(money(123_450, "CNY").to_string(), "CNY 1,234.50");
        assert_eq!(money(-5, "EUR").to_string(), "EUR -0.05");
        assert_eq!(money(1_000_000, "JPY").to_string(), "JPY 1,000,000");
        assert_eq!(money(1_500, "KWD").to_string(), "KWD 1.500");
        assert_eq!(money(i64::MIN, "CNY").to_string(), "CNY -92,233,720,368,547,758.08");
    }

    #[test]
    fn currency_codes() {
        assert_eq!(Currency::parse("CNY", "c").map(|c| c.to_string()).ok(), Some("CNY".into()));
        assert!(Currency::parse("cny", "c").is_err());
        assert!(Currency::parse("EURO", "c").is_err());
    }
}
