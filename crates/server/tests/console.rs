//! The web console over plain HTTP (no browser): the session cookie's flags, sign-in and its
//! throttling, sessions that expire, end at sign-out and die with their credential, CSRF and
//! origin checks on every form, and the operator's pages. Each test runs a `didpool serve`
//! process (the console flags are `serve`'s) on SQLite and, when `DIDPOOL_TEST_POSTGRES_URL` is
//! set, on PostgreSQL. The browser's view is `console_browser.rs`.

mod support;

use std::time::Duration;

use didpool_store::testing::{Backend, TestDb};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{blr, Acct, Api, Proc, ADMIN_TOKEN};

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(didpool_store::testing::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(didpool_store::testing::Backend::Postgres).await;
            }
        }
    };
}

both!(the_cookie_is_http_only_strict_and_secure_behind_tls);
both!(forged_forms_are_refused_and_change_nothing);
both!(sessions_expire_and_end_at_sign_out);
both!(a_rotated_token_ends_its_sessions);
both!(failed_sign_ins_are_throttled);
both!(a_number_page_shows_the_timeline_with_request_ids);
both!(the_operator_pages);
both!(hand_over_take_back_and_the_cool_off);
both!(the_list_filters);
both!(a_pasted_list_becomes_one_job_and_a_lock_is_refused_alone);
both!(money_and_its_csv);
both!(the_sandbox_clock_and_scheduler);

/// A running server and its database.
struct Node {
    proc: Proc,
    api: Api,
    _db: TestDb,
    _logs: tempfile::TempDir,
}

async fn node(backend: Backend, test: &str, serve: &[&str]) -> Option<Node> {
    let db = TestDb::new(backend, test).await?;
    let logs = tempfile::tempdir().expect("a log directory");
    let proc = Proc::start_args(&db.url, logs.path(), "node", &[], serve).await;
    let api = Api::new(&proc.base);
    Some(Node {
        proc,
        api,
        _db: db,
        _logs: logs,
    })
}

/// A browser without a browser: one cookie, no redirects followed.
struct Session {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn set_cookie(&self) -> &str {
        self.headers
            .get(SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the first `name="csrf"` hidden field.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field in {}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').expect("a closing quote")].to_owned()
    }
}

impl Session {
    fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .no_proxy()
                .build()
                .expect("a client"),
            base: base.to_owned(),
            cookie: None,
        }
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(form) = form {
            req = req.form(form);
        }
        let res = req.send().await.expect("a console request");
        let page = Page {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.text().await.expect("a body"),
        };
        let cookie = page.set_cookie().split(';').next().unwrap_or("").to_owned();
        if cookie.starts_with("didpool_console=") {
            self.cookie = Some(cookie).filter(|c| c != "didpool_console=");
        }
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None, &[]).await
    }

    /// Posts `form` with the CSRF token of the page at `from`, from this origin.
    async fn post_from(&mut self, from: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let token = self.get(from).await.csrf();
        let mut fields = form.to_vec();
        fields.push(("csrf", &token));
        let origin = self.base.clone();
        self.send(Method::POST, path, Some(&fields), &[("Origin", &origin)])
            .await
    }

    async fn sign_in(&mut self, id: &str, token: &str) -> Page {
        let origin = self.base.clone();
        self.send(
            Method::POST,
            "/console/sign-in",
            Some(&[
                ("auth_id", id),
                ("auth_token", token),
                ("next", "/console/numbers"),
            ]),
            &[("Origin", &origin)],
        )
        .await
    }
}

async fn customer(api: &Api, numbers: u32) -> (Acct, Vec<String>) {
    let who = api.master("Console Customer", 10_000).await;
    let stock: Vec<String> = (0..numbers).map(blr).collect();
    api.stock(&stock, 10, 100).await;
    (who, stock)
}

