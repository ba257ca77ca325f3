//! Vobiz's error bodies: `{"error": …, "message": …}`, except the documented special shapes
//! (the nested 401/403 object and the 409 cool-off fields).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, SecondsFormat, SubsecRound, Utc};
use didpool_core::{EngineError, InvalidNumber};
use serde_json::{json, Value};

use crate::http::{BadParam, BadUrl};
use crate::limits::Backoff;

#[derive(Debug)]
pub struct VobizError {
    status: StatusCode,
    body: Value,
    /// A documented refusal answered with a 5xx (see [`crate::faces::Refusal`]).
    refusal: bool,
    /// `Retry-After` (and for a rate limit `RateLimit-*`) on a `503` or `429`.
    backoff: Option<Backoff>,
}

/// Which operation failed: the same engine error reads differently per endpoint, as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Purchase,
    Release,
    GetNumber,
    AssignTrunk,
    UnassignTrunk,
    AssignSubAccount,
    UnassignSubAccount,
    Trunk,
    SubAccount,
    Balance,
}

impl VobizError {
    pub fn new(status: StatusCode, error: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"error": error, "message": message.into()}),
            refusal: false,
            backoff: None,
        }
    }

    /// An error with only an `error` key, as some Vobiz endpoints (cancel-release) answer.
    pub fn bare(status: StatusCode, error: &str) -> Self {
        Self {
            status,
            body: json!({ "error": error }),
            refusal: false,
            backoff: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid request", message)
    }

    pub fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            body: json!({"error": {"code": 401, "message": "Invalid token"}}),
            refusal: false,
            backoff: None,
        }
    }

    pub fn account_mismatch() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            body: json!({"error": {"code": 403, "message": "Access denied: account ID mismatch"}}),
            refusal: false,
            backoff: None,
        }
    }

    /// A phone number in a path that is malformed, or (strict validation) not a number of its
    /// country.
    pub fn bad_number(e: InvalidNumber) -> Self {
        match e {
            InvalidNumber::Format => Self::bad_request(
                "The phone number format is invalid. Ensure it is URL-encoded correctly.",
            ),
            InvalidNumber::Country => {
                Self::bad_request("The phone number is not a valid number for its country.")
            }
        }
    }

    /// A body over [`crate::app::BODY_LIMIT`], refused unread when its length is declared.
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over {} bytes", crate::app::BODY_LIMIT),
        )
    }

    /// Too many requests (a credential's rate limit, or an address's failed authentications),
    /// Vobiz's generic `429`.
    pub fn rate_limited(backoff: Backoff) -> Self {
        Self {
            backoff: Some(backoff),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("rate limit exceeded; retry in {} s", backoff.seconds()),
            )
        }
    }

    /// The store cannot serve now: Vobiz's generic `503`, nothing done, retry later.
    pub fn unavailable() -> Self {
        Self {
            backoff: Some(Backoff::UNAVAILABLE),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "the service is temporarily unavailable; nothing was changed, retry later",
            )
        }
    }

    /// A store fault: `503` when it is passing ([`EngineError::Unavailable`]), else `500`.
    pub fn internal(e: &EngineError) -> Self {
        if let EngineError::Unavailable(_) = e {
            tracing::warn!(error = %e, "storage unavailable");
            return Self::unavailable();
        }
        tracing::error!(error = %e, source = ?std::error::Error::source(e), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "internal error",
        )
    }

    /// Renders an engine error as the documented body of `op`.
    pub fn from_engine(op: Op, e: EngineError) -> Self {
        use EngineError as E;
        let number_not_found_for_trunk = || {
            Self::new(
                StatusCode::NOT_FOUND,
                "Number not found",
                "The phone number could not be found. Ensure it is in your inventory and URL-encoded correctly.",
            )
        };
        match (op, &e) {
            (_, E::Storage(_) | E::Unavailable(_)) => Self::internal(&e),
            (_, E::Invalid(msg)) => Self::bad_request(msg.clone()),
            (_, E::CurrencyMismatch { .. } | E::PriceMismatch { .. }) => {
                Self::bad_request(e.to_string())
            }

            (Op::Purchase, E::NotInInventory | E::Blocked) => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "number not found in inventory",
            ),
            // Documented: a failed balance debit surfaces as a 500 and the number stays in inventory.
            (Op::Purchase, E::InsufficientBalance { .. }) => Self {
                refusal: true,
                ..Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_server_error",
                    "failed to purchase number",
                )
            },
            (_, E::InsufficientBalance { .. }) => Self::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_balance",
                e.to_string(),
            ),

            (Op::Release, E::NotOwner | E::NumberNotFound) => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "account does not own this number",
            ),
            (_, E::NotReleasable(_)) => Self::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            // The closest documented refusal: the 409 `conflict` (reference: 409 conflict).
            (_, E::ReleaseLocked(_) | E::ReleasePending) => {
                Self::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }

            (Op::AssignTrunk, E::NumberNotFound) => number_not_found_for_trunk(),
            (Op::AssignTrunk, E::AlreadyOnTrunk) => {
                Self::bad_request("This number is already assigned to a trunk.")
            }
            (Op::UnassignTrunk, E::NumberNotFound | E::NotOnTrunk) => Self::new(
                StatusCode::NOT_FOUND,
                "Number not found",
                "The phone number could not be found or is not assigned to any trunk.",
            ),
            (_, E::TrunkNotFound) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", "trunk not found")
            }

            (
                Op::AssignSubAccount | Op::UnassignSubAccount,
                E::NumberNotFound | E::SubAccountNotFound | E::NotOnSubAccount,
            ) => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "number or sub-account not found",
            ),
            (_, E::AlreadyOnSubAccount) => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                "number already assigned to a sub-account",
            ),
            (
                _,
                E::CoolOffInEffect {
                    until,
                    remaining_seconds,
                },
            ) => Self {
                status: StatusCode::CONFLICT,
                body: json!({
                    "error": "did_cool_off_in_effect",
                    "cool_off_until": whole_second_up(*until).to_rfc3339_opts(SecondsFormat::Secs, true),
                    "cool_off_remaining_seconds": remaining_seconds,
                }),
                refusal: false,
                backoff: None,
            },
            (_, E::ForceRequiresAdmin) => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "force=true requires an admin-role account",
            ),

            (Op::SubAccount, E::AccountNotFound) => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "auth_id is not a main account you own",
            ),
            (_, E::SubAccountNotFound) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", "sub-account not found")
            }
            (_, E::StillHoldsNumbers) => Self::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            (_, E::AlreadyExists(_)) => Self::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            (_, E::Forbidden(msg)) => Self::new(StatusCode::FORBIDDEN, "forbidden", *msg),
            (_, E::NotPendingRelease) => Self::bad_request("number is not pending release"),
            (
                _,
                E::NumberNotFound
                | E::NotOwner
                | E::NotInInventory
                | E::Blocked
                | E::NotOnTrunk
                | E::NotOnSubAccount
                | E::AccountNotFound
                | E::CredentialNotFound
                | E::EndpointNotFound
                | E::EventNotFound
                | E::JobNotFound,
            ) => Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            (_, E::AlreadyOnTrunk | E::NotImported) => Self::bad_request(e.to_string()),
            (_, E::NotReserved | E::NotEditable(_) | E::JobNotRunning) => {
                Self::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
        }
    }
}

