//! Phone numbers: inventory, purchase, owned list, release, trunk and sub-account assignment.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use didpool_core::ledger::EntryKind;
use didpool_core::lifecycle::{Command, ReleaseMode};
use didpool_core::money::Currency;
use didpool_core::number::Origin;
use didpool_core::store::{Holder, NumberQuery, MAX_EXCLUDED_PREFIXES};
use didpool_core::{
    AccountId, EngineError, InvalidNumber, Number, NumberState, ReleasePolicy, Sight, TrunkId, E164,
};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::dto::{
    amount, time, InventoryList, InventoryNumber, NumberList, PhoneNumber, ReleaseCancelled,
    ReleasePending,
};
use super::error::{Op, VJson, VPath, VobizError};
use crate::app::AppState;
use crate::http::{number_filter, Params, SizedJson};

const OWNED: [NumberState; 4] = [
    NumberState::Reserved,
    NumberState::PendingVerification,
    NumberState::Active,
    NumberState::PendingRelease,
];

/// A number as a path segment, percent-decoded once by the router: `%2B91…` and `+91…` arrive as
/// `+91…`, `91…` as it is. `%252B91…` arrives as `%2B91…`, which is not a number (the URL rule,
/// `crate::http::check_url`: one decoding, on every face).
pub fn path_number(st: &AppState, raw: &str) -> Result<E164, VobizError> {
    st.engine.parse_number(raw).map_err(VobizError::bad_number)
}

/// Page and page size: `page` from 1, `per_page` from 1, at most 100.
fn paging(params: &Params) -> Result<(u32, u32), VobizError> {
    let page = params.number("page", 1)?.unwrap_or(1);
    let per_page = params.number("per_page", 1)?.unwrap_or(25).min(100);
    Ok((page, per_page))
}

