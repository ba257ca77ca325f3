//! The Vobiz face: sub-account CRUD, `auth/me`, balance and transactions.

#[macro_use]
mod common;

use axum::http::StatusCode;
use chrono::Duration;
use common::{blr, enc, micros, Acct, Snap, TestApp};
use serde_json::{json, Value};

fn subs(parent: &Acct) -> String {
    format!("/api/v1/accounts/{}/sub-accounts/", parent.id)
}

fn sub_path(parent: &Acct, sub: &str) -> String {
    format!("/api/v1/accounts/{}/sub-accounts/{sub}", parent.id)
}

/// Creates a sub-account through the API; returns its credentials.
async fn create_sub(t: &TestApp, parent: &Acct, body: Value) -> Acct {
    let (status, created) = t.post(&subs(parent), &parent.auth(), body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    Acct {
        id: created["auth_credentials"]["auth_id"]
            .as_str()
            .unwrap()
            .to_owned(),
        token: created["auth_credentials"]["auth_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

fn names(list: &Value) -> Vec<String> {
    list["sub_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

// ---- Sub-accounts ----------------------------------------------------------------------------

async fn creating_a_sub_account_is_201_with_credentials_that_authenticate_as_it() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "0").await;

    // What the Python SDK sends.
    let (status, body) = t
        .post(
            &subs(&parent),
            &parent.auth(),
            json!({
                "name": "Support Team", "email": "support@example.com", "rate_limit": 500,
                "permissions": {"calls": true, "cdr": true}, "password": "s3cret",
                "enabled": true, "phone": "+919876543210", "description": "Support-facing voice workload",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sa = &body["sub_account"];
    let auth_id = body["auth_credentials"]["auth_id"].as_str().unwrap();
    let token = body["auth_credentials"]["auth_token"].as_str().unwrap();
    assert!(auth_id.starts_with("SA_"), "{auth_id}");
    assert_eq!(sa["auth_id"], auth_id);
    assert_eq!(sa["auth_token"], token, "the token is shown in clear once");
    assert_ne!(token, "<redacted>");
    assert_eq!(sa["parent_auth_id"], "MA_PARENT");
    assert_eq!(
        sa["resource_uri"],
        format!("/v1/Account/MA_PARENT/Subaccount/{auth_id}/")
    );
    insta::assert_json_snapshot!("creating_a_sub_account_is_201_with_credentials_that_authenticate_as_it", Snap(&body), {
        ".sub_account.id" => "[numeric id]",
        ".sub_account.auth_id" => "[SA_ auth id]",
        ".sub_account.auth_token" => "[token]",
        ".sub_account.api_id" => "[uuid]",
        ".sub_account.resource_uri" => "[resource uri]",
        ".auth_credentials.auth_id" => "[SA_ auth id]",
        ".auth_credentials.auth_token" => "[token]",
        ".tokens.access_token" => "[jwt]",
        ".tokens.refresh_token" => "[jwt]",
    });

    let sub = Acct {
        id: auth_id.into(),
        token: token.into(),
    };
    let (status, me) = t.get("/api/v1/auth/me", &sub.auth()).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["auth_id"], auth_id);
    assert_eq!(me["account_type"], "sub_account");
    assert_eq!(me["role"], "customer");
}

async fn a_sub_account_needs_only_a_name() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "0").await;
    let (status, body) = t
        .post(&subs(&parent), &parent.auth(), json!({"name": "Bare"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["sub_account"]["rate_limit"], 1000);
    assert_eq!(body["sub_account"]["email"], Value::Null);
    assert_eq!(body["sub_account"]["enabled"], true);

    for bad in [
        json!({}),
        json!({"email": "a@example.com"}),
        json!({"name": "  "}),
    ] {
        let (status, body) = t.post(&subs(&parent), &parent.auth(), bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"], "invalid request", "{bad}");
    }
    let (status, body) = t.post(&subs(&parent), &parent.auth(), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid request", "message": "name is required"})
    );
}

async fn a_sub_account_cannot_have_sub_accounts_of_its_own() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "0").await;
    let sub = t.sub(&parent, "SA_CHILD").await;
    let (status, body) = t
        .post(
            &format!("/api/v1/accounts/{}/sub-accounts/", sub.id),
            &sub.auth(),
            json!({"name": "Grandchild"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": "not_found", "message": "auth_id is not a main account you own"})
    );
}

async fn sub_accounts_list_newest_first_with_redacted_tokens() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "0").await;
    let other = t.master("MA_OTHER", "0").await;
    t.sub(&other, "SA_NOTMINE").await;
    for name in ["first", "second", "third"] {
        create_sub(&t, &parent, json!({"name": name})).await;
        t.advance(Duration::seconds(1));
    }
    create_sub(&t, &parent, json!({"name": "disabled", "enabled": false})).await;

    let (status, body) = t.get(&subs(&parent), &parent.auth()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), ["disabled", "third", "second", "first"]);
    assert_eq!(
        (
            body["total"].clone(),
            body["page"].clone(),
            body["size"].clone()
        ),
        (json!(4), json!(1), json!(25))
    );
    for s in body["sub_accounts"].as_array().unwrap() {
        assert_eq!(s["auth_token"], "<redacted>");
        assert_eq!(s["parent_auth_id"], "MA_PARENT");
    }

    let (_, body) = t
        .get(&format!("{}?page=2&size=3", subs(&parent)), &parent.auth())
        .await;
    assert_eq!(names(&body), ["first"]);
    assert_eq!(
        (
            body["total"].clone(),
            body["page"].clone(),
            body["size"].clone()
        ),
        (json!(4), json!(2), json!(3))
    );

    // The Python SDK's `active_only=True`.
    let (_, body) = t
        .get(
            &format!("{}?page=1&size=25&active_only=True", subs(&parent)),
            &parent.auth(),
        )
        .await;
    assert_eq!(names(&body), ["third", "second", "first"]);
    assert_eq!(body["total"], 3);
    let (_, body) = t
        .get(
            &format!("{}?active_only=False", subs(&parent)),
            &parent.auth(),
        )
        .await;
    assert_eq!(body["total"], 4);

    // Without the trailing slash too.
    let (status, body) = t
        .get(
            &format!("/api/v1/accounts/{}/sub-accounts", parent.id),
            &parent.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 4);
}

async fn a_sub_account_is_retrieved_with_its_token_redacted() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "0").await;
    let sub = create_sub(
        &t,
        &parent,
        json!({"name": "Support", "email": "s@example.com"}),
    )
    .await;

    let (status, body) = t.get(&sub_path(&parent, &sub.id), &parent.auth()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["auth_id"], sub.id.as_str());
    assert_eq!(body["auth_token"], "<redacted>");
    assert_eq!(body["name"], "Support");
    assert_eq!(body["email"], "s@example.com");
    assert_eq!(body["account"], "/v1/Account/MA_PARENT/");
    let (status, again) = t
        .get(&format!("{}/", sub_path(&parent, &sub.id)), &parent.auth())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, body);
}

async fn updating_a_sub_account_changes_only_the_fields_sent() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "0").await;
    let sub = create_sub(
        &t,
        &parent,
        json!({"name": "Support", "email": "s@example.com", "description": "voice", "rate_limit": 10}),
    )
    .await;
    let (_, before) = t.get(&sub_path(&parent, &sub.id), &parent.auth()).await;
    t.advance(Duration::minutes(10));

    let (status, body) = t
        .put(
            &sub_path(&parent, &sub.id),
            &parent.auth(),
            json!({"name": "Renamed", "email": null, "rate_limit": 20, "unknown_field": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Renamed");
    assert_eq!(body["email"], Value::Null);
    assert_eq!(body["rate_limit"], 20);
    assert_eq!(body["description"], "voice");
    assert_eq!(body["enabled"], true);
    assert_eq!(body["auth_token"], "<redacted>");
    assert_eq!(body["updated_at"], micros(t.now()));
    assert_eq!(body["modified"], micros(t.now()));
    assert_eq!(body["created_at"], before["created_at"]);

    let (status, body) = t
        .put(
            &sub_path(&parent, &sub.id),
            &parent.auth(),
            json!({"rate_limit": -1}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, now) = t.get(&sub_path(&parent, &sub.id), &parent.auth()).await;
    assert_eq!(now["rate_limit"], 20);
}

async fn a_disabled_sub_account_is_refused_but_keeps_its_numbers() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "1000").await;
    let sub = create_sub(&t, &parent, json!({"name": "Support"})).await;
    t.stock(&blr(1), "0", "1").await;
    t.buy(&sub, &blr(1)).await;

    let (status, body) = t
        .put(
            &sub_path(&parent, &sub.id),
            &parent.auth(),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["enabled"], false);
    assert_eq!(body["is_active"], false);

    let (status, _) = t.get("/api/v1/auth/me", &sub.auth()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.admin_number(&blr(1)).await["account_id"], sub.id.as_str());

    let (status, _) = t
        .put(
            &sub_path(&parent, &sub.id),
            &parent.auth(),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = t.get("/api/v1/auth/me", &sub.auth()).await;
    assert_eq!(status, StatusCode::OK);
}

async fn another_masters_sub_account_is_404() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    let bob = t.master("MA_BOB", "0").await;
    let bobs = t.sub(&bob, "SA_BOBS").await;
    let not_found = json!({"error": "not_found", "message": "sub-account not found"});

    for id in [bobs.id.as_str(), "SA_NOBODY", "MA_BOB", "garbage"] {
        let path = sub_path(&alice, id);
        let (status, body) = t.get(&path, &alice.auth()).await;
        assert_eq!(
            (status, &body),
            (StatusCode::NOT_FOUND, &not_found),
            "GET {id}"
        );
        let (status, body) = t.put(&path, &alice.auth(), json!({"name": "Mine"})).await;
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
    let (status, me) = t.get("/api/v1/auth/me", &bobs.auth()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["name"], "Account SA_BOBS");
}

async fn a_sub_account_holding_numbers_cannot_be_deleted_until_they_are_taken_back() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "1000").await;
    let sub = create_sub(&t, &parent, json!({"name": "Support"})).await;
    t.stock(&blr(1), "0", "1").await;
    t.buy(&parent, &blr(1)).await;
    let (status, _) = t
        .post(
            &format!(
                "{}/numbers/{}/assign-subaccount",
                parent.base(),
                enc(&blr(1))
            ),
            &parent.auth(),
            json!({"sub_account_id": sub.id}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, body) = t.delete(&sub_path(&parent, &sub.id), &parent.auth()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({"error": "conflict", "message": "sub-account still holds numbers; unassign them first"})
    );
    assert_eq!(
        t.get("/api/v1/auth/me", &sub.auth()).await.0,
        StatusCode::OK
    );

    let (status, _) = t
        .delete(
            &format!(
                "{}/numbers/{}/assign-subaccount",
                parent.base(),
                enc(&blr(1))
            ),
            &parent.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, body) = t.delete(&sub_path(&parent, &sub.id), &parent.auth()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"message": "Sub-account deleted successfully"}));

    // Its credentials are revoked with it; it is gone from the parent's view.
    let (status, body) = t.get("/api/v1/auth/me", &sub.auth()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": {"code": 401, "message": "Invalid token"}})
    );
    assert_eq!(
        t.get(&sub_path(&parent, &sub.id), &parent.auth()).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = t.get(&subs(&parent), &parent.auth()).await;
    assert_eq!(list["total"], 0);
    let (status, _) = t.delete(&sub_path(&parent, &sub.id), &parent.auth()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn the_master_accounts_own_credentials_cannot_reach_sub_account_routes_of_another_master() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    let bob = t.master("MA_BOB", "0").await;
    let (status, body) = t.get(&subs(&bob), &alice.auth()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"error": {"code": 403, "message": "Access denied: account ID mismatch"}})
    );
    let (status, _) = t
        .post(&subs(&bob), &alice.auth(), json!({"name": "x"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = t.get(&subs(&bob), &bob.auth()).await;
    assert_eq!(list["total"], 0);
}

// ---- auth/me, balance ------------------------------------------------------------------------

async fn auth_me_describes_the_caller_and_its_role() {
    let t = TestApp::spawn().await;
    let customer = t.master("MA_CUSTOMER", "0").await;
    let admin = t.admin_master("MA_ADMIN", "0").await;

    let (status, body) = t.get("/api/v1/auth/me", &customer.auth()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["role"], "customer");
    assert_eq!(body["auth_id"], "MA_CUSTOMER");
    insta::assert_json_snapshot!("auth_me_describes_the_caller_and_its_role", Snap(&body));

    let (status, body) = t.get("/api/v1/auth/me/", &admin.auth()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["role"], "admin");
    assert_eq!(body["auth_id"], "MA_ADMIN");
}

async fn the_balance_is_the_paying_accounts_in_its_currency() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1234.5").await;
    let sub = t.sub(&alice, "SA_CHILD").await;

    let (status, body) = t
        .get(&format!("{}/balance/INR", alice.base_cap()), &alice.auth())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["balance"], 1234.5);
    assert_eq!(body["available_balance"], 1234.5);
    insta::assert_json_snapshot!(
        "the_balance_is_the_paying_accounts_in_its_currency",
        Snap(&body)
    );

    let (status, lower) = t
        .get(&format!("{}/balance/inr", alice.base()), &alice.auth())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lower, body);

    let (status, of_sub) = t
        .get(&format!("{}/balance/INR", sub.base()), &sub.auth())
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a sub-account sees none of its parent's money"
    );
    assert_eq!(of_sub, sub_money_forbidden());

    for currency in ["USD", "XX", "rupees"] {
        let (status, body) = t
            .get(
                &format!("{}/balance/{currency}", alice.base()),
                &alice.auth(),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{currency}");
        assert_eq!(
            body,
            json!({"error": "not_found", "message": format!("no balance in currency {currency}")})
        );
    }
}

