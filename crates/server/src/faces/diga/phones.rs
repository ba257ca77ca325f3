//! The Phones routes: list, get, update, SIP config, import, release.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Json;
use chrono::Duration;
use didpool_core::lifecycle::{Command, Outcome, ReleaseMode};
use didpool_core::money::Decimal;
use didpool_core::number::{NewNumber, SipConfig, SipConfigPatch};
use didpool_core::store::{Holder, NumberOrder, NumberQuery};
use didpool_core::{
    Capabilities, EngineError, InvalidNumber, Number, NumberId, NumberState, Sight,
};
use serde_json::{Map, Value};

use super::auth::{Access, Caller};
use super::dto::{Phone, PhonePage};
use super::error::{DigaError, Failure, Loc};
use super::validate::{at, read_body, Checker, Query, RawBody};
use crate::app::AppState;

/// How long a number released through this face stays `released` before it is `finished`.
pub const QUARANTINE: Duration = Duration::days(30);

const STATUSES: [&str; 5] = [
    "reserved",
    "pending_verification",
    "assigned",
    "released",
    "finished",
];

/// Every status but `finished` (Diga's list leaves it out unless it is asked for).
const DEFAULT_STATES: [NumberState; 5] = [
    NumberState::Reserved,
    NumberState::PendingVerification,
    NumberState::Active,
    NumberState::PendingRelease,
    NumberState::Quarantined,
];

fn states(status: &str) -> Vec<NumberState> {
    match status {
        "reserved" => vec![NumberState::Reserved],
        "pending_verification" => vec![NumberState::PendingVerification],
        "assigned" => vec![NumberState::Active, NumberState::PendingRelease],
        "released" => vec![NumberState::Quarantined],
        "finished" => vec![NumberState::Available],
        _ => DEFAULT_STATES.to_vec(),
    }
}

/// The path segment after `/v1/phone/`, percent-decoded (validated by the handler, after auth).
pub struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw = parts
            .uri
            .path()
            .strip_prefix("/v1/phone/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("");
        Ok(Segment(percent_decode(raw)))
    }
}

fn percent_decode(raw: &str) -> String {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|c| hex(*c)),
            b.get(i + 2).and_then(|c| hex(*c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn path_loc(name: &str) -> Vec<Loc> {
    vec![Loc::from("path"), Loc::from(name)]
}

fn body_loc() -> Vec<Loc> {
    vec![Loc::from("body")]
}

/// The request body as an object, or the issue FastAPI reports (missing, not an object).
fn body_object<'v>(c: &mut Checker, body: &'v Option<Value>) -> Option<&'v Map<String, Value>> {
    match body {
        None => {
            c.missing(body_loc(), Value::Null);
            None
        }
        Some(v) => c.model(body_loc(), v),
    }
}

/// The phone `id` as the engine shows it to the caller (also one it released); 404 otherwise.
async fn visible(st: &AppState, caller: &Caller, id: NumberId) -> Result<Number, DigaError> {
    st.engine
        .number(&caller.by, &id.into(), Sight::WithReleased)
        .await
        .map_err(|e| DigaError::from_engine(id, e))
}

/// The phone a command left.
fn written(outcome: Outcome, id: NumberId) -> Result<Phone, DigaError> {
    outcome
        .number
        .as_ref()
        .map(Phone::from)
        .ok_or_else(|| DigaError::not_found(id))
}

