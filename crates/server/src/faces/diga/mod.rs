//! The Diga-compatible face: `/v1/phone/…`, authenticated with `Authorization: Bearer <key>`.
//!
//! Diga is a FastAPI application, and this face answers as one: app errors in
//! `ErrorResponseSchema`, validation errors as `422 {"detail": [...]}`, unknown routes and methods
//! as `{"detail": "Not Found"}` / `{"detail": "Method Not Allowed"}`, and a path with the
//! non-canonical trailing slash as a `307` to the canonical one (`/v1/phone/` for the list, no
//! slash for the others). Auth is checked before anything about the request is validated.

pub(crate) mod auth;
pub mod dto;
pub mod error;
mod phones;
mod pyjson;
mod validate;

use axum::http::header::LOCATION;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, patch, post};
use axum::Router;

use crate::app::AppState;
use error::{detail_response, method_not_allowed};

pub use phones::QUARANTINE;

/// Whether a path belongs to this face (the app leaves its trailing slash alone).
pub fn owns(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/phone/",
            get(phones::list).fallback(|| async { method_not_allowed("GET") }),
        )
        // `import` is also a `{phone_id}` to the other methods (which then reject it as a UUID).
        .route(
            "/v1/phone/import",
            post(phones::import)
                .get(phones::get_phone)
                .patch(phones::update)
                .delete(phones::release)
                .fallback(|| async { method_not_allowed("POST") }),
        )
        .route(
            "/v1/phone/{phone_id}",
            get(phones::get_phone)
                .patch(phones::update)
                .delete(phones::release)
                .fallback(|| async { method_not_allowed("GET, PATCH, DELETE") }),
        )
        .route(
            "/v1/phone/{phone_id}/sip-config",
            patch(phones::update_sip_config).fallback(|| async { method_not_allowed("PATCH") }),
        )
        .route("/v1", any(unmatched))
        .route("/v1/", any(unmatched))
        .route("/v1/{*rest}", any(unmatched))
}

/// Whether `path` is one of the routes above.
fn is_route(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/v1/phone/") else {
        return false;
    };
    let mut segments = rest.split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some(""), None, None) => true,
        (Some(id), None, None) => !id.is_empty(),
        (Some(id), Some("sip-config"), None) => !id.is_empty(),
        _ => false,
    }
}

/// FastAPI's `redirect_slashes`: when the path with its trailing slash toggled is a route, a `307`
/// there (query kept); otherwise `404 {"detail": "Not Found"}`.
async fn unmatched(uri: Uri) -> Response {
    let path = uri.path();
    let other = match path.strip_suffix('/') {
        Some(trimmed) => trimmed.to_owned(),
        None => format!("{path}/"),
    };
    if !is_route(&other) {
        return detail_response(StatusCode::NOT_FOUND, "Not Found");
    }
    let location = match uri.query() {
        Some(q) => format!("{other}?{q}"),
        None => other,
    };
    (StatusCode::TEMPORARY_REDIRECT, [(LOCATION, location)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::is_route;

    #[test]
    fn routes_are_known_by_their_canonical_paths() {
        assert!(is_route("/v1/phone/"));
        assert!(is_route("/v1/phone/import"));
        assert!(is_route("/v1/phone/abc"));
        assert!(is_route("/v1/phone/abc/sip-config"));
        assert!(!is_route("/v1/phone"));
        assert!(!is_route("/v1/phone//"));
        assert!(!is_route("/v1/phone/abc/"));
        assert!(!is_route("/v1/phone/abc/other"));
        assert!(!is_route("/v1/phone//sip-config"));
    }
}

/// The face's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    phones::list,
    phones::get_phone,
    phones::update,
    phones::update_sip_config,
    phones::import,
    phones::release
))]
pub struct DigaApi;
