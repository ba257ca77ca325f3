//! The Diga-compatible face (`/v1/phone/…`): every route's status codes and bodies, FastAPI's
//! validation errors and redirects, and a number's whole life on a manual clock.
//!
//! The harness is the whole service (`didpool::app`) over a fresh database — SQLite in a temporary
//! directory, and PostgreSQL (a schema of its own) when `DIDPOOL_TEST_POSTGRES_URL` is set — driven
//! in-process with `tower::ServiceExt::oneshot`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use didpool::AppState;
use didpool_core::account::{Account, AccountProfile, NewAccount, Role, Verification};
use didpool_core::credential::CredentialKind;
use didpool_core::engine::By;
use didpool_core::ledger::{EntryKind, LedgerEntry};
use didpool_core::lifecycle::Command;
use didpool_core::money::{Currency, Decimal};
use didpool_core::number::{MediaEncryption, NewNumber};
use didpool_core::store::LedgerQuery;
use didpool_core::{Capabilities, Engine, ManualClock, Number, NumberId, ReleasePolicy, E164};
use didpool_store::testing::{Backend, TestDb};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

mod wire;

// ---- harness -----------------------------------------------------------------------------

/// 2026-06-01T10:00:00Z: purchases made then renew, and are released, on 2026-07-01T10:00:00Z.
fn t0() -> DateTime<Utc> {
    "2026-06-01T10:00:00Z".parse().expect("a valid time")
}

/// Madrid landlines: `+3491000000` + `i`.
fn madrid(i: u32) -> String {
    format!("+349100000{i:02}")
}

struct H {
    app: didpool::App,
    engine: Engine,
    clock: ManualClock,
    db: TestDb,
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl H {
    /// The service on a fresh database; `None` when PostgreSQL is asked for and not configured.
    async fn new(backend: Backend, name: &str) -> Option<H> {
        let db = TestDb::new(backend, name).await?;
        let clock = ManualClock::new(t0());
        let (engine, app) = Self::service(&db, &clock, ReleasePolicy::default());
        Some(H {
            app,
            engine,
            clock,
            db,
        })
    }

    fn service(db: &TestDb, clock: &ManualClock, policy: ReleasePolicy) -> (Engine, didpool::App) {
        let engine = Engine::new(db.store.clone(), Arc::new(clock.clone()), policy);
        let app = didpool::app(AppState {
            engine: engine.clone(),
            admin_token: Some("test-admin".into()),
            sandbox_clock: None,
            tokens: Default::default(),
            key_retention: chrono::Duration::hours(24),
            key_wait: didpool::idempotency::DEFAULT_WAIT,
            limits: Default::default(),
            console: Default::default(),
        });
        (engine, app)
    }

    /// The same service, database and clock under another release policy.
    fn with_policy(mut self, policy: ReleasePolicy) -> H {
        (self.engine, self.app) = Self::service(&self.db, &self.clock, policy);
        self
    }

    fn operator() -> By {
        By::operator(None)
    }

    /// A master account with 100 EUR.
    async fn account(&self, name: &str) -> Account {
        self.account_with_token(name, None).await.0
    }

    /// A master account (or a sub-account of `parent`) with 100 EUR, and its Vobiz token.
    async fn account_with_token(&self, name: &str, parent: Option<&Account>) -> (Account, String) {
        let new = NewAccount {
            id: None,
            name: name.into(),
            role: Role::Customer,
            currency: Currency::parse("EUR").unwrap(),
            opening_balance: if parent.is_some() {
                Decimal::ZERO
            } else {
                Decimal::from(100)
            },
            enabled: true,
            profile: AccountProfile::default(),
        };
        self.engine
            .create_account(&Self::operator(), new, parent.map(|p| p.id.clone()))
            .await
            .expect("the account is created")
    }

    /// The account's balance, as the operator reads it.
    async fn balance(&self, account: &Account) -> Decimal {
        self.engine
            .account(&Self::operator(), &account.id)
            .await
            .expect("the account exists")
            .balance
    }

    /// The account's ledger entries, oldest first, as the operator reads them.
    async fn ledger(&self, account: &Account) -> Vec<LedgerEntry> {
        let query = LedgerQuery {
            account: account.id.clone(),
            debits: None,
            kind: None,
            from: None,
            to: None,
            limit: 1_000,
            offset: 0,
        };
        let page = self
            .engine
            .ledger(&Self::operator(), &query)
            .await
            .expect("the ledger is read");
        let mut entries = page.entries;
        entries.reverse();
        entries
    }

    /// The actions of a number's audit trail (every row it had), oldest first, through
    /// `GET /admin/v1/numbers/{e164}/audit`.
    async fn audit(&self, e164: &str) -> Vec<String> {
        let req = Request::builder()
            .uri(format!(
                "/admin/v1/numbers/{}/audit",
                e164.replacen('+', "%2B", 1)
            ))
            .header(header::AUTHORIZATION, "Bearer test-admin")
            .body(Body::empty())
            .unwrap();
        let r = self.send(req).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["events"]
            .as_array()
            .expect("an events array")
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    }

    /// A request through the Vobiz face, with the account's Vobiz token.
    async fn vobiz(
        &self,
        method: Method,
        path: &str,
        (account, token): (&Account, &str),
        body: Option<Value>,
    ) -> Resp {
        let req = Request::builder()
            .method(method)
            .uri(format!("/api/v1/account/{}{path}", account.id))
            .header("X-Auth-ID", account.id.to_string())
            .header("X-Auth-Token", token);
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.send(req.unwrap()).await
    }

    /// A Diga key for `account`.
    async fn key(&self, account: &Account, scope: Option<&str>) -> String {
        let (_, token) = self
            .engine
            .create_key(
                &Self::operator(),
                account.id.clone(),
                CredentialKind::Diga,
                scope.map(str::to_owned),
            )
            .await
            .expect("the key is issued");
        token
    }

    /// Stocks a number at €1.95 a month.
    async fn stock(&self, e164: &str) {
        let number = NewNumber {
            e164: E164::parse(e164).expect("a valid number"),
            country: "ES".into(),
            region: None,
            capabilities: Capabilities::VOICE,
            provider: "netelip".into(),
            setup_fee: Decimal::ZERO,
            monthly_fee: Decimal::new(195, 2),
            currency: Currency::parse("EUR").unwrap(),
        };
        self.engine
            .run(
                &Self::operator(),
                Command::AddInventory {
                    numbers: vec![number],
                },
            )
            .await
            .expect("the number is stocked");
    }

    /// Stocks and buys a number for `account`.
    async fn buy(&self, account: &Account, e164: &str) -> Number {
        self.stock(e164).await;
        let changes = self
            .engine
            .run(
                &By::account(account, None),
                Command::Purchase {
                    number: E164::parse(e164).unwrap().into(),
                    currency: None,
                    quoted_monthly_fee: None,
                },
            )
            .await
            .expect("the purchase succeeds");
        changes.number.expect("the number")
    }

    async fn reserve(&self, account: &Account, e164: &str) -> Number {
        self.stock(e164).await;
        let cmd = Command::Reserve {
            number: E164::parse(e164).unwrap().into(),
            account: account.id.clone(),
            until: self.engine.now() + Duration::minutes(30),
        };
        let changes = self.engine.run(&Self::operator(), cmd).await.unwrap();
        changes.number.unwrap()
    }

    async fn stored(&self, id: &str) -> Number {
        let id = NumberId::parse(id).unwrap();
        self.engine
            .number(&Self::operator(), &id.into(), didpool_core::Sight::Held)
            .await
            .expect("the row exists")
    }

    /// Moves the clock to `at` and runs the scheduler.
    async fn at(&self, at: &str) {
        self.clock.set(at.parse().expect("a valid time"));
        self.engine.run_due().await.expect("the scheduler runs");
    }

    async fn send(&self, req: Request<Body>) -> Resp {
        let (method, uri) = (req.method().to_string(), req.uri().to_string());
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let raw = res.into_body().collect().await.unwrap().to_bytes();
        let body = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()))
        };
        wire::check(&method, &uri, status.as_u16(), &body);
        Resp {
            status,
            headers,
            body,
        }
    }

    /// A request with an optional bearer key and an optional raw JSON body.
    async fn raw(&self, method: Method, path: &str, key: Option<&str>, body: Option<&str>) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_owned())),
            None => req.body(Body::empty()),
        };
        self.send(req.unwrap()).await
    }

    async fn get(&self, path: &str, key: &str) -> Resp {
        self.raw(Method::GET, path, Some(key), None).await
    }

    async fn patch(&self, path: &str, key: &str, body: Value) -> Resp {
        self.raw(Method::PATCH, path, Some(key), Some(&body.to_string()))
            .await
    }

    async fn post(&self, path: &str, key: &str, body: Value) -> Resp {
        self.raw(Method::POST, path, Some(key), Some(&body.to_string()))
            .await
    }

    async fn delete(&self, path: &str, key: &str) -> Resp {
        self.raw(Method::DELETE, path, Some(key), None).await
    }
}