async fn the_cookie_is_http_only_strict_and_secure_behind_tls(backend: Backend) {
    let Some(n) = node(backend, "console_cookie", &[]).await else {
        return;
    };
    let (who, _) = customer(&n.api, 1).await;
    let mut s = Session::new(&n.proc.base);

    let page = s.get("/console/numbers").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.location().starts_with("/console/sign-in"),
        "{}",
        page.location()
    );
    assert_eq!(s.get("/").await.location(), "/console");

    let wrong = s.sign_in(&who.id, "not-the-token").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("do not match"), "{}", wrong.body);
    assert!(s.cookie.is_none());

    let ok = s.sign_in(&who.id, &who.token).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(ok.location(), "/console/numbers");
    let cookie = ok.set_cookie();
    for flag in ["Path=/console", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let numbers = s.get("/console/numbers").await;
    assert_eq!(numbers.status, StatusCode::OK);
    assert!(numbers.body.contains(&who.id));
    assert_eq!(numbers.headers["cache-control"], "no-store");
    assert!(numbers.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));

    // Behind a proxy that terminates TLS.
    let mut tls = Session::new(&n.proc.base);
    let origin = n.proc.base.clone();
    let page = tls
        .send(
            Method::POST,
            "/console/sign-in",
            Some(&[("auth_id", &who.id), ("auth_token", &who.token)]),
            &[("X-Forwarded-Proto", "https"), ("Origin", &origin)],
        )
        .await;
    assert!(
        page.set_cookie().contains("; Secure"),
        "{}",
        page.set_cookie()
    );

    // The operator signs in with the admin token and no auth id.
    let mut op = Session::new(&n.proc.base);
    assert_eq!(
        op.sign_in("", ADMIN_TOKEN).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(op.get("/console/numbers").await.body.contains("Inventory"));

    // A path under /console that no page takes is an HTML 404; an unknown cookie signs in again.
    let missing = s.get("/console/nowhere").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let mut stale = Session::new(&n.proc.base);
    stale.cookie = Some("didpool_console=cs_forged".into());
    assert_eq!(
        stale.get("/console/numbers").await.status,
        StatusCode::SEE_OTHER
    );
}

