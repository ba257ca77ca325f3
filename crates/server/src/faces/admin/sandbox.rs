//! Sandbox mode only: read, set and advance the clock, and run the scheduler now, so a client's
//! test suite can walk a number through whole billing cycles in seconds. The clock's time is kept
//! in the database ([`Command::SetClock`](didpool_core::lifecycle::Command::SetClock)), and a
//! restarted sandbox resumes from it ([`resume_clock`]).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use didpool_core::engine::By;
use didpool_core::lifecycle::ClockMove;
use didpool_core::{Engine, EngineError, ManualClock};
use serde::{Deserialize, Serialize};

use super::{bad, AJson, AdminError, Operator};
use crate::app::AppState;
use crate::faces::vobiz::dto::time;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/clock", get(read_clock).post(set_clock))
        .route("/scheduler/run", post(run_scheduler))
}

/// The sandbox clock's time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Clock {
    now: String,
}

fn clock_json(now: DateTime<Utc>) -> Json<Clock> {
    Json(Clock { now: time(now) })
}

/// A scheduler pass: how many due items it handled, and the clock's time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct SchedulerRun {
    done: usize,
    now: String,
}

#[utoipa::path(
    get,
    path = "/admin/v1/clock",
    tag = "admin",
    operation_id = "admin_read_clock",
    summary = "The sandbox clock",
    description = "Only with `serve --sandbox`.",
    security(("admin_bearer" = [])),
    responses((status = 200, description = "the clock's time", body = Clock), (status = 404, description = "not in sandbox mode", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody))
)]
pub(super) async fn read_clock(State(st): State<AppState>, _op: Operator) -> Json<Clock> {
    clock_json(st.engine.now())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct SetClock {
    #[serde(default)]
    now: Option<DateTime<Utc>>,
    #[serde(default)]
    advance_seconds: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/clock",
    tag = "admin",
    operation_id = "admin_set_clock",
    summary = "Set or advance the sandbox clock",
    description = "Only with `serve --sandbox`; the clock never moves backwards, nor to 9000-01-01T00:00:00Z or later (what the store holds, with room for billing cycles and quarantines). Its time is kept in the database: a restarted sandbox resumes from it.",
    security(("admin_bearer" = [])),
    request_body = SetClock,
    responses((status = 200, description = "the clock's time", body = Clock), (status = 404, description = "not in sandbox mode", body = crate::openapi::AdminErrorBody), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over 64 KiB", body = crate::openapi::AdminErrorBody))
)]
/// `{"now": RFC3339}` sets the clock; `{"advance_seconds": N}` moves it forward. The engine
/// decides where it may go ([`ClockMove`]) and stores it; then this node's clock follows.
pub(super) async fn set_clock(
    State(st): State<AppState>,
    Operator(by): Operator,
    AJson(body): AJson<SetClock>,
) -> Result<Json<Clock>, AdminError> {
    let clock = st
        .sandbox_clock
        .as_ref()
        .ok_or_else(|| bad("not in sandbox mode"))?;
    let to = match (body.now, body.advance_seconds) {
        (Some(now), None) => ClockMove::To(now),
        (None, Some(secs)) => ClockMove::Advance(
            chrono::Duration::try_seconds(secs)
                .ok_or_else(|| bad("advance_seconds is out of range"))?,
        ),
        _ => return Err(bad("give either now (RFC 3339) or advance_seconds")),
    };
    let now = st.engine.set_sandbox_clock(&by, to).await?;
    clock.move_to(now);
    Ok(clock_json(st.engine.now()))
}

/// Sets a starting sandbox's clock to the time it was last set to, if it ever was (otherwise it
/// keeps the time it was made with, the machine's). Returns that time.
pub async fn resume_clock(
    engine: &Engine,
    clock: &ManualClock,
) -> Result<Option<DateTime<Utc>>, EngineError> {
    let saved = engine.saved_sandbox_clock(&By::operator(None)).await?;
    if let Some(t) = saved {
        clock.set(t);
    }
    Ok(saved)
}

#[utoipa::path(
    post,
    path = "/admin/v1/scheduler/run",
    tag = "admin",
    operation_id = "admin_run_scheduler",
    summary = "Run the scheduler now",
    description = "Only with `serve --sandbox`.",
    security(("admin_bearer" = [])),
    responses((status = 200, description = "how many due items were handled", body = SchedulerRun), (status = 404, description = "not in sandbox mode", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody))
)]
/// Runs every due item now (renewals, scheduled releases, quarantine ends, expiries).
pub(super) async fn run_scheduler(
    State(st): State<AppState>,
    _op: Operator,
) -> Result<Json<SchedulerRun>, AdminError> {
    let done = st.engine.run_due().await?;
    Ok(Json(SchedulerRun {
        done,
        now: time(st.engine.now()),
    }))
}
