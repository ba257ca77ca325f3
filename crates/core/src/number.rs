//! A phone number's row and its states.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::e164::E164;
use crate::ids::{AccountId, NumberId, TrunkId};
use crate::money::{Currency, Decimal};

/// One state machine for every face; each face maps it to its own vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberState {
    /// In inventory, purchasable.
    Available,
    /// Held for an account during checkout; expires.
    Reserved,
    /// Paid, awaiting the account's verification.
    PendingVerification,
    /// Owned: may be routed, handed to a sub-account, or have `release_at` set.
    Active,
    /// Release requested; cancellable until `release_at`.
    PendingRelease,
    /// Released, ageing until `quarantine_until` before it is purchasable again.
    Quarantined,
    /// An imported number that was removed; the row stays for the audit trail.
    Deleted,
}

impl NumberState {
    pub const ALL: [NumberState; 7] = [
        NumberState::Available,
        NumberState::Reserved,
        NumberState::PendingVerification,
        NumberState::Active,
        NumberState::PendingRelease,
        NumberState::Quarantined,
        NumberState::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NumberState::Available => "available",
            NumberState::Reserved => "reserved",
            NumberState::PendingVerification => "pending_verification",
            NumberState::Active => "active",
            NumberState::PendingRelease => "pending_release",
            NumberState::Quarantined => "quarantined",
            NumberState::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// States in which an account holds the number.
    pub fn is_owned(self) -> bool {
        matches!(
            self,
            NumberState::Reserved
                | NumberState::PendingVerification
                | NumberState::Active
                | NumberState::PendingRelease
        )
    }
}

/// Where the number came from: the operator's stock, or brought by a customer (BYO, imported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Stock,
    Imported,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Stock => "stock",
            Origin::Imported => "imported",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "stock" => Some(Origin::Stock),
            "imported" => Some(Origin::Imported),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub voice: bool,
    pub sms: bool,
    pub mms: bool,
    pub fax: bool,
}

impl Capabilities {
    pub const VOICE: Capabilities = Capabilities {
        voice: true,
        sms: false,
        mms: false,
        fax: false,
    };

