//! Storage faults: acknowledged data never vanishes silently, and a store that cannot serve is a
//! `503` with `Retry-After` in each face's shape, not a `500` or a stall.
//!
//! - SQLite: a missing database is never created by `serve` (only by `migrate` or `serve
//!   --demo`); a file removed or replaced while serving is detected (`/readyz` not ready, every
//!   write refused); a read-only filesystem at start is refused; a full disk while serving is a
//!   `503` and writes recover without a restart once there is room.
//! - PostgreSQL: going away (a TCP proxy in the test stops forwarding) is a `503` within about
//!   the pool timeout, reads too, `/readyz` says so, and service resumes when it is back.
//!
//! The filesystem faults need a private mount namespace (`unshare -m`, as root): without one
//! they are skipped and say so (under `CI` they fail).

#[macro_use]
mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Acct, Resp, TestApp};
use didpool::AppState;
use didpool_core::credential::CredentialKind;
use didpool_core::{Engine, ReleasePolicy, SystemClock};
use didpool_store::testing::{Backend, TestDb};
use serde_json::json;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;

const BIN: &str = env!("CARGO_BIN_EXE_didpool");

fn sqlite_path(url: &str) -> PathBuf {
    PathBuf::from(url.strip_prefix("sqlite://").expect("a SQLite URL"))
}

fn assert_retry_later(r: &Resp) {
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(
        r.headers.get("retry-after").map(|v| v.to_str().unwrap()),
        Some("1"),
        "{:?}",
        r.headers
    );
}

/// A write on each face and the admin API, each answered `503` with `Retry-After` in the face's
/// own error shape.
async fn every_face_refuses_a_write(t: &TestApp, who: &Acct, agni: &str, diga: &str) {
    let r = t
        .request(
            Method::POST,
            &format!("{}/numbers/purchase-from-inventory", who.base()),
            &who.auth(),
            Some(json!({"e164": "+918041100001"})),
        )
        .await;
    assert_retry_later(&r);
    assert_eq!(r.body["error"], "service_unavailable", "{}", r.body);

    let r = t
        .request(
            Method::POST,
            "/api/v1/phone-numbers/buy",
            &[("X-Api-Key", agni.to_owned())],
            Some(json!({"phone_number": "+918041100002", "price": 100})),
        )
        .await;
    assert_retry_later(&r);
    assert_eq!(r.body["success"], false, "{}", r.body);

    let r = t
        .request(
            Method::POST,
            "/v1/phone/import",
            &[("Authorization", format!("Bearer {diga}"))],
            Some(json!({"phone_number": "+34932000003"})),
        )
        .await;
    assert_retry_later(&r);
    assert_eq!(r.body["error_code"], "SERVICE_UNAVAILABLE", "{}", r.body);

    let r = t
        .request(
            Method::POST,
            &format!("/admin/v1/accounts/{}/top-up", who.id),
            &TestApp::admin_auth(),
            Some(json!({"amount": 10})),
        )
        .await;
    assert_retry_later(&r);
    assert_eq!(r.body["error"], "service_unavailable", "{}", r.body);
}

async fn ready(t: &TestApp) -> Resp {
    t.request(Method::GET, "/readyz", &[], None).await
}

/// A service on a fresh SQLite database with an account, its keys and stock.
async fn sqlite_service() -> (TestApp, Acct, String, String) {
    let t = TestApp::spawn().await;
    let who = t.master("MA_FAULTS", "10000").await;
    for n in ["+918041100000", "+918041100001", "+918041100002"] {
        t.stock(n, "10", "100").await;
    }
    let (_, agni) = t.key(&who, CredentialKind::Agni, None).await;
    let (_, diga) = t.key(&who, CredentialKind::Diga, None).await;
    t.buy(&who, "+918041100000").await;
    assert_eq!(ready(&t).await.status, StatusCode::OK);
    (t, who, agni, diga)
}

