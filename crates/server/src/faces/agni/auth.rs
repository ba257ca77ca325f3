//! Agni authentication: `X-Api-Key`, compared exactly as sent (Agni's key guide lists stray
//! spaces in the value as a cause of 401).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use didpool_core::credential::CredentialKind;
use didpool_core::engine::By;
use didpool_core::Account;

use super::error::AgniError;
use crate::app::AppState;
use crate::http::{check_url, RequestId};
use crate::idempotency::key_use;

/// The account the key belongs to.
pub struct Caller {
    pub account: Account,
    pub by: By,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AgniError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let limits = state.limits.of(parts);
        limits.check_address().map_err(AgniError::rate_limited)?;
        let unauthorized = || match limits.failed() {
            Some(backoff) => AgniError::rate_limited(backoff),
            None => AgniError::unauthorized(),
        };
        let key = parts
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .filter(|k| !k.is_empty())
            .ok_or_else(unauthorized)?;
        let (account, credential) = state
            .engine
            .authenticate(CredentialKind::Agni, key, None)
            .await
            .map_err(AgniError::internal)?
            .ok_or_else(unauthorized)?;
        limits
            .admit(
                format!("credential:{}", credential.id),
                account.profile.rate_limit,
            )
            .map_err(AgniError::rate_limited)?;
        // The URL rule, checked once the key is: nothing in a URL that does not decode is read.
        check_url(&parts.uri)?;
        let RequestId(request_id) = RequestId::from_request_parts(parts, state)
            .await
            .unwrap_or(RequestId(None));
        let by = By::account(&account, request_id)
            .with_credential(credential.id)
            .with_key(key_use(parts));
        Ok(Caller { account, by })
    }
}
