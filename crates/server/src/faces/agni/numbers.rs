//! The `PhoneService` routes: available numbers, buy, list, add-twilio import, release.

use axum::extract::State;
use axum::Json;
use std::str::FromStr;

use didpool_core::lifecycle::{Command, ReleaseMode};
use didpool_core::money::Decimal;
use didpool_core::number::NewNumber;
use didpool_core::store::{Holder, NumberQuery};
use didpool_core::{Capabilities, EngineError, InvalidNumber, NumberState, E164};
use serde_json::{Map, Value};

use super::auth::Caller;
use super::dto::{ok, AvailableNumber, Envelope, PhoneNumber, Purchased, Released};
use super::error::{AJson, APath, AgniError};
use crate::app::AppState;
use crate::http::Params;

type Answer<T> = Result<Json<Envelope<T>>, AgniError>;

const E164_HINT: &str = "in E.164 format, e.g. +14157774444";
/// The available-numbers page size when the client sends none, and its ceiling.
const DEFAULT_PAGE_SIZE: u32 = 20;
const MAX_PAGE_SIZE: u32 = 100;

/// A `phone_number`: E.164 exactly as sent, a `+` and the digits, nothing around them (reference
/// §1.5), under the deployment's number validation.
fn phone_number(st: &AppState, s: &str) -> Result<E164, AgniError> {
    match st.engine.parse_number(s) {
        Ok(e) if e.as_str() == s => Ok(e),
        // Written as E.164, and still no number of its country.
        Err(InvalidNumber::Country) if s.starts_with('+') && s.trim() == s => Err(
            AgniError::bad_request("phone_number is not a valid number for its country"),
        ),
        _ => Err(AgniError::bad_request(format!(
            "phone_number must be {E164_HINT}"
        ))),
    }
}

/// The available-numbers page: `limit` items (`page_size` is the same; default 20, at most 100)
/// from `offset`, or from page `page` (from 1). Naming both of a pair is refused: they could
/// disagree.
fn available_page(params: &Params) -> Result<(u32, u64), AgniError> {
    let size = match (params.number("limit", 1)?, params.number("page_size", 1)?) {
        (Some(_), Some(_)) => {
            return Err(AgniError::bad_request(
                "Give limit or page_size, not both (they are the same)",
            ))
        }
        (a, b) => a.or(b).unwrap_or(DEFAULT_PAGE_SIZE).min(MAX_PAGE_SIZE),
    };
    let offset = match (params.number("offset", 0)?, params.number("page", 1)?) {
        (Some(_), Some(_)) => {
            return Err(AgniError::bad_request("Give offset or page, not both"));
        }
        (Some(offset), None) => u64::from(offset),
        (None, page) => u64::from(page.unwrap_or(1) - 1) * u64::from(size),
    };
    Ok((size, offset))
}

fn iso_country(raw: &str) -> Result<String, AgniError> {
    let c = raw.trim().to_ascii_uppercase();
    if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(AgniError::bad_request(
            "iso_country must be an ISO 3166-1 alpha-2 code, e.g. US",
        ));
    }
    Ok(c)
}

/// A region filter. Control characters are refused: no stocked region has one, and PostgreSQL
/// cannot even compare text holding a NUL (it was a 500).
fn region(params: &Params) -> Result<Option<String>, AgniError> {
    let Some(r) = params
        .get("region")
        .map(str::trim)
        .filter(|r| !r.is_empty())
    else {
        return Ok(None);
    };
    if r.chars().any(char::is_control) {
        return Err(AgniError::bad_request(
            "region cannot contain control characters",
        ));
    }
    Ok(Some(r.to_owned()))
}

/// A JSON object body, read field by field so each bad field gets its own message; unknown
/// fields are ignored.
type Body = Map<String, Value>;

/// A body field; `null` is the same as absent.
fn field<'b>(body: &'b Body, name: &str) -> Option<&'b Value> {
    body.get(name).filter(|v| !v.is_null())
}

/// A body's `phone_number`: required, a string, E.164.
fn body_number(st: &AppState, v: Option<&Value>) -> Result<E164, AgniError> {
    match v {
        None => Err(AgniError::bad_request("phone_number is required")),
        Some(Value::String(s)) => phone_number(st, s),
        Some(_) => Err(AgniError::bad_request(format!(
            "phone_number must be a string {E164_HINT}"
        ))),
    }
}

/// A price in a body: a JSON number (integer or decimal), not negative. `null` is absent.
fn body_price(v: Option<&Value>, name: &str, required: bool) -> Result<Option<Decimal>, AgniError> {
    let bad = || AgniError::bad_request(format!("{name} must be a number of at least 0"));
    match v {
        None if required => Err(AgniError::bad_request(format!("{name} is required"))),
        None => Ok(None),
        Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f >= 0.0) => {
            let text = n.to_string();
            let d = Decimal::from_str(&text)
                .or_else(|_| Decimal::from_scientific(&text))
                .map_err(|_| bad())?;
            Ok(Some(d.normalize()))
        }
        Some(_) => Err(bad()),
    }
}

