//! The SIP edge's API (`/routing/v1`): the routing lookup, calls the edge reports, and the Vobiz
//! number health built from them.

#[macro_use]
mod common;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use common::{blr, enc, Acct, TestApp};
use serde_json::{json, Value};

fn bearer(key: &str) -> Vec<(&'static str, String)> {
    vec![("Authorization", format!("Bearer {key}"))]
}

fn lookup_path(e164: &str) -> String {
    format!("/routing/v1/numbers/{}", enc(e164))
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A trunk of `who` that takes inbound calls at `dest`.
async fn trunk_to(t: &TestApp, who: &Acct, dest: &str) -> String {
    let (status, body) = t
        .post(
            &format!("{}/trunks", who.base()),
            &who.auth(),
            json!({"name": "PBX", "inbound_destination": dest, "trunk_domain": "pbx.example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["trunk_id"].as_str().unwrap().to_owned()
}

async fn assign_trunk(t: &TestApp, who: &Acct, e164: &str, trunk: &str) {
    let (status, body) = t
        .post(
            &format!("{}/numbers/{}/assign", who.base(), enc(e164)),
            &who.auth(),
            json!({"trunk_group_id": trunk}),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
}

async fn report(t: &TestApp, key: &str, body: Value) -> (StatusCode, Value) {
    t.post("/routing/v1/calls", &bearer(key), body).await
}

async fn the_lookup_answers_where_a_call_goes_and_404_when_it_goes_nowhere() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let key = t.api_key(&alice, "edge").await;
    assert!(key.starts_with("edge_"), "{key}");
    t.stock(&blr(1), "100", "300").await;

    // In inventory: nowhere.
    let (status, body) = t.get(&lookup_path(&blr(1)), &bearer(&key)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "not_routable");

    // Bought, on no trunk and with no agent: nowhere.
    t.buy(&alice, &blr(1)).await;
    let (status, _) = t.get(&lookup_path(&blr(1)), &bearer(&key)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let trunk = trunk_to(&t, &alice, "127.0.0.1:5090").await;
    assign_trunk(&t, &alice, &blr(1), &trunk).await;
    let r = t
        .request(Method::GET, &lookup_path(&blr(1)), &bearer(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({
            "e164": blr(1),
            "state": "active",
            "holder": "MA_ALICE",
            "billing_account": "MA_ALICE",
            "trunk": {
                "trunk_id": trunk,
                "trunk_domain": "pbx.example.com",
                "inbound_destination": "127.0.0.1:5090",
                "transport": "udp",
            },
            "destination": format!("sip:{}@127.0.0.1:5090;transport=udp", blr(1)),
            "inbound_agent_id": null,
            "outbound_agent_id": null,
        })
    );
    assert_eq!(r.headers["cache-control"], "no-cache");
    let etag = r.headers["etag"].to_str().unwrap().to_owned();

    // Revalidated: 304 while unchanged; a new ETag once it changes.
    let mut revalidate = bearer(&key);
    revalidate.push(("If-None-Match", etag.clone()));
    let r = t
        .request(Method::GET, &lookup_path(&blr(1)), &revalidate, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.raw.is_empty());
    assert_eq!(r.headers["etag"], etag.as_str());
    let (status, body) = t
        .put(
            &format!("{}/trunks/{trunk}", alice.base()),
            &alice.auth(),
            json!({"inbound_destination": "sip:pbx@10.0.0.9:5070"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = t
        .request(Method::GET, &lookup_path(&blr(1)), &revalidate, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["destination"], "sip:pbx@10.0.0.9:5070");
    assert_ne!(r.headers["etag"], etag.as_str());

    // Another main account's edge does not see it; nor does a request without a live key.
    let bob = t.master("MA_BOB", "0").await;
    let bobs = t.api_key(&bob, "edge").await;
    let (status, _) = t.get(&lookup_path(&blr(1)), &bearer(&bobs)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for auth in [vec![], bearer("edge_nope"), alice.auth()] {
        let (status, body) = t.get(&lookup_path(&blr(1)), &auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"], "unauthorized");
    }
    let (status, body) = t.get("/routing/v1/numbers/12ab", &bearer(&key)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Off its trunk (seed 002): nowhere at once; released (seed 000): nowhere.
    let (status, _) = t
        .delete(
            &format!("{}/numbers/{}/assign", alice.base(), enc(&blr(1))),
            &alice.auth(),
        )
        .await;
    assert!(status.is_success());
    let (status, _) = t.get(&lookup_path(&blr(1)), &bearer(&key)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assign_trunk(&t, &alice, &blr(1), &trunk).await;
    let (status, _) = t.get(&lookup_path(&blr(1)), &bearer(&key)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = t.release(&alice, &blr(1), "").await;
    assert!(status.is_success());
    let (status, _) = t.get(&lookup_path(&blr(1)), &bearer(&key)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn edge_keys_are_issued_to_main_accounts_and_stop_when_revoked() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let sub = t.sub(&alice, "SA_BOB").await;
    let (status, body) = t
        .post(
            &format!("/admin/v1/accounts/{}/keys", sub.id),
            &TestApp::admin_auth(),
            json!({"kind": "edge"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("main account"));

    let (status, created) = t
        .post(
            &format!("/admin/v1/accounts/{}/keys", alice.id),
            &TestApp::admin_auth(),
            json!({"kind": "edge"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["kind"], "edge");
    let key = created["key"].as_str().unwrap();
    t.stock(&blr(1), "100", "300").await;
    t.buy(&alice, &blr(1)).await;
    let trunk = trunk_to(&t, &alice, "127.0.0.1:5090").await;
    assign_trunk(&t, &alice, &blr(1), &trunk).await;
    let (status, _) = t.get(&lookup_path(&blr(1)), &bearer(key)).await;
    assert_eq!(status, StatusCode::OK);
    // An edge key is no Diga key, nor the other way round.
    let diga = t.api_key(&alice, "diga").await;
    let (status, _) = t.get(&lookup_path(&blr(1)), &bearer(&diga)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _) = t
        .delete(
            &format!("/admin/v1/keys/{}", created["id"].as_str().unwrap()),
            &TestApp::admin_auth(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.get(&lookup_path(&blr(1)), &bearer(key)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn calls_the_edge_reports_start_the_cool_off_and_make_the_health() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let key = t.api_key(&alice, "edge").await;
    let _sub = t.sub(&alice, "SA_BOB").await;
    t.stock(&blr(1), "100", "300").await;
    t.buy(&alice, &blr(1)).await;
    let (status, body) = t
        .post(
            &format!(
                "{}/numbers/{}/assign-subaccount",
                alice.base(),
                enc(&blr(1))
            ),
            &alice.auth(),
            json!({"sub_account_id": "SA_BOB"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // An answered call of 90 s that ended an hour ago; then a busy one.
    let start = t.now() - Duration::minutes(62);
    let answered = start + Duration::seconds(30);
    let ended = answered + Duration::seconds(90);
    let (status, body) = report(
        &t,
        &key,
        json!({"e164": blr(1), "direction": "inbound", "started_at": ts(start),
               "answered_at": ts(answered), "ended_at": ts(ended), "sip_status": 200}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"e164": blr(1), "last_call_at": common::micros(ended)})
    );
    let busy = t.now() - Duration::minutes(10);
    let (status, body) = report(
        &t,
        &key,
        json!({"e164": blr(1), "started_at": ts(busy), "ended_at": ts(busy + Duration::seconds(4)),
               "sip_status": 486}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["last_call_at"],
        common::micros(ended),
        "a busy call is no call had"
    );

    // Seed 004: the cool-off counts from the answered call's end.
    let (status, body) = t
        .delete(
            &format!(
                "{}/numbers/{}/assign-subaccount",
                alice.base(),
                enc(&blr(1))
            ),
            &alice.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "did_cool_off_in_effect");
    let remaining = (ended + Duration::days(15) - t.now()).num_seconds();
    assert_eq!(body["cool_off_remaining_seconds"], remaining);

    // The health route, daily and hourly.
    let health =
        |who: &Acct, query: &str| format!("{}/numbers/{}/health{query}", who.base(), enc(&blr(1)));
    let (status, body) = t.get(&health(&alice, ""), &alice.auth()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["e164"], blr(1));
    assert_eq!(body["status"], "active");
    assert_eq!(body["usage_status"], "in_use");
    assert_eq!(body["is_spam"], false);
    assert_eq!(body["granularity"], "daily");
    assert_eq!(
        body["summary"],
        json!({"period_days": 30, "total_calls": 2, "answered_calls": 1, "answer_rate": 0.5,
               "total_minutes": 1.5, "avg_duration": 90.0})
    );
    let days = body["snapshots"].as_array().unwrap();
    let calls: u64 = days
        .iter()
        .map(|d| d["total_calls"].as_u64().unwrap())
        .sum();
    assert_eq!(calls, 2);
    let (status, body) = t
        .get(&health(&alice, "?granularity=hourly&days=1"), &alice.auth())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["granularity"], "hourly");
    let hours: Vec<_> = body["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["total_calls"].as_u64().unwrap(),
                s["answered_calls"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = if start.format("%H").to_string() == busy.format("%H").to_string() {
        vec![(2, 1)]
    } else {
        vec![(1, 1), (1, 0)]
    };
    assert_eq!(hours, expected);

    for (query, message) in [
        ("?granularity=weekly", "granularity"),
        ("?days=0", "days"),
        ("?days=91", "days"),
    ] {
        let (status, body) = t.get(&health(&alice, query), &alice.auth()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query} {body}");
        assert!(
            body["message"].as_str().unwrap().contains(message),
            "{body}"
        );
    }
    let carol = t.master("MA_CAROL", "0").await;
    let (status, body) = t.get(&health(&carol, ""), &carol.auth()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // The records go once the retention is over (the scheduler prunes each pass).
    t.engine.prune_calls(Duration::minutes(30)).await.unwrap();
    let (_, body) = t.get(&health(&alice, ""), &alice.auth()).await;
    assert_eq!(body["summary"]["total_calls"], 1, "{body}");
    assert_eq!(body["usage_status"], "idle");
}

async fn bad_call_reports_are_400_and_change_nothing() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let key = t.api_key(&alice, "edge").await;
    t.stock(&blr(1), "100", "300").await;
    t.buy(&alice, &blr(1)).await;
    let now = t.now();
    let good = json!({"e164": blr(1), "started_at": ts(now - Duration::minutes(2)),
        "answered_at": ts(now - Duration::minutes(1)), "ended_at": ts(now), "sip_status": 200});
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    for bad in [
        with("sip_status", json!(486)),
        with("sip_status", json!(180)),
        with("direction", json!("sideways")),
        with("ended_at", json!(ts(now - Duration::minutes(3)))),
        with("ended_at", json!(ts(now + Duration::hours(1)))),
        with("e164", json!("12ab")),
        with("started_at", json!("yesterday")),
        with("extra", json!(1)),
    ] {
        let (status, body) = report(&t, &key, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} {body}");
        assert_eq!(body["error"], "invalid_request", "{body}");
    }
    assert_eq!(t.admin_number(&blr(1)).await["last_call_at"], Value::Null);
    let (status, body) = report(&t, &key, with("e164", json!(blr(2)))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = report(&t, &key, good).await;
    assert_eq!(status, StatusCode::OK);
}

on_every_backend!(
    the_lookup_answers_where_a_call_goes_and_404_when_it_goes_nowhere,
    edge_keys_are_issued_to_main_accounts_and_stop_when_revoked,
    calls_the_edge_reports_start_the_cool_off_and_make_the_health,
    bad_call_reports_are_400_and_change_nothing,
);
