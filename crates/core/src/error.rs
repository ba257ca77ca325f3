//! The engine's one error type. Each face renders it in its provider's wire format.

use chrono::{DateTime, Utc};

use crate::money::{Currency, Decimal};
use crate::number::NumberState;

/// Its variant names in snake_case (`insufficient_balance`, `storage`, …) are the `outcome` label
/// of the `didpool_commands_total` metric (see [`crate::Engine::run`]).
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum EngineError {
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("number not found")]
    NumberNotFound,
    /// The number is held by an account the caller does not act for (seed 000's 403).
    #[error("account does not own this number")]
    NotOwner,
    #[error("number not found in inventory")]
    NotInInventory,
    #[error("number is blocked")]
    Blocked,
    #[error("insufficient balance: {needed} needed, {available} available")]
    InsufficientBalance { needed: Decimal, available: Decimal },
    /// The number's price is in `number`; the request or the paying account uses `other`.
    #[error("currency mismatch: the number is priced in {number}, not {other}")]
    CurrencyMismatch { number: Currency, other: Currency },
    /// The price the client confirmed is not the number's (agni-diga reference §1.5).
    #[error("price mismatch: the number costs {price} a month, not {quoted}")]
    PriceMismatch { price: Decimal, quoted: Decimal },
    #[error("number is already assigned to a trunk")]
    AlreadyOnTrunk,
    #[error("number is not assigned to any trunk")]
    NotOnTrunk,
    #[error("trunk not found")]
    TrunkNotFound,
    #[error("account not found")]
    AccountNotFound,
    #[error("sub-account not found")]
    SubAccountNotFound,
    #[error("number already assigned to a sub-account")]
    AlreadyOnSubAccount,
    #[error("number is not assigned to a sub-account of this account")]
    NotOnSubAccount,
    #[error("cool-off in effect until {until}")]
    CoolOffInEffect {
        until: DateTime<Utc>,
        remaining_seconds: i64,
    },
    #[error("force=true requires an admin-role account")]
    ForceRequiresAdmin,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("a number in state {} cannot be released", .0.as_str())]
    NotReleasable(NumberState),
    /// The number is locked against release (as Telnyx's deletion lock): every release path
    /// refuses it until its holder or the operator unlocks it.
    #[error("{0} is locked against release; unlock it first")]
    ReleaseLocked(crate::e164::E164),
    /// A release lock is refused while a release is pending or scheduled: cancel that first
    /// (a locked number never has a release waiting to fall due).
    #[error("number has a release pending; cancel the release first")]
    ReleasePending,
    #[error("number is not pending release")]
    NotPendingRelease,
    #[error("number is not reserved")]
    NotReserved,
    #[error("a number in state {} cannot be changed", .0.as_str())]
    NotEditable(NumberState),
    #[error("only imported numbers have SIP settings")]
    NotImported,
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("sub-account still holds numbers; unassign them first")]
    StillHoldsNumbers,
    #[error("credential not found")]
    CredentialNotFound,
    #[error("webhook endpoint not found")]
    EndpointNotFound,
    #[error("event not found")]
    EventNotFound,
    #[error("job not found")]
    JobNotFound,
    /// A runner's lease on a job lapsed to another runner, or the job was cancelled or is done:
    /// the runner stops (each item is still done exactly once, see [`crate::job`]).
    #[error("job is not running under this lease")]
    JobNotRunning,
    #[error("storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store cannot serve now, through no fault of the request: PostgreSQL cannot be reached
    /// within the pool's acquire timeout, the SQLite file cannot be written (read-only, full, an
    /// I/O error) or was removed or replaced under the running server. Nothing was written; the
    /// same request may succeed later (each face answers `503` with `Retry-After`).
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl EngineError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        EngineError::Invalid(msg.into())
    }

    pub fn storage(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        EngineError::Storage(Box::new(e))
    }

    pub fn unavailable(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        EngineError::Unavailable(e.into())
    }
}
