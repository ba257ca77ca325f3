//! The API faces. Each is a thin translation: parse the provider's request into an engine
//! command, run it, render the result or the engine's error in the provider's wire format.

pub mod admin;
pub mod agni;
pub mod diga;
pub mod edge;
pub mod vobiz;

use axum::response::{IntoResponse, Response};

/// The answer to a body over [`crate::app::BODY_LIMIT`] on `path`: `413` in the shape of the face
/// the path belongs to (the admin API's for the rest).
pub fn too_large(path: &str) -> Response {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under("/api/v1/phone-numbers") {
        agni::error::AgniError::too_large().into_response()
    } else if under("/api") {
        vobiz::error::VobizError::too_large().into_response()
    } else if diga::owns(path) {
        diga::error::DigaError::too_large().into_response()
    } else {
        admin::too_large().into_response()
    }
}
