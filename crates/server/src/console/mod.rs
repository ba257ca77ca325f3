//! The web console under `/console`: server-rendered HTML for a customer and the operator, a
//! thin layer like a face. A page reads through the engine's queries; a form becomes one engine
//! command run with the signed-in credential's [`By`], and the outcome or the engine's refusal is
//! rendered in the page. Nothing here decides a rule.
//!
//! Sign-in takes an account's Vobiz auth id and token (checked by [`Engine::authenticate`], the
//! API's rule) or the operator's admin token, and opens a server-side session
//! ([`didpool_core::console`]): the cookie carries a random id (`HttpOnly; SameSite=Strict;
//! Path=/console`, and `Secure` when the request came over TLS: `X-Forwarded-Proto: https` from
//! the proxy in front, or always with `--console-secure-cookie`). Every form carries the
//! session's CSRF token (derived from the session id, compared in constant time) and must come
//! from this origin (`Origin`, `Sec-Fetch-Site`); anything else is a `403`. Failed sign-ins are
//! throttled by the client address like the APIs' failed authentication ([`crate::limits`]).
//!
//! [`Engine::authenticate`]: didpool_core::Engine::authenticate

mod pages;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use didpool_core::console::{LiveSession, SessionLifetime};
use didpool_core::engine::By;
use didpool_core::{Account, EngineError};
use maud::Markup;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::http::RequestId;

pub use pages::{failure_page, not_found, problem};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "didpool_console";

/// How the console keeps its sessions and cookies (`serve --console-…`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleConfig {
    /// The idle and absolute lifetimes of a session.
    pub lifetime: SessionLifetime,
    /// Mark the cookie `Secure` on every answer, not only behind a proxy that says
    /// `X-Forwarded-Proto: https`.
    pub secure_cookie: bool,
}

/// The console's routes, under `/console`.
pub fn router() -> Router<AppState> {
    pages::routes()
        .route("/assets/console.css", get(css))
        .route("/assets/console.js", get(js))
}

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

/// The headers of every console page: never cached, never framed, only our own scripts.
pub(crate) fn secure_headers(h: &mut HeaderMap) {
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
}

/// An HTML answer with `status` and the console's headers.
pub(crate) fn html(status: StatusCode, markup: Markup) -> Response {
    let mut res = (status, markup).into_response();
    secure_headers(res.headers_mut());
    res
}

/// A `303 See Other` to `to` (after a form: the page shows the outcome; a reload does not post
/// again).
pub fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(LOCATION, v);
    }
    secure_headers(res.headers_mut());
    res
}

/// The session id in the request's cookie, if any.
fn cookie_session(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Whether the request reached the proxy in front of didpool over TLS.
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("https")
        })
}