fn body_text<'v>(v: Option<&'v Value>, name: &str) -> Result<Option<&'v str>, AgniError> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AgniError::bad_request(format!("{name} must be a string"))),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/phone-numbers/available-numbers/{iso_country}",
    tag = "agni",
    operation_id = "agni_available",
    summary = "Available numbers of a country",
    security(("agni_api_key" = [])),
    params(("iso_country" = String, Path, description = "ISO 3166 alpha-2"), ("limit" = Option<u32>, Query, description = "page size: default 20, at most 100 (a shorter page is the last)"), ("page_size" = Option<u32>, Query, description = "the same as limit (not both)"), ("offset" = Option<u32>, Query, description = "items to skip (default 0)"), ("page" = Option<u32>, Query, description = "page from 1, instead of offset (not both)"), ("region" = Option<String>, Query, description = "exact region name, as stocked")),
    responses((status = 200, description = "numbers in stock", body = Envelope<Vec<AvailableNumber>>), (status = 400, description = "bad input", body = crate::openapi::AgniErrorBody), (status = 401, description = "missing, unknown or revoked key", body = crate::openapi::AgniErrorBody))
)]
pub async fn available(
    State(st): State<AppState>,
    caller: Caller,
    APath(country): APath<String>,
    params: Params,
) -> Answer<Vec<AvailableNumber>> {
    let mut q = NumberQuery::new(Holder::Nobody, vec![NumberState::Available]);
    q.country = Some(iso_country(&country)?);
    q.region = region(&params)?;
    (q.limit, q.offset) = available_page(&params)?;
    let found = st
        .engine
        .numbers(&caller.by, &q)
        .await
        .map_err(AgniError::internal)?;
    Ok(ok(found.items.iter().map(AvailableNumber::from).collect()))
}

#[utoipa::path(
    get,
    path = "/api/v1/phone-numbers/",
    tag = "agni",
    operation_id = "agni_list",
    summary = "Your active numbers",
    security(("agni_api_key" = [])),
    params(("region" = Option<String>, Query, description = "exact region"), ("iso_country" = Option<String>, Query, description = "ISO 3166 alpha-2"), ("is_active" = Option<bool>, Query, description = "false lists nothing"), ("limit" = Option<u32>, Query, description = "page size (all when absent)"), ("offset" = Option<u32>, Query, description = "items to skip")),
    responses((status = 200, description = "your numbers", body = Envelope<Vec<PhoneNumber>>), (status = 400, description = "bad input", body = crate::openapi::AgniErrorBody), (status = 401, description = "missing, unknown or revoked key", body = crate::openapi::AgniErrorBody))
)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    params: Params,
) -> Answer<Vec<PhoneNumber>> {
    let is_active = params.bool("is_active")?;
    let me = caller.account.id.clone();
    // A master account answers for its sub-accounts' numbers too, as it may release them.
    let holder = if caller.account.is_master() {
        Holder::Family(me)
    } else {
        Holder::Account(me)
    };
    let mut q = NumberQuery::new(holder, vec![NumberState::Active]);
    q.country = params.get("iso_country").map(iso_country).transpose()?;
    q.region = region(&params)?;
    // Undocumented paging: everything unless the client asks for a page.
    q.limit = params.number("limit", 1)?.unwrap_or(u32::MAX);
    q.offset = params.number("offset", 0)?.map_or(0, u64::from);
    // A held number is either active or hidden (reserved, pending): none is "inactive", and a
    // released number is no longer the caller's.
    if is_active == Some(false) {
        return Ok(ok(Vec::new()));
    }
    let found = st
        .engine
        .numbers(&caller.by, &q)
        .await
        .map_err(AgniError::internal)?;
    Ok(ok(found.items.iter().map(PhoneNumber::from).collect()))
}

