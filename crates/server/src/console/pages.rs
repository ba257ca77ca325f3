//! The console's pages: each reads through the engine's queries or runs one engine command,
//! and renders the outcome or the engine's refusal in the page.

// A page's early answer (a refusal, a redirect) is the `Response` itself, once per request.
#![allow(clippy::result_large_err)]

use std::str::FromStr;

use axum::extract::{Path, Query, Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, NaiveDate, Utc};
use didpool_core::account::{AccountProfile, NewAccount, Role};
use didpool_core::audit::NumberEvent;
use didpool_core::console::SessionOwner;
use didpool_core::credential::{CredentialKind, TokenHash};
use didpool_core::ledger::{EntryKind, LedgerEntry};
use didpool_core::lifecycle::{ClockMove, Command, ReleaseMode};
use didpool_core::money::{Currency, Decimal};
use didpool_core::store::{Holder, LedgerQuery, NumberQuery, SubAccountQuery};
use didpool_core::{
    AccountId, EngineError, Number, NumberRef, NumberState, Sight, Trunk, TrunkId, E164,
};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{html as page_response, see_other, session_cookie, Console, Fields, Posted};
use crate::app::AppState;

/// Numbers on one page of a list.
const PAGE_SIZE: u32 = 50;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { see_other("/console/numbers") }))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/numbers", get(numbers))
        .route("/find", get(find))
        .route("/numbers/{e164}", get(number_page))
        .route("/numbers/{e164}/trunk", post(set_trunk))
        .route("/numbers/{e164}/sub-account", post(set_sub_account))
        .route(
            "/numbers/{e164}/release",
            get(release_confirm).post(release),
        )
        .route("/numbers/{e164}/cancel-release", post(cancel_release))
        .route("/numbers/{e164}/release-lock", post(set_lock))
        .route("/jobs", get(jobs_page).post(create_job))
        .route("/jobs/{id}", get(job_page))
        .route("/jobs/{id}/progress", get(job_progress))
        .route("/jobs/{id}/cancel", post(cancel_job))
        .route("/buy", get(buy_page).post(buy))
        .route("/money", get(money_page))
        .route("/money.csv", get(money_csv))
        .route("/accounts", get(accounts_page).post(create_account))
        .route("/accounts/{id}", get(account_page))
        .route("/accounts/{id}/top-up", post(top_up))
        .route("/accounts/{id}/rotate-token", post(rotate_token))
        .route("/accounts/{id}/enabled", post(set_enabled))
        .route("/inventory", get(inventory_page).post(import_inventory))
        .route("/check", get(check_page))
        .route("/sandbox", get(sandbox_page).post(sandbox_move))
}

// ---------------------------------------------------------------------------------------------
// Layout and shared pieces

fn layout(title: &str, who: Option<&Console>, body: Markup) -> Markup {
    layout_with(title, who, body, html! {})
}

/// [`layout`] with more in the page's head (a job page's refresh for browsers without JS).
fn layout_with(title: &str, who: Option<&Console>, body: Markup, head: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · didpool console" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
                (head)
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/console" { "didpool" }
                    @if let Some(c) = who {
                        nav aria-label="Console" {
                            ul {
                                @if c.is_operator() {
                                    li { a href="/console/numbers" { "Inventory" } }
                                    li { a href="/console/accounts" { "Accounts" } }
                                    li { a href="/console/inventory" { "Import" } }
                                    li { a href="/console/check" { "Check" } }
                                    li { a href="/console/jobs" { "Jobs" } }
                                    @if c.sandbox { li { a href="/console/sandbox" { "Sandbox" } } }
                                } @else {
                                    li { a href="/console/numbers" { "Numbers" } }
                                    li { a href="/console/buy" { "Buy" } }
                                    li { a href="/console/jobs" { "Bulk jobs" } }
                                    @if c.is_master() { li { a href="/console/money" { "Money" } } }
                                }
                            }
                        }
                        form.signout method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(c.csrf);
                            span.who { (who_label(c)) }
                            " "
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
                footer { p { "didpool web console" } }
            }
        }
    }
}

fn who_label(c: &Console) -> String {
    match &c.account {
        Some(a) => format!("{} ({})", a.name, a.id),
        None => "Operator".into(),
    }
}

fn page(c: &Console, title: &str, body: Markup) -> Response {
    page_response(StatusCode::OK, layout(title, Some(c), body))
}

fn notice(msg: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = msg { p.notice role="status" { (m) } }
    }
}

fn alert(msg: &str) -> Markup {
    html! { div.alert role="alert" { p { (msg) } } }
}

fn csrf(c: &Console) -> Markup {
    html! { input type="hidden" name="csrf" value=(c.csrf); }
}

/// What a refusal of the engine says to a person.
pub(super) fn explain(e: &EngineError) -> String {
    match e {
        EngineError::CoolOffInEffect { until, .. } => format!(
            "This number carried a call recently: it can be taken back from the sub-account, \
             and is available again on {}.",
            when(*until)
        ),
        EngineError::Storage(_) => {
            "Something went wrong on the server; nothing was changed.".into()
        }
        EngineError::Unavailable(_) => {
            "The database cannot take changes right now; try again in a moment.".into()
        }
        e => {
            let s = e.to_string();
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str() + ".",
                None => s,
            }
        }
    }
}

pub fn problem(status: StatusCode, title: &str, msg: &str) -> Response {
    page_response(
        status,
        layout(
            title,
            None,
            html! { (alert(msg)) p { a href="/console" { "Back to the console" } } },
        ),
    )
}

pub(super) fn forbidden(msg: &str) -> Response {
    problem(StatusCode::FORBIDDEN, "Forbidden", msg)
}

pub fn failure_page(e: &EngineError) -> Response {
    if matches!(e, EngineError::Storage(_)) {
        tracing::error!(error = %e, "console");
    }
    problem(super::status_of(e), "Could not do that", &explain(e))
}

/// The `404` of a path under `/console` no page takes.
pub async fn not_found(uri: Uri) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Not found",
        &format!("There is no page at {}.", uri.path()),
    )
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn opt_when(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "—".into(), when)
}

fn amount(amount: Decimal, currency: &Currency) -> String {
    format!("{} {currency}", amount.round_dp(4).normalize())
}

/// The console path of a number (its `+` escaped, so it is never read as a space).
fn number_path(e164: &E164) -> String {
    format!("/console/numbers/{}", e164.as_str().replace('+', "%2B"))
}

fn state_label(s: NumberState) -> &'static str {
    match s {
        NumberState::Available => "Available",
        NumberState::Reserved => "Reserved",
        NumberState::PendingVerification => "Awaiting verification",
        NumberState::Active => "Active",
        NumberState::PendingRelease => "Release pending",
        NumberState::Quarantined => "Quarantined",
        NumberState::Deleted => "Deleted",
    }
}

fn parse_e164(st: &AppState, raw: &str) -> Result<E164, Response> {
    st.engine.parse_number(raw).map_err(|e| {
        problem(
            StatusCode::BAD_REQUEST,
            "Not a phone number",
            &format!("{raw:?} is not a phone number: {e}."),
        )
    })
}

/// A query string's fields.
#[derive(Debug, Default, Deserialize)]
struct Q {
    state: Option<String>,
    country: Option<String>,
    trunk: Option<String>,
    sub: Option<String>,
    q: Option<String>,
    page: Option<u32>,
    /// Numbers a page (the bulk selection): 50, 100, 200 or 500.
    per: Option<u32>,
    done: Option<String>,
    from: Option<String>,
    to: Option<String>,
    kind: Option<String>,
    next: Option<String>,
    expired: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// What a flash code in `?done=` says.
fn done_message(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "bought" => "Bought. The number is yours and billing has started.",
        "assigned" => "Assigned to the trunk.",
        "unassigned" => "Taken off its trunk.",
        "handed" => "Handed to the sub-account.",
        "taken" => "Taken back from the sub-account.",
        "released" => "Released. Billing and routing have stopped.",
        "pending" => {
            "Release requested: it takes effect at the time shown, and can be cancelled until then."
        }
        "cancelled" => "The release was cancelled.",
        "topped" => "The account was credited.",
        "disabled" => "The account is disabled: its credentials no longer work.",
        "enabled" => "The account is enabled again.",
        "locked" => "Locked against release: no release can happen until it is unlocked.",
        "unlocked" => "The release lock is off.",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Sign in and out

async fn sign_in_page(Query(q): Query<Q>) -> Response {
    sign_in_form(
        StatusCode::OK,
        nonempty(&q.next),
        nonempty(&q.expired).map(|_| "Your session has ended. Sign in again."),
        None,
    )
}

fn sign_in_form(
    status: StatusCode,
    next: Option<&str>,
    info: Option<&str>,
    error: Option<&str>,
) -> Response {
    let body = html! {
        (notice(info))
        @if let Some(e) = error { (alert(e)) }
        form.card method="post" action="/console/sign-in" {
            input type="hidden" name="next" value=(next.unwrap_or("/console/numbers"));
            div.field {
                label for="auth_id" { "Auth ID" }
                input #auth_id name="auth_id" type="text" autocomplete="username"
                    aria-describedby="auth_id_help" spellcheck="false";
                p #auth_id_help .help { "Your account's Vobiz auth ID (MA_… or SA_…). The operator leaves it empty and gives the admin token." }
            }
            div.field {
                label for="auth_token" { "Auth token" }
                input #auth_token name="auth_token" type="password" autocomplete="current-password" required;
            }
            button type="submit" { "Sign in" }
        }
    };
    page_response(status, layout("Sign in", None, body))
}

/// Only a console path is a place to go after signing in (never another site).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/console/") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/console/numbers",
    }
}

