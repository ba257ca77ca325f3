//! Vobiz's objects, as its documentation shows them.

use chrono::{DateTime, SecondsFormat, Utc};
use didpool_core::account::{Permissions, Verification};
use didpool_core::ledger::LedgerEntry;
use didpool_core::money::{Currency, Decimal};
use didpool_core::trunk::{Direction, Transport};
use didpool_core::{Account, Capabilities, Number, NumberState, Origin, Trunk};
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use serde_json::Value;
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

/// A number an account holds: the list item of `GET …/numbers`, the `number` of a purchase
/// (reference §4.1, the G3 list item with `trunk_group_id` and `released_at` from the object page).
/// Every field is always present: a documented string didpool does not know is `""` (`region`,
/// `provider`), an optional one that does not apply is `null` (`application_id`,
/// `trunk_group_id`, the billing dates, `released_at`; `purchased_at` before a checkout is paid).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhoneNumber {
    /// A UUID.
    pub id: String,
    /// The holder (`MA_…` or `SA_…`); `""` for a number nobody holds (the admin view).
    pub account_id: String,
    pub e164: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// `""` when the stock did not say.
    pub region: String,
    #[schema(value_type = crate::openapi::CapabilitiesSchema)]
    pub capabilities: Capabilities,
    /// `active`, `pending_purchase`, `pending_release`, `released` or `blocked`.
    pub status: &'static str,
    pub provider: String,
    /// In `currency`, as a JSON number.
    pub setup_fee: f64,
    /// In `currency`, as a JSON number.
    pub monthly_fee: f64,
    pub currency: String,
    #[schema(required = true)]
    pub application_id: Option<String>,
    /// The trunk it routes to; `null` when on none.
    #[schema(required = true)]
    pub trunk_group_id: Option<String>,
    pub voice_enabled: bool,
    pub tags: Vec<String>,
    #[schema(required = true)]
    pub purchased_at: Option<String>,
    pub is_blocked: bool,
    pub created_at: String,
    pub updated_at: String,
    pub is_trial_number: bool,
    #[schema(required = true)]
    pub last_billing_date: Option<String>,
    #[schema(required = true)]
    pub next_billing_date: Option<String>,
    /// Set when it was released and nobody holds it since.
    #[schema(required = true)]
    pub released_at: Option<String>,
    pub minimum_commitment_months: i32,
    pub aadhaar_verification_required: bool,
    pub aadhaar_verified: bool,
    /// `purchased` (bought from stock), `inventory` (nobody holds it) or `imported` (brought by
    /// its holder through another face).
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
            region: n.region.clone().unwrap_or_default(),
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

/// `GET …/numbers`: a page of the numbers an account holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NumberList {
    pub items: Vec<PhoneNumber>,
    /// From 1.
    pub page: u32,
    pub per_page: u32,
    /// Every match, not only this page's.
    pub total: u64,
}

/// A number in stock, as `GET …/inventory/numbers` lists it: the documented inventory object
/// (reference §5.2, the G3 schema), nothing about who held it before or how it is routed. Its
/// `account_id` is always `""` (the schema requires it; nobody holds the number) and `region` is
/// `""` when the stock did not say.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InventoryNumber {
    /// A UUID.
    pub id: String,
    /// Always `""`.
    pub account_id: String,
    pub e164: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub region: String,
    #[schema(value_type = crate::openapi::CapabilitiesSchema)]
    pub capabilities: Capabilities,
    /// Always `active` (or `blocked`).
    pub status: &'static str,
    pub provider: String,
    /// What a purchase charges once, in `currency`.
    pub setup_fee: f64,
    /// What a purchase charges for the first month, then every month, in `currency`.
    pub monthly_fee: f64,
    pub currency: String,
    pub voice_enabled: bool,
    pub tags: Vec<String>,
    pub is_blocked: bool,
    pub created_at: String,
    pub updated_at: String,
    pub is_trial_number: bool,
    pub minimum_commitment_months: i32,
    pub aadhaar_verification_required: bool,
    pub aadhaar_verified: bool,
}

impl From<&Number> for InventoryNumber {
    fn from(n: &Number) -> Self {
        Self {
            id: n.id.to_string(),
            account_id: String::new(),
            e164: n.e164.to_string(),
            country: n.country.clone(),
            region: n.region.clone().unwrap_or_default(),
            capabilities: n.capabilities,
            status: status(n),
            provider: n.provider.clone(),
            setup_fee: amount(n.setup_fee),
            monthly_fee: amount(n.monthly_fee),
            currency: n.currency.to_string(),
            voice_enabled: n.capabilities.voice,
            tags: n.tags.clone(),
            is_blocked: n.is_blocked,
            created_at: time(n.created_at),
            updated_at: time(n.updated_at),
            is_trial_number: n.is_trial_number,
            minimum_commitment_months: n.minimum_commitment_months,
            aadhaar_verification_required: n.aadhaar_verification_required,
            aadhaar_verified: n.aadhaar_verified,
        }
    }
}

