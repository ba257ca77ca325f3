//! The append-only audit trail: one event per state change, and the documented
//! `did_assignment_audit` rows for forced take-backs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::e164::E164;
use crate::ids::{AccountId, EventId, NumberId};
use crate::number::{Number, NumberState};

/// Who caused a change: an account through an API face, the operator, or the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    Account(AccountId),
    Operator,
    System,
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Actor::Account(id) => id.to_string(),
            Actor::Operator => "operator".into(),
            Actor::System => "system".into(),
        }
    }

    pub fn from_label(s: &str) -> Option<Self> {
        match s {
            "operator" => Some(Actor::Operator),
            "system" => Some(Actor::System),
            other => AccountId::parse(other).ok().map(Actor::Account),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumberEvent {
    pub id: EventId,
    pub number_id: NumberId,
    pub e164: E164,
    /// What happened, for example `purchased`, `assigned_to_trunk`, `released`.
    pub action: String,
    pub actor: Actor,
    pub from_state: Option<NumberState>,
    pub to_state: NumberState,
    pub from_owner: Option<AccountId>,
    pub to_owner: Option<AccountId>,
    pub at: DateTime<Utc>,
    pub request_id: Option<String>,
    /// The number as the change left it (what a webhook shows); `None` for events written
    /// before didpool kept it.
    pub number: Option<Number>,
}

/// A `did_assignment_audit` row, written whenever an admin forces a DID back from a sub-account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignmentAudit {
    pub id: EventId,
    pub number_id: NumberId,
    pub e164: E164,
    pub from_account_id: AccountId,
    pub to_account_id: AccountId,
    pub actor_auth_id: AccountId,
    pub action: String,
    pub last_call_at: Option<DateTime<Utc>>,
    pub cool_off_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}
