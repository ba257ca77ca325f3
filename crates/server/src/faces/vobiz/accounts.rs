//! Sub-accounts, `auth/me`, balance and transactions.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use didpool_core::account::{AccountPatch, AccountProfile, NewAccount, Permissions, Role};
use didpool_core::clock::check_time;
use didpool_core::ledger::EntryKind;
use didpool_core::lifecycle::Command;
use didpool_core::money::{Currency, Decimal};
use didpool_core::store::{LedgerQuery, SubAccountQuery};
use didpool_core::{AccountId, EngineError};
use serde::{Deserialize, Deserializer, Serialize};

use super::auth::{bearer, Caller};
use super::dto::{
    amount, AuthCredentials, Balance, Me, Message, ReferenceTypeTotal, SubAccountObject, Tokens,
    Transaction, TransactionList, TransactionSummary,
};
use super::error::{Op, VJson, VPath, VobizError};
use super::tokens::Kind;
use crate::app::AppState;
use crate::http::Params;

/// `null` and absent differ: absent leaves a field, `null` clears it.
fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct SubAccountBody {
    name: Option<String>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    rate_limit: Option<i64>,
    #[schema(value_type = Option<crate::openapi::PermissionsSchema>)]
    permissions: Option<Permissions>,
    enabled: Option<bool>,
}

fn sub_not_found() -> VobizError {
    VobizError::from_engine(Op::SubAccount, EngineError::SubAccountNotFound)
}

