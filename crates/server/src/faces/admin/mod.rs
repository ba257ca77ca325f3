//! The operator's API under `/admin/v1`, authenticated with `Authorization: Bearer` and the
//! operator token (`DIDPOOL_ADMIN_TOKEN`). Errors are `{"error": …, "message": …}`.

use std::str::FromStr;

use axum::extract::rejection::{JsonRejection, StringRejection};
use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use didpool_core::account::{Account, AccountProfile, NewAccount, Role, Verification};
use didpool_core::credential::{Credential, CredentialKind};
use didpool_core::engine::By;
use didpool_core::ids::CredentialId;
use didpool_core::lifecycle::Command;
use didpool_core::money::{Currency, Decimal, MAX_AMOUNT};
use didpool_core::{AccountId, EngineError, NumberRef, Sight, E164};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::faces::vobiz::dto::{time, PhoneNumber};
use crate::http::{check_url, BadUrl, RequestId};
use crate::idempotency::key_use;
use crate::inventory::ImportReport;
use crate::limits::Backoff;
use uuid::Uuid;

mod events;
pub mod jobs;
mod sandbox;

pub use sandbox::resume_clock;

/// The admin routes; the clock and scheduler routes exist only in sandbox mode.
pub fn router(sandbox: bool) -> Router<AppState> {
    let r = Router::new()
        .route("/accounts", post(create_account))
        .route("/accounts/{id}", get(get_account))
        .route("/accounts/{id}/top-up", post(top_up))
        .route("/accounts/{id}/keys", post(create_key).get(list_keys))
        .route("/accounts/{id}/auth-token/rotate", post(rotate_auth_token))
        .route("/keys/{id}", delete(revoke_key))
        .route("/inventory", post(import_inventory))
        .route("/calls", post(report_call))
        .route("/numbers/{e164}", get(get_number))
        .route("/numbers/{e164}/audit", get(audit))
        .route("/check", get(check))
        .route("/accounts/{id}/verification", post(set_verification))
        .route("/numbers/{e164}/reserve", post(reserve))
        .route("/numbers/{e164}/checkout", post(checkout))
        .route("/numbers/{e164}/cancel-release", post(cancel_release))
        .merge(events::router())
        .merge(jobs::router());
    if sandbox {
        r.merge(sandbox::router())
    } else {
        r
    }
}

#[derive(Debug)]
pub struct AdminError(pub StatusCode, pub &'static str, pub String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut res = (self.0, Json(json!({"error": self.1, "message": self.2}))).into_response();
        if self.0 == StatusCode::SERVICE_UNAVAILABLE {
            Backoff::UNAVAILABLE.apply(res.headers_mut());
        }
        res
    }
}

impl AdminError {
    /// An error with this status, `error` code and message.
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        AdminError(status, error, message.into())
    }
}

/// The store cannot serve now: nothing done, retry later (with `Retry-After`).
pub fn unavailable() -> AdminError {
    AdminError(
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
        "the database is unavailable; nothing was changed, retry later".into(),
    )
}

/// Too many failed authentications from the caller's address: `429` with `Retry-After` and
/// the `RateLimit-*` fields.
pub(crate) fn rate_limited(backoff: Backoff) -> Response {
    let mut res = AdminError(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        format!(
            "too many failed authentications; retry in {} s",
            backoff.seconds()
        ),
    )
    .into_response();
    backoff.apply(res.headers_mut());
    res
}

fn bad(message: impl Into<String>) -> AdminError {
    AdminError(StatusCode::BAD_REQUEST, "invalid_request", message.into())
}

