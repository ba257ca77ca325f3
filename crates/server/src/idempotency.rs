//! `Idempotency-Key` on every mutating route of every face and the admin API, as Stripe and
//! Telnyx have it: the first answer to a key is kept and replayed (with `Idempotent-Replayed:
//! true`) for the retention; the same key with another query or body is a 422; while the first
//! request runs, a retry waits for its answer (at most `--idempotency-wait`, [`DEFAULT_WAIT`]), then is a 409. Each
//! refusal is in the shape of the face the request was sent to.
//!
//! A key is scoped on the credential the request authenticates with (the route's own extractor
//! decides; a request that does not authenticate runs as if it had no key and gets the route's
//! 401), the method and the path. The claim and the answer are written here; the commands the
//! request runs commit with their outcomes under the claim ([`didpool_core::idempotency`]), so a
//! request retried after a crash is answered from what committed, never run twice. A request that
//! fails on the server's side (5xx) keeps no answer: its claim is released and a retry runs again.

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use didpool_core::idempotency::MAX_KEY_LEN;
use didpool_core::idempotency::{check_key, Claim, KeyRequest, KeyUse, StoredAnswer};
use didpool_core::EngineError;
use sha2::{Digest, Sha256};

use crate::app::{AppState, BODY_LIMIT};
use crate::faces::admin::{AdminError, Operator};
use crate::faces::agni::error::AgniError;
use crate::faces::diga::error::DigaError;
use crate::faces::vobiz::error::VobizError;
use crate::faces::{self, agni, diga, face_of, vobiz, Face};
use crate::limits::Counted;

/// The request header.
pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// On a replayed answer: `true` (Stripe's header).
pub static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long answers are kept and replayed unless configured (`--idempotency-retention`): 24 h,
/// as Stripe keeps them.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// How long a retry waits for the request that holds its key to answer before it is a 409,
/// unless configured (`--idempotency-wait`).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// The metric counting answers replayed, labelled by face.
pub const REPLAYS_METRIC: &str = "didpool_idempotent_replays_total";

/// Headers of an answer that are not kept: they describe the connection or the moment, not the
/// answer (the request id is the retry's own).
const NOT_KEPT: &[&str] = &[
    "connection",
    "content-length",
    "date",
    "keep-alive",
    "transfer-encoding",
    "x-request-id",
    "retry-after",
    "ratelimit",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-policy",
];

/// The claim a request runs under, for the face's auth extractor to put on its
/// [`By`](didpool_core::engine::By).
pub fn key_use(parts: &Parts) -> Option<KeyUse> {
    parts.extensions.get::<KeyUse>().cloned()
}

impl Face {
    fn name(self) -> &'static str {
        match self {
            Face::Vobiz => "vobiz",
            Face::Agni => "agni",
            Face::Diga => "diga",
            Face::Admin => "admin",
            Face::Console => "console",
        }
    }

    /// Whose keys the request uses: the credential the route's own extractor authenticates.
    /// The route's extractor then counts nothing again for the rate limits ([`Counted`]).
    async fn scope(self, parts: &mut Parts, state: &AppState) -> Option<String> {
        let by = match self {
            Face::Vobiz => vobiz::auth::Caller::from_request_parts(parts, state)
                .await
                .map(|c| c.by)
                .ok(),
            Face::Agni => agni::auth::Caller::from_request_parts(parts, state)
                .await
                .map(|c| c.by)
                .ok(),
            Face::Diga => diga::auth::Caller::from_request_parts(parts, state)
                .await
                .map(|c| c.by)
                .ok(),
            Face::Admin => Operator::from_request_parts(parts, state)
                .await
                .map(|o| o.0)
                .ok(),
            // Not under this layer (its forms carry CSRF tokens, not keys).
            Face::Console => None,
        };
        parts.extensions.insert(Counted {
            admitted: by.is_some(),
        });
        Some(by?.key_scope())
    }

    fn refuse(self, refusal: Refusal) -> Response {
        let (status, message) = match refusal {
            Refusal::BadKey(ref why) => (StatusCode::BAD_REQUEST, why.clone()),
            Refusal::Mismatch => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "this Idempotency-Key was already used with another request (method, path, query or body); use a new key".to_owned(),
            ),
            Refusal::InFlight => (
                StatusCode::CONFLICT,
                "a request with this Idempotency-Key is still being processed; retry later".to_owned(),
            ),
        };
        match self {
            Face::Vobiz => {
                let error = match refusal {
                    Refusal::BadKey(_) => "invalid request",
                    Refusal::Mismatch => "idempotency key reused",
                    Refusal::InFlight => "idempotency key in use",
                };
                VobizError::new(status, error, message).into_response()
            }
            Face::Agni => AgniError::new(status, capitalise(&message)).into_response(),
            Face::Diga => {
                let code = match refusal {
                    Refusal::BadKey(_) => "INVALID_IDEMPOTENCY_KEY",
                    Refusal::Mismatch => "IDEMPOTENCY_KEY_REUSED",
                    Refusal::InFlight => "IDEMPOTENCY_KEY_IN_USE",
                };
                DigaError::new(status, code, capitalise(&message)).into_response()
            }
            Face::Admin => {
                let code = match refusal {
                    Refusal::BadKey(_) => "invalid_request",
                    Refusal::Mismatch => "idempotency_key_reused",
                    Refusal::InFlight => "idempotency_key_in_use",
                };
                AdminError::new(status, code, message).into_response()
            }
            Face::Console => crate::console::problem(status, "Refused", &message),
        }
    }

    fn internal(self, e: &EngineError) -> Response {
        match self {
            Face::Vobiz => VobizError::internal(e).into_response(),
            Face::Agni => {
                AgniError::internal(EngineError::Storage(e.to_string().into())).into_response()
            }
            Face::Diga => DigaError::internal(e).into_response(),
            Face::Admin => {
                AdminError::from(EngineError::Storage(e.to_string().into())).into_response()
            }
            Face::Console => crate::console::failure_page(e),
        }
    }
}

