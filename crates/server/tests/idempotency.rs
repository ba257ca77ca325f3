//! `Idempotency-Key` on every face: one effect and one answer per key (also under a race of 32),
//! the answer replayed with `Idempotent-Replayed: true` until the retention ends, a 422 for
//! another request under the key, a 409 after waiting for one still in flight, a 400 for a bad
//! key (each in the face's own shape), keys of different credentials apart, and a request whose
//! answer was lost in a crash answered from what committed, never run twice.

#[allow(unused_macros)]
#[macro_use]
mod common;

use std::time::Duration as StdDuration;

use axum::http::{Method, StatusCode};
use chrono::Duration;
use common::{blr, Acct, Resp, TestApp};
use didpool_core::credential::CredentialKind;
use didpool_core::engine::By;
use didpool_core::idempotency::{Claim, KeyRequest, LEASE};
use didpool_core::lifecycle::Command;
use serde_json::{json, Value};

on_every_backend!(
    thirty_two_concurrent_purchases_with_one_key_charge_once_and_answer_alike,
    an_answer_is_replayed_until_the_retention_ends_then_the_key_runs_again,
    another_request_under_a_key_is_a_422_in_each_faces_shape,
    a_bad_key_is_a_400_in_each_faces_shape,
    keys_of_different_credentials_do_not_collide,
    a_retry_waits_for_the_request_in_flight_then_replays_its_answer,
    a_request_still_in_flight_after_the_wait_is_a_409_in_each_faces_shape,
    a_refusal_is_replayed_and_a_server_failure_is_not_kept,
    a_request_whose_answer_was_lost_is_answered_from_what_committed,
    requests_without_a_key_or_that_only_read_are_untouched,
);

