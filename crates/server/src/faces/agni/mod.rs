//! The Agni-compatible face (Ravan AI `PhoneService`), nested under `/api/v1/phone-numbers` and
//! authenticated with `X-Api-Key`. Every answer is the `{success, message, data}` envelope,
//! errors included; trailing slashes are trimmed before routing, so each path answers with and
//! without one, directly.

pub(crate) mod auth;
pub mod dto;
pub mod error;
mod numbers;

use axum::routing::{delete, get, post, MethodRouter};
use axum::Router;

use crate::app::AppState;
use error::AgniError;

/// 405 in Agni's envelope (axum still adds the `Allow` header).
fn only(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(|| async { AgniError::method_not_allowed() })
}

/// The face's routes, relative to `/api/v1/phone-numbers`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", only(get(numbers::list)))
        .route(
            "/available-numbers/{iso_country}",
            only(get(numbers::available)),
        )
        .route("/buy", only(post(numbers::buy)))
        .route("/add-twilio", only(post(numbers::add_twilio)))
        .route("/{phone_number}/release", only(delete(numbers::release)))
        .fallback(|| async { AgniError::no_route() })
}

/// The face's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    numbers::available,
    numbers::list,
    numbers::buy,
    numbers::add_twilio,
    numbers::release
))]
pub struct AgniApi;
