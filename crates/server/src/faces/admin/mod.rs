//! The operator's API under `/admin/v1`, authenticated with `Authorization: Bearer` and the
//! operator token (`DIDPOOL_ADMIN_TOKEN`). Errors are `{"error": …, "message": …}`.

use std::str::FromStr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use didpool_core::account::{Account, AccountProfile, NewAccount, Role, Verification};
use didpool_core::credential::CredentialKind;
use didpool_core::engine::By;
use didpool_core::ids::CredentialId;
use didpool_core::lifecycle::Command;
use didpool_core::money::{Currency, Decimal};
use didpool_core::{AccountId, EngineError, E164};
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::faces::vobiz::dto::{time, PhoneNumber};
use crate::http::RequestId;

mod sandbox;

/// The admin routes; the clock and scheduler routes exist only in sandbox mode.
pub fn router(sandbox: bool) -> Router<AppState> {
    let r = Router::new()
        .route("/accounts", post(create_account))
        .route("/accounts/{id}", get(get_account))
        .route("/accounts/{id}/top-up", post(top_up))
        .route("/accounts/{id}/keys", post(create_key))
        .route("/keys/{id}", delete(revoke_key))
        .route("/inventory", post(import_inventory))
        .route("/calls", post(report_call))
        .route("/numbers/{e164}", get(get_number))
        .route("/numbers/{e164}/audit", get(audit))
        .route("/check", get(check))
        .route("/accounts/{id}/verification", post(set_verification))
        .route("/numbers/{e164}/reserve", post(reserve))
        .route("/numbers/{e164}/checkout", post(checkout));
    if sandbox {
        r.merge(sandbox::router())
    } else {
        r
    }
}

#[derive(Debug)]
pub struct AdminError(StatusCode, &'static str, String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1, "message": self.2}))).into_response()
    }
}

fn bad(message: impl Into<String>) -> AdminError {
    AdminError(StatusCode::BAD_REQUEST, "invalid_request", message.into())
}

impl From<EngineError> for AdminError {
    fn from(e: EngineError) -> Self {
        use EngineError as E;
        let status = match &e {
            E::Storage(_) => {
                tracing::error!(error = %e, "internal error");
                return AdminError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error".into(),
                );
            }
            E::Invalid(_) | E::CurrencyMismatch { .. } => StatusCode::BAD_REQUEST,
            E::AlreadyExists(_) | E::StillHoldsNumbers => StatusCode::CONFLICT,
            E::Forbidden(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::NOT_FOUND,
        };
        let code = match status {
            StatusCode::BAD_REQUEST => "invalid_request",
            StatusCode::CONFLICT => "conflict",
            StatusCode::FORBIDDEN => "forbidden",
            _ => "not_found",
        };
        AdminError(status, code, e.to_string())
    }
}

impl From<JsonRejection> for AdminError {
    fn from(r: JsonRejection) -> Self {
        bad(r.body_text())
    }
}

#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(AdminError))]
pub struct AJson<T>(pub T);

/// The operator, authenticated by the bearer token.
pub struct Operator(pub By);

impl FromRequestParts<AppState> for Operator {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(expected) = state.admin_token.as_deref() else {
            return Err(AdminError(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the admin API is disabled: set DIDPOOL_ADMIN_TOKEN".into(),
            ));
        };
        let given = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(AdminError(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "invalid operator token".into(),
            ));
        }
        let RequestId(id) = RequestId::from_request_parts(parts, state)
            .await
            .unwrap_or(RequestId(None));
        Ok(Operator(By::operator(id)))
    }
}

fn account_json(a: &Account) -> Value {
    json!({
        "auth_id": a.id,
        "parent_auth_id": a.parent_id,
        "name": a.name,
        "role": a.role.as_str(),
        "currency": a.currency,
        "balance": a.balance,
        "enabled": a.enabled,
        "verification": a.verification.as_str(),
        "created_at": time(a.created_at),
        "updated_at": time(a.updated_at),
    })
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
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| bad(format!("{name} must be a number")))
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
}