impl From<EngineError> for AdminError {
    fn from(e: EngineError) -> Self {
        use EngineError as E;
        let status = match &e {
            E::Unavailable(_) => {
                tracing::warn!(error = %e, "storage unavailable");
                return unavailable();
            }
            E::Storage(_) => {
                tracing::error!(error = %e, "internal error");
                return AdminError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error".into(),
                );
            }
            E::Invalid(_) | E::CurrencyMismatch { .. } | E::PriceMismatch { .. } => {
                StatusCode::BAD_REQUEST
            }
            // A checkout the account cannot pay, or a number in the wrong state: not a 404.
            E::InsufficientBalance { .. } => StatusCode::PAYMENT_REQUIRED,
            E::AlreadyExists(_)
            | E::StillHoldsNumbers
            | E::Blocked
            | E::NotReserved
            | E::NotEditable(_)
            | E::NotReleasable(_)
            | E::ReleaseLocked(_)
            | E::ReleasePending
            | E::JobNotRunning
            | E::NotPendingRelease
            | E::CoolOffInEffect { .. }
            | E::AlreadyOnTrunk
            | E::AlreadyOnSubAccount => StatusCode::CONFLICT,
            E::Forbidden(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::NOT_FOUND,
        };
        let code = match status {
            StatusCode::BAD_REQUEST => "invalid_request",
            StatusCode::PAYMENT_REQUIRED => "insufficient_balance",
            StatusCode::CONFLICT => "conflict",
            StatusCode::FORBIDDEN => "forbidden",
            _ => "not_found",
        };
        AdminError(status, code, e.to_string())
    }
}

/// A body over the limit is a 413 with the admin error body (axum's own is plain text).
pub fn timed_out(message: &str) -> AdminError {
    AdminError(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        message.into(),
    )
}

pub fn too_large() -> AdminError {
    AdminError(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the body is over {} bytes", crate::app::BODY_LIMIT),
    )
}

impl From<JsonRejection> for AdminError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return too_large();
        }
        bad(r.body_text())
    }
}

impl From<StringRejection> for AdminError {
    fn from(r: StringRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return too_large();
        }
        bad(r.body_text())
    }
}

#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(AdminError))]
pub struct AJson<T>(pub T);

impl From<BadUrl> for AdminError {
    fn from(BadUrl(message): BadUrl) -> Self {
        bad(message)
    }
}

/// Path parameters under the URL rule, whose rejections use the admin error body.
#[derive(Debug)]
pub struct APath<T>(pub T);

impl<T, S> FromRequestParts<S> for APath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(APath(crate::http::path(parts, state).await?))
    }
}

/// The operator, authenticated by the bearer token.
pub struct Operator(pub By);

impl FromRequestParts<AppState> for Operator {
    /// The admin error body; a `429` also carries its `Retry-After` and `RateLimit-*` headers.
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(expected) = state.admin_token.as_deref() else {
            return Err(AdminError(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the admin API is disabled: set DIDPOOL_ADMIN_TOKEN".into(),
            )
            .into_response());
        };
        let limits = state.limits.of(parts);
        limits.check_address().map_err(rate_limited)?;
        let given = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            if let Some(backoff) = limits.failed() {
                return Err(rate_limited(backoff));
            }
            return Err(AdminError(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "invalid operator token".into(),
            )
            .into_response());
        }
        check_url(&parts.uri).map_err(|e| AdminError::from(e).into_response())?;
        let RequestId(id) = RequestId::from_request_parts(parts, state)
            .await
            .unwrap_or(RequestId(None));
        Ok(Operator(By::operator(id).with_key(key_use(parts))))
    }
}

/// An account as the operator sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AccountObject {
    auth_id: String,
    /// The main account of a sub-account; `null` for a main account.
    #[schema(required = true)]
    parent_auth_id: Option<String>,
    name: String,
    /// `admin` or `customer`.
    role: &'static str,
    currency: String,
    #[schema(value_type = f64)]
    balance: Decimal,
    enabled: bool,
    /// `verified`, `pending` or `rejected`.
    verification: &'static str,
    created_at: String,
    updated_at: String,
}

impl From<&Account> for AccountObject {
    fn from(a: &Account) -> Self {
        Self {
            auth_id: a.id.to_string(),
            parent_auth_id: a.parent_id.as_ref().map(ToString::to_string),
            name: a.name.clone(),
            role: a.role.as_str(),
            currency: a.currency.to_string(),
            balance: a.balance,
            enabled: a.enabled,
            verification: a.verification.as_str(),
            created_at: time(a.created_at),
            updated_at: time(a.updated_at),
        }
    }
}

