//! Webhooks end to end, over real sockets: `didpool serve` processes deliver events to a receiver
//! listening on loopback in the test. Signatures are checked with the Standard Webhooks crate;
//! a receiver that answers 500, hangs or is down gets the event once it recovers, with the same
//! `webhook-id`; the events of one number arrive in order; the retry schedule follows the sandbox
//! clock; a SIGKILL mid-delivery loses nothing; two nodes on PostgreSQL send each event once.
//! On SQLite and on PostgreSQL (skipped unless `DIDPOOL_TEST_POSTGRES_URL` is set).

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use didpool_store::testing::{Backend, TestDb};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{blr, enc, Acct, Api, Proc};

/// Every wait in these tests ends by this.
const WAIT: Duration = Duration::from_secs(30);

/// What the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    Ok = 0,
    Error = 1,
    /// Never answers (the sender's timeout ends the attempt).
    Hang = 2,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    id: String,
    headers: HeaderMap,
    body: Bytes,
    /// What it answered.
    ok: bool,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Clone, Default)]
struct Inbox {
    got: Arc<Mutex<Vec<Got>>>,
    mode: Arc<AtomicU8>,
}

impl Inbox {
    fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    fn all(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// The events acknowledged (2xx), in arrival order.
    fn delivered(&self) -> Vec<Got> {
        self.all().into_iter().filter(|g| g.ok).collect()
    }

    async fn wait_for(&self, what: &str, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        let deadline = Instant::now() + WAIT;
        loop {
            let all = self.all();
            if done(&all) {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "waited {WAIT:?} for {what}; got {} requests",
                all.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> AxStatus {
    let mode = inbox.mode.load(Ordering::SeqCst);
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let ok = mode == Mode::Ok as u8;
    inbox.got.lock().unwrap().push(Got {
        id,
        headers,
        body,
        ok,
    });
    match mode {
        0 => AxStatus::NO_CONTENT,
        1 => AxStatus::INTERNAL_SERVER_ERROR,
        _ => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            AxStatus::OK
        }
    }
}

/// An HTTP receiver on loopback that can go down and come back on the same port.
struct Receiver {
    inbox: Inbox,
    addr: SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut r = Receiver {
            inbox: Inbox::default(),
            addr,
            task: None,
        };
        r.serve(listener);
        r
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(self.inbox.clone());
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Down: the port refuses connections.
    async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    /// Up again, on the same port.
    async fn restart(&mut self) {
        let deadline = Instant::now() + WAIT;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(Instant::now() < deadline, "rebinding {}: {e}", self.addr);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.serve(listener);
    }
}

/// A `didpool serve --sandbox` that may deliver to loopback, with a short attempt timeout.
async fn serve(db: &TestDb, logs: &std::path::Path, tag: &str) -> Proc {
    Proc::start_args(
        &db.url,
        logs,
        tag,
        &[],
        &[
            "--sandbox",
            "--webhook-allow-private",
            "--webhook-timeout",
            "1s",
            "--scheduler-interval",
            "1h",
        ],
    )
    .await
}

async fn subscribe(api: &Api, url: &str, types: &[&str]) -> (String, String) {
    let r = api
        .send(
            Method::POST,
            "/admin/v1/webhook-endpoints",
            None,
            Some(json!({"url": url, "event_types": types})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (r.body["id"].as_str().unwrap().to_owned(), secret)
}

fn verify(secret: &str, got: &Got) {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&got.body, &got.headers)
        .unwrap_or_else(|e| panic!("the signature of {} does not verify: {e}", got.id));
}

/// The ids of the number's events, oldest first, from the event log.
async fn logged(api: &Api, e164: &str, types: &[&str]) -> Vec<String> {
    let mut path = format!("/admin/v1/events?number={}", enc(e164));
    for t in types {
        path.push_str(&format!("&type={t}"));
    }
    let r = api.send(Method::GET, &path, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn advance(api: &Api, seconds: i64) {
    let r = api
        .send(
            Method::POST,
            "/admin/v1/clock",
            None,
            Some(json!({"advance_seconds": seconds})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// The event's detail: its deliveries and attempts.
async fn event(api: &Api, id: &str) -> Value {
    let r = api
        .send(Method::GET, &format!("/admin/v1/events/{id}"), None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn wait_attempts(api: &Api, id: &str, n: usize) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let e = event(api, id).await;
        if e["attempts"].as_array().unwrap().len() >= n {
            return e;
        }
        assert!(Instant::now() < deadline, "{n} attempts of {id}: {e}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn customer(api: &Api, name: &str) -> Acct {
    api.master(name, 100_000).await
}

// ---- the tests -----------------------------------------------------------------------------

async fn a_release_arrives_signed_with_the_number_and_in_order(backend: Backend) {
    let Some(db) = TestDb::new(backend, "webhooks signed").await else {
        return;
    };
    let logs = tempfile::tempdir().unwrap();
    let server = serve(&db, logs.path(), "signed").await;
    let api = Api::new(&server.base);
    let receiver = Receiver::start().await;
    let (endpoint, secret) = subscribe(&api, &receiver.url(), &[]).await;
    let alice = customer(&api, "alice").await;
    let numbers: Vec<String> = (0..3).map(blr).collect();
    api.stock(&numbers, 1, 2).await;
    for n in &numbers {
        assert_eq!(api.purchase(&alice, n).await.status, StatusCode::OK);
    }
    let trunk = api.trunk(&alice, "main").await;
    for n in &numbers {
        assert!(api
            .assign_trunk(&alice, n, &trunk)
            .await
            .status
            .is_success());
        assert!(api.release(&alice, n).await.status.is_success());
    }
    // stocked, purchased, assigned_to_trunk, (unassigned_from_trunk,) released: each in order.
    let mut expected = Vec::new();
    for n in &numbers {
        expected.push(logged(&api, n, &[]).await);
    }
    let total: usize = expected.iter().map(Vec::len).sum();
    let got = receiver
        .inbox
        .wait_for("every event", |g| {
            g.iter().filter(|g| g.ok).count() >= total
        })
        .await;
    assert_eq!(got.len(), total, "each event once");
    for g in &got {
        verify(&secret, g);
        let body = g.json();
        assert_eq!(body["id"], json!(g.id), "webhook-id is the event id");
    }
    for (n, ids) in numbers.iter().zip(&expected) {
        let arrived: Vec<String> = got
            .iter()
            .filter(|g| g.json()["data"]["e164"] == json!(n))
            .map(|g| g.id.clone())
            .collect();
        assert_eq!(&arrived, ids, "the events of {n} in order");
    }
    let release = got
        .iter()
        .map(Got::json)
        .find(|b| b["type"] == json!("number.released") && b["data"]["e164"] == json!(numbers[0]))
        .expect("a number.released");
    assert_eq!(release["data"]["number"]["e164"], json!(numbers[0]));
    // As the Vobiz face shows a number nobody holds since its release.
    assert_eq!(
        release["data"]["number"]["account_id"],
        json!(""),
        "{release}"
    );
    assert!(
        release["data"]["number"]["released_at"].is_string(),
        "{release}"
    );
    assert_eq!(release["data"]["state"], json!("available"));
    assert_eq!(release["data"]["previous"]["account_id"], json!(alice.id));
    assert_eq!(release["data"]["accounts"], json!([alice.id]));
    assert_eq!(release["data"]["actor"], json!(alice.id));
    // A tampered body does not verify.
    let mut forged = got[0].clone();
    forged.body = Bytes::from(String::from_utf8_lossy(&forged.body).replace("number.", "numbr."));
    assert!(standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(&forged.body, &forged.headers)
        .is_err());
    // Attempts are recorded with their status and latency.
    let e = event(&api, &got[0].id).await;
    assert_eq!(e["deliveries"][0]["endpoint_id"], json!(endpoint));
    assert_eq!(e["deliveries"][0]["status"], json!("succeeded"));
    assert_eq!(e["attempts"][0]["status_code"], json!(204));
    api.assert_check().await;
}

async fn a_receiver_that_fails_hangs_or_is_down_gets_the_event_after_it_recovers(backend: Backend) {
    let Some(db) = TestDb::new(backend, "webhooks recover").await else {
        return;
    };
    let logs = tempfile::tempdir().unwrap();
    let server = serve(&db, logs.path(), "recover").await;
    let api = Api::new(&server.base);
    let mut receiver = Receiver::start().await;
    let (_, secret) = subscribe(
        &api,
        &receiver.url(),
        &["number.released", "number.purchased"],
    )
    .await;
    let (alice, bob) = (customer(&api, "alice").await, customer(&api, "bob").await);
    let n = blr(7);
    api.stock(std::slice::from_ref(&n), 1, 2).await;
    assert_eq!(api.purchase(&alice, &n).await.status, StatusCode::OK);
    receiver
        .inbox
        .wait_for("the purchase", |g| g.len() == 1)
        .await;

    // The release fails: a 500 at once…
    receiver.inbox.set(Mode::Error);
    assert!(api.release(&alice, &n).await.status.is_success());
    let failed = receiver
        .inbox
        .wait_for("a first attempt", |g| g.len() == 2)
        .await;
    let release_id = failed[1].id.clone();
    // The clock moves only once the attempt is recorded (its next one is due from then).
    wait_attempts(&api, &release_id, 1).await;
    // …and a later event of the same number waits behind it.
    assert_eq!(api.purchase(&bob, &n).await.status, StatusCode::OK);
    // 5 s later (the sandbox clock's) it hangs, until the sender's timeout.
    receiver.inbox.set(Mode::Hang);
    advance(&api, 5).await;
    receiver
        .inbox
        .wait_for("a second attempt", |g| g.len() == 3)
        .await;
    wait_attempts(&api, &release_id, 2).await;
    // 5 min later the receiver is down.
    receiver.stop().await;
    advance(&api, 300).await;
    let e = wait_attempts(&api, &release_id, 3).await;
    assert_eq!(e["attempts"][0]["status_code"], Value::Null, "{e}");
    assert!(
        e["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("connect"),
        "{e}"
    );
    assert_eq!(e["deliveries"][0]["status"], json!("pending"));
    assert_eq!(
        receiver.inbox.delivered().len(),
        1,
        "the purchase waits behind the release"
    );
    // Back up; 30 min later the release is delivered, then the purchase.
    receiver.inbox.set(Mode::Ok);
    receiver.restart().await;
    advance(&api, 1800).await;
    let got = receiver
        .inbox
        .wait_for("the release and the next purchase", |g| {
            g.iter().filter(|g| g.ok).count() == 3
        })
        .await;
    let attempts: Vec<&Got> = got.iter().filter(|g| g.id == release_id).collect();
    assert_eq!(
        attempts.len(),
        3,
        "500, hang, then delivered (down was never reached)"
    );
    for g in &got {
        verify(&secret, g);
    }
    let delivered: Vec<String> = receiver
        .inbox
        .delivered()
        .iter()
        .map(|g| g.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        delivered,
        ["number.purchased", "number.released", "number.purchased"]
    );
    let e = event(&api, &release_id).await;
    assert_eq!(e["deliveries"][0]["status"], json!("succeeded"));
    assert_eq!(e["attempts"].as_array().unwrap().len(), 4);
}

async fn the_whole_retry_schedule_walks_with_the_sandbox_clock(backend: Backend) {
    let Some(db) = TestDb::new(backend, "webhooks schedule").await else {
        return;
    };
    let logs = tempfile::tempdir().unwrap();
    let server = serve(&db, logs.path(), "schedule").await;
    let api = Api::new(&server.base);
    let receiver = Receiver::start().await;
    receiver.inbox.set(Mode::Error);
    let (endpoint, _) = subscribe(&api, &receiver.url(), &["number.purchased"]).await;
    let alice = customer(&api, "alice").await;
    let n = blr(9);
    api.stock(std::slice::from_ref(&n), 1, 2).await;
    assert_eq!(api.purchase(&alice, &n).await.status, StatusCode::OK);
    let first = receiver
        .inbox
        .wait_for("the first attempt", |g| g.len() == 1)
        .await;
    let id = first[0].id.clone();
    wait_attempts(&api, &id, 1).await;
    // Svix's schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    let waits = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
    for (i, wait) in waits.iter().enumerate() {
        // A second short of the wait, nothing is sent.
        advance(&api, wait - 1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            receiver.inbox.all().len(),
            i + 1,
            "attempt {} too early",
            i + 2
        );
        advance(&api, 1).await;
        receiver
            .inbox
            .wait_for("the next attempt", |g| g.len() == i + 2)
            .await;
        wait_attempts(&api, &id, i + 2).await;
    }
    let e = wait_attempts(&api, &id, 8).await;
    let deadline = Instant::now() + WAIT;
    let mut e = e;
    while e["deliveries"][0]["status"] != json!("failed") {
        assert!(Instant::now() < deadline, "{e}");
        tokio::time::sleep(Duration::from_millis(20)).await;
        e = event(&api, &id).await;
    }
    assert!(receiver.inbox.all().iter().all(|g| g.id == id));
    // The endpoint remembers it has been failing; redelivery starts the schedule again.
    let ep = api
        .send(
            Method::GET,
            &format!("/admin/v1/webhook-endpoints/{endpoint}"),
            None,
            None,
        )
        .await;
    assert!(ep.body["failing_since"].is_string(), "{}", ep.body);
    receiver.inbox.set(Mode::Ok);
    let r = api
        .send(
            Method::POST,
            &format!("/admin/v1/events/{id}/redeliver"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["requeued"], json!(1));
    let got = receiver
        .inbox
        .wait_for("the redelivery", |g| g.len() == 9)
        .await;
    assert_eq!(got[8].id, id, "the same webhook-id");
    assert!(got[8].ok);
    let ep = api
        .send(
            Method::GET,
            &format!("/admin/v1/webhook-endpoints/{endpoint}"),
            None,
            None,
        )
        .await;
    // Read after the attempt is recorded.
    let deadline = Instant::now() + WAIT;
    let mut ep = ep;
    while !ep.body["failing_since"].is_null() {
        assert!(Instant::now() < deadline, "{}", ep.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
        ep = api
            .send(
                Method::GET,
                &format!("/admin/v1/webhook-endpoints/{endpoint}"),
                None,
                None,
            )
            .await;
    }
}

/// Releases while deliveries are in flight, the server killed, started again: every event
/// reaches the receiver (at least once; duplicates only among those in flight at the kill).
async fn sigkill_mid_delivery_loses_no_event(backend: Backend) {
    let Some(db) = TestDb::new(backend, "webhooks sigkill").await else {
        return;
    };
    let logs = tempfile::tempdir().unwrap();
    let mut server = serve(&db, logs.path(), "before-kill").await;
    let api = Api::new(&server.base);
    let receiver = Receiver::start().await;
    // Slow answers keep deliveries in flight when the kill comes.
    receiver.inbox.set(Mode::Hang);
    subscribe(
        &api,
        &receiver.url(),
        &["number.purchased", "number.released"],
    )
    .await;
    let alice = customer(&api, "alice").await;
    let numbers: Vec<String> = (100..140).map(blr).collect();
    api.stock(&numbers, 1, 2).await;
    for n in &numbers {
        assert_eq!(api.purchase(&alice, n).await.status, StatusCode::OK);
    }
    receiver
        .inbox
        .wait_for("deliveries in flight", |g| g.len() >= 10)
        .await;
    server.kill().await;
    drop(server);
    receiver.inbox.set(Mode::Ok);
    let server = serve(&db, logs.path(), "after-kill").await;
    let api = Api::new(&server.base);
    // Attempts that timed out before the kill are due again 5 s later (the sandbox clock).
    advance(&api, 10).await;
    for n in &numbers[..20] {
        assert!(api.release(&alice, n).await.status.is_success());
    }
    // The killed node's leases run out (2 × 1 s + 5 s), then everything is sent.
    let expected = numbers.len() + 20;
    let got = receiver
        .inbox
        .wait_for("every event", |g| {
            let ids: std::collections::HashSet<&str> =
                g.iter().filter(|g| g.ok).map(|g| g.id.as_str()).collect();
            ids.len() == expected
        })
        .await;
    let mut logged_ids = Vec::new();
    for n in &numbers {
        logged_ids.extend(logged(&api, n, &["number.purchased", "number.released"]).await);
    }
    assert_eq!(logged_ids.len(), expected);
    let delivered: std::collections::HashSet<String> =
        got.iter().filter(|g| g.ok).map(|g| g.id.clone()).collect();
    for id in &logged_ids {
        assert!(delivered.contains(id), "event {id} was lost");
    }
    api.assert_check().await;
}

/// Two nodes on one PostgreSQL database, 1,000 events: each delivered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_deliver_each_event_once_postgres() {
    let Some(db) = TestDb::new(Backend::Postgres, "webhooks two nodes").await else {
        return;
    };
    tokio::time::timeout(Duration::from_secs(300), async {
        let logs = tempfile::tempdir().unwrap();
        let a = serve(&db, logs.path(), "node-a").await;
        let b = serve(&db, logs.path(), "node-b").await;
        let (api_a, api_b) = (Api::new(&a.base), Api::new(&b.base));
        let receiver = Receiver::start().await;
        subscribe(
            &api_a,
            &receiver.url(),
            &["number.purchased", "number.released"],
        )
        .await;
        let accounts = [customer(&api_a, "a").await, customer(&api_a, "b").await];
        let numbers: Vec<String> = (1000..1500).map(blr).collect();
        api_a.stock(&numbers, 1, 2).await;
        // 500 purchases and 500 releases, spread over both nodes by 16 clients.
        let mut clients = Vec::new();
        for c in 0..16 {
            let (api, who) = if c % 2 == 0 {
                (api_a.clone(), accounts[0].clone())
            } else {
                (api_b.clone(), accounts[1].clone())
            };
            let mine: Vec<String> = numbers.iter().skip(c).step_by(16).cloned().collect();
            clients.push(tokio::spawn(async move {
                for n in &mine {
                    assert_eq!(api.purchase(&who, n).await.status, StatusCode::OK);
                    assert!(api.release(&who, n).await.status.is_success());
                }
            }));
        }
        for c in clients {
            c.await.unwrap();
        }
        receiver
            .inbox
            .wait_for("1,000 events", |g| g.len() >= 1000)
            .await;
        // Let any duplicate arrive before counting.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let got = receiver.inbox.all();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for g in &got {
            *seen.entry(g.id.as_str()).or_default() += 1;
        }
        let duplicates: usize = seen.values().map(|n| n - 1).sum();
        support::summary(&format!(
            "two nodes: {} events, {} requests, {duplicates} duplicates",
            seen.len(),
            got.len()
        ));
        assert_eq!(seen.len(), 1000);
        assert_eq!(duplicates, 0, "each event delivered once");
        // And in order for each number: purchased before released.
        for n in &numbers {
            let types: Vec<String> = got
                .iter()
                .map(Got::json)
                .filter(|b| b["data"]["e164"] == json!(n))
                .map(|b| b["type"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(types, ["number.purchased", "number.released"], "{n}");
        }
    })
    .await
    .expect("the two-node test finished within 5 minutes (a debug build on a shared machine)");
}

/// Without `--webhook-allow-private`, a loopback endpoint is never sent to: each attempt is
/// recorded as refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_destinations_are_refused_unless_allowed() {
    let db = TestDb::new(Backend::Sqlite, "webhooks private")
        .await
        .unwrap();
    let logs = tempfile::tempdir().unwrap();
    let server = Proc::start_args(&db.url, logs.path(), "private", &[], &["--sandbox"]).await;
    let api = Api::new(&server.base);
    let receiver = Receiver::start().await;
    // By address, and by a name that resolves to loopback.
    let by_name = receiver.url().replace("127.0.0.1", "localhost");
    subscribe(&api, &receiver.url(), &["number.purchased"]).await;
    subscribe(&api, &by_name, &["number.purchased"]).await;
    let alice = customer(&api, "alice").await;
    let n = blr(11);
    api.stock(std::slice::from_ref(&n), 1, 2).await;
    assert_eq!(api.purchase(&alice, &n).await.status, StatusCode::OK);
    let id = logged(&api, &n, &["number.purchased"]).await.remove(0);
    let e = wait_attempts(&api, &id, 2).await;
    for a in e["attempts"].as_array().unwrap() {
        assert_eq!(a["status_code"], Value::Null, "{e}");
        assert!(a["error"].as_str().unwrap().contains("private"), "{e}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        receiver.inbox.all().is_empty(),
        "nothing reached the receiver"
    );
}

/// A node started with `--no-webhook-delivery` queues the delivery and sends nothing; a node
/// that delivers, on the same database, sends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_delivery_queues_and_sends_nothing() {
    let db = TestDb::new(Backend::Sqlite, "webhooks no delivery")
        .await
        .unwrap();
    let logs = tempfile::tempdir().unwrap();
    let quiet = Proc::start_args(
        &db.url,
        logs.path(),
        "quiet",
        &[],
        &[
            "--sandbox",
            "--webhook-allow-private",
            "--no-webhook-delivery",
        ],
    )
    .await;
    let api = Api::new(&quiet.base);
    let receiver = Receiver::start().await;
    subscribe(&api, &receiver.url(), &["number.purchased"]).await;
    let alice = customer(&api, "alice").await;
    let n = blr(12);
    api.stock(std::slice::from_ref(&n), 1, 2).await;
    assert_eq!(api.purchase(&alice, &n).await.status, StatusCode::OK);
    let id = logged(&api, &n, &["number.purchased"]).await.remove(0);
    // Ten times the poll interval a delivering node would have needed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let e = event(&api, &id).await;
    assert_eq!(e["deliveries"][0]["status"], "pending", "{e}");
    assert!(e["attempts"].as_array().unwrap().is_empty(), "{e}");
    assert!(receiver.inbox.all().is_empty(), "nothing was sent");
    drop(quiet);

    let delivering = serve(&db, logs.path(), "delivering").await;
    let api = Api::new(&delivering.base);
    wait_attempts(&api, &id, 1).await;
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    tokio::time::timeout(std::time::Duration::from_secs(120), super::$name(didpool_store::testing::Backend::Sqlite))
                        .await
                        .expect("finished within 2 minutes");
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    tokio::time::timeout(std::time::Duration::from_secs(120), super::$name(didpool_store::testing::Backend::Postgres))
                        .await
                        .expect("finished within 2 minutes");
                }
            )*
        }
    };
}

on_both!(
    a_release_arrives_signed_with_the_number_and_in_order,
    a_receiver_that_fails_hangs_or_is_down_gets_the_event_after_it_recovers,
    the_whole_retry_schedule_walks_with_the_sandbox_clock,
    sigkill_mid_delivery_loses_no_event,
);
