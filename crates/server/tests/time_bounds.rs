//! Times the store cannot hold are refused wherever a client gives one (each face with its own
//! 400 or 422), and the sandbox clock is kept in the database: a restarted sandbox resumes from it.

#[macro_use]
mod common;

use axum::http::StatusCode;
use common::{blr, micros, start, TestApp};
use didpool_core::credential::CredentialKind;
use serde_json::json;

fn op() -> Vec<(&'static str, String)> {
    TestApp::admin_auth()
}

/// The bounds as every refusal words them.
const RANGE: &str = "must be at or after 0001-01-01T00:00:00Z and before 9000-01-01T00:00:00Z";

async fn clock(t: &TestApp) -> String {
    let (status, body) = t.get("/admin/v1/clock", &op()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["now"].as_str().expect("a time").to_owned()
}

async fn a_restarted_sandbox_resumes_its_clock_from_the_database() {
    // A sandbox whose clock was never set starts where a fresh one does.
    let t = TestApp::spawn_sandbox().await.restart().await;
    assert_eq!(clock(&t).await, micros(start()));

    let (status, body) = t
        .post(
            "/admin/v1/clock",
            &op(),
            json!({"now": "2027-03-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["now"], "2027-03-01T00:00:00.000000Z");
    let (status, body) = t
        .post("/admin/v1/clock", &op(), json!({"advance_seconds": 86_400}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["now"], "2027-03-02T00:00:00.000000Z");

    let t = t.restart().await;
    assert_eq!(clock(&t).await, "2027-03-02T00:00:00.000000Z");
    assert_eq!(micros(t.now()), "2027-03-02T00:00:00.000000Z");
    // Still never backwards, after the restart too.
    let (status, body) = t
        .post(
            "/admin/v1/clock",
            &op(),
            json!({"now": "2027-03-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body,
        json!({"error": "invalid_request", "message": "invalid input: the sandbox clock only moves forward"})
    );
    let (status, _) = t
        .post("/admin/v1/clock", &op(), json!({"advance_seconds": -1}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(clock(&t).await, "2027-03-02T00:00:00.000000Z");
}

async fn the_sandbox_clock_refuses_times_the_store_cannot_hold() {
    let t = TestApp::spawn_sandbox().await;
    let alice = t.master("MA_ALICE", "100000").await;
    t.stock(&blr(1), "100", "300").await;
    let before = clock(&t).await;
    for body in [
        json!({"now": "9999-12-15T00:00:00Z"}),
        json!({"now": "9000-01-01T00:00:00Z"}),
        json!({"advance_seconds": 300_000_000_000i64}),
    ] {
        let (status, got) = t.post("/admin/v1/clock", &op(), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {got}");
        assert_eq!(
            got,
            json!({"error": "invalid_request", "message": format!("invalid input: the clock {RANGE}")}),
            "{body}"
        );
    }
    let (status, got) = t
        .post(
            "/admin/v1/clock",
            &op(),
            json!({"advance_seconds": i64::MAX}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{got}");
    assert_eq!(clock(&t).await, before, "a refused move leaves the clock");

    // Just inside the bound, a purchase bills a month past it, and every read still answers.
    let (status, got) = t
        .post(
            "/admin/v1/clock",
            &op(),
            json!({"now": "8999-12-15T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    t.buy(&alice, &blr(1)).await;
    let number = t.admin_number(&blr(1)).await;
    assert_eq!(number["state"], "active", "{number}");
    let (status, got) = t
        .get(&format!("{}/numbers", alice.base()), &alice.auth())
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let (status, got) = t.post("/admin/v1/scheduler/run", &op(), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{got}");
}

async fn diga_assigned_at_filters_outside_the_time_range_are_its_validation_error() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "100000").await;
    for i in 1..=4 {
        t.stock(&blr(i), "0", "1").await;
        t.buy(&alice, &blr(i)).await;
    }
    let (_, key) = t.key(&alice, CredentialKind::Diga, None).await;
    let bearer = vec![("Authorization", format!("Bearer {key}"))];

    // Every phone is assigned before this end: the filter must not find none of them.
    let (status, body) = t
        .get(
            "/v1/phone/?end_assigned_at=8999-12-31T22:59:59-01:00",
            &bearer,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 4, "{body}");

    let (status, body) = t
        .get(
            "/v1/phone/?end_assigned_at=9999-12-31T23:59:59-01:00",
            &bearer,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body,
        json!({"detail": [{
            "type": "less_than",
            "loc": ["query", "end_assigned_at"],
            "msg": "Input should be less than 9000-01-01T00:00:00Z",
            "input": "9999-12-31T23:59:59-01:00",
            "ctx": {"lt": "9000-01-01T00:00:00Z"}
        }]})
    );
    let (status, body) = t
        .get(
            "/v1/phone/?start_assigned_at=0000-06-01&end_assigned_at=9999-01-01",
            &bearer,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["detail"][0],
        json!({
            "type": "greater_than_equal",
            "loc": ["query", "start_assigned_at"],
            "msg": "Input should be greater than or equal to 0001-01-01T00:00:00Z",
            "input": "0000-06-01",
            "ctx": {"ge": "0001-01-01T00:00:00Z"}
        })
    );
    assert_eq!(
        body["detail"][1]["loc"],
        json!(["query", "end_assigned_at"])
    );
}

async fn admin_call_and_reservation_times_outside_the_time_range_are_400() {
    let t = TestApp::spawn().await;
    t.master("MA_ALICE", "100000").await;
    t.stock(&blr(1), "0", "1").await;
    for at in ["9999-12-31T23:59:59Z", "0000-06-01T00:00:00Z"] {
        let (status, body) = t
            .post("/admin/v1/calls", &op(), json!({"e164": blr(1), "at": at}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{at}: {body}");
        assert_eq!(
            body,
            json!({"error": "invalid_request", "message": format!("invalid input: the call's time {RANGE}")}),
            "{at}"
        );
    }
    assert_eq!(t.admin_number(&blr(1)).await["last_call_at"], json!(null));

    let path = format!("/admin/v1/numbers/{}/reserve", common::enc(&blr(1)));
    let (status, body) = t
        .post(
            &path,
            &op(),
            json!({"account": "MA_ALICE", "expires_at": "9999-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["message"],
        format!("invalid input: a reservation's end {RANGE}")
    );
    assert_eq!(t.admin_number(&blr(1)).await["state"], "available");
}

async fn vobiz_transaction_dates_outside_the_time_range_are_400() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "100").await;
    let path = |q: &str| format!("{}/transactions?{q}", alice.base());
    for (query, name) in [
        ("to_date=9999-12-31", "to_date"),
        (
            "from_date=2026-01-01&to_date=9000-01-01T00:00:00Z",
            "to_date",
        ),
        ("from_date=0000-01-01", "from_date"),
    ] {
        let (status, body) = t.get(&path(query), &alice.auth()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(
            body,
            json!({"error": "invalid request", "message": format!("{name} {RANGE}")}),
            "{query}"
        );
    }
    let (status, body) = t
        .get(
            &path("from_date=2026-01-01&to_date=8999-12-31"),
            &alice.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 1, "the opening balance: {body}");
}

async fn the_cli_refuses_a_call_time_outside_the_time_range() {
    let t = TestApp::spawn().await;
    t.stock(&blr(1), "0", "1").await;
    let run = |at: &'static str| {
        let url = t.database_url().to_owned();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_didpool"))
                .args([
                    "--database-url",
                    &url,
                    "calls",
                    "report",
                    &blr(1),
                    "--at",
                    at,
                ])
                .env("DIDPOOL_LOG", "error")
                .output()
                .await
                .expect("didpool runs")
        }
    };
    let out = run("9999-12-31T23:59:59Z").await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("the call's time {RANGE}")),
        "{stderr}"
    );
    assert_eq!(t.admin_number(&blr(1)).await["last_call_at"], json!(null));

    let out = run("2026-05-30T10:00:00Z").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        t.admin_number(&blr(1)).await["last_call_at"],
        "2026-05-30T10:00:00.000000Z"
    );
}

on_every_backend!(
    a_restarted_sandbox_resumes_its_clock_from_the_database,
    the_sandbox_clock_refuses_times_the_store_cannot_hold,
    diga_assigned_at_filters_outside_the_time_range_are_its_validation_error,
    admin_call_and_reservation_times_outside_the_time_range_are_400,
    vobiz_transaction_dates_outside_the_time_range_are_400,
    the_cli_refuses_a_call_time_outside_the_time_range,
);