#[derive(Debug, Clone)]
enum Refusal {
    BadKey(String),
    Mismatch,
    InFlight,
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The layer on every route: requests that mutate and carry a key run under it.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mutates = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(raw) = req.headers().get(&IDEMPOTENCY_KEY).filter(|_| mutates) else {
        return next.run(req).await;
    };
    let face = face_of(req.uri().path());
    if face == Face::Console {
        return next.run(req).await;
    }
    let key = match raw
        .to_str()
        .map_err(|_| ())
        .and_then(|k| check_key(k).map_err(|_| ()))
    {
        Ok(key) => key.to_owned(),
        Err(()) => {
            let why = match raw.to_str().map(check_key) {
                Ok(Err(e)) => e.to_string(),
                _ => "the Idempotency-Key header must be printable ASCII".to_owned(),
            };
            return face.refuse(Refusal::BadKey(why));
        }
    };
    let (mut parts, body) = req.into_parts();
    let Some(scope) = face.scope(&mut parts, &state).await else {
        // Not authenticated: the route answers its own 401, and nothing is kept.
        return next.run(Request::from_parts(parts, body)).await;
    };
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return faces::too_large(parts.uri.path());
    };
    let request = KeyRequest {
        scope,
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        key,
        fingerprint: fingerprint(parts.uri.query(), &bytes),
    };
    let claimed = match claim(&state, &request).await {
        Ok(Ok(claimed)) => claimed,
        Ok(Err(Answer::Replay(answer))) => {
            metrics::counter!(REPLAYS_METRIC, "face" => face.name()).increment(1);
            return replay(answer);
        }
        Ok(Err(Answer::Refuse(refusal))) => return face.refuse(refusal),
        Err(e) => return face.internal(&e),
    };
    parts.extensions.insert(claimed.clone());
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if res.status().is_server_error() {
        if let Err(e) = state.engine.release_key(&claimed).await {
            tracing::warn!(error = %e, "an idempotency key could not be released; it frees itself when its lease ends");
        }
        return res;
    }
    let (head, body) = res.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => {
            let _ = state.engine.release_key(&claimed).await;
            return face.internal(&EngineError::storage(e));
        }
    };
    let answer = StoredAnswer {
        status: head.status.as_u16(),
        headers: head
            .headers
            .iter()
            .filter(|(name, _)| !NOT_KEPT.contains(&name.as_str()))
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
    };
    if let Err(e) = state.engine.finish_key(&claimed, &answer).await {
        // What committed did; a retry runs again and is answered from the commands' records.
        tracing::warn!(error = %e, "the answer to an idempotency key could not be kept");
        let _ = state.engine.release_key(&claimed).await;
    }
    Response::from_parts(head, Body::from(body))
}

enum Answer {
    Replay(StoredAnswer),
    Refuse(Refusal),
}

/// Claims the key; a key in flight is asked again, with a growing pause, until it is answered
/// or the configured wait has passed.
async fn claim(
    state: &AppState,
    request: &KeyRequest,
) -> Result<Result<KeyUse, Answer>, EngineError> {
    let retention = state.key_retention;
    let deadline = tokio::time::Instant::now() + state.key_wait;
    let mut pause = Duration::from_millis(2);
    loop {
        return Ok(match state.engine.claim_key(request, retention).await? {
            Claim::Run(key) => Ok(key),
            Claim::Replay(answer) => Err(Answer::Replay(answer)),
            Claim::Mismatch => Err(Answer::Refuse(Refusal::Mismatch)),
            Claim::InFlight if tokio::time::Instant::now() + pause < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
                continue;
            }
            Claim::InFlight => Err(Answer::Refuse(Refusal::InFlight)),
        });
    }
}

/// What a request asks besides its method and path: its query and body, digested (SHA-256,
/// hex): the same key with another fingerprint is a 422.
pub fn fingerprint(query: Option<&str>, body: &[u8]) -> String {
    let mut digest = Sha256::new();
    digest.update(query.unwrap_or("").as_bytes());
    digest.update([0]);
    digest.update(body);
    digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn replay(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut res = (status, answer.body).into_response();
    let headers = res.headers_mut();
    headers.remove(axum::http::header::CONTENT_TYPE);
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert(
        IDEMPOTENT_REPLAYED.clone(),
        HeaderValue::from_static("true"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_belongs_to_its_face() {
        assert_eq!(face_of("/api/v1/phone-numbers/buy"), Face::Agni);
        assert_eq!(
            face_of("/api/v1/Account/MA_X/numbers/purchase-from-inventory"),
            Face::Vobiz
        );
        assert_eq!(face_of("/v1/phone/import"), Face::Diga);
        assert_eq!(face_of("/admin/v1/accounts"), Face::Admin);
        assert_eq!(face_of("/console"), Face::Console);
        assert_eq!(face_of("/console/numbers/%2B918041100000"), Face::Console);
        assert_eq!(face_of("/consoles"), Face::Admin);
    }

    #[test]
    fn the_fingerprint_tells_query_from_body() {
        assert_ne!(fingerprint(Some("a=1"), b""), fingerprint(None, b"a=1"));
        assert_eq!(fingerprint(None, b"{}"), fingerprint(Some(""), b"{}"));
    }
}
