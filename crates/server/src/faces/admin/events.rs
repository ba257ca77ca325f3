//! The event log and webhook endpoints: `GET /events` (a cursor over every change of every
//! number), redelivery, and the endpoints' CRUD, secret rotation, replay and attempts.

use axum::extract::rejection::StringRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use didpool_core::ids::{EndpointId, EventId};
use didpool_core::lifecycle::{Command, Write};
use didpool_core::store::EventQuery;
use didpool_core::webhook::{
    generate_secret, is_event_type, Attempt, Endpoint, EndpointPatch, Requeue,
};
use didpool_core::EngineError;
use serde::{Deserialize, Serialize};

use super::{account_id, bad, printable, AJson, APath, AdminError, Operator};
use crate::app::AppState;
use crate::faces::vobiz::dto::time;
use crate::http::{number_filter, Params};
use crate::webhooks::EventObject;

/// The most events one page holds.
pub const MAX_PAGE: u32 = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(list_events))
        .route("/events/{id}", get(get_event))
        .route("/events/{id}/redeliver", post(redeliver))
        .route(
            "/webhook-endpoints",
            post(create_endpoint).get(list_endpoints),
        )
        .route(
            "/webhook-endpoints/{id}",
            get(get_endpoint)
                .patch(update_endpoint)
                .delete(delete_endpoint),
        )
        .route("/webhook-endpoints/{id}/rotate-secret", post(rotate_secret))
        .route("/webhook-endpoints/{id}/replay", post(replay))
        .route("/webhook-endpoints/{id}/attempts", get(endpoint_attempts))
}

fn event_id(raw: &str) -> Result<EventId, AdminError> {
    EventId::parse(raw).map_err(|_| EngineError::EventNotFound.into())
}

fn endpoint_id(raw: &str) -> Result<EndpointId, AdminError> {
    EndpointId::parse(raw).map_err(|_| EngineError::EndpointNotFound.into())
}

/// A page of events, with the cursor of the next.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct EventPage {
    events: Vec<EventObject>,
    /// Pass as `after` for the next page; `null` when this page is not full (for `order=asc`,
    /// ask again later with the last id seen to follow new events).
    #[schema(required = true)]
    next: Option<String>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/events",
    tag = "admin",
    operation_id = "admin_list_events",
    summary = "The event log",
    description = "Every change of every number, in the order they were recorded: oldest first (`order=asc`, the default) or newest first (`order=desc`). `after` is an event id: the page holds the events after it in that order. Filters: `type` (repeatable, from the catalogue), `account` (an account concerned), `number` (E.164, every row the number had).",
    security(("admin_bearer" = [])),
    params(
        ("after" = Option<String>, Query, description = "an event id (the cursor)"),
        ("type" = Option<String>, Query, description = "an event type, e.g. `number.released`; repeatable"),
        ("account" = Option<String>, Query, description = "MA_…/SA_…"),
        ("number" = Option<String>, Query, description = "E.164 (`%2B91…`)"),
        ("order" = Option<String>, Query, description = "`asc` (default) or `desc`"),
        ("limit" = Option<u32>, Query, description = "1–1000, default 100"),
    ),
    responses((status = 200, description = "a page of events", body = EventPage), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "`after` names no event", body = crate::openapi::AdminErrorBody))
)]
async fn list_events(
    State(st): State<AppState>,
    Operator(by): Operator,
    params: Params,
) -> Result<Json<EventPage>, AdminError> {
    let query = event_query(&st, &params)?;
    let events = st.engine.event_log(&by, &query).await?;
    let full = events.len() == query.limit as usize;
    Ok(Json(EventPage {
        next: events.last().filter(|_| full).map(|e| e.id.to_string()),
        events: events.iter().map(EventObject::from).collect(),
    }))
}

fn event_query(st: &AppState, p: &Params) -> Result<EventQuery, AdminError> {
    let types: Vec<String> = p
        .all("type")
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(t) = types.iter().find(|t| !is_event_type(t)) {
        return Err(bad(format!("unknown event type {t:?}")));
    }
    let desc = match p.get("order") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(bad("order must be asc or desc")),
    };
    let limit = p
        .number("limit", 1)
        .map_err(|e| bad(e.message))?
        .unwrap_or(100);
    if limit > MAX_PAGE {
        return Err(bad(format!("limit is at most {MAX_PAGE}")));
    }
    Ok(EventQuery {
        after: p.get("after").map(event_id).transpose()?,
        types,
        account: p.get("account").map(account_id).transpose()?,
        number: p
            .get("number")
            .map(|n| st.engine.parse_number(&number_filter(n)))
            .transpose()
            .map_err(|e| bad(format!("number: {e}")))?,
        desc,
        limit,
    })
}