/// `(status, body)`, for one-line assertions.
fn sb(r: &Resp) -> (StatusCode, Value) {
    (r.status, r.body.clone())
}

fn app_error(code: &str, message: &str) -> Value {
    json!({"status": "error", "error_code": code, "message": message})
}

fn not_found(id: &str) -> Value {
    app_error("PHONE_NUMBER_NOT_FOUND", &format!("Phone {id} not found"))
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("a data array")
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A purchased Madrid number as the face shows it.
fn assigned(n: &Number) -> Value {
    json!({
        "id": n.id.to_string(),
        "nickname": null,
        "number": n.e164.to_string(),
        "telephony_provider": "netelip",
        "status": "assigned",
        "released_at": null,
        "scheduled_release_at": null,
        "assigned_at": "2026-06-01T10:00:00Z",
        "inbound_agent_id": null,
        "outbound_agent_id": null,
        "sip_config": null,
        "checkout_url": null,
        "reservation_expires_at": null,
        "region_codes": ["MD"]
    })
}

const AGENT_IN: &str = "9b1f6a2e-4c1d-4f7e-9a51-2d8c0b7e1f30";
const AGENT_OUT: &str = "0c6f1d7e-2a4b-4e5f-8a9b-1c2d3e4f5a6b";
const UNKNOWN: &str = "3c90c3cc-0d44-4b50-8888-8dd25736052a";

/// Each scenario runs on SQLite, and on PostgreSQL when `DIDPOOL_TEST_POSTGRES_URL` is set.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::{Backend, H};

            #[tokio::test]
            async fn sqlite() {
                let h = H::new(Backend::Sqlite, stringify!($name)).await;
                super::$name(h.expect("SQLite is always available")).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(h) = H::new(Backend::Postgres, stringify!($name)).await {
                    super::$name(h).await;
                }
            }
        }
    )*};
}

on_both_backends!(
    a_purchased_number_is_listed_and_read_with_every_field,
    unknown_and_other_companies_phones_are_not_found,
    requests_without_a_valid_key_are_unauthorized_before_validation,
    restricted_keys_read_or_write_phones_as_their_scope_allows,
    path_and_query_errors_have_fastapis_shape,
    body_errors_have_fastapis_shape,
    the_other_trailing_slash_redirects_and_unknown_routes_are_fastapis_404,
    a_purchased_number_is_released_at_the_cycle_end_then_finished_after_30_days,
    an_imported_number_keeps_its_sip_trunk_and_is_deleted_at_once,
    reserved_and_pending_verification_numbers_cannot_be_released,
    lists_page_by_cursor_or_page_number_and_filter,
    a_number_imported_again_is_a_new_phone_and_the_old_id_reaches_nothing,
    a_repeated_release_of_a_scheduled_phone_answers_204_and_changes_nothing,
    with_a_release_window_a_phone_pending_release_released_again_answers_204_and_changes_nothing,
    the_release_fee_is_charged_for_a_bought_phone_and_never_for_an_imported_one,
    binding_agents_and_changing_sip_settings_are_audited_and_a_nickname_is_not,
    a_phone_taken_back_from_a_sub_account_loses_the_agents_the_sub_account_bound,
    a_due_release_reads_and_refuses_edits_the_same_before_and_after_the_scheduler_runs,
    a_list_shows_a_due_release_as_released_before_the_scheduler_runs,
);

// ---- reading -----------------------------------------------------------------------------

async fn a_purchased_number_is_listed_and_read_with_every_field(h: H) {
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;
    let n = h.buy(&acme, &madrid(1)).await;

    let r = h.get("/v1/phone/", &key).await;
    assert_eq!(
        sb(&r),
        (
            StatusCode::OK,
            json!({
                "data": [assigned(&n)],
                "has_more": false,
                "first_id": n.id.to_string(),
                "last_id": n.id.to_string(),
                "current_page": null,
                "total_pages": null
            })
        )
    );
    let r = h.get(&format!("/v1/phone/{}", n.id), &key).await;
    assert_eq!(sb(&r), (StatusCode::OK, assigned(&n)));
    // Canonical UUID forms pydantic accepts: upper case, no hyphens.
    let simple = n.id.0.simple().to_string().to_uppercase();
    let r = h.get(&format!("/v1/phone/{simple}"), &key).await;
    assert_eq!(sb(&r), (StatusCode::OK, assigned(&n)));

    // An empty list.
    let other = h.account("Other").await;
    let other_key = h.key(&other, None).await;
    let r = h.get("/v1/phone/", &other_key).await;
    assert_eq!(
        r.body,
        json!({"data": [], "has_more": false, "first_id": null, "last_id": null,
               "current_page": null, "total_pages": null})
    );
}

async fn unknown_and_other_companies_phones_are_not_found(h: H) {
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;
    let rival = h.account("Rival").await;
    let theirs = h.buy(&rival, &madrid(2)).await.id.to_string();

    for id in [UNKNOWN, theirs.as_str()] {
        let r = h.get(&format!("/v1/phone/{id}"), &key).await;
        assert_eq!(sb(&r), (StatusCode::NOT_FOUND, not_found(id)), "GET {id}");
        let r = h
            .patch(&format!("/v1/phone/{id}"), &key, json!({"nickname": "x"}))
            .await;
        assert_eq!(sb(&r), (StatusCode::NOT_FOUND, not_found(id)), "PATCH {id}");
        let r = h
            .patch(
                &format!("/v1/phone/{id}/sip-config"),
                &key,
                json!({"inbound_config": {"media_encryption": "require"}}),
            )
            .await;
        assert_eq!(sb(&r), (StatusCode::NOT_FOUND, not_found(id)), "sip {id}");
        let r = h.delete(&format!("/v1/phone/{id}"), &key).await;
        assert_eq!(
            sb(&r),
            (StatusCode::NOT_FOUND, not_found(id)),
            "DELETE {id}"
        );
    }
    // The rival's number is untouched.
    let n = h.stored(&theirs).await;
    assert_eq!(n.owner_id, Some(rival.id));
    assert_eq!(n.release_at, None);
    assert!(ids(&h.get("/v1/phone/", &key).await.body).is_empty());
}

// ---- auth ----------------------------------------------------------------------------------