#[tokio::test]
async fn a_sqlite_file_removed_while_serving_is_not_ready_and_every_write_is_503() {
    let (t, who, agni, diga) = sqlite_service().await;
    let path = sqlite_path(t.database_url());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let r = ready(&t).await;
    assert_retry_later(&r);
    every_face_refuses_a_write(&t, &who, &agni, &diga).await;
    assert!(!path.exists(), "nothing recreated the removed file");
}

#[tokio::test]
async fn a_sqlite_file_replaced_while_serving_is_not_ready_and_every_write_is_503() {
    let (t, who, agni, diga) = sqlite_service().await;
    let path = sqlite_path(t.database_url());
    // Another database moved over the path: a new inode, as a restore or a mistaken copy makes.
    let other = TestDb::new(Backend::Sqlite, "replacement").await.unwrap();
    std::fs::copy(sqlite_path(&other.url), path.with_extension("new")).unwrap();
    std::fs::rename(path.with_extension("new"), &path).unwrap();
    assert_retry_later(&ready(&t).await);
    every_face_refuses_a_write(&t, &who, &agni, &diga).await;
}

/// Runs `didpool ARGS`, bounded; its exit status and stderr.
async fn didpool(args: &[&str]) -> (std::process::ExitStatus, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(BIN)
            .args(args)
            .env("DIDPOOL_LOG", "warn")
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("didpool exits")
    .expect("didpool runs");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn serve_on_a_missing_sqlite_database_is_an_error_that_says_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("didpool.db");
    let url = format!("sqlite://{}", db.display());
    for args in [
        vec!["--database-url", &url, "serve", "--listen", "127.0.0.1:0"],
        vec!["--database-url", &url, "account", "create", "--name", "A"],
        vec!["--database-url", &url, "check"],
    ] {
        let (status, stderr) = didpool(&args).await;
        assert!(!status.success(), "{args:?} succeeded");
        assert!(
            stderr.contains("there is no SQLite database at") && stderr.contains("didpool migrate"),
            "{args:?}: {stderr}"
        );
        assert!(!db.exists(), "{args:?} created the database");
    }
    // `migrate` is the explicit act that creates it.
    let (status, stderr) = didpool(&["--database-url", &url, "migrate"]).await;
    assert!(status.success(), "{stderr}");
    let (status, stderr) = didpool(&["--database-url", &url, "check"]).await;
    assert!(status.success(), "{stderr}");
}

// ---- a private mount namespace: a filesystem the test can make read-only or full ----------

/// Whether this process may make a private mount namespace with its own tmpfs.
fn can_mount() -> bool {
    let ok = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -t tmpfs -o size=1m none /mnt"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
            panic!("CI is set but `unshare -m` with a tmpfs mount is not permitted here");
        }
        eprintln!("SKIPPED: `unshare -m` with a tmpfs mount is not permitted here (run as root)");
    }
    ok
}

/// `sh -c SCRIPT` in a private mount namespace, where `$D` is a fresh tmpfs of `size` and `$B`
/// the didpool binary.
fn in_namespace(dir: &Path, size: &str, script: &str) -> tokio::process::Command {
    let mut c = tokio::process::Command::new("unshare");
    c.args([
        "-m",
        "sh",
        "-c",
        &format!("set -e; mount -t tmpfs -o size={size} none \"$D\"; {script}"),
    ])
    .env("D", dir)
    .env("B", BIN)
    .env("DIDPOOL_LOG", "warn")
    .stdin(Stdio::null())
    .kill_on_drop(true);
    c
}

#[tokio::test]
async fn serve_refuses_a_database_on_a_read_only_filesystem() {
    if !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = in_namespace(
        dir.path(),
        "16m",
        "$B --database-url sqlite://$D/d.db migrate >/dev/null; mount -o remount,ro \"$D\"; \
         exec $B --database-url sqlite://$D/d.db serve --listen 127.0.0.1:0",
    )
    .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("didpool exits instead of serving")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot be written"), "{stderr}");
}

