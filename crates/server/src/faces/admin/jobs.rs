//! Release locks and bulk jobs on the operator's API: `PUT`/`DELETE
//! /numbers/{e164}/release-lock`, and `POST`/`GET /jobs` (a job runs on a `serve` node's job
//! runner, see `crate::jobs`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use didpool_core::ids::JobId;
use didpool_core::job::{Job, JobItem, JobKind, MAX_JOB_ITEMS};
use didpool_core::lifecycle::Command;
use didpool_core::store::{ItemFilter, JobItemQuery};
use didpool_core::EngineError;
use serde::{Deserialize, Serialize};

use super::{
    account_id, bad, number_answer, path_number, AJson, APath, AdminError, AdminNumber, Operator,
};
use crate::app::AppState;
use crate::faces::vobiz::dto::time;
use crate::http::Params;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/numbers/{e164}/release-lock",
            put(lock_release).delete(unlock_release),
        )
        .route("/jobs", post(create_job).get(list_jobs))
        .route("/jobs/{id}", get(get_job))
        .route("/jobs/{id}/cancel", post(cancel_job))
}

/// A release lock's reason (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LockBody {
    /// Free text, at most 255 characters.
    #[serde(default)]
    reason: Option<String>,
}

#[utoipa::path(
    put,
    path = "/admin/v1/numbers/{e164}/release-lock",
    tag = "admin",
    operation_id = "admin_lock_release",
    summary = "Lock a number against release",
    description = "Until it is unlocked, every release of the number is refused on every face (Vobiz and Agni 409, Diga 409 `PHONE_NUMBER_NOT_RELEASABLE`), by a job too. Only an active number without a pending or scheduled release can be locked (409 otherwise: cancel the release first). Locking a locked number changes nothing. The body is optional.",
    security(("admin_bearer" = [])),
    params(("e164" = String, Path, description = "E.164, `%2B91…`")),
    request_body(content = LockBody, description = "optional"),
    responses((status = 200, description = "the number, locked", body = AdminNumber), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody), (status = 409, description = "not active, or a release is pending", body = crate::openapi::AdminErrorBody))
)]
async fn lock_release(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
    body: axum::body::Bytes,
) -> Result<Json<AdminNumber>, AdminError> {
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<LockBody>(&body)
            .map_err(|e| bad(format!("invalid body: {e}")))?
            .reason
    };
    let cmd = Command::LockRelease {
        number: path_number(&st, &raw)?.into(),
        reason,
    };
    number_answer(st.engine.run(&by, cmd).await?)
}

#[utoipa::path(
    delete,
    path = "/admin/v1/numbers/{e164}/release-lock",
    tag = "admin",
    operation_id = "admin_unlock_release",
    summary = "Take a number's release lock off",
    description = "A number that is not locked stays as it is.",
    security(("admin_bearer" = [])),
    params(("e164" = String, Path, description = "E.164, `%2B91…`")),
    responses((status = 200, description = "the number, unlocked", body = AdminNumber), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn unlock_release(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
) -> Result<Json<AdminNumber>, AdminError> {
    let cmd = Command::UnlockRelease {
        number: path_number(&st, &raw)?.into(),
    };
    number_answer(st.engine.run(&by, cmd).await?)
}

/// A new job.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateJob {
    /// `release`, `assign_trunk`, `unassign_trunk`, `move_to_sub_account` or `take_back`.
    kind: String,
    /// The account whose rights each item runs with (MA_…/SA_…): the operator acts for it.
    account_id: String,
    /// 1 to 1,000 numbers, each once (E.164); a number that does not parse refuses the job.
    numbers: Vec<String>,
    /// For `assign_trunk`: the trunk.
    #[serde(default)]
    trunk_id: Option<String>,
    /// For `move_to_sub_account`: the sub-account (SA_…).
    #[serde(default)]
    sub_account_id: Option<String>,
}

