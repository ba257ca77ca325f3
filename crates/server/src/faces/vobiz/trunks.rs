//! SIP trunk CRUD. Both of Vobiz's vocabularies are accepted (`trunk_type`/`trunk_direction`,
//! `max_concurrent_calls`/`concurrent_calls_limit`, `enabled`/`trunk_status`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use didpool_core::lifecycle::Command;
use didpool_core::trunk::{Direction, Transport, TrunkPatch};
use didpool_core::{EngineError, TrunkId};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::dto::TrunkObject;
use super::error::{Op, VJson, VPath, VobizError};
use crate::app::AppState;
use crate::http::Params;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct TrunkBody {
    name: Option<String>,
    trunk_type: Option<String>,
    trunk_direction: Option<String>,
    max_concurrent_calls: Option<i64>,
    concurrent_calls_limit: Option<i64>,
    trunk_status: Option<String>,
    enabled: Option<bool>,
    secure: Option<bool>,
    trunk_domain: Option<String>,
    transport: Option<String>,
    description: Option<String>,
    cps_limit: Option<i64>,
    recording: Option<bool>,
    enable_transcription: Option<bool>,
    pii_redaction: Option<bool>,
    webhook_url: Option<String>,
    webhook_method: Option<String>,
    recording_webhook_enabled: Option<bool>,
    inbound_destination: Option<String>,
    credential_uuid: Option<String>,
    ipacl_uuid: Option<String>,
    primary_uri_uuid: Option<String>,
    fallback_uri_uuid: Option<String>,
    pii_entity_types: Option<String>,
}

impl TrunkBody {
    fn into_patch(self) -> Result<TrunkPatch, VobizError> {
        let direction = self
            .trunk_direction
            .or(self.trunk_type)
            .map(|d| match d.to_ascii_lowercase().as_str() {
                "inbound" => Ok(Direction::Inbound),
                "outbound" => Ok(Direction::Outbound),
                "both" => Ok(Direction::Both),
                _ => Err(VobizError::bad_request(
                    "trunk_direction is inbound or outbound",
                )),
            })
            .transpose()?;
        let status = self
            .trunk_status
            .map(|s| match s.to_ascii_lowercase().as_str() {
                "enabled" | "active" => Ok(true),
                "disabled" | "inactive" => Ok(false),
                _ => Err(VobizError::bad_request(
                    "trunk_status is enabled or disabled",
                )),
            })
            .transpose()?;
        let transport = self
            .transport
            .map(|t| match t.to_ascii_lowercase().as_str() {
                "udp" => Ok(Transport::Udp),
                "tcp" => Ok(Transport::Tcp),
                "tls" => Ok(Transport::Tls),
                _ => Err(VobizError::bad_request("transport is udp, tcp or tls")),
            })
            .transpose()?;
        Ok(TrunkPatch {
            name: self.name,
            domain: self.trunk_domain,
            enabled: self.enabled.or(status),
            secure: self.secure,
            direction,
            concurrent_calls_limit: self.concurrent_calls_limit.or(self.max_concurrent_calls),
            cps_limit: self.cps_limit,
            description: self.description,
            transport,
            recording: self.recording,
            enable_transcription: self.enable_transcription,
            pii_redaction: self.pii_redaction,
            webhook_url: self.webhook_url,
            webhook_method: self.webhook_method,
            recording_webhook_enabled: self.recording_webhook_enabled,
            inbound_destination: self.inbound_destination,
            credential_uuid: self.credential_uuid,
            ipacl_uuid: self.ipacl_uuid,
            primary_uri_uuid: self.primary_uri_uuid,
            fallback_uri_uuid: self.fallback_uri_uuid,
            pii_entity_types: self.pii_entity_types,
        })
    }
}

