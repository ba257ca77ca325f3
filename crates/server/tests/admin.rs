//! The operator's admin API under `/admin/v1`.

#[macro_use]
mod common;

use axum::http::{Method, StatusCode};
use chrono::Duration;
use common::{blr, e164s, enc, micros, Acct, Snap, TestApp, ADMIN_TOKEN};
use didpool_core::credential::CredentialKind;
use serde_json::{json, Value};

fn op() -> Vec<(&'static str, String)> {
    TestApp::admin_auth()
}

/// Every admin route the operator uses, with a body where it takes one.
fn routes() -> Vec<(Method, String, Option<Value>)> {
    let n = enc(&blr(1));
    vec![
        (
            Method::POST,
            "/admin/v1/accounts".into(),
            Some(json!({"name": "X"})),
        ),
        (Method::GET, "/admin/v1/accounts/MA_ALICE".into(), None),
        (
            Method::POST,
            "/admin/v1/accounts/MA_ALICE/top-up".into(),
            Some(json!({"amount": 1})),
        ),
        (
            Method::POST,
            "/admin/v1/accounts/MA_ALICE/keys".into(),
            Some(json!({"kind": "agni"})),
        ),
        (
            Method::DELETE,
            "/admin/v1/keys/00000000-0000-4000-8000-000000000000".into(),
            None,
        ),
        (
            Method::POST,
            "/admin/v1/calls".into(),
            Some(json!({"e164": blr(1)})),
        ),
        (Method::GET, format!("/admin/v1/numbers/{n}"), None),
        (Method::GET, format!("/admin/v1/numbers/{n}/audit"), None),
    ]
}

