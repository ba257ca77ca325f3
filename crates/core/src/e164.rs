//! Phone numbers in E.164, validated against libphonenumber's metadata.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A valid phone number in E.164 form (`+` and 8–15 digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid E.164 phone number")]
pub struct InvalidNumber;

impl E164 {
    /// Accepts `+919876543210` and, as clients send it in paths, `919876543210`.
    /// Surrounding white space is ignored; anything else that is not a valid number is refused.
    pub fn parse(input: &str) -> Result<Self, InvalidNumber> {
        let s = input.trim();
        let digits = digits(s.strip_prefix('+').unwrap_or(s))?;
        let with_plus = format!("+{digits}");
        let parsed = phonenumber::parse(None, &with_plus).map_err(|_| InvalidNumber)?;
        if !phonenumber::is_valid(&parsed) {
            return Err(InvalidNumber);
        }
        let canonical = parsed.format().mode(phonenumber::Mode::E164).to_string();
        if canonical != with_plus {
            return Err(InvalidNumber);
        }
        Ok(Self(canonical))
    }

    /// A number read back from storage, where only valid numbers are written: the shape is
    /// checked, the metadata (costly, and it may change between releases) is not consulted again.
    pub fn from_stored(s: String) -> Result<Self, InvalidNumber> {
        digits(s.strip_prefix('+').ok_or(InvalidNumber)?)?;
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ISO 3166 alpha-2 region the number belongs to, when the metadata names one.
    pub fn country(&self) -> Option<String> {
        let parsed = phonenumber::parse(None, &self.0).ok()?;
        parsed.country().id().map(|id| id.as_ref().to_owned())
    }
}

/// 6 to 15 digits and nothing else.
fn digits(s: &str) -> Result<&str, InvalidNumber> {
    if (6..=15).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s)
    } else {
        Err(InvalidNumber)
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for E164 {
    type Error = InvalidNumber;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<E164> for String {
    fn from(n: E164) -> Self {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_numbers_with_and_without_plus() {
        assert_eq!(
            E164::parse("+919876543210").unwrap().as_str(),
            "+919876543210"
        );
        assert_eq!(
            E164::parse("919876543210").unwrap().as_str(),
            "+919876543210"
        );
        assert_eq!(
            E164::parse(" +14155552671 ").unwrap().as_str(),
            "+14155552671"
        );
    }

    #[test]
    fn knows_the_country() {
        assert_eq!(
            E164::parse("+919876543210").unwrap().country().as_deref(),
            Some("IN")
        );
        assert_eq!(
            E164::parse("+14155552671").unwrap().country().as_deref(),
            Some("US")
        );
    }

    #[test]
    fn refuses_malformed_numbers() {
        for bad in [
            "",
            "+",
            "abc",
            "+91 98765 43210",
            "++919876543210",
            "+0919876543210",
            "+1234",
            "+9198765432101234567",
            "+91-9876543210",
            "%2B919876543210",
            "+1234567890",
        ] {
            assert!(E164::parse(bad).is_err(), "{bad}");
        }
    }
}
