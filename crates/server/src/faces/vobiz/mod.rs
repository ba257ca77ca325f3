//! The Vobiz-compatible face (the native API): `/api/v1/{Account|account}/{auth_id}/…`,
//! `/api/v1/accounts/{auth_id}/sub-accounts/…` and `/api/v1/auth/me`, authenticated with
//! `X-Auth-ID` + `X-Auth-Token`.

mod accounts;
pub(crate) mod auth;
pub mod dto;
pub mod error;
mod health;
mod numbers;
pub mod tokens;
mod trunks;

use axum::routing::{get, post};
use axum::Router;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    let mut r = Router::new()
        .route("/api/v1/auth/me", get(accounts::me))
        .route("/api/v1/auth/refresh", post(accounts::refresh))
        .route("/api/v1/auth/revoke", post(accounts::revoke))
        .route(
            "/api/v1/accounts/{auth_id}/sub-accounts",
            get(accounts::list_sub_accounts).post(accounts::create_sub_account),
        )
        .route(
            "/api/v1/accounts/{auth_id}/sub-accounts/{sub_auth_id}",
            get(accounts::get_sub_account)
                .put(accounts::update_sub_account)
                .delete(accounts::delete_sub_account),
        );
    // Vobiz's own documentation and SDK disagree on the casing; clients send both.
    for account in ["Account", "account"] {
        let base = format!("/api/v1/{account}/{{auth_id}}");
        r = r
            .route(&format!("{base}/numbers"), get(numbers::list_owned))
            .route(
                &format!("{base}/inventory/numbers"),
                get(numbers::list_inventory),
            )
            .route(
                &format!("{base}/numbers/purchase-from-inventory"),
                post(numbers::purchase),
            )
            .route(
                &format!("{base}/numbers/{{e164}}"),
                get(numbers::get_number).delete(numbers::release),
            )
            .route(
                &format!("{base}/numbers/{{e164}}/health"),
                get(health::health),
            )
            .route(
                &format!("{base}/numbers/{{e164}}/cancel-release"),
                post(numbers::cancel_release),
            )
            .route(
                &format!("{base}/numbers/{{e164}}/assign"),
                post(numbers::assign_trunk).delete(numbers::unassign_trunk),
            )
            .route(
                &format!("{base}/numbers/{{e164}}/assign-subaccount"),
                post(numbers::assign_sub_account).delete(numbers::unassign_sub_account),
            )
            .route(
                &format!("{base}/trunks"),
                get(trunks::list).post(trunks::create),
            )
            .route(
                &format!("{base}/trunks/{{trunk_id}}"),
                get(trunks::get).put(trunks::update).delete(trunks::delete),
            )
            .route(
                &format!("{base}/balance/{{currency}}"),
                get(accounts::balance),
            )
            .route(&format!("{base}/transactions"), get(accounts::transactions));
    }
    r
}

/// The face's part of the OpenAPI document (`crate::openapi` assembles the whole).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    accounts::me,
    accounts::refresh,
    accounts::revoke,
    numbers::list_inventory,
    numbers::purchase,
    numbers::list_owned,
    numbers::get_number,
    numbers::release,
    numbers::cancel_release,
    health::health,
    numbers::assign_trunk,
    numbers::unassign_trunk,
    numbers::assign_sub_account,
    numbers::unassign_sub_account,
    trunks::list,
    trunks::create,
    trunks::get,
    trunks::update,
    trunks::delete,
    accounts::list_sub_accounts,
    accounts::create_sub_account,
    accounts::get_sub_account,
    accounts::update_sub_account,
    accounts::delete_sub_account,
    accounts::balance,
    accounts::transactions,
))]
pub struct VobizApi;
