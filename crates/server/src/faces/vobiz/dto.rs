//! Vobiz's objects, as its documentation shows them.

use chrono::{DateTime, SecondsFormat, Utc};
use didpool_core::account::Permissions;
use didpool_core::ledger::LedgerEntry;
use didpool_core::money::{Currency, Decimal};
use didpool_core::trunk::{Direction, Transport};
use didpool_core::{Account, Capabilities, Number, NumberState, Origin, Trunk};
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use uuid::Uuid;

pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Money goes out as a JSON number, as Vobiz sends it.
pub fn amount(d: Decimal) -> f64 {
    d.to_f64().unwrap_or_default()
}

/// A stable UUID for objects Vobiz gives an id that didpool has no row for (balances, api ids).
pub fn derived_uuid(seed: &str, salt: u64) -> Uuid {
    let h = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64 ^ salt, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    Uuid::from_u64_pair(h, h.rotate_left(29) ^ salt)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhoneNumber {
    pub id: String,
    /// The owner; empty for inventory numbers.
    pub account_id: String,
    pub e164: String,
    pub country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub region: Option<String>,
    #[schema(value_type = crate::openapi::CapabilitiesSchema)]
    pub capabilities: Capabilities,
    pub status: &'static str,
    pub provider: String,
    pub setup_fee: f64,
    pub monthly_fee: f64,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub application_id: Option<String>,
    #[schema(required = true)]
    pub trunk_group_id: Option<String>,
    pub voice_enabled: bool,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub purchased_at: Option<String>,
    pub is_blocked: bool,
    pub created_at: String,
    pub updated_at: String,
    pub is_trial_number: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_billing_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_billing_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub released_at: Option<String>,
    pub minimum_commitment_months: i32,
    pub aadhaar_verification_required: bool,
    pub aadhaar_verified: bool,
    pub source: &'static str,
}

/// The engine's states in Vobiz's vocabulary.
pub fn status(n: &Number) -> &'static str {
    if n.is_blocked {
        return "blocked";
    }
    match n.state {
        NumberState::Available | NumberState::Active => "active",
        NumberState::Reserved | NumberState::PendingVerification => "pending_purchase",
        NumberState::PendingRelease => "pending_release",
        NumberState::Quarantined | NumberState::Deleted => "released",
    }
}