#[tokio::test]
async fn a_full_disk_while_serving_is_503_and_writes_recover_without_a_restart() {
    if !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("server.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = in_namespace(
        dir.path(),
        "32m",
        &format!(
            "$B --database-url sqlite://$D/d.db migrate >/dev/null; \
             exec $B --database-url sqlite://$D/d.db serve --listen 127.0.0.1:{port} \
             --admin-token op --auth-failures-per-minute 0"
        ),
    )
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap())
    .spawn()
    .unwrap();
    let log = || std::fs::read_to_string(&log).unwrap_or_default();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if http.get(format!("{base}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The tmpfs as the server sees it, through its process's root.
    let pid = server.id().expect("running");
    let mounted = PathBuf::from(format!("/proc/{pid}/root")).join(
        dir.path()
            .strip_prefix("/")
            .expect("an absolute temporary directory"),
    );
    // A large import needs the write-ahead log to grow (a small one may fit in the room the log
    // already has).
    let import = |first: u32, count: u32| {
        let csv: String =
            std::iter::once("e164,country,region,setup_fee,monthly_fee,currency\n".into())
                .chain(
                    (first..first + count)
                        .map(|i| format!("+1415{:07},US,California,1,1,INR\n", 2_000_000 + i)),
                )
                .collect();
        http.post(format!("{base}/admin/v1/inventory"))
            .bearer_auth("op")
            .header("content-type", "text/csv")
            .body(csv)
            .send()
    };
    let r = import(0, 5).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    // Fill the disk.
    let filler = mounted.join("filler");
    let fill = filler.clone();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut f = std::fs::File::create(fill).unwrap();
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
    })
    .await
    .unwrap();

    let r = import(10_000, 1500).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "service_unavailable", "{body}");

    // Room again: the same write succeeds on the same server.
    std::fs::remove_file(&filler).unwrap();
    let r = import(20_000, 20).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}\n{}",
        r.text().await.unwrap(),
        log()
    );
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .get(format!("{base}/admin/v1/check"))
        .bearer_auth("op")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["ok"], true, "{body}");
    assert!(
        server.try_wait().unwrap().is_none(),
        "the server kept running"
    );
    let _ = server.start_kill();
}

// ---- PostgreSQL behind a proxy the test can stop -------------------------------------------

/// Forwards a loopback port to PostgreSQL until stopped; stopping closes every forwarded
/// connection too, as a database going away does.
struct Proxy {
    addr: SocketAddr,
    upstream: String,
    tasks: Option<Arc<tokio::sync::Mutex<JoinSet<()>>>>,
    accept: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let mut proxy = Proxy {
            addr: "127.0.0.1:0".parse().unwrap(),
            upstream,
            tasks: None,
            accept: None,
        };
        proxy.resume().await;
        proxy
    }

    async fn resume(&mut self) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(self.addr).unwrap();
        let listener: TcpListener = socket.listen(128).unwrap();
        self.addr = listener.local_addr().unwrap();
        let tasks = Arc::new(tokio::sync::Mutex::new(JoinSet::new()));
        let (upstream, held) = (self.upstream.clone(), tasks.clone());
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                held.lock().await.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        }));
        self.tasks = Some(tasks);
    }

    async fn stop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
        if let Some(tasks) = self.tasks.take() {
            tasks.lock().await.shutdown().await;
        }
    }
}