async fn the_admin_api_requires_the_operator_bearer_token() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "100").await;
    t.stock(&blr(1), "0", "1").await;
    let refused = json!({"error": "unauthorized", "message": "invalid operator token"});

    let attempts: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no header", vec![]),
        (
            "a wrong token",
            vec![("Authorization", "Bearer wrong".into())],
        ),
        (
            "the token without Bearer",
            vec![("Authorization", ADMIN_TOKEN.into())],
        ),
        (
            "the token in lower-case bearer",
            vec![("Authorization", format!("bearer-{ADMIN_TOKEN}"))],
        ),
        (
            "a longer token",
            vec![("Authorization", format!("Bearer {ADMIN_TOKEN}x"))],
        ),
        ("a customer's Vobiz credentials", alice.auth()),
        (
            "a customer's token as Bearer",
            vec![("Authorization", format!("Bearer {}", alice.token))],
        ),
    ];
    for (what, headers) in &attempts {
        for (method, path, body) in routes() {
            let (status, got) = t.call(method.clone(), &path, headers, body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {method} {path}");
            assert_eq!(got, refused, "{what}: {method} {path}");
        }
        let (status, _) = t
            .raw(
                Method::POST,
                "/admin/v1/inventory",
                headers,
                Some("text/csv"),
                format!("{},IN,,0,1,INR\n", blr(2)),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: inventory");
    }
    // Nothing happened: no top-up, no call, no stock.
    assert_eq!(t.balance(&alice).await, 100.0);
    assert_eq!(t.admin_number(&blr(1)).await["last_call_at"], Value::Null);
    assert_eq!(t.inventory(&alice).await, [blr(1)]);

    let (status, _) = t.get("/admin/v1/accounts/MA_ALICE", &op()).await;
    assert_eq!(status, StatusCode::OK);
}

async fn without_a_configured_token_the_admin_api_refuses_everyone() {
    let t = TestApp::spawn_with(None).await;
    let disabled = json!({"error": "unauthorized", "message": "the admin API is disabled: set DIDPOOL_ADMIN_TOKEN"});
    for headers in [vec![], op(), vec![("Authorization", "Bearer ".to_owned())]] {
        for (method, path, body) in routes() {
            let (status, got) = t.call(method.clone(), &path, &headers, body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(got, disabled, "{method} {path}");
        }
    }
}

async fn creating_an_account_is_201_with_a_token_that_works_on_the_vobiz_face() {
    let t = TestApp::spawn().await;
    let (status, body) = t
        .post(
            "/admin/v1/accounts",
            &op(),
            json!({"name": "Acme Corp", "id": "MA_ACME", "role": "ADMIN", "balance": "250.50", "currency": "inr"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["auth_id"], "MA_ACME");
    let token = body["auth_token"].as_str().unwrap().to_owned();
    assert!(!token.is_empty());
    let account = &body["account"];
    assert_eq!(account["auth_id"], "MA_ACME");
    assert_eq!(account["parent_auth_id"], Value::Null);
    assert_eq!(account["name"], "Acme Corp");
    assert_eq!(account["role"], "admin");
    assert_eq!(account["currency"], "INR");
    assert_eq!(account["balance"].as_f64(), Some(250.5));
    assert_eq!(account["enabled"], true);
    assert_eq!(account["created_at"], micros(t.now()));

    let acme = Acct {
        id: "MA_ACME".into(),
        token,
    };
    let (status, me) = t.get("/api/v1/auth/me", &acme.auth()).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["auth_id"], "MA_ACME");
    assert_eq!(me["role"], "admin");
    assert_eq!(t.balance(&acme).await, 250.5);

    let (status, got) = t.get("/admin/v1/accounts/MA_ACME", &op()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&got, account);

    // Defaults: a customer with nothing, an id generated.
    let (status, body) = t
        .post("/admin/v1/accounts", &op(), json!({"name": "Plain"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["auth_id"].as_str().unwrap().starts_with("MA_"));
    assert_eq!(body["account"]["role"], "customer");
    assert_eq!(body["account"]["currency"], "INR");
    assert_eq!(body["account"]["balance"].as_f64(), Some(0.0));
}

async fn account_creation_refuses_bad_input_and_duplicate_ids() {
    let t = TestApp::spawn().await;
    t.master("MA_TAKEN", "0").await;
    for (body, status) in [
        (json!({}), StatusCode::BAD_REQUEST),
        (json!({"name": ""}), StatusCode::BAD_REQUEST),
        (
            json!({"name": "X", "role": "root"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "X", "id": "SA_CHILD"}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"name": "X", "id": "alice"}), StatusCode::BAD_REQUEST),
        (
            json!({"name": "X", "balance": "-5"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "X", "balance": "lots"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "X", "balance": 1.23456}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "X", "currency": "rupees"}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"name": "X", "id": "MA_TAKEN"}), StatusCode::CONFLICT),
    ] {
        let (got, answer) = t.post("/admin/v1/accounts", &op(), body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        let error = if status == StatusCode::CONFLICT {
            "conflict"
        } else {
            "invalid_request"
        };
        assert_eq!(answer["error"], error, "{body}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
    let (status, body) = t
        .raw(
            Method::POST,
            "/admin/v1/accounts",
            &op(),
            Some("application/json"),
            "{",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
}

async fn an_unknown_or_malformed_account_is_404_or_400() {
    let t = TestApp::spawn().await;
    let (status, body) = t.get("/admin/v1/accounts/MA_NOBODY", &op()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": "not_found", "message": "account not found"})
    );
    let (status, body) = t.get("/admin/v1/accounts/nobody", &op()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
}

async fn a_top_up_credits_the_balance_and_the_ledger() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "100").await;
    let sub = t.sub(&alice, "SA_CHILD").await;
    t.advance(Duration::minutes(1));

    let (status, body) = t
        .post(
            "/admin/v1/accounts/MA_ALICE/top-up",
            &op(),
            json!({"amount": "50.25", "description": "wire transfer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["auth_id"], "MA_ALICE");
    assert_eq!(body["balance"].as_f64(), Some(150.25));
    assert_eq!(body["updated_at"], micros(t.now()));
    assert_eq!(t.balance(&alice).await, 150.25);

    let (status, body) = t
        .post(
            "/admin/v1/accounts/MA_ALICE/top-up",
            &op(),
            json!({"amount": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(t.balance(&alice).await, 160.25);

    let (_, tx) = t
        .get(
            &format!("{}/transactions?type=credit", alice.base()),
            &alice.auth(),
        )
        .await;
    let entries: Vec<_> = tx["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["reference_type"].clone(),
                e["amount"].clone(),
                e["description"].clone(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (json!("payment"), json!(10.0), json!("top-up")),
            (json!("payment"), json!(50.25), json!("wire transfer")),
            (json!("payment"), json!(100.0), json!("opening balance")),
        ]
    );

    for (path, body, status) in [
        ("MA_ALICE", json!({"amount": 0}), StatusCode::BAD_REQUEST),
        ("MA_ALICE", json!({"amount": -5}), StatusCode::BAD_REQUEST),
        (
            "MA_ALICE",
            json!({"amount": "ten"}),
            StatusCode::BAD_REQUEST,
        ),
        ("MA_ALICE", json!({"amount": true}), StatusCode::BAD_REQUEST),
        ("MA_ALICE", json!({}), StatusCode::BAD_REQUEST),
        ("MA_NOBODY", json!({"amount": 5}), StatusCode::NOT_FOUND),
        ("SA_CHILD", json!({"amount": 5}), StatusCode::NOT_FOUND),
    ] {
        let (got, answer) = t
            .post(
                &format!("/admin/v1/accounts/{path}/top-up"),
                &op(),
                body.clone(),
            )
            .await;
        assert_eq!(got, status, "{path} {body}: {answer}");
    }
    assert_eq!(t.balance(&alice).await, 160.25);
    drop(sub);
}

async fn api_keys_are_issued_once_and_revoked() {
    let t = TestApp::spawn().await;
    t.master("MA_ALICE", "0").await;

    let (status, body) = t
        .post(
            "/admin/v1/accounts/MA_ALICE/keys",
            &op(),
            json!({"kind": "agni", "scope": "numbers"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let key = body["key"].as_str().unwrap().to_owned();
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("agni_"), "{key}");
    assert_eq!(body["kind"], "agni");
    assert_eq!(body["account_id"], "MA_ALICE");
    let found = t
        .engine
        .authenticate(CredentialKind::Agni, &key, None)
        .await
        .unwrap();
    assert_eq!(
        found.map(|(a, _)| a.id.to_string()).as_deref(),
        Some("MA_ALICE")
    );
    // A key of one kind opens nothing of another.
    assert!(t
        .engine
        .authenticate(CredentialKind::Diga, &key, None)
        .await
        .unwrap()
        .is_none());

    let (status, body) = t
        .post(
            "/admin/v1/accounts/MA_ALICE/keys",
            &op(),
            json!({"kind": "diga"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(body["key"].as_str().unwrap().starts_with("diga_"));

    let (status, body) = t.delete(&format!("/admin/v1/keys/{id}"), &op()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    assert!(t
        .engine
        .authenticate(CredentialKind::Agni, &key, None)
        .await
        .unwrap()
        .is_none());
    // Revoking again is harmless.
    let (status, _) = t.delete(&format!("/admin/v1/keys/{id}"), &op()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    for (path, status) in [
        (
            "/admin/v1/keys/00000000-0000-4000-8000-000000000000",
            StatusCode::NOT_FOUND,
        ),
        ("/admin/v1/keys/not-a-uuid", StatusCode::NOT_FOUND),
    ] {
        let (got, body) = t.delete(path, &op()).await;
        assert_eq!(got, status, "{path}");
        assert_eq!(
            body,
            json!({"error": "not_found", "message": "credential not found"}),
            "{path}"
        );
    }
    for (account, kind, status) in [
        ("MA_ALICE", "vobiz", StatusCode::BAD_REQUEST),
        ("MA_ALICE", "telepathy", StatusCode::BAD_REQUEST),
        ("MA_NOBODY", "agni", StatusCode::NOT_FOUND),
    ] {
        let (got, body) = t
            .post(
                &format!("/admin/v1/accounts/{account}/keys"),
                &op(),
                json!({"kind": kind}),
            )
            .await;
        assert_eq!(got, status, "{account} {kind}: {body}");
    }
}

const CSV: &str = "\
e164,country,region,setup_fee,monthly_fee,currency,capabilities
+918041100001,IN,Karnataka,100,300,INR,voice
918041100002,in,,0,1.5,inr,voice;sms
# the next rows are wrong, each in its own way
+1234567890,US,,0,1,USD
+918041100003,US,,0,1,INR
+918041100004,IN,Karnataka,abc,1,INR

+14155552671,US,California,0,1,INR
+918041100005,IN
";

async fn import(t: &TestApp, csv: &str) -> Value {
    let (status, body) = t
        .raw(
            Method::POST,
            "/admin/v1/inventory",
            &op(),
            Some("text/csv"),
            csv.to_owned(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn an_inventory_import_reports_each_bad_row_and_loads_the_good_ones() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;

    let report = import(&t, CSV).await;
    assert_eq!(report["imported"], 3);
    assert_eq!(report["skipped"], 0);
    insta::assert_json_snapshot!(
        "an_inventory_import_reports_each_bad_row_and_loads_the_good_ones",
        Snap(&report)
    );
    let rows: Vec<_> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].clone(), e["e164"].clone()))
        .collect();
    assert_eq!(
        rows,
        [
            (json!(5), json!("+1234567890")),
            (json!(6), json!("+918041100003")),
            (json!(7), json!("+918041100004")),
            (json!(10), json!("+918041100005")),
        ],
        "rows are the file's lines"
    );

    assert_eq!(
        t.inventory(&alice).await,
        ["+14155552671", &blr(1), &blr(2)]
    );
    let n = t.admin_number(&blr(2)).await;
    assert_eq!(
        n["capabilities"],
        json!({"voice": true, "sms": true, "mms": false, "fax": false})
    );
    assert_eq!(n["monthly_fee"].as_f64(), Some(1.5));
    assert_eq!(n["region"], "", "a documented string not known is empty");
}

async fn importing_the_same_inventory_twice_loads_nothing_twice() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    let first = import(&t, CSV).await;
    // A number bought in between is not put back on the shelf either.
    t.buy(&alice, &blr(1)).await;

    let second = import(&t, CSV).await;
    assert_eq!(second["imported"], 0);
    assert_eq!(second["skipped"], 3);
    assert_eq!(second["errors"], first["errors"]);
    assert_eq!(t.inventory(&alice).await, ["+14155552671", &blr(2)]);
    assert_eq!(t.admin_number(&blr(1)).await["account_id"], "MA_ALICE");
    let audit = t.audit(&blr(2)).await;
    assert_eq!(audit["events"].as_array().unwrap().len(), 1, "stocked once");
}

async fn an_inventory_import_skips_a_header_after_leading_comments() {
    let t = TestApp::spawn().await;
    let csv = format!(
        "# exported 2026-06-01\n\ne164,country,region,setup_fee,monthly_fee,currency\n{},IN,,0,1,INR\n",
        blr(1)
    );
    assert_eq!(
        import(&t, &csv).await,
        json!({"imported": 1, "skipped": 0, "errors": []})
    );
}

async fn an_inventory_import_takes_csv_only() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    let line = format!("{},IN,,0,1,INR\n", blr(1));
    for content_type in [Some("application/json"), None] {
        let (status, body) = t
            .raw(
                Method::POST,
                "/admin/v1/inventory",
                &op(),
                content_type,
                line.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{content_type:?}");
        assert_eq!(body["error"], "invalid_request");
    }
    let (status, body) = t
        .raw(
            Method::POST,
            "/admin/v1/inventory",
            &op(),
            Some("text/plain; charset=utf-8"),
            line,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"imported": 1, "skipped": 0, "errors": []}));
    assert_eq!(t.inventory(&alice).await, [blr(1)]);
}

/// Found by schemathesis on PostgreSQL, which cannot store a NUL in text: these were 500s there.
async fn free_text_with_control_characters_is_refused() {
    let t = TestApp::spawn().await;
    t.master("MA_ALICE", "10").await;
    for (path, body) in [
        (
            "/admin/v1/accounts/MA_ALICE/keys",
            json!({"kind": "diga", "scope": "a\u{0}b"}),
        ),
        (
            "/admin/v1/accounts/MA_ALICE/top-up",
            json!({"amount": 1, "description": "wire\u{0}"}),
        ),
    ] {
        let (status, body) = t.post(path, &op(), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"], "invalid_request", "{path}");
    }
    let report = import(&t, &format!("{},IN,Kar\u{0}nataka,0,1,INR\n", blr(1))).await;
    assert_eq!(
        report["errors"][0]["error"],
        "region cannot contain control characters"
    );
}

/// A checkout the account cannot pay was a 404 "not_found", and so was one of a number nobody
/// reserved; the document promised 409.
async fn a_checkout_answers_402_when_unpaid_and_409_when_not_reserved() {
    let t = TestApp::spawn().await;
    t.master("MA_POOR", "0").await;
    t.stock(&blr(1), "10", "1").await;
    t.stock(&blr(2), "10", "1").await;
    let n = enc(&blr(1));
    let (status, body) = t
        .post(
            &format!("/admin/v1/numbers/{n}/reserve"),
            &op(),
            json!({"account": "MA_POOR"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "reserved");
    let checkout = |e164: String| format!("/admin/v1/numbers/{}/checkout", enc(&e164));
    let (status, body) = t.post(&checkout(blr(1)), &op(), json!({})).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error"], "insufficient_balance");
    assert_eq!(t.admin_number(&blr(1)).await["state"], "reserved");
    let (status, body) = t.post(&checkout(blr(2)), &op(), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body,
        json!({"error": "conflict", "message": "number is not reserved"})
    );
}

/// Found by schemathesis: an amount beyond the ledger's range (ten-thousandths in an i64) made
/// the store fail, a 500. Now a 400, and nothing is written.
async fn amounts_beyond_the_ledgers_range_are_refused() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "900000000000000").await;
    let (status, body) = t
        .post(
            "/admin/v1/accounts",
            &op(),
            json!({"name": "Big", "balance": 1e17}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["message"], "balance is at most 922337203685477.5807");
    for amount in [json!(2.2e16), json!(100000000000000u64)] {
        let (status, body) = t
            .post(
                "/admin/v1/accounts/MA_ALICE/top-up",
                &op(),
                json!({ "amount": amount }),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{amount}: {body}");
        assert_eq!(body["error"], "invalid_request");
    }
    assert_eq!(t.balance(&alice).await, 900000000000000.0);
    let report = import(&t, &format!("{},IN,,100000000000000000,1,INR\n", blr(1))).await;
    assert_eq!(report["imported"], 0);
    assert_eq!(
        report["errors"][0]["error"],
        "setup_fee: an amount is at most 922337203685477.5807"
    );
}

/// Found by hand while documenting the 413: axum's own rejections are plain text, and a JSON
/// body over the limit was a 400.
async fn an_oversized_or_undecodable_body_is_the_documented_json_error() {
    let t = TestApp::spawn().await;
    let big = "a".repeat(didpool::app::BODY_LIMIT + 1);
    for (path, content_type) in [
        ("/admin/v1/inventory", "text/csv"),
        ("/admin/v1/accounts", "application/json"),
    ] {
        let (status, body) = t
            .raw(Method::POST, path, &op(), Some(content_type), big.clone())
            .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(
            body,
            json!({"error": "payload_too_large", "message": "the body is over 65536 bytes"}),
            "{path}"
        );
    }
    let (status, body) = t
        .raw(
            Method::POST,
            "/admin/v1/inventory",
            &op(),
            Some("text/csv"),
            vec![0xff, 0xfe],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request", "{body}");
}

async fn a_reported_call_sets_last_call_at_which_only_moves_forward() {
    let t = TestApp::spawn().await;
    t.stock(&blr(1), "0", "1").await;
    let at = t.now() - Duration::hours(3);

    let (status, body) = t
        .post(
            "/admin/v1/calls",
            &op(),
            json!({"e164": blr(1), "at": "2026-06-01T07:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"e164": blr(1), "last_call_at": micros(at)}));

    // An older call reported late does not move it back.
    let (_, body) = t
        .post(
            "/admin/v1/calls",
            &op(),
            json!({"e164": blr(1), "at": "2026-05-01T00:00:00+05:30"}),
        )
        .await;
    assert_eq!(body["last_call_at"], micros(at));

    // Without `at`, the call is now.
    t.advance(Duration::minutes(5));
    let (_, body) = t
        .post("/admin/v1/calls", &op(), json!({"e164": blr(1)}))
        .await;
    assert_eq!(body["last_call_at"], micros(t.now()));
    assert_eq!(
        t.admin_number(&blr(1)).await["last_call_at"],
        micros(t.now())
    );
    // A call is not a state change: the trail only shows the stocking.
    assert_eq!(
        t.audit(&blr(1)).await["events"].as_array().unwrap().len(),
        1
    );

    let (status, body) = t
        .post("/admin/v1/calls", &op(), json!({"e164": blr(2)}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": "not_found", "message": "number not found"})
    );
    for bad in [
        json!({"e164": "+1234567890"}),
        json!({"e164": blr(1), "at": "yesterday"}),
        json!({}),
    ] {
        let (status, body) = t.post("/admin/v1/calls", &op(), bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"], "invalid_request", "{bad}");
    }
}

async fn a_number_is_looked_up_by_its_e164_in_any_spelling() {
    let t = TestApp::spawn().await;
    t.stock(&blr(1), "0", "1").await;
    for spelling in [enc(&blr(1)), blr(1), blr(1)[1..].to_owned()] {
        let (status, body) = t.get(&format!("/admin/v1/numbers/{spelling}"), &op()).await;
        assert_eq!(status, StatusCode::OK, "{spelling}");
        assert_eq!(body["e164"], blr(1));
        assert_eq!(body["state"], "available");
    }
    let (status, body) = t
        .get(&format!("/admin/v1/numbers/{}", enc(&blr(2))), &op())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": "not_found", "message": "number not found"})
    );
    let (status, _) = t
        .get(&format!("/admin/v1/numbers/{}/audit", enc(&blr(2))), &op())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = t.get("/admin/v1/numbers/12345", &op()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
}

async fn the_audit_trail_lists_a_numbers_events_in_order() {
    let t = TestApp::spawn().await;
    let parent = t.admin_master("MA_PARENT", "1000").await;
    let sub = t.sub(&parent, "SA_CHILD").await;
    t.stock(&blr(1), "100", "300").await;
    let trunk = t.trunk(&parent, "Main").await;
    let n = enc(&blr(1));
    let a = parent.base();
    let with_id = |id: &str| {
        let mut h = parent.auth();
        h.push(("x-request-id", id.to_owned()));
        h
    };
    let steps: Vec<(&str, Method, String, Option<Value>)> = vec![
        (
            "req-purchase",
            Method::POST,
            format!("{a}/numbers/purchase-from-inventory"),
            Some(json!({"e164": blr(1)})),
        ),
        (
            "req-assign-trunk",
            Method::POST,
            format!("{a}/numbers/{n}/assign"),
            Some(json!({"trunk_group_id": trunk})),
        ),
        (
            "req-unassign-trunk",
            Method::DELETE,
            format!("{a}/numbers/{n}/assign"),
            None,
        ),
        (
            "req-assign-sub",
            Method::POST,
            format!("{a}/numbers/{n}/assign-subaccount"),
            Some(json!({"sub_account_id": sub.id})),
        ),
        (
            "req-unassign-sub",
            Method::DELETE,
            format!("{a}/numbers/{n}/assign-subaccount"),
            None,
        ),
        (
            "req-assign-sub-again",
            Method::POST,
            format!("{a}/numbers/{n}/assign-subaccount"),
            Some(json!({"sub_account_id": sub.id})),
        ),
        (
            "req-force",
            Method::DELETE,
            format!("{a}/numbers/{n}/assign-subaccount?force=true"),
            None,
        ),
        (
            "req-release",
            Method::DELETE,
            format!("{a}/numbers/{n}"),
            None,
        ),
    ];
    for (id, method, path, body) in steps {
        t.advance(Duration::minutes(1));
        if id == "req-force" {
            t.report_call(&blr(1), t.now()).await;
        }
        let (status, got) = t.call(method, &path, &with_id(id), body).await;
        assert!(status.is_success(), "{id}: {status} {got}");
    }

    let audit = t.audit(&blr(1)).await;
    let trail: Vec<String> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} by {} ({})",
                e["action"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["request_id"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        trail,
        [
            "stocked by operator (-)",
            "purchased by MA_PARENT (req-purchase)",
            "assigned_to_trunk by MA_PARENT (req-assign-trunk)",
            "unassigned_from_trunk by MA_PARENT (req-unassign-trunk)",
            "assigned_to_sub_account by MA_PARENT (req-assign-sub)",
            "unassigned_from_sub_account by MA_PARENT (req-unassign-sub)",
            "assigned_to_sub_account by MA_PARENT (req-assign-sub-again)",
            "force_unassigned_from_sub_account by MA_PARENT (req-force)",
            "released by MA_PARENT (req-release)",
        ]
    );
    insta::assert_json_snapshot!("the_audit_trail_lists_a_numbers_events_in_order", Snap(&audit), {
        ".number_id" => "[uuid]",
        ".events[].id" => "[uuid]",
        ".events[].number_id" => "[uuid]",
        ".did_assignment_audit[].id" => "[uuid]",
    });
    // After the release the parent may no longer see the number as its own.
    assert_eq!(e164s(&t.owned(&parent).await), Vec::<String>::new());
}

on_every_backend!(
    the_admin_api_requires_the_operator_bearer_token,
    without_a_configured_token_the_admin_api_refuses_everyone,
    creating_an_account_is_201_with_a_token_that_works_on_the_vobiz_face,
    account_creation_refuses_bad_input_and_duplicate_ids,
    an_unknown_or_malformed_account_is_404_or_400,
    a_top_up_credits_the_balance_and_the_ledger,
    api_keys_are_issued_once_and_revoked,
    an_inventory_import_reports_each_bad_row_and_loads_the_good_ones,
    importing_the_same_inventory_twice_loads_nothing_twice,
    an_inventory_import_skips_a_header_after_leading_comments,
    an_inventory_import_takes_csv_only,
    an_oversized_or_undecodable_body_is_the_documented_json_error,
    amounts_beyond_the_ledgers_range_are_refused,
    a_checkout_answers_402_when_unpaid_and_409_when_not_reserved,
    free_text_with_control_characters_is_refused,
    a_reported_call_sets_last_call_at_which_only_moves_forward,
    a_number_is_looked_up_by_its_e164_in_any_spelling,
    the_audit_trail_lists_a_numbers_events_in_order,
);
