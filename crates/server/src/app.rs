//! The application: shared state, the router of every face, and the server loop.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, ServiceExt};
use didpool_core::{Engine, ManualClock};
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::faces;
use crate::limits::{Backoff, Limits};

/// Bodies larger than this are refused (see [`limit_bodies`]).
pub const BODY_LIMIT: usize = 64 * 1024;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    /// The operator's bearer token for `/admin/v1`; without one the admin API refuses everyone.
    pub admin_token: Option<Arc<str>>,
    /// Set in sandbox mode: the clock the admin API may move.
    pub sandbox_clock: Option<ManualClock>,
    /// The key the Vobiz face signs access and refresh tokens with (default: the one the store
    /// keeps, generated at the first token).
    pub tokens: faces::vobiz::tokens::TokenKeys,
    /// This node's rate limits (default: none).
    pub limits: Arc<Limits>,
}

/// Every face and the admin API, with request ids, tracing and the body limit.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/openapi.json", get(crate::openapi::serve_json))
        .route("/docs", get(crate::openapi::serve_docs))
        .merge(faces::vobiz::router())
        .nest("/api/v1/phone-numbers", faces::agni::router())
        .merge(faces::diga::router())
        .nest("/admin/v1", faces::admin::router(state.sandbox_clock.is_some()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(limit_bodies))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .with_state(state)
}

/// A body over [`BODY_LIMIT`] is a `413` in the shape of the face it was sent to. One whose
/// `Content-Length` says so is refused at once, unread, so a client waiting on `Expect:
/// 100-continue` never gets the go-ahead; one without is refused by the extractor that reads past
/// the limit. Either way the rest of the body is never read, so the answer closes the connection.
async fn limit_bodies(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut res = if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        faces::too_large(req.uri().path())
    } else {
        next.run(req).await
    };
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
        res.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// `200 ok` while the store can take writes (PostgreSQL answers; the SQLite file is the one
/// opened and writable), else `503` with `Retry-After`: a load balancer sends no traffic here.
async fn ready(State(state): State<AppState>) -> Response {
    match state.engine.ready().await {
        Ok(()) => "ok".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            let mut res = (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"error": "not_ready", "message": e.to_string()})),
            )
                .into_response();
            Backoff::UNAVAILABLE.apply(res.headers_mut());
            res
        }
    }
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "not_found", "message": "no such route"})),
    )
}

/// A known route with a method it does not take: a JSON error like every other (clients surface
/// only the body's `error`), and axum still adds the `Allow` header.
async fn method_not_allowed() -> impl IntoResponse {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(
            serde_json::json!({"error": "method_not_allowed", "message": "this route does not take that method"}),
        ),
    )
}

/// Routes match without a trailing slash: clients send both (`/sub-accounts/`, `/numbers`).
fn trim_trailing_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    // The Diga face answers the other slash with a 307 itself, as FastAPI does.
    if path.len() > 1 && path.ends_with('/') && !faces::diga::owns(path) {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let new = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        if let Ok(uri) = new.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// The whole application as one service: the router behind path normalisation.
pub type App = tower::util::MapRequest<Router, fn(Request) -> Request>;

pub fn app(state: AppState) -> App {
    tower::util::MapRequestLayer::new(trim_trailing_slash as fn(Request) -> Request)
        .layer(router(state))
}

/// Serves until `shutdown` completes, then finishes the requests in flight. Each request knows
/// its peer's address (the failed-authentication limit counts by it).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        ServiceExt::<Request>::into_make_service_with_connect_info::<std::net::SocketAddr>(app(
            state,
        )),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
