//! Support for the tests that drive didpool over real sockets (`races.rs`, `crash.rs`): servers
//! in-process or as `didpool serve` processes, HTTP clients on loopback, and the few admin and
//! Vobiz calls the scenarios need. Every wait has a deadline and every request a timeout.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use didpool::AppState;
use didpool_core::{Engine, ReleasePolicy, Store, SystemClock};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

#[path = "../wire/mod.rs"]
pub mod wire;

/// The operator token every server here is started with.
pub const ADMIN_TOKEN: &str = "races-and-crashes-admin";

/// How long one request may take before the client gives up on it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a started `didpool serve` may take to answer `/healthz` (it migrates first).
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);

/// A Bangalore landline libphonenumber accepts: `+9180411` followed by five digits.
pub fn blr(i: u32) -> String {
    assert!(i < 100_000, "five digits at most");
    format!("+9180411{i:05}")
}

/// The E.164 with its `+` percent-encoded, as the Vobiz paths take it.
pub fn enc(e164: &str) -> String {
    e164.replacen('+', "%2B", 1)
}

/// An account and its Vobiz credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Acct {
    pub id: String,
    pub token: String,
}

impl Acct {
    pub fn base(&self) -> String {
        format!("/api/v1/account/{}", self.id)
    }
}

/// The answer to one request: its status and its JSON body (`Null` when there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