/// A new master account; the token is shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CreatedAccount {
    auth_id: String,
    auth_token: String,
    account: AccountObject,
}

/// Free text the store keeps: no control characters (PostgreSQL cannot store a NUL in text, and
/// a request carrying one failed there as a 500).
fn printable(name: &str, text: Option<&str>) -> Result<(), AdminError> {
    match text {
        Some(t) if t.chars().any(char::is_control) => {
            Err(bad(format!("{name} cannot contain control characters")))
        }
        _ => Ok(()),
    }
}

fn account_id(raw: &str) -> Result<AccountId, AdminError> {
    AccountId::parse(raw).map_err(|e| bad(e.to_string()))
}

fn decimal(v: &Value, name: &str) -> Result<Decimal, AdminError> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err(bad(format!("{name} must be a number"))),
    };
    let d = Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| bad(format!("{name} must be a number")))?;
    // Beyond the ledger's range the store cannot write it: a 400 here, not a 500 there.
    if d.abs() > MAX_AMOUNT {
        return Err(bad(format!("{name} is at most {MAX_AMOUNT}")));
    }
    Ok(d)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct CreateAccount {
    name: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    balance: Option<Value>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    id: Option<String>,
    /// Requests per second each of its credentials may make on a node (0 or absent: the
    /// operator's `--rate-limit`).
    #[serde(default)]
    rate_limit: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/accounts",
    tag = "admin",
    operation_id = "admin_create_account",
    summary = "Create a master account",
    security(("admin_bearer" = [])),
    request_body = CreateAccount,
    responses((status = 201, description = "created; the token is shown once", body = CreatedAccount), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 409, description = "conflict", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
async fn create_account(
    State(st): State<AppState>,
    Operator(by): Operator,
    AJson(body): AJson<CreateAccount>,
) -> Result<(StatusCode, Json<CreatedAccount>), AdminError> {
    let role = match body.role.as_deref() {
        None => Role::Customer,
        Some(r) => Role::parse(r).ok_or_else(|| bad("role is admin or customer"))?,
    };
    let new = NewAccount {
        id: body.id.as_deref().map(account_id).transpose()?,
        name: body.name,
        role,
        currency: Currency::parse(body.currency.as_deref().unwrap_or("INR"))
            .map_err(|e| bad(e.to_string()))?,
        opening_balance: body
            .balance
            .as_ref()
            .map(|b| decimal(b, "balance"))
            .transpose()?
            .unwrap_or_default(),
        enabled: true,
        profile: AccountProfile {
            rate_limit: body.rate_limit,
            ..AccountProfile::default()
        },
    };
    let (account, token) = st.engine.create_account(&by, new, None).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedAccount {
            auth_id: account.id.to_string(),
            auth_token: token,
            account: (&account).into(),
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/admin/v1/accounts/{id}",
    tag = "admin",
    operation_id = "admin_get_account",
    summary = "One account",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "account id (MA_…/SA_…)")),
    responses((status = 200, description = "the account", body = AccountObject), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn get_account(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(id): APath<String>,
) -> Result<Json<AccountObject>, AdminError> {
    let account = st.engine.account(&by, &account_id(&id)?).await?;
    Ok(Json((&account).into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct TopUp {
    #[schema(value_type = f64)]
    amount: Value,
    #[serde(default)]
    description: Option<String>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/accounts/{id}/top-up",
    tag = "admin",
    operation_id = "admin_top_up",
    summary = "Credit an account",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "account id (MA_…/SA_…)")),
    request_body = TopUp,
    responses((status = 200, description = "the account", body = AccountObject), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
async fn top_up(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(id): APath<String>,
    AJson(body): AJson<TopUp>,
) -> Result<Json<AccountObject>, AdminError> {
    let account = account_id(&id)?;
    let amount = decimal(&body.amount, "amount")?;
    printable("description", body.description.as_deref())?;
    let cmd = Command::TopUp {
        account,
        amount,
        description: body.description.unwrap_or_else(|| "top-up".into()),
    };
    let outcome = st.engine.run(&by, cmd).await?;
    let account = outcome
        .changes
        .account()
        .ok_or(EngineError::AccountNotFound)?;
    Ok(Json(account.into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct CreateKey {
    /// `agni`, `diga` or `edge` (a SIP edge's key for `/routing/v1`; main accounts only).
    kind: String,
    #[serde(default)]
    scope: Option<String>,
}

/// A new key; shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CreatedKey {
    key: String,
    /// The key's id, to revoke it.
    id: Uuid,
    /// `agni` or `diga`.
    kind: &'static str,
    account_id: String,
}

#[utoipa::path(
    post,
    path = "/admin/v1/accounts/{id}/keys",
    tag = "admin",
    operation_id = "admin_create_key",
    summary = "Issue an Agni, Diga or edge key",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "account id (MA_…/SA_…)")),
    request_body = CreateKey,
    responses((status = 201, description = "issued; the key is shown once", body = CreatedKey), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
async fn create_key(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(id): APath<String>,
    AJson(body): AJson<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), AdminError> {
    let kind = CredentialKind::parse(&body.kind)
        .filter(|k| k.is_api_key())
        .ok_or_else(|| bad("kind is agni, diga or edge"))?;
    printable("scope", body.scope.as_deref())?;
    let (credential, key) = st
        .engine
        .create_key(&by, account_id(&id)?, kind, body.scope)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key,
            id: credential.id.0,
            kind: kind.as_str(),
            account_id: credential.account_id.to_string(),
        }),
    ))
}

/// One credential of an account: never its secret nor its hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct KeyObject {
    /// The credential's id, to revoke it.
    id: Uuid,
    /// `vobiz` (an auth token, `X-Auth-Token`), `vobiz_session` (a session of Vobiz access and
    /// refresh tokens), `agni` (`X-Api-Key`), `diga` (Bearer) or `edge` (a SIP edge's Bearer).
    kind: &'static str,
    /// The key's restriction, such as `phones:read`.
    #[schema(required = true)]
    scope: Option<String>,
    created_at: String,
    /// When it stopped working, or stops (a rotated token in its grace period); `null` while
    /// nothing ends it.
    #[schema(required = true)]
    revoked_at: Option<String>,
    /// Whether it authenticates now.
    live: bool,
}

impl KeyObject {
    fn new(c: &Credential, now: DateTime<Utc>) -> Self {
        Self {
            id: c.id.0,
            kind: c.kind.as_str(),
            scope: c.scope.clone(),
            created_at: time(c.created_at),
            revoked_at: c.revoked_at.map(time),
            live: c.is_live_at(now),
        }
    }
}

/// An account's credentials, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct KeyList {
    account_id: String,
    keys: Vec<KeyObject>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/accounts/{id}/keys",
    tag = "admin",
    operation_id = "admin_list_keys",
    summary = "List an account's credentials",
    description = "Every Vobiz auth token, Vobiz token session (`vobiz_session`), Agni key and Diga key of the account, revoked ones included, oldest first; never a secret or its hash.",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "account id (MA_…/SA_…)")),
    responses((status = 200, description = "the credentials", body = KeyList), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn list_keys(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(id): APath<String>,
) -> Result<Json<KeyList>, AdminError> {
    let account = account_id(&id)?;
    let credentials = st.engine.credentials(&by, &account).await?;
    let now = st.engine.now();
    Ok(Json(KeyList {
        account_id: account.to_string(),
        keys: credentials.iter().map(|c| KeyObject::new(c, now)).collect(),
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct RotateAuthToken {
    /// How long the tokens it replaces keep working, 0 (the default: at once) to 2 592 000
    /// (30 days).
    #[serde(default)]
    grace_seconds: Option<u64>,
}

/// A new auth token, shown once, and the tokens it replaces.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RotatedToken {
    auth_id: String,
    auth_token: String,
    /// The new token's credential id.
    id: Uuid,
    /// The tokens it replaces, with the time each stops working.
    revoked: Vec<KeyObject>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/accounts/{id}/auth-token/rotate",
    tag = "admin",
    operation_id = "admin_rotate_auth_token",
    summary = "Rotate an account's Vobiz auth token",
    description = "Issues a new `X-Auth-Token` (shown once) and revokes every auth token the account had, at once or after `grace_seconds` (during which the old ones still work). The body is optional.",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "account id (MA_…/SA_…)")),
    request_body(content = Option<RotateAuthToken>, content_type = "application/json"),
    responses((status = 201, description = "rotated; the new token is shown once", body = RotatedToken), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
async fn rotate_auth_token(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(id): APath<String>,
    body: Result<String, StringRejection>,
) -> Result<(StatusCode, Json<RotatedToken>), AdminError> {
    let account = account_id(&id)?;
    let body = body?;
    // No body, `null` and `{}` all mean the defaults.
    let body: RotateAuthToken = if body.trim().is_empty() {
        RotateAuthToken::default()
    } else {
        serde_json::from_str::<Option<RotateAuthToken>>(&body)
            .map_err(|e| bad(format!("invalid JSON body: {e}")))?
            .unwrap_or_default()
    };
    let grace = i64::try_from(body.grace_seconds.unwrap_or(0))
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(|| bad("grace_seconds is out of range"))?;
    let (credential, token, revoked) = st.engine.rotate_auth_token(&by, account, grace).await?;
    let now = st.engine.now();
    Ok((
        StatusCode::CREATED,
        Json(RotatedToken {
            auth_id: credential.account_id.to_string(),
            auth_token: token,
            id: credential.id.0,
            revoked: revoked.iter().map(|c| KeyObject::new(c, now)).collect(),
        }),
    ))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/keys/{id}",
    tag = "admin",
    operation_id = "admin_revoke_key",
    summary = "Revoke a credential",
    description = "Any kind: a Vobiz auth token, an Agni or a Diga key (ids from `GET /admin/v1/accounts/{id}/keys`). It stops working at once, also a rotated token in its grace period; revoking again changes nothing.",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "credential id")),
    responses((status = 204, description = "revoked"), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn revoke_key(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(id): APath<String>,
) -> Result<StatusCode, AdminError> {
    let id = CredentialId::parse(&id).map_err(|_| EngineError::CredentialNotFound)?;
    st.engine.run(&by, Command::RevokeCredential { id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/admin/v1/inventory",
    tag = "admin",
    operation_id = "admin_import_inventory",
    summary = "Import inventory (CSV)",
    security(("admin_bearer" = [])),
    request_body(content = String, content_type = "text/csv", description = "e164,country,region,setup_fee,monthly_fee,currency[,capabilities…]"),
    responses((status = 200, description = "a report: loaded, skipped and bad rows", body = ImportReport), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
/// CSV in the body (`text/csv`), the same format as `didpool inventory import`.
async fn import_inventory(
    State(st): State<AppState>,
    Operator(by): Operator,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
) -> Result<Json<ImportReport>, AdminError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("text/csv") && !content_type.starts_with("text/plain") {
        return Err(bad("send the inventory as text/csv: e164,country,region,setup_fee,monthly_fee,currency[,capabilities…]"));
    }
    let report = crate::inventory::import_csv(&st.engine, &by, &body?).await?;
    Ok(Json(report))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct CallReport {
    e164: String,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

/// The number's last call, as recorded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CallRecorded {
    e164: String,
    #[schema(required = true)]
    last_call_at: Option<String>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/calls",
    tag = "admin",
    operation_id = "admin_report_call",
    summary = "Report a call (sets last_call_at)",
    security(("admin_bearer" = [])),
    request_body = CallReport,
    responses((status = 200, description = "recorded", body = CallRecorded), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
async fn report_call(
    State(st): State<AppState>,
    Operator(by): Operator,
    AJson(body): AJson<CallReport>,
) -> Result<Json<CallRecorded>, AdminError> {
    let e164 = st
        .engine
        .parse_number(&body.e164)
        .map_err(|e| bad(format!("e164 is {e}")))?;
    let at = body.at.unwrap_or_else(|| st.engine.now());
    let cmd = Command::ReportCall {
        number: e164.into(),
        call: didpool_core::call::Call::at(at),
    };
    let n = st
        .engine
        .run(&by, cmd)
        .await?
        .number
        .ok_or(EngineError::NumberNotFound)?;
    Ok(Json(CallRecorded {
        e164: n.e164.to_string(),
        last_call_at: n.last_call_at.map(time),
    }))
}

/// A number in a path, percent-decoded once (`%2B91…` is `+91…`; `%252B91…` is refused), under
/// the deployment's number validation.
fn path_number(st: &AppState, raw: &str) -> Result<E164, AdminError> {
    st.engine.parse_number(raw).map_err(|e| bad(e.to_string()))
}

#[utoipa::path(
    get,
    path = "/admin/v1/numbers/{e164}",
    tag = "admin",
    operation_id = "admin_get_number",
    summary = "One number, any state",
    security(("admin_bearer" = [])),
    params(("e164" = String, Path, description = "E.164, `%2B91…`")),
    responses((status = 200, description = "the number", body = AdminNumber), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn get_number(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
) -> Result<Json<AdminNumber>, AdminError> {
    let number = NumberRef::E164(path_number(&st, &raw)?);
    let n = st.engine.number(&by, &number, Sight::Held).await?;
    Ok(Json((&n).into()))
}

/// A number as the operator sees it: the Vobiz object plus the engine's own fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AdminNumber {
    #[serde(flatten)]
    number: PhoneNumber,
    /// The engine's state, e.g. `available`, `active`, `pending_release`, `quarantined`.
    state: &'static str,
    /// Who pays for it: the owner, or a sub-account's main account.
    #[schema(required = true)]
    billing_account_id: Option<String>,
    #[schema(required = true)]
    last_call_at: Option<String>,
    #[schema(required = true)]
    release_at: Option<String>,
    #[schema(required = true)]
    quarantine_until: Option<String>,
    #[schema(required = true)]
    reservation_expires_at: Option<String>,
    /// Whether the number is locked against release (every face refuses to release it).
    release_locked: bool,
    /// Who locked it, when and why; `null` when not locked.
    #[schema(required = true)]
    release_lock: Option<ReleaseLockObject>,
}

/// A number's release lock.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ReleaseLockObject {
    /// `operator`, or the account that locked it.
    locked_by: String,
    locked_at: String,
    #[schema(required = true)]
    reason: Option<String>,
}

impl From<&didpool_core::Number> for AdminNumber {
    fn from(n: &didpool_core::Number) -> Self {
        Self {
            number: n.into(),
            state: n.state.as_str(),
            billing_account_id: n.billing_id.as_ref().map(ToString::to_string),
            last_call_at: n.last_call_at.map(time),
            release_at: n.release_at.map(time),
            quarantine_until: n.quarantine_until.map(time),
            reservation_expires_at: n.reservation_expires_at.map(time),
            release_locked: n.release_lock.is_some(),
            release_lock: n.release_lock.as_ref().map(|l| ReleaseLockObject {
                locked_by: l.by.label(),
                locked_at: time(l.at),
                reason: l.reason.clone(),
            }),
        }
    }
}

/// One state change of a number.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AuditEvent {
    id: Uuid,
    /// The row it happened to (an imported number deleted and imported again has a new row).
    number_id: Uuid,
    /// What happened, e.g. `purchased`, `assigned_to_trunk`, `released`.
    action: String,
    /// An account id, `operator` or `system`.
    actor: String,
    #[schema(required = true)]
    from_state: Option<&'static str>,
    to_state: &'static str,
    #[schema(required = true)]
    from_owner: Option<String>,
    #[schema(required = true)]
    to_owner: Option<String>,
    at: String,
    #[schema(required = true)]
    request_id: Option<String>,
}

/// A number taken back from a sub-account (`did_assignment_audit`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AssignmentAuditObject {
    id: Uuid,
    action: String,
    from_account_id: String,
    to_account_id: String,
    actor_auth_id: String,
    #[schema(required = true)]
    last_call_at: Option<String>,
    #[schema(required = true)]
    cool_off_until: Option<String>,
    created_at: String,
}

/// A number's audit trail, oldest first: every row the E.164 ever had.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Audit {
    /// The latest row's id.
    number_id: Uuid,
    e164: String,
    events: Vec<AuditEvent>,
    did_assignment_audit: Vec<AssignmentAuditObject>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/numbers/{e164}/audit",
    tag = "admin",
    operation_id = "admin_audit",
    summary = "A number's audit trail",
    security(("admin_bearer" = [])),
    params(("e164" = String, Path, description = "E.164, `%2B91…`")),
    responses((status = 200, description = "every state change", body = Audit), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn audit(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
) -> Result<Json<Audit>, AdminError> {
    let e164 = path_number(&st, &raw)?;
    let (events, audits) = st.engine.audit(&by, &NumberRef::E164(e164.clone())).await?;
    let latest = events.last().ok_or(EngineError::NumberNotFound)?;
    Ok(Json(Audit {
        number_id: latest.number_id.0,
        e164: e164.to_string(),
        events: events
            .iter()
            .map(|e| AuditEvent {
                id: e.id.0,
                number_id: e.number_id.0,
                action: e.action.clone(),
                actor: e.actor.label(),
                from_state: e.from_state.map(|s| s.as_str()),
                to_state: e.to_state.as_str(),
                from_owner: e.from_owner.as_ref().map(ToString::to_string),
                to_owner: e.to_owner.as_ref().map(ToString::to_string),
                at: time(e.at),
                request_id: e.request_id.clone(),
            })
            .collect(),
        did_assignment_audit: audits
            .iter()
            .map(|a| AssignmentAuditObject {
                id: a.id.0,
                action: a.action.clone(),
                from_account_id: a.from_account_id.to_string(),
                to_account_id: a.to_account_id.to_string(),
                actor_auth_id: a.actor_auth_id.to_string(),
                last_call_at: a.last_call_at.map(time),
                cool_off_until: a.cool_off_until.map(time),
                created_at: time(a.created_at),
            })
            .collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/admin/v1/check",
    tag = "admin",
    operation_id = "admin_check",
    summary = "The database's invariants",
    security(("admin_bearer" = [])),
    responses((status = 200, description = "violations (empty when sound)", body = CheckReport), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody))
)]
/// The database's invariants: `{"ok": true, "violations": []}` when it is consistent.
async fn check(
    State(st): State<AppState>,
    Operator(by): Operator,
) -> Result<Json<CheckReport>, AdminError> {
    let violations = st.engine.check(&by).await?;
    Ok(Json(CheckReport {
        ok: violations.is_empty(),
        violations,
    }))
}

/// The result of `didpool check`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CheckReport {
    ok: bool,
    #[schema(value_type = Vec<crate::openapi::ViolationSchema>)]
    violations: Vec<didpool_core::store::Violation>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct SetVerification {
    status: String,
}

#[utoipa::path(
    post,
    path = "/admin/v1/accounts/{id}/verification",
    tag = "admin",
    operation_id = "admin_set_verification",
    summary = "Record a company's verification",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "account id (MA_…/SA_…)")),
    request_body = SetVerification,
    responses((status = 200, description = "the account", body = AccountObject), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
/// Records a company's verification outcome and moves its waiting numbers on at once
/// (verified: active; rejected: refunded and back to inventory).
async fn set_verification(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(id): APath<String>,
    AJson(body): AJson<SetVerification>,
) -> Result<Json<AccountObject>, AdminError> {
    let status = Verification::parse(&body.status)
        .ok_or_else(|| bad("status is verified, pending or rejected"))?;
    let cmd = Command::SetVerification {
        account: account_id(&id)?,
        status,
    };
    let outcome = st.engine.run(&by, cmd).await?;
    Ok(Json(
        outcome
            .changes
            .account()
            .ok_or(EngineError::AccountNotFound)?
            .into(),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct Reserve {
    account: String,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    ttl_seconds: Option<u32>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/numbers/{e164}/reserve",
    tag = "admin",
    operation_id = "admin_reserve",
    summary = "Hold a number in checkout",
    security(("admin_bearer" = [])),
    params(("e164" = String, Path, description = "E.164, `%2B91…`")),
    request_body = Reserve,
    responses((status = 200, description = "the number", body = AdminNumber), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 409, description = "conflict", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
/// Holds an available number for an account (checkout), until `expires_at` or for
/// `ttl_seconds` (default 30 minutes).
async fn reserve(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
    AJson(body): AJson<Reserve>,
) -> Result<Json<AdminNumber>, AdminError> {
    let until = match (body.expires_at, body.ttl_seconds) {
        (Some(at), _) => at,
        (None, ttl) => st.engine.now() + chrono::Duration::seconds(i64::from(ttl.unwrap_or(1800))),
    };
    let cmd = Command::Reserve {
        number: path_number(&st, &raw)?.into(),
        account: account_id(&body.account)?,
        until,
    };
    number_answer(st.engine.run(&by, cmd).await?)
}

#[utoipa::path(
    post,
    path = "/admin/v1/numbers/{e164}/checkout",
    tag = "admin",
    operation_id = "admin_checkout",
    summary = "Pay for a reserved number",
    security(("admin_bearer" = [])),
    params(("e164" = String, Path, description = "E.164, `%2B91…`")),
    responses((status = 200, description = "the number", body = AdminNumber), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 402, description = "the account cannot pay for it", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 409, description = "the number is not reserved", body = crate::openapi::AdminErrorBody))
)]
/// The checkout of a reserved number is paid: charged, then active (or pending verification).
async fn checkout(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
) -> Result<Json<AdminNumber>, AdminError> {
    let cmd = Command::Checkout {
        number: path_number(&st, &raw)?.into(),
    };
    number_answer(st.engine.run(&by, cmd).await?)
}

/// The number a command left, as the operator sees it.
fn number_answer(
    outcome: didpool_core::lifecycle::Outcome,
) -> Result<Json<AdminNumber>, AdminError> {
    let n = outcome.number.ok_or(EngineError::NumberNotFound)?;
    Ok(Json((&n).into()))
}

#[utoipa::path(
    post,
    path = "/admin/v1/numbers/{e164}/cancel-release",
    tag = "admin",
    operation_id = "admin_cancel_release",
    summary = "Cancel a release that has not taken effect",
    security(("admin_bearer" = [])),
    params(("e164" = String, Path, description = "E.164, `%2B91…`")),
    responses((status = 200, description = "the number, active again (a charged release fee refunded)", body = AdminNumber), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 409, description = "no release is pending or scheduled", body = crate::openapi::AdminErrorBody))
)]
/// Takes back any release that has not taken effect: a Vobiz pending window, or a Diga
/// end-of-cycle release (which the Diga API itself cannot undo). Audited as `release_cancelled` by the
/// operator.
async fn cancel_release(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
) -> Result<Json<AdminNumber>, AdminError> {
    let cmd = Command::CancelRelease {
        number: path_number(&st, &raw)?.into(),
    };
    number_answer(st.engine.run(&by, cmd).await?)
}

/// The admin API's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_account,
    get_account,
    top_up,
    create_key,
    list_keys,
    rotate_auth_token,
    revoke_key,
    import_inventory,
    report_call,
    get_number,
    audit,
    check,
    set_verification,
    reserve,
    checkout,
    cancel_release,
    jobs::lock_release,
    jobs::unlock_release,
    jobs::create_job,
    jobs::list_jobs,
    jobs::get_job,
    jobs::cancel_job,
    events::list_events,
    events::get_event,
    events::redeliver,
    events::create_endpoint,
    events::list_endpoints,
    events::get_endpoint,
    events::update_endpoint,
    events::delete_endpoint,
    events::rotate_secret,
    events::replay,
    events::endpoint_attempts,
    sandbox::read_clock,
    sandbox::set_clock,
    sandbox::run_scheduler
))]
pub struct AdminApi;