/// A `search` value: digits, anywhere in the number; after a `+`, a prefix of it (a raw `+`
/// arrives as a space, which [`number_filter`] turns back into the `+`).
fn search(params: &Params) -> Result<Option<String>, VobizError> {
    let Some(s) = params
        .get("search")
        .map(number_filter)
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    let digits = s.strip_prefix('+').unwrap_or(&s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || s.len() > 16 {
        return Err(VobizError::bad_request(
            "search must be digits of a phone number, such as +9180",
        ));
    }
    Ok(Some(s))
}

/// About what one number's JSON takes (~900 bytes for a [`PhoneNumber`]), to size a page's body.
const NUMBER_JSON_BYTES: usize = 1024;

fn list(
    page: didpool_core::store::Page<didpool_core::Number>,
    p: u32,
    per_page: u32,
) -> SizedJson<NumberList> {
    let capacity = 128 + page.items.len() * NUMBER_JSON_BYTES;
    SizedJson(
        NumberList {
            items: page.items.iter().map(PhoneNumber::from).collect(),
            page: p,
            per_page,
            total: page.total,
        },
        capacity,
    )
}

fn query(holder: Holder, states: Vec<NumberState>, page: u32, per_page: u32) -> NumberQuery {
    let mut q = NumberQuery::new(holder, states);
    q.limit = per_page;
    q.offset = u64::from(page - 1) * u64::from(per_page);
    q
}

#[utoipa::path(
    get,
    path = "/api/v1/Account/{auth_id}/numbers",
    tag = "vobiz",
    operation_id = "vobiz_list_owned",
    summary = "Owned numbers",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("include_subaccounts" = Option<bool>, Query, description = "include sub-accounts' numbers (default true)"), ("search" = Option<String>, Query, description = "digits anywhere in the number; after a `+` (raw or `%2B`), a prefix of it"), ("page" = Option<u32>, Query, description = "page, from 1"), ("per_page" = Option<u32>, Query, description = "items per page (1–100)")),
    responses((status = 200, description = "owned numbers", body = NumberList), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody))
)]
pub async fn list_owned(
    State(st): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<SizedJson<NumberList>, VobizError> {
    let (page, per_page) = paging(&params)?;
    let include_subaccounts = params.bool("include_subaccounts")?.unwrap_or(true);
    let me = caller.account.id.clone();
    let holder = if caller.account.is_master() && include_subaccounts {
        Holder::Family(me)
    } else {
        Holder::Account(me)
    };
    let mut q = query(holder, OWNED.to_vec(), page, per_page);
    q.search = search(&params)?;
    let found = st
        .engine
        .numbers(&caller.by, &q)
        .await
        .map_err(|e| VobizError::internal(&e))?;
    Ok(list(found, page, per_page))
}

#[utoipa::path(
    get,
    path = "/api/v1/Account/{auth_id}/inventory/numbers",
    tag = "vobiz",
    operation_id = "vobiz_list_inventory",
    summary = "Inventory numbers",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("country" = Option<String>, Query, description = "ISO country"), ("search" = Option<String>, Query, description = "digits anywhere in the number; after a `+` (raw or `%2B`), a prefix of it"), ("exclude" = Option<String>, Query, description = "E.164 prefixes to leave out (country code included, `+` optional), comma-separated or repeated"), ("page" = Option<u32>, Query, description = "page, from 1"), ("per_page" = Option<u32>, Query, description = "items per page (1–100)")),
    responses((status = 200, description = "purchasable numbers", body = InventoryList), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody))
)]
pub async fn list_inventory(
    State(st): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<InventoryList>, VobizError> {
    let (page, per_page) = paging(&params)?;
    let mut q = query(Holder::Nobody, vec![NumberState::Available], page, per_page);
    q.search = search(&params)?;
    if let Some(c) = params.get("country") {
        let c = c.trim().to_ascii_uppercase();
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(VobizError::bad_request(
                "country must be an ISO 3166 alpha-2 code, such as IN",
            ));
        }
        q.country = Some(c);
    }
    for item in params.all("exclude").flat_map(|v| v.split(',')) {
        let p = number_filter(item);
        let digits = p.strip_prefix('+').unwrap_or(&p);
        if digits.is_empty() {
            continue;
        }
        if digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VobizError::bad_request(
                "exclude takes E.164 prefixes with the country code, such as +9180",
            ));
        }
        if !q.exclude_prefixes.iter().any(|e| e == digits) {
            q.exclude_prefixes.push(digits.to_owned());
        }
    }
    if q.exclude_prefixes.len() > MAX_EXCLUDED_PREFIXES {
        return Err(VobizError::bad_request(format!(
            "exclude takes at most {MAX_EXCLUDED_PREFIXES} prefixes"
        )));
    }
    let found = st
        .engine
        .numbers(&caller.by, &q)
        .await
        .map_err(|e| VobizError::internal(&e))?;
    Ok(Json(InventoryList {
        items: found.items.iter().map(InventoryNumber::from).collect(),
        page,
        per_page,
        total: found.total,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PurchaseBody {
    e164: String,
    currency: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Purchased {
    message: &'static str,
    number: PhoneNumber,
}

#[utoipa::path(
    post,
    path = "/api/v1/Account/{auth_id}/numbers/purchase-from-inventory",
    tag = "vobiz",
    operation_id = "vobiz_purchase",
    summary = "Purchase a number from inventory",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)")),
    request_body = PurchaseBody,
    responses((status = 200, description = "bought", body = Purchased), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody), (status = 409, description = "conflict", body = crate::openapi::VobizErrorBody), (status = 500, description = "internal error (for purchase: the documented answer to a balance too low)", body = crate::openapi::VobizErrorBody))
)]
pub async fn purchase(
    State(st): State<AppState>,
    caller: Caller,
    VJson(body): VJson<PurchaseBody>,
) -> Result<Json<Purchased>, VobizError> {
    let e164 = st.engine.parse_number(&body.e164).map_err(|e| {
        VobizError::bad_request(match e {
            InvalidNumber::Format => {
                "e164 must be a valid phone number in E.164 form, such as +919876543210"
            }
            InvalidNumber::Country => "e164 is not a valid number for its country",
        })
    })?;
    let currency = body
        .currency
        .as_deref()
        .map(Currency::parse)
        .transpose()
        .map_err(|e| VobizError::bad_request(e.to_string()))?;
    let cmd = Command::Purchase {
        number: e164.into(),
        currency,
        quoted_monthly_fee: None,
    };
    let number = st
        .engine
        .run(&caller.by, cmd)
        .await
        .map_err(|e| VobizError::from_engine(Op::Purchase, e))?
        .number
        .expect("a purchase locks its number");
    Ok(Json(Purchased {
        message: "Number purchased successfully",
        number: (&number).into(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/Account/{auth_id}/numbers/{e164}",
    tag = "vobiz",
    operation_id = "vobiz_get_number",
    summary = "One owned number",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("e164" = String, Path, description = "E.164, as `%2B91…`, `+91…` or `91…`")),
    responses((status = 200, description = "the number", body = PhoneNumber), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody))
)]
pub async fn get_number(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
) -> Result<Json<PhoneNumber>, VobizError> {
    let e164 = path_number(&st, &raw)?;
    let n = st
        .engine
        .number(&caller.by, &e164.into(), Sight::Held)
        .await
        .map_err(|e| match e {
            EngineError::NumberNotFound => {
                VobizError::new(StatusCode::NOT_FOUND, "not_found", "number not found")
            }
            e => VobizError::internal(&e),
        })?;
    Ok(Json((&n).into()))
}

async fn run_on_number(
    st: &AppState,
    caller: &Caller,
    op: Op,
    cmd: Command,
) -> Result<StatusCode, VobizError> {
    st.engine
        .run(&caller.by, cmd)
        .await
        .map_err(|e| VobizError::from_engine(op, e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Seed 000: `204` and the number is back in inventory; `403` with the seed's body for a number
/// not currently the caller's, a repeat by the account that released it included. With a release
/// window configured the release is pending instead and answers `200` with Vobiz's
/// pending-release body (again on a repeat during the window); `?immediate=true` skips the
/// window and cannot be cancelled (reference §5.4).
#[utoipa::path(
    delete,
    path = "/api/v1/Account/{auth_id}/numbers/{e164}",
    tag = "vobiz",
    operation_id = "vobiz_release",
    summary = "Release a number",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("e164" = String, Path, description = "E.164, as `%2B91…`, `+91…` or `91…`"), ("immediate" = Option<bool>, Query, description = "release at once, skipping a configured window (not cancellable)")),
    responses((status = 204, description = "released at once"), (status = 200, description = "release pending (with --release-window)", body = ReleasePending), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody), (status = 409, description = "conflict: not in a releasable state, or locked against release (unlock it first)", body = crate::openapi::VobizErrorBody))
)]
pub async fn release(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
    params: Params,
) -> Result<Response, VobizError> {
    let e164 = path_number(&st, &raw)?;
    let mode = if params.bool("immediate")?.unwrap_or(false) {
        ReleaseMode::Immediate
    } else {
        ReleaseMode::Policy
    };
    let cmd = Command::Release {
        number: e164.into(),
        mode,
    };
    let outcome = st
        .engine
        .run(&caller.by, cmd)
        .await
        .map_err(|e| VobizError::from_engine(Op::Release, e))?;
    let pending = outcome
        .number
        .as_ref()
        .filter(|n| n.state == NumberState::PendingRelease);
    let Some(n) = pending else {
        if outcome.unchanged() {
            // Released already: no longer "a number currently assigned to your account".
            return Err(VobizError::from_engine(Op::Release, EngineError::NotOwner));
        }
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    Ok(Json(ReleasePending {
        cancel_url: format!(
            "/api/v1/account/{}/numbers/{}/cancel-release",
            caller.account.id, n.e164
        ),
        cooldown_ends_at: n.release_at.map(time),
        message: "number release initiated",
        note: pending_note(st.engine.policy(), n),
        release_fee: amount(n.release_fee.unwrap_or_default()),
        status: "pending_release",
    })
    .into_response())
}

/// What becomes of a number whose release is pending, as the G3 body's `note` says it: stock goes
/// back to inventory (through the policy's quarantine, if any); an imported number is deleted.
fn pending_note(policy: &ReleasePolicy, n: &Number) -> String {
    let hours = policy.window.num_minutes() as f64 / 60.0;
    let then = match n.origin {
        Origin::Imported => {
            "then deleted: an imported number does not return to inventory".to_owned()
        }
        Origin::Stock if policy.quarantine > chrono::Duration::zero() => format!(
            "then quarantined for {} days before becoming available",
            policy.quarantine.num_days()
        ),
        Origin::Stock => "then returned to inventory".to_owned(),
    };
    format!("Number will be in pending_release for {hours} hours (cancellable), {then}.")
}

/// Takes back a pending release inside its window and refunds the release fee (Vobiz G3).
/// Its errors carry only an `error` key, as documented.
#[utoipa::path(
    post,
    path = "/api/v1/Account/{auth_id}/numbers/{e164}/cancel-release",
    tag = "vobiz",
    operation_id = "vobiz_cancel_release",
    summary = "Cancel a pending release",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("e164" = String, Path, description = "E.164, as `%2B91…`, `+91…` or `91…`")),
    responses((status = 200, description = "restored, fee refunded", body = ReleaseCancelled), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody), (status = 409, description = "conflict", body = crate::openapi::VobizErrorBody))
)]
pub async fn cancel_release(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
) -> Result<Json<ReleaseCancelled>, VobizError> {
    let only = |status: StatusCode, error: &str| VobizError::bare(status, error);
    let e164 = path_number(&st, &raw)?;
    let cmd = Command::CancelRelease {
        number: e164.into(),
    };
    let outcome = st.engine.run(&caller.by, cmd).await.map_err(|e| match e {
        EngineError::NotPendingRelease => {
            only(StatusCode::BAD_REQUEST, "number is not pending release")
        }
        EngineError::NotOwner => only(StatusCode::FORBIDDEN, "access denied"),
        EngineError::NumberNotFound => only(StatusCode::NOT_FOUND, "number not found"),
        e => VobizError::from_engine(Op::Release, e),
    })?;
    let refund = (outcome.changes.ledger.iter()).find(|e| e.kind == EntryKind::Refund);
    Ok(Json(ReleaseCancelled {
        message: "release cancelled, number restored to active status",
        status: "active",
        currency: refund
            .map(|e| e.currency.to_string())
            .or_else(|| outcome.number.as_ref().map(|n| n.currency.to_string()))
            .unwrap_or_default(),
        refund_amount: refund.map_or(0.0, |e| amount(e.amount)),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AssignTrunkBody {
    trunk_group_id: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/Account/{auth_id}/numbers/{e164}/assign",
    tag = "vobiz",
    operation_id = "vobiz_assign_trunk",
    summary = "Route a number to a trunk",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("e164" = String, Path, description = "E.164, as `%2B91…`, `+91…` or `91…`")),
    request_body = AssignTrunkBody,
    responses((status = 204, description = "routed"), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody))
)]
pub async fn assign_trunk(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
    VJson(body): VJson<AssignTrunkBody>,
) -> Result<StatusCode, VobizError> {
    let e164 = path_number(&st, &raw)?;
    let trunk = TrunkId::parse(body.trunk_group_id.trim()).map_err(|_| {
        VobizError::from_engine(Op::AssignTrunk, didpool_core::EngineError::TrunkNotFound)
    })?;
    run_on_number(
        &st,
        &caller,
        Op::AssignTrunk,
        Command::AssignTrunk {
            number: e164.into(),
            trunk,
        },
    )
    .await
}

#[utoipa::path(
    delete,
    path = "/api/v1/Account/{auth_id}/numbers/{e164}/assign",
    tag = "vobiz",
    operation_id = "vobiz_unassign_trunk",
    summary = "Take a number off its trunk",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("e164" = String, Path, description = "E.164, as `%2B91…`, `+91…` or `91…`")),
    responses((status = 204, description = "unrouted"), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody))
)]
pub async fn unassign_trunk(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
) -> Result<StatusCode, VobizError> {
    let e164 = path_number(&st, &raw)?;
    run_on_number(
        &st,
        &caller,
        Op::UnassignTrunk,
        Command::UnassignTrunk {
            number: e164.into(),
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AssignSubAccountBody {
    sub_account_id: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/Account/{auth_id}/numbers/{e164}/assign-subaccount",
    tag = "vobiz",
    operation_id = "vobiz_assign_sub_account",
    summary = "Hand a number to a sub-account",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("e164" = String, Path, description = "E.164, as `%2B91…`, `+91…` or `91…`")),
    request_body = AssignSubAccountBody,
    responses((status = 204, description = "handed over"), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody), (status = 409, description = "conflict", body = crate::openapi::VobizErrorBody))
)]
pub async fn assign_sub_account(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
    VJson(body): VJson<AssignSubAccountBody>,
) -> Result<StatusCode, VobizError> {
    let e164 = path_number(&st, &raw)?;
    let sub = AccountId::parse(body.sub_account_id.trim()).map_err(|_| {
        VobizError::from_engine(
            Op::AssignSubAccount,
            didpool_core::EngineError::SubAccountNotFound,
        )
    })?;
    run_on_number(
        &st,
        &caller,
        Op::AssignSubAccount,
        Command::AssignSubAccount {
            number: e164.into(),
            sub,
        },
    )
    .await
}

#[utoipa::path(
    delete,
    path = "/api/v1/Account/{auth_id}/numbers/{e164}/assign-subaccount",
    tag = "vobiz",
    operation_id = "vobiz_unassign_sub_account",
    summary = "Take a number back from a sub-account",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("e164" = String, Path, description = "E.164, as `%2B91…`, `+91…` or `91…`"), ("force" = Option<bool>, Query, description = "bypass the cool-off (admin-role accounts; audited)")),
    responses((status = 204, description = "taken back"), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody), (status = 409, description = "conflict", body = crate::openapi::VobizErrorBody))
)]
pub async fn unassign_sub_account(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
    params: Params,
) -> Result<StatusCode, VobizError> {
    let e164 = path_number(&st, &raw)?;
    let force = params.bool("force")?.unwrap_or(false);
    run_on_number(
        &st,
        &caller,
        Op::UnassignSubAccount,
        Command::UnassignSubAccount {
            number: e164.into(),
            force,
        },
    )
    .await
}