/// `GET /v1/phone/`
#[utoipa::path(
    get,
    path = "/v1/phone/",
    tag = "diga",
    operation_id = "diga_list",
    summary = "List phones",
    security(("diga_bearer" = [])),
    params(("after" = Option<uuid::Uuid>, Query, description = "cursor: items after this id"), ("before" = Option<uuid::Uuid>, Query, description = "cursor: items before this id"), ("page" = Option<u64>, Query, description = "page number (instead of a cursor)"), ("limit" = Option<u32>, Query, description = "1–100, default 20"), ("order" = Option<String>, Query, description = "asc or desc (default)"), ("inbound_agent_id" = Option<String>, Query, description = "filter"), ("outbound_agent_id" = Option<String>, Query, description = "filter"), ("status" = Option<String>, Query, description = "reserved, pending_verification, assigned, released or finished"), ("start_assigned_at" = Option<String>, Query, description = "ISO date/time"), ("end_assigned_at" = Option<String>, Query, description = "ISO date/time")),
    responses((status = 200, description = "a page of phones", body = PhonePage), (status = 400, description = "an invalid filter value (NOT_VALID_FIELD)", body = crate::openapi::DigaAnyError), (status = 401, description = "missing, unknown or revoked key", body = crate::openapi::DigaErrorBody), (status = 403, description = "the key's scope does not allow it", body = crate::openapi::DigaErrorBody), (status = 422, description = "validation error, as pydantic words it (or an app error such as INVALID_PAGINATION_PARAMETERS)", body = crate::openapi::DigaAnyError))
)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Json<PhonePage>, Failure> {
    caller.require(Access::Read)?;
    let q = Query::parse(uri.query());
    let mut c = Checker::default();
    let loc = |name: &str| vec![Loc::from("query"), Loc::from(name)];
    let after = q.get("after").and_then(|v| c.uuid(loc("after"), &v.into()));
    let before = q
        .get("before")
        .and_then(|v| c.uuid(loc("before"), &v.into()));
    let page = q.get("page").and_then(|v| c.int(loc("page"), v, 1, None));
    let limit = q
        .get("limit")
        .map_or(Some(20), |v| c.int(loc("limit"), v, 1, Some(100)));
    let order = q.get("order").map_or(Some("desc"), |v| {
        c.choice("literal_error", loc("order"), &v.into(), &["asc", "desc"])
    });
    let inbound = q
        .get("inbound_agent_id")
        .and_then(|v| c.uuid(loc("inbound_agent_id"), &v.into()));
    let outbound = q
        .get("outbound_agent_id")
        .and_then(|v| c.uuid(loc("outbound_agent_id"), &v.into()));
    let status = q
        .get("status")
        .and_then(|v| c.choice("enum", loc("status"), &v.into(), &STATUSES));
    let start = q
        .get("start_assigned_at")
        .and_then(|v| c.datetime(loc("start_assigned_at"), v));
    let end = q
        .get("end_assigned_at")
        .and_then(|v| c.datetime(loc("end_assigned_at"), v));
    c.finish()?;

    if after.is_some() && before.is_some() {
        return Err(
            DigaError::pagination("Cannot specify both 'before' and 'after' parameters").into(),
        );
    }
    if matches!((start, end), (Some(s), Some(e)) if s > e) {
        return Err(DigaError::not_valid_field("Invalid field value in query parameters").into());
    }
    // Both were validated: 1 ≤ limit ≤ 100, page ≥ 1.
    let limit = limit.unwrap_or(20) as u32;
    let desc = order != Some("asc");

    let mut query = NumberQuery::new(
        Holder::Visible(caller.account.id.clone()),
        status.map_or_else(|| DEFAULT_STATES.to_vec(), states),
    );
    query.inbound_agent_id = inbound.map(|u| u.to_string());
    query.outbound_agent_id = outbound.map(|u| u.to_string());
    query.purchased_from = start;
    query.purchased_to = end;
    query.limit = limit;
    query.order = NumberOrder::Created { desc, after: None };

    let mut current_page = None;
    let mut total_pages = None;
    let backwards = before.is_some();
    if let Some(cursor) = after.or(before) {
        let cursor = st
            .engine
            .number(&caller.by, &NumberId(cursor).into(), Sight::WithReleased)
            .await
            .map_err(|e| match e {
                EngineError::NumberNotFound => {
                    DigaError::pagination("Invalid pagination parameters")
                }
                e => DigaError::internal(&e),
            })?;
        // `before`: walk the other way from the cursor, then put the page back in order.
        query.order = NumberOrder::Created {
            desc: desc != backwards,
            after: Some((cursor.created_at, cursor.id)),
        };
    } else if let Some(page) = page {
        let page = page as u64;
        query.offset = (page - 1)
            .saturating_mul(u64::from(limit))
            .min(i64::MAX as u64);
        current_page = Some(page);
    }
    let found = st
        .engine
        .numbers(&caller.by, &query)
        .await
        .map_err(|e| DigaError::internal(&e))?;
    let mut items = found.items;
    if backwards {
        items.reverse();
    }
    if current_page.is_some() {
        total_pages = Some(found.total.div_ceil(u64::from(limit)));
    }
    let data: Vec<Phone> = items.iter().map(Phone::from).collect();
    Ok(Json(PhonePage {
        has_more: query.offset + (data.len() as u64) < found.total,
        first_id: data.first().map(|p| p.id.clone()),
        last_id: data.last().map(|p| p.id.clone()),
        data,
        current_page,
        total_pages,
    }))
}

