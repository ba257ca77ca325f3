//! Release locks on every face, and bulk jobs: the admin routes, the runner (claim, lease,
//! takeover) and each item's result.

#[macro_use]
mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::Utc;
use common::{blr, enc, Acct, TestApp};
use didpool::jobs::{self, Ran};
use didpool_core::{Engine, ReleasePolicy};
use serde_json::{json, Value};
use tokio::sync::watch;

/// Number `i` of `blr`'s range, beyond its first hundred.
fn mum(i: u32) -> String {
    format!("+91804{:07}", 1_100_000 + i)
}

fn op() -> Vec<(&'static str, String)> {
    TestApp::admin_auth()
}

/// A runner that takes `lease` per claim, named `worker`.
fn runner(worker: &str, lease: std::time::Duration) -> jobs::Config {
    jobs::Config {
        worker: worker.into(),
        lease,
        poll: std::time::Duration::from_millis(20),
        batch: 25,
    }
}

fn running() -> watch::Receiver<bool> {
    // The sender is leaked so the receiver never sees a closed channel.
    let (tx, rx) = watch::channel(false);
    std::mem::forget(tx);
    rx
}

/// Runs every waiting job to its end with one runner.
async fn drain(engine: &Engine) {
    let config = runner("test-runner", std::time::Duration::from_secs(30));
    let stop = running();
    for _ in 0..100 {
        match jobs::run_one(engine, &config, &stop)
            .await
            .expect("the runner runs")
        {
            Ran::Idle => return,
            Ran::Finished | Ran::Stopped => {}
        }
    }
    panic!("jobs never drained");
}