fn sub_id(raw: &str) -> Result<AccountId, VobizError> {
    AccountId::parse(raw).map_err(|_| sub_not_found())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Created {
    message: &'static str,
    sub_account: SubAccountObject,
    auth_credentials: AuthCredentials,
    /// The sub-account's first access and refresh tokens.
    tokens: Tokens,
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{auth_id}/sub-accounts",
    tag = "vobiz",
    operation_id = "vobiz_create_sub_account",
    summary = "Create a sub-account",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)")),
    request_body = SubAccountBody,
    responses((status = 201, description = "created; the token is shown once", body = Created), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody), (status = 409, description = "conflict", body = crate::openapi::VobizErrorBody))
)]
pub async fn create_sub_account(
    State(st): State<AppState>,
    caller: Caller,
    VJson(body): VJson<SubAccountBody>,
) -> Result<(StatusCode, Json<Created>), VobizError> {
    let name = body
        .name
        .ok_or_else(|| VobizError::bad_request("name is required"))?;
    let new = NewAccount {
        id: None,
        name,
        role: Role::Customer,
        currency: caller.account.currency.clone(),
        opening_balance: Decimal::ZERO,
        enabled: body.enabled.unwrap_or(true),
        profile: AccountProfile {
            email: body.email.flatten(),
            phone: body.phone.flatten(),
            description: body.description.flatten(),
            rate_limit: body.rate_limit,
            permissions: body.permissions,
        },
    };
    let internal = |e: EngineError| VobizError::internal(&e);
    st.tokens.ready(&st.engine).await.map_err(internal)?;
    let (account, token, session) = st
        .engine
        .create_account_with_session(&caller.by, new, Some(caller.account.id.clone()))
        .await
        .map_err(|e| VobizError::from_engine(Op::SubAccount, e))?;
    let tokens = st
        .tokens
        .issue(&st.engine, &account.id, &session.id, session.created_at)
        .await
        .map_err(internal)?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            message: "Sub-account created successfully",
            sub_account: SubAccountObject::new(&account, Some(&token)),
            auth_credentials: AuthCredentials {
                auth_id: account.id.to_string(),
                auth_token: token,
            },
            tokens,
        }),
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubAccountList {
    sub_accounts: Vec<SubAccountObject>,
    total: u64,
    page: u32,
    size: u32,
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{auth_id}/sub-accounts",
    tag = "vobiz",
    operation_id = "vobiz_list_sub_accounts",
    summary = "List sub-accounts",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("page" = Option<u32>, Query, description = "page, from 1"), ("size" = Option<u32>, Query, description = "page size"), ("active_only" = Option<bool>, Query, description = "only enabled ones")),
    responses((status = 200, description = "sub-accounts", body = SubAccountList), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody))
)]
pub async fn list_sub_accounts(
    State(st): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<SubAccountList>, VobizError> {
    let page = params.number("page", 1)?.unwrap_or(1);
    let size = params.number("size", 1)?.unwrap_or(25).min(100);
    let q = SubAccountQuery {
        active_only: params.bool("active_only")?.unwrap_or(false),
        limit: size,
        offset: u64::from(page - 1) * u64::from(size),
    };
    let found = st
        .engine
        .sub_accounts(&caller.by, &q)
        .await
        .map_err(|e| VobizError::internal(&e))?;
    Ok(Json(SubAccountList {
        sub_accounts: found
            .items
            .iter()
            .map(|a| SubAccountObject::new(a, None))
            .collect(),
        total: found.total,
        page,
        size,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{auth_id}/sub-accounts/{sub_auth_id}",
    tag = "vobiz",
    operation_id = "vobiz_get_sub_account",
    summary = "One sub-account",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("sub_auth_id" = String, Path, description = "the sub-account's SA_ id")),
    responses((status = 200, description = "the sub-account", body = SubAccountObject), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody))
)]
pub async fn get_sub_account(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
) -> Result<Json<SubAccountObject>, VobizError> {
    let id = sub_id(&raw)?;
    let sub = st
        .engine
        .sub_account(&caller.by, &id)
        .await
        .map_err(|e| match e {
            EngineError::SubAccountNotFound => sub_not_found(),
            e => VobizError::internal(&e),
        })?;
    Ok(Json(SubAccountObject::new(&sub, None)))
}

#[utoipa::path(
    put,
    path = "/api/v1/accounts/{auth_id}/sub-accounts/{sub_auth_id}",
    tag = "vobiz",
    operation_id = "vobiz_update_sub_account",
    summary = "Update a sub-account",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("sub_auth_id" = String, Path, description = "the sub-account's SA_ id")),
    request_body = SubAccountBody,
    responses((status = 200, description = "updated", body = SubAccountObject), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody))
)]
pub async fn update_sub_account(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
    VJson(body): VJson<SubAccountBody>,
) -> Result<Json<SubAccountObject>, VobizError> {
    let id = sub_id(&raw)?;
    let patch = AccountPatch {
        name: body.name,
        enabled: body.enabled,
        email: body.email,
        phone: body.phone,
        description: body.description,
        rate_limit: body.rate_limit,
        permissions: body.permissions,
    };
    let changes = st
        .engine
        .run(&caller.by, Command::UpdateSubAccount { id, patch })
        .await
        .map_err(|e| VobizError::from_engine(Op::SubAccount, e))?;
    let sub = changes.account().expect("an updated sub-account");
    Ok(Json(SubAccountObject::new(sub, None)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{auth_id}/sub-accounts/{sub_auth_id}",
    tag = "vobiz",
    operation_id = "vobiz_delete_sub_account",
    summary = "Delete a sub-account",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("sub_auth_id" = String, Path, description = "the sub-account's SA_ id")),
    responses((status = 200, description = "deleted", body = Message), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody), (status = 409, description = "conflict", body = crate::openapi::VobizErrorBody))
)]
pub async fn delete_sub_account(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
) -> Result<Json<Message>, VobizError> {
    let id = sub_id(&raw)?;
    st.engine
        .run(&caller.by, Command::DeleteSubAccount { id })
        .await
        .map_err(|e| VobizError::from_engine(Op::SubAccount, e))?;
    Ok(Json(Message {
        message: "Sub-account deleted successfully",
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "vobiz",
    operation_id = "vobiz_me",
    summary = "The calling account",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    responses((status = 200, description = "the account", body = Me), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody))
)]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me::new(&caller.account, caller.token_expires_at))
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "vobiz",
    operation_id = "vobiz_refresh_token",
    summary = "A new pair of tokens for a refresh token",
    description = "Send the refresh token as `Authorization: Bearer` (not in the body), as Vobiz documents `POST /auth/refresh`. Answers a new access token (30 minutes) and a new refresh token (7 days) of the same session; the refresh token sent keeps working until its own expiry, and revoking the session ends them all.",
    security(("vobiz_bearer" = [])),
    responses((status = 200, description = "a new pair", body = Tokens), (status = 401, description = "no refresh token, or one expired, revoked or not didpool's (the nested error object)", body = crate::openapi::VobizErrorBody))
)]
pub async fn refresh(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Tokens>, VobizError> {
    let token = bearer(&headers).ok_or_else(VobizError::unauthorized)?;
    let (account, claims) = st
        .tokens
        .authenticate(&st.engine, token, Kind::Refresh)
        .await
        .map_err(|e| VobizError::internal(&e))?
        .ok_or_else(VobizError::unauthorized)?;
    let sid = claims.session().ok_or_else(VobizError::unauthorized)?;
    let tokens = st
        .tokens
        .issue(&st.engine, &account.id, &sid, st.engine.now())
        .await
        .map_err(|e| VobizError::internal(&e))?;
    Ok(Json(tokens))
}

/// `POST /api/v1/auth/revoke`: the token whose session ends.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct RevokeBody {
    /// An access or a refresh token (expired ones too).
    token: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/revoke",
    tag = "vobiz",
    operation_id = "vobiz_revoke_token",
    summary = "End a session of access and refresh tokens",
    description = "Authenticated as the account the token belongs to, or as its main account (`X-Auth-ID` + `X-Auth-Token`, or a live access token). Ends the token's session at once: its access and refresh tokens, and every pair refreshed from them. Revoking again answers the same.",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    request_body = RevokeBody,
    responses((status = 200, description = "revoked (or already)", body = Message), (status = 400, description = "no token, or not one didpool signed", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 404, description = "the token is neither the caller's nor a sub-account's of it", body = crate::openapi::VobizErrorBody))
)]
pub async fn revoke(
    State(st): State<AppState>,
    caller: Caller,
    VJson(body): VJson<RevokeBody>,
) -> Result<Json<Message>, VobizError> {
    let token = body
        .token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| VobizError::bad_request("token is required: an access or refresh token"))?;
    let claims = st
        .tokens
        .claims(&st.engine, token.trim())
        .await
        .map_err(|e| VobizError::internal(&e))?;
    let (sid, account) = claims
        .as_ref()
        .and_then(|c| c.session().zip(c.account()))
        .ok_or_else(|| {
            VobizError::bad_request("token is not an access or refresh token didpool issued")
        })?;
    st.engine
        .revoke_session(&caller.by, sid, account)
        .await
        .map_err(|e| match e {
            EngineError::CredentialNotFound => {
                VobizError::new(StatusCode::NOT_FOUND, "not_found", "token not found")
            }
            e => VobizError::from_engine(Op::SubAccount, e),
        })?;
    Ok(Json(Message {
        message: "token revoked",
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/Account/{auth_id}/balance/{currency}",
    tag = "vobiz",
    operation_id = "vobiz_balance",
    summary = "Balance",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("currency" = String, Path, description = "e.g. INR")),
    responses((status = 200, description = "the balance", body = Balance), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody))
)]
pub async fn balance(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
) -> Result<Json<Balance>, VobizError> {
    let payer = st
        .engine
        .balance(&caller.by)
        .await
        .map_err(|e| VobizError::from_engine(Op::Balance, e))?;
    let wanted = Currency::parse(&raw)
        .ok()
        .filter(|c| *c == payer.currency)
        .ok_or_else(|| {
            VobizError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no balance in currency {raw}"),
            )
        })?;
    Ok(Json(Balance::new(&payer, &wanted)))
}

