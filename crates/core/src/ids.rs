//! Typed identifiers. Account ids carry their kind in a prefix (`MA_…` master, `SA_…` sub-account).

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Whether an account is a master account (billed) or a sub-account (billed to its parent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccountKind {
    Master,
    Sub,
}

impl AccountKind {
    fn prefix(self) -> &'static str {
        match self {
            AccountKind::Master => "MA_",
            AccountKind::Sub => "SA_",
        }
    }
}

/// `MA_` or `SA_` followed by 1–12 upper-case letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

const SUFFIX_MAX: usize = 12;
const GENERATED_LEN: usize = 10;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

impl AccountId {
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let kind = if s.starts_with("MA_") {
            AccountKind::Master
        } else if s.starts_with("SA_") {
            AccountKind::Sub
        } else {
            return Err(InvalidId("an account id starts with MA_ or SA_"));
        };
        let suffix = &s[kind.prefix().len()..];
        if suffix.is_empty()
            || suffix.len() > SUFFIX_MAX
            || !suffix
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(InvalidId(
                "an account id ends with 1 to 12 upper-case letters or digits",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn generate(kind: AccountKind) -> Self {
        let mut rng = rand::thread_rng();
        let suffix: String = (0..GENERATED_LEN)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        Self(format!("{}{suffix}", kind.prefix()))
    }

    pub fn kind(&self) -> AccountKind {
        if self.0.starts_with("MA_") {
            AccountKind::Master
        } else {
            AccountKind::Sub
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A stable numeric id (the suffix read in base 36), for faces that show accounts by number.
    pub fn numeric(&self) -> i64 {
        self.0[3..].bytes().fold(0i64, |acc, b| {
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                _ => b - b'A' + 10,
            };
            acc * 36 + i64::from(digit)
        })
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AccountId {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AccountId> for String {
    fn from(id: AccountId) -> Self {
        id.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidId(pub &'static str);

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Time-ordered (UUIDv7): new rows append to the id indexes instead of landing
            /// on a random page of them.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                Uuid::parse_str(s).map(Self).map_err(|_| InvalidId("not a UUID"))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A number row's id; stays with the row for its whole life.
    NumberId
);
uuid_id!(
    /// A SIP trunk's id (Vobiz calls it `trunk_id` and, on numbers, `trunk_group_id`).
    TrunkId
);
uuid_id!(
    /// A credential's id, used to revoke it.
    CredentialId
);
uuid_id!(
    /// An append-only ledger entry.
    EntryId
);
uuid_id!(
    /// An append-only audit event.
    EventId
);
uuid_id!(
    /// A call record (see [`crate::call::CallRecord`]).
    CallId
);
uuid_id!(
    /// A webhook endpoint (`/admin/v1/webhook-endpoints/{id}`).
    EndpointId
);
uuid_id!(
    /// A bulk job (`/admin/v1/jobs/{id}`): many numbers, one command each.
    JobId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_sort_in_the_order_they_were_made() {
        // The stores' id indexes rely on it: rows append instead of landing on random pages.
        let ids: Vec<EventId> = (0..1000).map(|_| EventId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.iter().all(|id| id.0.get_version_num() == 7));
    }

    #[test]
    fn account_ids_parse_with_their_kind() {
        assert_eq!(
            AccountId::parse("MA_ABC123").unwrap().kind(),
            AccountKind::Master
        );
        assert_eq!(AccountId::parse("SA_X").unwrap().kind(), AccountKind::Sub);
    }

    #[test]
    fn malformed_account_ids_are_refused() {
        for bad in [
            "",
            "MA_",
            "XA_ABC",
            "ma_ABC",
            "MA_abc",
            "MA_ABCDEFGHIJKLM",
            "MA_AB-C",
            "SA_ Ä",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_ids_parse_and_have_distinct_numeric_ids() {
        let a = AccountId::generate(AccountKind::Master);
        let b = AccountId::generate(AccountKind::Sub);
        assert_eq!(AccountId::parse(a.as_str()).unwrap(), a);
        assert_eq!(b.kind(), AccountKind::Sub);
        assert_ne!(a.numeric(), AccountId::parse("MA_0").unwrap().numeric());
        assert_eq!(AccountId::parse("MA_10").unwrap().numeric(), 36);
        assert_eq!(
            AccountId::parse("MA_ZZZZZZZZZZZZ").unwrap().numeric(),
            36i64.pow(12) - 1
        );
    }
}
