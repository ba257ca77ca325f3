//! Agni's error body. The vendor documents only "401 Unauthorized"; every error mirrors the
//! success envelope, `{"success": false, "message": …, "data": null}`, with the HTTP status
//! carrying the class (reference §1.5).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use didpool_core::{EngineError, E164};
use serde_json::json;

use crate::http::{BadParam, BadUrl};
use crate::limits::Backoff;

#[derive(Debug)]
pub struct AgniError {
    status: StatusCode,
    message: String,
    /// `Retry-After` (and for a rate limit `RateLimit-*`) on a `503` or `429`.
    backoff: Option<Backoff>,
}

impl AgniError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            backoff: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// A missing, unknown or revoked `X-Api-Key`: one answer for all three.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized")
    }

    /// Unknown, or not the caller's: one answer for both, so nothing leaks.
    pub fn not_found(e164: &E164) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("Phone number {e164} not found"),
        )
    }

    pub fn no_route() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found")
    }

    /// A body over [`crate::app::BODY_LIMIT`] (refused unread when its length is declared).
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The body could not be read (at most {} bytes)",
                crate::app::BODY_LIMIT
            ),
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
    }

    /// Too many requests (a key's rate limit, or an address's failed authentications).
    pub fn rate_limited(backoff: Backoff) -> Self {
        Self {
            backoff: Some(backoff),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many requests: retry in {} s", backoff.seconds()),
            )
        }
    }

    /// The store cannot serve now: nothing done, retry later.
    pub fn unavailable() -> Self {
        Self {
            backoff: Some(Backoff::UNAVAILABLE),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service temporarily unavailable, retry later",
            )
        }
    }

    /// A store fault: `503` when it is passing ([`EngineError::Unavailable`]), else `500`.
    pub fn internal(e: EngineError) -> Self {
        if let EngineError::Unavailable(_) = e {
            tracing::warn!(error = %e, "storage unavailable");
            return Self::unavailable();
        }
        tracing::error!(error = %e, source = ?std::error::Error::source(&e), "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }

    /// Renders an engine error from a command on the number `e164`.
    pub fn from_engine(e: EngineError, e164: &E164) -> Self {
        use EngineError as E;
        match e {
            E::Storage(_) | E::Unavailable(_) => Self::internal(e),
            E::Invalid(msg) => Self::bad_request(msg),
            E::CurrencyMismatch { .. } => Self::bad_request(e.to_string()),
            E::PriceMismatch { price, quoted } => Self::new(
                StatusCode::CONFLICT,
                format!("Price changed: {e164} costs {price} a month, not {quoted}"),
            ),
            E::NotInInventory | E::Blocked => Self::new(
                StatusCode::CONFLICT,
                format!("Phone number {e164} is not available"),
            ),
            E::AlreadyExists(_) => Self::new(
                StatusCode::CONFLICT,
                format!("Phone number {e164} already exists"),
            ),
            E::InsufficientBalance { needed, available } => Self::new(
                StatusCode::PAYMENT_REQUIRED,
                format!(
                    "Insufficient balance to buy {e164}: {needed} needed, {available} available"
                ),
            ),
            E::Forbidden(msg) => Self::new(StatusCode::FORBIDDEN, msg),
            // As Agni's other refusals of a number's state (409, as for a number not available).
            E::ReleaseLocked(_) => Self::new(StatusCode::CONFLICT, e.to_string()),
            // Not the caller's, or in a state Agni does not show (reserved, pending
            // verification, pending release): the number is not found, as for an unknown one.
            _ => Self::not_found(e164),
        }
    }
}

impl IntoResponse for AgniError {
    fn into_response(self) -> Response {
        let body = json!({"success": false, "message": self.message, "data": null});
        let mut res = (self.status, Json(body)).into_response();
        if let Some(backoff) = self.backoff {
            backoff.apply(res.headers_mut());
        }
        res
    }
}

impl From<BadParam> for AgniError {
    fn from(p: BadParam) -> Self {
        Self::bad_request(p.message)
    }
}

impl From<JsonRejection> for AgniError {
    fn from(r: JsonRejection) -> Self {
        match &r {
            JsonRejection::MissingJsonContentType(_) => {
                Self::bad_request("Expected a JSON body with Content-Type: application/json")
            }
            _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::too_large(),
            JsonRejection::BytesRejection(_) => Self::bad_request("The body could not be read"),
            JsonRejection::JsonSyntaxError(_) => Self::bad_request("The body is not valid JSON"),
            // Bodies are read as JSON objects; anything else fails here.
            JsonRejection::JsonDataError(_) => Self::bad_request("The body must be a JSON object"),
            other => Self::bad_request(other.body_text()),
        }
    }
}

impl From<BadUrl> for AgniError {
    fn from(BadUrl(message): BadUrl) -> Self {
        Self::bad_request(format!("The URL is not valid: {message}"))
    }
}

/// JSON bodies whose rejections use Agni's error envelope instead of axum's plain text.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(AgniError))]
pub struct AJson<T>(pub T);

/// A path parameter under the URL rule, whose rejection uses Agni's error envelope.
#[derive(Debug)]
pub struct APath<T>(pub T);

impl<T, S> FromRequestParts<S> for APath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AgniError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(APath(crate::http::path(parts, state).await?))
    }
}