#[utoipa::path(
    post,
    path = "/api/v1/phone-numbers/buy",
    tag = "agni",
    operation_id = "agni_buy",
    summary = "Buy a number",
    security(("agni_api_key" = [])),
    request_body = crate::faces::agni::dto::BuyBody,
    responses((status = 200, description = "bought", body = Envelope<Purchased>), (status = 400, description = "bad input", body = crate::openapi::AgniErrorBody), (status = 401, description = "missing, unknown or revoked key", body = crate::openapi::AgniErrorBody), (status = 402, description = "balance too low", body = crate::openapi::AgniErrorBody), (status = 404, description = "unknown number, or not yours", body = crate::openapi::AgniErrorBody), (status = 409, description = "not available, or already known", body = crate::openapi::AgniErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AgniErrorBody))
)]
pub async fn buy(
    State(st): State<AppState>,
    caller: Caller,
    AJson(body): AJson<Body>,
) -> Answer<Purchased> {
    let e164 = body_number(&st, field(&body, "phone_number"))?;
    // `price` confirms the monthly price the available-numbers search quoted: the engine refuses
    // a purchase at another price (reference §1.5: "price changed").
    let quoted = body_price(field(&body, "price"), "price", true)?;
    for name in ["per_minute_price_inbound", "per_minute_price_outbound"] {
        body_price(field(&body, name), name, false)?;
    }
    let cmd = Command::Purchase {
        number: e164.clone().into(),
        currency: None,
        quoted_monthly_fee: quoted,
    };
    let n = st
        .engine
        .run(&caller.by, cmd)
        .await
        .map_err(|e| AgniError::from_engine(e, &e164))?
        .number
        .expect("a purchase locks its number");
    Ok(ok((&n).into()))
}

#[utoipa::path(
    post,
    path = "/api/v1/phone-numbers/add-twilio",
    tag = "agni",
    operation_id = "agni_add_twilio",
    summary = "Import a number held at Twilio",
    security(("agni_api_key" = [])),
    request_body = crate::faces::agni::dto::AddTwilioBody,
    responses((status = 200, description = "imported", body = Envelope<PhoneNumber>), (status = 400, description = "bad input", body = crate::openapi::AgniErrorBody), (status = 401, description = "missing, unknown or revoked key", body = crate::openapi::AgniErrorBody), (status = 409, description = "not available, or already known", body = crate::openapi::AgniErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AgniErrorBody))
)]
pub async fn add_twilio(
    State(st): State<AppState>,
    caller: Caller,
    AJson(body): AJson<Body>,
) -> Answer<PhoneNumber> {
    let e164 = body_number(&st, field(&body, "phone_number"))?;
    if body_text(field(&body, "number_sid"), "number_sid")?.is_none_or(|s| s.trim().is_empty()) {
        return Err(AgniError::bad_request("number_sid is required"));
    }
    let nickname = body_text(field(&body, "friendly_name"), "friendly_name")?.map(str::to_owned);
    body_price(field(&body, "price"), "price", false)?;
    let number = NewNumber {
        country: e164.country().unwrap_or_default(),
        e164: e164.clone(),
        region: None,
        capabilities: Capabilities::VOICE,
        provider: "twilio".into(),
        setup_fee: Decimal::ZERO,
        monthly_fee: Decimal::ZERO,
        currency: caller.account.currency.clone(),
    };
    let cmd = Command::Import {
        number,
        nickname,
        sip_config: None,
    };
    let n = st
        .engine
        .run(&caller.by, cmd)
        .await
        .map_err(|e| match e {
            // The nickname is the only input the engine judges here.
            EngineError::Invalid(_) => {
                AgniError::bad_request("friendly_name is at most 255 printable characters")
            }
            e => AgniError::from_engine(e, &e164),
        })?
        .number
        .expect("an import writes its number");
    Ok(ok((&n).into()))
}

#[utoipa::path(
    delete,
    path = "/api/v1/phone-numbers/{phone_number}/release",
    tag = "agni",
    operation_id = "agni_release",
    summary = "Release a number",
    security(("agni_api_key" = [])),
    params(("phone_number" = String, Path, description = "E.164, `+1…` or `%2B1…`")),
    responses((status = 200, description = "released", body = Envelope<Released>), (status = 400, description = "bad input", body = crate::openapi::AgniErrorBody), (status = 401, description = "missing, unknown or revoked key", body = crate::openapi::AgniErrorBody), (status = 404, description = "unknown number, or not yours", body = crate::openapi::AgniErrorBody), (status = 409, description = "locked against release (unlock it first)", body = crate::openapi::AgniErrorBody))
)]
pub async fn release(
    State(st): State<AppState>,
    caller: Caller,
    APath(raw): APath<String>,
) -> Answer<Released> {
    // Percent-decoded once by the router: `%2B1…` is `+1…`; `%252B1…` is `%2B1…`, refused.
    let e164 = phone_number(&st, &raw)?;
    let cmd = Command::Release {
        number: e164.clone().into(),
        mode: ReleaseMode::Immediate,
    };
    // A repeat by the account that released it changes nothing and answers the release on
    // record, as the first time.
    let n = st
        .engine
        .run(&caller.by, cmd)
        .await
        .map_err(|e| AgniError::from_engine(e, &e164))?
        .number
        .ok_or_else(|| AgniError::not_found(&e164))?;
    Ok(ok((&n).into()))
}
