//! The web console in a real browser: Debian's Chromium driven through `chromedriver` with
//! `thirtyfour`, headless, against a `didpool serve` process, on SQLite and (when
//! `DIDPOOL_TEST_POSTGRES_URL` is set) PostgreSQL. A person's path through the console: sign in,
//! buy a number, route it to a trunk, release it through the confirmation; a forged form is
//! refused; an expired session is sent back to sign in; the operator's pages. On the main pages
//! axe-core runs in the page and any `serious` or `critical` violation fails the test.
//!
//! Without Chromium and chromedriver (`/usr/bin/chromium`, `/usr/bin/chromedriver`, or
//! `CHROMIUM`/`CHROMEDRIVER`) or without axe-core (`target/axe/node_modules/axe-core/axe.min.js`
//! from `npm install --prefix target/axe axe-core@4`, or `DIDPOOL_AXE_JS`), the test is skipped
//! with a message, and fails under `CI=true`. With `DIDPOOL_CONSOLE_SCREENSHOTS=DIR` (relative to
//! the workspace) it saves screenshots of the main pages there (`docs/console` in the README).

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use didpool_store::testing::{Backend, TestDb};
use serde_json::Value;
use support::{blr, Acct, Api, Proc, ADMIN_TOKEN};
use thirtyfour::prelude::*;
use thirtyfour::ChromiumLikeCapabilities;

/// How long one scenario may take, at most (a debug build on a busy machine).
const SCENARIO_DEADLINE: Duration = Duration::from_secs(600);

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What the browser tests need, found; `None` (after saying why) when something is missing
/// outside CI. Under CI a missing tool fails.
struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
    axe: String,
}

fn tools() -> Option<Tools> {
    let find = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(default))
    };
    let chromium = find("CHROMIUM", "/usr/bin/chromium");
    let chromedriver = find("CHROMEDRIVER", "/usr/bin/chromedriver");
    let axe = find(
        "DIDPOOL_AXE_JS",
        &workspace()
            .join("target/axe/node_modules/axe-core/axe.min.js")
            .to_string_lossy(),
    );
    let missing: Vec<String> = [
        (&chromium, "chromium (apt-get install chromium)"),
        (
            &chromedriver,
            "chromedriver (apt-get install chromium-driver)",
        ),
        (
            &axe,
            "axe-core (npm install --prefix target/axe axe-core@4)",
        ),
    ]
    .iter()
    .filter(|(p, _)| !p.exists())
    .map(|(p, what)| format!("{what} at {}", p.display()))
    .collect();
    if !missing.is_empty() {
        let message = format!("console browser tests need {}", missing.join(", "));
        assert!(
            !in_ci(),
            "{message}; CI must have them (.ci/run installs them)"
        );
        eprintln!("SKIPPED console browser tests: {message}");
        return None;
    }
    Some(Tools {
        axe: std::fs::read_to_string(&axe).expect("reading axe.min.js"),
        chromium,
        chromedriver,
    })
}

/// A `chromedriver` process on a loopback port of its own; killed when dropped.
struct Driver {
    _child: tokio::process::Child,
    url: String,
}

impl Driver {
    async fn start(tools: &Tools) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = tokio::process::Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a client");
        for _ in 0..100 {
            if http
                .get(format!("{url}/status"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Driver { _child: child, url };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer on {url} within 10 s");
    }

    async fn browser(&self, tools: &Tools) -> WebDriver {
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&tools.chromium.to_string_lossy())
            .expect("binary");
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1280,900",
            "--lang=en-US",
        ] {
            caps.add_arg(arg).expect("an argument");
        }
        let driver = WebDriver::new(&self.url, caps)
            .await
            .expect("a Chromium session");
        driver
            .set_script_timeout(Duration::from_secs(60))
            .await
            .expect("a script timeout");
        driver
    }
}

/// The browser on one server.
struct Browser<'a> {
    driver: &'a WebDriver,
    base: String,
    axe: &'a str,
    shots: Option<PathBuf>,
    backend: Backend,
}