async fn sign_in(State(st): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if !super::same_origin(&parts.headers) {
        return forbidden("This form was not sent from this console.");
    }
    let limits = st.limits.of(&parts);
    if let Err(backoff) = limits.check_address() {
        let mut res = sign_in_form(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            None,
            Some(&format!(
                "Too many failed sign-ins from your address. Try again in {} seconds.",
                backoff.seconds()
            )),
        );
        backoff.apply(res.headers_mut());
        return res;
    }
    let Ok(bytes) = axum::body::to_bytes(body, crate::app::BODY_LIMIT).await else {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too large",
            "The form is too large.",
        );
    };
    let form = Fields::parse(&bytes);
    let next = safe_next(form.get("next")).to_owned();
    let token = form.get("auth_token").unwrap_or("");
    let owner = match form.get("auth_id") {
        Some(id) => match AccountId::parse(id) {
            Ok(id) => st
                .engine
                .authenticate(CredentialKind::Vobiz, token, Some(&id))
                .await
                .map(|found| {
                    found.map(|(a, c)| SessionOwner::Account {
                        account: a.id,
                        credential: c.id,
                    })
                }),
            Err(_) => Ok(None),
        },
        None => Ok(st.admin_token.as_deref().and_then(|expected| {
            bool::from(token.as_bytes().ct_eq(expected.as_bytes())).then(|| {
                SessionOwner::Operator {
                    token_hash: TokenHash::of(expected),
                }
            })
        })),
    };
    let owner = match owner {
        Ok(Some(o)) => o,
        Ok(None) => {
            if let Some(backoff) = limits.failed() {
                let mut res = sign_in_form(
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(&next),
                    None,
                    Some(&format!(
                        "Too many failed sign-ins from your address. Try again in {} seconds.",
                        backoff.seconds()
                    )),
                );
                backoff.apply(res.headers_mut());
                return res;
            }
            return sign_in_form(
                StatusCode::UNAUTHORIZED,
                Some(&next),
                None,
                Some("That auth ID and token do not match a live credential."),
            );
        }
        Err(e) => return failure_page(&e),
    };
    match st
        .engine
        .open_console_session(owner, chrono::Utc::now())
        .await
    {
        Ok(id) => {
            let mut res = see_other(&next);
            res.headers_mut().insert(
                SET_COOKIE,
                session_cookie(Some(&id), super::secure(&st, &parts.headers)),
            );
            res
        }
        Err(e) => failure_page(&e),
    }
}

async fn sign_out(State(st): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers.clone();
    let posted = match Posted::from_request(Request::from_parts(parts, body), &st).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let _ = posted;
    if let Some(id) = super::cookie_session(&headers) {
        if let Err(e) = st.engine.end_console_session(&id).await {
            return failure_page(&e);
        }
    }
    let mut res = see_other("/console/sign-in");
    res.headers_mut().insert(
        SET_COOKIE,
        session_cookie(None, super::secure(&st, &headers)),
    );
    res
}

use axum::extract::FromRequest as _;

// ---------------------------------------------------------------------------------------------
// Numbers

fn query_string(pairs: &[(&str, Option<&str>)], page: u32) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            s.append_pair(k, v);
        }
    }
    if page > 1 {
        s.append_pair("page", &page.to_string());
    }
    s.finish()
}

async fn numbers(State(st): State<AppState>, c: Console, Query(q): Query<Q>) -> Response {
    let page_no = q.page.unwrap_or(1).clamp(1, 100_000);
    let per = match q.per {
        Some(n @ (100 | 200 | 500)) => n,
        _ => PAGE_SIZE,
    };
    let (holder, title) = match &c.account {
        None => (Holder::Nobody, "Inventory"),
        Some(a) if a.is_master() => (Holder::Family(a.id.clone()), "Numbers"),
        Some(a) => (Holder::Account(a.id.clone()), "Numbers"),
    };
    let mut error = None;
    let states = match nonempty(&q.state) {
        Some(s) => match NumberState::parse(s) {
            Some(s) => vec![s],
            None => {
                error = Some(format!("{s:?} is not a state."));
                vec![]
            }
        },
        None if c.is_operator() => vec![NumberState::Available],
        None => vec![],
    };
    let mut query = NumberQuery::new(holder, states);
    query.country = nonempty(&q.country).map(str::to_ascii_uppercase);
    query.search = nonempty(&q.q)
        .map(|s| s.chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|s| !s.is_empty());
    if let Some(t) = nonempty(&q.trunk) {
        match TrunkId::parse(t) {
            Ok(t) => query.trunk = Some(t),
            Err(_) => error = Some("That trunk is not one of yours.".into()),
        }
    }
    if let Some(s) = nonempty(&q.sub) {
        match AccountId::parse(s) {
            Ok(s) if c.is_master() => query.owner = Some(s),
            _ => error = Some("That sub-account is not one of yours.".into()),
        }
    }
    query.limit = per;
    query.offset = u64::from(page_no - 1) * u64::from(per);
    let trunks = if c.is_operator() {
        vec![]
    } else {
        st.engine
            .trunks(&c.by, 100, 0)
            .await
            .map(|p| p.items)
            .unwrap_or_default()
    };
    let subs = if c.is_master() {
        st.engine
            .sub_accounts(
                &c.by,
                &SubAccountQuery {
                    active_only: false,
                    limit: 100,
                    offset: 0,
                },
            )
            .await
            .map(|p| p.items)
            .unwrap_or_default()
    } else {
        vec![]
    };
    let found = if error.is_none() {
        match st.engine.numbers(&c.by, &query).await {
            Ok(p) => Some(p),
            Err(e) => {
                error = Some(explain(&e));
                None
            }
        }
    } else {
        None
    };
    let filters: Vec<(&str, Option<&str>)> = vec![
        ("state", nonempty(&q.state)),
        ("country", nonempty(&q.country)),
        ("trunk", nonempty(&q.trunk)),
        ("sub", nonempty(&q.sub)),
        ("q", nonempty(&q.q)),
    ];
    let per_text = per.to_string();
    let mut filters = filters;
    if per != PAGE_SIZE {
        filters.push(("per", Some(per_text.as_str())));
    }
    let trunk_name = |id: Option<TrunkId>| -> String {
        id.map_or_else(
            || "—".into(),
            |id| {
                trunks
                    .iter()
                    .find(|t| t.id == id)
                    .map_or_else(|| id.to_string(), |t| t.name.clone())
            },
        )
    };
    let body = html! {
        (notice(done_message(nonempty(&q.done))))
        @if let Some(e) = &error { (alert(e)) }
        @if c.is_operator() {
            form.inline method="get" action="/console/find" role="search" aria-label="Find a number" {
                div.field {
                    label for="find_e164" { "Open a number" }
                    input #find_e164 name="e164" type="text" inputmode="tel" placeholder="+9180…";
                }
                button type="submit" { "Open" }
            }
        }
        form.filters method="get" action="/console/numbers" role="search" aria-label="Filter numbers" {
            div.field {
                label for="f_state" { "State" }
                select #f_state name="state" {
                    option value="" { "Any" }
                    @for s in NumberState::ALL {
                        option value=(s.as_str()) selected[nonempty(&q.state) == Some(s.as_str())] { (state_label(s)) }
                    }
                }
            }
            div.field {
                label for="f_country" { "Country" }
                input #f_country name="country" type="text" maxlength="2" size="3" value=(q.country.as_deref().unwrap_or("")) placeholder="IN";
            }
            @if !c.is_operator() {
                div.field {
                    label for="f_trunk" { "Trunk" }
                    select #f_trunk name="trunk" {
                        option value="" { "Any" }
                        @for t in &trunks {
                            option value=(t.id) selected[nonempty(&q.trunk) == Some(t.id.to_string().as_str())] { (t.name) }
                        }
                    }
                }
            }
            @if c.is_master() {
                div.field {
                    label for="f_sub" { "Held by" }
                    select #f_sub name="sub" {
                        option value="" { "Anyone" }
                        @for s in &subs {
                            option value=(s.id) selected[nonempty(&q.sub) == Some(s.id.as_str())] { (s.name) " (" (s.id) ")" }
                        }
                    }
                }
            }
            div.field {
                label for="f_q" { "Digits" }
                input #f_q name="q" type="search" inputmode="numeric" value=(q.q.as_deref().unwrap_or(""));
            }
            div.field {
                label for="f_per" { "Show" }
                select #f_per name="per" {
                    @for n in [50u32, 100, 200, 500] {
                        option value=(n) selected[n == per] { (n) " a page" }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        @if let Some(p) = &found {
            p #count { (p.total) " numbers" @if p.total > u64::from(per) { ", page " (page_no) } "." }
            @if p.items.is_empty() {
                p { "No numbers match." }
            } @else if c.is_operator() {
                (number_table(&c, &p.items, &trunk_name))
            } @else {
                form #bulk method="post" action="/console/jobs" aria-label="Bulk action on the selected numbers" {
                    (csrf(&c))
                    (number_table(&c, &p.items, &trunk_name))
                    (bulk_controls(&c, &trunks, &subs))
                }
            }
            nav.pager aria-label="Pages" {
                @if page_no > 1 {
                    a rel="prev" href={ "/console/numbers?" (query_string(&filters, page_no - 1)) } { "Previous page" }
                }
                @if u64::from(page_no) * u64::from(per) < p.total {
                    a rel="next" href={ "/console/numbers?" (query_string(&filters, page_no + 1)) } { "Next page" }
                }
            }
        }
    };
    page(&c, title, body)
}