/// Request headers, as the harness takes them.
type Headers = Vec<(&'static str, String)>;

fn with_key(mut headers: Vec<(&'static str, String)>, key: &str) -> Vec<(&'static str, String)> {
    headers.push(("Idempotency-Key", key.to_owned()));
    headers
}

fn replayed(r: &Resp) -> bool {
    r.headers
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

fn agni(key: &str) -> Vec<(&'static str, String)> {
    vec![("X-Api-Key", key.to_owned())]
}

fn bearer(key: &str) -> Vec<(&'static str, String)> {
    vec![("Authorization", format!("Bearer {key}"))]
}

/// [`TestApp::request`], owning what it sends.
async fn send(
    t: &TestApp,
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
) -> Resp {
    t.request(method, &path, &headers, body).await
}

fn purchase_path(a: &Acct) -> String {
    format!("{}/numbers/purchase-from-inventory", a.base())
}

async fn purchase(t: &TestApp, a: &Acct, e164: &str, key: &str) -> Resp {
    t.request(
        Method::POST,
        &purchase_path(a),
        &with_key(a.auth(), key),
        Some(json!({"e164": e164})),
    )
    .await
}

/// The purchases (`number_purchase` debits) in the account's ledger.
async fn purchases(t: &TestApp, a: &Acct) -> usize {
    t.transactions(a)
        .await
        .iter()
        .filter(|(kind, amount)| kind.contains("purchase") && *amount < 0.0)
        .count()
}

async fn thirty_two_concurrent_purchases_with_one_key_charge_once_and_answer_alike() {
    let t = TestApp::spawn().await;
    let a = t.master("MA_RACE", "1000").await;
    t.stock(&blr(1), "10", "5").await;
    let before = t.balance(&a).await;

    let number = blr(1);
    let answers =
        futures::future::join_all((0..32).map(|_| purchase(&t, &a, &number, "race-1"))).await;

    for r in &answers {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.raw, answers[0].raw, "every answer is the first one");
    }
    let first: Vec<_> = answers.iter().filter(|r| !replayed(r)).collect();
    assert_eq!(first.len(), 1, "one request ran, 31 were replayed");
    assert_eq!(purchases(&t, &a).await, 1, "one charge");
    assert_eq!(
        t.balance(&a).await,
        before - 15.0,
        "setup and first month, once"
    );
    t.assert_sound().await;
}

async fn an_answer_is_replayed_until_the_retention_ends_then_the_key_runs_again() {
    let t = TestApp::spawn().await;
    let a = t.master("MA_TOPS", "0").await;
    let top_up = |amount: u32| {
        send(
            &t,
            Method::POST,
            format!("/admin/v1/accounts/{}/top-up", a.id),
            with_key(TestApp::admin_auth(), "top-up-1"),
            Some(json!({"amount": amount.to_string()})),
        )
    };
    let first = top_up(100).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert!(!replayed(&first));

    t.advance(Duration::hours(24) - Duration::seconds(1));
    let again = top_up(100).await;
    assert_eq!(again.status, first.status);
    assert_eq!(again.raw, first.raw);
    assert!(replayed(&again), "{:?}", again.headers);
    assert_eq!(t.balance(&a).await, 100.0, "credited once");
    assert_eq!(
        t.engine.prune_keys(Duration::hours(24)).await.unwrap(),
        0,
        "nothing expired yet"
    );

    t.advance(Duration::seconds(1));
    let later = top_up(100).await;
    assert_eq!(later.status, StatusCode::OK);
    assert!(!replayed(&later), "an expired key is a new one");
    assert_eq!(t.balance(&a).await, 200.0);

    // Pruning (the scheduler's, here with a shorter retention) deletes the key: it runs again.
    t.advance(Duration::hours(2));
    assert_eq!(t.engine.prune_keys(Duration::hours(1)).await.unwrap(), 1);
    let after_prune = top_up(100).await;
    assert!(!replayed(&after_prune));
    assert_eq!(t.balance(&a).await, 300.0);
}

async fn another_request_under_a_key_is_a_422_in_each_faces_shape() {
    let t = TestApp::spawn().await;
    let a = t.master("MA_MISM", "1000").await;
    for i in 1..=4 {
        t.stock(&blr(i), "10", "5").await;
    }
    // Vobiz.
    assert_eq!(purchase(&t, &a, &blr(1), "k").await.status, StatusCode::OK);
    let r = purchase(&t, &a, &blr(2), "k").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"], "idempotency key reused", "{}", r.body);
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .contains("Idempotency-Key"));

    // Agni: the envelope.
    let key = t.api_key(&a, "agni").await;
    let buy = |e164: String| {
        send(
            &t,
            Method::POST,
            "/api/v1/phone-numbers/buy".into(),
            with_key(agni(&key), "k"),
            Some(json!({"phone_number": e164, "price": 5})),
        )
    };
    assert_eq!(buy(blr(3)).await.status, StatusCode::OK);
    let r = buy(blr(4)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["success"], false);
    assert!(r.body["data"].is_null());
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .starts_with("This Idempotency-Key"));

    // Diga: an app error.
    let key = t.api_key(&a, "diga").await;
    let import = |e164: &str| {
        send(
            &t,
            Method::POST,
            "/v1/phone/import".into(),
            with_key(bearer(&key), "k"),
            Some(json!({"phone_number": e164})),
        )
    };
    assert_eq!(import("+34932000001").await.status, StatusCode::OK);
    let r = import("+34932000002").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["status"], "error");
    assert_eq!(r.body["error_code"], "IDEMPOTENCY_KEY_REUSED");

    // The admin API; the query counts as much as the body.
    let path = format!("/admin/v1/accounts/{}/top-up", a.id);
    let admin = with_key(TestApp::admin_auth(), "k");
    let body = Some(json!({"amount": "1"}));
    let r = t.request(Method::POST, &path, &admin, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = t
        .request(Method::POST, &format!("{path}?x=1"), &admin, body)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"], "idempotency_key_reused");
    assert_eq!(
        purchases(&t, &a).await,
        2,
        "Vobiz and Agni bought once each"
    );
}