fn trunk_id(raw: &str) -> Result<TrunkId, VobizError> {
    TrunkId::parse(raw).map_err(|_| VobizError::from_engine(Op::Trunk, EngineError::TrunkNotFound))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Meta {
    limit: u32,
    offset: u64,
    /// Every trunk of the account, not only this page's (G3; G1 called it `total_count`).
    total: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrunkList {
    meta: Meta,
    objects: Vec<TrunkObject>,
}

#[utoipa::path(
    get,
    path = "/api/v1/Account/{auth_id}/trunks",
    tag = "vobiz",
    operation_id = "vobiz_list_trunks",
    summary = "List trunks",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("limit" = Option<u32>, Query, description = "page size"), ("offset" = Option<u64>, Query, description = "items to skip")),
    responses((status = 200, description = "trunks", body = TrunkList), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody))
)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<TrunkList>, VobizError> {
    // Documented: limit/offset; the Python SDK sends page/size.
    let (limit, offset) = match params.number("size", 1)? {
        Some(size) => {
            let size = size.min(100);
            let page = params.number("page", 1)?.unwrap_or(1);
            (size, u64::from(page - 1) * u64::from(size))
        }
        None => (
            params.number("limit", 1)?.unwrap_or(20).min(100),
            u64::from(params.number("offset", 0)?.unwrap_or(0)),
        ),
    };
    let page = st
        .engine
        .trunks(&caller.by, limit, offset)
        .await
        .map_err(|e| VobizError::internal(&e))?;
    Ok(Json(TrunkList {
        meta: Meta {
            limit,
            offset,
            total: page.total,
        },
        objects: page.items.iter().map(TrunkObject::from).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/Account/{auth_id}/trunks",
    tag = "vobiz",
    operation_id = "vobiz_create_trunk",
    summary = "Create a trunk",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)")),
    request_body = TrunkBody,
    responses((status = 201, description = "created", body = crate::faces::vobiz::dto::TrunkObject), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 409, description = "conflict", body = crate::openapi::VobizErrorBody))
)]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    VJson(body): VJson<TrunkBody>,
) -> Result<(StatusCode, Json<TrunkObject>), VobizError> {
    let mut patch = body.into_patch()?;
    let name = patch
        .name
        .take()
        .ok_or_else(|| VobizError::bad_request("name is required"))?;
    let changes = st
        .engine
        .run(&caller.by, Command::CreateTrunk { name, patch })
        .await
        .map_err(|e| VobizError::from_engine(Op::Trunk, e))?;
    let trunk = changes.trunk().expect("a created trunk");
    Ok((StatusCode::CREATED, Json(trunk.into())))
}

#[utoipa::path(
    get,
    path = "/api/v1/Account/{auth_id}/trunks/{trunk_id}",
    tag = "vobiz",
    operation_id = "vobiz_get_trunk",
    summary = "One trunk",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("trunk_id" = String, Path, description = "trunk id (UUID)")),
    responses((status = 200, description = "the trunk", body = crate::faces::vobiz::dto::TrunkObject), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody))
)]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
) -> Result<Json<TrunkObject>, VobizError> {
    let id = trunk_id(&raw)?;
    let trunk = st
        .engine
        .trunk(&caller.by, id)
        .await
        .map_err(|e| VobizError::from_engine(Op::Trunk, e))?;
    Ok(Json((&trunk).into()))
}

#[utoipa::path(
    put,
    path = "/api/v1/Account/{auth_id}/trunks/{trunk_id}",
    tag = "vobiz",
    operation_id = "vobiz_update_trunk",
    summary = "Update a trunk (partial)",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("trunk_id" = String, Path, description = "trunk id (UUID)")),
    request_body = TrunkBody,
    responses((status = 200, description = "updated", body = crate::faces::vobiz::dto::TrunkObject), (status = 400, description = "invalid request", body = crate::openapi::VobizErrorBody), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody))
)]
pub async fn update(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
    VJson(body): VJson<TrunkBody>,
) -> Result<Json<TrunkObject>, VobizError> {
    let id = trunk_id(&raw)?;
    let patch = body.into_patch()?;
    let changes = st
        .engine
        .run(&caller.by, Command::UpdateTrunk { id, patch })
        .await
        .map_err(|e| VobizError::from_engine(Op::Trunk, e))?;
    Ok(Json(changes.trunk().expect("an updated trunk").into()))
}

#[utoipa::path(
    delete,
    path = "/api/v1/Account/{auth_id}/trunks/{trunk_id}",
    tag = "vobiz",
    operation_id = "vobiz_delete_trunk",
    summary = "Delete a trunk",
    security(("vobiz_auth_id" = [], "vobiz_auth_token" = [])),
    params(("auth_id" = String, Path, description = "your own MA_/SA_ id (`/account/` works too)"), ("trunk_id" = String, Path, description = "trunk id (UUID)")),
    responses((status = 204, description = "deleted"), (status = 401, description = "invalid credentials (the nested error object)", body = crate::openapi::VobizErrorBody), (status = 403, description = "forbidden (another account's id, or not allowed)", body = crate::openapi::VobizErrorBody), (status = 404, description = "not found", body = crate::openapi::VobizErrorBody), (status = 409, description = "conflict", body = crate::openapi::VobizErrorBody))
)]
pub async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    VPath((_, raw)): VPath<(String, String)>,
) -> Result<StatusCode, VobizError> {
    let id = trunk_id(&raw)?;
    st.engine
        .run(&caller.by, Command::DeleteTrunk { id })
        .await
        .map_err(|e| VobizError::from_engine(Op::Trunk, e))?;
    Ok(StatusCode::NO_CONTENT)
}