async fn forged_forms_are_refused_and_change_nothing(backend: Backend) {
    let Some(n) = node(backend, "console_csrf", &[]).await else {
        return;
    };
    let (who, stock) = customer(&n.api, 1).await;
    let mut s = Session::new(&n.proc.base);
    s.sign_in(&who.id, &who.token).await;
    let token = s.get("/console/buy").await.csrf();
    let origin = n.proc.base.clone();
    let number = stock[0].as_str();

    let zeros = "0".repeat(64);
    let forged = [
        (
            vec![("number", number)],
            vec![("Origin", origin.as_str())],
            "no token",
        ),
        (
            vec![("number", number), ("csrf", zeros.as_str())],
            vec![("Origin", origin.as_str())],
            "a wrong token",
        ),
        (
            vec![("number", number), ("csrf", token.as_str())],
            vec![("Origin", "http://evil.example")],
            "another origin",
        ),
        (
            vec![("number", number), ("csrf", token.as_str())],
            vec![("Sec-Fetch-Site", "cross-site")],
            "a cross-site request",
        ),
    ];
    for (form, headers, what) in &forged {
        let page = s
            .send(Method::POST, "/console/buy", Some(form), headers)
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{what}: {}", page.body);
        assert!(page.body.contains("Forbidden"), "{what}");
    }
    assert_eq!(
        n.api.number(number).await["state"],
        "available",
        "nothing bought"
    );
    // Another session's token is not this one's.
    let mut other = Session::new(&n.proc.base);
    other.sign_in(&who.id, &who.token).await;
    let theirs = other.get("/console/buy").await.csrf();
    assert_ne!(theirs, token);
    let page = s
        .send(
            Method::POST,
            "/console/buy",
            Some(&[("number", number), ("csrf", &theirs)]),
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    // The real form works, and an Idempotency-Key on it is neither needed nor used.
    let page = s
        .send(
            Method::POST,
            "/console/buy",
            Some(&[("number", number), ("csrf", &token)]),
            &[("Origin", &origin), ("Idempotency-Key", "k1")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(n.api.number(number).await["state"], "active");
    // Again: the engine's refusal, in the page.
    let again = s
        .send(
            Method::POST,
            "/console/buy",
            Some(&[("number", number), ("csrf", &token)]),
            &[("Origin", &origin)],
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
    assert!(again.body.contains("Could not buy"), "{}", again.body);
}

async fn sessions_expire_and_end_at_sign_out(backend: Backend) {
    let Some(n) = node(backend, "console_expiry", &["--console-session-idle", "2s"]).await else {
        return;
    };
    let (who, _) = customer(&n.api, 1).await;
    let mut s = Session::new(&n.proc.base);
    s.sign_in(&who.id, &who.token).await;
    assert_eq!(s.get("/console/numbers").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let page = s.get("/console/numbers").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.location().starts_with("/console/sign-in?expired=1"),
        "{}",
        page.location()
    );
    assert!(
        page.set_cookie().contains("Max-Age=0"),
        "the dead cookie is removed"
    );
    let sign_in = s.get(page.location()).await;
    assert!(
        sign_in.body.contains("Your session has ended"),
        "{}",
        sign_in.body
    );

    // Sign-out ends the session on the server: the old cookie no longer works.
    s.sign_in(&who.id, &who.token).await;
    let kept = s.cookie.clone();
    let out = s
        .post_from("/console/numbers", "/console/sign-out", &[])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.set_cookie().contains("Max-Age=0"));
    s.cookie = kept;
    assert_eq!(
        s.get("/console/numbers").await.status,
        StatusCode::SEE_OTHER
    );
}

async fn a_rotated_token_ends_its_sessions(backend: Backend) {
    let Some(n) = node(backend, "console_rotate", &[]).await else {
        return;
    };
    let (who, _) = customer(&n.api, 1).await;
    let mut s = Session::new(&n.proc.base);
    s.sign_in(&who.id, &who.token).await;
    assert_eq!(s.get("/console/numbers").await.status, StatusCode::OK);
    let r = n
        .api
        .send(
            Method::POST,
            &format!("/admin/v1/accounts/{}/auth-token/rotate", who.id),
            None,
            Some(json!({"grace_seconds": 0})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let page = s.get("/console/numbers").await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "the session died with its token"
    );
}

async fn failed_sign_ins_are_throttled(backend: Backend) {
    let Some(n) = node(
        backend,
        "console_throttle",
        &["--auth-failures-per-minute", "3"],
    )
    .await
    else {
        return;
    };
    let (who, _) = customer(&n.api, 1).await;
    let mut s = Session::new(&n.proc.base);
    let mut statuses = vec![];
    for _ in 0..6 {
        statuses.push(s.sign_in(&who.id, "wrong").await.status);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(
        *statuses.last().unwrap(),
        StatusCode::TOO_MANY_REQUESTS,
        "{statuses:?}"
    );
    // While throttled, even the right token is refused (before it is checked).
    let page = s.sign_in(&who.id, &who.token).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers.contains_key("retry-after"));
}

async fn a_number_page_shows_the_timeline_with_request_ids(backend: Backend) {
    let Some(n) = node(backend, "console_timeline", &[]).await else {
        return;
    };
    let (who, stock) = customer(&n.api, 1).await;
    let number = stock[0].as_str();
    let mut s = Session::new(&n.proc.base);
    s.sign_in(&who.id, &who.token).await;
    let token = s.get("/console/buy").await.csrf();
    let origin = n.proc.base.clone();
    let bought = s
        .send(
            Method::POST,
            "/console/buy",
            Some(&[("number", number), ("csrf", &token)]),
            &[("Origin", &origin), ("X-Request-Id", "console-buy-1")],
        )
        .await;
    assert_eq!(bought.status, StatusCode::SEE_OTHER);
    let page = s.get(bought.location()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Bought."), "the outcome is shown");
    assert!(
        page.body.contains("console-buy-1"),
        "the request id in the timeline"
    );
    assert!(page.body.contains(&who.id), "who did it");
    assert!(page.body.contains("purchased"), "{}", page.body);

    // Another customer sees none of it.
    let other = n.api.master("Someone Else", 100).await;
    let mut o = Session::new(&n.proc.base);
    o.sign_in(&other.id, &other.token).await;
    assert_eq!(o.get(bought.location()).await.status, StatusCode::NOT_FOUND);

    // A release without the confirmation is refused; with it the number is released.
    let path = bought.location().split('?').next().unwrap().to_owned();
    let page = s.post_from(&path, &format!("{path}/release"), &[]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(n.api.number(number).await["state"], "active");
    let confirm = s.get(&format!("{path}/release")).await;
    assert!(confirm.body.contains("Billing stops") && confirm.body.contains("Routing stops"));
    let page = s
        .post_from(
            &format!("{path}/release"),
            &format!("{path}/release"),
            &[("confirm", number)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_ne!(n.api.number(number).await["state"], "active");
}

async fn the_operator_pages(backend: Backend) {
    let Some(n) = node(backend, "console_operator", &[]).await else {
        return;
    };
    let mut s = Session::new(&n.proc.base);
    s.sign_in("", ADMIN_TOKEN).await;

    let csv = format!(
        "e164,country,region,setup_fee,monthly_fee,currency\n{},IN,Bangalore,1,2,INR\nnot-a-number,IN,x,1,2,INR\n",
        blr(7)
    );
    let page = s
        .post_from("/console/inventory", "/console/inventory", &[("csv", &csv)])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains("1 imported, 0 already stocked, 1 rows refused"),
        "{}",
        page.body
    );
    assert!(page.body.contains("row_errors"));

    let page = s
        .post_from(
            "/console/accounts",
            "/console/accounts",
            &[
                ("name", "Made Here"),
                ("role", "customer"),
                ("currency", "INR"),
                ("balance", "5"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.body);
    let id = between(&page.body, "id=\"new_auth_id\">", "<");
    let token = between(&page.body, "id=\"new_auth_token\">", "<");
    let path = format!("/console/accounts/{id}");
    let topped = s
        .post_from(&path, &format!("{path}/top-up"), &[("amount", "20")])
        .await;
    assert_eq!(topped.status, StatusCode::SEE_OTHER, "{}", topped.body);
    assert!(s.get(&path).await.body.contains("25 INR"));

    // The new account signs in with the token shown once; after a rotation it no longer can.
    let mut c = Session::new(&n.proc.base);
    assert_eq!(c.sign_in(&id, &token).await.status, StatusCode::SEE_OTHER);
    let rotated = s
        .post_from(&path, &format!("{path}/rotate-token"), &[("grace", "0")])
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    assert_eq!(
        c.get("/console/numbers").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        Session::new(&n.proc.base).sign_in(&id, &token).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Disabled, the account's sessions and API credentials stop working; enabled, they work again.
    let mut d = Session::new(&n.proc.base);
    let fresh = between(&rotated.body, "id=\"new_auth_token\">", "<");
    assert_eq!(d.sign_in(&id, &fresh).await.status, StatusCode::SEE_OTHER);
    // A sub-account spends its master account's money: it stops with its master (found by a
    // user: it kept buying on a disabled master's balance). Its credential is cached by now.
    let master = Acct {
        id: id.clone(),
        token: fresh.clone(),
    };
    let sub = n.api.sub_account(&master, "Branch").await;
    let sub_numbers = format!("/api/v1/account/{}/numbers", sub.id);
    let sub_list = n
        .api
        .send(Method::GET, &sub_numbers, Some(&sub), None)
        .await;
    assert_eq!(sub_list.status, StatusCode::OK, "{}", sub_list.body);
    let off = s
        .post_from(&path, &format!("{path}/enabled"), &[("enabled", "false")])
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    assert!(s
        .get(off.location())
        .await
        .body
        .contains("The account is disabled"));
    assert_eq!(
        d.get("/console/numbers").await.status,
        StatusCode::SEE_OTHER
    );
    let api = n
        .api
        .send(
            Method::GET,
            &format!("/api/v1/account/{id}/numbers"),
            Some(&Acct {
                id: id.clone(),
                token: fresh.clone(),
            }),
            None,
        )
        .await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED, "{}", api.body);
    let sub_list = n
        .api
        .send(Method::GET, &sub_numbers, Some(&sub), None)
        .await;
    assert_eq!(
        sub_list.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        sub_list.body
    );
    let on = s
        .post_from(&path, &format!("{path}/enabled"), &[("enabled", "true")])
        .await;
    assert!(on.location().ends_with("done=enabled"));
    assert_eq!(d.sign_in(&id, &fresh).await.status, StatusCode::SEE_OTHER);
    let sub_list = n
        .api
        .send(Method::GET, &sub_numbers, Some(&sub), None)
        .await;
    assert_eq!(sub_list.status, StatusCode::OK, "{}", sub_list.body);

    let check = s.get("/console/check").await;
    assert!(
        check.body.contains("Every invariant holds"),
        "{}",
        check.body
    );
    // A customer may not open the operator's pages.
    assert_eq!(
        c.sign_in(&id, &between(&rotated.body, "id=\"new_auth_token\">", "<"))
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(c.get("/console/check").await.status, StatusCode::FORBIDDEN);
}

fn between(s: &str, start: &str, end: &str) -> String {
    let at = s
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in {s}"))
        + start.len();
    s[at..at + s[at..].find(end).expect("the end")].to_owned()
}

async fn hand_over_take_back_and_the_cool_off(backend: Backend) {
    let Some(n) = node(backend, "console_cool_off", &[]).await else {
        return;
    };
    let (who, stock) = customer(&n.api, 2).await;
    let sub = n.api.sub_account(&who, "Branch").await;
    for e in &stock {
        assert!(n.api.purchase(&who, e).await.status.is_success());
    }
    let mut s = Session::new(&n.proc.base);
    s.sign_in(&who.id, &who.token).await;
    let path = format!("/console/numbers/{}", stock[0].replace('+', "%2B"));
    let page = s
        .post_from(
            &path,
            &format!("{path}/sub-account"),
            &[("action", "hand"), ("sub", &sub.id)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = s.get(page.location()).await;
    assert!(page.body.contains("Handed to the sub-account."));
    assert!(page.body.contains("Take back from the sub-account"));
    assert!(
        !page.body.contains("name=\"force\""),
        "a customer account is offered no force"
    );

    // A call on the number starts the cool-off: taking it back is refused, with the date.
    let r = n
        .api
        .send(
            Method::POST,
            "/admin/v1/calls",
            None,
            Some(json!({"e164": stock[0]})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let page = s
        .post_from(
            &path,
            &format!("{path}/sub-account"),
            &[("action", "take-back")],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.body);
    assert!(page.body.contains("available again on"), "{}", page.body);
    // Force is the admin role's: the engine refuses a customer that sends it anyway.
    let page = s
        .post_from(
            &path,
            &format!("{path}/sub-account"),
            &[("action", "take-back"), ("force", "true")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.body.contains("admin-role"), "{}", page.body);

    // Without a call, it comes back at once.
    let other = format!("/console/numbers/{}", stock[1].replace('+', "%2B"));
    s.post_from(
        &other,
        &format!("{other}/sub-account"),
        &[("action", "hand"), ("sub", &sub.id)],
    )
    .await;
    let page = s
        .post_from(
            &other,
            &format!("{other}/sub-account"),
            &[("action", "take-back")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(page.location().ends_with("done=taken"));

    // The sub-account sees only what it holds, and no money page.
    let mut b = Session::new(&n.proc.base);
    b.sign_in(&sub.id, &sub.token).await;
    let list = b.get("/console/numbers").await;
    assert!(list.body.contains(&stock[0]) && !list.body.contains(&stock[1]));
    assert!(!list.body.contains("/console/money"));
    // Asked for anyway, the page is refused with its status (it was a 200 saying "Forbidden").
    let money = b.get("/console/money").await;
    assert_eq!(money.status, StatusCode::FORBIDDEN, "{}", money.body);
    assert_eq!(
        b.get("/console/money.csv").await.status,
        StatusCode::FORBIDDEN
    );
}

async fn the_list_filters(backend: Backend) {
    let Some(n) = node(backend, "console_filters", &[]).await else {
        return;
    };
    let (who, stock) = customer(&n.api, 4).await;
    let sub = n.api.sub_account(&who, "Branch").await;
    let trunk = n.api.trunk(&who, "PBX").await;
    for e in &stock[..3] {
        assert!(n.api.purchase(&who, e).await.status.is_success());
    }
    assert!(n
        .api
        .assign_trunk(&who, &stock[0], &trunk)
        .await
        .status
        .is_success());
    assert!(n
        .api
        .assign_sub(&who, &stock[1], &sub)
        .await
        .status
        .is_success());
    let mut s = Session::new(&n.proc.base);
    s.sign_in(&who.id, &who.token).await;
    let shows = |body: &str| -> Vec<bool> {
        stock
            .iter()
            .map(|e| body.contains(&format!(">{e}<")))
            .collect()
    };
    assert_eq!(
        shows(&s.get("/console/numbers").await.body),
        [true, true, true, false]
    );
    assert_eq!(
        shows(&s.get(&format!("/console/numbers?trunk={trunk}")).await.body),
        [true, false, false, false]
    );
    assert_eq!(
        shows(
            &s.get(&format!("/console/numbers?sub={}", sub.id))
                .await
                .body
        ),
        [false, true, false, false]
    );
    let digits = &stock[2][stock[2].len() - 5..];
    assert_eq!(
        shows(&s.get(&format!("/console/numbers?q={digits}")).await.body),
        [false, false, true, false]
    );
    assert_eq!(
        shows(&s.get("/console/numbers?state=available").await.body),
        [false, false, false, false]
    );
    assert_eq!(
        shows(&s.get("/console/numbers?country=US").await.body),
        [false, false, false, false]
    );
    assert_eq!(
        shows(&s.get("/console/numbers?country=in&state=active").await.body),
        [true, true, true, false]
    );
    let bad = s.get("/console/numbers?state=nonsense").await;
    assert!(bad.body.contains("is not a state"));
    // Another account's sub-account is not a filter this account may use.
    let stranger = n.api.master("Stranger", 10).await;
    let theirs = n.api.sub_account(&stranger, "Theirs").await;
    let page = s.get(&format!("/console/numbers?sub={}", theirs.id)).await;
    assert_eq!(shows(&page.body), [false, false, false, false]);
}

async fn a_pasted_list_becomes_one_job_and_a_lock_is_refused_alone(backend: Backend) {
    let Some(n) = node(backend, "console_jobs", &[]).await else {
        return;
    };
    let (who, stock) = customer(&n.api, 5).await;
    let trunk = n.api.trunk(&who, "PBX").await;
    for e in &stock {
        assert!(n.api.purchase(&who, e).await.status.is_success());
    }
    let mut s = Session::new(&n.proc.base);
    s.sign_in(&who.id, &who.token).await;
    let path = format!("/console/numbers/{}", stock[0].replace('+', "%2B"));
    let locked = s
        .post_from(
            &path,
            &format!("{path}/release-lock"),
            &[("action", "lock"), ("reason", "keep")],
        )
        .await;
    assert_eq!(locked.status, StatusCode::SEE_OTHER, "{}", locked.body);
    let refused = s
        .post_from(
            &format!("{path}/release"),
            &format!("{path}/release"),
            &[("confirm", &stock[0])],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.body.contains("locked against release"),
        "{}",
        refused.body
    );

    // A pasted list (a CSV with a header; the first column) for a trunk: one job, no script needed.
    let list = format!("e164,note\n{}\n{},x\n", stock[1], stock[2]);
    let page = s
        .post_from(
            "/console/numbers",
            "/console/jobs",
            &[("kind", "assign_trunk"), ("trunk", &trunk), ("list", &list)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let job = page.location().to_owned();
    assert!(job.starts_with("/console/jobs/"));
    let mut done = String::new();
    for _ in 0..600 {
        done = s.get(&job).await.body;
        if done.contains("id=\"job_status\">done<") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        done.contains("2 of 2 done (2 succeeded, 0 failed)"),
        "{done}"
    );
    assert_eq!(
        n.api.number(&stock[1]).await["trunk_group_id"],
        trunk.as_str()
    );

    // A release of ticked numbers asks first; confirmed, the locked one fails alone.
    let ticked = [
        ("kind", "release"),
        ("number", stock[0].as_str()),
        ("number", stock[3].as_str()),
    ];
    let confirm = s
        .post_from("/console/numbers", "/console/jobs", &ticked)
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Release 2 numbers?"));
    assert_eq!(
        n.api.number(&stock[3]).await["state"],
        "active",
        "nothing yet"
    );
    let mut confirmed = ticked.to_vec();
    confirmed.push(("confirm", "yes"));
    let page = s
        .post_from("/console/numbers", "/console/jobs", &confirmed)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let job = page.location().to_owned();
    let mut progress = serde_json::Value::Null;
    for _ in 0..600 {
        let p = s.get(&format!("{job}/progress")).await;
        progress = serde_json::from_str(&p.body).expect("progress JSON");
        if progress["finished"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        progress,
        json!({"status": "done", "total": 2, "done": 2, "succeeded": 1, "failed": 1, "finished": true})
    );
    let failed = s.get(&format!("{job}?show=failed")).await.body;
    assert!(
        failed.contains(&stock[0]) && failed.contains("release_locked"),
        "{failed}"
    );
    assert!(!failed.contains(&format!(">{}<", stock[3])));

    // Bad lists are refused whole, in the page.
    let bad = s
        .post_from(
            "/console/numbers",
            "/console/jobs",
            &[("kind", "unassign_trunk"), ("list", "12\n")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(bad.body.contains("not valid"), "{}", bad.body);
    // Another account cannot see the job.
    let other = n.api.master("Other", 1).await;
    let mut o = Session::new(&n.proc.base);
    o.sign_in(&other.id, &other.token).await;
    assert_eq!(o.get(&job).await.status, StatusCode::NOT_FOUND);
}

async fn money_and_its_csv(backend: Backend) {
    let Some(n) = node(backend, "console_money", &[]).await else {
        return;
    };
    let (who, stock) = customer(&n.api, 2).await;
    for e in &stock {
        assert!(n.api.purchase(&who, e).await.status.is_success());
    }
    let mut s = Session::new(&n.proc.base);
    s.sign_in(&who.id, &who.token).await;
    let page = s.get("/console/money").await;
    assert!(
        page.body.contains("9780 INR"),
        "10,000 less two setup fees (10) and rentals (100)"
    );
    assert!(page.body.contains("5 entries"), "{}", page.body);
    let rentals = s.get("/console/money?kind=did_rental").await;
    assert!(rentals.body.contains("2 entries"), "{}", rentals.body);
    let csv = s.get("/console/money.csv?kind=did_rental").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(csv.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "created_at,type,reference,description,amount,currency,balance_after,id"
    );
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(lines[1..]
        .iter()
        .all(|l| l.contains(",did_rental,did:+91") && l.contains(",-100,INR,")));
    // A date filter: none before today's purchases.
    let before = s.get("/console/money.csv?to=2000-01-01").await;
    assert_eq!(before.body.lines().count(), 1, "{}", before.body);
    let bad = s.get("/console/money?from=yesterday").await;
    assert!(bad.body.contains("is not a date"), "{}", bad.body);
    // A sub-account has no money of its own: the engine says so.
    let sub = n.api.sub_account(&who, "Branch").await;
    let mut b = Session::new(&n.proc.base);
    b.sign_in(&sub.id, &sub.token).await;
    assert!(b
        .get("/console/money")
        .await
        .body
        .contains("billed to their parent"));
}

async fn the_sandbox_clock_and_scheduler(backend: Backend) {
    let Some(n) = node(backend, "console_sandbox", &["--sandbox"]).await else {
        return;
    };
    let (who, stock) = customer(&n.api, 1).await;
    assert!(n.api.purchase(&who, &stock[0]).await.status.is_success());
    let mut s = Session::new(&n.proc.base);
    s.sign_in("", ADMIN_TOKEN).await;
    assert!(s
        .get("/console/numbers")
        .await
        .body
        .contains("/console/sandbox"));
    let page = s
        .post_from(
            "/console/sandbox",
            "/console/sandbox",
            &[("action", "advance"), ("advance", "2764800")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("The clock now reads"), "{}", page.body);
    let page = s
        .post_from("/console/sandbox", "/console/sandbox", &[("action", "run")])
        .await;
    assert!(
        page.body.contains("The scheduler ran: 1 numbers changed."),
        "the renewal fell due: {}",
        page.body
    );
    let bad = s
        .post_from(
            "/console/sandbox",
            "/console/sandbox",
            &[("action", "advance"), ("advance", "soon")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // Without --sandbox there is no clock to move.
    let Some(plain) = node(backend, "console_no_sandbox", &[]).await else {
        return;
    };
    let mut p = Session::new(&plain.proc.base);
    p.sign_in("", ADMIN_TOKEN).await;
    assert_eq!(
        p.get("/console/sandbox").await.status,
        StatusCode::NOT_FOUND
    );
}
