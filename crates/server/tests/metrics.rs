//! What the operator sees, from a running `didpool serve`: `/metrics` scraped and parsed (every
//! documented family present, requests by route template and kind, engine commands by outcome,
//! the store's and the scheduler's figures), the JSON access log, no colours on a pipe, and the
//! rule for a client's `X-Request-Id`. On SQLite and on PostgreSQL (skipped unless
//! `DIDPOOL_TEST_POSTGRES_URL` is set).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use didpool_store::testing::{Backend, TestDb};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use support::{blr, Api, InProcess, Launch, Proc, ADMIN_TOKEN};

/// One sample of a Prometheus text exposition.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text format (`name{a="b",…} value` lines; comments skipped). Label values here
/// hold no escaped quotes.
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once("=\"").expect("label=\"value\"");
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().unwrap_or_else(|_| panic!("a number: {l}")),
            }
        })
        .collect()
}

/// The sum of the samples of `name` whose labels include `with`.
fn total(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            with.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
        })
        .map(|s| s.value)
        .collect();
    (!found.is_empty()).then(|| found.iter().sum())
}

async fn scrape(base: &str) -> Vec<Sample> {
    let res = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("scraping");
    assert_eq!(res.status(), StatusCode::OK);
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    parse(&res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_access_log_on_sqlite() {
    operator_view(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_access_log_on_postgres() {
    operator_view(Backend::Postgres).await;
}

async fn operator_view(backend: Backend) {
    let Some(db) = TestDb::new(backend, "operator_view").await else {
        return;
    };
    tokio::time::timeout(Duration::from_secs(120), async {
        let logs = tempfile::tempdir().unwrap();
        let launch = Launch {
            args: &["--log-format", "json", "--pool-size", "3"],
            serve_args: &["--scheduler-interval", "100ms"],
            log: Some("info"),
            ..Launch::default()
        };
        let server = Proc::launch(&db.url, logs.path(), "metrics", &launch).await;
        let api = Api::new(&server.base);
        let (poor, rich) = (api.master("poor", 0).await, api.master("rich", 100).await);
        let numbers = [blr(1), blr(2)];
        api.stock(&numbers, 1, 2).await;

        // Vobiz's documented 500 for a purchase the balance does not cover: a refusal.
        let refused = api.purchase(&poor, &numbers[0]).await;
        assert_eq!(
            refused.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{}",
            refused.body
        );

        // A request id of 60,000 bytes is replaced; a fit one is kept.
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let long = "A".repeat(60_000);
        let bought = http
            .post(format!(
                "{}{}/numbers/purchase-from-inventory",
                server.base,
                rich.base()
            ))
            .header("X-Auth-ID", &rich.id)
            .header("X-Auth-Token", &rich.token)
            .header("X-Request-Id", &long)
            .json(&serde_json::json!({"e164": numbers[1]}))
            .send()
            .await
            .unwrap();
        assert_eq!(bought.status(), StatusCode::OK);
        let given = bought.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            given != long && !given.is_empty() && given.len() <= 128,
            "{given:.200}"
        );
        let fit = "trace-01H.x:y_z";
        let listed = http
            .get(format!(
                "{}/admin/v1/accounts/{}/keys",
                server.base, rich.id
            ))
            .bearer_auth(ADMIN_TOKEN)
            .header("X-Request-Id", fit)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.headers()["x-request-id"], fit);
        let events = api.events(&numbers[1]).await;
        let ids: Vec<&Value> = events.iter().map(|e| &e["request_id"]).collect();
        assert!(ids.contains(&&Value::from(given.clone())), "{events:?}");
        assert!(!serde_json::to_string(&events)
            .unwrap()
            .contains(&long[..128]));

        // A path no route takes is one `unmatched` series, not a label per path.
        for i in 0..3 {
            let r = http
                .get(format!("{}/no/such/{i}", server.base))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
        }

        // A bulk job runs on the node's job runner: one item released, one not the account's.
        let created = api
            .send(
                Method::POST,
                "/admin/v1/jobs",
                None,
                Some(serde_json::json!({
                    "kind": "release", "account_id": rich.id, "numbers": [&numbers[1], &numbers[0]]
                })),
            )
            .await;
        assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
        let job = format!("/admin/v1/jobs/{}", created.body["id"].as_str().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        while api.send(Method::GET, &job, None, None).await.body["status"] != "done" {
            assert!(
                Instant::now() < deadline,
                "the job runner never finished the job"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // The scheduler has run (every 100 ms).
        let deadline = Instant::now() + Duration::from_secs(30);
        let samples = loop {
            let samples = scrape(&server.base).await;
            if total(
                &samples,
                "didpool_scheduler_runs_total",
                &[("outcome", "ok")],
            )
            .unwrap_or(0.0)
                >= 2.0
            {
                break samples;
            }
            assert!(Instant::now() < deadline, "the scheduler never ran");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let purchase = "/api/v1/account/{auth_id}/numbers/purchase-from-inventory";
        let get = |name: &str, with: &[(&str, &str)]| {
            total(&samples, name, with).unwrap_or_else(|| {
                let names: std::collections::BTreeSet<&str> =
                    samples.iter().map(|s| s.name.as_str()).collect();
                panic!("no {name} {with:?} among {names:?}")
            })
        };
        let requests = "didpool_http_requests_total";
        let by = |status, kind| {
            [
                ("route", purchase),
                ("method", "POST"),
                ("status", status),
                ("kind", kind),
            ]
        };
        assert_eq!(get(requests, &by("500", "refused")), 1.0);
        assert_eq!(get(requests, &by("200", "success")), 1.0);
        assert_eq!(total(&samples, requests, &[("kind", "server_error")]), None);
        assert_eq!(
            get(
                requests,
                &[
                    ("route", "unmatched"),
                    ("status", "404"),
                    ("kind", "client_error")
                ]
            ),
            3.0
        );
        assert!(!samples
            .iter()
            .any(|s| s.labels.get("route").is_some_and(|r| r.starts_with("/no/"))));
        let latency = "didpool_http_request_duration_seconds_count";
        assert_eq!(get(latency, &[("route", purchase), ("status", "500")]), 1.0);
        assert!(
            get(
                "didpool_http_request_duration_seconds_bucket",
                &[("route", purchase), ("le", "+Inf")]
            ) >= 2.0
        );
        assert!(get("didpool_http_connections", &[]) >= 1.0);

        let commands = "didpool_commands_total";
        assert_eq!(
            get(
                commands,
                &[("command", "purchase"), ("outcome", "insufficient_balance")]
            ),
            1.0
        );
        assert_eq!(
            get(commands, &[("command", "purchase"), ("outcome", "ok")]),
            1.0
        );
        assert!(
            get(
                commands,
                &[("command", "create_account"), ("outcome", "ok")]
            ) >= 2.0
        );
        assert!(
            get(
                "didpool_command_duration_seconds_count",
                &[("command", "purchase")]
            ) >= 2.0
        );

        match backend {
            Backend::Sqlite => {
                assert!(get("didpool_sqlite_writer_queue_depth", &[]) >= 0.0);
                assert!(get("didpool_sqlite_batch_size_count", &[]) >= 1.0);
                assert!(
                    get(
                        "didpool_sqlite_commit_duration_seconds_count",
                        &[("outcome", "committed")]
                    ) >= 1.0
                );
            }
            Backend::Postgres => {
                assert_eq!(get("didpool_pg_pool_max_connections", &[]), 3.0);
                let open = get("didpool_pg_pool_connections", &[]);
                assert!((1.0..=3.0).contains(&open), "{open}");
                assert!(get("didpool_pg_pool_idle_connections", &[]) <= open);
            }
        }
        let items = "didpool_job_items_total";
        assert_eq!(get(items, &[("kind", "release"), ("outcome", "ok")]), 1.0);
        assert_eq!(
            get(items, &[("kind", "release"), ("outcome", "not_owner")]),
            1.0
        );
        assert!(get("didpool_scheduler_lag_seconds", &[]) >= 0.0);
        assert!(get("didpool_scheduler_due_items", &[]) >= 0.0);
        assert!(get("didpool_scheduler_items_total", &[]) >= 0.0);
        assert!(get("didpool_scheduler_run_duration_seconds_count", &[]) >= 2.0);

        // The access log: one JSON object a line; the refusal a warning with its request id.
        let log = std::fs::read_to_string(&server.log).unwrap();
        assert!(
            !log.contains(&long[..128]),
            "the long request id was logged"
        );
        let lines: Vec<Value> = log
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let access: Vec<&Value> = lines
            .iter()
            .filter(|l| l["target"] == "didpool::access" && l["span"]["route"] == purchase)
            .collect();
        assert_eq!(access.len(), 2, "{access:?}");
        let warned = access
            .iter()
            .find(|l| l["fields"]["status"] == 500)
            .expect("the refusal's line");
        assert_eq!(warned["level"], "WARN");
        assert_eq!(warned["span"]["method"], "POST");
        assert!(
            warned["fields"]["latency_ms"].as_f64().is_some(),
            "{warned}"
        );
        let ok = access
            .iter()
            .find(|l| l["fields"]["status"] == 200)
            .expect("the purchase's line");
        assert_eq!(ok["level"], "INFO");
        assert_eq!(ok["span"]["request_id"], given.as_str());
    })
    .await
    .expect("the test finished within 2 minutes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_on_a_pipe_have_no_colours() {
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/didpool.db", db.path().display());
    let logs = tempfile::tempdir().unwrap();
    let launch = Launch {
        log: Some("info"),
        colour_allowed: true,
        ..Launch::default()
    };
    let server = Proc::launch(&url, logs.path(), "text", &launch).await;
    let r = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(20);
    let log = loop {
        let log = std::fs::read_to_string(&server.log).unwrap();
        if log.contains("didpool::access") {
            break log;
        }
        assert!(Instant::now() < deadline, "no access line: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!log.contains('\u{1b}'), "colour codes on a pipe:\n{log}");
    let line = log.lines().find(|l| l.contains("didpool::access")).unwrap();
    for part in [
        "INFO",
        "route=/healthz",
        "status=200",
        "latency_ms=",
        "request_id=",
        "method=\"GET\"",
    ] {
        assert!(line.contains(part), "{part} missing: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatever_is_recorded_through_the_facade_is_exported() {
    let db = TestDb::new(Backend::Sqlite, "facade").await.unwrap();
    let server = InProcess::start(db.store.clone()).await;
    // As another part of didpool (rate limits, webhooks, idempotent replays) records its own.
    metrics::counter!("didpool_test_facade_total", "face" => "vobiz").increment(2);
    metrics::gauge!("didpool_test_facade_gauge").set(7.0);
    let samples = scrape(&server.base).await;
    assert_eq!(
        total(&samples, "didpool_test_facade_total", &[("face", "vobiz")]),
        Some(2.0)
    );
    assert_eq!(total(&samples, "didpool_test_facade_gauge", &[]), Some(7.0));
}