impl Browser<'_> {
    async fn open(&self, path: &str) {
        self.driver
            .goto(format!("{}{path}", self.base))
            .await
            .expect("navigating");
    }

    async fn h1(&self) -> String {
        self.driver
            .find(By::Tag("h1"))
            .await
            .expect("an h1")
            .text()
            .await
            .expect("its text")
    }

    async fn text(&self, css: &str) -> String {
        self.driver
            .find(By::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .expect("text")
    }

    /// Clicks what `css` finds (a link or a form's button) and waits for the next page to load.
    async fn click(&self, css: &str) {
        let old = self.driver.find(By::Tag("html")).await.expect("the page");
        self.driver
            .find(By::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
        for _ in 0..200 {
            if old.tag_name().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.loaded().await;
    }

    /// Clicks what `css` finds without leaving the page (a checkbox).
    async fn tick(&self, css: &str) {
        self.driver
            .find(By::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Waits until the document has loaded.
    async fn loaded(&self) {
        for _ in 0..200 {
            let state = self
                .driver
                .execute("return document.readyState;", Vec::<Value>::new())
                .await;
            if state.is_ok_and(|r| r.json() == "complete") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the page did not load within 10 s");
    }

    async fn fill(&self, id: &str, value: &str) {
        let input = self
            .driver
            .find(By::Id(id))
            .await
            .unwrap_or_else(|e| panic!("#{id}: {e}"));
        input.clear().await.expect("clearing");
        input.send_keys(value).await.expect("typing");
    }

    async fn path(&self) -> String {
        let url = self.driver.current_url().await.expect("a URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    async fn body(&self) -> String {
        self.text("body").await
    }

    async fn sign_in(&self, id: &str, token: &str) {
        self.open("/console/sign-in").await;
        self.fill("auth_id", id).await;
        self.fill("auth_token", token).await;
        self.click("form.card button[type=submit]").await;
    }

    /// axe-core's violations of impact `serious` or `critical` on the page shown: none allowed.
    async fn axe(&self, page: &str) {
        self.driver
            .execute(self.axe, Vec::<Value>::new())
            .await
            .expect("injecting axe-core");
        let ret = self
            .driver
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                       nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5) }))))
                   .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));",
                Vec::<Value>::new(),
            )
            .await
            .expect("running axe-core");
        let violations = ret.json().as_array().cloned().unwrap_or_default();
        let bad: Vec<&Value> = violations
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(
            bad.is_empty(),
            "axe-core on {page}: {}",
            serde_json::to_string_pretty(&bad).unwrap()
        );
    }

    /// Saves a screenshot of the page shown as `<name>.png` when screenshots are asked for
    /// (once: from the SQLite run).
    async fn shot(&self, name: &str) {
        if let (Some(dir), Backend::Sqlite) = (&self.shots, self.backend) {
            std::fs::create_dir_all(dir).expect("the screenshot directory");
            self.driver
                .screenshot(&dir.join(format!("{name}.png")))
                .await
                .expect("a screenshot");
        }
    }
}