async fn lock(t: &TestApp, e164: &str, reason: Option<&str>) -> Value {
    let body = reason.map_or(json!({}), |r| json!({"reason": r}));
    let (status, body) = t
        .put(
            &format!("/admin/v1/numbers/{}/release-lock", enc(e164)),
            &op(),
            body,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn unlock(t: &TestApp, e164: &str) -> Value {
    let (status, body) = t
        .delete(
            &format!("/admin/v1/numbers/{}/release-lock", enc(e164)),
            &op(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn create_job(t: &TestApp, body: Value) -> Value {
    let (status, job) = t.post("/admin/v1/jobs", &op(), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    job
}

async fn job(t: &TestApp, id: &str, query: &str) -> Value {
    let (status, job) = t.get(&format!("/admin/v1/jobs/{id}{query}"), &op()).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    job
}

/// What a refused release must leave alone: the number, the balance and the ledger.
async fn state_of(t: &TestApp, who: &Acct, e164: &str) -> (Value, f64, Vec<(String, f64)>) {
    let mut n = t.admin_number(e164).await;
    n.as_object_mut().expect("an object").remove("updated_at");
    (n, t.balance(who).await, t.transactions(who).await)
}

async fn locking_shows_on_the_admin_number_and_in_the_timeline() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "100").await;
    t.stock(&blr(1), "0", "1").await;
    t.buy(&alice, &blr(1)).await;
    assert_eq!(t.admin_number(&blr(1)).await["release_locked"], false);
    assert_eq!(t.admin_number(&blr(1)).await["release_lock"], Value::Null);

    let n = lock(&t, &blr(1), Some("porting out")).await;
    assert_eq!(n["release_locked"], true);
    assert_eq!(n["release_lock"]["locked_by"], "operator");
    assert_eq!(n["release_lock"]["reason"], "porting out");
    // Locking again keeps the first lock, and writes no second event.
    let again = lock(&t, &blr(1), Some("other")).await;
    assert_eq!(again["release_lock"]["reason"], "porting out");
    let n = unlock(&t, &blr(1)).await;
    assert_eq!(n["release_locked"], false);
    unlock(&t, &blr(1)).await;

    let audit = t.audit(&blr(1)).await;
    let actions: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["stocked", "purchased", "release_locked", "release_unlocked"]
    );
    let (status, log) = t
        .get("/admin/v1/events?type=number.release_locked", &op())
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert_eq!(log["events"].as_array().unwrap().len(), 1);
    t.assert_sound().await;
}

async fn only_an_active_number_without_a_pending_release_can_be_locked() {
    let t = TestApp::spawn_with_policy(ReleasePolicy {
        window: chrono::Duration::hours(24),
        ..ReleasePolicy::default()
    })
    .await;
    let alice = t.master("MA_ALICE", "100").await;
    t.stock(&blr(1), "0", "1").await;
    t.stock(&blr(2), "0", "1").await;
    let path = |e: &str| format!("/admin/v1/numbers/{}/release-lock", enc(e));
    // In inventory: nobody holds it.
    let (status, body) = t.put(&path(&blr(1)), &op(), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    t.buy(&alice, &blr(1)).await;
    let (status, _) = t.release(&alice, &blr(1), "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = t.put(&path(&blr(1)), &op(), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "conflict");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("cancel the release first"),
        "{body}"
    );
    // A reason too long, or an unknown field: 400.
    t.buy(&alice, &blr(2)).await;
    let (status, body) = t
        .put(&path(&blr(2)), &op(), json!({"reason": "x".repeat(256)}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = t.put(&path(&blr(2)), &op(), json!({"why": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = t.put(&path("+1"), &op(), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    t.assert_sound().await;
}

async fn every_face_refuses_to_release_a_locked_number_and_releases_it_once_unlocked() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "100").await;
    let agni = t.api_key(&alice, "agni").await;
    let diga = t.api_key(&alice, "diga").await;
    for i in 1..=3 {
        t.stock(&blr(i), "0", "1").await;
        t.buy(&alice, &blr(i)).await;
        lock(&t, &blr(i), None).await;
    }

    // Vobiz: 409 conflict.
    let before = state_of(&t, &alice, &blr(1)).await;
    let (status, body) = t.release(&alice, &blr(1), "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body,
        json!({"error": "conflict", "message": format!("{} is locked against release; unlock it first", blr(1))})
    );
    let (status, _) = t.release(&alice, &blr(1), "?immediate=true").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(state_of(&t, &alice, &blr(1)).await, before);

    // Agni: 409 in its envelope.
    let before = state_of(&t, &alice, &blr(2)).await;
    let agni_release = format!("/api/v1/phone-numbers/{}/release", enc(&blr(2)));
    let (status, body) = t
        .delete(&agni_release, &[("X-Api-Key", agni.clone())])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body,
        json!({"success": false, "message": format!("{} is locked against release; unlock it first", blr(2)), "data": null})
    );
    assert_eq!(state_of(&t, &alice, &blr(2)).await, before);

    // Diga: 409 PHONE_NUMBER_NOT_RELEASABLE.
    let before = state_of(&t, &alice, &blr(3)).await;
    let id = before.0["id"].as_str().unwrap().to_owned();
    let diga_release = format!("/v1/phone/{id}");
    let bearer = [("Authorization", format!("Bearer {diga}"))];
    let (status, body) = t.delete(&diga_release, &bearer).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["status"], "error");
    assert_eq!(body["error_code"], "PHONE_NUMBER_NOT_RELEASABLE");
    assert_eq!(
        body["message"],
        format!(
            "Phone {id} ({}) is locked against release; unlock it first",
            blr(3)
        )
    );
    assert_eq!(state_of(&t, &alice, &blr(3)).await, before);

    // Unlocked, each face releases.
    for i in 1..=3 {
        unlock(&t, &blr(i)).await;
    }
    let (status, body) = t.release(&alice, &blr(1), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = t.delete(&agni_release, &[("X-Api-Key", agni)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = t.delete(&diga_release, &bearer).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(t.admin_number(&blr(1)).await["state"], "available");
    assert_eq!(t.admin_number(&blr(2)).await["state"], "available");
    // Diga releases a bought phone at the end of its cycle: scheduled, not locked.
    assert!(t.admin_number(&blr(3)).await["release_at"].is_string());
    t.assert_sound().await;
}

async fn a_job_of_200_releases_records_each_items_result() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    let bob = t.master("MA_BOB", "1000").await;
    let mut numbers = Vec::new();
    for i in 1..=200 {
        t.stock(&mum(i), "0", "1").await;
        // 190 are Alice's, 10 Bob's.
        t.buy(if i <= 190 { &alice } else { &bob }, &mum(i)).await;
        numbers.push(mum(i));
    }
    for i in 1..=5 {
        lock(&t, &mum(i), None).await;
    }
    let created = create_job(
        &t,
        json!({"kind": "release", "account_id": "MA_ALICE", "numbers": numbers}),
    )
    .await;
    assert_eq!(created["status"], "queued");
    assert_eq!(created["total"], 200);
    assert_eq!(created["pending"], 200);
    assert_eq!(created["created_by"], "operator");
    let id = created["id"].as_str().unwrap().to_owned();

    drain(&t.engine).await;

    let done = job(&t, &id, "?limit=1000").await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["succeeded"], 185);
    assert_eq!(done["failed"], 15);
    assert_eq!(done["pending"], 0);
    assert_eq!(done["progress"], 100);
    let items = done["items"].as_array().unwrap();
    assert_eq!(items.len(), 200);
    for (i, item) in items.iter().enumerate() {
        let n = i as u32 + 1;
        assert_eq!(item["seq"], i);
        assert_eq!(item["number"], mum(n));
        let expected = match n {
            1..=5 => Some("release_locked"),
            191..=200 => Some("not_owner"),
            _ => None,
        };
        match expected {
            None => assert_eq!(item["status"], "succeeded", "{item}"),
            Some(code) => {
                assert_eq!(item["status"], "failed", "{item}");
                assert_eq!(item["error"], code, "{item}");
            }
        }
    }
    assert!(items[0]["message"]
        .as_str()
        .unwrap()
        .contains("is locked against release; unlock it first"));
    // What failed is untouched; what succeeded is released, by Alice, under the job's id.
    assert_eq!(t.admin_number(&mum(1)).await["state"], "active");
    assert_eq!(t.admin_number(&mum(1)).await["release_locked"], true);
    assert_eq!(t.admin_number(&mum(200)).await["account_id"], "MA_BOB");
    assert_eq!(t.admin_number(&mum(6)).await["state"], "available");
    let audit = t.audit(&mum(6)).await;
    let last = audit["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "released");
    assert_eq!(last["actor"], "MA_ALICE");
    assert_eq!(last["request_id"], format!("job:{id}"));

    // Filters and pages.
    let failed = job(&t, &id, "?items=failed&limit=10&offset=10").await;
    assert_eq!(failed["items_total"], 15);
    assert_eq!(failed["items"].as_array().unwrap().len(), 5);
    assert_eq!(failed["items"][0]["number"], mum(196));
    let (status, list) = t.get("/admin/v1/jobs", &op()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1);
    assert_eq!(list["jobs"][0]["id"], id.as_str());
    t.assert_sound().await;
}

async fn a_job_is_refused_whole_for_bad_lists_and_unknown_accounts() {
    let t = TestApp::spawn().await;
    t.master("MA_ALICE", "10").await;
    let refused = |body: Value| {
        let t = &t;
        async move {
            let (status, answer) = t.post("/admin/v1/jobs", &op(), body).await;
            (status, answer)
        }
    };
    let base =
        |numbers: Value| json!({"kind": "release", "account_id": "MA_ALICE", "numbers": numbers});
    let (s, b) = refused(base(json!([]))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(
        b["message"],
        "invalid input: a job needs at least one number"
    );
    let (s, b) = refused(base(json!([mum(1), mum(2), mum(1)]))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(
        b["message"].as_str().unwrap().contains("more than once"),
        "{b}"
    );
    let (s, b) = refused(base(json!([mum(1), "12", "nope"]))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let msg = b["message"].as_str().unwrap();
    assert!(msg.contains("2 of the numbers are not valid"), "{msg}");
    assert!(
        msg.contains("#2 \"12\"") && msg.contains("#3 \"nope\""),
        "{msg}"
    );
    let many: Vec<String> = (1..=1001).map(mum).collect();
    let (s, b) = refused(base(json!(many))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(
        b["message"].as_str().unwrap().contains("at most 1000"),
        "{b}"
    );
    let (s, b) =
        refused(json!({"kind": "paint", "account_id": "MA_ALICE", "numbers": [mum(1)]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) =
        refused(json!({"kind": "assign_trunk", "account_id": "MA_ALICE", "numbers": [mum(1)]}))
            .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) =
        refused(json!({"kind": "release", "account_id": "MA_NOBODY", "numbers": [mum(1)]})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    let (s, b) = t.get("/admin/v1/jobs/not-a-uuid", &op()).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    let (s, b) = t
        .get("/admin/v1/jobs/00000000-0000-7000-8000-000000000000", &op())
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    let (s, list) = t.get("/admin/v1/jobs", &op()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["total"], 0, "nothing was created");
}

async fn jobs_assign_trunks_and_move_numbers_to_sub_accounts() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "100").await;
    let sub = t.sub(&alice, "SA_ALICE1").await;
    let trunk = t.trunk(&alice, "main").await;
    let numbers: Vec<String> = (1..=4).map(blr).collect();
    for n in &numbers {
        t.stock(n, "0", "1").await;
        t.buy(&alice, n).await;
    }
    create_job(
        &t,
        json!({"kind": "assign_trunk", "account_id": "MA_ALICE", "trunk_id": trunk, "numbers": numbers}),
    )
    .await;
    create_job(
        &t,
        json!({"kind": "move_to_sub_account", "account_id": "MA_ALICE", "sub_account_id": sub.id, "numbers": numbers}),
    )
    .await;
    drain(&t.engine).await;
    for n in &numbers {
        let num = t.admin_number(n).await;
        assert_eq!(num["trunk_group_id"], trunk.as_str(), "{num}");
        assert_eq!(num["account_id"], "SA_ALICE1", "{num}");
    }
    let take_back = create_job(
        &t,
        json!({"kind": "take_back", "account_id": "MA_ALICE", "numbers": numbers}),
    )
    .await;
    drain(&t.engine).await;
    let done = job(&t, take_back["id"].as_str().unwrap(), "").await;
    assert_eq!(done["succeeded"], 4, "{done}");
    assert_eq!(t.admin_number(&blr(1)).await["account_id"], "MA_ALICE");
    t.assert_sound().await;
}

async fn a_cancelled_job_runs_no_more_items() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "100").await;
    let numbers: Vec<String> = (1..=3).map(blr).collect();
    for n in &numbers {
        t.stock(n, "0", "1").await;
        t.buy(&alice, n).await;
    }
    let created = create_job(
        &t,
        json!({"kind": "release", "account_id": "MA_ALICE", "numbers": numbers}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let (s, cancelled) = t
        .post(&format!("/admin/v1/jobs/{id}/cancel"), &op(), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    drain(&t.engine).await;
    let after = job(&t, id, "").await;
    assert_eq!(after["status"], "cancelled");
    assert_eq!(after["pending"], 3);
    assert_eq!(t.admin_number(&blr(1)).await["state"], "active");
}

/// A runner that dies mid-job leaves its lease to lapse; another takes the job over and runs
/// only the items left; the dead one's late item is found done, and its lease is gone.
async fn a_lapsed_lease_is_taken_over_and_no_item_runs_twice() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "100").await;
    let numbers: Vec<String> = (1..=20).map(blr).collect();
    for n in &numbers {
        t.stock(n, "0", "1").await;
        t.buy(&alice, n).await;
    }
    let created = create_job(
        &t,
        json!({"kind": "release", "account_id": "MA_ALICE", "numbers": numbers}),
    )
    .await;
    let now = Utc::now();
    let first = t
        .engine
        .claim_job("node-a", now, now + chrono::Duration::seconds(30))
        .await
        .unwrap()
        .expect("a job to claim");
    assert_eq!(first.id.to_string(), created["id"].as_str().unwrap());
    // While the lease holds, nobody else gets the job.
    assert!(t
        .engine
        .claim_job("node-b", now, now + chrono::Duration::seconds(30))
        .await
        .unwrap()
        .is_none());
    let items = t.engine.pending_job_items(first.id, 7).await.unwrap();
    for item in &items {
        assert!(t.engine.run_job_item(&first, item).await.unwrap().is_some());
    }
    // node-a dies here. After its lease, node-b takes over.
    let later = now + chrono::Duration::seconds(31);
    let second = t
        .engine
        .claim_job("node-b", later, later + chrono::Duration::seconds(30))
        .await
        .unwrap()
        .expect("the lapsed job");
    assert_eq!(second.id, first.id);
    assert_eq!(second.succeeded, 7);
    let config = runner("node-b", std::time::Duration::from_secs(30));
    let ran = jobs::run_claimed(&t.engine, &config, &second, &running())
        .await
        .unwrap();
    assert_eq!(ran, Ran::Finished);
    // node-a comes back with an item it ran: found done, nothing runs again.
    assert_eq!(
        t.engine.run_job_item(&first, &items[0]).await.unwrap(),
        None
    );
    let lost = t
        .engine
        .renew_job_lease(first.id, "node-a", Utc::now())
        .await;
    assert!(
        matches!(lost, Err(didpool_core::EngineError::JobNotRunning)),
        "{lost:?}"
    );
    let done = job(&t, &first.id.to_string(), "").await;
    assert_eq!(done["status"], "done");
    assert_eq!(done["succeeded"], 20);
    for n in &numbers {
        let audit = t.audit(n).await;
        let released = audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "released")
            .count();
        assert_eq!(released, 1, "{n}");
    }
    assert_eq!(t.balance(&alice).await, 80.0);
    t.assert_sound().await;
}

/// A runner shutting down ends its lease at once: another node takes the job over without
/// waiting for the lease to lapse, and runs it all.
async fn a_runner_shutting_down_hands_its_job_back_at_once() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "100").await;
    let numbers: Vec<String> = (1..=3).map(blr).collect();
    for n in &numbers {
        t.stock(n, "0", "1").await;
        t.buy(&alice, n).await;
    }
    create_job(
        &t,
        json!({"kind": "release", "account_id": "MA_ALICE", "numbers": numbers}),
    )
    .await;
    let now = Utc::now();
    let job = t
        .engine
        .claim_job("node-a", now, now + chrono::Duration::hours(1))
        .await
        .unwrap()
        .unwrap();
    let (stop_tx, stopping) = watch::channel(true);
    let config = runner("node-a", std::time::Duration::from_secs(3600));
    let ran = jobs::run_claimed(&t.engine, &config, &job, &stopping)
        .await
        .unwrap();
    assert_eq!(ran, Ran::Stopped);
    drop(stop_tx);
    let later = Utc::now() + chrono::Duration::milliseconds(1);
    let taken = t
        .engine
        .claim_job("node-b", later, later + chrono::Duration::seconds(30))
        .await
        .unwrap()
        .expect("handed back");
    assert_eq!((taken.id, taken.succeeded), (job.id, 0));
    let config = runner("node-b", std::time::Duration::from_secs(30));
    let ran = jobs::run_claimed(&t.engine, &config, &taken, &running())
        .await
        .unwrap();
    assert_eq!(ran, Ran::Finished);
    assert_eq!(t.admin_number(&blr(3)).await["state"], "available");
}

/// Two nodes on one database (each its own store handle and engine) run their runners at
/// once: each item runs exactly once.
async fn two_runners_on_one_database_run_each_item_once() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    let mut all = Vec::new();
    for i in 1..=120 {
        t.stock(&mum(i), "0", "1").await;
        t.buy(&alice, &mum(i)).await;
        all.push(mum(i));
    }
    // Three jobs, so both runners have work.
    for chunk in all.chunks(40) {
        create_job(
            &t,
            json!({"kind": "release", "account_id": "MA_ALICE", "numbers": chunk}),
        )
        .await;
    }
    let other_store = didpool_store::open(t.database_url(), &didpool_store::Options::default())
        .await
        .expect("a second handle on the database");
    let other = Engine::new(
        other_store,
        Arc::new(t.clock.clone()),
        ReleasePolicy::default(),
    );
    let (stop_tx, stop) = watch::channel(false);
    let a = tokio::spawn(jobs::run(
        t.engine.clone(),
        runner("node-a", std::time::Duration::from_secs(30)),
        stop.clone(),
    ));
    let b = tokio::spawn(jobs::run(
        other.clone(),
        runner("node-b", std::time::Duration::from_secs(30)),
        stop,
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, list) = t.get("/admin/v1/jobs", &op()).await;
        if list["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["status"] == "done")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{list}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop_tx.send(true).unwrap();
    a.await.unwrap();
    b.await.unwrap();
    for n in &all {
        let audit = t.audit(n).await;
        let released = audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "released")
            .count();
        assert_eq!(released, 1, "{n}");
    }
    t.assert_sound().await;
}

/// `didpool …` on the test's database, with `stdin`: exit status and stdout's lines.
async fn cli(t: &TestApp, args: &[&str], stdin: &str) -> (bool, Vec<String>) {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_didpool"))
        .args(["--database-url", t.database_url()])
        .args(args)
        .env("DIDPOOL_LOG", "error")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("didpool runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    (
        out.status.success(),
        stdout.lines().map(str::to_owned).collect(),
    )
}

/// The CLI runs on the machine's clock: only outcomes are compared, never times.
async fn the_cli_locks_numbers_and_creates_runs_and_shows_jobs() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    for i in 1..=3 {
        t.stock(&blr(i), "0", "1").await;
        t.buy(&alice, &blr(i)).await;
    }
    let (ok, out) = cli(&t, &["number", "lock", &blr(1), "--reason", "porting"], "").await;
    assert!(ok, "{out:?}");
    assert!(out[0].contains("is locked against release"), "{out:?}");
    assert_eq!(
        t.admin_number(&blr(1)).await["release_lock"]["reason"],
        "porting"
    );

    let stdin = format!("# the list\n{}\n\n{}\n", blr(1), blr(2));
    let args = [
        "jobs",
        "create",
        "--kind",
        "release",
        "--account",
        "MA_ALICE",
        "--file",
        "-",
        "--run",
        "--json",
    ];
    let mut with_arg = args.to_vec();
    let third = blr(3);
    with_arg.push(&third);
    let (ok, out) = cli(&t, &with_arg, &stdin).await;
    assert!(!ok, "an item failed: the exit status says so");
    let created: Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!(created["total"], 3);
    let id = created["id"].as_str().unwrap().to_owned();

    let (ok, out) = cli(&t, &["jobs", "show", &id, "--json"], "").await;
    assert!(ok, "{out:?}");
    let job: Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!(job["status"], "done");
    assert_eq!(
        (job["succeeded"].as_u64(), job["failed"].as_u64()),
        (Some(2), Some(1))
    );
    let items: Vec<Value> = out[1..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The arguments' numbers first, then the file's.
    assert_eq!(items[0]["number"], blr(3));
    assert_eq!(items[1]["number"], blr(1));
    assert_eq!(items[1]["error"], "release_locked");
    assert_eq!(items[2]["status"], "succeeded");
    let (ok, out) = cli(&t, &["jobs", "list", "--json"], "").await;
    assert!(ok);
    assert_eq!(out.len(), 1);

    let (ok, _) = cli(&t, &["number", "unlock", &blr(1)], "").await;
    assert!(ok);
    assert_eq!(t.admin_number(&blr(1)).await["release_locked"], false);
    let (ok, out) = cli(
        &t,
        &[
            "jobs",
            "create",
            "--kind",
            "release",
            "--account",
            "MA_ALICE",
            "nope",
        ],
        "",
    )
    .await;
    assert!(!ok && out.is_empty(), "a bad list creates nothing");
}

on_every_backend!(
    locking_shows_on_the_admin_number_and_in_the_timeline,
    only_an_active_number_without_a_pending_release_can_be_locked,
    every_face_refuses_to_release_a_locked_number_and_releases_it_once_unlocked,
    a_job_of_200_releases_records_each_items_result,
    a_job_is_refused_whole_for_bad_lists_and_unknown_accounts,
    jobs_assign_trunks_and_move_numbers_to_sub_accounts,
    a_cancelled_job_runs_no_more_items,
    a_lapsed_lease_is_taken_over_and_no_item_runs_twice,
    two_runners_on_one_database_run_each_item_once,
    a_runner_shutting_down_hands_its_job_back_at_once,
    the_cli_locks_numbers_and_creates_runs_and_shows_jobs,
);