/// `GET /v1/phone/{phone_id}`
#[utoipa::path(
    get,
    path = "/v1/phone/{phone_id}",
    tag = "diga",
    operation_id = "diga_get_phone",
    summary = "One phone",
    security(("diga_bearer" = [])),
    params(("phone_id" = uuid::Uuid, Path, description = "the phone's id")),
    responses((status = 200, description = "the phone", body = Phone), (status = 401, description = "missing, unknown or revoked key", body = crate::openapi::DigaErrorBody), (status = 403, description = "the key's scope does not allow it", body = crate::openapi::DigaErrorBody), (status = 404, description = "unknown phone, or another company's", body = crate::openapi::DigaErrorBody), (status = 422, description = "validation error, as pydantic words it (or an app error such as INVALID_PAGINATION_PARAMETERS)", body = crate::openapi::DigaAnyError))
)]
pub async fn get_phone(
    State(st): State<AppState>,
    caller: Caller,
    Segment(raw): Segment,
) -> Result<Json<Phone>, Failure> {
    caller.require(Access::Read)?;
    let mut c = Checker::default();
    let id = c.uuid(path_loc("phone_id"), &raw.into());
    c.finish()?;
    let id = NumberId(id.unwrap_or_default());
    let n = visible(&st, &caller, id).await?;
    Ok(Json(Phone::from(&n)))
}

/// `PATCH /v1/phone/{phone_id}`: nickname and the agent versions for inbound and outbound calls.
/// didpool has no agent registry, so a version id is stored and shown as the agent id.
#[utoipa::path(
    patch,
    path = "/v1/phone/{phone_id}",
    tag = "diga",
    operation_id = "diga_update",
    summary = "Nickname and agents",
    security(("diga_bearer" = [])),
    params(("phone_id" = uuid::Uuid, Path, description = "the phone's id")),
    request_body = crate::faces::diga::dto::PhoneUpdateBody,
    responses((status = 200, description = "updated", body = Phone), (status = 400, description = "a body that is not JSON", body = crate::openapi::DigaAnyError), (status = 401, description = "missing, unknown or revoked key", body = crate::openapi::DigaErrorBody), (status = 403, description = "the key's scope does not allow it", body = crate::openapi::DigaErrorBody), (status = 404, description = "unknown phone, or another company's", body = crate::openapi::DigaErrorBody), (status = 409, description = "the phone is not editable in its status (PHONE_NUMBER_NOT_EDITABLE: released or finished; agents on a reserved one)", body = crate::openapi::DigaErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::DigaErrorBody), (status = 422, description = "validation error, as pydantic words it (or an app error such as INVALID_PAGINATION_PARAMETERS)", body = crate::openapi::DigaAnyError))
)]
pub async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Segment(raw): Segment,
    headers: HeaderMap,
    RawBody(bytes): RawBody,
) -> Result<Json<Phone>, Failure> {
    caller.require(Access::Write)?;
    let body = read_body(&headers, &bytes)?;
    let mut c = Checker::default();
    let id = c.uuid(path_loc("phone_id"), &raw.into());
    let base = body_loc();
    let mut fields = (None, None, None);
    if let Some(m) = body_object(&mut c, &body) {
        fields = (
            c.opt_string(m, &base, "nickname"),
            c.opt_uuid(m, &base, "inbound_version_id"),
            c.opt_uuid(m, &base, "outbound_version_id"),
        );
    }
    c.finish()?;
    let id = NumberId(id.unwrap_or_default());
    let (nickname, inbound, outbound) = fields;
    let as_text = |v: Option<Option<uuid::Uuid>>| v.map(|o| o.map(|u| u.to_string()));
    let cmd = Command::UpdateNumber {
        number: id.into(),
        nickname,
        inbound_agent_id: as_text(inbound),
        outbound_agent_id: as_text(outbound),
    };
    let outcome = st
        .engine
        .run(&caller.by, cmd)
        .await
        .map_err(|e| DigaError::from_engine(id, e))?;
    Ok(Json(written(outcome, id)?))
}

