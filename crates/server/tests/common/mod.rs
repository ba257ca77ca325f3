//! The test harness: the whole service (`didpool::app`) over a fresh SQLite database in a
//! temporary directory, driven in-process with `tower::ServiceExt::oneshot`, on a manual clock.
#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use didpool::AppState;
use didpool_core::account::{AccountProfile, NewAccount, Role};
use didpool_core::credential::CredentialKind;
use didpool_core::engine::By;
use didpool_core::lifecycle::Command;
use didpool_core::money::{Currency, Decimal};
use didpool_core::number::NewNumber;
use didpool_core::{
    AccountId, Capabilities, Engine, ManualClock, NumberValidation, ReleasePolicy, E164,
};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

pub use didpool_store::testing::Backend;

#[path = "../wire/mod.rs"]
pub mod wire;

tokio::task_local! {
    /// The backend the running test's `TestApp`s use (set by `on_every_backend!`).
    pub static BACKEND: Backend;
}

/// Runs each listed `async fn()` test once per backend: `sqlite::name` and `postgres::name`.
/// The PostgreSQL runs are skipped (and say so) when no test database is configured.
#[macro_export]
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    $crate::common::BACKEND.scope($crate::common::Backend::Sqlite, super::$test()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    if !didpool_store::testing::postgres_configured(stringify!($test)) {
                        return;
                    }
                    $crate::common::BACKEND.scope($crate::common::Backend::Postgres, super::$test()).await
                }
            )*
        }
    };
}

/// The operator token the harness configures for `/admin/v1`.
pub const ADMIN_TOKEN: &str = "test-admin";

/// Where the manual clock starts: every time the service writes is derived from it.
pub fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T10:00:00Z")
        .expect("a valid start time")
        .with_timezone(&Utc)
}

/// Bangalore landlines that libphonenumber accepts: `+918041100000` + `i`.
pub fn blr(i: u32) -> String {
    assert!(i < 100, "two digits at most");
    format!("+9180411000{i:02}")
}

/// The E.164 with its `+` percent-encoded, as documented for paths.
pub fn enc(e164: &str) -> String {
    e164.replacen('+', "%2B", 1)
}

/// An account and its Vobiz credentials.
#[derive(Debug, Clone)]
pub struct Acct {
    pub id: String,
    pub token: String,
}

impl Acct {
    /// `X-Auth-ID` + `X-Auth-Token`.
    pub fn auth(&self) -> Vec<(&'static str, String)> {
        vec![
            ("X-Auth-ID", self.id.clone()),
            ("X-Auth-Token", self.token.clone()),
        ]
    }

    /// The same pair as HTTP Basic.
    pub fn basic(&self) -> Vec<(&'static str, String)> {
        let pair =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.id, self.token));
        vec![("Authorization", format!("Basic {pair}"))]
    }

    /// `/api/v1/account/{id}` (the SDK's lowercase casing).
    pub fn base(&self) -> String {
        format!("/api/v1/account/{}", self.id)
    }

    /// `/api/v1/Account/{id}` (the documentation's capital casing).
    pub fn base_cap(&self) -> String {
        format!("/api/v1/Account/{}", self.id)
    }

    pub fn account_id(&self) -> AccountId {
        AccountId::parse(&self.id).expect("a valid account id")
    }
}

/// The service under test and the handles tests use to arrange and inspect it.
pub struct TestApp {
    pub app: didpool::App,
    pub engine: Engine,
    /// The engine's clock: move it to test time-based rules; nothing sleeps.
    pub clock: ManualClock,
    /// Whether the admin API may move the clock (`serve --sandbox`).
    sandbox: bool,
    _db: didpool_store::testing::TestDb,
}

