//! Diga's two error shapes: app errors (`ErrorResponseSchema`,
//! `{"status": "error", "error_code": …, "message": …}`) and FastAPI's validation errors
//! (`422 {"detail": [{"type", "loc", "msg", "input", "ctx"?}]}`), plus FastAPI's bare
//! `{"detail": "…"}` for unknown routes and methods.

use axum::http::header::{ALLOW, WWW_AUTHENTICATE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use didpool_core::{EngineError, NumberId};
use serde_json::{json, Map, Value};

use super::dto::diga_status;
use crate::limits::Backoff;

/// An app error in `ErrorResponseSchema`.
#[derive(Debug)]
pub struct DigaError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `Retry-After` (and for a rate limit `RateLimit-*`) on a `503` or `429`.
    pub backoff: Option<Backoff>,
}

impl DigaError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            backoff: None,
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Invalid or missing API key",
        )
    }

    /// A restricted key without the access the route needs (Diga's code, verbatim).
    pub fn missing_permissions() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "INTERNAL_SERVER_ERROR",
            "Missing required permissions",
        )
    }

    pub fn not_found(id: NumberId) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "PHONE_NUMBER_NOT_FOUND",
            format!("Phone {id} not found"),
        )
    }

    pub fn pagination(message: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_PAGINATION_PARAMETERS",
            message,
        )
    }

    /// A body over [`crate::app::BODY_LIMIT`] (refused unread when its length is declared). Diga
    /// documents no such answer; the code follows its `<WHAT>_<PROBLEM>` pattern.
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("The body is over {} bytes", crate::app::BODY_LIMIT),
        )
    }

    pub fn not_valid_field(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "NOT_VALID_FIELD", message)
    }

    /// Too many requests (a key's rate limit, or an address's failed authentications); the code
    /// follows Diga's `<WHAT>_<PROBLEM>` pattern.
    pub fn rate_limited(backoff: Backoff) -> Self {
        Self {
            backoff: Some(backoff),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMIT_EXCEEDED",
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
                "SERVICE_UNAVAILABLE",
                "The service is temporarily unavailable, retry later",
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
            "INTERNAL_SERVER_ERROR",
            "An internal server error occurred",
        )
    }

    /// Renders an engine error about phone `id`.
    pub fn from_engine(id: NumberId, e: EngineError) -> Self {
        use EngineError as E;
        match e {
            E::NumberNotFound | E::NotOwner => Self::not_found(id),
            E::NotReleasable(state) => Self::new(
                StatusCode::CONFLICT,
                "PHONE_NUMBER_NOT_RELEASABLE",
                format!(
                    "Phone {id} in status {} cannot be released",
                    diga_status(state)
                ),
            ),
            // Diga's documented refusal of a release: 409 `PHONE_NUMBER_NOT_RELEASABLE`.
            E::ReleaseLocked(e164) => Self::new(
                StatusCode::CONFLICT,
                "PHONE_NUMBER_NOT_RELEASABLE",
                format!("Phone {id} ({e164}) is locked against release; unlock it first"),
            ),
            E::NotEditable(state) => Self::new(
                StatusCode::CONFLICT,
                "PHONE_NUMBER_NOT_EDITABLE",
                format!(
                    "Phone {id} in status {} cannot be edited",
                    diga_status(state)
                ),
            ),
            E::NotImported => Self::new(
                StatusCode::BAD_REQUEST,
                "BAD_PARAMETER",
                "Only custom/imported phones can have their SIP config updated",
            ),
            e => Self::from_engine_general(e),
        }
    }

    /// Renders an engine error that concerns no particular phone.
    pub fn from_engine_general(e: EngineError) -> Self {
        use EngineError as E;
        match e {
            E::Storage(_) | E::Unavailable(_) => Self::internal(&e),
            E::AlreadyExists(number) => Self::new(
                StatusCode::CONFLICT,
                "DUPLICATE_FIELD",
                format!("Phone number {number} already exists"),
            ),
            E::Invalid(msg) => Self::not_valid_field(msg),
            E::AccountNotFound => Self::unauthorized(),
            E::Forbidden(_) => Self::missing_permissions(),
            e => Self::new(StatusCode::BAD_REQUEST, "BAD_PARAMETER", e.to_string()),
        }
    }
}