/// `YYYY-MM-DD` or RFC 3339; a bare date as an upper bound means the end of that day. A time
/// outside what didpool holds ([`check_time`]) is a 400 naming the parameter.
fn date_param(
    params: &Params,
    name: &str,
    end_of_day: bool,
) -> Result<Option<DateTime<Utc>>, VobizError> {
    let Some(v) = params.get(name) else {
        return Ok(None);
    };
    let t = match DateTime::parse_from_rfc3339(v) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => {
            let day = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                // A raw `+` (a time's offset) arrives form-decoded as a space: say how to send it.
                let hint = if v.contains(' ') {
                    " (send the + of an offset as %2B)"
                } else {
                    ""
                };
                VobizError::bad_request(format!(
                    "{name} must be YYYY-MM-DD or an RFC 3339 time{hint}"
                ))
            })?;
            let at = if end_of_day {
                NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).expect("valid time")
            } else {
                NaiveTime::MIN
            };
            day.and_time(at).and_utc()
        }
    };
    check_time(name, t)
        .map(Some)
        .map_err(|e| VobizError::from_engine(Op::Balance, e))
}

#[utoipa::path(
    get,
    path = "/api/v1/Account/{auth_id}/transactions",
    tag = "vobiz",
    operation_id = "vobiz_transactions",
    summary = "Ledger transactions",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("page" = Option<u32>, Query, description = "page, from 1"), ("per_page" = Option<u32>, Query, description = "items per page, from 1 (default 50; above 1000, the default)"), ("type" = Option<String>, Query, description = "debit or credit"), ("reference_type" = Option<String>, Query, description = "entry kind"), ("from_date" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD"), ("to_date" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD")),
    responses((status = 200, description = "transactions", body = TransactionList), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody))
)]
pub async fn transactions(
    State(st): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<TransactionList>, VobizError> {
    let page = params.number("page", 1)?.unwrap_or(1);
    // Documented: above the maximum, the page size falls back to the default.
    let per_page = match params.number("per_page", 1)?.unwrap_or(50) {
        n if n > 1000 => 50,
        n => n,
    };
    let (debits, kind) = match params.get("type") {
        None => (None, None),
        Some("debit") => (Some(true), None),
        Some("credit") => (Some(false), None),
        Some(other) => (
            None,
            Some(
                EntryKind::parse(other)
                    .ok_or_else(|| VobizError::bad_request(format!("unknown type {other:?}")))?,
            ),
        ),
    };
    let kind = match params.get("reference_type") {
        None => kind,
        Some(r) => Some(
            EntryKind::parse(r)
                .ok_or_else(|| VobizError::bad_request(format!("unknown reference_type {r:?}")))?,
        ),
    };
    let q = LedgerQuery {
        account: caller.account.billing_id().clone(),
        debits,
        kind,
        from: date_param(&params, "from_date", false)?,
        to: date_param(&params, "to_date", true)?,
        limit: per_page,
        offset: u64::from(page - 1) * u64::from(per_page),
    };
    let found = st
        .engine
        .ledger(&caller.by, &q)
        .await
        .map_err(|e| VobizError::from_engine(Op::Balance, e))?;
    Ok(Json(TransactionList {
        transactions: found.entries.iter().map(Transaction::from).collect(),
        summary: TransactionSummary {
            total_transactions: found.total,
            total_debit: amount(found.total_debit),
            total_credit: amount(found.total_credit),
            net_amount: amount(found.total_credit - found.total_debit),
            by_reference_type: found
                .by_kind
                .iter()
                .map(|k| ReferenceTypeTotal {
                    reference_type: k.kind.as_str(),
                    total_debit: amount(k.total_debit),
                    total_credit: amount(k.total_credit),
                    count: k.count,
                })
                .collect(),
        },
        total: found.total,
        page,
        per_page,
        total_pages: found.total.div_ceil(u64::from(per_page)),
    }))
}