/// A SIP text setting in a PATCH: absent or `null` leaves it (`None`); `""` clears it.
fn patch_text(v: Option<Option<String>>) -> Option<Option<String>> {
    v.flatten().map(|s| (!s.trim().is_empty()).then_some(s))
}

/// `PATCH /v1/phone/{phone_id}/sip-config`: imported numbers only. Every setting is optional:
/// absent or `null` keeps it, `""` clears a text setting (the password too), `[]` for
/// `allowed_addresses` accepts every address.
#[utoipa::path(
    patch,
    path = "/v1/phone/{phone_id}/sip-config",
    tag = "diga",
    operation_id = "diga_update_sip_config",
    summary = "SIP trunk of an imported number",
    security(("diga_bearer" = [])),
    params(("phone_id" = uuid::Uuid, Path, description = "the phone's id")),
    request_body = crate::faces::diga::dto::SipConfigUpdateBody,
    responses((status = 200, description = "updated", body = Phone), (status = 400, description = "bad parameter (e.g. sip-config of a bought number), or a body that is not JSON", body = crate::openapi::DigaAnyError), (status = 401, description = "missing, unknown or revoked key", body = crate::openapi::DigaErrorBody), (status = 403, description = "the key's scope does not allow it", body = crate::openapi::DigaErrorBody), (status = 404, description = "unknown phone, or another company's", body = crate::openapi::DigaErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::DigaErrorBody), (status = 422, description = "validation error, as pydantic words it (or an app error such as INVALID_PAGINATION_PARAMETERS)", body = crate::openapi::DigaAnyError))
)]
pub async fn update_sip_config(
    State(st): State<AppState>,
    caller: Caller,
    Segment(raw): Segment,
    headers: HeaderMap,
    RawBody(bytes): RawBody,
) -> Result<Json<Phone>, Failure> {
    caller.require(Access::Write)?;
    let body = read_body(&headers, &bytes)?;
    let mut c = Checker::default();
    let id = c.uuid(path_loc("phone_id"), &raw.into());
    let base = body_loc();
    let mut inbound = (None, None);
    let mut outbound = (None, None, None, None);
    if let Some(m) = body_object(&mut c, &body) {
        if let Some(Some(i)) = c.opt_model(m, &base, "inbound_config") {
            let loc = at(&base, "inbound_config");
            inbound = (
                c.encryption(i, &loc, "media_encryption", true),
                c.opt_strings(i, &loc, "allowed_addresses"),
            );
        }
        if let Some(Some(o)) = c.opt_model(m, &base, "outbound_config") {
            let loc = at(&base, "outbound_config");
            outbound = (
                c.opt_string(o, &loc, "termination_uri"),
                c.opt_string(o, &loc, "username"),
                c.opt_string(o, &loc, "password"),
                c.encryption(o, &loc, "media_encryption", true),
            );
        }
    }
    c.finish()?;
    let id = NumberId(id.unwrap_or_default());
    let (uri, username, password, encryption) = outbound;
    // The engine merges the change into the stored settings on the locked row.
    let patch = SipConfigPatch {
        termination_uri: patch_text(uri),
        username: patch_text(username),
        password: patch_text(password),
        inbound_media_encryption: inbound.0.flatten(),
        outbound_media_encryption: encryption.flatten(),
        allowed_addresses: inbound.1.flatten(),
    };
    let cmd = Command::SetSipConfig {
        number: id.into(),
        patch,
    };
    let outcome = st
        .engine
        .run(&caller.by, cmd)
        .await
        .map_err(|e| DigaError::from_engine(id, e))?;
    Ok(Json(written(outcome, id)?))
}