async fn a_bad_key_is_a_400_in_each_faces_shape() {
    let t = TestApp::spawn().await;
    let a = t.master("MA_BADK", "1000").await;
    t.stock(&blr(1), "10", "5").await;
    let agni_key = t.api_key(&a, "agni").await;
    let diga_key = t.api_key(&a, "diga").await;
    for bad in ["", &"k".repeat(256)] {
        let r = purchase(&t, &a, &blr(1), bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.body["error"], "invalid request");

        let r = t
            .request(
                Method::POST,
                "/api/v1/phone-numbers/buy",
                &with_key(agni(&agni_key), bad),
                Some(json!({"phone_number": blr(1), "price": 5})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.body["success"], false);

        let r = t
            .request(
                Method::POST,
                "/v1/phone/import",
                &with_key(bearer(&diga_key), bad),
                Some(json!({"phone_number": "+34932000001"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.body["error_code"], "INVALID_IDEMPOTENCY_KEY");

        let r = t
            .request(
                Method::POST,
                &format!("/admin/v1/accounts/{}/top-up", a.id),
                &with_key(TestApp::admin_auth(), bad),
                Some(json!({"amount": "1"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.body["error"], "invalid_request");
    }
    assert_eq!(purchases(&t, &a).await, 0, "nothing ran");
    assert_eq!(t.balance(&a).await, 1000.0);
    let r = purchase(&t, &a, &blr(1), &"k".repeat(255)).await;
    assert_eq!(r.status, StatusCode::OK, "255 characters are a key");
}

async fn keys_of_different_credentials_do_not_collide() {
    let t = TestApp::spawn().await;
    let a = t.master("MA_ONE", "1000").await;
    let b = t.master("MA_TWO", "1000").await;
    for i in 1..=4 {
        t.stock(&blr(i), "10", "5").await;
    }
    let ra = purchase(&t, &a, &blr(1), "same").await;
    let rb = purchase(&t, &b, &blr(2), "same").await;
    assert_eq!((ra.status, rb.status), (StatusCode::OK, StatusCode::OK));
    assert!(!replayed(&rb));
    assert_eq!(rb.body["number"]["e164"], blr(2), "{}", rb.body);

    // Two Agni keys of one account are two credentials.
    let k1 = t.api_key(&a, "agni").await;
    let k2 = t.api_key(&a, "agni").await;
    for (key, e164) in [(&k1, blr(3)), (&k2, blr(4))] {
        let r = t
            .request(
                Method::POST,
                "/api/v1/phone-numbers/buy",
                &with_key(agni(key), "same"),
                Some(json!({"phone_number": e164, "price": 5})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(!replayed(&r));
    }
    assert_eq!(purchases(&t, &a).await, 3);
    assert_eq!(purchases(&t, &b).await, 1);

    // Nor do a key's method and path: the same key releases the number it bought.
    let r = t
        .request(
            Method::DELETE,
            &format!("{}/numbers/{}", a.base_cap(), common::enc(&blr(1))),
            &with_key(a.auth(), "same"),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert!(!replayed(&r));
}

/// A request with `key` claimed behind the service's back, as a request in flight holds it.
async fn hold(t: &TestApp, scope: String, method: &str, path: &str, body: &Value) -> Claim {
    let request = KeyRequest {
        scope,
        method: method.into(),
        path: path.into(),
        key: "held".into(),
        fingerprint: didpool::idempotency::fingerprint(None, body.to_string().as_bytes()),
    };
    t.engine
        .claim_key(&request, Duration::hours(24))
        .await
        .expect("the key is claimed")
}

async fn a_retry_waits_for_the_request_in_flight_then_replays_its_answer() {
    let t = TestApp::spawn().await;
    let a = t.master("MA_WAIT", "0").await;
    let path = format!("/admin/v1/accounts/{}/top-up", a.id);
    let body = json!({"amount": "7"});
    let Claim::Run(held) = hold(&t, "operator".into(), "POST", &path, &body).await else {
        panic!("a fresh key is claimed");
    };
    let retry = send(
        &t,
        Method::POST,
        path.clone(),
        with_key(TestApp::admin_auth(), "held"),
        Some(body),
    );
    let answer = didpool_core::idempotency::StoredAnswer {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"answered":"first"}"#.to_vec(),
    };
    let finish = async {
        tokio::time::sleep(StdDuration::from_millis(50)).await;
        t.engine.finish_key(&held, &answer).await.unwrap();
    };
    let (r, ()) = tokio::join!(retry, finish);
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"answered": "first"}));
    assert!(replayed(&r));
    assert_eq!(t.balance(&a).await, 0.0, "the retry did not run");
}

async fn a_request_still_in_flight_after_the_wait_is_a_409_in_each_faces_shape() {
    let t = TestApp::spawn()
        .await
        .with_key_wait(StdDuration::from_millis(100));
    let a = t.master("MA_HELD", "1000").await;
    t.stock(&blr(1), "10", "5").await;
    let (agni_id, agni_key) = t.key(&a, CredentialKind::Agni, None).await;
    let (diga_id, diga_key) = t.key(&a, CredentialKind::Diga, None).await;
    let vobiz_id = t
        .engine
        .credentials(&By::operator(None), &a.account_id())
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.kind == CredentialKind::Vobiz)
        .unwrap()
        .id;

    let cases: Vec<(String, Method, String, Headers, Value)> = vec![
        (
            format!("credential:{vobiz_id}"),
            Method::POST,
            purchase_path(&a),
            a.auth(),
            json!({"e164": blr(1)}),
        ),
        (
            format!("credential:{agni_id}"),
            Method::POST,
            "/api/v1/phone-numbers/buy".into(),
            agni(&agni_key),
            json!({"phone_number": blr(1), "price": 5}),
        ),
        (
            format!("credential:{diga_id}"),
            Method::POST,
            "/v1/phone/import".into(),
            bearer(&diga_key),
            json!({"phone_number": "+34932000001"}),
        ),
        (
            "operator".into(),
            Method::POST,
            format!("/admin/v1/accounts/{}/top-up", a.id),
            TestApp::admin_auth(),
            json!({"amount": "1"}),
        ),
    ];
    let mut bodies = Vec::new();
    for (scope, method, path, auth, body) in cases {
        assert!(matches!(
            hold(&t, scope, method.as_str(), &path, &body).await,
            Claim::Run(_)
        ));
        let r = t
            .request(method, &path, &with_key(auth, "held"), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{path}: {}", r.body);
        bodies.push(r.body);
    }
    assert_eq!(bodies[0]["error"], "idempotency key in use");
    assert_eq!(bodies[1]["success"], false);
    assert_eq!(bodies[2]["error_code"], "IDEMPOTENCY_KEY_IN_USE");
    assert_eq!(bodies[3]["error"], "idempotency_key_in_use");
    assert_eq!(purchases(&t, &a).await, 0);
    assert_eq!(t.balance(&a).await, 1000.0);

    // A claim whose server died frees itself when its lease ends: the retry runs.
    t.advance(LEASE);
    let r = purchase(&t, &a, &blr(1), "held").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(purchases(&t, &a).await, 1);
}

async fn a_refusal_is_replayed_and_a_server_failure_is_not_kept() {
    let t = TestApp::spawn().await;
    let a = t.master("MA_POOR", "1").await;
    t.stock(&blr(1), "10", "5").await;
    // Vobiz refuses a purchase the balance does not cover with its documented 500: a server
    // status, so it is not kept, and the retry after a top-up goes through.
    let r = purchase(&t, &a, &blr(1), "buy").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    t.engine
        .run(
            &By::operator(None),
            Command::TopUp {
                account: a.account_id(),
                amount: 100.into(),
                description: "top-up".into(),
            },
        )
        .await
        .unwrap();
    let r = purchase(&t, &a, &blr(1), "buy").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!replayed(&r));

    // A client error is the answer: replayed, even once the number would be for sale.
    let r = purchase(&t, &a, &blr(2), "missing").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    t.stock(&blr(2), "10", "5").await;
    let again = purchase(&t, &a, &blr(2), "missing").await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.raw, r.raw);
    assert!(replayed(&again));
}

async fn a_request_whose_answer_was_lost_is_answered_from_what_committed() {
    let t = TestApp::spawn().await;
    let a = t.master("MA_LOST", "1000").await;
    t.stock(&blr(1), "10", "5").await;
    let (id, key) = t.key(&a, CredentialKind::Agni, None).await;
    let body = json!({"phone_number": blr(1), "price": 5});
    let path = "/api/v1/phone-numbers/buy";

    // The first request claimed its key and committed its purchase; the server died before the
    // answer was kept.
    let Claim::Run(held) = hold(&t, format!("credential:{id}"), "POST", path, &body).await else {
        panic!("a fresh key is claimed");
    };
    let account = t
        .engine
        .account(&By::operator(None), &a.account_id())
        .await
        .unwrap();
    let by = By::account(&account, None).with_key(Some(held));
    t.engine
        .run(
            &by,
            Command::Purchase {
                number: t.engine.parse_number(&blr(1)).unwrap().into(),
                currency: None,
                quoted_monthly_fee: Some(5.into()),
            },
        )
        .await
        .expect("the purchase commits");
    assert_eq!(purchases(&t, &a).await, 1);

    // The retry after the lease runs the route again; its purchase is answered from the record.
    t.advance(LEASE);
    let r = t
        .request(
            Method::POST,
            path,
            &with_key(agni(&key), "held"),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["data"]["phone_number"], blr(1), "{}", r.body);
    assert_eq!(purchases(&t, &a).await, 1, "not charged twice");
    t.assert_sound().await;

    // From now on the answer is kept.
    let again = t
        .request(
            Method::POST,
            path,
            &with_key(agni(&key), "held"),
            Some(json!({"phone_number": blr(1), "price": 5})),
        )
        .await;
    assert!(replayed(&again));
    assert_eq!(again.raw, r.raw);
}

async fn requests_without_a_key_or_that_only_read_are_untouched() {
    let t = TestApp::spawn().await;
    let a = t.master("MA_PLAIN", "1000").await;
    // A read ignores the header, even a bad one.
    let r = t
        .request(
            Method::GET,
            &format!("{}/balance/INR", a.base()),
            &with_key(a.auth(), ""),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!replayed(&r));
    // Without credentials the route answers its own 401, the key notwithstanding.
    let r = t
        .request(
            Method::POST,
            &purchase_path(&a),
            &[("Idempotency-Key", "k".to_owned())],
            Some(json!({"e164": blr(1)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// The replays a face has answered in this process, as `/metrics` exports them (the
/// process's one Prometheus recorder; other tests only add to it).
fn replays(face: &str) -> u64 {
    let series = format!(
        "{}{{face=\"{face}\"}} ",
        didpool::idempotency::REPLAYS_METRIC
    );
    didpool::metrics::handle()
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |n| n.trim().parse().expect("a count"))
}

#[tokio::test]
async fn each_replay_is_counted_by_face() {
    let t = TestApp::spawn().await;
    let a = t.master("MA_COUNT", "1000").await;
    t.stock(&blr(1), "10", "5").await;
    let before = replays("diga");
    let key = t.api_key(&a, "diga").await;
    let import = || {
        send(
            &t,
            Method::POST,
            "/v1/phone/import".into(),
            with_key(bearer(&key), "counted"),
            Some(json!({"phone_number": "+34932000001"})),
        )
    };
    assert!(!replayed(&import().await));
    assert!(replayed(&import().await));
    assert!(replayed(&import().await));
    assert!(replays("diga") >= before + 2);
}