async fn requests_without_a_valid_key_are_unauthorized_before_validation(h: H) {
    let acme = h.account("Acme").await;
    let n = h.buy(&acme, &madrid(3)).await;
    // An Agni key is not a Diga key.
    let (_, agni_key) = h
        .engine
        .create_key(&H::operator(), acme.id.clone(), CredentialKind::Agni, None)
        .await
        .unwrap();
    let unauthorized = app_error("UNAUTHORIZED", "Invalid or missing API key");
    let phone = format!("/v1/phone/{}", n.id);

    let mut cases: Vec<(Method, String, Option<String>)> = vec![
        (Method::GET, "/v1/phone/".into(), None),
        (Method::GET, phone.clone(), None),
        (Method::GET, phone.clone(), Some("Basic abc".into())),
        (Method::GET, phone.clone(), Some("Bearer".into())),
        (Method::GET, phone.clone(), Some("Bearer diga_nope".into())),
        (
            Method::GET,
            phone.clone(),
            Some(format!("Bearer {agni_key}")),
        ),
        // 401 wins over every validation error.
        (Method::DELETE, "/v1/phone/not-a-uuid".into(), None),
        (Method::GET, "/v1/phone/?limit=0".into(), None),
        (Method::PATCH, "/v1/phone/not-a-uuid".into(), None),
        (Method::POST, "/v1/phone/import".into(), None),
    ];
    cases.push((Method::DELETE, phone.clone(), None));
    for (method, path, auth) in cases {
        let mut req = Request::builder().method(method.clone()).uri(&path);
        if let Some(a) = &auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let r = h.send(req.body(Body::from("{bad")).unwrap()).await;
        assert_eq!(
            sb(&r),
            (StatusCode::UNAUTHORIZED, unauthorized.clone()),
            "{method} {path} {auth:?}"
        );
        assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer");
    }
    // The scheme is case-insensitive.
    let key = h.key(&acme, None).await;
    let req = Request::builder()
        .uri(&phone)
        .header(header::AUTHORIZATION, format!("bearer {key}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::OK);
    assert!(h.stored(&n.id.to_string()).await.release_at.is_none());
}

async fn restricted_keys_read_or_write_phones_as_their_scope_allows(h: H) {
    let acme = h.account("Acme").await;
    let n = h.buy(&acme, &madrid(4)).await;
    let read = h.key(&acme, Some("phones:read")).await;
    let none = h.key(&acme, Some("calls:read")).await;
    let write = h.key(&acme, Some("agents:read phones:write")).await;
    let denied = (
        StatusCode::FORBIDDEN,
        app_error("INTERNAL_SERVER_ERROR", "Missing required permissions"),
    );
    let phone = format!("/v1/phone/{}", n.id);

    assert_eq!(h.get("/v1/phone/", &read).await.status, StatusCode::OK);
    assert_eq!(h.get(&phone, &read).await.status, StatusCode::OK);
    let import = json!({"phone_number": "+34932000001"});
    assert_eq!(sb(&h.patch(&phone, &read, json!({})).await), denied);
    assert_eq!(
        sb(&h
            .patch(&format!("{phone}/sip-config"), &read, json!({}))
            .await),
        denied
    );
    assert_eq!(
        sb(&h.post("/v1/phone/import", &read, import.clone()).await),
        denied
    );
    assert_eq!(sb(&h.delete(&phone, &read).await), denied);
    // 403 comes before validation too.
    assert_eq!(sb(&h.delete("/v1/phone/not-a-uuid", &read).await), denied);

    assert_eq!(sb(&h.get("/v1/phone/", &none).await), denied);
    assert_eq!(sb(&h.get(&phone, &none).await), denied);

    let r = h.patch(&phone, &write, json!({"nickname": "Sede"})).await;
    assert_eq!(
        (r.status, &r.body["nickname"]),
        (StatusCode::OK, &json!("Sede"))
    );
    assert_eq!(h.get(&phone, &write).await.status, StatusCode::OK);
    let r = h.post("/v1/phone/import", &write, import).await;
    assert_eq!(r.status, StatusCode::OK);
}

// ---- validation ----------------------------------------------------------------------------

async fn path_and_query_errors_have_fastapis_shape(h: H) {
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;

    let r = h.delete("/v1/phone/not-a-uuid", &key).await;
    assert_eq!(
        sb(&r),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [{"type": "uuid_parsing", "loc": ["path", "id"],
                "msg": "Input should be a valid UUID, invalid character: found `n` at 0",
                "input": "not-a-uuid",
                "ctx": {"error": "invalid character: found `n` at 0"}}]})
        )
    );
    let r = h.get("/v1/phone/not-a-uuid", &key).await;
    assert_eq!(r.body["detail"][0]["loc"], json!(["path", "phone_id"]));
    // `import` is a phone id to GET (and not a UUID).
    let r = h.get("/v1/phone/import", &key).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["detail"][0]["input"], json!("import"));

    let cases: [(&str, Value); 8] = [
        (
            "limit=0",
            json!({"type": "greater_than_equal", "loc": ["query", "limit"],
                "msg": "Input should be greater than or equal to 1", "input": "0", "ctx": {"ge": 1}}),
        ),
        (
            "limit=abc",
            json!({"type": "int_parsing", "loc": ["query", "limit"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "abc"}),
        ),
        (
            "limit=101",
            json!({"type": "less_than_equal", "loc": ["query", "limit"],
                "msg": "Input should be less than or equal to 100", "input": "101", "ctx": {"le": 100}}),
        ),
        (
            "page=0",
            json!({"type": "greater_than_equal", "loc": ["query", "page"],
                "msg": "Input should be greater than or equal to 1", "input": "0", "ctx": {"ge": 1}}),
        ),
        (
            "order=up",
            json!({"type": "literal_error", "loc": ["query", "order"],
                "msg": "Input should be 'asc' or 'desc'", "input": "up",
                "ctx": {"expected": "'asc' or 'desc'"}}),
        ),
        (
            "status=active",
            json!({"type": "enum", "loc": ["query", "status"],
                "msg": "Input should be 'reserved', 'pending_verification', 'assigned', 'released' or 'finished'",
                "input": "active",
                "ctx": {"expected": "'reserved', 'pending_verification', 'assigned', 'released' or 'finished'"}}),
        ),
        (
            "after=xyz",
            json!({"type": "uuid_parsing", "loc": ["query", "after"],
                "msg": "Input should be a valid UUID, invalid character: found `x` at 0",
                "input": "xyz", "ctx": {"error": "invalid character: found `x` at 0"}}),
        ),
        (
            "start_assigned_at=yesterday",
            json!({"type": "datetime_from_date_parsing", "loc": ["query", "start_assigned_at"],
                "msg": "Input should be a valid datetime or date, input is too short",
                "input": "yesterday", "ctx": {"error": "input is too short"}}),
        ),
    ];
    for (query, issue) in cases {
        let r = h.get(&format!("/v1/phone/?{query}"), &key).await;
        assert_eq!(
            sb(&r),
            (StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": [issue]})),
            "{query}"
        );
    }
    // Every problem at once, in the parameters' order.
    let r = h
        .get("/v1/phone/?status=x&limit=0&inbound_agent_id=1", &key)
        .await;
    let locs: Vec<&Value> = r.body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["loc"][1])
        .collect();
    assert_eq!(
        locs,
        [
            &json!("limit"),
            &json!("inbound_agent_id"),
            &json!("status")
        ]
    );

    // Pagination conflicts are app errors with 422.
    let r = h
        .get(
            &format!("/v1/phone/?after={UNKNOWN}&before={UNKNOWN}"),
            &key,
        )
        .await;
    assert_eq!(
        sb(&r),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            app_error(
                "INVALID_PAGINATION_PARAMETERS",
                "Cannot specify both 'before' and 'after' parameters"
            )
        )
    );
    let r = h.get(&format!("/v1/phone/?after={UNKNOWN}"), &key).await;
    assert_eq!(
        sb(&r),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            app_error(
                "INVALID_PAGINATION_PARAMETERS",
                "Invalid pagination parameters"
            )
        )
    );
    let r = h
        .get(
            "/v1/phone/?start_assigned_at=2026-07-01&end_assigned_at=2026-06-01",
            &key,
        )
        .await;
    assert_eq!(
        sb(&r),
        (
            StatusCode::BAD_REQUEST,
            app_error("NOT_VALID_FIELD", "Invalid field value in query parameters")
        )
    );
}