/// `POST /v1/phone/import`: brings the caller's own number with its SIP trunk (`200`, as Diga
/// answers). The pre-July body's `sip_config` is read as `outbound_config`.
#[utoipa::path(
    post,
    path = "/v1/phone/import",
    tag = "diga",
    operation_id = "diga_import",
    summary = "Import your own number with its SIP trunk",
    security(("diga_bearer" = [])),
    request_body = crate::faces::diga::dto::ImportBody,
    responses((status = 200, description = "imported", body = Phone), (status = 400, description = "bad parameter (e.g. sip-config of a bought number), or a body that is not JSON", body = crate::openapi::DigaAnyError), (status = 401, description = "missing, unknown or revoked key", body = crate::openapi::DigaErrorBody), (status = 403, description = "the key's scope does not allow it", body = crate::openapi::DigaErrorBody), (status = 409, description = "not releasable / already known", body = crate::openapi::DigaErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::DigaErrorBody), (status = 422, description = "validation error, as pydantic words it (or an app error such as INVALID_PAGINATION_PARAMETERS)", body = crate::openapi::DigaAnyError))
)]
pub async fn import(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawBody(bytes): RawBody,
) -> Result<Json<Phone>, Failure> {
    caller.require(Access::Write)?;
    let body = read_body(&headers, &bytes)?;
    let mut c = Checker::default();
    let base = body_loc();
    let mut phone_number = None;
    let mut nickname = None;
    let mut sip = SipConfig::default();
    if let Some(m) = body_object(&mut c, &body) {
        match m.get("phone_number") {
            None => c.missing(at(&base, "phone_number"), Value::Object(m.clone())),
            Some(v) => {
                let loc = at(&base, "phone_number");
                if let Some(s) = c.string(loc.clone(), v) {
                    if s.is_empty() {
                        c.issue(
                            "string_too_short",
                            loc,
                            "String should have at least 1 character",
                            v.clone(),
                            Some(serde_json::json!({"min_length": 1})),
                        );
                    } else {
                        phone_number = Some(s);
                    }
                }
            }
        }
        nickname = c.opt_string(m, &base, "nickname").flatten();
        if let Some(Some(i)) = c.opt_model(m, &base, "inbound_config") {
            let loc = at(&base, "inbound_config");
            if let Some(Some(e)) = c.encryption(i, &loc, "media_encryption", false) {
                sip.inbound_media_encryption = e;
            }
            sip.allowed_addresses = c.opt_strings(i, &loc, "allowed_addresses").flatten();
        }
        let outbound = c.opt_model(m, &base, "outbound_config").flatten();
        let legacy = c.opt_model(m, &base, "sip_config").flatten();
        for (key, o) in [("outbound_config", outbound), ("sip_config", legacy)] {
            let Some(o) = o else { continue };
            let loc = at(&base, key);
            let uri = match o.get("termination_uri") {
                None => {
                    c.missing(at(&loc, "termination_uri"), Value::Object(o.clone()));
                    None
                }
                Some(v) => c.string(at(&loc, "termination_uri"), v),
            };
            let username = c.opt_string(o, &loc, "username").flatten();
            let password = c.opt_string(o, &loc, "password").flatten();
            let encryption = if key == "outbound_config" {
                c.encryption(o, &loc, "media_encryption", false).flatten()
            } else {
                None
            };
            if sip.termination_uri.is_none() {
                sip.termination_uri = uri;
                sip.username = username;
                sip.password = password;
                sip.outbound_media_encryption = encryption.unwrap_or_default();
            }
        }
    }
    c.finish()?;
    let raw = phone_number.unwrap_or_default();
    let e164 = st.engine.parse_number(&raw).map_err(|e| {
        DigaError::not_valid_field(match e {
            InvalidNumber::Format => {
                format!("Phone number {raw} is not a valid E.164 phone number")
            }
            InvalidNumber::Country => {
                format!("Phone number {raw} is not a valid number for its country")
            }
        })
    })?;
    let number = NewNumber {
        country: e164.country().unwrap_or_else(|| "ZZ".into()),
        e164,
        region: None,
        capabilities: Capabilities::VOICE,
        provider: "custom".into(),
        setup_fee: Decimal::ZERO,
        monthly_fee: Decimal::ZERO,
        currency: caller.account.currency.clone(),
    };
    let cmd = Command::Import {
        number,
        nickname,
        sip_config: Some(sip),
    };
    let n = st
        .engine
        .run(&caller.by, cmd)
        .await
        .map_err(DigaError::from_engine_general)?
        .number
        .ok_or_else(|| DigaError::internal(&EngineError::NumberNotFound))?;
    Ok(Json(Phone::from(&n)))
}