/// One delivery of an event: to which endpoint, and where it stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct DeliveryObject {
    endpoint_id: String,
    /// `pending`, `succeeded` or `failed`.
    status: &'static str,
    attempts: u32,
    #[schema(required = true)]
    next_attempt_at: Option<String>,
}

/// An event with its deliveries and their attempts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct EventDetail {
    event: EventObject,
    deliveries: Vec<DeliveryObject>,
    /// Newest first.
    attempts: Vec<AttemptObject>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/events/{id}",
    tag = "admin",
    operation_id = "admin_get_event",
    summary = "One event, its deliveries and their attempts",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "event id")),
    responses((status = 200, description = "the event", body = EventDetail), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn get_event(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
) -> Result<Json<EventDetail>, AdminError> {
    let id = event_id(&raw)?;
    let event = st.engine.event(&by, id).await?;
    let deliveries = st.engine.deliveries_of(&by, id).await?;
    let attempts = st
        .engine
        .webhook_attempts(&by, Some(id), None, MAX_PAGE)
        .await?;
    Ok(Json(EventDetail {
        event: (&event).into(),
        deliveries: deliveries
            .iter()
            .map(|d| DeliveryObject {
                endpoint_id: d.endpoint_id.to_string(),
                status: d.status.as_str(),
                attempts: d.attempts,
                next_attempt_at: d.next_attempt_at.map(time),
            })
            .collect(),
        attempts: attempts.iter().map(AttemptObject::from).collect(),
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Redeliver {
    /// Only to this endpoint (default: every endpoint the event was queued for).
    #[serde(default)]
    endpoint_id: Option<String>,
}

/// How many deliveries were queued again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Requeued {
    requeued: usize,
}

/// An optional JSON body: none, `null` and `{}` are the defaults.
fn optional_body<T: Default + serde::de::DeserializeOwned>(
    body: Result<String, StringRejection>,
) -> Result<T, AdminError> {
    let body = body?;
    if body.trim().is_empty() {
        return Ok(T::default());
    }
    Ok(serde_json::from_str::<Option<T>>(&body)
        .map_err(|e| bad(format!("invalid JSON body: {e}")))?
        .unwrap_or_default())
}

#[utoipa::path(
    post,
    path = "/admin/v1/events/{id}/redeliver",
    tag = "admin",
    operation_id = "admin_redeliver_event",
    summary = "Send an event again",
    description = "Queues the event again, now, to every endpoint it was queued for (or to `endpoint_id`), its retry schedule from the start; the `webhook-id` stays the event's id. The body is optional.",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "event id")),
    request_body(content = Option<Redeliver>, content_type = "application/json"),
    responses((status = 202, description = "queued", body = Requeued), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "no such event, or never queued for that endpoint", body = crate::openapi::AdminErrorBody))
)]
async fn redeliver(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
    body: Result<String, StringRejection>,
) -> Result<(StatusCode, Json<Requeued>), AdminError> {
    let event = event_id(&raw)?;
    let body: Redeliver = optional_body(body)?;
    let endpoint = body.endpoint_id.as_deref().map(endpoint_id).transpose()?;
    let what = Requeue::Event { event, endpoint };
    let outcome = st
        .engine
        .run(&by, Command::RequeueDeliveries { what })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Requeued {
            requeued: outcome.changes.deliveries.len(),
        }),
    ))
}

/// A webhook endpoint. Its secret is shown only when created or rotated.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct EndpointObject {
    id: String,
    url: String,
    description: String,
    /// The types sent; empty: every type.
    event_types: Vec<String>,
    /// Only events concerning this account; `null`: every event.
    #[schema(required = true)]
    account_id: Option<String>,
    /// `false` once disabled (by the operator, or after failing for 5 days).
    enabled: bool,
    #[schema(required = true)]
    disabled_reason: Option<String>,
    /// Since when its deliveries fail without a success between.
    #[schema(required = true)]
    failing_since: Option<String>,
    /// Until when the secret before the last rotation also signs.
    #[schema(required = true)]
    previous_secret_expires_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<&Endpoint> for EndpointObject {
    fn from(e: &Endpoint) -> Self {
        Self {
            id: e.id.to_string(),
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: e.event_types.clone(),
            account_id: e.account_id.as_ref().map(ToString::to_string),
            enabled: e.disabled_at.is_none(),
            disabled_reason: e.disabled_reason.clone(),
            failing_since: e.failing_since.map(time),
            previous_secret_expires_at: e.previous_secret_until.map(time),
            created_at: time(e.created_at),
            updated_at: time(e.updated_at),
        }
    }
}

