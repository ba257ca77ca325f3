//! Agni's objects: the `{success, message, data}` envelope and the phone-number items, in
//! snake_case as the phone pages show them. Fields the vendor does not document are emitted as
//! `null`, never omitted (reference §1.5).

use chrono::{DateTime, SecondsFormat, Utc};
use didpool_core::money::Decimal;
use didpool_core::{Number, NumberState};
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

/// The message every documented success carries (current docs, R1/R2/R5/R6).
pub const OK: &str = "Request completed successfully";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Envelope<T> {
    pub success: bool,
    pub message: &'static str,
    pub data: T,
}

pub fn ok<T>(data: T) -> axum::Json<Envelope<T>> {
    axum::Json(Envelope {
        success: true,
        message: OK,
        data,
    })
}

/// UTC, whole seconds, `Z`: as the documented examples (`2026-03-14T12:00:00Z`).
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Money goes out as a JSON number, as Agni sends it.
pub fn amount(d: Decimal) -> f64 {
    d.to_f64().unwrap_or_default()
}

/// The engine's states in Agni's words (reference §3.1). Agni shows a held number only while it
/// is active (the list asks the store for no other state); a release answers `released`.
pub fn status(state: NumberState) -> &'static str {
    match state {
        NumberState::Active => "active",
        NumberState::Available => "available",
        NumberState::Reserved | NumberState::PendingVerification => "pending",
        NumberState::PendingRelease => "pending_release",
        NumberState::Quarantined | NumberState::Deleted => "released",
    }
}

/// An item of `GET …/available-numbers/{iso_country}/` (shape recommended by reference §1.5:
/// the fields the buy body takes back).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AgniAvailableNumber)]
pub struct AvailableNumber {
    pub phone_number: String,
    pub iso_country: String,
    #[schema(required = true)]
    pub region: Option<String>,
    /// The monthly price, charged at purchase with `setup_fee`.
    pub price: f64,
    pub setup_fee: f64,
    pub currency: String,
    #[schema(required = true)]
    pub per_minute_price_inbound: Option<f64>,
    #[schema(required = true)]
    pub per_minute_price_outbound: Option<f64>,
}

impl From<&Number> for AvailableNumber {
    fn from(n: &Number) -> Self {
        Self {
            phone_number: n.e164.to_string(),
            iso_country: n.country.clone(),
            region: n.region.clone(),
            price: amount(n.monthly_fee),
            setup_fee: amount(n.setup_fee),
            currency: n.currency.to_string(),
            // didpool does not rate calls.
            per_minute_price_inbound: None,
            per_minute_price_outbound: None,
        }
    }
}

/// A number the caller holds: the list item (the eight documented fields first), also the
/// `data` of buy and add-twilio.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AgniPhoneNumber)]
pub struct PhoneNumber {
    pub id: String,
    #[schema(required = true)]
    pub telephony_id: Option<String>,
    #[schema(required = true)]
    pub subscription_id: Option<String>,
    #[schema(required = true)]
    pub inbound_trunk_id: Option<String>,
    #[schema(required = true)]
    pub outbound_trunk_id: Option<String>,
    pub number: String,
    #[schema(required = true)]
    pub friendly_name: Option<String>,
    #[schema(required = true)]
    pub per_minute_price_inbound: Option<f64>,
    #[schema(required = true)]
    pub per_minute_price_outbound: Option<f64>,
    /// Buy and release call it `phone_number`; the list calls it `number`. Both are sent.
    pub phone_number: String,
    pub price: f64,
    pub currency: String,
    pub status: &'static str,
    pub is_active: bool,
    pub iso_country: String,
    #[schema(required = true)]
    pub region: Option<String>,
    #[schema(required = true)]
    pub purchased_at: Option<String>,
    #[schema(required = true)]
    pub released_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Number> for PhoneNumber {
    fn from(n: &Number) -> Self {
        let trunk = n.trunk_id.map(|t| t.to_string());
        Self {
            id: n.id.to_string(),
            telephony_id: None,
            subscription_id: None,
            inbound_trunk_id: trunk.clone(),
            outbound_trunk_id: trunk,
            number: n.e164.to_string(),
            friendly_name: n.nickname.clone(),
            per_minute_price_inbound: None,
            per_minute_price_outbound: None,
            phone_number: n.e164.to_string(),
            price: amount(n.monthly_fee),
            currency: n.currency.to_string(),
            status: status(n.state),
            is_active: n.state == NumberState::Active,
            iso_country: n.country.clone(),
            region: n.region.clone(),
            purchased_at: n.purchased_at.map(time),
            released_at: n.released_at.map(time),
            created_at: time(n.created_at),
            updated_at: time(n.updated_at),
        }
    }
}

/// The `data` of a purchase, as documented (R2/R4): the number, its monthly price, `active`,
/// and when it was bought. Nothing else: the list shows the rest.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AgniPurchased)]
pub struct Purchased {
    pub phone_number: String,
    /// The monthly price charged (with the setup fee) at purchase.
    pub price: f64,
    /// Always `active`.
    pub status: &'static str,
    pub purchased_at: String,
}

impl From<&Number> for Purchased {
    fn from(n: &Number) -> Self {
        Self {
            phone_number: n.e164.to_string(),
            price: amount(n.monthly_fee),
            status: status(n.state),
            purchased_at: time(n.purchased_at.unwrap_or(n.updated_at)),
        }
    }
}

/// The `data` of a release (seed 001). Its `status` is `released` whatever became of the row
/// (back to inventory, quarantined, or an imported number deleted): it is no longer the caller's.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AgniReleased)]
pub struct Released {
    pub phone_number: String,
    pub status: &'static str,
    #[schema(required = true)]
    pub released_at: Option<String>,
}

impl From<&Number> for Released {
    fn from(n: &Number) -> Self {
        Self {
            phone_number: n.e164.to_string(),
            status: "released",
            released_at: n.released_at.map(time),
        }
    }
}

/// The body of `POST /buy` (documentation only: the handler reads the JSON itself).
#[derive(utoipa::ToSchema)]
#[schema(as = AgniBuyBody)]
#[allow(dead_code)]
pub struct BuyBody {
    /// E.164, e.g. `+14155552671`.
    phone_number: String,
    /// The quoted monthly price (required; the engine charges its own).
    price: f64,
    per_minute_price_inbound: Option<f64>,
    per_minute_price_outbound: Option<f64>,
}

/// The body of `POST /add-twilio` (documentation only).
#[derive(utoipa::ToSchema)]
#[schema(as = AgniAddTwilioBody)]
#[allow(dead_code)]
pub struct AddTwilioBody {
    phone_number: String,
    /// Twilio's `PN…` sid.
    number_sid: String,
    friendly_name: Option<String>,
    price: Option<f64>,
}