/// A bulk job and its progress.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobObject {
    id: String,
    /// `release`, `assign_trunk`, `unassign_trunk`, `move_to_sub_account` or `take_back`.
    kind: &'static str,
    /// The trunk (`assign_trunk`) or the sub-account (`move_to_sub_account`), else `null`.
    #[schema(required = true)]
    target: Option<String>,
    /// Whose rights each item runs with.
    account_id: String,
    /// `operator`, or the account that created it.
    created_by: String,
    /// `queued`, `running`, `done` or `cancelled`.
    status: &'static str,
    total: u32,
    succeeded: u32,
    failed: u32,
    /// Items without a result yet.
    pending: u32,
    /// Items done, 0–100 (whole percent, rounded down).
    progress: u32,
    created_at: String,
    #[schema(required = true)]
    started_at: Option<String>,
    #[schema(required = true)]
    finished_at: Option<String>,
}

impl From<&Job> for JobObject {
    fn from(j: &Job) -> Self {
        Self {
            id: j.id.to_string(),
            kind: j.kind.as_str(),
            target: j.kind.target(),
            account_id: j.account.to_string(),
            created_by: j.created_by.label(),
            status: j.status.as_str(),
            total: j.total,
            succeeded: j.succeeded,
            failed: j.failed,
            pending: j.total - j.done(),
            progress: (u64::from(j.done()) * 100 / u64::from(j.total.max(1))) as u32,
            created_at: time(j.created_at),
            started_at: j.started_at.map(time),
            finished_at: j.finished_at.map(time),
        }
    }
}

/// One number of a job and its result.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobItemObject {
    seq: u32,
    number: String,
    /// `pending`, `succeeded` or `failed`.
    status: &'static str,
    /// Why it failed: the engine's error code, e.g. `release_locked`, `not_owner`; else `null`.
    #[schema(required = true)]
    error: Option<String>,
    #[schema(required = true)]
    message: Option<String>,
    #[schema(required = true)]
    finished_at: Option<String>,
}

impl From<&JobItem> for JobItemObject {
    fn from(i: &JobItem) -> Self {
        let (status, error, message) = match &i.result {
            None => ("pending", None, None),
            Some(r) => match &r.error {
                None => ("succeeded", None, None),
                Some((code, msg)) => ("failed", Some(code.clone()), Some(msg.clone())),
            },
        };
        Self {
            seq: i.seq,
            number: i.e164.to_string(),
            status,
            error,
            message,
            finished_at: i.result.as_ref().map(|r| time(r.at)),
        }
    }
}

/// A job with a page of its items.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    job: JobObject,
    items: Vec<JobItemObject>,
    /// How many items match the `items` filter, beyond this page too.
    items_total: u64,
}

/// A page of jobs, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobPage {
    jobs: Vec<JobObject>,
    total: u64,
}

fn job_id(raw: &str) -> Result<JobId, AdminError> {
    JobId::parse(raw).map_err(|_| EngineError::JobNotFound.into())
}

#[utoipa::path(
    post,
    path = "/admin/v1/jobs",
    tag = "admin",
    operation_id = "admin_create_job",
    summary = "Create a bulk job",
    description = "One command per number, each succeeding or failing alone, run in the background with the rights of `account_id` (a `serve` node's job runner; the job survives a restart). Refused whole (400) when the list is empty, holds more than 1,000 numbers, a number twice, or a number that does not parse (each named).",
    security(("admin_bearer" = [])),
    request_body = CreateJob,
    responses((status = 202, description = "accepted: the job, queued", body = JobObject), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 403, description = "the account is disabled", body = crate::openapi::AdminErrorBody), (status = 404, description = "no such account", body = crate::openapi::AdminErrorBody), (status = 413, description = "body over the limit", body = crate::openapi::AdminErrorBody))
)]
async fn create_job(
    State(st): State<AppState>,
    Operator(by): Operator,
    AJson(body): AJson<CreateJob>,
) -> Result<(StatusCode, Json<JobObject>), AdminError> {
    let target = body.trunk_id.as_deref().or(body.sub_account_id.as_deref());
    let kind = JobKind::parse(&body.kind, target).map_err(bad)?;
    let account = account_id(&body.account_id)?;
    if body.numbers.len() > MAX_JOB_ITEMS {
        return Err(bad(format!(
            "a job takes at most {MAX_JOB_ITEMS} numbers, not {}",
            body.numbers.len()
        )));
    }
    let job = st
        .engine
        .create_job(&by, kind, Some(account), &body.numbers)
        .await?;
    Ok((StatusCode::ACCEPTED, Json((&job).into())))
}

