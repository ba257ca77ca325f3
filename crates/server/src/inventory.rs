//! Stocking inventory from CSV: `e164,country,region,setup_fee,monthly_fee,currency[,capabilities…]`.
//! Each row is its own command, so one bad row never blocks the others, and a number already
//! stocked is skipped rather than loaded twice.

use std::str::FromStr;

use didpool_core::engine::By;
use didpool_core::lifecycle::Command;
use didpool_core::money::{parse_amount, Currency, Decimal};
use didpool_core::number::NewNumber;
use didpool_core::{Capabilities, Engine, EngineError, NumberValidation};
use serde::Serialize;

/// A row that was not loaded.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RowError {
    /// 1-based line in the file.
    pub row: usize,
    pub e164: String,
    pub error: String,
}

/// What an inventory import did: rows loaded, rows already stocked, and the bad rows.
#[derive(Debug, Default, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ImportReport {
    pub imported: usize,
    /// Numbers already stocked (or held): left as they are.
    pub skipped: usize,
    pub errors: Vec<RowError>,
}

/// Reads one CSV record into a number, its `e164` checked under `rule` (the deployment's).
pub fn parse_row(rule: NumberValidation, fields: &[&str]) -> Result<NewNumber, String> {
    if fields.len() < 6 {
        return Err(
            "expected e164,country,region,setup_fee,monthly_fee,currency[,capabilities…]".into(),
        );
    }
    let e164 = rule.parse_number(fields[0]).map_err(|e| e.to_string())?;
    let country = fields[1].trim().to_ascii_uppercase();
    match e164.country() {
        Some(actual) if actual != country => {
            return Err(format!(
                "country {country} does not match the number's country {actual}"
            ));
        }
        None if country.len() != 2 => return Err("country must be an ISO 3166 alpha-2 code".into()),
        _ => {}
    }
    let fee = |name: &str, raw: &str| -> Result<Decimal, String> {
        let d = Decimal::from_str(raw.trim())
            .map_err(|_| format!("{name} is not a number: {raw:?}"))?;
        parse_amount(d).map_err(|e| format!("{name}: {e}"))
    };
    let region = fields[2].trim();
    // PostgreSQL cannot store a NUL in text: refused here, not failed there as a 500.
    if region.chars().any(char::is_control) {
        return Err("region cannot contain control characters".into());
    }
    let caps = &fields[6..];
    Ok(NewNumber {
        e164,
        country,
        region: (!region.is_empty()).then(|| region.to_owned()),
        capabilities: if caps.iter().all(|c| c.trim().is_empty()) {
            Capabilities::VOICE
        } else {
            Capabilities::from_names(caps.iter().flat_map(|c| c.split(';')))?
        },
        provider: String::new(),
        setup_fee: fee("setup_fee", fields[3])?,
        monthly_fee: fee("monthly_fee", fields[4])?,
        currency: Currency::parse(fields[5]).map_err(|e| e.to_string())?,
    })
}

/// Parses and loads every row of `csv`; blank lines, `#` comments and a header line starting
/// with `e164` are skipped. Errors name the row by its line in the file.
pub async fn import_csv(engine: &Engine, by: &By, csv: &str) -> Result<ImportReport, EngineError> {
    let mut report = ImportReport::default();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(csv.as_bytes());
    let mut seen_a_row = false;
    for (i, record) in reader.records().enumerate() {
        // The reader skips blank lines: report the line in the file, not the record's index.
        let line = |p: Option<&csv::Position>| p.map_or(i + 1, |p| p.line() as usize);
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                report.errors.push(RowError {
                    row: line(e.position()),
                    e164: String::new(),
                    error: e.to_string(),
                });
                continue;
            }
        };
        let row = line(record.position());
        let fields: Vec<&str> = record.iter().collect();
        // Comments are skipped here rather than by the reader, which misplaces the next
        // record's line when it skips one.
        if fields.iter().all(|f| f.is_empty()) || fields[0].starts_with('#') {
            continue;
        }
        let first = !seen_a_row;
        seen_a_row = true;
        if first && fields[0].eq_ignore_ascii_case("e164") {
            continue;
        }
        let e164 = fields.first().copied().unwrap_or_default().to_owned();
        let number = match parse_row(engine.number_validation(), &fields) {
            Ok(n) => n,
            Err(error) => {
                report.errors.push(RowError { row, e164, error });
                continue;
            }
        };
        match engine
            .run(
                by,
                Command::AddInventory {
                    numbers: vec![number],
                },
            )
            .await
        {
            Ok(_) => report.imported += 1,
            Err(EngineError::AlreadyExists(_)) => report.skipped += 1,
            // A store fault is no fault of the row: the import stops (rows before it stay).
            Err(e @ (EngineError::Storage(_) | EngineError::Unavailable(_))) => return Err(e),
            Err(e) => report.errors.push(RowError {
                row,
                e164,
                error: e.to_string(),
            }),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_row_parses_with_capabilities() {
        let n = parse_row(
            NumberValidation::Strict,
            &[
                "+919876543210",
                "in",
                "Karnataka",
                "100",
                "300.50",
                "INR",
                "voice",
                "sms",
            ],
        )
        .unwrap();
        assert_eq!(n.country, "IN");
        assert_eq!(n.monthly_fee, Decimal::new(30050, 2));
        assert!(n.capabilities.voice && n.capabilities.sms && !n.capabilities.fax);
    }

    #[test]
    fn rows_without_capabilities_are_voice_numbers() {
        let n = parse_row(
            NumberValidation::Strict,
            &["919876543210", "IN", "", "0", "1", "inr"],
        )
        .unwrap();
        assert_eq!(n.capabilities, Capabilities::VOICE);
        assert_eq!(n.region, None);
    }

    #[test]
    fn bad_rows_say_what_is_wrong() {
        for (row, needle) in [
            (vec!["+91", "IN", "", "1", "1", "INR"], "E.164"),
            (
                vec!["+919876543210", "US", "", "1", "1", "INR"],
                "does not match",
            ),
            (
                vec!["+919876543210", "IN", "", "x", "1", "INR"],
                "setup_fee",
            ),
            (
                vec!["+919876543210", "IN", "", "1", "-1", "INR"],
                "negative",
            ),
            (
                vec!["+919876543210", "IN", "", "1", "1", "RUPEES"],
                "currency",
            ),
            (
                vec!["+919876543210", "IN", "", "1", "1", "INR", "telepathy"],
                "capability",
            ),
            (vec!["+919876543210", "IN"], "expected"),
            (
                vec!["+12005550100", "US", "", "1", "1", "USD"],
                "not a valid number for its country",
            ),
        ] {
            let err = parse_row(NumberValidation::Strict, &row).unwrap_err();
            assert!(err.contains(needle), "{row:?}: {err}");
        }
    }

    #[test]
    fn under_the_e164_rule_a_made_up_number_loads_with_the_country_its_row_gives() {
        let row = ["+1234567890", "US", "", "1", "1", "USD"];
        assert!(parse_row(NumberValidation::Strict, &row).is_err());
        let n = parse_row(NumberValidation::E164, &row).unwrap();
        assert_eq!((n.e164.as_str(), n.country.as_str()), ("+1234567890", "US"));
    }
}