async fn body_errors_have_fastapis_shape(h: H) {
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;
    let n = h.buy(&acme, &madrid(5)).await;
    let phone = format!("/v1/phone/{}", n.id);
    let unprocessable = |issues: Value| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "detail": issues }),
        )
    };

    // PATCH with no body.
    let r = h.raw(Method::PATCH, &phone, Some(&key), None).await;
    assert_eq!(
        sb(&r),
        unprocessable(
            json!([{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}])
        )
    );
    let r = h
        .patch(&phone, &key, json!({"inbound_version_id": "zzz"}))
        .await;
    assert_eq!(
        sb(&r),
        unprocessable(
            json!([{"type": "uuid_parsing", "loc": ["body", "inbound_version_id"],
            "msg": "Input should be a valid UUID, invalid character: found `z` at 0",
            "input": "zzz", "ctx": {"error": "invalid character: found `z` at 0"}}])
        )
    );
    // Path first, then body; every body field.
    let r = h
        .patch(
            "/v1/phone/nope",
            &key,
            json!({"nickname": 5, "outbound_version_id": 7}),
        )
        .await;
    assert_eq!(
        r.body["detail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["type"].as_str().unwrap(), d["loc"].clone()))
            .collect::<Vec<_>>(),
        [
            ("uuid_parsing", json!(["path", "phone_id"])),
            ("string_type", json!(["body", "nickname"])),
            ("uuid_type", json!(["body", "outbound_version_id"])),
        ]
    );
    // Not an object.
    let r = h.patch(&phone, &key, json!([])).await;
    assert_eq!(
        sb(&r),
        unprocessable(json!([{"type": "model_attributes_type", "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from", "input": []}]))
    );

    // Import.
    let r = h.post("/v1/phone/import", &key, json!({})).await;
    assert_eq!(
        sb(&r),
        unprocessable(json!([{"type": "missing", "loc": ["body", "phone_number"],
            "msg": "Field required", "input": {}}]))
    );
    let r = h
        .post("/v1/phone/import", &key, json!({"phone_number": ""}))
        .await;
    assert_eq!(
        sb(&r),
        unprocessable(
            json!([{"type": "string_too_short", "loc": ["body", "phone_number"],
            "msg": "String should have at least 1 character", "input": "",
            "ctx": {"min_length": 1}}])
        )
    );
    let r = h
        .post(
            "/v1/phone/import",
            &key,
            json!({"phone_number": "+34932000002",
                   "inbound_config": {"media_encryption": "bogus", "allowed_addresses": "10.0.0.1"},
                   "outbound_config": {"username": "u"}}),
        )
        .await;
    assert_eq!(
        sb(&r),
        unprocessable(json!([
            {"type": "enum", "loc": ["body", "inbound_config", "media_encryption"],
             "msg": "Input should be 'disable', 'allow' or 'require'", "input": "bogus",
             "ctx": {"expected": "'disable', 'allow' or 'require'"}},
            {"type": "list_type", "loc": ["body", "inbound_config", "allowed_addresses"],
             "msg": "Input should be a valid list", "input": "10.0.0.1"},
            {"type": "missing", "loc": ["body", "outbound_config", "termination_uri"],
             "msg": "Field required", "input": {"username": "u"}}
        ]))
    );

    // A body that is not sent as JSON is not an object.
    let req = Request::builder()
        .method(Method::PATCH)
        .uri(&phone)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{\"nickname\": \"x\"}"))
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.body["detail"][0]["type"], "model_attributes_type");
    assert_eq!(r.body["detail"][0]["input"], "{\"nickname\": \"x\"}");

    // Broken JSON.
    let r = h
        .raw(Method::POST, "/v1/phone/import", Some(&key), Some("{bad"))
        .await;
    assert_eq!(
        sb(&r),
        unprocessable(
            json!([{"type": "json_invalid", "loc": ["body", 1], "msg": "JSON decode error",
            "input": {}, "ctx": {"error": "Expecting property name enclosed in double quotes"}}])
        )
    );
    let r = h
        .raw(
            Method::PATCH,
            &phone,
            Some(&key),
            Some("{\"nickname\": \"x\",}"),
        )
        .await;
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", 17]));
    // Nothing changed.
    assert_eq!(h.stored(&n.id.to_string()).await.nickname, None);
    assert_eq!(
        ids(&h.get("/v1/phone/", &key).await.body),
        [n.id.to_string()]
    );
}

// ---- routing -------------------------------------------------------------------------------

