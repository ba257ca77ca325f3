//! The SIP edge's API under `/routing/v1`, authenticated with `Authorization: Bearer` and an
//! edge key (`didpool key create MA_… edge`): where a call to a number goes now, and the calls
//! the edge carried. Errors are the admin API's `{"error": …, "message": …}`.

use axum::extract::{FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use didpool_core::call::{Call, CallDirection};
use didpool_core::credential::CredentialKind;
use didpool_core::engine::By;
use didpool_core::lifecycle::Command;
use didpool_core::route::Route;
use didpool_core::trunk::Transport;
use didpool_core::EngineError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::faces::admin::{AJson, APath, AdminError};
use crate::faces::vobiz::dto::time;
use crate::http::{check_url, RequestId};

/// The edge's routes, relative to `/routing/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/numbers/{e164}", get(route))
        .route("/calls", post(report_call))
}

/// The main account an edge key belongs to.
pub struct Edge(pub By);

impl FromRequestParts<AppState> for Edge {
    type Rejection = Response;

    /// A failed key counts against the client address as on every face (`429` once spent).
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let limits = state.limits.of(parts);
        limits
            .check_address()
            .map_err(crate::faces::admin::rate_limited)?;
        let unauthorized = || match limits.failed() {
            Some(backoff) => crate::faces::admin::rate_limited(backoff),
            None => AdminError(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a live edge key is required (Authorization: Bearer edge_…)".into(),
            )
            .into_response(),
        };
        let key = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .filter(|k| !k.is_empty())
            .ok_or_else(unauthorized)?;
        let (account, _) = state
            .engine
            .authenticate(CredentialKind::Edge, key, None)
            .await
            .map_err(|e| AdminError::from(e).into_response())?
            .ok_or_else(unauthorized)?;
        check_url(&parts.uri).map_err(|e| AdminError::from(e).into_response())?;
        let RequestId(id) = RequestId::from_request_parts(parts, state)
            .await
            .unwrap_or(RequestId(None));
        Ok(Edge(By::account(&account, id)))
    }
}

/// The trunk a number's inbound calls go to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RouteTrunk {
    trunk_id: String,
    /// The trunk's domain (as the Vobiz trunk object's `trunk_domain`: `<trunk_id>.sip.vobiz.ai` by default).
    trunk_domain: String,
    /// Where the trunk takes inbound calls, as the customer set it (`host[:port]` or a SIP
    /// URI); `null` when unset.
    #[schema(required = true)]
    inbound_destination: Option<String>,
    /// `udp`, `tcp` or `tls`.
    transport: &'static str,
}

/// Where a call to the number goes now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RouteAnswer {
    e164: String,
    /// `active` or `pending_release` (a routable number is held).
    state: &'static str,
    /// The account holding the number (a main account or its sub-account).
    holder: String,
    /// The main account paying for it.
    billing_account: String,
    /// Its trunk, when an enabled one takes inbound calls; `null` otherwise.
    #[schema(required = true)]
    trunk: Option<RouteTrunk>,
    /// The SIP URI to relay an inbound call to (built from the trunk's `inbound_destination`
    /// and transport); `null` when the number routes only to agents.
    #[schema(required = true)]
    destination: Option<String>,
    #[schema(required = true)]
    inbound_agent_id: Option<String>,
    #[schema(required = true)]
    outbound_agent_id: Option<String>,
}

impl From<&Route> for RouteAnswer {
    fn from(r: &Route) -> Self {
        let n = &r.number;
        let id = |a: &Option<didpool_core::AccountId>| a.as_ref().map(ToString::to_string);
        Self {
            e164: n.e164.to_string(),
            state: n.state.as_str(),
            holder: id(&n.owner_id).unwrap_or_default(),
            billing_account: id(&n.billing_id).unwrap_or_default(),
            trunk: r.trunk.as_ref().map(|(trunk_id, s)| RouteTrunk {
                trunk_id: trunk_id.to_string(),
                trunk_domain: crate::faces::vobiz::dto::trunk_domain(trunk_id, s),
                inbound_destination: s.inbound_destination.clone(),
                transport: match s.transport {
                    Transport::Udp => "udp",
                    Transport::Tcp => "tcp",
                    Transport::Tls => "tls",
                },
            }),
            destination: r.destination(),
            inbound_agent_id: n.inbound_agent_id.clone(),
            outbound_agent_id: n.outbound_agent_id.clone(),
        }
    }
}

/// An edge may keep an answer but must revalidate it (`If-None-Match`) before each use: a
/// number taken off its trunk stops routing at once (seed 002).
const CACHE: HeaderValue = HeaderValue::from_static("no-cache");

