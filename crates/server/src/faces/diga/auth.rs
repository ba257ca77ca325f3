//! Diga authentication: `Authorization: Bearer <key>` with a key of kind `diga`, and the key's
//! optional per-resource permission on Phones.
//!
//! A key's `scope` is a list of grants separated by spaces or commas. For this face only the
//! Phones grants count: `phones:read` allows the `GET` routes, `phones:write` every route. A key
//! without a scope has full access; a key whose scope grants nothing on Phones (e.g. `calls:read`,
//! or Diga's "No access") gets `403` on every phone route.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use didpool_core::credential::{Credential, CredentialKind};
use didpool_core::engine::By;
use didpool_core::Account;

use super::error::DigaError;
use crate::app::AppState;
use crate::http::RequestId;
use crate::idempotency::key_use;

/// What a route needs of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
}

/// The authenticated account behind a Diga key.
pub struct Caller {
    pub account: Account,
    pub by: By,
    credential: Credential,
}

impl Caller {
    /// `403` unless the key may do `needed` on Phones.
    pub fn require(&self, needed: Access) -> Result<(), DigaError> {
        if phones_access(self.credential.scope.as_deref()).is_some_and(|a| a >= needed) {
            Ok(())
        } else {
            Err(DigaError::missing_permissions())
        }
    }
}

/// What a scope grants on Phones: `None` for no access.
pub fn phones_access(scope: Option<&str>) -> Option<Access> {
    let Some(scope) = scope else {
        return Some(Access::Write);
    };
    scope
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter_map(|grant| match grant.trim().to_ascii_lowercase().as_str() {
            "phones:write" => Some(Access::Write),
            "phones:read" => Some(Access::Read),
            _ => None,
        })
        .max()
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case).
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = DigaError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let limits = state.limits.of(parts);
        limits.check_address().map_err(DigaError::rate_limited)?;
        let unauthorized = || match limits.failed() {
            Some(backoff) => DigaError::rate_limited(backoff),
            None => DigaError::unauthorized(),
        };
        let token = bearer(parts).ok_or_else(unauthorized)?;
        let (account, credential) = state
            .engine
            .authenticate(CredentialKind::Diga, token, None)
            .await
            .map_err(|e| DigaError::internal(&e))?
            .ok_or_else(unauthorized)?;
        limits
            .admit(
                format!("credential:{}", credential.id),
                account.profile.rate_limit,
            )
            .map_err(DigaError::rate_limited)?;
        let RequestId(request_id) = RequestId::from_request_parts(parts, state)
            .await
            .unwrap_or(RequestId(None));
        let by = By::account(&account, request_id)
            .with_credential(credential.id)
            .with_key(key_use(parts));
        Ok(Caller {
            account,
            by,
            credential,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_grant_read_or_write_on_phones() {
        assert_eq!(phones_access(None), Some(Access::Write));
        assert_eq!(phones_access(Some("phones:read")), Some(Access::Read));
        assert_eq!(phones_access(Some("PHONES:WRITE")), Some(Access::Write));
        assert_eq!(
            phones_access(Some("calls:read, phones:read phones:write")),
            Some(Access::Write)
        );
        assert_eq!(phones_access(Some("calls:write")), None);
        assert_eq!(phones_access(Some("")), None);
    }
}