/// The `Set-Cookie` value that carries `id` (or, with `None`, removes the cookie).
pub(crate) fn session_cookie(id: Option<&str>, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = match id {
        Some(id) => format!("{COOKIE_NAME}={id}; Path=/console; HttpOnly; SameSite=Strict{secure}"),
        None => {
            format!("{COOKIE_NAME}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
        }
    };
    HeaderValue::from_str(&value).expect("a cookie of URL-safe characters")
}

/// The CSRF token of the session `id`: a hash of it under its own label, so it is fixed for the
/// session, never kept, and cannot be derived from the stored hash of the id.
pub(crate) fn csrf_token(id: &str) -> String {
    let digest = Sha256::digest(format!("didpool-console-csrf:{id}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the cookie of an answer should be `Secure`.
pub(crate) fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.console.secure_cookie || over_tls(headers)
}

/// The signed-in user of a console page: who acts, and the session's CSRF token.
pub struct Console {
    pub by: By,
    /// The account signed in; `None` for the operator.
    pub account: Option<Account>,
    pub csrf: String,
    /// Whether the server runs in sandbox mode (the operator's clock page).
    pub sandbox: bool,
}

impl Console {
    pub fn is_operator(&self) -> bool {
        self.account.is_none()
    }

    /// Whether the account signed in is a master account (it has money and sub-accounts).
    pub fn is_master(&self) -> bool {
        self.account.as_ref().is_some_and(Account::is_master)
    }
}

/// The session of a request: the console, or the answer that sends the browser to sign in.
async fn session(parts: &mut Parts, state: &AppState) -> Result<Console, Response> {
    let to_sign_in = || {
        // Inside `/console` the router sees the path without its prefix; the original has it.
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or(&parts.uri, |o| &o.0);
        let next = uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| p.starts_with("/console") && !p.starts_with("/console/sign-"))
            .unwrap_or("/console/numbers");
        let mut res = see_other(&format!(
            "/console/sign-in?expired=1&next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ));
        res.headers_mut().insert(
            SET_COOKIE,
            session_cookie(None, secure(state, &parts.headers)),
        );
        res
    };
    let Some(id) = cookie_session(&parts.headers) else {
        return Err(to_sign_in());
    };
    let live = state
        .engine
        .console_session(
            &id,
            state.console.lifetime,
            state.admin_token.as_deref(),
            chrono::Utc::now(),
        )
        .await
        .map_err(|e| pages::failure_page(&e))?;
    let Some(LiveSession {
        account,
        credential,
        ..
    }) = live
    else {
        return Err(to_sign_in());
    };
    let RequestId(request_id) = RequestId::from_request_parts(parts, state)
        .await
        .unwrap_or(RequestId(None));
    let by = match (&account, credential) {
        (Some(a), Some(c)) => By::account(a, request_id).with_credential(c.id),
        _ => By::operator(request_id),
    };
    Ok(Console {
        by,
        account,
        csrf: csrf_token(&id),
        sandbox: state.sandbox_clock.is_some(),
    })
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        session(parts, state).await
    }
}

/// A form's fields in order (a field may repeat: the numbers of a bulk action).
#[derive(Debug, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, trimmed; `None` when missing or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.trim())
    }
}

/// Whether a form was sent from this origin: `Sec-Fetch-Site` (when the browser sends it) is
/// `same-origin`, and `Origin` (when sent) names the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    let Some(origin) = headers.get("origin") else {
        return true;
    };
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(HOST))
        .and_then(|v| v.to_str().ok());
    let origin = origin.to_str().unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// A posted form of a signed-in user: its origin and CSRF token checked (`403` otherwise).
pub struct Posted {
    pub console: Console,
    pub form: Fields,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let console = session(&mut parts, state).await?;
        if !same_origin(&parts.headers) {
            return Err(pages::forbidden(
                "This form was not sent from this console.",
            ));
        }
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| {
                pages::problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Too large",
                    "The form is larger than 64 KiB.",
                )
            })?;
        let form = Fields::parse(&bytes);
        let given = form.get("csrf").unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(console.csrf.as_bytes())) {
            return Err(pages::forbidden(
                "This form's security token is missing or wrong. Reload the page and try again.",
            ));
        }
        Ok(Posted { console, form })
    }
}

/// The HTTP status a refusal of the engine is shown with.
pub(crate) fn status_of(e: &EngineError) -> StatusCode {
    use EngineError as E;
    match e {
        E::Invalid(_) => StatusCode::BAD_REQUEST,
        E::NumberNotFound
        | E::TrunkNotFound
        | E::AccountNotFound
        | E::SubAccountNotFound
        | E::CredentialNotFound
        | E::EndpointNotFound
        | E::EventNotFound
        | E::JobNotFound
        | E::NotInInventory => StatusCode::NOT_FOUND,
        E::NotOwner | E::Forbidden(_) | E::ForceRequiresAdmin => StatusCode::FORBIDDEN,
        E::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        E::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::CONFLICT,
    }
}

/// How often [`prune`] deletes dead console sessions.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Deletes the console sessions dead under `lifetime`, every minute, until told to stop (each
/// is also deleted when it is next presented; this removes those never presented again).
pub async fn prune(
    engine: didpool_core::Engine,
    lifetime: SessionLifetime,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match engine
            .prune_console_sessions(lifetime, chrono::Utc::now())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!(pruned = n, "deleted dead console sessions"),
            Err(e) => tracing::warn!(error = %e, "pruning console sessions failed; retrying"),
        }
    }
}
