//! The Vobiz face: SIP trunk CRUD.

#[macro_use]
mod common;

use axum::http::{Method, StatusCode};
use chrono::Duration;
use common::{blr, enc, micros, Acct, Snap, TestApp};
use serde_json::{json, Value};

async fn create(t: &TestApp, who: &Acct, body: Value) -> (StatusCode, Value) {
    t.post(&format!("{}/trunks", who.base()), &who.auth(), body)
        .await
}

fn trunk_path(who: &Acct, id: &str) -> String {
    format!("{}/trunks/{id}", who.base_cap())
}

async fn creating_a_trunk_is_201_with_the_documented_defaults() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;

    let (status, body) = create(&t, &alice, json!({"name": "Acme Production Trunk"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["trunk_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert_eq!(body["trunk_domain"], format!("{id}.sip.vobiz.ai"));
    assert_eq!(body["account_id"], "MA_ALICE");
    assert_eq!(body["cps_limit"], 2);
    assert_eq!(body["secure"], false);
    assert_eq!(body["transport"], "udp");
    assert_eq!(body["trunk_status"], "active");
    assert_eq!(body["created_at"], micros(t.now()));
    insta::assert_json_snapshot!("creating_a_trunk_is_201_with_the_documented_defaults", Snap(&body), {
        ".trunk_id" => "[trunk_id]",
        ".trunk_domain" => "[trunk_id].sip.vobiz.ai",
    });
}

async fn a_trunk_is_created_from_either_vocabulary() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;

    // The documentation's prose and the Python SDK.
    let (status, body) = create(
        &t,
        &alice,
        json!({"name": "T1", "trunk_type": "OUTBOUND", "max_concurrent_calls": 50}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["trunk_direction"], "outbound");
    assert_eq!(body["concurrent_calls_limit"], 50);

    // The OpenAPI schema.
    let (status, body) = create(
        &t,
        &alice,
        json!({
            "name": "T2", "trunk_direction": "inbound", "concurrent_calls_limit": 5,
            "trunk_status": "disabled", "transport": "TLS", "secure": true, "cps_limit": 10,
            "description": "backup", "trunk_domain": "acme.example.com", "webhook_method": "get",
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["trunk_direction"], "inbound");
    assert_eq!(body["concurrent_calls_limit"], 5);
    assert_eq!(body["trunk_status"], "inactive");
    assert_eq!(body["transport"], "tls");
    assert_eq!(body["secure"], true);
    assert_eq!(body["cps_limit"], 10);
    assert_eq!(body["description"], "backup");
    assert_eq!(body["trunk_domain"], "acme.example.com");
    assert_eq!(body["webhook_method"], "GET");

    let (status, body) = create(&t, &alice, json!({"name": "T3", "enabled": false})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["trunk_status"], "inactive");
}

async fn creating_a_trunk_without_a_valid_name_or_with_out_of_range_settings_is_400() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;

    let (status, body) = create(&t, &alice, json!({"trunk_type": "OUTBOUND"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid request", "message": "name is required"})
    );

    for bad in [
        json!({"name": ""}),
        json!({"name": "x".repeat(256)}),
        json!({"name": "T", "trunk_type": "SIDEWAYS"}),
        json!({"name": "T", "transport": "carrier-pigeon"}),
        json!({"name": "T", "trunk_status": "maybe"}),
        json!({"name": "T", "cps_limit": 101}),
        json!({"name": "T", "max_concurrent_calls": -1}),
        json!({"name": "T", "concurrent_calls_limit": 1001}),
        json!({"name": "T", "webhook_method": "PATCH"}),
        json!({"name": "T", "cps_limit": "two"}),
    ] {
        let (status, body) = create(&t, &alice, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"], "invalid request", "{bad}");
    }
    let (_, list) = t
        .get(&format!("{}/trunks", alice.base()), &alice.auth())
        .await;
    assert_eq!(list["meta"]["total"], 0);
}

async fn trunks_list_in_the_documented_envelope_by_limit_and_offset_or_page_and_size() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    let bob = t.master("MA_BOB", "0").await;
    let mut ids = Vec::new();
    for name in ["one", "two", "three"] {
        ids.push(t.trunk(&alice, name).await);
        t.advance(Duration::seconds(1));
    }
    t.trunk(&bob, "Bob's").await;
    let list = |q: &str| {
        let path = format!("{}/trunks{q}", alice.base());
        let headers = alice.auth();
        let t = &t;
        async move {
            let (status, body) = t.get(&path, &headers).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };
    let names = |body: &Value| -> Vec<String> {
        body["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_owned())
            .collect()
    };

    let body = list("").await;
    assert_eq!(body["meta"], json!({"limit": 20, "offset": 0, "total": 3}));
    assert_eq!(names(&body), ["one", "two", "three"]);
    assert_eq!(body["objects"][0]["trunk_id"], ids[0].as_str());

    let body = list("?limit=2&offset=1").await;
    assert_eq!(body["meta"], json!({"limit": 2, "offset": 1, "total": 3}));
    assert_eq!(names(&body), ["two", "three"]);

    // The Python SDK's page/size.
    let body = list("?page=2&size=2").await;
    assert_eq!(body["meta"], json!({"limit": 2, "offset": 2, "total": 3}));
    assert_eq!(names(&body), ["three"]);

    let body = list("?limit=500").await;
    assert_eq!(body["meta"]["limit"], 100);

    let body = list("/").await;
    assert_eq!(names(&body), ["one", "two", "three"]);

    let (status, _) = t
        .get(&format!("{}/trunks?limit=0", alice.base()), &alice.auth())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn a_trunk_is_retrieved_by_its_id() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    let (_, created) = create(&t, &alice, json!({"name": "Main", "cps_limit": 7})).await;
    let id = created["trunk_id"].as_str().unwrap();

    let (status, body) = t.get(&trunk_path(&alice, id), &alice.auth()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, created);
    let (status, body) = t
        .get(&format!("{}/trunks/{id}/", alice.base()), &alice.auth())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, created);
}

async fn updating_a_trunk_changes_only_the_fields_sent() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    let (_, created) = create(
        &t,
        &alice,
        json!({"name": "Main", "trunk_type": "INBOUND", "max_concurrent_calls": 10}),
    )
    .await;
    let id = created["trunk_id"].as_str().unwrap().to_owned();
    t.advance(Duration::hours(1));

    // The documented trio, in the prose's vocabulary.
    let (status, body) = t
        .put(
            &trunk_path(&alice, &id),
            &alice.auth(),
            json!({"name": "Renamed", "max_concurrent_calls": 20, "enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Renamed");
    assert_eq!(body["concurrent_calls_limit"], 20);
    assert_eq!(body["trunk_status"], "inactive");
    assert_eq!(body["updated_at"], micros(t.now()));
    let mut unchanged = body.clone();
    for (k, v) in [
        ("name", &created["name"]),
        ("concurrent_calls_limit", &created["concurrent_calls_limit"]),
        ("trunk_status", &created["trunk_status"]),
        ("updated_at", &created["updated_at"]),
    ] {
        unchanged[k] = v.clone();
    }
    assert_eq!(unchanged, created, "nothing else changed");

    // One field at a time, in the OpenAPI vocabulary.
    let (status, body) = t
        .put(
            &trunk_path(&alice, &id),
            &alice.auth(),
            json!({"trunk_status": "enabled"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["trunk_status"], "active");
    assert_eq!(body["name"], "Renamed");
    assert_eq!(body["concurrent_calls_limit"], 20);

    let (status, body) = t
        .put(&trunk_path(&alice, &id), &alice.auth(), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Renamed");

    // A bad value changes nothing.
    let (status, _) = t
        .put(
            &trunk_path(&alice, &id),
            &alice.auth(),
            json!({"name": "Again", "cps_limit": 1000}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, now) = t.get(&trunk_path(&alice, &id), &alice.auth()).await;
    assert_eq!(now["name"], "Renamed");
    assert_eq!(now["cps_limit"], 2);
}

async fn deleting_a_trunk_is_204_and_detaches_its_numbers() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    t.stock(&blr(1), "0", "1").await;
    t.buy(&alice, &blr(1)).await;
    let id = t.trunk(&alice, "Main").await;
    let (status, _) = t
        .post(
            &format!("{}/numbers/{}/assign", alice.base(), enc(&blr(1))),
            &alice.auth(),
            json!({"trunk_group_id": id}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, body) = t.delete(&trunk_path(&alice, &id), &alice.auth()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);

    let (status, _) = t.get(&trunk_path(&alice, &id), &alice.auth()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let owned = t.owned(&alice).await;
    assert_eq!(owned["items"][0]["trunk_group_id"], Value::Null);
    assert_eq!(owned["items"][0]["account_id"], "MA_ALICE");
    let audit = t.audit(&blr(1)).await;
    assert_eq!(
        audit["events"].as_array().unwrap().last().unwrap()["action"],
        "unassigned_from_trunk"
    );

    // Gone means gone: deleting again is 404.
    let (status, _) = t.delete(&trunk_path(&alice, &id), &alice.auth()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn unknown_foreign_and_malformed_trunk_ids_are_404() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    let bob = t.master("MA_BOB", "0").await;
    let bobs = t.trunk(&bob, "Bob's").await;
    let (_, before) = t.get(&trunk_path(&bob, &bobs), &bob.auth()).await;
    let not_found = json!({"error": "not_found", "message": "trunk not found"});

    for id in [
        bobs.as_str(),
        "00000000-0000-4000-8000-000000000000",
        "not-a-uuid",
    ] {
        let path = trunk_path(&alice, id);
        let (status, body) = t.get(&path, &alice.auth()).await;
        assert_eq!(
            (status, &body),
            (StatusCode::NOT_FOUND, &not_found),
            "GET {id}"
        );
        let (status, body) = t
            .put(&path, &alice.auth(), json!({"name": "Mine now"}))
            .await;
        assert_eq!(
            (status, &body),
            (StatusCode::NOT_FOUND, &not_found),
            "PUT {id}"
        );
        let (status, body) = t.delete(&path, &alice.auth()).await;
        assert_eq!(
            (status, &body),
            (StatusCode::NOT_FOUND, &not_found),
            "DELETE {id}"
        );
    }
    let (_, after) = t.get(&trunk_path(&bob, &bobs), &bob.auth()).await;
    assert_eq!(after, before);
}

async fn trunk_bodies_that_are_not_json_are_400() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    let (status, body) = t
        .raw(
            Method::POST,
            &format!("{}/trunks", alice.base()),
            &alice.auth(),
            Some("application/json"),
            "{name:",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid request");
}

on_every_backend!(
    creating_a_trunk_is_201_with_the_documented_defaults,
    a_trunk_is_created_from_either_vocabulary,
    creating_a_trunk_without_a_valid_name_or_with_out_of_range_settings_is_400,
    trunks_list_in_the_documented_envelope_by_limit_and_offset_or_page_and_size,
    a_trunk_is_retrieved_by_its_id,
    updating_a_trunk_changes_only_the_fields_sent,
    deleting_a_trunk_is_204_and_detaches_its_numbers,
    unknown_foreign_and_malformed_trunk_ids_are_404,
    trunk_bodies_that_are_not_json_are_400,
);
