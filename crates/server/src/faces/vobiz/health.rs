//! Number health (Vobiz reference §5.10): a number's call figures, from the calls its SIP edge
//! reported (`POST /routing/v1/calls`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use didpool_core::call::{CallStats, Granularity, MAX_HEALTH_DAYS};
use didpool_core::EngineError;
use serde::Serialize;

use super::auth::Caller;
use super::dto::status;
use super::error::{VPath, VobizError};
use super::numbers::path_number;
use crate::app::AppState;
use crate::http::Params;

/// The documented health object: `{e164, status, usage_status, is_spam, granularity,
/// summary{…}, snapshots[…]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NumberHealth {
    e164: String,
    /// The number's status, as on the number object (`active`, `pending_release`, …).
    status: &'static str,
    /// `in_use` when an answered call started in the period, `idle` otherwise.
    usage_status: &'static str,
    /// Whether the number is flagged as spam; didpool keeps no spam reputation: always `false`.
    is_spam: bool,
    /// `daily` or `hourly`.
    granularity: &'static str,
    summary: HealthSummary,
    /// One per UTC day or hour that had calls, oldest first (periods without calls are left out).
    snapshots: Vec<HealthSnapshot>,
}

/// The figures over the whole period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthSummary {
    /// The period, in days back from now.
    period_days: u32,
    total_calls: u64,
    /// Calls answered (a 2xx to the INVITE).
    answered_calls: u64,
    /// Answered calls over all calls, 0 to 1.
    answer_rate: f64,
    /// Minutes talked (answer to end), to two decimals.
    total_minutes: f64,
    /// Mean seconds talked per answered call, to one decimal.
    avg_duration: f64,
}

/// The figures of one day or hour.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthSnapshot {
    /// The start of the day or hour (UTC, RFC 3339).
    period_start: String,
    total_calls: u64,
    answered_calls: u64,
    answer_rate: f64,
    total_minutes: f64,
    avg_duration: f64,
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn figures(s: &CallStats) -> (u64, u64, f64, f64, f64) {
    (
        s.total_calls,
        s.answered_calls,
        round(s.answer_rate(), 4),
        round(s.total_minutes(), 2),
        round(s.avg_duration(), 1),
    )
}

fn snapshot(at: DateTime<Utc>, s: &CallStats) -> HealthSnapshot {
    let (total_calls, answered_calls, answer_rate, total_minutes, avg_duration) = figures(s);
    HealthSnapshot {
        period_start: at.to_rfc3339_opts(SecondsFormat::Secs, true),
        total_calls,
        answered_calls,
        answer_rate,
        total_minutes,
        avg_duration,
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/Account/{auth_id}/numbers/{e164}/health",
    tag = "vobiz",
    operation_id = "vobiz_number_health",
    summary = "A number's call health",
    description = "Call figures of a number the account holds or pays for, from the calls its SIP edge reported (`POST /routing/v1/calls`), over the last `days` days, overall and per UTC day or hour. Call records are kept for the deployment's `--call-retention`.",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("e164" = String, Path, description = "E.164, as `%2B91…`, `+91…` or `91…`"), ("granularity" = Option<String>, Query, description = "`daily` (default) or `hourly`"), ("days" = Option<u32>, Query, description = "the period, 1 to 90 days (default 30)")),
    responses((status = 200, description = "the number's health", body = NumberHealth), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id)", body = crate::openapi::VobizErrorBody), (status = 404, description = "Number not found", body = crate::openapi::VobizErrorBody))
)]
pub async fn health(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
    params: Params,
) -> Result<Json<NumberHealth>, VobizError> {
    let e164 = path_number(&st, &raw)?;
    let granularity = match params.get("granularity") {
        None => Granularity::Daily,
        Some(g) => Granularity::parse(g)
            .ok_or_else(|| VobizError::bad_request("granularity must be daily or hourly"))?,
    };
    let days = params.number("days", 1)?.unwrap_or(30);
    if days > MAX_HEALTH_DAYS {
        return Err(VobizError::bad_request(format!(
            "days must be 1 to {MAX_HEALTH_DAYS}"
        )));
    }
    let (n, health) = st
        .engine
        .number_health(&caller.by, &e164.into(), granularity, days)
        .await
        .map_err(|e| match e {
            EngineError::NumberNotFound => {
                VobizError::new(StatusCode::NOT_FOUND, "not_found", "Number not found")
            }
            EngineError::Invalid(m) => VobizError::bad_request(m),
            e => VobizError::internal(&e),
        })?;
    let (total_calls, answered_calls, answer_rate, total_minutes, avg_duration) =
        figures(&health.summary);
    Ok(Json(NumberHealth {
        e164: n.e164.to_string(),
        status: status(&n),
        usage_status: if health.summary.answered_calls > 0 {
            "in_use"
        } else {
            "idle"
        },
        is_spam: false,
        granularity: granularity.as_str(),
        summary: HealthSummary {
            period_days: days,
            total_calls,
            answered_calls,
            answer_rate,
            total_minutes,
            avg_duration,
        },
        snapshots: health
            .periods
            .iter()
            .map(|(at, s)| snapshot(*at, s))
            .collect(),
    }))
}
