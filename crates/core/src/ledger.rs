//! The append-only ledger: every change of a balance is one entry, written with it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::e164::E164;
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
    /// What the money moved for, always set (Vobiz's `reference`): see [`Source::reference`].
    pub reference: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

/// What a ledger entry is about, which names its `reference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// A number's fee or refund: `did:<e164>` (e.g. `did:+919876543210`), the form Vobiz's
    /// reference recommends for DID billing rows (reference §8.3). Every charge and refund of one
    /// number shares it, so a `reference` filter finds the number's whole bill.
    Number(&'a E164),
    /// Money the operator adds (an opening balance, a top-up): `payment:<entry id>`. The payment
    /// is recorded nowhere else, so its entry names itself; the id is the entry's own (a UUID),
    /// stable and unique.
    Payment,
}

impl Source<'_> {
    /// The `reference` of the entry `id` about this source.
    pub fn reference(self, id: &EntryId) -> String {
        match self {
            Source::Number(e164) => format!("did:{e164}"),
            Source::Payment => format!("payment:{id}"),
        }
    }
}

impl LedgerEntry {
    pub fn is_debit(&self) -> bool {
        self.amount.is_sign_negative()
    }
}