impl IntoResponse for DigaError {
    fn into_response(self) -> Response {
        let body = Json(json!({
            "status": "error",
            "error_code": self.code,
            "message": self.message,
        }));
        let mut res = if self.status == StatusCode::UNAUTHORIZED {
            (self.status, [(WWW_AUTHENTICATE, "Bearer")], body).into_response()
        } else {
            (self.status, body).into_response()
        };
        if let Some(backoff) = self.backoff {
            backoff.apply(res.headers_mut());
        }
        res
    }
}

/// One element of a `loc`: a name or an index.
#[derive(Debug, Clone, PartialEq)]
pub enum Loc {
    Key(String),
    Index(usize),
}

impl From<&str> for Loc {
    fn from(s: &str) -> Self {
        Loc::Key(s.to_owned())
    }
}

impl From<usize> for Loc {
    fn from(i: usize) -> Self {
        Loc::Index(i)
    }
}

/// One pydantic error: `{"type", "loc", "msg", "input", "ctx"?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub kind: &'static str,
    pub loc: Vec<Loc>,
    pub msg: String,
    pub input: Value,
    pub ctx: Option<Value>,
}

impl Issue {
    pub fn to_json(&self) -> Value {
        let loc: Vec<Value> = self
            .loc
            .iter()
            .map(|l| match l {
                Loc::Key(k) => Value::from(k.as_str()),
                Loc::Index(i) => Value::from(*i),
            })
            .collect();
        let mut m = Map::new();
        m.insert("type".into(), self.kind.into());
        m.insert("loc".into(), loc.into());
        m.insert("msg".into(), self.msg.clone().into());
        m.insert("input".into(), self.input.clone());
        if let Some(ctx) = &self.ctx {
            m.insert("ctx".into(), ctx.clone());
        }
        Value::Object(m)
    }
}

/// FastAPI's `RequestValidationError`: `422 {"detail": [...]}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Invalid(pub Vec<Issue>);

impl Invalid {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn push(&mut self, issue: Issue) {
        self.0.push(issue);
    }

    /// `Err(self)` when any issue was found.
    pub fn check(self) -> Result<(), Invalid> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl IntoResponse for Invalid {
    fn into_response(self) -> Response {
        let detail: Vec<Value> = self.0.iter().map(Issue::to_json).collect();
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "detail": detail })),
        )
            .into_response()
    }
}

/// Either shape, for handlers that can fail both ways.
#[derive(Debug)]
pub enum Failure {
    App(DigaError),
    Invalid(Invalid),
    /// FastAPI's `HTTPException` body: `{"detail": "…"}`.
    Detail(StatusCode, &'static str),
}

impl From<DigaError> for Failure {
    fn from(e: DigaError) -> Self {
        Failure::App(e)
    }
}

impl From<Invalid> for Failure {
    fn from(e: Invalid) -> Self {
        Failure::Invalid(e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::App(e) => e.into_response(),
            Failure::Invalid(e) => e.into_response(),
            Failure::Detail(status, detail) => detail_response(status, detail),
        }
    }
}

/// FastAPI's `{"detail": "…"}`.
pub fn detail_response(status: StatusCode, detail: &str) -> Response {
    (status, Json(json!({ "detail": detail }))).into_response()
}

/// `405 {"detail": "Method Not Allowed"}` with the route's methods in `Allow`.
pub fn method_not_allowed(allow: &'static str) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(ALLOW, allow)],
        Json(json!({"detail": "Method Not Allowed"})),
    )
        .into_response()
}
