//! The append-only ledger: every change of a balance is one entry, written with it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, EntryId};
use crate::money::{Currency, Decimal};

/// Why money moved. The names follow Vobiz's `reference_type` vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A number's one-time setup fee.
    DidPurchase,
    /// A number's monthly fee (first month at purchase, then each renewal).
    DidRental,
    /// A fee charged when a release is requested.
    ReleaseFee,
    /// Money given back (a cancelled release's fee).
    Refund,
    /// Money the operator adds.
    Payment,
}

impl EntryKind {
    pub const ALL: [EntryKind; 5] = [
        EntryKind::DidPurchase,
        EntryKind::DidRental,
        EntryKind::ReleaseFee,
        EntryKind::Refund,
        EntryKind::Payment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::DidPurchase => "did_purchase",
            EntryKind::DidRental => "did_rental",
            EntryKind::ReleaseFee => "release_fee",
            EntryKind::Refund => "refund",
            EntryKind::Payment => "payment",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: EntryId,
    pub account_id: AccountId,
    /// Signed: negative for a debit, positive for a credit.
    pub amount: Decimal,
    pub balance_after: Decimal,
    pub currency: Currency,
    pub kind: EntryKind,
    pub reference: Option<String>,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

impl LedgerEntry {
    pub fn is_debit(&self) -> bool {
        self.amount.is_sign_negative()
    }
}