/// An endpoint with its secret (`whsec_…`), shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct EndpointWithSecret {
    #[serde(flatten)]
    endpoint: EndpointObject,
    secret: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateEndpoint {
    /// An absolute http(s) URL.
    url: String,
    #[serde(default)]
    description: Option<String>,
    /// Types from the catalogue; absent or empty: every type.
    #[serde(default)]
    event_types: Option<Vec<String>>,
    /// Only events concerning this account (its own numbers).
    #[serde(default)]
    account_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/webhook-endpoints",
    tag = "admin",
    operation_id = "admin_create_webhook_endpoint",
    summary = "Subscribe a webhook endpoint",
    description = "Every event committed from now on that matches is delivered to `url`, signed with the returned secret (Standard Webhooks). The secret is shown only here and on rotation.",
    security(("admin_bearer" = [])),
    request_body = CreateEndpoint,
    responses((status = 201, description = "subscribed", body = EndpointWithSecret), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "no such account", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
async fn create_endpoint(
    State(st): State<AppState>,
    Operator(by): Operator,
    AJson(body): AJson<CreateEndpoint>,
) -> Result<(StatusCode, Json<EndpointWithSecret>), AdminError> {
    printable("description", body.description.as_deref())?;
    let secret = generate_secret();
    let cmd = Command::CreateWebhookEndpoint {
        id: EndpointId::new(),
        url: body.url,
        description: body.description.unwrap_or_default(),
        event_types: body.event_types.unwrap_or_default(),
        account_id: body.account_id.as_deref().map(account_id).transpose()?,
        secret: secret.clone(),
    };
    let outcome = st.engine.run(&by, cmd).await?;
    let e = written(&outcome.changes.webhook_endpoints)?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret {
            endpoint: e.into(),
            secret,
        }),
    ))
}

fn written(w: &[Write<Endpoint>]) -> Result<&Endpoint, AdminError> {
    w.first()
        .map(Write::row)
        .ok_or_else(|| EngineError::EndpointNotFound.into())
}

#[utoipa::path(
    get,
    path = "/admin/v1/webhook-endpoints",
    tag = "admin",
    operation_id = "admin_list_webhook_endpoints",
    summary = "Every webhook endpoint",
    security(("admin_bearer" = [])),
    responses((status = 200, description = "oldest first", body = [EndpointObject]), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody))
)]
async fn list_endpoints(
    State(st): State<AppState>,
    Operator(by): Operator,
) -> Result<Json<Vec<EndpointObject>>, AdminError> {
    let all = st.engine.webhook_endpoints(&by).await?;
    Ok(Json(all.iter().map(EndpointObject::from).collect()))
}