impl From<&Number> for PhoneNumber {
    fn from(n: &Number) -> Self {
        Self {
            id: n.id.to_string(),
            account_id: n
                .owner_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            e164: n.e164.to_string(),
            country: n.country.clone(),
            region: n.region.clone(),
            capabilities: n.capabilities,
            status: status(n),
            provider: n.provider.clone(),
            setup_fee: amount(n.setup_fee),
            monthly_fee: amount(n.monthly_fee),
            currency: n.currency.to_string(),
            application_id: n.application_id.clone(),
            trunk_group_id: n.trunk_id.map(|t| t.to_string()),
            voice_enabled: n.capabilities.voice,
            tags: n.tags.clone(),
            purchased_at: n.purchased_at.map(time),
            is_blocked: n.is_blocked,
            created_at: time(n.created_at),
            updated_at: time(n.updated_at),
            is_trial_number: n.is_trial_number,
            last_billing_date: n.last_billing_date.map(time),
            next_billing_date: n.next_billing_date.map(time),
            released_at: n.released_at.map(time),
            minimum_commitment_months: n.minimum_commitment_months,
            aadhaar_verification_required: n.aadhaar_verification_required,
            aadhaar_verified: n.aadhaar_verified,
            source: match (n.origin, n.owner_id.is_some()) {
                (Origin::Imported, _) => "imported",
                (Origin::Stock, true) => "purchased",
                (Origin::Stock, false) => "inventory",
            },
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NumberList {
    pub items: Vec<PhoneNumber>,
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrunkObject {
    pub trunk_id: String,
    pub account_id: String,
    pub name: String,
    pub trunk_domain: String,
    pub trunk_status: &'static str,
    pub secure: bool,
    #[schema(value_type = String, example = "inbound")]
    pub trunk_direction: Direction,
    pub concurrent_calls_limit: i64,
    pub cps_limit: i64,
    pub description: String,
    #[schema(value_type = String, example = "udp")]
    pub transport: Transport,
    pub recording: bool,
    pub enable_transcription: bool,
    pub pii_redaction: bool,
    pub webhook_method: String,
    pub recording_webhook_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub webhook_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub inbound_destination: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub credential_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub ipacl_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub primary_uri_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub fallback_uri_uuid: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Trunk> for TrunkObject {
    fn from(t: &Trunk) -> Self {
        let s = &t.settings;
        Self {
            trunk_id: t.id.to_string(),
            account_id: t.account_id.to_string(),
            name: t.name.clone(),
            trunk_domain: s
                .domain
                .clone()
                .unwrap_or_else(|| format!("{}.sip.vobiz.ai", t.id)),
            trunk_status: if s.enabled { "active" } else { "inactive" },
            secure: s.secure,
            trunk_direction: s.direction,
            concurrent_calls_limit: s.concurrent_calls_limit,
            cps_limit: s.cps_limit,
            description: s.description.clone(),
            transport: s.transport,
            recording: s.recording,
            enable_transcription: s.enable_transcription,
            pii_redaction: s.pii_redaction,
            webhook_method: s.webhook_method.clone(),
            recording_webhook_enabled: s.recording_webhook_enabled,
            webhook_url: s.webhook_url.clone(),
            inbound_destination: s.inbound_destination.clone(),
            credential_uuid: s.credential_uuid.clone(),
            ipacl_uuid: s.ipacl_uuid.clone(),
            primary_uri_uuid: s.primary_uri_uuid.clone(),
            fallback_uri_uuid: s.fallback_uri_uuid.clone(),
            created_at: time(t.created_at),
            updated_at: time(t.updated_at),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubAccountObject {
    pub name: String,
    #[schema(required = true)]
    pub email: Option<String>,
    #[schema(required = true)]
    pub phone: Option<String>,
    #[schema(required = true)]
    pub description: Option<String>,
    #[schema(value_type = Option<crate::openapi::PermissionsSchema>, required = true)]
    pub permissions: Option<Permissions>,
    pub rate_limit: i64,
    pub id: String,
    pub parent_account_id: String,
    pub parent_auth_id: String,
    pub auth_id: String,
    pub auth_token: String,
    pub api_id: String,
    pub email_verified: bool,
    pub enabled: bool,
    pub is_active: bool,
    pub created: String,
    pub modified: String,
    pub created_at: String,
    pub updated_at: String,
    pub account: String,
    pub resource_uri: String,
    #[schema(required = true)]
    pub last_used: Option<String>,
}

pub const REDACTED: &str = "<redacted>";

impl SubAccountObject {
    pub fn new(a: &Account, auth_token: Option<&str>) -> Self {
        let parent = a.parent_id.clone().unwrap_or_else(|| a.id.clone());
        Self {
            name: a.name.clone(),
            email: a.profile.email.clone(),
            phone: a.profile.phone.clone(),
            description: a.profile.description.clone(),
            permissions: a.profile.permissions,
            rate_limit: a.profile.rate_limit.unwrap_or(1000),
            id: a.id.numeric().to_string(),
            parent_account_id: parent.numeric().to_string(),
            parent_auth_id: parent.to_string(),
            auth_id: a.id.to_string(),
            auth_token: auth_token.unwrap_or(REDACTED).to_owned(),
            api_id: derived_uuid(a.id.as_str(), 1).to_string(),
            email_verified: false,
            enabled: a.enabled,
            is_active: a.enabled,
            created: time(a.created_at),
            modified: time(a.updated_at),
            created_at: time(a.created_at),
            updated_at: time(a.updated_at),
            account: format!("/v1/Account/{parent}/"),
            resource_uri: format!("/v1/Account/{parent}/Subaccount/{}/", a.id),
            last_used: None,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Transaction {
    pub id: String,
    pub account_id: String,
    pub balance_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub amount: f64,
    pub currency: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reference: Option<String>,
    pub reference_type: &'static str,
    pub status: &'static str,
    pub processed_at: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&LedgerEntry> for Transaction {
    fn from(e: &LedgerEntry) -> Self {
        Self {
            id: e.id.to_string(),
            account_id: e.account_id.to_string(),
            balance_id: balance_id(&e.account_id.to_string()),
            kind: if e.is_debit() { "debit" } else { "credit" },
            amount: amount(e.amount.abs()),
            currency: e.currency.to_string(),
            description: e.description.clone(),
            reference: e.reference.clone(),
            reference_type: e.kind.as_str(),
            status: "completed",
            processed_at: time(e.created_at),
            created_at: time(e.created_at),
            updated_at: time(e.created_at),
        }
    }
}

pub fn balance_id(account: &str) -> String {
    derived_uuid(account, 2).to_string()
}

/// `GET /api/v1/auth/me`: the calling account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// Always `account`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub api_id: Uuid,
    pub name: String,
    #[schema(required = true)]
    pub email: Option<String>,
    #[schema(required = true)]
    pub phone: Option<String>,
    #[schema(required = true)]
    pub description: Option<String>,
    pub auth_id: String,
    /// Never shown: always `<redacted>`.
    pub auth_secret: &'static str,
    /// The main account of a sub-account; `null` for a main account.
    #[schema(required = true)]
    pub parent_auth_id: Option<String>,
    /// `standard` or `sub_account`.
    pub account_type: &'static str,
    pub postpaid: bool,
    pub enabled: bool,
    /// `admin` or `customer`.
    pub role: &'static str,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Account> for Me {
    fn from(a: &Account) -> Self {
        Self {
            kind: "account",
            id: a.id.numeric().to_string(),
            api_id: derived_uuid(a.id.as_str(), 1),
            name: a.name.clone(),
            email: a.profile.email.clone(),
            phone: a.profile.phone.clone(),
            description: a.profile.description.clone(),
            auth_id: a.id.to_string(),
            auth_secret: REDACTED,
            parent_auth_id: a.parent_id.as_ref().map(ToString::to_string),
            account_type: if a.is_master() {
                "standard"
            } else {
                "sub_account"
            },
            postpaid: false,
            enabled: a.enabled,
            role: a.role.as_str(),
            is_active: a.enabled,
            created_at: time(a.created_at),
            updated_at: time(a.updated_at),
        }
    }
}

/// `GET …/balance/{currency}`: the paying account's balance (prepaid only: credit and
/// promotional fields are always 0).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Balance {
    pub id: String,
    pub account_id: String,
    pub currency: String,
    pub balance: f64,
    pub reserved_funds: i64,
    pub promotional_balance: i64,
    pub promotional_reserved_balance: i64,
    pub available_balance: f64,
    pub credit_limit: i64,
    pub is_postpaid: bool,
    /// Always `hard`.
    pub credit_limit_type: &'static str,
    pub low_balance_threshold: i64,
    /// Always `active`.
    pub status: &'static str,
    pub created_at: String,
    pub updated_at: String,
}

impl Balance {
    pub fn new(payer: &Account, currency: &Currency) -> Self {
        Self {
            id: balance_id(payer.id.as_str()),
            account_id: payer.id.to_string(),
            currency: currency.to_string(),
            balance: amount(payer.balance),
            reserved_funds: 0,
            promotional_balance: 0,
            promotional_reserved_balance: 0,
            available_balance: amount(payer.balance),
            credit_limit: 0,
            is_postpaid: false,
            credit_limit_type: "hard",
            low_balance_threshold: 0,
            status: "active",
            created_at: time(payer.created_at),
            updated_at: time(payer.updated_at),
        }
    }
}

/// One entry kind's totals in a transaction list's summary.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReferenceTypeTotal {
    pub reference_type: &'static str,
    pub total_debit: f64,
    pub total_credit: f64,
    pub count: u64,
}

/// The totals of every entry the filters match (not only this page's).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransactionSummary {
    pub total_transactions: u64,
    pub total_debit: f64,
    pub total_credit: f64,
    pub net_amount: f64,
    pub by_reference_type: Vec<ReferenceTypeTotal>,
}

/// `GET …/transactions`: a page of the ledger, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransactionList {
    pub transactions: Vec<Transaction>,
    pub summary: TransactionSummary,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub total_pages: u64,
}

/// The `200` of a release that is pending (a release window is configured).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReleasePending {
    pub cancel_url: String,
    /// When the release takes effect.
    #[schema(required = true)]
    pub cooldown_ends_at: Option<String>,
    pub message: &'static str,
    pub note: String,
    pub release_fee: f64,
    /// Always `pending_release`.
    pub status: &'static str,
}

/// The `200` of cancel-release; `currency` and `refund_amount` only when a fee was refunded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReleaseCancelled {
    pub message: &'static str,
    /// Always `active`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub refund_amount: Option<f64>,
}

/// A body with only a message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Message {
    pub message: &'static str,
}

/// A new sub-account's credentials (the token is shown once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthCredentials {
    pub auth_id: String,
    pub auth_token: String,
}