/// `GET …/inventory/numbers`: a page of the numbers in stock.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InventoryList {
    pub items: Vec<InventoryNumber>,
    /// From 1.
    pub page: u32,
    pub per_page: u32,
    /// Every match, not only this page's.
    pub total: u64,
}

/// A SIP trunk (reference §4.2, the G3 trunk object). The optional ids and settings
/// (`webhook_url` … `pii_entity_types`) appear when set, as in Vobiz's examples (the trunk-object
/// example has none of them, the list example a `credential_uuid` on the trunk that has one):
/// Vobiz's generated client refuses them on a created or retrieved trunk that has none.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrunkObject {
    /// A UUID.
    pub trunk_id: String,
    pub account_id: String,
    pub name: String,
    /// `<trunk_id>.sip.vobiz.ai` unless one was given.
    pub trunk_domain: String,
    /// `active` or `inactive`.
    pub trunk_status: &'static str,
    pub secure: bool,
    /// `inbound`, `outbound` or `both`.
    #[schema(value_type = String, example = "inbound")]
    pub trunk_direction: Direction,
    pub concurrent_calls_limit: i64,
    /// Calls per second.
    pub cps_limit: i64,
    pub description: String,
    /// `udp`, `tcp` or `tls`.
    #[schema(value_type = String, example = "udp")]
    pub transport: Transport,
    pub recording: bool,
    pub enable_transcription: bool,
    pub pii_redaction: bool,
    /// `POST` or `GET`.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub pii_entity_types: Option<String>,
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
            trunk_domain: trunk_domain(&t.id, s),
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
            pii_entity_types: s.pii_entity_types.clone(),
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
    /// What the money moved for, on every entry: `did:<e164>` for a number's fees and refunds,
    /// `payment:<entry id>` for money the operator added (an opening balance, a top-up).
    pub reference: String,
    /// `did_purchase`, `did_rental`, `release_fee`, `refund` or `payment`.
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

/// `GET /api/v1/auth/me`: the calling account, the G2/G3 object of reference §8.1 (G1's
/// `MASTER`/`ADMIN` spelling is not used). Every documented field is present. Settings didpool
/// does not keep are constant: strings it does not know are `""` (`country`, `timezone`, the
/// address, `last_login`), documented-`null` ones are `null`; the call limits are the documented
/// trunk defaults (2 calls per second, 10 at once; didpool carries no calls and enforces none);
/// the account is prepaid (`postpaid` false, `credit_limit` 0) on one flat pricing tier in its
/// currency.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// Always `account`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The numeric id (`auth_id` without its prefix).
    pub id: String,
    pub api_id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub description: String,
    pub auth_id: String,
    /// Never shown: always `<redacted>`.
    pub auth_secret: &'static str,
    /// When the `X-Auth-Token` this request used stops working (a rotated token in its grace
    /// period); `null` for a token without an end, or a request not authenticated by one.
    #[schema(required = true)]
    pub auth_token_expire_time: Option<String>,
    pub country: String,
    pub timezone: String,
    pub city: String,
    pub state: String,
    pub address: String,
    pub zip_code: String,
    pub company: String,
    /// `standard` for a main account, `sub_account` for a sub-account.
    pub account_type: &'static str,
    /// Always `false`.
    pub postpaid: bool,
    /// Always `false`.
    pub auto_recharge: bool,
    /// Always `null`.
    #[schema(value_type = Option<Object>, required = true)]
    pub auto_recharge_config: Option<Value>,
    pub enabled: bool,
    /// Always `null`.
    #[schema(value_type = Option<String>, required = true)]
    pub carrier_type: Option<Value>,
    /// Always `null`.
    #[schema(value_type = Option<String>, required = true)]
    pub customer_type: Option<Value>,
    /// Always 0.
    pub credit_limit: i64,
    pub cps_limit: i64,
    pub concurrent_calls_limit: i64,
    pub base_cps_limit: i64,
    pub base_concurrent_calls_limit: i64,
    /// Always 0.
    pub purchased_cps: i64,
    /// Always 0.
    pub purchased_concurrent_calls: i64,
    /// Always 0.
    pub risk_rating: i64,
    /// Always `null`.
    #[schema(value_type = Option<String>, required = true)]
    pub risk_status: Option<Value>,
    pub features: Features,
    /// Always `false`.
    pub ip_auth_enabled: bool,
    /// Always `{}`.
    #[schema(value_type = Object)]
    pub ip_whitelist_rules: serde_json::Map<String, Value>,
    /// Always `false`.
    pub allow_aws_ips: bool,
    /// `admin` or `customer`: an admin may force a number back from a sub-account.
    pub role: &'static str,
    pub is_active: bool,
    /// Whether the company's verification passed (Diga's purchase verification).
    pub is_verified: bool,
    /// Always `false`.
    pub is_trial_account: bool,
    pub created_at: String,
    pub updated_at: String,
    /// Always `""`: didpool does not record logins.
    pub last_login: String,
    /// The id of `pricing_tier`.
    pub pricing_tier_id: String,
    pub pricing_tier: PricingTier,
}