fn number_table(
    c: &Console,
    items: &[Number],
    trunk_name: &dyn Fn(Option<TrunkId>) -> String,
) -> Markup {
    html! {
        div.scroll {
            table {
                caption.visually-hidden { "Numbers" }
                thead { tr {
                    @if !c.is_operator() {
                        th scope="col" {
                            span.visually-hidden { "Select" }
                            input #select_all type="checkbox" data-select-all hidden aria-label="Select every number on this page";
                        }
                    }
                    th scope="col" { "Number" }
                    th scope="col" { "State" }
                    th scope="col" { "Country" }
                    @if !c.is_operator() { th scope="col" { "Trunk" } th scope="col" { "Held by" } }
                    th scope="col" { "Monthly fee" }
                    @if !c.is_operator() { th scope="col" { "Next billing" } }
                } }
                tbody {
                    @for n in items {
                        tr {
                            @if !c.is_operator() {
                                td { input type="checkbox" name="number" value=(n.e164) aria-label={ "Select " (n.e164) }; }
                            }
                            td { a href=(number_path(&n.e164)) { (n.e164) } @if n.release_lock.is_some() { " " span.tag title="Locked against release" { "locked" } } }
                            td { (state_label(n.state)) }
                            td { (n.country) @if let Some(r) = &n.region { " · " (r) } }
                            @if !c.is_operator() {
                                td { (trunk_name(n.trunk_id)) }
                                td { (n.owner_id.as_ref().map_or("—".to_string(), ToString::to_string)) }
                            }
                            td.num { (amount(n.monthly_fee, &n.currency)) }
                            @if !c.is_operator() { td { (opt_when(n.next_billing_date)) } }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct Find {
    e164: Option<String>,
}

async fn find(State(st): State<AppState>, _c: Console, Query(f): Query<Find>) -> Response {
    match parse_e164(&st, f.e164.as_deref().unwrap_or("")) {
        Ok(e) => see_other(&number_path(&e)),
        Err(res) => res,
    }
}

/// The number page, with the outcome of a form (a refusal) when there is one.
async fn render_number(
    st: &AppState,
    c: &Console,
    e164: &E164,
    done: Option<&str>,
    refused: Option<&EngineError>,
) -> Response {
    let n = match st
        .engine
        .number(&c.by, &NumberRef::E164(e164.clone()), Sight::WithReleased)
        .await
    {
        Ok(n) => n,
        Err(e) => return failure_page(&e),
    };
    let timeline = st
        .engine
        .timeline(&c.by, &NumberRef::Id(n.id))
        .await
        .unwrap_or_default();
    let trunks: Vec<Trunk> = if c.is_operator() {
        vec![]
    } else {
        st.engine
            .trunks(&c.by, 100, 0)
            .await
            .map(|p| p.items)
            .unwrap_or_default()
    };
    let trunk = match n.trunk_id {
        Some(id) => st.engine.trunk(&c.by, id).await.ok(),
        None => None,
    };
    let subs = if c.is_master() {
        st.engine
            .sub_accounts(
                &c.by,
                &SubAccountQuery {
                    active_only: true,
                    limit: 100,
                    offset: 0,
                },
            )
            .await
            .map(|p| p.items)
            .unwrap_or_default()
    } else {
        vec![]
    };
    let me = c.account.as_ref().map(|a| &a.id);
    let mine =
        me.is_some_and(|m| n.owner_id.as_ref() == Some(m) || n.billing_id.as_ref() == Some(m));
    let held_by_sub = c.is_master() && n.owner_id.as_ref().is_some_and(|o| Some(o) != me);
    let admin_role = c.account.as_ref().is_some_and(|a| a.role == Role::Admin);
    let path = number_path(&n.e164);
    let status = refused.map_or(StatusCode::OK, super::status_of);
    let body = html! {
        (notice(done_message(done)))
        @if let Some(e) = refused { (alert(&explain(e))) }
        section aria-labelledby="h_summary" {
            h2 #h_summary { "Summary" }
            dl.facts {
                dt { "State" } dd #state { (state_label(n.state)) }
                dt { "Country" } dd { (n.country) @if let Some(r) = &n.region { " · " (r) } }
                dt { "Held by" } dd { (n.owner_id.as_ref().map_or("nobody".to_string(), ToString::to_string)) }
                dt { "Paid by" } dd { (n.billing_id.as_ref().map_or("nobody".to_string(), ToString::to_string)) }
            }
        }
        section aria-labelledby="h_routing" {
            h2 #h_routing { "Routing" }
            dl.facts {
                dt { "Trunk" }
                dd #trunk { @match &trunk { Some(t) => { (t.name) }, None => { "Not on a trunk: calls are not routed." } } }
                dt { "Last call" } dd { (opt_when(n.last_call_at)) }
            }
        }
        section aria-labelledby="h_billing" {
            h2 #h_billing { "Billing" }
            dl.facts {
                dt { "Monthly fee" } dd { (amount(n.monthly_fee, &n.currency)) }
                dt { "Setup fee" } dd { (amount(n.setup_fee, &n.currency)) }
                dt { "Bought" } dd { (opt_when(n.purchased_at)) }
                dt { "Last billed" } dd { (opt_when(n.last_billing_date)) }
                dt { "Next billing" } dd { (opt_when(n.next_billing_date)) }
                @if n.release_at.is_some() { dt { "Release takes effect" } dd { (opt_when(n.release_at)) } }
                @if n.released_at.is_some() { dt { "Released" } dd { (opt_when(n.released_at)) } }
                @if n.quarantine_until.is_some() { dt { "Quarantined until" } dd { (opt_when(n.quarantine_until)) } }
                @if let Some(f) = n.release_fee { dt { "Release fee" } dd { (amount(f, &n.currency)) } }
            }
        }
        @if (mine || c.is_operator()) && matches!(n.state, NumberState::Active | NumberState::PendingRelease) {
            section aria-labelledby="h_actions" {
                h2 #h_actions { "Actions" }
                @if !c.is_operator() && n.state == NumberState::Active {
                    form.card method="post" action={ (path) "/trunk" } {
                        (csrf(c))
                        div.field {
                            label for="trunk_id" { "Route calls to trunk" }
                            select #trunk_id name="trunk" {
                                @for t in &trunks { option value=(t.id) selected[n.trunk_id == Some(t.id)] { (t.name) } }
                            }
                        }
                        button type="submit" name="action" value="assign" disabled[trunks.is_empty()] { "Assign to trunk" }
                        @if n.trunk_id.is_some() {
                            " " button.secondary type="submit" name="action" value="unassign" { "Take off its trunk" }
                        }
                        @if trunks.is_empty() { p.help { "You have no trunks yet: create one through the API." } }
                    }
                    @if c.is_master() {
                        form.card method="post" action={ (path) "/sub-account" } {
                            (csrf(c))
                            @if held_by_sub {
                                p { "Held by the sub-account " (n.owner_id.as_ref().map(ToString::to_string).unwrap_or_default()) "." }
                                @if admin_role {
                                    div.check {
                                        input #force type="checkbox" name="force" value="true";
                                        label for="force" { "Force: take it back during the cool-off (recorded in the audit trail)" }
                                    }
                                }
                                button type="submit" name="action" value="take-back" { "Take back from the sub-account" }
                            } @else {
                                div.field {
                                    label for="sub_id" { "Hand to sub-account" }
                                    select #sub_id name="sub" {
                                        @for s in &subs { option value=(s.id) { (s.name) " (" (s.id) ")" } }
                                    }
                                }
                                button type="submit" name="action" value="hand" disabled[subs.is_empty()] { "Hand over" }
                            }
                        }
                    }
                    @if n.release_lock.is_none() {
                        p { a.button.danger href={ (path) "/release" } { "Release this number…" } }
                    } @else {
                        p { "Locked against release: unlock it to release it." }
                    }
                }
                @if !c.is_operator() || n.release_lock.is_some() {
                    form.card method="post" action={ (path) "/release-lock" } {
                        (csrf(c))
                        @match &n.release_lock {
                            Some(lock) => {
                                p #lock { "Locked against release by " (lock.by.label()) " on " (when(lock.at))
                                    @if let Some(r) = &lock.reason { ": " (r) } "." }
                                button type="submit" name="action" value="unlock" { "Unlock" }
                            }
                            None => {
                                div.field {
                                    label for="lock_reason" { "Lock against release (reason, optional)" }
                                    input #lock_reason name="reason" type="text" maxlength="255";
                                }
                                button type="submit" name="action" value="lock" { "Lock against release" }
                            }
                        }
                    }
                }
                @if n.state == NumberState::PendingRelease {
                    form.card method="post" action={ (path) "/cancel-release" } {
                        (csrf(c))
                        p { "The release takes effect on " (opt_when(n.release_at)) "." }
                        button type="submit" { "Cancel the release" }
                    }
                }
            }
        }
        section aria-labelledby="h_timeline" {
            h2 #h_timeline { "Audit timeline" }
            (timeline_table(&timeline))
        }
    };
    page_response(status, layout(n.e164.as_str(), Some(c), body))
}

fn timeline_table(events: &[NumberEvent]) -> Markup {
    html! {
        @if events.is_empty() {
            p { "No events you may see." }
        } @else {
            div.scroll {
                table #timeline {
                    caption.visually-hidden { "Every event of this number, oldest first" }
                    thead { tr {
                        th scope="col" { "When" }
                        th scope="col" { "What" }
                        th scope="col" { "State" }
                        th scope="col" { "Who" }
                        th scope="col" { "Request id" }
                    } }
                    tbody {
                        @for e in events {
                            tr {
                                td { (when(e.at)) }
                                td { (e.action.replace('_', " ")) }
                                td { (e.from_state.map_or("—", |s| state_label(s))) " → " (state_label(e.to_state)) }
                                td { (e.actor.label()) }
                                td { code { (e.request_id.as_deref().unwrap_or("—")) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn number_page(
    State(st): State<AppState>,
    c: Console,
    Path(raw): Path<String>,
    Query(q): Query<Q>,
) -> Response {
    match parse_e164(&st, &raw) {
        Ok(e) => render_number(&st, &c, &e, nonempty(&q.done), None).await,
        Err(res) => res,
    }
}

/// Runs `cmd` for the number page: on success back to the page with `done`, on a refusal the
/// page with the engine's reason.
async fn act(st: &AppState, c: &Console, e164: &E164, cmd: Command, done: &str) -> Response {
    match st.engine.run(&c.by, cmd).await {
        Ok(_) => see_other(&format!("{}?done={done}", number_path(e164))),
        Err(e) => render_number(st, c, e164, None, Some(&e)).await,
    }
}

async fn set_trunk(State(st): State<AppState>, Path(raw): Path<String>, p: Posted) -> Response {
    let e164 = match parse_e164(&st, &raw) {
        Ok(e) => e,
        Err(res) => return res,
    };
    let number = NumberRef::E164(e164.clone());
    let (cmd, done) = if p.form.get("action") == Some("unassign") {
        (Command::UnassignTrunk { number }, "unassigned")
    } else {
        match p.form.get("trunk").map(TrunkId::parse) {
            Some(Ok(trunk)) => (Command::AssignTrunk { number, trunk }, "assigned"),
            _ => {
                let e = EngineError::invalid("choose a trunk");
                return render_number(&st, &p.console, &e164, None, Some(&e)).await;
            }
        }
    };
    act(&st, &p.console, &e164, cmd, done).await
}

async fn set_sub_account(
    State(st): State<AppState>,
    Path(raw): Path<String>,
    p: Posted,
) -> Response {
    let e164 = match parse_e164(&st, &raw) {
        Ok(e) => e,
        Err(res) => return res,
    };
    let number = NumberRef::E164(e164.clone());
    let (cmd, done) = if p.form.get("action") == Some("take-back") {
        let force = p.form.get("force") == Some("true");
        (Command::UnassignSubAccount { number, force }, "taken")
    } else {
        match p.form.get("sub").map(AccountId::parse) {
            Some(Ok(sub)) => (Command::AssignSubAccount { number, sub }, "handed"),
            _ => {
                let e = EngineError::invalid("choose a sub-account");
                return render_number(&st, &p.console, &e164, None, Some(&e)).await;
            }
        }
    };
    act(&st, &p.console, &e164, cmd, done).await
}

async fn release_confirm(
    State(st): State<AppState>,
    c: Console,
    Path(raw): Path<String>,
) -> Response {
    let e164 = match parse_e164(&st, &raw) {
        Ok(e) => e,
        Err(res) => return res,
    };
    let n = match st
        .engine
        .number(&c.by, &NumberRef::E164(e164.clone()), Sight::Held)
        .await
    {
        Ok(n) => n,
        Err(e) => return failure_page(&e),
    };
    let path = number_path(&n.e164);
    let window = st.engine.policy().window;
    let body = html! {
        div.card.confirm {
            p { strong { "Release " (n.e164) "?" } }
            ul {
                li { "Billing stops: no more monthly fees of " (amount(n.monthly_fee, &n.currency)) "." }
                li { "Routing stops: calls to " (n.e164) " no longer reach "
                    @if n.trunk_id.is_some() { "its trunk" } @else { "you" } "." }
                @if window > chrono::Duration::zero() {
                    li { "The release takes effect after the release window; until then you can cancel it." }
                } @else {
                    li { "The release takes effect at once and cannot be undone." }
                }
            }
            form method="post" action={ (path) "/release" } {
                (csrf(&c))
                input type="hidden" name="confirm" value=(n.e164);
                button.danger type="submit" { "Release " (n.e164) }
                " "
                a href=(path) { "Keep it" }
            }
        }
    };
    page(&c, &format!("Release {}", n.e164), body)
}

async fn release(State(st): State<AppState>, Path(raw): Path<String>, p: Posted) -> Response {
    let e164 = match parse_e164(&st, &raw) {
        Ok(e) => e,
        Err(res) => return res,
    };
    if p.form.get("confirm") != Some(e164.as_str()) {
        let e = EngineError::invalid("confirm the release on its confirmation page");
        return render_number(&st, &p.console, &e164, None, Some(&e)).await;
    }
    let cmd = Command::Release {
        number: NumberRef::E164(e164.clone()),
        mode: ReleaseMode::Policy,
    };
    match st.engine.run(&p.console.by, cmd).await {
        Ok(out) => {
            let pending = out
                .number
                .as_ref()
                .is_some_and(|n| n.state == NumberState::PendingRelease);
            see_other(&format!(
                "{}?done={}",
                number_path(&e164),
                if pending { "pending" } else { "released" }
            ))
        }
        Err(e) => render_number(&st, &p.console, &e164, None, Some(&e)).await,
    }
}

async fn cancel_release(
    State(st): State<AppState>,
    Path(raw): Path<String>,
    p: Posted,
) -> Response {
    let e164 = match parse_e164(&st, &raw) {
        Ok(e) => e,
        Err(res) => return res,
    };
    let cmd = Command::CancelRelease {
        number: NumberRef::E164(e164.clone()),
    };
    act(&st, &p.console, &e164, cmd, "cancelled").await
}

// ---------------------------------------------------------------------------------------------
// Buying

async fn buy_page(State(st): State<AppState>, c: Console, Query(q): Query<Q>) -> Response {
    render_buy(&st, &c, &q, None).await
}

async fn render_buy(
    st: &AppState,
    c: &Console,
    q: &Q,
    refused: Option<(&str, &EngineError)>,
) -> Response {
    let page_no = q.page.unwrap_or(1).clamp(1, 100_000);
    let mut query = NumberQuery::new(Holder::Nobody, vec![NumberState::Available]);
    query.country = nonempty(&q.country).map(str::to_ascii_uppercase);
    query.search = nonempty(&q.q)
        .map(|s| s.chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|s| !s.is_empty());
    query.limit = PAGE_SIZE;
    query.offset = u64::from(page_no - 1) * u64::from(PAGE_SIZE);
    let found = st.engine.numbers(&c.by, &query).await;
    let filters: Vec<(&str, Option<&str>)> =
        vec![("country", nonempty(&q.country)), ("q", nonempty(&q.q))];
    let status = refused.map_or(StatusCode::OK, |(_, e)| super::status_of(e));
    let body = html! {
        @if let Some((n, e)) = refused { (alert(&format!("Could not buy {n}: {}", explain(e)))) }
        @if let Some(a) = c.account.as_ref().filter(|a| a.is_master()) {
            p { "Balance: " strong { (amount(a.balance, &a.currency)) } }
        }
        form.filters method="get" action="/console/buy" role="search" aria-label="Search the inventory" {
            div.field {
                label for="b_country" { "Country" }
                input #b_country name="country" type="text" maxlength="2" size="3" value=(q.country.as_deref().unwrap_or("")) placeholder="IN";
            }
            div.field {
                label for="b_q" { "Digits" }
                input #b_q name="q" type="search" inputmode="numeric" value=(q.q.as_deref().unwrap_or(""));
            }
            button type="submit" { "Search" }
        }
        @match &found {
            Err(e) => { (alert(&explain(e))) }
            Ok(p) => {
                p #count { (p.total) " numbers available." }
                @if !p.items.is_empty() {
                    div.scroll { table {
                        caption.visually-hidden { "Numbers you can buy" }
                        thead { tr {
                            th scope="col" { "Number" } th scope="col" { "Country" }
                            th scope="col" { "Setup fee" } th scope="col" { "Monthly fee" }
                            th scope="col" { span.visually-hidden { "Action" } }
                        } }
                        tbody { @for n in &p.items { tr {
                            td { (n.e164) }
                            td { (n.country) @if let Some(r) = &n.region { " · " (r) } }
                            td.num { (amount(n.setup_fee, &n.currency)) }
                            td.num { (amount(n.monthly_fee, &n.currency)) }
                            td { form method="post" action="/console/buy" {
                                (csrf(c))
                                input type="hidden" name="number" value=(n.e164);
                                button type="submit" aria-label={ "Buy " (n.e164) } { "Buy" }
                            } }
                        } } }
                    } }
                }
                nav.pager aria-label="Pages" {
                    @if page_no > 1 { a rel="prev" href={ "/console/buy?" (query_string(&filters, page_no - 1)) } { "Previous page" } }
                    @if u64::from(page_no) * u64::from(PAGE_SIZE) < p.total { a rel="next" href={ "/console/buy?" (query_string(&filters, page_no + 1)) } { "Next page" } }
                }
            }
        }
    };
    page_response(status, layout("Buy a number", Some(c), body))
}

async fn buy(State(st): State<AppState>, p: Posted) -> Response {
    let raw = p.form.get("number").unwrap_or("");
    let e164 = match parse_e164(&st, raw) {
        Ok(e) => e,
        Err(res) => return res,
    };
    let cmd = Command::Purchase {
        number: NumberRef::E164(e164.clone()),
        currency: None,
        quoted_monthly_fee: None,
    };
    match st.engine.run(&p.console.by, cmd).await {
        Ok(_) => see_other(&format!("{}?done=bought", number_path(&e164))),
        Err(e) => render_buy(&st, &p.console, &Q::default(), Some((e164.as_str(), &e))).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Money

fn ledger_query(c: &Console, q: &Q, limit: u32, offset: u64) -> Result<LedgerQuery, String> {
    let account = c
        .account
        .as_ref()
        .map(|a| a.id.clone())
        .ok_or("The operator has no ledger of its own.")?;
    let day = |v: Option<&str>, end: bool| -> Result<Option<DateTime<Utc>>, String> {
        v.map(|s| {
            NaiveDate::from_str(s)
                .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)."))
                .map(|d| {
                    let t = if end {
                        d.and_hms_micro_opt(23, 59, 59, 999_999)
                    } else {
                        d.and_hms_opt(0, 0, 0)
                    };
                    t.expect("a valid time of day").and_utc()
                })
        })
        .transpose()
    };
    let kind = match nonempty(&q.kind) {
        Some(k) => Some(EntryKind::parse(k).ok_or_else(|| format!("{k:?} is not an entry type."))?),
        None => None,
    };
    Ok(LedgerQuery {
        account,
        debits: None,
        kind,
        from: day(nonempty(&q.from), false)?,
        to: day(nonempty(&q.to), true)?,
        limit,
        offset,
    })
}

async fn money_page(State(st): State<AppState>, c: Console, Query(q): Query<Q>) -> Response {
    let page_no = q.page.unwrap_or(1).clamp(1, 100_000);
    // A sub-account holds no balance: its refusal is the page's status, as for the CSV.
    let balance = match st.engine.balance(&c.by).await {
        Ok(a) => a,
        Err(e) => return failure_page(&e),
    };
    let ledger = match ledger_query(
        &c,
        &q,
        PAGE_SIZE,
        u64::from(page_no - 1) * u64::from(PAGE_SIZE),
    ) {
        Ok(query) => st
            .engine
            .ledger(&c.by, &query)
            .await
            .map_err(|e| explain(&e)),
        Err(e) => Err(e),
    };
    let filters: Vec<(&str, Option<&str>)> = vec![
        ("from", nonempty(&q.from)),
        ("to", nonempty(&q.to)),
        ("kind", nonempty(&q.kind)),
    ];
    let body = html! {
        p.balance { "Balance: " strong #balance { (amount(balance.balance, &balance.currency)) } }
        form.filters method="get" action="/console/money" aria-label="Filter the ledger" {
            div.field { label for="m_from" { "From" } input #m_from name="from" type="date" value=(q.from.as_deref().unwrap_or("")); }
            div.field { label for="m_to" { "To" } input #m_to name="to" type="date" value=(q.to.as_deref().unwrap_or("")); }
            div.field {
                label for="m_kind" { "Type" }
                select #m_kind name="kind" {
                    option value="" { "Any" }
                    @for k in EntryKind::ALL { option value=(k.as_str()) selected[nonempty(&q.kind) == Some(k.as_str())] { (k.as_str().replace('_', " ")) } }
                }
            }
            button type="submit" { "Filter" }
            " "
            a.button.secondary href={ "/console/money.csv?" (query_string(&filters, 1)) } download { "Download CSV" }
        }
        @match &ledger {
            Err(e) => { (alert(e)) }
            Ok(p) => {
                p { (p.total) " entries; debits " (p.total_debit.normalize()) ", credits " (p.total_credit.normalize()) "." }
                @if !p.entries.is_empty() {
                    div.scroll { table {
                        caption.visually-hidden { "Ledger entries, newest first" }
                        thead { tr {
                            th scope="col" { "When" } th scope="col" { "Type" } th scope="col" { "Reference" }
                            th scope="col" { "Description" } th scope="col" { "Amount" } th scope="col" { "Balance after" }
                        } }
                        tbody { @for e in &p.entries { tr {
                            td { (when(e.created_at)) } td { (e.kind.as_str().replace('_', " ")) } td { code { (e.reference) } }
                            td { (e.description) } td.num { (amount(e.amount, &e.currency)) } td.num { (amount(e.balance_after, &e.currency)) }
                        } } }
                    } }
                }
                nav.pager aria-label="Pages" {
                    @if page_no > 1 { a rel="prev" href={ "/console/money?" (query_string(&filters, page_no - 1)) } { "Previous page" } }
                    @if u64::from(page_no) * u64::from(PAGE_SIZE) < p.total { a rel="next" href={ "/console/money?" (query_string(&filters, page_no + 1)) } { "Next page" } }
                }
            }
        }
    };
    page(&c, "Money", body)
}

/// The filtered ledger as CSV, every entry (pages of 1,000 read in turn), newest first.
async fn money_csv(State(st): State<AppState>, c: Console, Query(q): Query<Q>) -> Response {
    let mut out = csv::Writer::from_writer(Vec::new());
    let _ = out.write_record([
        "created_at",
        "type",
        "reference",
        "description",
        "amount",
        "currency",
        "balance_after",
        "id",
    ]);
    let mut offset = 0u64;
    loop {
        let query = match ledger_query(&c, &q, 1000, offset) {
            Ok(q) => q,
            Err(e) => return problem(StatusCode::BAD_REQUEST, "Could not download", &e),
        };
        let page = match st.engine.ledger(&c.by, &query).await {
            Ok(p) => p,
            Err(e) => return failure_page(&e),
        };
        for e in &page.entries {
            let _ = write_entry(&mut out, e);
        }
        offset += page.entries.len() as u64;
        if page.entries.is_empty() || offset >= page.total {
            break;
        }
    }
    let body = out.into_inner().unwrap_or_default();
    let mut res = body.into_response();
    super::secure_headers(res.headers_mut());
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    res.headers_mut().insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"ledger.csv\""),
    );
    res
}

fn write_entry(out: &mut csv::Writer<Vec<u8>>, e: &LedgerEntry) -> csv::Result<()> {
    out.write_record([
        e.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        e.kind.as_str().to_owned(),
        e.reference.clone(),
        e.description.clone(),
        e.amount.normalize().to_string(),
        e.currency.to_string(),
        e.balance_after.normalize().to_string(),
        e.id.to_string(),
    ])
}

// ---------------------------------------------------------------------------------------------
// The operator's pages

fn operator_only(c: &Console) -> Result<(), Response> {
    if c.is_operator() {
        Ok(())
    } else {
        Err(forbidden("Only the operator may open this page."))
    }
}

async fn accounts_page(c: Console) -> Response {
    if let Err(res) = operator_only(&c) {
        return res;
    }
    render_accounts(&c, StatusCode::OK, None)
}

fn render_accounts(c: &Console, status: StatusCode, outcome: Option<Markup>) -> Response {
    let body = html! {
        @if let Some(o) = outcome { (o) }
        section aria-labelledby="h_open" {
            h2 #h_open { "Open an account" }
            form.inline method="get" action="/console/accounts/open" {
                div.field { label for="open_id" { "Auth ID" } input #open_id name="id" type="text" spellcheck="false" placeholder="MA_…"; }
                button type="submit" { "Open" }
            }
        }
        section aria-labelledby="h_create" {
            h2 #h_create { "Create a main account" }
            form.card method="post" action="/console/accounts" {
                (csrf(c))
                div.field { label for="a_name" { "Name" } input #a_name name="name" type="text" required; }
                div.field { label for="a_role" { "Role" } select #a_role name="role" { option value="customer" { "Customer" } option value="admin" { "Admin" } } }
                div.field { label for="a_currency" { "Currency" } input #a_currency name="currency" type="text" maxlength="3" size="4" value="INR"; }
                div.field { label for="a_balance" { "Opening balance" } input #a_balance name="balance" type="text" inputmode="decimal" value="0"; }
                button type="submit" { "Create account" }
            }
        }
    };
    page_response(status, layout("Accounts", Some(c), body))
}

fn decimal(v: Option<&str>, what: &str) -> Result<Decimal, EngineError> {
    let v = v.unwrap_or("0");
    Decimal::from_str(v).map_err(|_| EngineError::invalid(format!("{what} is not a number")))
}

async fn create_account(State(st): State<AppState>, p: Posted) -> Response {
    let c = &p.console;
    if let Err(res) = operator_only(c) {
        return res;
    }
    let made = async {
        let role = Role::parse(p.form.get("role").unwrap_or("customer"))
            .ok_or_else(|| EngineError::invalid("role is admin or customer"))?;
        let currency = Currency::parse(p.form.get("currency").unwrap_or("INR"))
            .map_err(|e| EngineError::invalid(e.to_string()))?;
        let new = NewAccount {
            id: None,
            name: p.form.get("name").unwrap_or("").to_owned(),
            role,
            currency,
            opening_balance: decimal(p.form.get("balance"), "the opening balance")?,
            enabled: true,
            profile: AccountProfile::default(),
        };
        st.engine.create_account(&c.by, new, None).await
    }
    .await;
    match made {
        Ok((a, token)) => render_accounts(
            c,
            StatusCode::CREATED,
            Some(html! {
                div.notice role="status" {
                    p { "Created " a href={ "/console/accounts/" (a.id) } { (a.name) } "." }
                    dl.facts {
                        dt { "Auth ID" } dd { code #new_auth_id { (a.id) } }
                        dt { "Auth token" } dd { code #new_auth_token { (token) } }
                    }
                    p { "The token is shown this once: give it to the customer now." }
                }
            }),
        ),
        Err(e) => render_accounts(c, super::status_of(&e), Some(alert(&explain(&e)))),
    }
}

#[derive(Deserialize)]
struct OpenAccount {
    id: Option<String>,
    done: Option<String>,
}

async fn account_page(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<String>,
    Query(q): Query<OpenAccount>,
) -> Response {
    if let Err(res) = operator_only(&c) {
        return res;
    }
    // `/console/accounts/open?id=…` (the form above) goes to the account's own page.
    if id == "open" {
        let id = q.id.unwrap_or_default();
        return see_other(&format!(
            "/console/accounts/{}",
            form_urlencoded::byte_serialize(id.trim().as_bytes()).collect::<String>()
        ));
    }
    let done = done_message(nonempty(&q.done)).map(|m| html! { p.notice role="status" { (m) } });
    render_account(&st, &c, &id, StatusCode::OK, done).await
}

async fn render_account(
    st: &AppState,
    c: &Console,
    id: &str,
    status: StatusCode,
    outcome: Option<Markup>,
) -> Response {
    let account = match AccountId::parse(id) {
        Ok(id) => st.engine.account(&c.by, &id).await,
        Err(_) => Err(EngineError::AccountNotFound),
    };
    let a = match account {
        Ok(a) => a,
        Err(e) => return failure_page(&e),
    };
    let body = html! {
        @if let Some(o) = outcome { (o) }
        dl.facts {
            dt { "Auth ID" } dd { code { (a.id) } }
            dt { "Name" } dd { (a.name) }
            dt { "Role" } dd { (a.role.as_str()) }
            dt { "Balance" } dd #balance { (amount(a.balance, &a.currency)) }
            dt { "Enabled" } dd { (if a.enabled { "yes" } else { "no" }) }
            dt { "Verification" } dd { (a.verification.as_str()) }
            dt { "Created" } dd { (when(a.created_at)) }
        }
        @if a.is_master() {
            form.card method="post" action={ "/console/accounts/" (a.id) "/top-up" } {
                (csrf(c))
                h2 { "Top up" }
                div.field { label for="t_amount" { "Amount (" (a.currency) ")" } input #t_amount name="amount" type="text" inputmode="decimal" required; }
                div.field { label for="t_desc" { "Description" } input #t_desc name="description" type="text" value="top-up"; }
                button type="submit" { "Credit the account" }
            }
        }
        @if a.is_master() {
            form.card method="post" action={ "/console/accounts/" (a.id) "/enabled" } {
                (csrf(c))
                h2 { @if a.enabled { "Disable the account" } @else { "Enable the account" } }
                p.help { "A disabled account's credentials stop working on every API and here; its numbers and money stay as they are." }
                @if a.enabled {
                    button.danger type="submit" name="enabled" value="false" { "Disable" }
                } @else {
                    button type="submit" name="enabled" value="true" { "Enable" }
                }
            }
        }
        form.card method="post" action={ "/console/accounts/" (a.id) "/rotate-token" } {
            (csrf(c))
            h2 { "Rotate the auth token" }
            div.field {
                label for="r_grace" { "The old token keeps working for (seconds)" }
                input #r_grace name="grace" type="number" min="0" max="604800" value="0";
            }
            button.danger type="submit" { "Issue a new token" }
        }
    };
    page_response(
        status,
        layout(&format!("Account {}", a.name), Some(c), body),
    )
}

async fn top_up(State(st): State<AppState>, Path(id): Path<String>, p: Posted) -> Response {
    let c = &p.console;
    if let Err(res) = operator_only(c) {
        return res;
    }
    let ran = async {
        let account = AccountId::parse(&id).map_err(|_| EngineError::AccountNotFound)?;
        let amount = decimal(p.form.get("amount"), "the amount")?;
        let description = p.form.get("description").unwrap_or("top-up").to_owned();
        st.engine
            .run(
                &c.by,
                Command::TopUp {
                    account,
                    amount,
                    description,
                },
            )
            .await
    }
    .await;
    match ran {
        Ok(_) => see_other(&format!("/console/accounts/{id}?done=topped")),
        Err(e) => {
            render_account(&st, c, &id, super::status_of(&e), Some(alert(&explain(&e)))).await
        }
    }
}

async fn rotate_token(State(st): State<AppState>, Path(id): Path<String>, p: Posted) -> Response {
    let c = &p.console;
    if let Err(res) = operator_only(c) {
        return res;
    }
    let ran = async {
        let account = AccountId::parse(&id).map_err(|_| EngineError::AccountNotFound)?;
        let grace: i64 = p
            .form
            .get("grace")
            .unwrap_or("0")
            .parse()
            .map_err(|_| EngineError::invalid("the grace period is a number of seconds"))?;
        let grace = chrono::Duration::try_seconds(grace)
            .ok_or_else(|| EngineError::invalid("the grace period is out of range"))?;
        st.engine.rotate_auth_token(&c.by, account, grace).await
    }
    .await;
    match ran {
        Ok((_, token, _)) => {
            render_account(
                &st,
                c,
                &id,
                StatusCode::OK,
                Some(html! {
                    div.notice role="status" {
                        p { "New auth token (shown this once): " code #new_auth_token { (token) } }
                    }
                }),
            )
            .await
        }
        Err(e) => {
            render_account(&st, c, &id, super::status_of(&e), Some(alert(&explain(&e)))).await
        }
    }
}

async fn inventory_page(c: Console) -> Response {
    if let Err(res) = operator_only(&c) {
        return res;
    }
    render_inventory(&c, StatusCode::OK, None, "")
}

fn render_inventory(
    c: &Console,
    status: StatusCode,
    outcome: Option<Markup>,
    csv_text: &str,
) -> Response {
    let body = html! {
        @if let Some(o) = outcome { (o) }
        form.card method="post" action="/console/inventory" {
            (csrf(c))
            div.field {
                label for="csv" { "Numbers as CSV" }
                p #csv_help .help { "One number a line: e164,country,region,setup_fee,monthly_fee,currency[,capabilities…] (a header line is skipped). Up to 64 KiB at a time." }
                textarea #csv name="csv" rows="12" aria-describedby="csv_help" spellcheck="false" { (csv_text) }
            }
            div.field.js-only hidden {
                label for="csv_file" { "Or load a file" }
                input #csv_file type="file" accept=".csv,text/csv,text/plain" data-fill="csv";
            }
            button type="submit" { "Import" }
        }
    };
    page_response(status, layout("Import inventory", Some(c), body))
}

async fn import_inventory(State(st): State<AppState>, p: Posted) -> Response {
    let c = &p.console;
    if let Err(res) = operator_only(c) {
        return res;
    }
    let text = p.form.get("csv").unwrap_or("").to_owned();
    match crate::inventory::import_csv(&st.engine, &c.by, &text).await {
        Ok(report) => {
            let outcome = html! {
                div.notice role="status" {
                    p #import_summary { (report.imported) " imported, " (report.skipped) " already stocked, " (report.errors.len()) " rows refused." }
                }
                @if !report.errors.is_empty() {
                    div.scroll { table #row_errors {
                        caption { "Rows refused" }
                        thead { tr { th scope="col" { "Line" } th scope="col" { "Why" } } }
                        tbody { @for e in &report.errors { tr { td { (e.row) } td { (e.error) } } } }
                    } }
                }
            };
            render_inventory(
                c,
                StatusCode::OK,
                Some(outcome),
                if report.errors.is_empty() { "" } else { &text },
            )
        }
        Err(e) => render_inventory(c, super::status_of(&e), Some(alert(&explain(&e))), &text),
    }
}

async fn check_page(State(st): State<AppState>, c: Console) -> Response {
    if let Err(res) = operator_only(&c) {
        return res;
    }
    let body = match st.engine.check(&c.by).await {
        Ok(v) if v.is_empty() => {
            html! { p.notice role="status" #check_ok { "Every invariant holds." } }
        }
        Ok(v) => html! {
            (alert(&format!("{} broken invariants.", v.len())))
            div.scroll { table {
                caption.visually-hidden { "Broken invariants" }
                thead { tr { th scope="col" { "Rule" } th scope="col" { "Row" } th scope="col" { "Detail" } } }
                tbody { @for x in &v { tr { td { code { (x.rule) } } td { (x.subject) } td { (x.detail) } } } }
            } }
        },
        Err(e) => alert(&explain(&e)),
    };
    page(&c, "Check", body)
}

async fn sandbox_page(State(st): State<AppState>, c: Console) -> Response {
    if let Err(res) = operator_only(&c) {
        return res;
    }
    render_sandbox(&st, &c, StatusCode::OK, None)
}

fn render_sandbox(
    st: &AppState,
    c: &Console,
    status: StatusCode,
    outcome: Option<Markup>,
) -> Response {
    if st.sandbox_clock.is_none() {
        return problem(
            StatusCode::NOT_FOUND,
            "Not in sandbox mode",
            "The clock can be moved only with serve --sandbox.",
        );
    }
    let body = html! {
        @if let Some(o) = outcome { (o) }
        p { "The clock reads " strong #clock { (when(st.engine.now())) } "." }
        form.card method="post" action="/console/sandbox" {
            (csrf(c))
            div.field { label for="s_advance" { "Advance the clock by (seconds)" } input #s_advance name="advance" type="number" min="1" value="86400"; }
            button type="submit" name="action" value="advance" { "Advance" }
        }
        form.card method="post" action="/console/sandbox" {
            (csrf(c))
            button type="submit" name="action" value="run" { "Run the scheduler now" }
        }
    };
    page_response(status, layout("Sandbox", Some(c), body))
}

async fn sandbox_move(State(st): State<AppState>, p: Posted) -> Response {
    let c = &p.console;
    if let Err(res) = operator_only(c) {
        return res;
    }
    let Some(clock) = st.sandbox_clock.clone() else {
        return render_sandbox(&st, c, StatusCode::NOT_FOUND, None);
    };
    let result = if p.form.get("action") == Some("run") {
        st.engine
            .run_due()
            .await
            .map(|done| format!("The scheduler ran: {done} numbers changed."))
    } else {
        let secs: Option<i64> = p.form.get("advance").and_then(|s| s.parse().ok());
        match secs.and_then(chrono::Duration::try_seconds) {
            Some(d) => st
                .engine
                .set_sandbox_clock(&c.by, ClockMove::Advance(d))
                .await
                .map(|now| {
                    clock.move_to(now);
                    format!("The clock now reads {}.", when(now))
                }),
            None => Err(EngineError::invalid("give a number of seconds")),
        }
    };
    match result {
        Ok(msg) => render_sandbox(
            &st,
            c,
            StatusCode::OK,
            Some(html! { p.notice role="status" { (msg) } }),
        ),
        Err(e) => render_sandbox(&st, c, super::status_of(&e), Some(alert(&explain(&e)))),
    }
}

// ---------------------------------------------------------------------------------------------
// Release lock

async fn set_lock(State(st): State<AppState>, Path(raw): Path<String>, p: Posted) -> Response {
    let e164 = match parse_e164(&st, &raw) {
        Ok(e) => e,
        Err(res) => return res,
    };
    let number = NumberRef::E164(e164.clone());
    let (cmd, done) = if p.form.get("action") == Some("unlock") {
        (Command::UnlockRelease { number }, "unlocked")
    } else {
        let reason = p.form.get("reason").map(str::to_owned);
        (Command::LockRelease { number, reason }, "locked")
    };
    act(&st, &p.console, &e164, cmd, done).await
}

// ---------------------------------------------------------------------------------------------
// Bulk jobs

fn bulk_controls(c: &Console, trunks: &[Trunk], subs: &[didpool_core::Account]) -> Markup {
    html! {
        fieldset.card {
            legend { "Bulk action on the selected numbers" }
            div.field {
                label for="bulk_kind" { "Action" }
                select #bulk_kind name="kind" {
                    option value="release" { "Release" }
                    option value="assign_trunk" { "Assign to a trunk" }
                    option value="unassign_trunk" { "Take off their trunk" }
                    @if c.is_master() {
                        option value="move_to_sub_account" { "Hand to a sub-account" }
                        option value="take_back" { "Take back from sub-accounts" }
                    }
                }
            }
            div.field {
                label for="bulk_trunk" { "Trunk (to assign to)" }
                select #bulk_trunk name="trunk" {
                    option value="" { "—" }
                    @for t in trunks { option value=(t.id) { (t.name) } }
                }
            }
            @if c.is_master() {
                div.field {
                    label for="bulk_sub" { "Sub-account (to hand to)" }
                    select #bulk_sub name="sub" {
                        option value="" { "—" }
                        @for s in subs { option value=(s.id) { (s.name) " (" (s.id) ")" } }
                    }
                }
            }
            div.field {
                label for="bulk_list" { "Or paste numbers (one a line, up to 1,000)" }
                textarea #bulk_list name="list" rows="3" spellcheck="false" {}
            }
            div.field.js-only hidden {
                label for="bulk_file" { "Or load a list from a file" }
                input #bulk_file type="file" accept=".csv,.txt,text/plain,text/csv" data-fill="bulk_list";
            }
            button #bulk_submit type="submit" { "Start the job" }
        }
    }
}

/// The numbers of a bulk form: the ticked ones, then each line (or comma-separated value) of the
/// pasted list (a CSV's first column; a header line is skipped).
fn bulk_numbers(form: &Fields) -> Vec<String> {
    let mut out: Vec<String> = form
        .all("number")
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(list) = form.get("list") {
        for line in list.lines() {
            let first = line
                .split([',', ';', '\t'])
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"');
            // A header (`e164`, `number`) starts with neither `+` nor a digit.
            if !first.starts_with(|ch: char| ch == '+' || ch.is_ascii_digit()) {
                continue;
            }
            out.push(first.to_owned());
        }
    }
    out
}

fn job_kind(form: &Fields) -> Result<didpool_core::job::JobKind, EngineError> {
    let name = form.get("kind").unwrap_or("release");
    let target = match name {
        "assign_trunk" => form.get("trunk"),
        "move_to_sub_account" => form.get("sub"),
        _ => None,
    };
    didpool_core::job::JobKind::parse(name, target).map_err(EngineError::Invalid)
}

fn kind_label(kind: &didpool_core::job::JobKind) -> &'static str {
    use didpool_core::job::JobKind as K;
    match kind {
        K::Release => "Release",
        K::AssignTrunk { .. } => "Assign to a trunk",
        K::UnassignTrunk => "Take off their trunk",
        K::MoveToSubAccount { .. } => "Hand to a sub-account",
        K::TakeBack => "Take back from sub-accounts",
    }
}

async fn create_job(State(st): State<AppState>, p: Posted) -> Response {
    let c = &p.console;
    if c.is_operator() {
        return forbidden("The operator starts jobs for an account through the admin API.");
    }
    let numbers = bulk_numbers(&p.form);
    let kind = match job_kind(&p.form) {
        Ok(k) => k,
        Err(e) => return render_jobs(&st, c, Some(&e)).await,
    };
    // A bulk release is confirmed on its own page, which names what stops.
    if kind == didpool_core::job::JobKind::Release && p.form.get("confirm") != Some("yes") {
        if numbers.is_empty() {
            return render_jobs(
                &st,
                c,
                Some(&EngineError::invalid("select or paste at least one number")),
            )
            .await;
        }
        let body = html! {
            div.card.confirm {
                p { strong { "Release " (numbers.len()) " numbers?" } }
                ul {
                    li { "Billing stops for each of them: no more monthly fees." }
                    li { "Routing stops for each of them: their calls no longer reach your trunks." }
                    li { "Each number is released on its own; a locked number, or one you cannot release, fails alone and is listed with its reason." }
                }
                details {
                    summary { "The numbers" }
                    ul.numbers { @for n in numbers.iter().take(1000) { li { (n) } } }
                }
                form method="post" action="/console/jobs" {
                    (csrf(c))
                    input type="hidden" name="kind" value="release";
                    input type="hidden" name="confirm" value="yes";
                    @for n in &numbers { input type="hidden" name="number" value=(n); }
                    button.danger #confirm_bulk type="submit" { "Release " (numbers.len()) " numbers" }
                    " "
                    a href="/console/numbers" { "Keep them" }
                }
            }
        };
        return page(c, "Release numbers", body);
    }
    match st.engine.create_job(&c.by, kind, None, &numbers).await {
        Ok(job) => see_other(&format!("/console/jobs/{}", job.id)),
        Err(e) => render_jobs(&st, c, Some(&e)).await,
    }
}

async fn jobs_page(State(st): State<AppState>, c: Console) -> Response {
    render_jobs(&st, &c, None).await
}

async fn render_jobs(st: &AppState, c: &Console, refused: Option<&EngineError>) -> Response {
    let jobs = st.engine.jobs(&c.by, 100, 0).await;
    let status = refused.map_or(StatusCode::OK, super::status_of);
    let body = html! {
        @if let Some(e) = refused { (alert(&explain(e))) }
        @if !c.is_operator() {
            p { "Select numbers on the " a href="/console/numbers" { "Numbers" } " page, or paste a list there, and choose an action: each number is its own change, which succeeds or fails alone." }
        }
        @match &jobs {
            Err(e) => { (alert(&explain(e))) }
            Ok(p) if p.items.is_empty() => { p { "No jobs yet." } }
            Ok(p) => {
                div.scroll { table {
                    caption.visually-hidden { "Jobs, newest first" }
                    thead { tr {
                        th scope="col" { "Started" } th scope="col" { "Action" } th scope="col" { "Account" }
                        th scope="col" { "Status" } th scope="col" { "Done" } th scope="col" { "Failed" }
                    } }
                    tbody { @for j in &p.items { tr {
                        td { a href={ "/console/jobs/" (j.id) } { (when(j.created_at)) } }
                        td { (kind_label(&j.kind)) }
                        td { (j.account) }
                        td { (j.status.as_str()) }
                        td.num { (j.done()) " / " (j.total) }
                        td.num { (j.failed) }
                    } } }
                } }
            }
        }
    };
    page_response(
        status,
        layout(
            if c.is_operator() { "Jobs" } else { "Bulk jobs" },
            Some(c),
            body,
        ),
    )
}

fn job_id(raw: &str) -> Result<didpool_core::ids::JobId, EngineError> {
    didpool_core::ids::JobId::parse(raw).map_err(|_| EngineError::JobNotFound)
}

#[derive(Deserialize)]
struct ItemsQ {
    show: Option<String>,
    page: Option<u32>,
}

async fn job_page(
    State(st): State<AppState>,
    c: Console,
    Path(raw): Path<String>,
    Query(q): Query<ItemsQ>,
) -> Response {
    use didpool_core::store::{ItemFilter, JobItemQuery};
    let page_no = q.page.unwrap_or(1).clamp(1, 100_000);
    let show = q.show.as_deref().unwrap_or("all");
    let filter = ItemFilter::parse(show).unwrap_or(ItemFilter::All);
    let query = JobItemQuery {
        filter,
        limit: 1000,
        offset: u64::from(page_no - 1) * 1000,
    };
    let (job, items) = match job_id(&raw) {
        Ok(id) => match st.engine.job_items(&c.by, id, &query).await {
            Ok(found) => found,
            Err(e) => return failure_page(&e),
        },
        Err(e) => return failure_page(&e),
    };
    let percent = (job.done() * 100).checked_div(job.total).unwrap_or(100);
    let finished = job.status.is_finished();
    let head = if finished {
        html! {}
    } else {
        html! { noscript { meta http-equiv="refresh" content="2"; } }
    };
    let body = html! {
        dl.facts {
            dt { "Action" } dd { (kind_label(&job.kind)) @if let Some(t) = job.kind.target() { " · " code { (t) } } }
            dt { "Account" } dd { (job.account) }
            dt { "Started" } dd { (when(job.created_at)) }
            dt { "Status" } dd #job_status { (job.status.as_str()) }
        }
        div.progress data-poll={ "/console/jobs/" (job.id) "/progress" } data-finished=(finished) {
            label for="job_progress" { "Progress" }
            progress #job_progress max=(job.total) value=(job.done()) { (percent) "%" }
            p #job_counts data-progress-label aria-live="polite" {
                (job.done()) " of " (job.total) " done (" (job.succeeded) " succeeded, " (job.failed) " failed)"
            }
        }
        @if !finished {
            form method="post" action={ "/console/jobs/" (job.id) "/cancel" } {
                (csrf(&c))
                button.secondary type="submit" { "Cancel the job" }
                " " span.help { "Numbers already done stay done; the rest are left as they are." }
            }
        }
        nav.pager aria-label="Which items" {
            @for (key, label) in [("all", "All"), ("failed", "Failed"), ("succeeded", "Succeeded"), ("pending", "Pending")] {
                @if key == show { strong { (label) } } @else { a href={ "/console/jobs/" (job.id) "?show=" (key) } { (label) } }
            }
        }
        div.scroll { table #job_items {
            caption.visually-hidden { "Each number and its result" }
            thead { tr { th scope="col" { "#" } th scope="col" { "Number" } th scope="col" { "Result" } } }
            tbody { @for i in &items.items { tr {
                td.num { (i.seq + 1) }
                td { a href=(number_path(&i.e164)) { (i.e164) } }
                td {
                    @match &i.result {
                        None => { "pending" }
                        Some(r) => @match &r.error {
                            None => { span.ok { "done" } }
                            Some((code, message)) => { span.failed { "failed: " } (message) " " code { "(" (code) ")" } }
                        }
                    }
                }
            } } }
        } }
        @if u64::from(page_no) * 1000 < items.total {
            a rel="next" href={ "/console/jobs/" (job.id) "?show=" (show) "&page=" (page_no + 1) } { "Next items" }
        }
    };
    page_response(
        StatusCode::OK,
        layout_with(&format!("Job {}", job.id), Some(&c), body, head),
    )
}

/// A job's progress as JSON, for the job page's script.
async fn job_progress(State(st): State<AppState>, c: Console, Path(raw): Path<String>) -> Response {
    let job = match job_id(&raw) {
        Ok(id) => st.engine.job(&c.by, id).await,
        Err(e) => Err(e),
    };
    match job {
        Ok(j) => {
            let mut res = axum::Json(serde_json::json!({
                "status": j.status.as_str(),
                "total": j.total,
                "done": j.done(),
                "succeeded": j.succeeded,
                "failed": j.failed,
                "finished": j.status.is_finished(),
            }))
            .into_response();
            super::secure_headers(res.headers_mut());
            res
        }
        Err(e) => failure_page(&e),
    }
}

async fn cancel_job(State(st): State<AppState>, Path(raw): Path<String>, p: Posted) -> Response {
    let ran = match job_id(&raw) {
        Ok(id) => {
            st.engine
                .run(&p.console.by, Command::CancelJob { id })
                .await
        }
        Err(e) => Err(e),
    };
    match ran {
        Ok(_) => see_other(&format!("/console/jobs/{raw}")),
        Err(e) => failure_page(&e),
    }
}

async fn set_enabled(State(st): State<AppState>, Path(id): Path<String>, p: Posted) -> Response {
    let c = &p.console;
    if let Err(res) = operator_only(c) {
        return res;
    }
    let enabled = p.form.get("enabled") == Some("true");
    let ran = match AccountId::parse(&id) {
        Ok(account) => {
            st.engine
                .run(&c.by, Command::SetAccountEnabled { account, enabled })
                .await
        }
        Err(_) => Err(EngineError::AccountNotFound),
    };
    match ran {
        Ok(_) => see_other(&format!(
            "/console/accounts/{id}?done={}",
            if enabled { "enabled" } else { "disabled" }
        )),
        Err(e) => {
            render_account(&st, c, &id, super::status_of(&e), Some(alert(&explain(&e)))).await
        }
    }
}