fn screenshots() -> Option<PathBuf> {
    let dir = std::env::var_os("DIDPOOL_CONSOLE_SCREENSHOTS")?;
    let dir = PathBuf::from(dir);
    Some(if dir.is_absolute() {
        dir
    } else {
        workspace().join(dir)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_a_browser_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_a_browser_postgres() {
    run(Backend::Postgres).await;
}

async fn run(backend: Backend) {
    let Some(tools) = tools() else { return };
    tokio::time::timeout(SCENARIO_DEADLINE, scenarios(backend, &tools))
        .await
        .unwrap_or_else(|_| {
            panic!("the browser scenarios did not finish within {SCENARIO_DEADLINE:?}")
        });
}

async fn scenarios(backend: Backend, tools: &Tools) {
    let Some(db) = TestDb::new(backend, "console_browser").await else {
        return;
    };
    let Some(short_db) = TestDb::new(backend, "console_browser_expiry").await else {
        return;
    };
    let logs = tempfile::tempdir().expect("a log directory");
    let server = Proc::start_args(&db.url, logs.path(), "console", &[], &[]).await;
    let short = Proc::start_args(
        &short_db.url,
        logs.path(),
        "short",
        &[],
        &["--console-session-idle", "2s"],
    )
    .await;
    let api = Api::new(&server.base);
    let who = api.master("Asha Traders", 100_000).await;
    let stock: Vec<String> = (0..230).map(blr).collect();
    api.stock(&stock, 50, 250).await;
    let trunk = api.trunk(&who, "Office PBX").await;
    // 200 numbers already held: the list, and the bulk release.
    for n in stock[20..24].iter().chain(&stock[30..226]) {
        assert!(api.purchase(&who, n).await.status.is_success());
    }
    assert!(api
        .assign_trunk(&who, &stock[20], &trunk)
        .await
        .status
        .is_success());

    let chromedriver = Driver::start(tools).await;
    let driver = chromedriver.browser(tools).await;
    let b = Browser {
        driver: &driver,
        base: server.base.clone(),
        axe: &tools.axe,
        shots: screenshots(),
        backend,
    };

    signs_in(&b, &who).await;
    let bought = buys_a_number(&b, &stock[0]).await;
    assigns_it_to_a_trunk(&b, &bought).await;
    releases_it_through_the_confirmation(&b, &api, &stock[0], &bought).await;
    a_forged_form_is_refused(&b, &api, &stock[1]).await;
    a_locked_number_is_refused(&b, &api, &stock[22]).await;
    a_bulk_release_of_200_numbers(&b, &api, &stock[22]).await;
    money(&b).await;
    operator_pages(&b).await;

    let s = Browser {
        driver: &driver,
        base: short.base.clone(),
        axe: &tools.axe,
        shots: None,
        backend,
    };
    let short_api = Api::new(&short.base);
    let someone = short_api.master("Brief Visitor", 10).await;
    an_expired_session_signs_in_again(&s, &someone).await;

    driver.quit().await.expect("closing Chromium");
}

async fn signs_in(b: &Browser<'_>, who: &Acct) {
    b.open("/console").await;
    assert!(
        b.path().await.starts_with("/console/sign-in"),
        "{}",
        b.path().await
    );
    assert_eq!(b.h1().await, "Sign in");
    b.axe("sign-in").await;
    b.shot("sign-in").await;
    b.sign_in(&who.id, "not-the-token").await;
    assert!(
        b.body().await.contains("do not match"),
        "a wrong token is refused in the page"
    );
    b.sign_in(&who.id, &who.token).await;
    assert_eq!(b.h1().await, "Numbers");
    assert!(b.body().await.contains("Asha Traders"));
    assert!(
        b.text("#count").await.starts_with("200 numbers"),
        "{}",
        b.text("#count").await
    );
    b.axe("numbers").await;
    b.shot("numbers").await;
}

async fn buys_a_number(b: &Browser<'_>, e164: &str) -> String {
    b.click("header nav a[href='/console/buy']").await;
    assert_eq!(b.h1().await, "Buy a number");
    b.fill("b_q", &e164[1..]).await;
    b.click("form.filters button").await;
    assert!(
        b.text("#count").await.starts_with("1 numbers"),
        "{}",
        b.text("#count").await
    );
    b.axe("buy").await;
    b.shot("buy").await;
    b.click(&format!("button[aria-label='Buy {e164}']")).await;
    assert_eq!(b.h1().await, e164);
    assert!(b.text("p.notice").await.starts_with("Bought."));
    assert_eq!(b.text("#state").await, "Active");
    b.path().await.split('?').next().unwrap().to_owned()
}

async fn assigns_it_to_a_trunk(b: &Browser<'_>, page: &str) {
    assert_eq!(
        b.text("#trunk").await,
        "Not on a trunk: calls are not routed."
    );
    b.click("button[value=assign]").await;
    assert_eq!(b.path().await, format!("{page}?done=assigned"));
    assert_eq!(b.text("#trunk").await, "Office PBX");
    let timeline = b.text("#timeline").await;
    assert!(
        timeline.contains("purchased") && timeline.contains("assigned to trunk"),
        "{timeline}"
    );
    b.axe("number").await;
    b.shot("number").await;
}

async fn releases_it_through_the_confirmation(b: &Browser<'_>, api: &Api, e164: &str, page: &str) {
    b.click("a.button.danger").await;
    assert_eq!(b.h1().await, format!("Release {e164}"));
    let confirm = b.text(".confirm").await;
    assert!(
        confirm.contains("Billing stops") && confirm.contains("Routing stops"),
        "{confirm}"
    );
    b.axe("release confirmation").await;
    b.shot("release").await;
    // Keeping it changes nothing.
    b.click(".confirm a").await;
    assert_eq!(b.path().await, page);
    assert_eq!(api.number(e164).await["state"], "active");
    b.click("a.button.danger").await;
    b.click(".confirm button.danger").await;
    assert!(
        b.text("p.notice").await.starts_with("Released."),
        "{}",
        b.body().await
    );
    assert_ne!(api.number(e164).await["state"], "active");
    assert!(
        api.number(e164).await["trunk_group_id"].is_null(),
        "routing stopped"
    );
}

async fn a_forged_form_is_refused(b: &Browser<'_>, api: &Api, e164: &str) {
    b.open(&format!("/console/buy?q={}", &e164[1..])).await;
    // A page of another site would post this form without the session's token.
    b.driver
        .execute(
            "document.querySelectorAll('input[name=csrf]').forEach(i => i.remove());",
            Vec::<Value>::new(),
        )
        .await
        .expect("removing the token");
    b.click(&format!("button[aria-label='Buy {e164}']")).await;
    assert_eq!(b.h1().await, "Forbidden");
    assert!(b.body().await.contains("security token"));
    assert_eq!(
        api.number(e164).await["state"],
        "available",
        "nothing was bought"
    );
}

async fn money(b: &Browser<'_>) {
    b.open("/console/money").await;
    assert!(b.text("#balance").await.ends_with("INR"));
    b.axe("money").await;
    b.shot("money").await;
}

async fn operator_pages(b: &Browser<'_>) {
    b.click("form.signout button").await;
    assert_eq!(b.h1().await, "Sign in");
    b.sign_in("", ADMIN_TOKEN).await;
    assert_eq!(b.h1().await, "Inventory");
    b.open("/console/inventory").await;
    b.fill("csv", "e164,country,region,setup_fee,monthly_fee,currency\n+918041199999,IN,Bangalore,1,2,INR\n+91,IN,x,1,2,INR\n").await;
    b.click("form.card button[type=submit]").await;
    assert!(
        b.text("#import_summary").await.starts_with("1 imported"),
        "{}",
        b.body().await
    );
    let errors = b.text("#row_errors").await;
    assert!(
        errors.contains("+91") || errors.contains("number"),
        "the refused row: {errors}"
    );
    b.axe("inventory import").await;
    b.shot("operator-import").await;
    b.open("/console/accounts").await;
    b.axe("accounts").await;
    b.open("/console/check").await;
    assert_eq!(b.text("#check_ok").await, "Every invariant holds.");
    b.click("form.signout button").await;
}

async fn an_expired_session_signs_in_again(b: &Browser<'_>, who: &Acct) {
    b.sign_in(&who.id, &who.token).await;
    assert_eq!(b.h1().await, "Numbers");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    b.click("header nav a[href='/console/buy']").await;
    assert_eq!(b.h1().await, "Sign in");
    assert!(b.body().await.contains("Your session has ended"));
    // Signing in again goes back where the person was going.
    b.fill("auth_id", &who.id).await;
    b.fill("auth_token", &who.token).await;
    b.click("form.card button[type=submit]").await;
    assert_eq!(b.h1().await, "Buy a number");
}

async fn a_locked_number_is_refused(b: &Browser<'_>, api: &Api, e164: &str) {
    b.open(&format!("/console/numbers/{}", e164.replace('+', "%2B")))
        .await;
    b.fill("lock_reason", "ported to the call centre").await;
    b.click("button[value=lock]").await;
    assert!(
        b.text("p.notice")
            .await
            .starts_with("Locked against release"),
        "{}",
        b.body().await
    );
    assert!(b.text("#lock").await.contains("ported to the call centre"));
    // The page offers no release while locked; the release page, opened anyway, refuses it.
    let page = b.body().await;
    assert!(!page.contains("Release this number"), "{page}");
    b.open(&format!(
        "/console/numbers/{}/release",
        e164.replace('+', "%2B")
    ))
    .await;
    b.click(".confirm button.danger").await;
    let refusal = b.text("div.alert").await;
    assert!(refusal.contains("locked against release"), "{refusal}");
    assert_eq!(api.number(e164).await["state"], "active", "the lock held");
}

async fn a_bulk_release_of_200_numbers(b: &Browser<'_>, api: &Api, locked: &str) {
    b.open("/console/numbers?per=500").await;
    assert!(
        b.text("#count").await.starts_with("200 numbers"),
        "{}",
        b.text("#count").await
    );
    b.tick("#select_all").await;
    b.axe("numbers, selected").await;
    b.click("#bulk_submit").await;
    assert_eq!(b.h1().await, "Release numbers");
    assert!(b.text(".confirm").await.contains("Release 200 numbers?"));
    b.axe("bulk release confirmation").await;
    b.click("#confirm_bulk").await;
    assert!(b.h1().await.starts_with("Job "), "{}", b.h1().await);
    // The page follows the job's progress by itself (its script polls, then reloads when done).
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..1200 {
        let status = match b.driver.find(By::Id("job_status")).await {
            Ok(s) => s.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if let Ok(counts) = b.driver.find(By::Id("job_counts")).await {
            if let Ok(t) = counts.text().await {
                if seen.last() != Some(&t) {
                    seen.push(t);
                }
            }
        }
        if status == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.loaded().await;
    assert_eq!(
        b.text("#job_status").await,
        "done",
        "the job finished: {seen:?}"
    );
    let progress = b
        .driver
        .find(By::Id("job_progress"))
        .await
        .expect("the progress bar");
    assert_eq!(
        progress.attr("value").await.unwrap().as_deref(),
        Some("200")
    );
    assert_eq!(progress.attr("max").await.unwrap().as_deref(), Some("200"));
    assert_eq!(
        b.text("#job_counts").await,
        "200 of 200 done (199 succeeded, 1 failed)"
    );
    b.axe("job").await;
    b.shot("job").await;
    // Per-item results: the locked number failed alone, with its reason.
    b.click("a[href$='show=failed']").await;
    let failed = b.text("#job_items tbody").await;
    assert!(
        failed.contains(locked) && failed.contains("release_locked"),
        "{failed}"
    );
    assert_eq!(failed.lines().count(), 1, "{failed}");
    assert_eq!(api.number(locked).await["state"], "active");
    b.open("/console/numbers").await;
    assert!(
        b.text("#count").await.starts_with("1 numbers"),
        "{}",
        b.text("#count").await
    );
}