/// How a request authenticates: a Vobiz account's pair, or a bearer token (the operator's, or a
/// Diga key).
enum Auth<'a> {
    Vobiz(&'a Acct),
    Bearer(&'a str),
}

/// One HTTP client (its own connection pool) talking to one server.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .no_proxy()
            .build()
            .expect("a reqwest client");
        Self {
            http,
            base: base.to_owned(),
        }
    }

    /// Sends one request; a transport error (refused, reset, timed out) is returned, not panicked on.
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        auth: Option<&Acct>,
        body: Option<Value>,
    ) -> Result<Reply, reqwest::Error> {
        let auth = auth.map_or(Auth::Bearer(ADMIN_TOKEN), Auth::Vobiz);
        self.exchange(method, path, auth, body).await
    }

    /// A request with a bearer token of any kind (a Diga key, an edge key).
    pub async fn bearer(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> Reply {
        self.exchange(method.clone(), path, Auth::Bearer(key), body)
            .await
            .unwrap_or_else(|e| panic!("{method} {}{path}: {e}", self.base))
    }

    /// A request on the Diga face, with a Diga key.
    pub async fn diga(&self, method: Method, path: &str, key: &str, body: Option<Value>) -> Reply {
        self.exchange(method.clone(), path, Auth::Bearer(key), body)
            .await
            .unwrap_or_else(|e| panic!("{method} {}{path}: {e}", self.base))
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
    ) -> Result<Reply, reqwest::Error> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        match auth {
            Auth::Vobiz(a) => {
                req = req
                    .header("X-Auth-ID", &a.id)
                    .header("X-Auth-Token", &a.token);
            }
            Auth::Bearer(token) => req = req.bearer_auth(token),
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        wire::check(method.as_str(), path, status.as_u16(), &body);
        Ok(Reply { status, body })
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Option<&Acct>,
        body: Option<Value>,
    ) -> Reply {
        self.try_send(method.clone(), path, auth, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {}{path}: {e}", self.base))
    }

    /// A master account with an opening balance, through `POST /admin/v1/accounts`.
    pub async fn master(&self, name: &str, balance: i64) -> Acct {
        let r = self
            .send(
                Method::POST,
                "/admin/v1/accounts",
                None,
                Some(json!({"name": name, "role": "customer", "balance": balance, "currency": "INR"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "creating {name}: {}", r.body);
        Acct {
            id: r.body["auth_id"].as_str().expect("auth_id").to_owned(),
            token: r.body["auth_token"]
                .as_str()
                .expect("auth_token")
                .to_owned(),
        }
    }

    /// A new Diga key for the account, through `POST /admin/v1/accounts/{id}/keys`.
    pub async fn diga_key(&self, who: &Acct) -> String {
        let r = self
            .send(
                Method::POST,
                &format!("/admin/v1/accounts/{}/keys", who.id),
                None,
                Some(json!({"kind": "diga"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "a Diga key: {}", r.body);
        r.body["key"].as_str().expect("key").to_owned()
    }

    /// Stocks `numbers` at these fees (INR) through `POST /admin/v1/inventory`.
    pub async fn stock(&self, numbers: &[String], setup_fee: i64, monthly_fee: i64) {
        let mut csv = String::from("e164,country,region,setup_fee,monthly_fee,currency\n");
        for n in numbers {
            csv.push_str(&format!("{n},IN,Bangalore,{setup_fee},{monthly_fee},INR\n"));
        }
        let resp = self
            .http
            .post(format!("{}/admin/v1/inventory", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .header("Content-Type", "text/csv")
            .body(csv)
            .send()
            .await
            .expect("importing inventory");
        assert_eq!(resp.status(), StatusCode::OK);
        let report: Value = resp.json().await.expect("an import report");
        assert_eq!(report["errors"], json!([]), "import errors: {report}");
        assert_eq!(report["imported"], json!(numbers.len()), "{report}");
    }

    pub async fn purchase(&self, who: &Acct, e164: &str) -> Reply {
        self.send(
            Method::POST,
            &format!("{}/numbers/purchase-from-inventory", who.base()),
            Some(who),
            Some(json!({"e164": e164})),
        )
        .await
    }

    pub async fn release(&self, who: &Acct, e164: &str) -> Reply {
        self.send(
            Method::DELETE,
            &format!("{}/numbers/{}", who.base(), enc(e164)),
            Some(who),
            None,
        )
        .await
    }

    pub async fn trunk(&self, who: &Acct, name: &str) -> String {
        let r = self
            .send(
                Method::POST,
                &format!("{}/trunks", who.base()),
                Some(who),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "creating a trunk: {}",
            r.body
        );
        r.body["trunk_id"].as_str().expect("trunk_id").to_owned()
    }

    pub async fn sub_account(&self, parent: &Acct, name: &str) -> Acct {
        let r = self
            .send(
                Method::POST,
                &format!("/api/v1/accounts/{}/sub-accounts", parent.id),
                Some(parent),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "creating a sub-account: {}",
            r.body
        );
        let creds = &r.body["auth_credentials"];
        Acct {
            id: creds["auth_id"].as_str().expect("auth_id").to_owned(),
            token: creds["auth_token"].as_str().expect("auth_token").to_owned(),
        }
    }

    pub async fn assign_trunk(&self, who: &Acct, e164: &str, trunk: &str) -> Reply {
        self.send(
            Method::POST,
            &format!("{}/numbers/{}/assign", who.base(), enc(e164)),
            Some(who),
            Some(json!({"trunk_group_id": trunk})),
        )
        .await
    }

    pub async fn assign_sub(&self, who: &Acct, e164: &str, sub: &Acct) -> Reply {
        self.send(
            Method::POST,
            &format!("{}/numbers/{}/assign-subaccount", who.base(), enc(e164)),
            Some(who),
            Some(json!({"sub_account_id": sub.id})),
        )
        .await
    }

    pub async fn unassign_sub(&self, who: &Acct, e164: &str) -> Reply {
        self.send(
            Method::DELETE,
            &format!("{}/numbers/{}/assign-subaccount", who.base(), enc(e164)),
            Some(who),
            None,
        )
        .await
    }

    /// The operator's view of a number (`GET /admin/v1/numbers/{e164}`).
    pub async fn number(&self, e164: &str) -> Value {
        let r = self
            .send(
                Method::GET,
                &format!("/admin/v1/numbers/{}", enc(e164)),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{e164}: {}", r.body);
        r.body
    }

    /// The number's audit events, oldest first (`GET /admin/v1/numbers/{e164}/audit`).
    pub async fn events(&self, e164: &str) -> Vec<Value> {
        let r = self
            .send(
                Method::GET,
                &format!("/admin/v1/numbers/{}/audit", enc(e164)),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{e164}: {}", r.body);
        r.body["events"].as_array().expect("events").clone()
    }

    /// Asserts `GET /admin/v1/check` finds no broken invariant.
    pub async fn assert_check(&self) {
        let r = self.send(Method::GET, "/admin/v1/check", None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            r.body,
            json!({"ok": true, "violations": []}),
            "check failed"
        );
    }
}

/// Asserts the store itself finds no broken invariant.
pub async fn assert_store_check(store: &dyn Store) {
    let violations = store.check().await.expect("running check");
    assert!(violations.is_empty(), "invariants broken: {violations:#?}");
}

/// `didpool` served in this process on `127.0.0.1:0`; stops when dropped.
pub struct InProcess {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
}

impl InProcess {
    pub async fn start(store: Arc<dyn Store>) -> Self {
        Self::start_with(store, didpool::conn::Limits::default()).await
    }

    /// [`InProcess::start`] under these connection limits.
    pub async fn start_with(store: Arc<dyn Store>, limits: didpool::conn::Limits) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port");
        let addr = listener.local_addr().expect("a local address");
        let state = AppState {
            engine: Engine::new(store, Arc::new(SystemClock), ReleasePolicy::default()),
            admin_token: Some(Arc::from(ADMIN_TOKEN)),
            sandbox_clock: None,
            tokens: Default::default(),
            key_retention: chrono::Duration::hours(24),
            key_wait: didpool::idempotency::DEFAULT_WAIT,
            limits: Default::default(),
            console: Default::default(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            didpool::conn::serve(listener, didpool::app(state), limits, async move {
                let _ = stopped.await;
            })
            .await
            .expect("serving");
        });
        let base = format!("http://{addr}");
        wait_healthy(&base, None).await;
        Self {
            base,
            stop: Some(stop),
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// How [`Proc::launch`] starts didpool.
#[derive(Default)]
pub struct Launch<'a> {
    /// Global flags, before `serve`.
    pub args: &'a [&'a str],
    /// Flags of `serve`.
    pub serve_args: &'a [&'a str],
    /// `DIDPOOL_LOG` (default: warnings, and the line that says where it listens).
    pub log: Option<&'a str>,
    /// Leaves `NO_COLOR` unset, to see that didpool itself writes no colours to a pipe.
    pub colour_allowed: bool,
    /// The process's open-file limit, soft and hard (through `prlimit`).
    pub open_files: Option<u64>,
}

/// A `didpool serve` process; killed (SIGKILL) when dropped.
pub struct Proc {
    child: tokio::process::Child,
    pub base: String,
    pub log: PathBuf,
}

/// The address in didpool's `didpool listening addr=…` log line, if this is that line.
pub fn listening_addr(line: &str) -> Option<std::net::SocketAddr> {
    // Strip colour codes, in case the log is coloured after all.
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    if !plain.contains("didpool listening") {
        return None;
    }
    // `addr=…` in a text line, `"addr":"…"` in a JSON one.
    if let Some(at) = plain.find("\"addr\":\"") {
        let rest = &plain[at + "\"addr\":\"".len()..];
        return rest.split('"').next()?.parse().ok();
    }
    let rest = &plain[plain.find("addr=")? + "addr=".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// Creates the SQLite database at `database_url` with `didpool migrate` when it does not exist
/// yet, as an operator would: `serve` refuses a missing one.
pub async fn create_database(database_url: &str) {
    let Some(path) = database_url.strip_prefix("sqlite://") else {
        return;
    };
    if Path::new(path.split('?').next().unwrap_or(path)).exists() {
        return;
    }
    let created = tokio::process::Command::new(env!("CARGO_BIN_EXE_didpool"))
        .args(["--database-url", database_url, "migrate"])
        .env("DIDPOOL_LOG", "error")
        .stdout(Stdio::null())
        .status()
        .await
        .expect("didpool runs");
    assert!(created.success(), "didpool migrate failed");
}

impl Proc {
    /// Starts `didpool --database-url URL serve --listen 127.0.0.1:0` and waits for `/healthz`.
    /// The server picks its own port and the test reads it from the server's log, so no other
    /// server (of a test running alongside) can be mistaken for it. `log_dir` receives its
    /// output as `<tag>.log`.
    pub async fn start(database_url: &str, log_dir: &Path, tag: &str) -> Self {
        Self::start_with(database_url, log_dir, tag, None).await
    }

    /// [`Proc::start`], with `--pool-size` when given.
    pub async fn start_with(
        database_url: &str,
        log_dir: &Path,
        tag: &str,
        pool_size: Option<u32>,
    ) -> Self {
        let pool = pool_size.map(|n| n.to_string());
        let mut args = vec![];
        if let Some(n) = &pool {
            // Few connections for many racers queued on one row lock: on a loaded machine a
            // request may wait longer than the default second for one, which is not a fault.
            args = vec!["--pool-size", n.as_str(), "--pool-timeout", "30s"];
        }
        Self::launch(
            database_url,
            log_dir,
            tag,
            &Launch {
                args: &args,
                ..Launch::default()
            },
        )
        .await
    }

    /// [`Proc::start`], with global arguments before `serve` and `serve`'s own after it.
    pub async fn start_args(
        database_url: &str,
        log_dir: &Path,
        tag: &str,
        global: &[&str],
        serve: &[&str],
    ) -> Self {
        Self::launch(
            database_url,
            log_dir,
            tag,
            &Launch {
                args: global,
                serve_args: serve,
                ..Launch::default()
            },
        )
        .await
    }

    /// Starts `didpool --database-url URL [global args] serve --listen 127.0.0.1:0 [serve args]`
    /// as `launch` says, and waits for `/healthz`.
    pub async fn launch(
        database_url: &str,
        log_dir: &Path,
        tag: &str,
        launch: &Launch<'_>,
    ) -> Self {
        use std::io::Write as _;
        use tokio::io::AsyncBufReadExt as _;

        create_database(database_url).await;
        let log = log_dir.join(format!("{tag}.log"));
        let mut file = std::fs::File::create(&log).expect("creating a log file");
        let mut command = match launch.open_files {
            // `prlimit` sets the limit, then runs didpool in its own place (same pid).
            Some(n) => {
                let mut c = tokio::process::Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}"))
                    .arg("--")
                    .arg(env!("CARGO_BIN_EXE_didpool"));
                c
            }
            None => tokio::process::Command::new(env!("CARGO_BIN_EXE_didpool")),
        };
        command.arg("--database-url").arg(database_url);
        command.args(launch.args);
        command
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--admin-token")
            .arg(ADMIN_TOKEN)
            .args(launch.serve_args)
            // Warnings and errors, and the line that says where it listens.
            .env(
                "DIDPOOL_LOG",
                launch.log.unwrap_or("warn,didpool::cli=info"),
            );
        if !launch.colour_allowed {
            command.env("NO_COLOR", "1");
        }
        let mut child = command
            .env_remove("DIDPOOL_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("cloning a file handle"))
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting didpool");
        let mut lines =
            tokio::io::BufReader::new(child.stderr.take().expect("a piped stderr")).lines();
        let addr = tokio::time::timeout(STARTUP_DEADLINE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = writeln!(file, "{line}");
                if let Some(addr) = listening_addr(&line) {
                    return Some(addr);
                }
            }
            None
        })
        .await
        .unwrap_or_else(|_| panic!("didpool serve did not listen within {STARTUP_DEADLINE:?}"));
        let Some(addr) = addr else {
            let _ = child.kill().await;
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("didpool serve exited without listening:\n{text}");
        };
        // The rest of its stderr goes on to the log file, until it exits.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = writeln!(file, "{line}");
            }
        });
        let mut proc = Proc {
            child,
            base: format!("http://{addr}"),
            log,
        };
        if !wait_healthy(&proc.base, Some(&mut proc.child)).await {
            let text = std::fs::read_to_string(&proc.log).unwrap_or_default();
            panic!("didpool serve exited at start:\n{text}");
        }
        proc
    }

    /// SIGKILL, at once: no graceful shutdown, no flush.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("killing didpool");
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Sends SIGTERM and waits at most `within` for the process to exit; its exit status, or
    /// `None` if it was still running then.
    pub async fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.pid().expect("a running process");
        // The shell's own `kill`: no procps needed.
        let sent = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("kill -TERM {pid}"))
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()
            .map(|s| s.expect("waiting for didpool"))
    }
}

impl Drop for Proc {
    /// When a test fails, shows what the server logged (warnings and errors), which the
    /// temporary log directory would otherwise take with it.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            // Every 5xx is logged by the trace layer too; the lines that say why are the others.
            let tail: Vec<&str> = text
                .lines()
                .filter(|l| !l.contains("response failed"))
                .rev()
                .take(40)
                .collect();
            eprintln!("--- {} ({}), last lines:", self.log.display(), self.base);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Polls `/healthz` until it answers 200 (true) or `child` exits (false); panics at the deadline.
async fn wait_healthy(base: &str, mut child: Option<&mut tokio::process::Child>) -> bool {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .expect("a reqwest client");
    let deadline = Instant::now() + STARTUP_DEADLINE;
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status() == StatusCode::OK {
                return true;
            }
        }
        if let Some(c) = child.as_deref_mut() {
            if c.try_wait().expect("polling didpool").is_some() {
                return false;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{base}/healthz did not answer within {STARTUP_DEADLINE:?}");
}

/// Runs `didpool --database-url URL check` and returns (success, its output).
pub async fn didpool_check(database_url: &str) -> (bool, String) {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_didpool"))
        .arg("--database-url")
        .arg(database_url)
        .arg("check")
        .env("DIDPOOL_LOG", "warn")
        .env_remove("DIDPOOL_DATABASE_URL")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("didpool check finished within a minute")
        .expect("running didpool check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Writes a line past the test harness's capture, so a test's summary shows in `cargo test`
/// output even when the test passes (the details go through `eprintln!`, shown on failure or
/// with `--nocapture`).
pub fn summary(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}