// ---- Transactions ----------------------------------------------------------------------------

/// Alice: opening balance 1000, then two purchases (fees 100 + 300, then 0 + 50) a minute apart.
async fn alice_with_history(t: &TestApp) -> Acct {
    let alice = t.master("MA_ALICE", "1000").await;
    t.stock(&blr(1), "100", "300").await;
    t.stock(&blr(2), "0", "50").await;
    t.advance(Duration::minutes(1));
    t.buy(&alice, &blr(1)).await;
    t.advance(Duration::minutes(1));
    t.buy(&alice, &blr(2)).await;
    alice
}

fn kinds(body: &Value) -> Vec<(String, f64)> {
    body["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                format!(
                    "{}/{}",
                    e["type"].as_str().unwrap(),
                    e["reference_type"].as_str().unwrap()
                ),
                e["amount"].as_f64().unwrap(),
            )
        })
        .collect()
}

async fn transactions_list_the_ledger_newest_first_with_a_summary() {
    let t = TestApp::spawn().await;
    let alice = alice_with_history(&t).await;

    let (status, body) = t
        .get(&format!("{}/transactions", alice.base_cap()), &alice.auth())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        kinds(&body),
        [
            ("debit/did_rental".to_owned(), 50.0),
            ("debit/did_rental".to_owned(), 300.0),
            ("debit/did_purchase".to_owned(), 100.0),
            ("credit/payment".to_owned(), 1000.0),
        ]
    );
    assert_eq!(
        (
            body["total"].clone(),
            body["page"].clone(),
            body["per_page"].clone(),
            body["total_pages"].clone()
        ),
        (json!(4), json!(1), json!(50), json!(1))
    );
    assert_eq!(body["summary"]["total_debit"], 450.0);
    assert_eq!(body["summary"]["total_credit"], 1000.0);
    assert_eq!(body["summary"]["net_amount"], 550.0);
    // Every entry names what it is about; a payment names its own entry.
    let opening = &body["transactions"][3];
    assert_eq!(
        opening["reference"],
        format!("payment:{}", opening["id"].as_str().unwrap())
    );
    insta::assert_json_snapshot!("transactions_list_the_ledger_newest_first_with_a_summary", Snap(&body), {
        ".transactions[].id" => "[uuid]",
        ".transactions[].reference" => insta::dynamic_redaction(|value, _| {
            match value.as_str() {
                Some(r) if r.starts_with("payment:") => "payment:[entry id]".into(),
                _ => value,
            }
        }),
    });
}

