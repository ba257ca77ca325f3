//! The API faces. Each is a thin translation: parse the provider's request into an engine
//! command, run it, render the result or the engine's error in the provider's wire format.

pub mod admin;
pub mod agni;
pub mod diga;
pub mod edge;
pub mod vobiz;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The face a path belongs to, for the answers given before a face's handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Face {
    Vobiz,
    Agni,
    Diga,
    /// The web console (`/console`): HTML answers.
    Console,
    /// The admin API, and every other path.
    Admin,
}

/// The one rule for which face a path belongs to (the body limit, the time limit and the
/// `Idempotency-Key` layer answer in its shape).
pub(crate) fn face_of(path: &str) -> Face {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under("/console") {
        Face::Console
    } else if under("/api/v1/phone-numbers") {
        Face::Agni
    } else if under("/api") {
        Face::Vobiz
    } else if diga::owns(path) {
        Face::Diga
    } else {
        Face::Admin
    }
}

/// The answer to a body over [`crate::app::BODY_LIMIT`] on `path`: `413` in the shape of the face
/// the path belongs to (the admin API's for the rest).
pub fn too_large(path: &str) -> Response {
    match face_of(path) {
        Face::Agni => agni::error::AgniError::too_large().into_response(),
        Face::Vobiz => vobiz::error::VobizError::too_large().into_response(),
        Face::Diga => diga::error::DigaError::too_large().into_response(),
        Face::Admin => admin::too_large().into_response(),
        Face::Console => crate::console::problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too large",
            "The form is larger than 64 KiB.",
        ),
    }
}

/// The answer to a request on `path` that outlived `--request-timeout` (its body came too
/// slowly, say): `408` in the shape of the face the path belongs to.
pub fn timed_out(path: &str) -> Response {
    const WHY: &str = "the request did not complete in time";
    match face_of(path) {
        Face::Agni => agni::error::AgniError::new(StatusCode::REQUEST_TIMEOUT, WHY).into_response(),
        Face::Vobiz => {
            vobiz::error::VobizError::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", WHY)
                .into_response()
        }
        Face::Diga => {
            diga::error::DigaError::new(StatusCode::REQUEST_TIMEOUT, "REQUEST_TIMEOUT", WHY)
                .into_response()
        }
        Face::Admin => admin::timed_out(WHY).into_response(),
        Face::Console => crate::console::problem(StatusCode::REQUEST_TIMEOUT, "Timed out", WHY),
    }
}

/// Marks an answer whose 5xx status is a documented refusal, not a server fault (Vobiz's `500`
/// for a purchase the balance does not cover): the access log warns instead of erring, and
/// `didpool_http_requests_total` counts it with `kind="refused"`.
#[derive(Debug, Clone, Copy)]
pub struct Refusal;
