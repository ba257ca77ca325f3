//! A bulk job survives its node: a `didpool serve` killed (SIGKILL) in the middle of a job of
//! 1,000 items, and a new process on the same database, take the job over once the lease
//! lapses and finish it without running any item twice. On SQLite and on PostgreSQL (skipped
//! unless `DIDPOOL_TEST_POSTGRES_URL` is set).

mod support;

use std::time::{Duration, Instant};

use didpool_store::testing::{Backend, TestDb};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{blr, didpool_check, Api, Launch, Proc};

const TOTAL: usize = 1000;
/// Of them, the account holds these (released by the job); the rest are in inventory (each
/// item fails, `not_owner`, and is recorded as such).
const HELD: usize = 100;
const DEADLINE: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_killed_mid_way_finishes_on_the_next_node_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_killed_mid_way_finishes_on_the_next_node_postgres() {
    run(Backend::Postgres).await;
}

async fn run(backend: Backend) {
    tokio::time::timeout(DEADLINE, killed_mid_job(backend))
        .await
        .unwrap_or_else(|_| panic!("the job crash test did not finish within {DEADLINE:?}"));
}

async fn job(api: &Api, path: &str) -> Value {
    let r = api.send(Method::GET, path, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn killed_mid_job(backend: Backend) {
    let sqlite_dir = tempfile::tempdir().expect("a temporary directory");
    let (url, _pg) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}/didpool.db", sqlite_dir.path().display()),
            None,
        ),
        Backend::Postgres => {
            let Some(db) = TestDb::new(Backend::Postgres, "job_killed_mid_way").await else {
                return;
            };
            (db.url.clone(), Some(db))
        }
    };
    let logs = tempfile::tempdir().expect("a log directory");
    let launch = Launch {
        serve_args: &["--job-lease", "1s"],
        ..Launch::default()
    };
    let mut server = Proc::launch(&url, logs.path(), "before-kill", &launch).await;
    let api = Api::new(&server.base);
    let owner = api.master("bulk owner", 1_000_000).await;
    let numbers: Vec<String> = (0..TOTAL).map(|i| blr(20_000 + i as u32)).collect();
    api.stock(&numbers, 1, 2).await;
    for n in &numbers[..HELD] {
        let r = api.purchase(&owner, n).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let created = api
        .send(
            Method::POST,
            "/admin/v1/jobs",
            None,
            Some(json!({"kind": "release", "account_id": owner.id, "numbers": numbers})),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
    let path = format!("/admin/v1/jobs/{}", created.body["id"].as_str().unwrap());

    // Killed as soon as the runner has done some of it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = job(&api, &format!("{path}?limit=1")).await;
        if j["succeeded"].as_u64().unwrap() + j["failed"].as_u64().unwrap() > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the runner never started: {j}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().await;

    let server = Proc::launch(&url, logs.path(), "after-kill", &launch).await;
    let api = Api::new(&server.base);
    let at_restart = job(&api, &format!("{path}?limit=1")).await;
    let done_at_kill =
        at_restart["succeeded"].as_u64().unwrap() + at_restart["failed"].as_u64().unwrap();
    assert!(
        (1..TOTAL as u64).contains(&done_at_kill),
        "killed mid-job: {at_restart}"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let j = job(&api, &format!("{path}?limit=1000")).await;
        if j["status"] == "done" {
            break j;
        }
        assert!(
            Instant::now() < deadline,
            "the job was never taken over: {}",
            j["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["succeeded"], HELD, "{}", done["succeeded"]);
    assert_eq!(done["failed"], TOTAL - HELD);
    let items = done["items"].as_array().unwrap();
    assert_eq!(items.len(), TOTAL);
    for (i, item) in items.iter().enumerate() {
        let expected = if i < HELD { "succeeded" } else { "failed" };
        assert_eq!(item["status"], expected, "{item}");
    }
    // Each held number released once: one `released` event, never a second.
    for n in &numbers[..HELD] {
        let events = api.events(n).await;
        let released = events.iter().filter(|e| e["action"] == "released").count();
        assert_eq!(released, 1, "{n}: {events:?}");
    }
    drop(server);
    let (ok, output) = didpool_check(&url).await;
    assert!(ok, "didpool check after the takeover:\n{output}");
}