#[utoipa::path(
    get,
    path = "/routing/v1/numbers/{e164}",
    tag = "routing",
    operation_id = "routing_lookup",
    summary = "Where a call to a number goes",
    description = "For a SIP edge, on every INVITE: the number's holder, trunk (domain, inbound destination, transport), the SIP URI to relay to and its bound agents, or 404 when the number routes nowhere (inventory, released, quarantined, deleted, not yet active, no enabled inbound trunk and no agent, or not paid for by the key's main account). One indexed read, no writes. `ETag` (of the answer) and `Cache-Control: no-cache`: an edge may cache the answer and revalidate it with `If-None-Match` (304). The answer changes with each audited number event that changes routing (trunk assignment, agents, release, hand-over).",
    security(("edge_bearer" = [])),
    params(("e164" = String, Path, description = "E.164, `%2B91…` or `+91…`"), ("If-None-Match" = Option<String>, Header, description = "an ETag from an earlier answer")),
    responses((status = 200, description = "where the call goes", body = RouteAnswer), (status = 304, description = "unchanged since the ETag given"), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing, unknown or revoked edge key", body = crate::openapi::AdminErrorBody), (status = 404, description = "routes nowhere", body = crate::openapi::AdminErrorBody))
)]
async fn route(
    State(st): State<AppState>,
    Edge(by): Edge,
    APath(raw): APath<String>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    let e164 = st
        .engine
        .parse_number(&raw)
        .map_err(|e| AdminError(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()))?;
    let route = st.engine.route(&by, &e164).await.map_err(|e| match e {
        EngineError::NumberNotFound => AdminError(
            StatusCode::NOT_FOUND,
            "not_routable",
            format!("{e164} routes nowhere"),
        ),
        e => e.into(),
    })?;
    let body = serde_json::to_vec(&RouteAnswer::from(&route)).expect("the answer serialises");
    let digest = Sha256::digest(&body);
    let tag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let etag = HeaderValue::from_str(&format!("\"{tag}\"")).expect("hex is a header value");
    let matched = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag.to_str().unwrap_or_default()
        });
    let cache = [(ETAG, etag), (CACHE_CONTROL, CACHE)];
    if matched {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((
        cache,
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// A call the edge carried through one of its numbers.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallReport {
    /// The number the call went to (inbound) or came from (outbound).
    e164: String,
    /// `inbound` (the default) or `outbound`.
    #[serde(default)]
    direction: Option<String>,
    /// When the INVITE arrived (RFC 3339).
    started_at: DateTime<Utc>,
    /// When it was answered; absent or `null` for a call never answered.
    #[serde(default)]
    answered_at: Option<DateTime<Utc>>,
    /// When it ended: the BYE, or the final failure reply.
    ended_at: DateTime<Utc>,
    /// The INVITE's final SIP status (200 answered; 486, 487, 603, … not).
    sip_status: u16,
}

/// The call, recorded: the number's last call as it stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallRecorded {
    e164: String,
    /// The end of its last answered call (the cool-off counts from it); `null` for none.
    #[schema(required = true)]
    last_call_at: Option<String>,
}

#[utoipa::path(
    post,
    path = "/routing/v1/calls",
    tag = "routing",
    operation_id = "routing_report_call",
    summary = "Report a call the edge carried",
    description = "Keeps a call record (the Vobiz number health reads them; kept for `--call-retention`); an answered call moves the number's `last_call_at` to its end, which starts the 15-day sub-account cool-off (seed 004). For numbers the key's main account pays for (or paid for, for a call from before their release).",
    security(("edge_bearer" = [])),
    request_body = CallReport,
    responses((status = 200, description = "recorded", body = CallRecorded), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing, unknown or revoked edge key", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
async fn report_call(
    State(st): State<AppState>,
    Edge(by): Edge,
    AJson(body): AJson<CallReport>,
) -> Result<Json<CallRecorded>, AdminError> {
    let bad = |m: String| AdminError(StatusCode::BAD_REQUEST, "invalid_request", m);
    let e164 = st
        .engine
        .parse_number(&body.e164)
        .map_err(|e| bad(format!("e164 is {e}")))?;
    let direction = match body.direction.as_deref() {
        None => CallDirection::Inbound,
        Some(d) => {
            CallDirection::parse(d).ok_or_else(|| bad("direction is inbound or outbound".into()))?
        }
    };
    let call = Call {
        direction,
        started_at: body.started_at,
        answered_at: body.answered_at,
        ended_at: body.ended_at,
        sip_status: body.sip_status,
    };
    let n = st
        .engine
        .run(
            &by,
            Command::ReportCall {
                number: e164.into(),
                call,
            },
        )
        .await?
        .number
        .ok_or(EngineError::NumberNotFound)?;
    Ok(Json(CallRecorded {
        e164: n.e164.to_string(),
        last_call_at: n.last_call_at.map(time),
    }))
}

/// The face's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(route, report_call))]
pub struct EdgeApi;
