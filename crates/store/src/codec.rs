//! Encodings shared by the stores: enum names, money in ten-thousandths, timestamps as text.

use chrono::{DateTime, SecondsFormat, Utc};
use didpool_core::money::Decimal;
use didpool_core::EngineError;

/// Money as an integer count of ten-thousandths: exact, and summable in SQL.
pub fn money_to_e4(d: Decimal) -> Result<i64, EngineError> {
    let scaled = (d * Decimal::from(10_000)).normalize();
    if scaled.scale() > 0 {
        return Err(EngineError::invalid(
            "an amount has at most four decimal places",
        ));
    }
    i64::try_from(scaled.mantissa()).map_err(|_| EngineError::invalid("amount out of range"))
}

pub fn money_from_e4(v: i64) -> Decimal {
    Decimal::new(v, 4).normalize()
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse_ts(s: &str) -> Result<DateTime<Utc>, EngineError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt(format!("bad timestamp {s:?}: {e}")))
}

/// A row that does not decode is a storage fault, not a client error.
pub fn corrupt(msg: String) -> EngineError {
    EngineError::Storage(msg.into())
}
