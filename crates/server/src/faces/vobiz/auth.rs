//! Vobiz authentication: `X-Auth-ID` + `X-Auth-Token` (or HTTP Basic with the same pair), and
//! the rule that a path's `auth_id` must be the caller's own. The URL is checked here, after the
//! credentials and before any handler reads it (`crate::http::check_url`).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use didpool_core::credential::CredentialKind;
use didpool_core::engine::By;
use didpool_core::{Account, AccountId};

use super::error::VobizError;
use crate::app::AppState;
use crate::http::{path_params, RequestId};

/// The authenticated account, checked against the path's `auth_id` when there is one.
pub struct Caller {
    pub account: Account,
    pub by: By,
}

fn credentials(parts: &Parts) -> Option<(String, String)> {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
    };
    if let (Some(id), Some(token)) = (header("x-auth-id"), header("x-auth-token")) {
        return Some((id, token));
    }
    let basic = header(AUTHORIZATION.as_str())?;
    let encoded = basic
        .strip_prefix("Basic ")
        .or_else(|| basic.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (id, token) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((id.to_owned(), token.to_owned()))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = VobizError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (id, token) = credentials(parts).ok_or_else(VobizError::unauthorized)?;
        let id = AccountId::parse(&id).map_err(|_| VobizError::unauthorized())?;
        let (account, _) = state
            .engine
            .authenticate(CredentialKind::Vobiz, &token, Some(&id))
            .await
            .map_err(|e| VobizError::internal(&e))?
            .ok_or_else(VobizError::unauthorized)?;

        // A path that does not decode is refused here: it must never skip the comparison below.
        let params = path_params(parts, state).await?;
        let path_id = params.iter().find(|(k, _)| k == "auth_id").map(|(_, v)| v);
        if path_id.is_some_and(|p| p != account.id.as_str()) {
            return Err(VobizError::account_mismatch());
        }
        let RequestId(request_id) = RequestId::from_request_parts(parts, state)
            .await
            .unwrap_or(RequestId(None));
        let by = By::account(&account, request_id);
        Ok(Caller { account, by })
    }
}