#[tokio::test]
async fn postgres_going_away_is_a_503_within_the_pool_timeout_and_service_resumes_when_back() {
    if !didpool_store::testing::postgres_configured("postgres_going_away") {
        return;
    }
    let db = TestDb::new(Backend::Postgres, "proxy").await.unwrap();
    // postgres://USER@HOST:PORT/DB?options… → the same through the proxy.
    let (scheme_user, rest) = db.url.split_once('@').unwrap();
    let (host_port, tail) = rest.split_once('/').unwrap();
    let upstream = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    let mut proxy = Proxy::start(upstream).await;
    let url = format!("{scheme_user}@{}/{tail}", proxy.addr);
    let store = didpool_store::open(&url, &didpool_store::Options::default())
        .await
        .unwrap();
    let engine = Engine::new(store, Arc::new(SystemClock), ReleasePolicy::default());
    let app = didpool::app(AppState {
        engine: engine.clone(),
        admin_token: Some(common::ADMIN_TOKEN.into()),
        sandbox_clock: None,
        tokens: Default::default(),
        key_retention: chrono::Duration::hours(24),
        key_wait: didpool::idempotency::DEFAULT_WAIT,
        limits: Default::default(),
        console: Default::default(),
    });
    let send = |method: Method,
                path: String,
                body: Option<serde_json::Value>,
                auth: Vec<(&'static str, String)>| {
        let app = app.clone();
        async move {
            use http_body_util::BodyExt;
            use tower::ServiceExt;
            let mut req = Request::builder().method(method).uri(path);
            for (k, v) in auth {
                req = req.header(k, v);
            }
            let req = match body {
                Some(b) => req
                    .header("content-type", "application/json")
                    .body(Body::from(b.to_string())),
                None => req.body(Body::empty()),
            }
            .unwrap();
            // Bounded: a stall (the old 10 s, or longer) fails here.
            let res = tokio::time::timeout(Duration::from_secs(5), app.oneshot(req))
                .await
                .expect("answered, not stalled")
                .unwrap();
            let (status, headers) = (res.status(), res.headers().clone());
            let raw = res.into_body().collect().await.unwrap().to_bytes();
            let body = serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null);
            Resp {
                status,
                headers,
                body,
                raw: raw.to_vec(),
            }
        }
    };
    let admin = TestApp::admin_auth;
    let r = send(
        Method::POST,
        "/admin/v1/accounts".into(),
        Some(json!({"name": "Proxy", "balance": 100, "currency": "INR"})),
        admin(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let who = Acct {
        id: r.body["auth_id"].as_str().unwrap().into(),
        token: r.body["auth_token"].as_str().unwrap().into(),
    };
    let balance = format!("{}/balance/INR", who.base());
    assert_eq!(
        send(Method::GET, balance.clone(), None, who.auth())
            .await
            .status,
        StatusCode::OK
    );

    proxy.stop().await;
    // Reads too: every request is a 503 with Retry-After, in its face's shape.
    let stopped = std::time::Instant::now();
    let r = send(Method::GET, balance.clone(), None, who.auth()).await;
    eprintln!(
        "PostgreSQL gone: a read answered 503 after {:?}",
        stopped.elapsed()
    );
    assert_retry_later(&r);
    assert_eq!(r.body["error"], "service_unavailable", "{}", r.body);
    let r = send(
        Method::POST,
        format!("/admin/v1/accounts/{}/top-up", who.id),
        Some(json!({"amount": 5})),
        admin(),
    )
    .await;
    assert_retry_later(&r);
    assert_eq!(r.body["error"], "service_unavailable", "{}", r.body);
    let r = send(Method::GET, "/readyz".into(), None, vec![]).await;
    assert_retry_later(&r);

    proxy.resume().await;
    let resumed = std::time::Instant::now();
    let mut back = false;
    for _ in 0..100 {
        if send(Method::GET, "/readyz".into(), None, vec![])
            .await
            .status
            == StatusCode::OK
        {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "ready again once PostgreSQL is back");
    eprintln!("PostgreSQL back: ready again after {:?}", resumed.elapsed());
    let r = send(
        Method::POST,
        format!("/admin/v1/accounts/{}/top-up", who.id),
        Some(json!({"amount": 5})),
        admin(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = send(Method::GET, balance, None, who.auth()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    proxy.stop().await;
}
