//! Money is exact: amounts are `rust_decimal::Decimal`, never floats.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use rust_decimal::Decimal;

/// An ISO 4217 code: three upper-case ASCII letters (`INR`, `USD`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a currency is three letters, such as INR or USD")]
pub struct InvalidCurrency;

impl Currency {
    /// Accepts any case (`inr`), as clients send it.
    pub fn parse(s: &str) -> Result<Self, InvalidCurrency> {
        let s = s.trim();
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(s.to_ascii_uppercase()))
        } else {
            Err(InvalidCurrency)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidCurrency;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.0
    }
}

/// The largest amount the ledger holds, an amount or a balance: both stores keep ten-thousandths
/// in a signed 64-bit integer.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(u32::MAX, i32::MAX as u32, 0, false, 4);

/// An amount a client gives: not negative, at most four decimal places (the ledger's precision),
/// and at most [`MAX_AMOUNT`] (beyond it no store could write it).
pub fn parse_amount(d: Decimal) -> Result<Decimal, String> {
    if d.is_sign_negative() {
        return Err("an amount cannot be negative".into());
    }
    if d.normalize().scale() > 4 {
        return Err("an amount has at most four decimal places".into());
    }
    if d > MAX_AMOUNT {
        return Err(format!("an amount is at most {MAX_AMOUNT}"));
    }
    Ok(d.normalize())
}