#[utoipa::path(
    post,
    path = "/admin/v1/accounts",
    tag = "admin",
    operation_id = "admin_create_account",
    summary = "Create a master account",
    security(("admin_bearer" = [])),
    request_body = CreateAccount,
    responses((status = 201, description = "`{auth_id, auth_token, account}`; the token is shown once", body = Object), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 409, description = "conflict", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
async fn create_account(
    State(st): State<AppState>,
    Operator(by): Operator,
    AJson(body): AJson<CreateAccount>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
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
        profile: AccountProfile::default(),
    };
    let (account, token) = st.engine.create_account(&by, new, None).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"auth_id": account.id, "auth_token": token, "account": account_json(&account)}),
        ),
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
    responses((status = 200, description = "the account", body = Object), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn get_account(
    State(st): State<AppState>,
    _op: Operator,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let account = st
        .engine
        .store()
        .account(&account_id(&id)?)
        .await?
        .ok_or(EngineError::AccountNotFound)?;
    Ok(Json(account_json(&account)))
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
    responses((status = 200, description = "the account", body = Object), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
async fn top_up(
    State(st): State<AppState>,
    Operator(by): Operator,
    Path(id): Path<String>,
    AJson(body): AJson<TopUp>,
) -> Result<Json<Value>, AdminError> {
    let cmd = Command::TopUp {
        account: account_id(&id)?,
        amount: decimal(&body.amount, "amount")?,
        description: body.description.unwrap_or_else(|| "top-up".into()),
    };
    let changes = st.engine.run(&by, cmd).await?;
    let account = changes.account().ok_or(EngineError::AccountNotFound)?;
    Ok(Json(account_json(account)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct CreateKey {
    kind: String,
    #[serde(default)]
    scope: Option<String>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/accounts/{id}/keys",
    tag = "admin",
    operation_id = "admin_create_key",
    summary = "Issue an Agni or Diga key",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "account id (MA_…/SA_…)")),
    request_body = CreateKey,
    responses((status = 201, description = "`{key, id}`; the key is shown once", body = Object), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
async fn create_key(
    State(st): State<AppState>,
    Operator(by): Operator,
    Path(id): Path<String>,
    AJson(body): AJson<CreateKey>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let kind = CredentialKind::parse(&body.kind)
        .filter(|k| *k != CredentialKind::Vobiz)
        .ok_or_else(|| bad("kind is agni or diga"))?;
    let (credential, key) = st
        .engine
        .create_key(&by, account_id(&id)?, kind, body.scope)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"key": key, "id": credential.id, "kind": kind.as_str(), "account_id": credential.account_id}),
        ),
    ))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/keys/{id}",
    tag = "admin",
    operation_id = "admin_revoke_key",
    summary = "Revoke a key",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "key id")),
    responses((status = 204, description = "revoked"), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn revoke_key(
    State(st): State<AppState>,
    Operator(by): Operator,
    Path(id): Path<String>,
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
    responses((status = 200, description = "a report: loaded, skipped and bad rows", body = Object), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
/// CSV in the body (`text/csv`), the same format as `didpool inventory import`.
async fn import_inventory(
    State(st): State<AppState>,
    Operator(by): Operator,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Value>, AdminError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("text/csv") && !content_type.starts_with("text/plain") {
        return Err(bad("send the inventory as text/csv: e164,country,region,setup_fee,monthly_fee,currency[,capabilities…]"));
    }
    let report = crate::inventory::import_csv(&st.engine, &by, &body).await?;
    Ok(Json(
        serde_json::to_value(report).expect("a report serialises"),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct CallReport {
    e164: String,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/calls",
    tag = "admin",
    operation_id = "admin_report_call",
    summary = "Report a call (sets last_call_at)",
    security(("admin_bearer" = [])),
    request_body = CallReport,
    responses((status = 200, description = "recorded", body = Object), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
async fn report_call(
    State(st): State<AppState>,
    Operator(by): Operator,
    AJson(body): AJson<CallReport>,
) -> Result<Json<Value>, AdminError> {
    let e164 = E164::parse(&body.e164).map_err(|e| bad(e.to_string()))?;
    let at = body.at.unwrap_or_else(|| st.engine.now());
    let changes = st.engine.run(&by, Command::ReportCall { e164, at }).await?;
    let n = changes.number().ok_or(EngineError::NumberNotFound)?;
    Ok(Json(
        json!({"e164": n.e164, "last_call_at": n.last_call_at.map(time)}),
    ))
}

fn path_number(raw: &str) -> Result<E164, AdminError> {
    E164::parse(raw).map_err(|e| bad(e.to_string()))
}

#[utoipa::path(
    get,
    path = "/admin/v1/numbers/{e164}",
    tag = "admin",
    operation_id = "admin_get_number",
    summary = "One number, any state",
    security(("admin_bearer" = [])),
    params(("e164" = String, Path, description = "E.164, `%2B91…`")),
    responses((status = 200, description = "the number", body = Object), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn get_number(
    State(st): State<AppState>,
    _op: Operator,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let n = st
        .engine
        .store()
        .number_by_e164(&path_number(&raw)?)
        .await?
        .ok_or(EngineError::NumberNotFound)?;
    number_json(&n)
}

/// A number as the operator sees it: the Vobiz object plus the engine's own fields.
fn number_json(n: &didpool_core::Number) -> Result<Json<Value>, AdminError> {
    let mut v = serde_json::to_value(PhoneNumber::from(n)).expect("a number serialises");
    v["state"] = json!(n.state.as_str());
    v["billing_account_id"] = json!(n.billing_id);
    v["last_call_at"] = json!(n.last_call_at.map(time));
    v["release_at"] = json!(n.release_at.map(time));
    v["quarantine_until"] = json!(n.quarantine_until.map(time));
    v["reservation_expires_at"] = json!(n.reservation_expires_at.map(time));
    Ok(Json(v))
}

#[utoipa::path(
    get,
    path = "/admin/v1/numbers/{e164}/audit",
    tag = "admin",
    operation_id = "admin_audit",
    summary = "A number's audit trail",
    security(("admin_bearer" = [])),
    params(("e164" = String, Path, description = "E.164, `%2B91…`")),
    responses((status = 200, description = "every state change", body = Object), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn audit(
    State(st): State<AppState>,
    _op: Operator,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let store = st.engine.store();
    let n = store
        .number_by_e164(&path_number(&raw)?)
        .await?
        .ok_or(EngineError::NumberNotFound)?;
    let events: Vec<Value> = store
        .events(n.id)
        .await?
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "action": e.action, "actor": e.actor.label(),
                "from_state": e.from_state.map(|s| s.as_str()), "to_state": e.to_state.as_str(),
                "from_owner": e.from_owner, "to_owner": e.to_owner,
                "at": time(e.at), "request_id": e.request_id,
            })
        })
        .collect();
    let audits: Vec<Value> = store
        .assignment_audits(n.id)
        .await?
        .iter()
        .map(|a| {
            json!({
                "id": a.id, "action": a.action, "from_account_id": a.from_account_id,
                "to_account_id": a.to_account_id, "actor_auth_id": a.actor_auth_id,
                "last_call_at": a.last_call_at.map(time), "cool_off_until": a.cool_off_until.map(time),
                "created_at": time(a.created_at),
            })
        })
        .collect();
    Ok(Json(
        json!({"number_id": n.id, "e164": n.e164, "events": events, "did_assignment_audit": audits}),
    ))
}

#[utoipa::path(
    get,
    path = "/admin/v1/check",
    tag = "admin",
    operation_id = "admin_check",
    summary = "The database's invariants",
    security(("admin_bearer" = [])),
    responses((status = 200, description = "violations (empty when sound)", body = Object), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody))
)]
/// The database's invariants: `{"ok": true, "violations": []}` when it is consistent.
async fn check(State(st): State<AppState>, _op: Operator) -> Result<Json<Value>, AdminError> {
    let violations = st.engine.store().check().await?;
    Ok(Json(
        json!({"ok": violations.is_empty(), "violations": violations}),
    ))
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
    responses((status = 200, description = "the account", body = Object), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
/// Records a company's verification outcome and moves its waiting numbers on at once
/// (verified: active; rejected: refunded and back to inventory).
async fn set_verification(
    State(st): State<AppState>,
    Operator(by): Operator,
    Path(id): Path<String>,
    AJson(body): AJson<SetVerification>,
) -> Result<Json<Value>, AdminError> {
    let status = Verification::parse(&body.status)
        .ok_or_else(|| bad("status is verified, pending or rejected"))?;
    let cmd = Command::SetVerification {
        account: account_id(&id)?,
        status,
    };
    let changes = st.engine.run(&by, cmd).await?;
    st.engine.run_due().await?;
    Ok(Json(account_json(
        changes.account().ok_or(EngineError::AccountNotFound)?,
    )))
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
    responses((status = 200, description = "the number", body = Object), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 409, description = "conflict", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
/// Holds an available number for an account (checkout), until `expires_at` or for
/// `ttl_seconds` (default 30 minutes).
async fn reserve(
    State(st): State<AppState>,
    Operator(by): Operator,
    Path(raw): Path<String>,
    AJson(body): AJson<Reserve>,
) -> Result<Json<Value>, AdminError> {
    let until = match (body.expires_at, body.ttl_seconds) {
        (Some(at), _) => at,
        (None, ttl) => st.engine.now() + chrono::Duration::seconds(i64::from(ttl.unwrap_or(1800))),
    };
    let cmd = Command::Reserve {
        e164: path_number(&raw)?,
        account: account_id(&body.account)?,
        until,
    };
    let changes = st.engine.run(&by, cmd).await?;
    number_json(changes.number().ok_or(EngineError::NumberNotFound)?)
}

#[utoipa::path(
    post,
    path = "/admin/v1/numbers/{e164}/checkout",
    tag = "admin",
    operation_id = "admin_checkout",
    summary = "Pay for a reserved number",
    security(("admin_bearer" = [])),
    params(("e164" = String, Path, description = "E.164, `%2B91…`")),
    responses((status = 200, description = "the number", body = Object), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 409, description = "conflict", body = crate::openapi::AdminErrorBody))
)]
/// The checkout of a reserved number is paid: charged, then active (or pending verification).
async fn checkout(
    State(st): State<AppState>,
    Operator(by): Operator,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let changes = st
        .engine
        .run(
            &by,
            Command::Checkout {
                e164: path_number(&raw)?,
            },
        )
        .await?;
    number_json(changes.number().ok_or(EngineError::NumberNotFound)?)
}

/// The admin API's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_account,
    get_account,
    top_up,
    create_key,
    revoke_key,
    import_inventory,
    report_call,
    get_number,
    audit,
    check,
    set_verification,
    reserve,
    checkout,
    sandbox::read_clock,
    sandbox::set_clock,
    sandbox::run_scheduler
))]
pub struct AdminApi;