    /// Reads `voice`, `sms`, `mms`, `fax` names (any case); unknown names are an error.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut caps = Capabilities::default();
        for name in names {
            match name.trim().to_ascii_lowercase().as_str() {
                "" => {}
                "voice" => caps.voice = true,
                "sms" => caps.sms = true,
                "mms" => caps.mms = true,
                "fax" => caps.fax = true,
                other => return Err(format!("unknown capability {other:?}")),
            }
        }
        Ok(caps)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Number {
    pub id: NumberId,
    pub e164: E164,
    pub country: String,
    pub region: Option<String>,
    pub capabilities: Capabilities,
    pub origin: Origin,
    pub provider: String,
    pub setup_fee: Decimal,
    pub monthly_fee: Decimal,
    pub currency: Currency,
    pub state: NumberState,
    /// The account holding the number (a master or one of its sub-accounts).
    pub owner_id: Option<AccountId>,
    /// The master account that pays for it: the owner, or the owner's parent.
    pub billing_id: Option<AccountId>,
    pub trunk_id: Option<TrunkId>,
    pub application_id: Option<String>,
    pub tags: Vec<String>,
    pub is_blocked: bool,
    pub is_trial_number: bool,
    pub minimum_commitment_months: i32,
    pub aadhaar_verification_required: bool,
    pub aadhaar_verified: bool,
    pub last_call_at: Option<DateTime<Utc>>,
    pub purchased_at: Option<DateTime<Utc>>,
    pub last_billing_date: Option<DateTime<Utc>>,
    pub next_billing_date: Option<DateTime<Utc>>,
    /// When a requested release takes effect.
    pub release_at: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
    pub quarantine_until: Option<DateTime<Utc>>,
    /// The release fee charged for a pending release, refunded if it is cancelled.
    pub release_fee: Option<Decimal>,
    pub nickname: Option<String>,
    pub inbound_agent_id: Option<String>,
    pub outbound_agent_id: Option<String>,
    /// Who held the number before its last release, so that account still sees it while it is
    /// quarantined (and as finished after); cleared when the number is bought again.
    pub last_owner_id: Option<AccountId>,
    /// Who paid for it before its last release (the last holder's master account), which sees
    /// it the same way.
    pub last_billing_id: Option<AccountId>,
    /// When a reservation lapses, or a pending verification times out, and the number returns
    /// to inventory.
    pub reservation_expires_at: Option<DateTime<Utc>>,
    /// SIP trunk settings of an imported number.
    pub sip_config: Option<SipConfig>,
    /// Set while the number is locked against release (as Telnyx's deletion lock): every
    /// release path refuses it with [`EngineError::ReleaseLocked`](crate::EngineError).
    /// Cleared by unlocking, and by a release (a lapse for non-payment).
    #[serde(default)]
    pub release_lock: Option<ReleaseLock>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who locked a number against release, when, and why (free text, optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseLock {
    pub by: crate::audit::Actor,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaEncryption {
    Disable,
    #[default]
    Allow,
    Require,
}

/// How calls reach an imported number's own SIP trunk. The password is kept to place calls and
/// is never shown back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SipConfig {
    pub termination_uri: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub inbound_media_encryption: MediaEncryption,
    pub outbound_media_encryption: MediaEncryption,
    pub allowed_addresses: Option<Vec<String>>,
}

/// A change to a [`SipConfig`]: `None` keeps a setting; for the text settings `Some(None)`
/// clears one (the password too, which is otherwise kept, never shown back).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SipConfigPatch {
    pub termination_uri: Option<Option<String>>,
    pub username: Option<Option<String>>,
    pub password: Option<Option<String>>,
    pub inbound_media_encryption: Option<MediaEncryption>,
    pub outbound_media_encryption: Option<MediaEncryption>,
    /// The addresses allowed to send calls; `Some(vec![])` accepts every address.
    pub allowed_addresses: Option<Vec<String>>,
}

impl SipConfigPatch {
    /// `config` with this change made.
    pub fn apply(&self, mut config: SipConfig) -> SipConfig {
        for (target, v) in [
            (&mut config.termination_uri, &self.termination_uri),
            (&mut config.username, &self.username),
            (&mut config.password, &self.password),
        ] {
            if let Some(v) = v {
                target.clone_from(v);
            }
        }
        if let Some(e) = self.inbound_media_encryption {
            config.inbound_media_encryption = e;
        }
        if let Some(e) = self.outbound_media_encryption {
            config.outbound_media_encryption = e;
        }
        if let Some(list) = &self.allowed_addresses {
            config.allowed_addresses = Some(list.clone());
        }
        config
    }
}

/// How a command names a number: by its row id (the Diga face), or by its E.164 (Vobiz, Agni,
/// the operator), which means the live row with that number (a deleted, imported number keeps
/// its row for the audit trail, and the number may be imported again as a new row).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NumberRef {
    Id(NumberId),
    E164(E164),
}

impl From<E164> for NumberRef {
    fn from(e: E164) -> Self {
        NumberRef::E164(e)
    }
}

impl From<NumberId> for NumberRef {
    fn from(id: NumberId) -> Self {
        NumberRef::Id(id)
    }
}

/// What an inventory import or a BYO import gives for a new number.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNumber {
    pub e164: E164,
    pub country: String,
    pub region: Option<String>,
    pub capabilities: Capabilities,
    pub provider: String,
    pub setup_fee: Decimal,
    pub monthly_fee: Decimal,
    pub currency: Currency,
}

impl Number {
    pub fn new_stock(n: NewNumber, now: DateTime<Utc>) -> Self {
        Self {
            id: NumberId::new(),
            e164: n.e164,
            country: n.country,
            region: n.region,
            capabilities: n.capabilities,
            origin: Origin::Stock,
            provider: n.provider,
            setup_fee: n.setup_fee,
            monthly_fee: n.monthly_fee,
            currency: n.currency,
            state: NumberState::Available,
            owner_id: None,
            billing_id: None,
            trunk_id: None,
            application_id: None,
            tags: Vec::new(),
            is_blocked: false,
            is_trial_number: false,
            minimum_commitment_months: 0,
            aadhaar_verification_required: false,
            aadhaar_verified: false,
            last_call_at: None,
            purchased_at: None,
            last_billing_date: None,
            next_billing_date: None,
            release_at: None,
            released_at: None,
            quarantine_until: None,
            release_fee: None,
            nickname: None,
            inbound_agent_id: None,
            outbound_agent_id: None,
            last_owner_id: None,
            last_billing_id: None,
            reservation_expires_at: None,
            sip_config: None,
            release_lock: None,
            created_at: now,
            updated_at: now,
        }
    }
}