async fn the_other_trailing_slash_redirects_and_unknown_routes_are_fastapis_404(h: H) {
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;
    let redirect = |r: &Resp| {
        (
            r.status,
            r.headers
                .get(header::LOCATION)
                .map(|v| v.to_str().unwrap().to_owned()),
        )
    };
    let to = |l: &str| (StatusCode::TEMPORARY_REDIRECT, Some(l.to_owned()));

    // No key needed: routing comes first.
    let r = h.raw(Method::GET, "/v1/phone", None, None).await;
    assert_eq!(redirect(&r), to("/v1/phone/"));
    let r = h
        .raw(Method::GET, "/v1/phone?limit=5&order=asc", Some(&key), None)
        .await;
    assert_eq!(redirect(&r), to("/v1/phone/?limit=5&order=asc"));
    let r = h
        .raw(Method::DELETE, &format!("/v1/phone/{UNKNOWN}/"), None, None)
        .await;
    assert_eq!(redirect(&r), to(&format!("/v1/phone/{UNKNOWN}")));
    let r = h
        .raw(
            Method::PATCH,
            &format!("/v1/phone/{UNKNOWN}/sip-config/"),
            None,
            Some("{}"),
        )
        .await;
    assert_eq!(redirect(&r), to(&format!("/v1/phone/{UNKNOWN}/sip-config")));
    let r = h
        .raw(Method::POST, "/v1/phone/import/", Some(&key), Some("{}"))
        .await;
    assert_eq!(redirect(&r), to("/v1/phone/import"));
    assert_eq!(r.body, Value::Null);

    for path in ["/v1/nothing", "/v1/phone/a/b", "/v1", "/v1/"] {
        let r = h.raw(Method::GET, path, Some(&key), None).await;
        assert_eq!(
            sb(&r),
            (StatusCode::NOT_FOUND, json!({"detail": "Not Found"})),
            "{path}"
        );
    }
    let r = h
        .raw(
            Method::PUT,
            &format!("/v1/phone/{UNKNOWN}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(
        sb(&r),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"detail": "Method Not Allowed"})
        )
    );
    assert_eq!(r.headers[header::ALLOW], "GET, PATCH, DELETE");
    let r = h
        .raw(Method::POST, "/v1/phone/", Some(&key), Some("{}"))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body, json!({"detail": "Method Not Allowed"}));

    // `import` is a phone id to the other routes, and not a UUID.
    for (method, loc) in [(Method::GET, "phone_id"), (Method::DELETE, "id")] {
        let r = h.raw(method, "/v1/phone/import", Some(&key), None).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["detail"][0]["loc"], json!(["path", loc]));
    }
    let r = h
        .raw(
            Method::PATCH,
            "/v1/phone/import/sip-config",
            Some(&key),
            Some("{}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["detail"][0]["input"], json!("import"));

    // The other faces still take either slash.
    let r = h.raw(Method::GET, "/healthz/", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
}

// ---- lifecycles ----------------------------------------------------------------------------

async fn a_purchased_number_is_released_at_the_cycle_end_then_finished_after_30_days(h: H) {
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;
    let n = h.buy(&acme, &madrid(6)).await;
    let id = n.id.to_string();
    let phone = format!("/v1/phone/{id}");

    // Bind agents (the version ids are shown as the agent ids).
    let r = h
        .patch(
            &phone,
            &key,
            json!({"nickname": "Recepción Madrid", "inbound_version_id": AGENT_IN,
                   "outbound_version_id": AGENT_OUT}),
        )
        .await;
    let mut expected = assigned(&n);
    expected["nickname"] = json!("Recepción Madrid");
    expected["inbound_agent_id"] = json!(AGENT_IN);
    expected["outbound_agent_id"] = json!(AGENT_OUT);
    assert_eq!(sb(&r), (StatusCode::OK, expected.clone()));
    // Absent leaves a field; null clears it.
    let r = h
        .patch(&phone, &key, json!({"outbound_version_id": null}))
        .await;
    expected["outbound_agent_id"] = json!(null);
    assert_eq!(sb(&r), (StatusCode::OK, expected.clone()));

    // Release: ordered for the end of the billing cycle; the number keeps working until then.
    h.at("2026-06-10T08:00:00Z").await;
    let r = h.delete(&phone, &key).await;
    assert_eq!((r.status, r.body), (StatusCode::NO_CONTENT, Value::Null));
    expected["scheduled_release_at"] = json!("2026-07-01T10:00:00Z");
    assert_eq!(
        sb(&h.get(&phone, &key).await),
        (StatusCode::OK, expected.clone())
    );
    // Again: nothing changes.
    assert_eq!(h.delete(&phone, &key).await.status, StatusCode::NO_CONTENT);
    assert_eq!(h.get(&phone, &key).await.body, expected);

    // Just before the cycle ends: still assigned, and not renewed.
    h.at("2026-07-01T09:59:59Z").await;
    assert_eq!(h.get(&phone, &key).await.body, expected);
    assert_eq!(
        h.get("/v1/phone/?status=assigned", &key).await.body["data"][0]["id"],
        json!(id)
    );

    // At the cycle end: released, agents unbound, still in the company's list for 30 days.
    h.at("2026-07-01T10:00:00Z").await;
    let released = json!({
        "id": id,
        "nickname": null,
        "number": madrid(6),
        "telephony_provider": "netelip",
        "status": "released",
        "released_at": "2026-07-01T10:00:00Z",
        "scheduled_release_at": null,
        "assigned_at": null,
        "inbound_agent_id": null,
        "outbound_agent_id": null,
        "sip_config": null,
        "checkout_url": null,
        "reservation_expires_at": null,
        "region_codes": ["MD"]
    });
    assert_eq!(
        sb(&h.get(&phone, &key).await),
        (StatusCode::OK, released.clone())
    );
    assert_eq!(ids(&h.get("/v1/phone/", &key).await.body), [id.as_str()]);
    assert_eq!(
        ids(&h.get("/v1/phone/?status=released", &key).await.body),
        [id.as_str()]
    );
    assert!(ids(&h.get("/v1/phone/?status=assigned", &key).await.body).is_empty());
    // A released number cannot be edited; releasing it again changes nothing.
    let r = h.patch(&phone, &key, json!({"nickname": "x"})).await;
    assert_eq!(
        sb(&r),
        (
            StatusCode::CONFLICT,
            app_error(
                "PHONE_NUMBER_NOT_EDITABLE",
                &format!("Phone {id} in status released cannot be edited")
            )
        )
    );
    assert_eq!(h.delete(&phone, &key).await.status, StatusCode::NO_CONTENT);
    assert_eq!(h.get(&phone, &key).await.body, released);

    // 30 days later: finished, out of the default list, shown only when asked for.
    h.at("2026-07-31T09:59:59Z").await;
    assert_eq!(h.get(&phone, &key).await.body["status"], "released");
    h.at("2026-07-31T10:00:00Z").await;
    let mut finished = released.clone();
    finished["status"] = json!("finished");
    assert_eq!(sb(&h.get(&phone, &key).await), (StatusCode::OK, finished));
    assert!(ids(&h.get("/v1/phone/", &key).await.body).is_empty());
    assert_eq!(
        ids(&h.get("/v1/phone/?status=finished", &key).await.body),
        [id.as_str()]
    );
    assert_eq!(
        sb(&h.delete(&phone, &key).await),
        (StatusCode::NOT_FOUND, not_found(&id))
    );
    let r = h.patch(&phone, &key, json!({"nickname": "x"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["message"],
        format!("Phone {id} in status finished cannot be edited")
    );

    // Bought by someone else: gone from the first company's view.
    let rival = h.account("Rival").await;
    h.engine
        .run(
            &By::account(&rival, None),
            Command::Purchase {
                number: E164::parse(&madrid(6)).unwrap().into(),
                currency: None,
                quoted_monthly_fee: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(h.get(&phone, &key).await.status, StatusCode::NOT_FOUND);
    assert!(ids(&h.get("/v1/phone/?status=finished", &key).await.body).is_empty());
}

async fn an_imported_number_keeps_its_sip_trunk_and_is_deleted_at_once(h: H) {
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;

    let r = h
        .post(
            "/v1/phone/import",
            &key,
            json!({
                "phone_number": "+34932000003",
                "nickname": "Barcelona",
                "inbound_config": {"media_encryption": "require", "allowed_addresses": ["203.0.113.0/24"]},
                "outbound_config": {"termination_uri": "mysipuri.pstn.twilio.com",
                                    "username": "acme", "password": "s3cret"}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let phone = format!("/v1/phone/{id}");
    let imported = json!({
        "id": id,
        "nickname": "Barcelona",
        "number": "+34932000003",
        "telephony_provider": "custom",
        "status": "assigned",
        "released_at": null,
        "scheduled_release_at": null,
        "assigned_at": "2026-06-01T10:00:00Z",
        "inbound_agent_id": null,
        "outbound_agent_id": null,
        "sip_config": {
            "termination_uri": "mysipuri.pstn.twilio.com",
            "username": "acme",
            "inbound_media_encryption": "require",
            "outbound_media_encryption": "allow",
            "allowed_addresses": ["203.0.113.0/24"]
        },
        "checkout_url": null,
        "reservation_expires_at": null,
        "region_codes": ["CT"]
    });
    assert_eq!(r.body, imported);
    assert_eq!(
        sb(&h.get(&phone, &key).await),
        (StatusCode::OK, imported.clone())
    );
    let stored = h.stored(&id).await;
    assert_eq!(
        stored.sip_config.as_ref().unwrap().password.as_deref(),
        Some("s3cret"),
        "kept to place calls, never shown"
    );

    // The same number again.
    let r = h
        .post(
            "/v1/phone/import",
            &key,
            json!({"phone_number": "+34932000003"}),
        )
        .await;
    assert_eq!(
        sb(&r),
        (
            StatusCode::CONFLICT,
            app_error(
                "DUPLICATE_FIELD",
                "Phone number +34932000003 already exists"
            )
        )
    );
    // A SIP identifier is not a number didpool can hold.
    let r = h
        .post(
            "/v1/phone/import",
            &key,
            json!({"phone_number": "user@domain.com"}),
        )
        .await;
    assert_eq!(
        sb(&r),
        (
            StatusCode::BAD_REQUEST,
            app_error(
                "NOT_VALID_FIELD",
                "Phone number user@domain.com is not a valid E.164 phone number"
            )
        )
    );
    // The pre-July body: `sip_config` is the outbound trunk. A mobile has no region.
    let r = h
        .post(
            "/v1/phone/import",
            &key,
            json!({"phone_number": "+34612345678",
                   "sip_config": {"termination_uri": "old.example.com", "password": "p"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["sip_config"],
        json!({"termination_uri": "old.example.com", "username": null,
               "inbound_media_encryption": "allow", "outbound_media_encryption": "allow",
               "allowed_addresses": null})
    );
    assert_eq!(r.body["region_codes"], json!([]));
    // Without any trunk: inbound only.
    let r = h
        .post(
            "/v1/phone/import",
            &key,
            json!({"phone_number": "+34612345679"}),
        )
        .await;
    assert_eq!(r.body["sip_config"]["termination_uri"], Value::Null);

    // SIP config: absent or null keeps a setting, "" clears it; the password stays unless given.
    let r = h
        .patch(
            &format!("{phone}/sip-config"),
            &key,
            json!({"inbound_config": {"media_encryption": null, "allowed_addresses": []},
                   "outbound_config": {"termination_uri": "new.example.com", "username": "",
                                       "media_encryption": "disable"}}),
        )
        .await;
    let mut expected = imported.clone();
    expected["sip_config"] = json!({
        "termination_uri": "new.example.com",
        "username": null,
        "inbound_media_encryption": "require",
        "outbound_media_encryption": "disable",
        "allowed_addresses": []
    });
    assert_eq!(sb(&r), (StatusCode::OK, expected.clone()));
    let sip = h.stored(&id).await.sip_config.unwrap();
    assert_eq!(sip.password.as_deref(), Some("s3cret"));
    assert_eq!(sip.outbound_media_encryption, MediaEncryption::Disable);
    let r = h
        .patch(
            &format!("{phone}/sip-config"),
            &key,
            json!({"outbound_config": {"password": ""}}),
        )
        .await;
    assert_eq!(sb(&r), (StatusCode::OK, expected.clone()));
    assert_eq!(h.stored(&id).await.sip_config.unwrap().password, None);

    // Only imported numbers have a SIP config.
    let bought = h.buy(&acme, &madrid(7)).await;
    let r = h
        .patch(
            &format!("/v1/phone/{}/sip-config", bought.id),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(
        sb(&r),
        (
            StatusCode::BAD_REQUEST,
            app_error(
                "BAD_PARAMETER",
                "Only custom/imported phones can have their SIP config updated"
            )
        )
    );

    // Release: deleted at once, from every view.
    assert_eq!(h.delete(&phone, &key).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        sb(&h.get(&phone, &key).await),
        (StatusCode::NOT_FOUND, not_found(&id))
    );
    assert_eq!(
        sb(&h.delete(&phone, &key).await),
        (StatusCode::NOT_FOUND, not_found(&id))
    );
    assert_eq!(
        h.patch(&phone, &key, json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    for status in ["", "?status=released", "?status=finished"] {
        let listed = ids(&h.get(&format!("/v1/phone/{status}"), &key).await.body);
        assert!(!listed.contains(&id), "{status}");
    }
    // And it can be imported again.
    let r = h
        .post(
            "/v1/phone/import",
            &key,
            json!({"phone_number": "+34932000003"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.body["id"], json!(id));
}

async fn reserved_and_pending_verification_numbers_cannot_be_released(h: H) {
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;
    let n = h.reserve(&acme, &madrid(8)).await;
    let id = n.id.to_string();
    let phone = format!("/v1/phone/{id}");

    let r = h.get(&phone, &key).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "reserved");
    assert_eq!(r.body["reservation_expires_at"], "2026-06-01T10:30:00Z");
    assert_eq!(r.body["assigned_at"], Value::Null);
    assert_eq!(r.body["checkout_url"], Value::Null);
    assert_eq!(
        ids(&h.get("/v1/phone/?status=reserved", &key).await.body),
        [id.as_str()]
    );

    let r = h.delete(&phone, &key).await;
    assert_eq!(
        sb(&r),
        (
            StatusCode::CONFLICT,
            app_error(
                "PHONE_NUMBER_NOT_RELEASABLE",
                &format!("Phone {id} in status reserved cannot be released")
            )
        )
    );
    // A nickname may be set; agents may not be bound yet.
    let r = h.patch(&phone, &key, json!({"nickname": "Pronto"})).await;
    assert_eq!(
        (r.status, &r.body["nickname"]),
        (StatusCode::OK, &json!("Pronto"))
    );
    let r = h
        .patch(&phone, &key, json!({"inbound_version_id": AGENT_IN}))
        .await;
    assert_eq!(
        sb(&r),
        (
            StatusCode::CONFLICT,
            app_error(
                "PHONE_NUMBER_NOT_EDITABLE",
                &format!("Phone {id} in status reserved cannot be edited")
            )
        )
    );

    // The hold lapses: back to the pool, gone from the company's view.
    h.at("2026-06-01T10:30:00Z").await;
    assert_eq!(
        sb(&h.get(&phone, &key).await),
        (StatusCode::NOT_FOUND, not_found(&id))
    );
    assert!(ids(&h.get("/v1/phone/", &key).await.body).is_empty());
    assert!(ids(&h.get("/v1/phone/?status=finished", &key).await.body).is_empty());

    // An unverified company's paid number waits in pending_verification.
    let newco = h.account("Newco").await;
    let newco_key = h.key(&newco, None).await;
    h.engine
        .run(
            &H::operator(),
            Command::SetVerification {
                account: newco.id.clone(),
                status: Verification::Pending,
            },
        )
        .await
        .unwrap();
    let held = h.reserve(&newco, &madrid(9)).await;
    h.engine
        .run(
            &H::operator(),
            Command::Checkout {
                number: held.e164.clone().into(),
            },
        )
        .await
        .unwrap();
    let held_path = format!("/v1/phone/{}", held.id);
    let r = h.get(&held_path, &newco_key).await;
    assert_eq!(r.body["status"], "pending_verification");
    assert_eq!(r.body["reservation_expires_at"], Value::Null);
    assert_eq!(r.body["assigned_at"], "2026-06-01T10:30:00Z");
    let r = h.delete(&held_path, &newco_key).await;
    assert_eq!(
        sb(&r),
        (
            StatusCode::CONFLICT,
            app_error(
                "PHONE_NUMBER_NOT_RELEASABLE",
                &format!(
                    "Phone {} in status pending_verification cannot be released",
                    held.id
                )
            )
        )
    );
    assert_eq!(
        ids(&h
            .get("/v1/phone/?status=pending_verification", &newco_key)
            .await
            .body),
        [held.id.to_string()]
    );
}

// ---- lists ---------------------------------------------------------------------------------

async fn lists_page_by_cursor_or_page_number_and_filter(h: H) {
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;
    // Five numbers bought a day apart (so created and assigned in that order).
    let mut all = Vec::new();
    for i in 0..5 {
        all.push(h.buy(&acme, &madrid(20 + i)).await.id.to_string());
        h.clock.advance(Duration::days(1));
    }
    let newest_first: Vec<String> = all.iter().rev().cloned().collect();

    let list = |q: String| {
        let h = &h;
        let key = key.clone();
        async move { h.get(&format!("/v1/phone/{q}"), &key).await.body }
    };

    // Cursor pages, newest first by default.
    let p1 = list("?limit=2".into()).await;
    assert_eq!(ids(&p1), newest_first[0..2]);
    assert_eq!(p1["has_more"], true);
    assert_eq!(p1["first_id"], json!(newest_first[0]));
    assert_eq!(p1["last_id"], json!(newest_first[1]));
    assert_eq!(
        (&p1["current_page"], &p1["total_pages"]),
        (&Value::Null, &Value::Null)
    );
    let p2 = list(format!("?limit=2&after={}", newest_first[1])).await;
    assert_eq!(ids(&p2), newest_first[2..4]);
    assert_eq!(p2["has_more"], true);
    let p3 = list(format!("?limit=2&after={}", newest_first[3])).await;
    assert_eq!(ids(&p3), newest_first[4..5]);
    assert_eq!(p3["has_more"], false);
    // And back.
    let back = list(format!("?limit=2&before={}", newest_first[2])).await;
    assert_eq!(ids(&back), newest_first[0..2]);
    assert_eq!(back["has_more"], false);
    let back = list(format!("?limit=1&before={}", newest_first[2])).await;
    assert_eq!(ids(&back), newest_first[1..2]);
    assert_eq!(back["has_more"], true);

    // Oldest first.
    let asc = list("?order=asc&limit=3".into()).await;
    assert_eq!(ids(&asc), all[0..3]);
    let asc = list(format!("?order=asc&after={}", all[2])).await;
    assert_eq!(ids(&asc), all[3..5]);

    // Page numbers.
    let page = list("?page=2&limit=2".into()).await;
    assert_eq!(ids(&page), newest_first[2..4]);
    assert_eq!(
        (
            &page["current_page"],
            &page["total_pages"],
            &page["has_more"]
        ),
        (&json!(2), &json!(3), &json!(true))
    );
    let page = list("?page=3&limit=2".into()).await;
    assert_eq!(ids(&page), newest_first[4..5]);
    assert_eq!(page["has_more"], false);
    let page = list("?page=9&limit=2".into()).await;
    assert!(ids(&page).is_empty());
    assert_eq!(
        (&page["current_page"], &page["total_pages"]),
        (&json!(9), &json!(3))
    );
    // With a cursor, the cursor wins.
    let page = list(format!("?page=3&limit=2&after={}", newest_first[0])).await;
    assert_eq!(ids(&page), newest_first[1..3]);
    assert_eq!(page["current_page"], Value::Null);

    // Filters: agents and assignment time.
    let r = h
        .patch(
            &format!("/v1/phone/{}", all[1]),
            &key,
            json!({"inbound_version_id": AGENT_IN}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        ids(&list(format!("?inbound_agent_id={AGENT_IN}")).await),
        [all[1].clone()]
    );
    assert!(ids(&list(format!("?outbound_agent_id={AGENT_IN}")).await).is_empty());
    let window =
        list("?start_assigned_at=2026-06-02T10:00:00Z&end_assigned_at=2026-06-04&order=asc".into())
            .await;
    assert_eq!(ids(&window), all[1..3]);
    let since = list("?start_assigned_at=2026-06-04T10:00:00Z".into()).await;
    assert_eq!(ids(&since), newest_first[0..2]);
}

// ---- one engine decision, whoever asks and whenever the scheduler runs ---------------------

/// An EUR amount in cents.
fn eur(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// The policy of the release-fee scenarios: a fee of €0.50.
fn with_fee() -> ReleasePolicy {
    ReleasePolicy {
        fee: eur(50),
        ..ReleasePolicy::default()
    }
}

async fn a_number_imported_again_is_a_new_phone_and_the_old_id_reaches_nothing(h: H) {
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;
    let e164 = "+34932000005";
    let first = h
        .post(
            "/v1/phone/import",
            &key,
            json!({"phone_number": e164, "nickname": "First",
                   "outbound_config": {"termination_uri": "first.example.com"}}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let old = first.body["id"].as_str().unwrap().to_owned();
    let old_phone = format!("/v1/phone/{old}");
    assert_eq!(
        h.delete(&old_phone, &key).await.status,
        StatusCode::NO_CONTENT
    );

    let again = h
        .post(
            "/v1/phone/import",
            &key,
            json!({"phone_number": e164, "nickname": "Second",
                   "outbound_config": {"termination_uri": "second.example.com"}}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let new = again.body["id"].as_str().unwrap().to_owned();
    assert_ne!(new, old, "a new row, with a new id");
    let new_phone = format!("/v1/phone/{new}");
    assert_eq!(h.audit(e164).await, ["imported", "released", "imported"]);

    // Every route by the old id: not found, and nothing lands on the new row.
    let answers = [
        ("GET", h.get(&old_phone, &key).await),
        (
            "PATCH nickname",
            h.patch(&old_phone, &key, json!({"nickname": "Hijack"}))
                .await,
        ),
        (
            "PATCH agents",
            h.patch(
                &old_phone,
                &key,
                json!({"inbound_version_id": AGENT_IN, "outbound_version_id": AGENT_OUT}),
            )
            .await,
        ),
        (
            "PATCH sip-config",
            h.patch(
                &format!("{old_phone}/sip-config"),
                &key,
                json!({"outbound_config": {"termination_uri": "hijack.example.com",
                                           "username": "mallory"}}),
            )
            .await,
        ),
        ("DELETE", h.delete(&old_phone, &key).await),
    ];
    for (what, r) in answers {
        assert_eq!(sb(&r), (StatusCode::NOT_FOUND, not_found(&old)), "{what}");
    }
    assert_eq!(
        sb(&h.get(&new_phone, &key).await),
        (StatusCode::OK, again.body.clone())
    );
    assert_eq!(
        h.stored(&new).await.sip_config.unwrap().username,
        None,
        "the new row's SIP settings are its own"
    );
    assert_eq!(h.audit(e164).await, ["imported", "released", "imported"]);
    assert_eq!(ids(&h.get("/v1/phone/", &key).await.body), [new.as_str()]);

    // The new id reaches the new row.
    let r = h
        .patch(&new_phone, &key, json!({"nickname": "Third"}))
        .await;
    assert_eq!(
        (r.status, &r.body["nickname"]),
        (StatusCode::OK, &json!("Third"))
    );
    let r = h
        .patch(
            &format!("{new_phone}/sip-config"),
            &key,
            json!({"outbound_config": {"username": "acme"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["sip_config"]["termination_uri"],
        json!("second.example.com")
    );
    assert_eq!(r.body["sip_config"]["username"], json!("acme"));
    assert_eq!(
        h.delete(&new_phone, &key).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.audit(e164).await,
        [
            "imported",
            "released",
            "imported",
            "sip_config_changed",
            "released"
        ]
    );
}

async fn a_repeated_release_of_a_scheduled_phone_answers_204_and_changes_nothing(h: H) {
    let h = h.with_policy(with_fee());
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;
    let n = h.buy(&acme, &madrid(30)).await;
    let phone = format!("/v1/phone/{}", n.id);

    h.at("2026-06-10T08:00:00Z").await;
    assert_eq!(
        sb(&h.delete(&phone, &key).await),
        (StatusCode::NO_CONTENT, Value::Null)
    );
    let scheduled = h.get(&phone, &key).await.body;
    assert_eq!(scheduled["status"], "assigned");
    assert_eq!(scheduled["scheduled_release_at"], "2026-07-01T10:00:00Z");
    let balance = h.balance(&acme).await;
    let ledger = h.ledger(&acme).await;
    let audit = h.audit(&n.e164.to_string()).await;
    assert_eq!(balance, eur(10_000 - 195 - 50), "the fee, charged once");
    assert_eq!(audit.last().map(String::as_str), Some("release_scheduled"));

    h.at("2026-06-20T08:00:00Z").await;
    for _ in 0..2 {
        assert_eq!(
            sb(&h.delete(&phone, &key).await),
            (StatusCode::NO_CONTENT, Value::Null)
        );
    }
    assert_eq!(h.get(&phone, &key).await.body, scheduled);
    assert_eq!(h.balance(&acme).await, balance);
    assert_eq!(h.ledger(&acme).await, ledger);
    assert_eq!(h.audit(&n.e164.to_string()).await, audit);
}

async fn with_a_release_window_a_phone_pending_release_released_again_answers_204_and_changes_nothing(
    h: H,
) {
    let h = h.with_policy(ReleasePolicy {
        window: Duration::hours(24),
        ..with_fee()
    });
    let (acme, token) = h.account_with_token("Acme", None).await;
    let key = h.key(&acme, None).await;
    let n = h.buy(&acme, &madrid(31)).await;
    let phone = format!("/v1/phone/{}", n.id);

    // Released through Vobiz: pending for the window, the fee charged.
    let path = format!("/numbers/{}", n.e164.as_str().replacen('+', "%2B", 1));
    let r = h.vobiz(Method::DELETE, &path, (&acme, &token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "pending_release");
    let pending = h.get(&phone, &key).await.body;
    assert_eq!(pending["status"], "assigned");
    assert_eq!(pending["scheduled_release_at"], "2026-06-02T10:00:00Z");
    let balance = h.balance(&acme).await;
    let ledger = h.ledger(&acme).await;
    let audit = h.audit(&n.e164.to_string()).await;
    assert_eq!(balance, eur(10_000 - 195 - 50));
    assert_eq!(audit.last().map(String::as_str), Some("release_requested"));

    // Through Diga: the release is already ordered, so 204 and nothing changes.
    h.clock.advance(Duration::hours(1));
    assert_eq!(
        sb(&h.delete(&phone, &key).await),
        (StatusCode::NO_CONTENT, Value::Null)
    );
    assert_eq!(h.get(&phone, &key).await.body, pending);
    assert_eq!(h.balance(&acme).await, balance);
    assert_eq!(h.ledger(&acme).await, ledger);
    assert_eq!(h.audit(&n.e164.to_string()).await, audit);
}

async fn the_release_fee_is_charged_for_a_bought_phone_and_never_for_an_imported_one(h: H) {
    let h = h.with_policy(with_fee());
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;
    let n = h.buy(&acme, &madrid(32)).await;
    assert_eq!(h.balance(&acme).await, eur(10_000 - 195));

    assert_eq!(
        h.delete(&format!("/v1/phone/{}", n.id), &key).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(h.balance(&acme).await, eur(10_000 - 195 - 50));
    let ledger = h.ledger(&acme).await;
    let fee = ledger.last().expect("a ledger entry");
    assert_eq!(
        (
            fee.kind,
            fee.amount,
            fee.balance_after,
            Some(fee.reference.as_str()),
            fee.description.as_str()
        ),
        (
            EntryKind::ReleaseFee,
            eur(-50),
            eur(10_000 - 195 - 50),
            Some(format!("did:{}", n.e164).as_str()),
            format!("release fee for {}", n.e164).as_str()
        )
    );

    // An imported number is never charged it.
    let r = h
        .post(
            "/v1/phone/import",
            &key,
            json!({"phone_number": "+34932000007"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let imported = format!("/v1/phone/{}", r.body["id"].as_str().unwrap());
    assert_eq!(
        h.delete(&imported, &key).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(h.get(&imported, &key).await.status, StatusCode::NOT_FOUND);
    assert_eq!(h.balance(&acme).await, eur(10_000 - 195 - 50));
    assert_eq!(h.ledger(&acme).await, ledger);
}

async fn binding_agents_and_changing_sip_settings_are_audited_and_a_nickname_is_not(h: H) {
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;
    let n = h.buy(&acme, &madrid(33)).await;
    let e164 = n.e164.to_string();
    let phone = format!("/v1/phone/{}", n.id);
    let mut trail = vec!["stocked", "purchased"];
    assert_eq!(h.audit(&e164).await, trail);

    let steps = [
        (json!({"nickname": "Recepción"}), None),
        (
            json!({"inbound_version_id": AGENT_IN}),
            Some("agents_changed"),
        ),
        // The same binding again changes nothing.
        (json!({"inbound_version_id": AGENT_IN}), None),
        (
            json!({"nickname": "Sede", "outbound_version_id": AGENT_OUT}),
            Some("agents_changed"),
        ),
        (json!({"nickname": null}), None),
        (json!({"inbound_version_id": null}), Some("agents_changed")),
        (
            json!({"outbound_version_id": AGENT_IN, "inbound_version_id": AGENT_OUT}),
            Some("agents_changed"),
        ),
    ];
    for (body, event) in steps {
        let r = h.patch(&phone, &key, body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.body);
        trail.extend(event);
        assert_eq!(h.audit(&e164).await, trail, "after {body}");
    }
    let r = h
        .get(
            &format!("/admin/v1/numbers/{}/audit", e164.replacen('+', "%2B", 1)),
            "unused",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the operator's only");

    let r = h
        .post(
            "/v1/phone/import",
            &key,
            json!({"phone_number": "+34932000008", "nickname": "BYO",
                   "outbound_config": {"termination_uri": "byo.example.com"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let imported = format!("/v1/phone/{}", r.body["id"].as_str().unwrap());
    let mut trail = vec!["imported"];
    let steps = [
        (
            format!("{imported}/sip-config"),
            json!({"outbound_config": {"termination_uri": "trunk.example.com"}}),
            Some("sip_config_changed"),
        ),
        // Nothing to change.
        (
            format!("{imported}/sip-config"),
            json!({"outbound_config": {"termination_uri": "trunk.example.com"}}),
            None,
        ),
        (
            format!("{imported}/sip-config"),
            json!({"outbound_config": {"password": "new-secret"}}),
            Some("sip_config_changed"),
        ),
        (
            format!("{imported}/sip-config"),
            json!({"inbound_config": {"allowed_addresses": ["198.51.100.7"]}}),
            Some("sip_config_changed"),
        ),
        (imported.clone(), json!({"nickname": "Renamed"}), None),
        (
            imported.clone(),
            json!({"inbound_version_id": AGENT_IN}),
            Some("agents_changed"),
        ),
    ];
    for (path, body, event) in steps {
        let r = h.patch(&path, &key, body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{path} {body}: {}", r.body);
        trail.extend(event);
        assert_eq!(h.audit("+34932000008").await, trail, "after {path} {body}");
    }
}

async fn a_phone_taken_back_from_a_sub_account_loses_the_agents_the_sub_account_bound(h: H) {
    let (acme, token) = h.account_with_token("Acme", None).await;
    let (team, _) = h.account_with_token("Team", Some(&acme)).await;
    let acme_key = h.key(&acme, None).await;
    let team_key = h.key(&team, None).await;
    let n = h.buy(&acme, &madrid(34)).await;
    let phone = format!("/v1/phone/{}", n.id);
    let assign = format!(
        "/numbers/{}/assign-subaccount",
        n.e164.as_str().replacen('+', "%2B", 1)
    );
    let r = h
        .vobiz(
            Method::POST,
            &assign,
            (&acme, &token),
            Some(json!({"sub_account_id": team.id.to_string()})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);

    // The sub-account binds its agents; its parent sees them.
    let r = h
        .patch(
            &phone,
            &team_key,
            json!({"nickname": "Team line", "inbound_version_id": AGENT_IN,
                   "outbound_version_id": AGENT_OUT}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = h.get(&phone, &acme_key).await;
    assert_eq!(
        (&r.body["inbound_agent_id"], &r.body["outbound_agent_id"]),
        (&json!(AGENT_IN), &json!(AGENT_OUT))
    );

    // Taken back: the agents leave with the sub-account.
    let r = h
        .vobiz(Method::DELETE, &assign, (&acme, &token), None)
        .await;
    assert!(r.status.is_success(), "{}: {}", r.status, r.body);
    let mut expected = assigned(&n);
    expected["nickname"] = json!(null);
    assert_eq!(
        sb(&h.get(&phone, &acme_key).await),
        (StatusCode::OK, expected)
    );
    assert_eq!(
        sb(&h.get(&phone, &team_key).await),
        (StatusCode::NOT_FOUND, not_found(&n.id.to_string()))
    );
    assert!(ids(&h
        .get(
            &format!("/v1/phone/?inbound_agent_id={AGENT_IN}"),
            &acme_key
        )
        .await
        .body)
    .is_empty());
    assert_eq!(
        h.audit(&n.e164.to_string())
            .await
            .last()
            .map(String::as_str),
        Some("unassigned_from_sub_account")
    );
}

/// What Diga answers on a phone, read and edited (nickname, agents); none of it writes.
async fn answers(h: &H, key: &str, phone: &str) -> [(StatusCode, Value); 3] {
    [
        sb(&h.get(phone, key).await),
        sb(&h.patch(phone, key, json!({"nickname": "x"})).await),
        sb(&h
            .patch(phone, key, json!({"outbound_version_id": AGENT_OUT}))
            .await),
    ]
}

async fn a_due_release_reads_and_refuses_edits_the_same_before_and_after_the_scheduler_runs(h: H) {
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;
    let n = h.buy(&acme, &madrid(35)).await;
    let phone = format!("/v1/phone/{}", n.id);
    let r = h
        .patch(&phone, &key, json!({"inbound_version_id": AGENT_IN}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    h.at("2026-06-10T08:00:00Z").await;
    assert_eq!(h.delete(&phone, &key).await.status, StatusCode::NO_CONTENT);

    let not_editable = |status: &str| {
        (
            StatusCode::CONFLICT,
            app_error(
                "PHONE_NUMBER_NOT_EDITABLE",
                &format!("Phone {} in status {status} cannot be edited", n.id),
            ),
        )
    };

    // The cycle ends; the scheduler has not run yet.
    h.clock.set("2026-07-01T10:00:00Z".parse().unwrap());
    let before = answers(&h, &key, &phone).await;
    let released = json!({
        "id": n.id.to_string(),
        "nickname": null,
        "number": n.e164.to_string(),
        "telephony_provider": "netelip",
        "status": "released",
        "released_at": "2026-07-01T10:00:00Z",
        "scheduled_release_at": null,
        "assigned_at": null,
        "inbound_agent_id": null,
        "outbound_agent_id": null,
        "sip_config": null,
        "checkout_url": null,
        "reservation_expires_at": null,
        "region_codes": ["MD"]
    });
    assert_eq!(
        before,
        [
            (StatusCode::OK, released),
            not_editable("released"),
            not_editable("released")
        ]
    );
    assert_eq!(
        h.stored(&n.id.to_string()).await.state,
        didpool_core::NumberState::Quarantined,
        "the engine shows the number as it stands at its clock"
    );
    // Now it runs: the same answers.
    assert_eq!(h.engine.run_due().await.unwrap(), 1);
    assert_eq!(answers(&h, &key, &phone).await, before);

    // 30 days on, the scheduler not run again: finished; then it runs: the same.
    h.clock.set("2026-07-31T10:00:00Z".parse().unwrap());
    let before = answers(&h, &key, &phone).await;
    assert_eq!(before[0].1["status"], "finished");
    assert_eq!(
        before[1..],
        [not_editable("finished"), not_editable("finished")]
    );
    assert_eq!(h.engine.run_due().await.unwrap(), 1);
    assert_eq!(answers(&h, &key, &phone).await, before);
    assert_eq!(
        sb(&h.delete(&phone, &key).await),
        (StatusCode::NOT_FOUND, not_found(&n.id.to_string()))
    );
}

/// A list does what is due before it reads: a page does not depend on whether the scheduler ran.
async fn a_list_shows_a_due_release_as_released_before_the_scheduler_runs(h: H) {
    let acme = h.account("Acme").await;
    let key = h.key(&acme, None).await;
    let n = h.buy(&acme, &madrid(36)).await;
    let phone = format!("/v1/phone/{}", n.id);
    h.at("2026-06-10T08:00:00Z").await;
    assert_eq!(h.delete(&phone, &key).await.status, StatusCode::NO_CONTENT);
    // The cycle ends; the scheduler has not run.
    h.clock.set("2026-07-01T10:00:00Z".parse().unwrap());
    let r = h.get("/v1/phone/?status=released", &key).await;
    assert_eq!(r.status, StatusCode::OK);
    let ids: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [n.id.to_string()]);
    assert_eq!(r.body["data"][0]["status"], "released");
    let r = h.get("/v1/phone/?status=assigned", &key).await;
    assert_eq!(r.body["data"], json!([]));
    assert_eq!(h.engine.run_due().await.unwrap(), 0, "the list did it");
}
