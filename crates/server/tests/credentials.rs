//! The operator's hold on credentials: list an account's (never a secret), rotate its Vobiz auth
//! token with or without a grace period, revoke any credential; a revoked one gets each face's
//! 401; `serve --demo` rotates the tokens it printed last time.

#[macro_use]
mod common;

use axum::http::StatusCode;
use chrono::Duration;
use common::{micros, Acct, TestApp};
use didpool_core::credential::CredentialKind;
use serde_json::{json, Value};

fn op() -> Vec<(&'static str, String)> {
    TestApp::admin_auth()
}

async fn keys(t: &TestApp, account: &str) -> Vec<Value> {
    let (status, body) = t
        .get(&format!("/admin/v1/accounts/{account}/keys"), &op())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["account_id"], account);
    body["keys"].as_array().expect("a keys array").clone()
}

/// Vobiz's `GET /api/v1/auth/me` as `who`: its status and body.
async fn me(t: &TestApp, who: &Acct) -> (StatusCode, Value) {
    t.get("/api/v1/auth/me", &who.auth()).await
}

async fn rotate(t: &TestApp, account: &str, body: Option<Value>) -> (StatusCode, Value) {
    t.call(
        axum::http::Method::POST,
        &format!("/admin/v1/accounts/{account}/auth-token/rotate"),
        &op(),
        body,
    )
    .await
}

