//! Vobiz authentication: `X-Auth-ID` + `X-Auth-Token` (or HTTP Basic with the same pair), or an
//! access token as `Authorization: Bearer` (see [`super::tokens`]; the auth headers win when a
//! client sends both, as Vobiz's generated SDK does), and the rule that a path's `auth_id` must be
//! the caller's own. The URL is checked here, after the credentials and before any handler reads
//! it (`crate::http::check_url`).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use didpool_core::credential::CredentialKind;
use didpool_core::engine::By;
use didpool_core::{Account, AccountId};

use super::error::VobizError;
use super::tokens::Kind;
use crate::app::AppState;
use crate::http::{path_params, RequestId};
use crate::idempotency::key_use;

/// The authenticated account, checked against the path's `auth_id` when there is one.
pub struct Caller {
    pub account: Account,
    pub by: By,
    /// When the `X-Auth-Token` used stops working (a rotated token in its grace period); `None`
    /// for a token without an end, or an access token.
    pub token_expires_at: Option<DateTime<Utc>>,
}

/// What a request authenticates with.
enum Presented {
    /// `X-Auth-ID` + `X-Auth-Token`, or HTTP Basic with the same pair.
    AuthToken { id: String, token: String },
    /// `Authorization: Bearer <access token>`.
    Bearer(String),
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = header(headers, AUTHORIZATION.as_str())?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn presented(headers: &HeaderMap) -> Option<Presented> {
    if let (Some(id), Some(token)) = (
        header(headers, "x-auth-id"),
        header(headers, "x-auth-token"),
    ) {
        return Some(Presented::AuthToken {
            id: id.to_owned(),
            token: token.to_owned(),
        });
    }
    if let Some(token) = bearer(headers) {
        return Some(Presented::Bearer(token.to_owned()));
    }
    let basic = header(headers, AUTHORIZATION.as_str())?;
    let encoded = basic
        .strip_prefix("Basic ")
        .or_else(|| basic.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (id, token) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some(Presented::AuthToken {
        id: id.to_owned(),
        token: token.to_owned(),
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = VobizError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let limits = state.limits.of(parts);
        limits.check_address().map_err(VobizError::rate_limited)?;
        let unauthorized = || match limits.failed() {
            Some(backoff) => VobizError::rate_limited(backoff),
            None => VobizError::unauthorized(),
        };
        let (account, token_expires_at, credential, limit_key) =
            match presented(&parts.headers).ok_or_else(unauthorized)? {
                Presented::AuthToken { id, token } => {
                    let id = AccountId::parse(&id).map_err(|_| unauthorized())?;
                    let (account, credential) = state
                        .engine
                        .authenticate(CredentialKind::Vobiz, &token, Some(&id))
                        .await
                        .map_err(|e| VobizError::internal(&e))?
                        .ok_or_else(unauthorized)?;
                    let key = format!("credential:{}", credential.id);
                    (account, credential.revoked_at, Some(credential.id), key)
                }
                Presented::Bearer(token) => {
                    let (account, claims) = state
                        .tokens
                        .authenticate(&state.engine, &token, Kind::Access)
                        .await
                        .map_err(|e| VobizError::internal(&e))?
                        .ok_or_else(unauthorized)?;
                    let key = format!("access:{}", account.id);
                    (account, None, claims.session(), key)
                }
            };
        limits
            .admit(limit_key, account.profile.rate_limit)
            .map_err(VobizError::rate_limited)?;

        // A path that does not decode is refused here: it must never skip the comparison below.
        let params = path_params(parts, state).await?;
        let path_id = params.iter().find(|(k, _)| k == "auth_id").map(|(_, v)| v);
        if path_id.is_some_and(|p| p != account.id.as_str()) {
            return Err(VobizError::account_mismatch());
        }
        let RequestId(request_id) = RequestId::from_request_parts(parts, state)
            .await
            .unwrap_or(RequestId(None));
        let mut by = By::account(&account, request_id).with_key(key_use(parts));
        by.credential = credential;
        Ok(Caller {
            account,
            by,
            token_expires_at,
        })
    }
}
