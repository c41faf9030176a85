//! Exact money. Amounts are decimals parsed from their JSON text (never through `f64`);
//! on-chain values are integers in the token's smallest unit.

use super::chain::TOKEN_DECIMALS;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Largest payout accepted, in token units: far above any real payout, far below any overflow.
const MAX_AMOUNT_UNITS: i64 = 1_000_000_000_000;

/// A payout amount in token units (e.g. `500.00` USDT): at least 0.01, at most 6 decimals.
/// Keeps the scale it was written with, so `500.00` is shown back as `500.00`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("must be a JSON number, e.g. 500.00")]
    NotANumber,
    #[error("must be at least 0.01")]
    TooSmall,
    #[error("must be at most 1000000000000")]
    TooLarge,
    #[error("has more than 6 decimal places; the token has 6 decimals and amounts are never rounded")]
    TooPrecise,
}

impl Amount {
    /// Parses the literal text of a JSON number exactly.
    pub fn parse_json_number(text: &str) -> Result<Amount, AmountError> {
        let text = text.trim();
        let looks_numeric = !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
            && text.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'-');
        if !looks_numeric {
            return Err(AmountError::NotANumber);
        }
        let value = if text.contains(['e', 'E']) {
            Decimal::from_scientific(text).map_err(|_| AmountError::TooLarge)?
        } else {
            // Exact or refused: more significant digits than a decimal holds are never rounded.
            Decimal::from_str_exact(text).map_err(|e| match e {
                rust_decimal::Error::Underflow => AmountError::TooPrecise,
                _ => AmountError::TooLarge,
            })?
        };
        Amount::new(value)
    }

    pub fn new(value: Decimal) -> Result<Amount, AmountError> {
        if value < Decimal::new(1, 2) {
            return Err(AmountError::TooSmall);
        }
        if value > Decimal::from(MAX_AMOUNT_UNITS) {
            return Err(AmountError::TooLarge);
        }
        // Trailing zeros beyond the token's precision are harmless (500.0000000 = 500.000000);
        // real extra digits are refused, never rounded.
        let mut value = value;
        if value.scale() > TOKEN_DECIMALS {
            if value.normalize().scale() > TOKEN_DECIMALS {
                return Err(AmountError::TooPrecise);
            }
            value.rescale(TOKEN_DECIMALS);
        }
        Ok(Amount(value))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// The amount in the token's smallest unit (all supported tokens have 6 decimals).
    pub fn to_atomic(self) -> AtomicAmount {
        let mut scaled = self.0 * Decimal::from(10u64.pow(TOKEN_DECIMALS));
        scaled.rescale(0);
        // In range by construction: at most 10^12 units × 10^6.
        AtomicAmount(u128::try_from(scaled.mantissa()).unwrap_or(0))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Written as a JSON number with its scale kept (`500.00`), never via `f64`.
impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(self.0.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        Amount::parse_json_number(raw.get()).map_err(serde::de::Error::custom)
    }
}

/// A decimal as a JSON number with its scale, never through `f64` (`serialize_with`).
pub fn serialize_decimal<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    let raw = serde_json::value::RawValue::from_string(value.to_string()).map_err(serde::ser::Error::custom)?;
    raw.serialize(s)
}

/// An optional decimal likewise (`null` when absent).
pub fn serialize_optional_decimal<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serialize_decimal(value, s),
        None => s.serialize_none(),
    }
}

/// How reconciliation figures are written: no trailing zeros beyond the cents, at least two
/// decimals (`25000.00`, `499.95`, `-0.05`, `0.000001`), exact.
pub fn accounting(value: Decimal) -> Decimal {
    let mut value = value.normalize();
    if value.scale() < 2 {
        value.rescale(2);
    }
    value
}

/// A token amount in its smallest unit (`500.00` USDT is `500000000`). Shown as a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AtomicAmount(pub u128);

impl AtomicAmount {
    /// Back to token units, exactly (for reconciliation figures).
    pub fn to_decimal(self) -> Decimal {
        let mantissa = i128::try_from(self.0).unwrap_or(i128::MAX);
        Decimal::try_from_i128_with_scale(mantissa, TOKEN_DECIMALS).unwrap_or(Decimal::MAX)
    }
}

impl fmt::Display for AtomicAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for AtomicAmount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for AtomicAmount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom("atomic amount must be a string of digits"));
        }
        text.parse().map(AtomicAmount).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(text: &str) -> Result<Amount, AmountError> {
        Amount::parse_json_number(text)
    }

    #[test]
    fn keeps_scale_and_converts_exactly() {
        let a = amount("500.00").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.to_string(), "500.00");
        assert_eq!(a.to_atomic().to_string(), "500000000");
        assert_eq!(amount("0.01").map(|a| a.to_atomic().0), Ok(10_000));
        assert_eq!(amount("0.000001").map(|_| ()), Err(AmountError::TooSmall));
        assert_eq!(amount("1.123456").map(|a| a.to_atomic().0), Ok(1_123_456));
        assert_eq!(amount("5e2").map(|a| a.to_atomic().0), Ok(500_000_000));
        assert_eq!(amount("1000000000000").map(|a| a.to_atomic().0), Ok(1_000_000_000_000_000_000));
        // 0.1 + 0.2 style binary float errors cannot happen: the text is the value.
        assert_eq!(amount("0.3").map(|a| a.to_atomic().0), Ok(300_000));
    }

    #[test]
    fn refuses_bad_amounts() {
        assert_eq!(amount("0.009"), Err(AmountError::TooSmall));
        assert_eq!(amount("0"), Err(AmountError::TooSmall));
        assert_eq!(amount("-5"), Err(AmountError::TooSmall));
        assert_eq!(amount("1.1234567"), Err(AmountError::TooPrecise));
        assert_eq!(amount("1000000000000.01"), Err(AmountError::TooLarge));
        assert_eq!(amount("1e400"), Err(AmountError::TooLarge));
        assert_eq!(amount("\"500\""), Err(AmountError::NotANumber));
        assert_eq!(amount("true"), Err(AmountError::NotANumber));
        assert_eq!(amount("null"), Err(AmountError::NotANumber));
        // Trailing zeros past 6 decimals are not extra precision.
        assert_eq!(amount("2.50000000").map(|a| a.to_string()), Ok("2.500000".to_owned()));
    }

    #[test]
    fn serializes_as_number_with_scale() {
        let a = amount("500.00").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(serde_json::to_string(&a).ok().as_deref(), Some("500.00"));
        let back: Amount = serde_json::from_str("500.00").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.to_string(), "500.00");
        assert_eq!(serde_json::to_string(&AtomicAmount(5)).ok().as_deref(), Some("\"5\""));
        assert_eq!(AtomicAmount(499_950_000).to_decimal().to_string(), "499.950000");
    }
}