fn page(params: &Params) -> Result<(u32, u64), AdminError> {
    let limit = params
        .number("limit", 1)
        .map_err(|e| bad(e.message))?
        .unwrap_or(100);
    if limit > 1000 {
        return Err(bad("limit is at most 1000"));
    }
    let offset = params
        .number("offset", 0)
        .map_err(|e| bad(e.message))?
        .unwrap_or(0);
    Ok((limit, u64::from(offset)))
}

#[utoipa::path(
    get,
    path = "/admin/v1/jobs",
    tag = "admin",
    operation_id = "admin_list_jobs",
    summary = "Bulk jobs, newest first",
    security(("admin_bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, description = "1–1000, default 100"),
        ("offset" = Option<u32>, Query, description = "default 0"),
    ),
    responses((status = 200, description = "a page of jobs", body = JobPage), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody))
)]
async fn list_jobs(
    State(st): State<AppState>,
    Operator(by): Operator,
    params: Params,
) -> Result<Json<JobPage>, AdminError> {
    let (limit, offset) = page(&params)?;
    let jobs = st.engine.jobs(&by, limit, offset).await?;
    Ok(Json(JobPage {
        jobs: jobs.items.iter().map(JobObject::from).collect(),
        total: jobs.total,
    }))
}

#[utoipa::path(
    get,
    path = "/admin/v1/jobs/{id}",
    tag = "admin",
    operation_id = "admin_get_job",
    summary = "A job: status, counts and its items' results",
    description = "The items in the order the numbers were given, paged (`limit`, `offset`), optionally only those `pending`, `succeeded` or `failed` (`items`, default `all`).",
    security(("admin_bearer" = [])),
    params(
        ("id" = String, Path, description = "job id"),
        ("items" = Option<String>, Query, description = "`all` (default), `pending`, `succeeded` or `failed`"),
        ("limit" = Option<u32>, Query, description = "items per page, 1–1000, default 100"),
        ("offset" = Option<u32>, Query, description = "default 0"),
    ),
    responses((status = 200, description = "the job", body = JobDetail), (status = 400, description = "invalid request", body = crate::openapi::AdminErrorBody), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn get_job(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
    params: Params,
) -> Result<Json<JobDetail>, AdminError> {
    let id = job_id(&raw)?;
    let (limit, offset) = page(&params)?;
    let filter = match params.get("items") {
        None => ItemFilter::All,
        Some(f) => {
            ItemFilter::parse(f).ok_or_else(|| bad("items is all, pending, succeeded or failed"))?
        }
    };
    let query = JobItemQuery {
        filter,
        limit,
        offset,
    };
    let (job, items) = st.engine.job_items(&by, id, &query).await?;
    Ok(Json(JobDetail {
        job: (&job).into(),
        items: items.items.iter().map(JobItemObject::from).collect(),
        items_total: items.total,
    }))
}

#[utoipa::path(
    post,
    path = "/admin/v1/jobs/{id}/cancel",
    tag = "admin",
    operation_id = "admin_cancel_job",
    summary = "Cancel a job",
    description = "Items without a result stay `pending` and never run; a finished job stays as it is.",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, description = "the job", body = JobObject), (status = 401, description = "missing or wrong operator token", body = crate::openapi::AdminErrorBody), (status = 404, description = "not found", body = crate::openapi::AdminErrorBody))
)]
async fn cancel_job(
    State(st): State<AppState>,
    Operator(by): Operator,
    APath(raw): APath<String>,
) -> Result<Json<JobObject>, AdminError> {
    let id = job_id(&raw)?;
    st.engine.run(&by, Command::CancelJob { id }).await?;
    let job = st.engine.job(&by, id).await?;
    Ok(Json((&job).into()))
}
