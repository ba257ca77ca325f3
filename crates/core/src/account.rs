//! Accounts: master accounts hold the balance; sub-accounts are billed to their parent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, AccountKind};
use crate::money::{Currency, Decimal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Customer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Customer => "customer",
        }
    }

    /// Case-insensitive, as providers spell it both ways (`admin`, `ADMIN`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "customer" => Some(Role::Customer),
            _ => None,
        }
    }
}

/// Whether the company behind a master account has been verified. Paid numbers of an
/// unverified company wait in `pending_verification`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verification {
    Verified,
    Pending,
    Rejected,
}

impl Verification {
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::Verified => "verified",
            Verification::Pending => "pending",
            Verification::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "verified" => Some(Verification::Verified),
            "pending" => Some(Verification::Pending),
            "rejected" => Some(Verification::Rejected),
            _ => None,
        }
    }
}

/// Descriptive fields a face shows and edits; no rule depends on them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountProfile {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub rate_limit: Option<i64>,
    pub permissions: Option<Permissions>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    pub calls: bool,
    pub cdr: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    /// The master account of a sub-account; `None` for master accounts.
    pub parent_id: Option<AccountId>,
    pub name: String,
    pub role: Role,
    pub currency: Currency,
    /// Only master accounts carry money; it changes only through ledger entries.
    pub balance: Decimal,
    pub enabled: bool,
    pub verification: Verification,
    pub profile: AccountProfile,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when a sub-account is deleted; the row stays for the audit trail.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Account {
    pub fn is_master(&self) -> bool {
        self.id.kind() == AccountKind::Master
    }

    /// The master account that pays for what this account does.
    pub fn billing_id(&self) -> &AccountId {
        self.parent_id.as_ref().unwrap_or(&self.id)
    }

    pub fn is_live(&self) -> bool {
        self.deleted_at.is_none()
    }
}

/// What the operator or a parent gives to create an account.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAccount {
    /// A chosen id (to keep an id from another system); generated when `None`.
    pub id: Option<AccountId>,
    pub name: String,
    pub role: Role,
    pub currency: Currency,
    pub opening_balance: Decimal,
    pub enabled: bool,
    pub profile: AccountProfile,
}

/// A partial update of a sub-account: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub rate_limit: Option<i64>,
    pub permissions: Option<Permissions>,
}

/// Names are shown in lists and consoles; keep them printable and bounded.
pub fn validate_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() {
        return Err("name is required");
    }
    if name.chars().count() > 255 {
        return Err("name is at most 255 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("name cannot contain control characters");
    }
    Ok(name.to_owned())
}