async fn an_accounts_credentials_are_listed_without_their_secrets() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    t.advance(Duration::minutes(1));
    let (agni_id, agni_key) = t.key(&alice, CredentialKind::Agni, None).await;
    t.advance(Duration::minutes(1));
    let (diga_id, diga_key) = t
        .key(&alice, CredentialKind::Diga, Some("phones:read"))
        .await;
    t.advance(Duration::minutes(1));
    let (status, _) = t.delete(&format!("/admin/v1/keys/{agni_id}"), &op()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let listed = keys(&t, "MA_ALICE").await;
    let (status, raw) = t.get("/admin/v1/accounts/MA_ALICE/keys", &op()).await;
    assert_eq!(status, StatusCode::OK);
    let text = raw.to_string();
    for secret in [&alice.token, &agni_key, &diga_key] {
        assert!(
            !text.contains(secret.as_str()),
            "a secret is listed: {text}"
        );
    }
    assert!(!text.contains("hash"), "{text}");
    let vobiz_id = listed[0]["id"].clone();
    assert_eq!(
        listed,
        vec![
            json!({"id": vobiz_id, "kind": "vobiz", "scope": null,
                   "created_at": micros(common::start()), "revoked_at": null, "live": true}),
            json!({"id": agni_id, "kind": "agni", "scope": null,
                   "created_at": micros(common::start() + Duration::minutes(1)),
                   "revoked_at": micros(t.now()), "live": false}),
            json!({"id": diga_id, "kind": "diga", "scope": "phones:read",
                   "created_at": micros(common::start() + Duration::minutes(2)),
                   "revoked_at": null, "live": true}),
        ]
    );

    let (status, body) = t.get("/admin/v1/accounts/MA_NOBODY/keys", &op()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = t.get("/admin/v1/accounts/alice/keys", &op()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = t.get("/admin/v1/accounts/MA_ALICE/keys", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn rotating_the_auth_token_without_a_grace_period_cuts_the_old_one_off_at_once() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    let bob = t.master("MA_BOB", "0").await;
    let old_id = keys(&t, "MA_ALICE").await[0]["id"].clone();
    t.advance(Duration::minutes(1));

    let (status, body) = rotate(&t, "MA_ALICE", None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["auth_id"], "MA_ALICE");
    assert_eq!(
        body["revoked"],
        json!([{"id": old_id, "kind": "vobiz", "scope": null, "created_at": micros(common::start()),
                "revoked_at": micros(t.now()), "live": false}])
    );
    let rotated = Acct {
        id: alice.id.clone(),
        token: body["auth_token"].as_str().expect("a token").to_owned(),
    };
    assert_ne!(rotated.token, alice.token);

    let (status, got) = me(&t, &alice).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        got,
        json!({"error": {"code": 401, "message": "Invalid token"}})
    );
    let (status, got) = me(&t, &rotated).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["auth_id"], "MA_ALICE");
    // Another account's token is untouched.
    assert_eq!(me(&t, &bob).await.0, StatusCode::OK);

    let listed = keys(&t, "MA_ALICE").await;
    let live: Vec<_> = listed.iter().map(|k| k["live"].clone()).collect();
    assert_eq!(live, [json!(false), json!(true)]);
    assert_eq!(listed[1]["id"], body["id"]);

    let (status, _) = rotate(&t, "MA_NOBODY", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_rotated_token_keeps_working_through_its_grace_period() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;

    let (status, body) = rotate(&t, "MA_ALICE", Some(json!({"grace_seconds": 600}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let ends = t.now() + Duration::seconds(600);
    assert_eq!(body["revoked"][0]["revoked_at"], micros(ends));
    assert_eq!(body["revoked"][0]["live"], true);
    let rotated = Acct {
        id: alice.id.clone(),
        token: body["auth_token"].as_str().unwrap().to_owned(),
    };

    assert_eq!(me(&t, &alice).await.0, StatusCode::OK);
    assert_eq!(me(&t, &rotated).await.0, StatusCode::OK);
    t.advance(Duration::seconds(599));
    assert_eq!(me(&t, &alice).await.0, StatusCode::OK, "inside the grace");
    t.advance(Duration::seconds(1));
    assert_eq!(me(&t, &alice).await.0, StatusCode::UNAUTHORIZED, "after it");
    assert_eq!(me(&t, &rotated).await.0, StatusCode::OK);

    // A second rotation with no grace ends the first one's new token at once, and one still in
    // a grace period is cut short by a revocation.
    let (_, body) = rotate(&t, "MA_ALICE", Some(json!({"grace_seconds": 3600}))).await;
    let third = Acct {
        id: alice.id.clone(),
        token: body["auth_token"].as_str().unwrap().to_owned(),
    };
    assert_eq!(me(&t, &rotated).await.0, StatusCode::OK);
    let in_grace = body["revoked"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = t.delete(&format!("/admin/v1/keys/{in_grace}"), &op()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(me(&t, &rotated).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&t, &third).await.0, StatusCode::OK);

    for body in [
        json!({"grace_seconds": 2_592_001}),
        json!({"grace_seconds": -1}),
        json!({"grace_seconds": "600"}),
        json!({"grace_seconds": u64::MAX}),
    ] {
        let (status, got) = rotate(&t, "MA_ALICE", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {got}");
        assert_eq!(got["error"], "invalid_request", "{body}");
    }
    assert_eq!(
        me(&t, &third).await.0,
        StatusCode::OK,
        "a refusal rotates nothing"
    );
    let (status, _) = rotate(&t, "MA_ALICE", Some(json!({"grace_seconds": 2_592_000}))).await;
    assert_eq!(status, StatusCode::CREATED, "30 days is the longest grace");
}

async fn a_revoked_credential_gets_the_401_of_each_face() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    let (agni_id, agni) = t.key(&alice, CredentialKind::Agni, None).await;
    let (diga_id, diga) = t.key(&alice, CredentialKind::Diga, None).await;
    let vobiz_id = keys(&t, "MA_ALICE").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let agni_call = |key: String| {
        let t = &t;
        async move { t.get("/api/v1/phone-numbers", &[("X-Api-Key", key)]).await }
    };
    let diga_call = |key: String| {
        let t = &t;
        async move {
            t.get("/v1/phone/", &[("Authorization", format!("Bearer {key}"))])
                .await
        }
    };
    assert_eq!(me(&t, &alice).await.0, StatusCode::OK);
    assert_eq!(agni_call(agni.clone()).await.0, StatusCode::OK);
    assert_eq!(diga_call(diga.clone()).await.0, StatusCode::OK);

    for id in [&vobiz_id, &agni_id, &diga_id] {
        let (status, body) = t.delete(&format!("/admin/v1/keys/{id}"), &op()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    // Each face answers a revoked credential exactly as one it never issued.
    let stranger = Acct {
        id: alice.id.clone(),
        token: "never-issued".into(),
    };
    let (status, body) = me(&t, &alice).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, me(&t, &stranger).await.1);
    let (status, body) = agni_call(agni).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, agni_call("agni_never-issued".into()).await.1);
    let (status, body) = diga_call(diga).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"status": "error", "error_code": "UNAUTHORIZED", "message": "Invalid or missing API key"})
    );
    assert!(keys(&t, "MA_ALICE")
        .await
        .iter()
        .all(|k| k["live"] == false));
}

async fn serve_demo_rotates_the_tokens_it_printed_last_time() {
    let t = TestApp::spawn().await;
    let first = didpool::demo::ensure(&t.engine).await.expect("the demo");
    assert_eq!(first.stocked, 340);
    t.advance(Duration::minutes(1));
    let second = didpool::demo::ensure(&t.engine)
        .await
        .expect("the demo again");
    assert_eq!(second.stocked, 0, "the data is reused");

    for ((id, old), (_, new)) in [(first.master, second.master), (first.admin, second.admin)] {
        let acct = |token: &str| Acct {
            id: id.to_string(),
            token: token.to_owned(),
        };
        assert_eq!(
            me(&t, &acct(&old)).await.0,
            StatusCode::UNAUTHORIZED,
            "{id}"
        );
        assert_eq!(me(&t, &acct(&new)).await.0, StatusCode::OK, "{id}");
        // Each kind the demo issues (the customer gets Agni and Diga keys too): the first run's
        // revoked, one live.
        let listed = keys(&t, id.as_str()).await;
        for kind in ["vobiz", "agni", "diga"] {
            let of_kind: Vec<_> = listed
                .iter()
                .filter(|k| k["kind"] == kind)
                .map(|k| k["live"].clone())
                .collect();
            if of_kind.is_empty() {
                continue;
            }
            assert_eq!(
                of_kind,
                [json!(false), json!(true)],
                "{id}: one live {kind}"
            );
        }
    }
}

/// `didpool key …` on the test's database; the JSON it prints.
async fn cli(t: &TestApp, args: &[&str]) -> Value {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_didpool"))
        .args(["--database-url", t.database_url(), "key"])
        .args(args)
        .env("DIDPOOL_LOG", "error")
        .output()
        .await
        .expect("didpool runs");
    assert!(
        out.status.success(),
        "didpool key {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or(Value::String(text.into_owned()))
}

/// The CLI runs on the machine's clock: only whether a credential works is compared, never when.
async fn the_cli_lists_rotates_and_revokes_credentials() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    let listed = cli(&t, &["list", "--account", "MA_ALICE", "--json"]).await;
    assert_eq!(listed["account_id"], "MA_ALICE");
    let old_id = listed["keys"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed["keys"][0]["live"], true);
    assert!(!listed.to_string().contains(&alice.token));

    let rotated = cli(
        &t,
        &[
            "rotate",
            "--account",
            "MA_ALICE",
            "--grace",
            "10m",
            "--json",
        ],
    )
    .await;
    assert_eq!(rotated["auth_id"], "MA_ALICE");
    assert!(rotated["auth_token"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(rotated["revoked"][0]["id"], old_id.as_str());
    assert_eq!(rotated["revoked"][0]["live"], true, "inside its grace");

    let listed = cli(&t, &["list", "--account", "MA_ALICE", "--json"]).await;
    let state = |v: &Value| -> Vec<(Value, bool)> {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| (k["live"].clone(), k["revoked_at"].is_string()))
            .collect()
    };
    assert_eq!(state(&listed), [(json!(true), true), (json!(true), false)]);

    let out = cli(&t, &["revoke", &old_id]).await;
    assert_eq!(out, Value::String(format!("revoked {old_id}\n")));
    let listed = cli(&t, &["list", "--account", "MA_ALICE", "--json"]).await;
    assert_eq!(state(&listed), [(json!(false), true), (json!(true), false)]);
}

on_every_backend!(
    an_accounts_credentials_are_listed_without_their_secrets,
    rotating_the_auth_token_without_a_grace_period_cuts_the_old_one_off_at_once,
    a_rotated_token_keeps_working_through_its_grace_period,
    a_revoked_credential_gets_the_401_of_each_face,
    serve_demo_rotates_the_tokens_it_printed_last_time,
    the_cli_lists_rotates_and_revokes_credentials,
);
