//! The application: shared state, the router of every face, and the server loop.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use didpool_core::{Engine, ManualClock};
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::Instrument as _;

use crate::conn::{Deadline, Limits};
use crate::faces;
use crate::limits::{Backoff, RateLimits};

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
    /// How long the answer to an `Idempotency-Key` is kept and replayed (see
    /// [`crate::idempotency`]).
    pub key_retention: chrono::Duration,
    /// How long a retry waits for the request in flight with its `Idempotency-Key` before it is
    /// a 409.
    pub key_wait: std::time::Duration,
    /// This node's rate limits (default: none).
    pub limits: Arc<RateLimits>,
    /// The web console's sessions and cookies.
    pub console: crate::console::ConsoleConfig,
}

/// Every face and the admin API, with request ids, the access log and metrics, the body limit
/// and the time limit.
pub fn router(state: AppState) -> Router {
    crate::metrics::handle();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(crate::metrics::serve))
        .route("/openapi.json", get(crate::openapi::serve_json))
        .route("/docs", get(crate::openapi::serve_docs))
        .merge(faces::vobiz::router())
        .nest("/api/v1/phone-numbers", faces::agni::router())
        .merge(faces::diga::router())
        .nest(
            "/admin/v1",
            faces::admin::router(state.sandbox_clock.is_some()),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::idempotency::layer,
        ))
        // The SIP edge's API takes no Idempotency-Key: a lookup is a read, a call report a record.
        .nest("/routing/v1", faces::edge::router())
        // The console is HTML for a browser: its forms carry a CSRF token, not Idempotency-Key
        // (a repeated post is answered by the engine's own rules, shown in the page).
        .nest("/console", crate::console::router())
        .route("/", get(|| async { crate::console::see_other("/console") }))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(limit_bodies))
        .layer(middleware::from_fn(limit_time))
        .layer(middleware::from_fn(observe))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .layer(middleware::map_request(drop_unfit_request_id))
        .with_state(state)
}

/// The longest request id a client may choose; see [`fit_request_id`].
pub const MAX_REQUEST_ID: usize = 128;

/// Whether a client's `X-Request-Id` is kept: at most [`MAX_REQUEST_ID`] characters of
/// `[A-Za-z0-9._:-]` (what UUIDs, ULIDs and tracing ids use). Any other is replaced by a new one,
/// so what is echoed, logged and stored in the audit trail stays short and plain.
pub fn fit_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Removes a client's request id unless it is one fit one, so a new one is made in its place.
async fn drop_unfit_request_id(mut req: Request) -> Request {
    let ids = req.headers().get_all(&REQUEST_ID);
    let mut ids = ids.iter();
    let fit = ids.next().is_some_and(|v| fit_request_id(v.as_bytes())) && ids.next().is_none();
    if !fit {
        req.headers_mut().remove(&REQUEST_ID);
    }
    req
}

/// The time limit of a request served by [`crate::conn::serve`]: past its [`Deadline`], a `408`
/// in the face's shape that closes the connection (the rest of a slow body is never read).
async fn limit_time(req: Request, next: Next) -> Response {
    let Some(Deadline(at)) = req.extensions().get::<Deadline>().copied() else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_owned();
    match tokio::time::timeout_at(at, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            let mut res = faces::timed_out(&path);
            res.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            res
        }
    }
}

/// The request's span (method, route template, request id), its access-log line and its
/// metrics: `didpool_http_requests_total` and `didpool_http_request_duration_seconds`, by route
/// template (`unmatched` for a path no route takes, so clients cannot mint labels), method and
/// status. The line is at info, or warn for a documented refusal answered with a 5xx, or error
/// for any other 5xx.
async fn observe(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let span = tracing::info_span!("request", method, route = %route, request_id = %id);
    let path = req.uri().path().to_owned();
    let res = next.run(req).instrument(span.clone()).await;
    let latency = started.elapsed();
    let status = res.status();
    let kind = match status.as_u16() {
        500.. if res.extensions().get::<faces::Refusal>().is_some() => "refused",
        500.. => "server_error",
        400..=499 => "client_error",
        _ => "success",
    };
    let code = status.as_str().to_owned();
    metrics::counter!("didpool_http_requests_total",
        "route" => route.clone(), "method" => method, "status" => code.clone(), "kind" => kind)
    .increment(1);
    metrics::histogram!("didpool_http_request_duration_seconds",
        "route" => route, "method" => method, "status" => code)
    .record(latency.as_secs_f64());
    let _entered = span.enter();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    let status = status.as_u16();
    match kind {
        "server_error" => {
            tracing::error!(target: "didpool::access", status, latency_ms, path, "request")
        }
        "refused" => {
            tracing::warn!(target: "didpool::access", status, latency_ms, path, "request refused")
        }
        _ => tracing::info!(target: "didpool::access", status, latency_ms, path, "request"),
    }
    res
}

/// A method as a metric label: the standard ones by name, any other as `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
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

async fn not_found(uri: Uri) -> Response {
    if faces::face_of(uri.path()) == faces::Face::Console {
        return crate::console::not_found(uri).await;
    }
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "not_found", "message": "no such route"})),
    )
        .into_response()
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

/// Serves with the default [`Limits`] until `shutdown` completes, then finishes the requests in
/// flight (see [`crate::conn::serve`]). Each request knows its peer's address (the
/// failed-authentication limit counts by it).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::conn::serve(listener, app(state), Limits::default(), shutdown).await
}

#[cfg(test)]
mod tests {
    use super::fit_request_id;

    #[test]
    fn a_request_id_is_kept_only_if_short_and_plain() {
        for kept in [
            "a",
            "0190c1f2-7b3a-7cc0-9f1e-3b2f6a1d2e4f",
            "trace.01H:x_y-z",
        ] {
            assert!(fit_request_id(kept.as_bytes()), "{kept}");
        }
        assert!(fit_request_id("x".repeat(128).as_bytes()));
        for replaced in ["", "a b", "a/b", "é", "a\"b", "<script>", "id\r\nx: y"] {
            assert!(!fit_request_id(replaced.as_bytes()), "{replaced:?}");
        }
        assert!(!fit_request_id("x".repeat(129).as_bytes()));
        assert!(!fit_request_id("A".repeat(60_000).as_bytes()));
    }
}