/// A response: status, headers and the body parsed as JSON (`Value::Null` when empty,
/// `Value::String` when it is not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Some(ADMIN_TOKEN)).await
    }

    /// The same, with the admin API's token configured as given (`None`: the API is off).
    pub async fn spawn_with(admin_token: Option<&str>) -> Self {
        let db = Self::fresh_db().await;
        let store = Arc::clone(&db.store);
        let policy = ReleasePolicy::default();
        Self::on(
            db,
            store,
            admin_token,
            false,
            policy,
            NumberValidation::Strict,
        )
        .await
    }

    /// The service (not in sandbox mode) checking the numbers clients give under `rule`.
    pub async fn spawn_validating(rule: NumberValidation) -> Self {
        let db = Self::fresh_db().await;
        let store = Arc::clone(&db.store);
        Self::on(
            db,
            store,
            Some(ADMIN_TOKEN),
            false,
            ReleasePolicy::default(),
            rule,
        )
        .await
    }

    /// The service under a release policy (window, quarantine, fee, verification deadline), in
    /// sandbox mode: the admin API also runs the scheduler (`run_scheduler`) and reads the clock.
    pub async fn spawn_with_policy(policy: ReleasePolicy) -> Self {
        let db = Self::fresh_db().await;
        let store = Arc::clone(&db.store);
        Self::on(
            db,
            store,
            Some(ADMIN_TOKEN),
            true,
            policy,
            NumberValidation::Strict,
        )
        .await
    }

    /// The service as `serve --sandbox` runs it: the admin API moves the clock, and numbers are
    /// checked by their E.164 shape only.
    pub async fn spawn_sandbox() -> Self {
        let db = Self::fresh_db().await;
        let store = Arc::clone(&db.store);
        let policy = ReleasePolicy::default();
        Self::on(
            db,
            store,
            Some(ADMIN_TOKEN),
            true,
            policy,
            NumberValidation::E164,
        )
        .await
    }

    /// The service stopped and started again on the same database (a new store handle, engine
    /// and clock, which starts at [`start`]; a sandbox resumes its clock as `serve` does).
    pub async fn restart(self) -> Self {
        let policy = self.engine.policy().clone();
        let rule = self.engine.number_validation();
        let Self { sandbox, _db, .. } = self;
        let store = didpool_store::open(&_db.url, &didpool_store::Options::default())
            .await
            .expect("the test database opens again");
        Self::on(_db, store, Some(ADMIN_TOKEN), sandbox, policy, rule).await
    }

    async fn fresh_db() -> didpool_store::testing::TestDb {
        let backend = BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite);
        didpool_store::testing::TestDb::new(backend, "http test")
            .await
            .expect("the test database is configured")
    }

    async fn on(
        db: didpool_store::testing::TestDb,
        store: Arc<dyn didpool_core::Store>,
        admin_token: Option<&str>,
        sandbox: bool,
        policy: ReleasePolicy,
        rule: NumberValidation,
    ) -> Self {
        let clock = ManualClock::new(start());
        // With the authentication cache `serve` runs with (on the manual clock, an entry lives
        // until a command through this engine forgets it): revocations must apply at once. And
        // with its due cache: a list skips the due scan until the clock reaches what is next due.
        let engine = Engine::new(store, Arc::new(clock.clone()), policy)
            .with_number_validation(rule)
            .with_auth_cache(chrono::Duration::seconds(2))
            .with_due_cache(didpool_core::due_cache::DEFAULT_RECHECK);
        if sandbox {
            didpool::faces::admin::resume_clock(&engine, &clock)
                .await
                .expect("the sandbox clock resumes");
        }
        let state = AppState {
            engine: engine.clone(),
            admin_token: admin_token.map(Into::into),
            sandbox_clock: sandbox.then(|| clock.clone()),
            tokens: Default::default(),
            key_retention: chrono::Duration::hours(24),
            key_wait: didpool::idempotency::DEFAULT_WAIT,
            limits: Default::default(),
            console: Default::default(),
        };
        Self {
            app: didpool::app(state),
            engine,
            clock,
            sandbox,
            _db: db,
        }
    }

    /// The harness's state, with its admin token: what `with_*` vary.
    fn state(&self) -> AppState {
        AppState {
            engine: self.engine.clone(),
            admin_token: Some(ADMIN_TOKEN.into()),
            sandbox_clock: self.sandbox.then(|| self.clock.clone()),
            tokens: Default::default(),
            key_retention: chrono::Duration::hours(24),
            key_wait: didpool::idempotency::DEFAULT_WAIT,
            limits: Default::default(),
            console: Default::default(),
        }
    }

    /// The same service (with the harness's admin token) where a retry waits `wait` for the
    /// request in flight with its `Idempotency-Key` (`--idempotency-wait`).
    #[allow(dead_code)]
    pub fn with_key_wait(mut self, wait: std::time::Duration) -> Self {
        self.app = didpool::app(AppState {
            key_wait: wait,
            ..self.state()
        });
        self
    }

    /// The same service answering under these rate limits (the harness has none).
    #[allow(dead_code)]
    pub fn with_limits(mut self, limits: didpool::limits::RateLimits) -> Self {
        self.app = didpool::app(AppState {
            limits: Arc::new(limits),
            ..self.state()
        });
        self
    }

    /// The URL a `didpool` process opens this test's database with.
    pub fn database_url(&self) -> &str {
        &self._db.url
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.engine.now()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    // ---- HTTP ------------------------------------------------------------------------------

    /// Sends any request through the whole service; a provider face's answer must be the object
    /// it documents ([`wire::check`]).
    pub async fn send(&self, req: Request<Body>) -> Resp {
        let (method, uri) = (req.method().to_string(), req.uri().to_string());
        let res = self
            .app
            .clone()
            .oneshot(req)
            .await
            .expect("the service is infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let raw = res
            .into_body()
            .collect()
            .await
            .expect("the body is readable")
            .to_bytes()
            .to_vec();
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
            raw,
        }
    }

    /// A request with `headers` and, when given, a JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let r = self.request(method, path, headers, body).await;
        (r.status, r.body)
    }

    /// Sends a request with these headers and, if given, a JSON body; the whole response.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Value>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("a valid request");
        self.send(req).await
    }

    pub async fn get(&self, path: &str, headers: &[(&str, String)]) -> (StatusCode, Value) {
        self.call(Method::GET, path, headers, None).await
    }

    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Value,
    ) -> (StatusCode, Value) {
        self.call(Method::POST, path, headers, Some(body)).await
    }

    pub async fn put(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Value,
    ) -> (StatusCode, Value) {
        self.call(Method::PUT, path, headers, Some(body)).await
    }

    pub async fn delete(&self, path: &str, headers: &[(&str, String)]) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, headers, None).await
    }

    /// A request with a raw body and content type (or none).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let r = self
            .send(req.body(body.into()).expect("a valid request"))
            .await;
        (r.status, r.body)
    }

    // ---- The operator's side ---------------------------------------------------------------

    pub fn admin_auth() -> Vec<(&'static str, String)> {
        vec![("Authorization", format!("Bearer {ADMIN_TOKEN}"))]
    }

    async fn account(&self, id: &str, role: Role, balance: &str, parent: Option<&Acct>) -> Acct {
        let new = NewAccount {
            id: Some(AccountId::parse(id).expect("a valid account id")),
            name: format!("Account {id}"),
            role,
            currency: Currency::parse("INR").expect("INR"),
            opening_balance: Decimal::from_str(balance).expect("a balance"),
            enabled: true,
            profile: AccountProfile::default(),
        };
        let (account, token) = self
            .engine
            .create_account(&By::operator(None), new, parent.map(Acct::account_id))
            .await
            .expect("the account is created");
        Acct {
            id: account.id.to_string(),
            token,
        }
    }

    /// A customer-role master account (`MA_…`) holding `balance` INR.
    pub async fn master(&self, id: &str, balance: &str) -> Acct {
        self.account(id, Role::Customer, balance, None).await
    }

    /// An admin-role master account (`MA_…`) holding `balance` INR.
    pub async fn admin_master(&self, id: &str, balance: &str) -> Acct {
        self.account(id, Role::Admin, balance, None).await
    }

    /// A sub-account (`SA_…`) of `parent`.
    pub async fn sub(&self, parent: &Acct, id: &str) -> Acct {
        self.account(id, Role::Customer, "0", Some(parent)).await
    }

    /// Issues an Agni or Diga key for an account; returns its id and the key.
    pub async fn key(
        &self,
        who: &Acct,
        kind: CredentialKind,
        scope: Option<&str>,
    ) -> (String, String) {
        let (credential, key) = self
            .engine
            .create_key(
                &By::operator(None),
                who.account_id(),
                kind,
                scope.map(Into::into),
            )
            .await
            .expect("the key is issued");
        (credential.id.to_string(), key)
    }

    /// Stocks an inventory number in INR, its country read from the number.
    pub async fn stock(&self, e164: &str, setup_fee: &str, monthly_fee: &str) {
        let e164 = E164::parse(e164).unwrap_or_else(|_| panic!("{e164} is not a valid number"));
        let number = NewNumber {
            country: e164.country().expect("the number has a country"),
            e164,
            region: Some("Karnataka".into()),
            capabilities: Capabilities::VOICE,
            provider: String::new(),
            setup_fee: Decimal::from_str(setup_fee).expect("a fee"),
            monthly_fee: Decimal::from_str(monthly_fee).expect("a fee"),
            currency: Currency::parse("INR").expect("INR"),
        };
        self.engine
            .run(
                &By::operator(None),
                Command::AddInventory {
                    numbers: vec![number],
                },
            )
            .await
            .expect("the number is stocked");
    }

    /// Reports a call on `e164` at `at` through the admin API, as a CDR feed would.
    pub async fn report_call(&self, e164: &str, at: DateTime<Utc>) {
        let (status, body) = self
            .post(
                "/admin/v1/calls",
                &Self::admin_auth(),
                json!({"e164": e164, "at": at.to_rfc3339()}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// The admin API's view of a number (state, owner, trunk, billing, `last_call_at`).
    pub async fn admin_number(&self, e164: &str) -> Value {
        let (status, body) = self
            .get(
                &format!("/admin/v1/numbers/{}", enc(e164)),
                &Self::admin_auth(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The admin API's audit trail of a number.
    pub async fn audit(&self, e164: &str) -> Value {
        let (status, body) = self
            .get(
                &format!("/admin/v1/numbers/{}/audit", enc(e164)),
                &Self::admin_auth(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Runs the scheduler through the sandbox route (needs `spawn_with_policy`); returns how
    /// many numbers it changed.
    pub async fn run_scheduler(&self) -> u64 {
        let (status, body) = self
            .post("/admin/v1/scheduler/run", &Self::admin_auth(), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["done"].as_u64().expect("a count")
    }

    /// `GET /admin/v1/check`: `{"ok": …, "violations": [...]}`.
    pub async fn check(&self) -> Value {
        let (status, body) = self.get("/admin/v1/check", &Self::admin_auth()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Asserts the database keeps every invariant `check` knows.
    pub async fn assert_sound(&self) {
        let report = self.check().await;
        assert_eq!(report["violations"], json!([]), "{report}");
        assert_eq!(report["ok"], true);
    }

    /// Runs one SQL statement behind the service's back (to break an invariant on purpose).
    pub async fn sql(&self, statement: &str) -> u64 {
        self._db
            .execute(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"))
    }

    /// Issues an API key of `kind` (`agni` or `diga`) for `who` through the admin API.
    pub async fn api_key(&self, who: &Acct, kind: &str) -> String {
        let (status, body) = self
            .post(
                &format!("/admin/v1/accounts/{}/keys", who.id),
                &Self::admin_auth(),
                json!({"kind": kind}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["key"].as_str().expect("a key").to_owned()
    }

    /// Stocks an inventory number priced in `currency`.
    pub async fn stock_in(&self, e164: &str, setup_fee: &str, monthly_fee: &str, currency: &str) {
        let e164 = E164::parse(e164).unwrap_or_else(|_| panic!("{e164} is not a valid number"));
        let number = NewNumber {
            country: e164.country().expect("the number has a country"),
            e164,
            region: None,
            capabilities: Capabilities::VOICE,
            provider: String::new(),
            setup_fee: Decimal::from_str(setup_fee).expect("a fee"),
            monthly_fee: Decimal::from_str(monthly_fee).expect("a fee"),
            currency: Currency::parse(currency).expect("a currency"),
        };
        self.engine
            .run(
                &By::operator(None),
                Command::AddInventory {
                    numbers: vec![number],
                },
            )
            .await
            .expect("the number is stocked");
    }

    // ---- Shortcuts through the Vobiz face ---------------------------------------------------

    /// `DELETE …/numbers/{e164}{query}` as `who`.
    pub async fn release(&self, who: &Acct, e164: &str, query: &str) -> (StatusCode, Value) {
        self.delete(
            &format!("{}/numbers/{}{query}", who.base_cap(), enc(e164)),
            &who.auth(),
        )
        .await
    }

    /// `POST …/numbers/{e164}/cancel-release` as `who`.
    pub async fn cancel_release(&self, who: &Acct, e164: &str) -> (StatusCode, Value) {
        self.post(
            &format!("{}/numbers/{}/cancel-release", who.base(), enc(e164)),
            &who.auth(),
            json!({}),
        )
        .await
    }

    /// The master account's ledger, oldest first, as `(reference_type, amount)` pairs.
    pub async fn transactions(&self, who: &Acct) -> Vec<(String, f64)> {
        let (status, body) = self
            .get(
                &format!("{}/transactions?per_page=1000", who.base()),
                &who.auth(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut out: Vec<(String, f64)> = body["transactions"]
            .as_array()
            .expect("a transactions array")
            .iter()
            .map(|t| {
                let sign = if t["type"] == "debit" { -1.0 } else { 1.0 };
                (
                    t["reference_type"].as_str().expect("a kind").to_owned(),
                    sign * t["amount"].as_f64().expect("an amount"),
                )
            })
            .collect();
        out.reverse();
        out
    }

    /// Buys `e164` as `who`, asserting success; returns the purchased number.
    pub async fn buy(&self, who: &Acct, e164: &str) -> Value {
        let (status, body) = self
            .post(
                &format!("{}/numbers/purchase-from-inventory", who.base()),
                &who.auth(),
                json!({"e164": e164}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["number"].clone()
    }

    /// Creates a trunk as `who`; returns its id.
    pub async fn trunk(&self, who: &Acct, name: &str) -> String {
        let (status, body) = self
            .post(
                &format!("{}/trunks", who.base()),
                &who.auth(),
                json!({"name": name}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["trunk_id"].as_str().expect("a trunk id").to_owned()
    }

    /// The account's balance in INR, as the balance route reports it.
    pub async fn balance(&self, who: &Acct) -> f64 {
        let (status, body) = self
            .get(&format!("{}/balance/INR", who.base()), &who.auth())
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["balance"].as_f64().expect("a balance")
    }

    /// The account's owned numbers (with its sub-accounts' for a master account).
    pub async fn owned(&self, who: &Acct) -> Value {
        let (status, body) = self
            .get(&format!("{}/numbers?per_page=100", who.base()), &who.auth())
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The e164s of the inventory, in order.
    pub async fn inventory(&self, who: &Acct) -> Vec<String> {
        let (status, body) = self
            .get(
                &format!("{}/inventory/numbers?per_page=100", who.base()),
                &who.auth(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        e164s(&body)
    }
}

/// The `e164` of every item of a number list.
pub fn e164s(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("an items array")
        .iter()
        .map(|n| n["e164"].as_str().expect("an e164").to_owned())
        .collect()
}

/// Formats a time the way the Vobiz face does (RFC 3339, microseconds, `Z`).
pub fn micros(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A JSON value for `insta`: serde_json's arbitrary-precision numbers (enabled in this
/// workspace) do not serialise through other serialisers, so numbers go out as plain
/// integers or floats.
pub struct Snap<'a>(pub &'a Value);

impl serde::Serialize for Snap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    s.serialize_i64(i)
                } else if let Some(u) = n.as_u64() {
                    s.serialize_u64(u)
                } else {
                    s.serialize_f64(n.as_f64().expect("a finite number"))
                }
            }
            Value::String(v) => s.serialize_str(v),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Snap(item))?;
                }
                seq.end()
            }
            Value::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, &Snap(v))?;
                }
                map.end()
            }
        }
    }
}