/// Vobiz shows times to the second. A cool-off's end is rounded up, never down, so a client
/// that waits until the time shown is not refused again (and it agrees with the remaining
/// seconds, which are rounded up too).
fn whole_second_up(t: DateTime<Utc>) -> DateTime<Utc> {
    let down = t.trunc_subsecs(0);
    if down == t {
        t
    } else {
        down + Duration::seconds(1)
    }
}

impl IntoResponse for VobizError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        if self.refusal {
            res.extensions_mut().insert(crate::faces::Refusal);
        }
        if let Some(backoff) = self.backoff {
            backoff.apply(res.headers_mut());
        }
        res
    }
}

impl From<BadParam> for VobizError {
    fn from(p: BadParam) -> Self {
        Self::bad_request(p.message)
    }
}

impl From<BadUrl> for VobizError {
    fn from(BadUrl(message): BadUrl) -> Self {
        Self::bad_request(message)
    }
}

impl From<JsonRejection> for VobizError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::too_large();
        }
        let message = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                "expected a JSON body with Content-Type: application/json".to_owned()
            }
            JsonRejection::BytesRejection(_) => "the body could not be read".to_owned(),
            other => other.body_text(),
        };
        Self::bad_request(message)
    }
}

/// JSON bodies whose rejections use Vobiz's error body instead of axum's plain text.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(VobizError))]
pub struct VJson<T>(pub T);

/// Path parameters under the URL rule, whose rejections use Vobiz's 400 body.
#[derive(Debug)]
pub struct VPath<T>(pub T);

impl<T, S> FromRequestParts<S> for VPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = VobizError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(VPath(crate::http::path(parts, state).await?))
    }
}