/// The account's features: none of them is offered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Features {
    /// Always `false`.
    pub call_queue: bool,
}

/// The calling rates of an account: didpool rates no calls, so one flat tier at 0.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PricingTier {
    pub id: String,
    /// Always `Standard`.
    pub name: &'static str,
    /// Always `""`.
    pub description: &'static str,
    /// The account's currency.
    pub currency: String,
    /// Always 0.
    pub rate_per_minute: f64,
    /// Always 60.
    pub billing_increment_seconds: i64,
    /// Always 0.
    pub minimum_duration_seconds: i64,
    /// Always `true`.
    pub is_active: bool,
    /// Always `true`.
    pub is_default: bool,
}

/// The documented trunk defaults, reported as the account's limits.
const CPS_LIMIT: i64 = 2;
const CONCURRENT_CALLS_LIMIT: i64 = 10;

impl Me {
    /// `account` as the request authenticated it; `token_expires_at` is when the auth token it
    /// used stops working, if it does.
    pub fn new(a: &Account, token_expires_at: Option<DateTime<Utc>>) -> Self {
        let tier = derived_uuid(a.id.as_str(), 3).to_string();
        Self {
            kind: "account",
            id: a.id.numeric().to_string(),
            api_id: derived_uuid(a.id.as_str(), 1),
            name: a.name.clone(),
            email: a.profile.email.clone().unwrap_or_default(),
            phone: a.profile.phone.clone().unwrap_or_default(),
            description: a.profile.description.clone().unwrap_or_default(),
            auth_id: a.id.to_string(),
            auth_secret: REDACTED,
            auth_token_expire_time: token_expires_at.map(time),
            country: String::new(),
            timezone: String::new(),
            city: String::new(),
            state: String::new(),
            address: String::new(),
            zip_code: String::new(),
            company: String::new(),
            account_type: if a.is_master() {
                "standard"
            } else {
                "sub_account"
            },
            postpaid: false,
            auto_recharge: false,
            auto_recharge_config: None,
            enabled: a.enabled,
            carrier_type: None,
            customer_type: None,
            credit_limit: 0,
            cps_limit: CPS_LIMIT,
            concurrent_calls_limit: CONCURRENT_CALLS_LIMIT,
            base_cps_limit: CPS_LIMIT,
            base_concurrent_calls_limit: CONCURRENT_CALLS_LIMIT,
            purchased_cps: 0,
            purchased_concurrent_calls: 0,
            risk_rating: 0,
            risk_status: None,
            features: Features { call_queue: false },
            ip_auth_enabled: false,
            ip_whitelist_rules: serde_json::Map::new(),
            allow_aws_ips: false,
            role: a.role.as_str(),
            is_active: a.enabled,
            is_verified: a.verification == Verification::Verified,
            is_trial_account: false,
            created_at: time(a.created_at),
            updated_at: time(a.updated_at),
            last_login: String::new(),
            pricing_tier_id: tier.clone(),
            pricing_tier: PricingTier {
                id: tier,
                name: "Standard",
                description: "",
                currency: a.currency.to_string(),
                rate_per_minute: 0.0,
                billing_increment_seconds: 60,
                minimum_duration_seconds: 0,
                is_active: true,
                is_default: true,
            },
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

/// The `200` of cancel-release: reference §5.5's first body, the refund made (didpool's refund
/// cannot fail, so the second body, `refund_status: failed`, never comes).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReleaseCancelled {
    pub message: &'static str,
    /// Always `active`.
    pub status: &'static str,
    /// The currency of the refund (the number's).
    pub currency: String,
    /// The release fee given back; 0 when none was charged.
    pub refund_amount: f64,
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

/// A pair of tokens (reference §7.1's `tokens`): what a sub-account's creation and
/// `POST /api/v1/auth/refresh` answer. See `faces::vobiz::tokens` for the claims and lifetimes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Tokens {
    /// A JWT for `Authorization: Bearer` on the Vobiz routes, for `expires_in` seconds.
    pub access_token: String,
    /// A JWT for `POST /api/v1/auth/refresh` only, for 7 days.
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// The access token's lifetime in seconds: 1800.
    pub expires_in: i64,
}

/// A trunk's `trunk_domain`: the one it was given, else `<trunk_id>.sip.vobiz.ai` (the Vobiz face
/// and the SIP edge's routing answer say the same).
pub fn trunk_domain(id: &didpool_core::TrunkId, s: &didpool_core::trunk::TrunkSettings) -> String {
    s.domain
        .clone()
        .unwrap_or_else(|| format!("{id}.sip.vobiz.ai"))
}