/// `DELETE /v1/phone/{id}`: a purchased number is released at the end of its billing cycle
/// (then `released` for 30 days, then `finished`); an imported one is deleted at once.
#[utoipa::path(
    delete,
    path = "/v1/phone/{phone_id}",
    tag = "diga",
    operation_id = "diga_release",
    summary = "Release a phone",
    security(("diga_bearer" = [])),
    params(("phone_id" = uuid::Uuid, Path, description = "the phone's id")),
    responses((status = 204, description = "release scheduled (bought) or done (imported)"), (status = 401, description = "missing, unknown or revoked key", body = crate::openapi::DigaErrorBody), (status = 403, description = "the key's scope does not allow it", body = crate::openapi::DigaErrorBody), (status = 404, description = "unknown phone, or another company's", body = crate::openapi::DigaErrorBody), (status = 409, description = "not releasable: reserved or pending verification, or locked against release (`PHONE_NUMBER_NOT_RELEASABLE`)", body = crate::openapi::DigaErrorBody), (status = 422, description = "validation error, as pydantic words it (or an app error such as INVALID_PAGINATION_PARAMETERS)", body = crate::openapi::DigaAnyError))
)]
pub async fn release(
    State(st): State<AppState>,
    caller: Caller,
    Segment(raw): Segment,
) -> Result<StatusCode, Failure> {
    caller.require(Access::Write)?;
    let mut c = Checker::default();
    let id = c.uuid(path_loc("id"), &raw.into());
    c.finish()?;
    let id = NumberId(id.unwrap_or_default());
    let cmd = Command::Release {
        number: id.into(),
        mode: ReleaseMode::AtCycleEnd {
            quarantine: QUARANTINE,
        },
    };
    let outcome = st
        .engine
        .run(&caller.by, cmd)
        .await
        .map_err(|e| DigaError::from_engine(id, e))?;
    // Released before by this company and `finished` since: no longer its number.
    if outcome
        .number
        .is_some_and(|n| n.state == NumberState::Available)
    {
        return Err(DigaError::not_found(id).into());
    }
    Ok(StatusCode::NO_CONTENT)
}