async fn transactions_filter_by_type_and_reference_type() {
    let t = TestApp::spawn().await;
    let alice = alice_with_history(&t).await;
    let get = |q: &str| {
        let path = format!("{}/transactions?{q}", alice.base());
        let headers = alice.auth();
        let t = &t;
        async move {
            let (status, body) = t.get(&path, &headers).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };

    let debits = get("type=debit").await;
    assert_eq!(debits["total"], 3);
    assert!(kinds(&debits).iter().all(|(k, _)| k.starts_with("debit/")));
    assert_eq!(debits["summary"]["total_debit"], 450.0);
    assert_eq!(debits["summary"]["total_credit"], 0.0);

    let credits = get("type=credit").await;
    assert_eq!(kinds(&credits), [("credit/payment".to_owned(), 1000.0)]);

    let rentals = get("reference_type=did_rental").await;
    assert_eq!(rentals["total"], 2);
    let rentals = get("type=did_rental").await;
    assert_eq!(rentals["total"], 2);

    let (status, body) = t
        .get(
            &format!("{}/transactions?type=bogus", alice.base()),
            &alice.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid request");
}

async fn transactions_page_with_page_and_per_page() {
    let t = TestApp::spawn().await;
    let alice = alice_with_history(&t).await;
    let get = |q: &str| {
        let path = format!("{}/transactions?{q}", alice.base());
        let headers = alice.auth();
        let t = &t;
        async move { t.get(&path, &headers).await.1 }
    };

    let body = get("per_page=3").await;
    assert_eq!(kinds(&body).len(), 3);
    assert_eq!(
        (
            body["total"].clone(),
            body["per_page"].clone(),
            body["total_pages"].clone()
        ),
        (json!(4), json!(3), json!(2))
    );
    let body = get("per_page=3&page=2").await;
    assert_eq!(kinds(&body), [("credit/payment".to_owned(), 1000.0)]);
    assert_eq!(
        body["summary"]["total_transactions"], 4,
        "the summary ignores the page"
    );

    // Documented: above the maximum of 1000 the page size falls back to 50.
    assert_eq!(get("per_page=5000").await["per_page"], 50);
    // `limit`/`offset` are not supported and are dropped.
    let body = get("limit=1&offset=2").await;
    assert_eq!(kinds(&body).len(), 4);
}

/// A sub-account is billed to its parent: parent credentials are for billing and provisioning,
/// a sub-account's for runtime use (reference §3), so it sees none of its parent's money.
fn sub_money_forbidden() -> Value {
    json!({
        "error": "forbidden",
        "message": "sub-accounts are billed to their parent account; use the parent's credentials"
    })
}

async fn a_sub_account_sees_none_of_its_parents_ledger() {
    let t = TestApp::spawn().await;
    let alice = alice_with_history(&t).await;
    let sub = t.sub(&alice, "SA_CHILD").await;
    let (status, of_sub) = t
        .get(&format!("{}/transactions", sub.base()), &sub.auth())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(of_sub, sub_money_forbidden());
    let (status, _) = t
        .get(&format!("{}/transactions", alice.base()), &alice.auth())
        .await;
    assert_eq!(status, StatusCode::OK, "the parent still sees its own");
}

async fn transactions_filter_by_date() {
    let t = TestApp::spawn().await;
    let alice = alice_with_history(&t).await;
    let get = |q: String| {
        let path = format!("{}/transactions?{q}", alice.base());
        let headers = alice.auth();
        let t = &t;
        async move { t.get(&path, &headers).await }
    };
    // The second purchase was at 10:02.
    let (_, body) = get(format!("from_date={}", "2026-06-01T10:02:00Z")).await;
    assert_eq!(kinds(&body), [("debit/did_rental".to_owned(), 50.0)]);
    let (_, body) = get("to_date=2026-06-01".into()).await;
    assert_eq!(body["total"], 4, "a bare to_date means the end of that day");
    let (_, body) = get("to_date=2026-05-31".into()).await;
    assert_eq!(body["total"], 0);
    let (status, body) = get("from_date=yesterday".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid request");
}

on_every_backend!(
    creating_a_sub_account_is_201_with_credentials_that_authenticate_as_it,
    a_sub_account_needs_only_a_name,
    a_sub_account_cannot_have_sub_accounts_of_its_own,
    sub_accounts_list_newest_first_with_redacted_tokens,
    a_sub_account_is_retrieved_with_its_token_redacted,
    updating_a_sub_account_changes_only_the_fields_sent,
    a_disabled_sub_account_is_refused_but_keeps_its_numbers,
    another_masters_sub_account_is_404,
    a_sub_account_holding_numbers_cannot_be_deleted_until_they_are_taken_back,
    the_master_accounts_own_credentials_cannot_reach_sub_account_routes_of_another_master,
    auth_me_describes_the_caller_and_its_role,
    the_balance_is_the_paying_accounts_in_its_currency,
    transactions_list_the_ledger_newest_first_with_a_summary,
    transactions_filter_by_type_and_reference_type,
    transactions_page_with_page_and_per_page,
    a_sub_account_sees_none_of_its_parents_ledger,
    transactions_filter_by_date,
);
