//! Phone numbers in E.164, and the deployment's rule for which ones a client may give:
//! valid for their country in libphonenumber's metadata (`strict`), or well formed (`e164`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A phone number in E.164 form (`+` and digits), checked by a [`NumberValidation`] rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

/// Why a phone number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidNumber {
    /// Not `+` and digits of a length E.164 allows (or not even that).
    #[error("not a valid E.164 phone number")]
    Format,
    /// Well formed, but no range of its country's numbering plan holds it (strict only).
    #[error("not a valid number for its country")]
    Country,
}

/// How strictly the phone numbers clients give are checked: one rule for every face, the
/// inventory import and the command line, configured once on the [`crate::Engine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NumberValidation {
    /// libphonenumber's metadata must know the number's range: a number a carrier could route.
    #[default]
    Strict,
    /// `+` and 8 to 15 digits, the first not 0 (no country code starts with 0): made-up numbers
    /// (documentation examples such as `+1234567890`) work. The metadata is consulted only for
    /// shorter numbers, so that nothing `Strict` takes is refused (Niue's and Tokelau's have 7).
    E164,
}

impl NumberValidation {
    /// `strict` or `e164`, in any case.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "strict" => Some(Self::Strict),
            "e164" => Some(Self::E164),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::E164 => "e164",
        }
    }

    /// Parses `input` under this rule. Accepts `+919876543210` and, as clients send it in
    /// paths, `919876543210`; surrounding white space is ignored.
    pub fn parse_number(self, input: &str) -> Result<E164, InvalidNumber> {
        let s = input.trim();
        let digits = s.strip_prefix('+').unwrap_or(s);
        let with_plus = format!("+{digits}");
        match self {
            Self::E164 if (8..=15).contains(&digits.len()) && well_formed(digits) => {
                Ok(E164(with_plus))
            }
            Self::E164 => Self::Strict
                .parse_number(input)
                .map_err(|_| InvalidNumber::Format),
            Self::Strict => {
                if !((6..=15).contains(&digits.len()) && well_formed(digits)) {
                    return Err(InvalidNumber::Format);
                }
                let parsed =
                    phonenumber::parse(None, &with_plus).map_err(|_| InvalidNumber::Country)?;
                let canonical = parsed.format().mode(phonenumber::Mode::E164).to_string();
                if !phonenumber::is_valid(&parsed) || canonical != with_plus {
                    return Err(InvalidNumber::Country);
                }
                Ok(E164(canonical))
            }
        }
    }
}

impl fmt::Display for NumberValidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl E164 {
    /// Parses `input` under the strict rule (see [`NumberValidation::parse_number`]). What a
    /// client gives is parsed under the deployment's rule instead, `Engine::parse_number`.
    pub fn parse(input: &str) -> Result<Self, InvalidNumber> {
        NumberValidation::Strict.parse_number(input)
    }

    /// A number read back from storage (or a serialized value), where only numbers checked by
    /// some rule are written: the shape is checked, the metadata (costly, and it may change
    /// between releases) is not consulted again.
    pub fn from_stored(s: String) -> Result<Self, InvalidNumber> {
        let digits = s.strip_prefix('+').ok_or(InvalidNumber::Format)?;
        if (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s))
        } else {
            Err(InvalidNumber::Format)
        }
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

/// Digits only, the first not 0.
fn well_formed(digits: &str) -> bool {
    digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for E164 {
    type Error = InvalidNumber;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::from_stored(s)
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
    use NumberValidation::{Strict, E164 as Shape};

    #[test]
    fn accepts_numbers_with_and_without_plus() {
        for rule in [Strict, Shape] {
            for (input, want) in [
                ("+919876543210", "+919876543210"),
                ("919876543210", "+919876543210"),
                (" +14155552671 ", "+14155552671"),
            ] {
                assert_eq!(rule.parse_number(input).unwrap().as_str(), want, "{rule}");
            }
        }
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
    fn refuses_malformed_numbers_under_either_rule() {
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
            " 919876543210x",
        ] {
            for rule in [Strict, Shape] {
                assert_eq!(
                    rule.parse_number(bad),
                    Err(InvalidNumber::Format),
                    "{bad} {rule}"
                );
            }
        }
    }

    #[test]
    fn a_well_formed_number_the_metadata_does_not_know_is_refused_for_its_country_when_strict() {
        // A documentation example, an unassigned NANP area code, an old-format Lagos landline.
        for unknown in ["+1234567890", "+12005550100", "+23412345678"] {
            assert_eq!(
                Strict.parse_number(unknown),
                Err(InvalidNumber::Country),
                "{unknown}"
            );
            assert_eq!(Shape.parse_number(unknown).unwrap().as_str(), unknown);
            assert_eq!(
                InvalidNumber::Country.to_string(),
                "not a valid number for its country"
            );
        }
    }

    #[test]
    fn the_e164_rule_takes_8_to_15_digits_and_whatever_strict_takes() {
        assert_eq!(Shape.parse_number("+1234567"), Err(InvalidNumber::Format));
        // Niue: seven digits, in the metadata.
        assert_eq!(
            Strict.parse_number("+6834002").unwrap().as_str(),
            "+6834002"
        );
        assert_eq!(Shape.parse_number("+6834002").unwrap().as_str(), "+6834002");
        assert!(Shape.parse_number("+12345678").is_ok());
        assert!(Shape.parse_number("+123456789012345").is_ok());
        assert!(Shape.parse_number("+1234567890123456").is_err());
    }

    #[test]
    fn rules_are_named_strict_and_e164() {
        assert_eq!(NumberValidation::parse("STRICT"), Some(Strict));
        assert_eq!(NumberValidation::parse("e164"), Some(Shape));
        assert_eq!(NumberValidation::parse("loose"), None);
        assert_eq!(NumberValidation::default(), Strict);
    }
}