#[utoipa::path(
    get,
    path = "/admin/v1/webhook-endpoints/{id}",
    tag = "admin",
    operation_id = "admin_get_webhook_endpoint",
    summary = "One webhook endpoint",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "endpoint id")),
    responses((status = 200, description = "the endpoint", body = EndpointObject), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn get_endpoint(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
) -> Result<Json<EndpointObject>, AdminError> {
    let e = st.engine.webhook_endpoint(&by, endpoint_id(&raw)?).await?;
    Ok(Json((&e).into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateEndpoint {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    event_types: Option<Vec<String>>,
    /// An account id, or `null` for every account; absent: unchanged.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    account_id: Option<Option<String>>,
    /// `false` disables it; `true` enables it again.
    #[serde(default)]
    enabled: Option<bool>,
}

/// A field that is present, `null` included.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[utoipa::path(
    patch,
    path = "/admin/v1/webhook-endpoints/{id}",
    tag = "admin",
    operation_id = "admin_update_webhook_endpoint",
    summary = "Change a webhook endpoint",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "endpoint id")),
    request_body = UpdateEndpoint,
    responses((status = 200, description = "changed", body = EndpointObject), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
async fn update_endpoint(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
    AJson(body): AJson<UpdateEndpoint>,
) -> Result<Json<EndpointObject>, AdminError> {
    printable("description", body.description.as_deref())?;
    let patch = EndpointPatch {
        url: body.url,
        description: body.description,
        event_types: body.event_types,
        account_id: body
            .account_id
            .map(|a| a.as_deref().map(account_id).transpose())
            .transpose()?,
        enabled: body.enabled,
    };
    let cmd = Command::UpdateWebhookEndpoint {
        id: endpoint_id(&raw)?,
        patch,
    };
    let outcome = st.engine.run(&by, cmd).await?;
    Ok(Json(written(&outcome.changes.webhook_endpoints)?.into()))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/webhook-endpoints/{id}",
    tag = "admin",
    operation_id = "admin_delete_webhook_endpoint",
    summary = "Remove a webhook endpoint",
    description = "With its deliveries and their attempts; nothing more is sent to it.",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "endpoint id")),
    responses((status = 204, description = "removed"), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn delete_endpoint(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
) -> Result<StatusCode, AdminError> {
    let cmd = Command::DeleteWebhookEndpoint {
        id: endpoint_id(&raw)?,
    };
    st.engine.run(&by, cmd).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RotateSecret {
    /// How long the old secret keeps signing beside the new one (0–604800; default 86400).
    #[serde(default)]
    overlap_seconds: Option<u64>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/webhook-endpoints/{id}/rotate-secret",
    tag = "admin",
    operation_id = "admin_rotate_webhook_secret",
    summary = "Rotate an endpoint's signing secret",
    description = "Returns the new secret (shown once). During the overlap every delivery carries two signatures (`v1,<new> v1,<old>`), so the receiver can switch at its own pace. The body is optional.",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "endpoint id")),
    request_body(content = Option<RotateSecret>, content_type = "application/json"),
    responses((status = 201, description = "rotated", body = EndpointWithSecret), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn rotate_secret(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
    body: Result<String, StringRejection>,
) -> Result<(StatusCode, Json<EndpointWithSecret>), AdminError> {
    let id = endpoint_id(&raw)?;
    let body: RotateSecret = optional_body(body)?;
    let overlap = i64::try_from(body.overlap_seconds.unwrap_or(86_400))
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(|| bad("overlap_seconds is out of range"))?;
    let secret = generate_secret();
    let cmd = Command::RotateWebhookSecret {
        id,
        secret: secret.clone(),
        overlap,
    };
    let outcome = st.engine.run(&by, cmd).await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret {
            endpoint: written(&outcome.changes.webhook_endpoints)?.into(),
            secret,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Replay {
    /// Events recorded at or after this time (RFC 3339).
    since: DateTime<Utc>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/webhook-endpoints/{id}/replay",
    tag = "admin",
    operation_id = "admin_replay_webhook_endpoint",
    summary = "Send an endpoint's events again since a time",
    description = "Queues again, now, every event recorded since `since` that was queued for this endpoint, in their order; each keeps its `webhook-id`.",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "endpoint id")),
    request_body = Replay,
    responses((status = 202, description = "queued", body = Requeued), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
async fn replay(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
    AJson(body): AJson<Replay>,
) -> Result<(StatusCode, Json<Requeued>), AdminError> {
    let what = Requeue::Since {
        endpoint: endpoint_id(&raw)?,
        since: body.since,
    };
    let outcome = st
        .engine
        .run(&by, Command::RequeueDeliveries { what })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Requeued {
            requeued: outcome.changes.deliveries.len(),
        }),
    ))
}

/// One attempt to deliver an event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct AttemptObject {
    id: String,
    event_id: String,
    endpoint_id: String,
    at: String,
    /// The HTTP status answered; `null` when none was (refused, timed out).
    #[schema(required = true)]
    status_code: Option<u16>,
    latency_ms: u64,
    /// The first KiB of the answer's body.
    response: String,
    #[schema(required = true)]
    error: Option<String>,
}

impl From<&Attempt> for AttemptObject {
    fn from(a: &Attempt) -> Self {
        Self {
            id: a.id.to_string(),
            event_id: a.event_id.to_string(),
            endpoint_id: a.endpoint_id.to_string(),
            at: time(a.at),
            status_code: a.result.status_code,
            latency_ms: a.result.latency_ms,
            response: a.result.response.clone(),
            error: a.result.error.clone(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/admin/v1/webhook-endpoints/{id}/attempts",
    tag = "admin",
    operation_id = "admin_list_webhook_attempts",
    summary = "An endpoint's latest delivery attempts",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "endpoint id"), ("limit" = Option<u32>, Query, description = "1–1000, default 100")),
    responses((status = 200, description = "newest first", body = [AttemptObject]), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn endpoint_attempts(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
    params: Params,
) -> Result<Json<Vec<AttemptObject>>, AdminError> {
    let id = endpoint_id(&raw)?;
    st.engine.webhook_endpoint(&by, id).await?;
    let limit = params
        .number("limit", 1)
        .map_err(|e| bad(e.message))?
        .unwrap_or(100)
        .min(MAX_PAGE);
    let attempts = st
        .engine
        .webhook_attempts(&by, None, Some(id), limit)
        .await?;
    Ok(Json(attempts.iter().map(AttemptObject::from).collect()))
}
