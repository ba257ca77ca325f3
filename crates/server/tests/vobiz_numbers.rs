//! The Vobiz face: owned numbers, release, trunk assignment and sub-account assignment with
//! the 15-day cool-off.

#[macro_use]
mod common;

use axum::http::{Method, StatusCode};
use chrono::Duration;
use common::{blr, e164s, enc, micros, Acct, Snap, TestApp};
use serde_json::{json, Value};

/// A number in a path that is not E.164.
const FORMAT: &str = "The phone number format is invalid. Ensure it is URL-encoded correctly.";
/// A well-formed number that is no number of its country (strict validation, the default).
const COUNTRY: &str = "The phone number is not a valid number for its country.";

/// Alice (customer role, 10 000 INR) owning `blr(1)`.
async fn alice_with_a_number(t: &TestApp) -> Acct {
    let alice = t.master("MA_ALICE", "10000").await;
    t.stock(&blr(1), "100", "300").await;
    t.buy(&alice, &blr(1)).await;
    alice
}

fn actions(audit: &Value) -> Vec<String> {
    audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

// ---- The owned list --------------------------------------------------------------------------

async fn a_master_accounts_list_includes_its_sub_accounts_numbers_unless_told_otherwise() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "10000").await;
    let sub = t.sub(&parent, "SA_CHILD").await;
    for i in 1..=3 {
        t.stock(&blr(i), "0", "1").await;
    }
    t.buy(&parent, &blr(1)).await;
    t.buy(&sub, &blr(2)).await;
    let list = |who: &Acct, q: &str| {
        let path = format!("{}/numbers{q}", who.base());
        let headers = who.auth();
        let t = &t;
        async move {
            let (status, body) = t.get(&path, &headers).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };

    let all = list(&parent, "").await;
    assert_eq!(e164s(&all), [blr(1), blr(2)]);
    assert_eq!(all["items"][0]["account_id"], "MA_PARENT");
    assert_eq!(all["items"][1]["account_id"], "SA_CHILD");
    assert_eq!(all["total"], 2);

    // The Python SDK sends Python booleans: `True` / `False`.
    assert_eq!(
        e164s(&list(&parent, "?include_subaccounts=True").await),
        [blr(1), blr(2)]
    );
    assert_eq!(
        e164s(&list(&parent, "?include_subaccounts=true").await),
        [blr(1), blr(2)]
    );
    let own = list(&parent, "?include_subaccounts=False").await;
    assert_eq!(e164s(&own), [blr(1)]);
    assert_eq!(own["total"], 1);
    assert_eq!(
        e164s(&list(&parent, "?include_subaccounts=false").await),
        [blr(1)]
    );

    // A sub-account sees only its own, whatever it asks.
    assert_eq!(e164s(&list(&sub, "").await), [blr(2)]);
    assert_eq!(
        e164s(&list(&sub, "?include_subaccounts=True").await),
        [blr(2)]
    );

    let (status, body) = t
        .get(
            &format!("{}/numbers?include_subaccounts=maybe", parent.base()),
            &parent.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid request", "message": "include_subaccounts must be true or false"})
    );
}

async fn the_owned_list_searches_and_pages_in_the_documented_envelope() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let bob = t.master("MA_BOB", "10000").await;
    for i in 1..=6 {
        t.stock(&blr(i), "0", "1").await;
    }
    for i in 1..=5 {
        t.buy(&alice, &blr(i)).await;
    }
    t.buy(&bob, &blr(6)).await;
    let path = |q: &str| format!("{}/numbers?{q}", alice.base());

    let (status, body) = t.get(&path(""), &alice.auth()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(e164s(&body).len(), 5);
    assert_eq!(
        (
            body["page"].clone(),
            body["per_page"].clone(),
            body["total"].clone()
        ),
        (json!(1), json!(25), json!(5))
    );

    let (_, body) = t.get(&path("page=2&per_page=2"), &alice.auth()).await;
    assert_eq!(e164s(&body), [blr(3), blr(4)]);
    assert_eq!(
        (
            body["page"].clone(),
            body["per_page"].clone(),
            body["total"].clone()
        ),
        (json!(2), json!(2), json!(5))
    );

    let (_, body) = t.get(&path("per_page=1000"), &alice.auth()).await;
    assert_eq!(body["per_page"], 100);

    let (_, body) = t
        .get(&path(&format!("search={}", enc(&blr(3)))), &alice.auth())
        .await;
    assert_eq!(e164s(&body), [blr(3)]);
    assert_eq!(body["total"], 1);
    let (_, body) = t.get(&path("search=+918041100004"), &alice.auth()).await;
    assert_eq!(e164s(&body), [blr(4)]);
    // Bob's number is not Alice's to find.
    let (_, body) = t
        .get(&path(&format!("search={}", enc(&blr(6)))), &alice.auth())
        .await;
    assert_eq!(body["total"], 0);

    // `limit`/`offset` do not paginate this list.
    let (_, body) = t.get(&path("limit=1&offset=3"), &alice.auth()).await;
    assert_eq!(e164s(&body).len(), 5);
}

async fn inventory_numbers_are_not_in_anyones_owned_list() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    t.stock(&blr(1), "0", "1").await;
    let body = t.owned(&alice).await;
    assert_eq!(body["items"], json!([]));
    assert_eq!(body["total"], 0);
}

// ---- Release (seed 000) ----------------------------------------------------------------------

async fn releasing_a_number_is_204_and_returns_it_to_inventory_with_billing_stopped() {
    let t = TestApp::spawn().await;
    let alice = alice_with_a_number(&t).await;
    let trunk = t.trunk(&alice, "Main").await;
    let (status, _) = t
        .post(
            &format!("{}/numbers/{}/assign", alice.base(), enc(&blr(1))),
            &alice.auth(),
            json!({"trunk_group_id": trunk}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let balance = t.balance(&alice).await;
    let (_, ledger_before) = t
        .get(&format!("{}/transactions", alice.base()), &alice.auth())
        .await;
    t.advance(Duration::days(3));

    let r = t
        .send(
            axum::http::Request::delete(format!("{}/numbers/{}", alice.base_cap(), enc(&blr(1))))
                .header("X-Auth-ID", &alice.id)
                .header("X-Auth-Token", &alice.token)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.raw.is_empty(), "a 204 has no body");

    assert_eq!(t.inventory(&alice).await, [blr(1)]);
    assert_eq!(t.owned(&alice).await["total"], 0);
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["state"], "available");
    assert_eq!(n["account_id"], "");
    assert_eq!(n["billing_account_id"], Value::Null);
    assert_eq!(n["trunk_group_id"], Value::Null);
    assert_eq!(n["released_at"], micros(t.now()));
    assert_eq!(n["next_billing_date"], Value::Null);
    assert_eq!(n["purchased_at"], Value::Null);
    assert_eq!(n["source"], "inventory");

    // No fee, no refund: the ledger and the balance are as they were.
    assert_eq!(t.balance(&alice).await, balance);
    let (_, ledger_after) = t
        .get(&format!("{}/transactions", alice.base()), &alice.auth())
        .await;
    assert_eq!(ledger_after, ledger_before);
    assert_eq!(
        actions(&t.audit(&blr(1)).await),
        ["stocked", "purchased", "assigned_to_trunk", "released"]
    );

    // Back on the shelf: anyone may buy it again.
    let bob = t.master("MA_BOB", "1000").await;
    let again = t.buy(&bob, &blr(1)).await;
    assert_eq!(again["account_id"], "MA_BOB");
    assert_eq!(again["trunk_group_id"], Value::Null);
    assert_eq!(again["released_at"], Value::Null);
}

async fn a_release_path_may_spell_the_number_encoded_raw_or_bare_in_either_casing_and_slashed() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let paths = [
        "/api/v1/account/MA_ALICE/numbers/%2B{digits}",
        "/api/v1/Account/MA_ALICE/numbers/%2B{digits}",
        "/api/v1/account/MA_ALICE/numbers/+{digits}",
        "/api/v1/Account/MA_ALICE/numbers/{digits}",
        "/api/v1/account/MA_ALICE/numbers/%2B{digits}/",
        "/api/v1/Account/MA_ALICE/numbers/{digits}/",
        "/api/v1/account/MA_ALICE/numbers/%2b{digits}",
    ];
    for (i, template) in (1..).zip(paths) {
        t.stock(&blr(i), "0", "1").await;
        t.buy(&alice, &blr(i)).await;
        let path = template.replace("{digits}", &blr(i)[1..]);
        let (status, body) = t.delete(&path, &alice.auth()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{path}: {body}");
        assert_eq!(body, Value::Null, "{path}");
        assert_eq!(
            t.admin_number(&blr(i)).await["state"],
            "available",
            "{path}"
        );
    }
}

async fn releasing_a_number_the_account_does_not_own_is_403_and_changes_nothing() {
    let t = TestApp::spawn().await;
    let alice = alice_with_a_number(&t).await;
    let bob = t.master("MA_BOB", "1000").await;
    t.stock(&blr(2), "0", "1").await;
    let forbidden = json!({"error": "forbidden", "message": "account does not own this number"});

    // Alice's number, a number in inventory, a number nobody stocked.
    for e164 in [blr(1), blr(2), blr(3)] {
        let (status, body) = t
            .delete(
                &format!("{}/numbers/{}", bob.base(), enc(&e164)),
                &bob.auth(),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{e164}");
        assert_eq!(body, forbidden, "{e164}");
    }
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["account_id"], alice.id);
    assert_eq!(n["state"], "active");
    assert_eq!(actions(&t.audit(&blr(1)).await), ["stocked", "purchased"]);
    assert_eq!(t.inventory(&bob).await, [blr(2)]);
}

async fn releasing_a_malformed_number_is_400() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    for (raw, message) in [
        ("abc", FORMAT),
        ("%2B1234567890", COUNTRY),
        ("+1234567890", COUNTRY),
        ("12", FORMAT),
        ("%252B918041100001", FORMAT),
    ] {
        let (status, body) = t
            .delete(&format!("{}/numbers/{raw}", alice.base()), &alice.auth())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}");
        assert_eq!(
            body,
            json!({"error": "invalid request", "message": message}),
            "{raw}"
        );
    }
}

async fn a_master_account_may_release_a_number_its_sub_account_holds_but_not_the_reverse() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "10000").await;
    let sub = t.sub(&parent, "SA_CHILD").await;
    for i in 1..=3 {
        t.stock(&blr(i), "0", "1").await;
    }
    t.buy(&sub, &blr(1)).await;
    t.buy(&parent, &blr(2)).await;
    t.buy(&sub, &blr(3)).await;

    let (status, _) = t
        .delete(
            &format!("{}/numbers/{}", parent.base(), enc(&blr(1))),
            &parent.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, body) = t
        .delete(
            &format!("{}/numbers/{}", sub.base(), enc(&blr(2))),
            &sub.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(t.admin_number(&blr(2)).await["account_id"], "MA_PARENT");

    let (status, _) = t
        .delete(
            &format!("{}/numbers/{}", sub.base(), enc(&blr(3))),
            &sub.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

// ---- Trunk assignment ------------------------------------------------------------------------

async fn assigning_a_number_to_a_trunk_is_204_and_the_list_shows_the_trunk() {
    let t = TestApp::spawn().await;
    let alice = alice_with_a_number(&t).await;
    let trunk = t.trunk(&alice, "Main").await;
    t.advance(Duration::minutes(5));

    let r = t
        .send(
            axum::http::Request::post(format!("{}/numbers/{}/assign", alice.base(), enc(&blr(1))))
                .header("X-Auth-ID", &alice.id)
                .header("X-Auth-Token", &alice.token)
                .header("Content-Type", "application/json")
                .body(axum::body::Body::from(
                    json!({"trunk_group_id": trunk}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.raw.is_empty());

    let list = t.owned(&alice).await;
    assert_eq!(list["items"][0]["trunk_group_id"], trunk);
    insta::assert_json_snapshot!("assigning_a_number_to_a_trunk_is_204_and_the_list_shows_the_trunk", Snap(&list), {
        ".items[].id" => "[uuid]",
        ".items[].trunk_group_id" => "[trunk_id]",
    });
}

async fn assigning_a_number_that_is_already_on_a_trunk_is_400() {
    let t = TestApp::spawn().await;
    let alice = alice_with_a_number(&t).await;
    let first = t.trunk(&alice, "First").await;
    let second = t.trunk(&alice, "Second").await;
    let path = format!("{}/numbers/{}/assign", alice.base(), enc(&blr(1)));
    let (status, _) = t
        .post(&path, &alice.auth(), json!({"trunk_group_id": first}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    for trunk in [&first, &second] {
        let (status, body) = t
            .post(&path, &alice.auth(), json!({"trunk_group_id": trunk}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"error": "invalid request", "message": "This number is already assigned to a trunk."})
        );
    }
    assert_eq!(
        t.admin_number(&blr(1)).await["trunk_group_id"],
        first.as_str()
    );
}

async fn assigning_a_number_the_account_does_not_hold_to_a_trunk_is_404_number_not_found() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    let bob = alice_with_a_number_as(&t, "MA_BOB", 1).await;
    t.stock(&blr(2), "0", "1").await;
    let trunk = t.trunk(&alice, "Main").await;

    // Bob's number, a number in inventory, a number nobody stocked.
    for e164 in [blr(1), blr(2), blr(3)] {
        let (status, body) = t
            .post(
                &format!("{}/numbers/{}/assign", alice.base(), enc(&e164)),
                &alice.auth(),
                json!({"trunk_group_id": trunk}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{e164}");
        assert_eq!(
            body,
            json!({"error": "Number not found", "message": "The phone number could not be found. Ensure it is in your inventory and URL-encoded correctly."}),
            "{e164}"
        );
    }
    assert_eq!(t.admin_number(&blr(1)).await["trunk_group_id"], Value::Null);
    drop(bob);
}

async fn alice_with_a_number_as(t: &TestApp, id: &str, i: u32) -> Acct {
    let who = t.master(id, "10000").await;
    t.stock(&blr(i), "100", "300").await;
    t.buy(&who, &blr(i)).await;
    who
}

async fn assigning_a_number_to_a_trunk_that_is_not_the_accounts_is_404() {
    let t = TestApp::spawn().await;
    let alice = alice_with_a_number(&t).await;
    let bob = t.master("MA_BOB", "0").await;
    let bobs = t.trunk(&bob, "Bob's").await;
    let path = format!("{}/numbers/{}/assign", alice.base(), enc(&blr(1)));
    let not_found = json!({"error": "not_found", "message": "trunk not found"});

    for trunk in [
        bobs.as_str(),
        "00000000-0000-4000-8000-000000000000",
        "not-a-uuid",
    ] {
        let (status, body) = t
            .post(&path, &alice.auth(), json!({"trunk_group_id": trunk}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{trunk}");
        assert_eq!(body, not_found, "{trunk}");
    }
    assert_eq!(t.admin_number(&blr(1)).await["trunk_group_id"], Value::Null);

    let (status, body) = t
        .post(&path, &alice.auth(), json!({"trunk_id": bobs}))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the field is trunk_group_id: {body}"
    );
}

async fn a_master_account_routes_its_sub_accounts_number_through_its_own_trunk() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "10000").await;
    let sub = t.sub(&parent, "SA_CHILD").await;
    t.stock(&blr(1), "0", "1").await;
    t.buy(&sub, &blr(1)).await;
    let trunk = t.trunk(&parent, "Parent's").await;

    let (status, body) = t
        .post(
            &format!("{}/numbers/{}/assign", parent.base(), enc(&blr(1))),
            &parent.auth(),
            json!({"trunk_group_id": trunk}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(t.owned(&sub).await["items"][0]["trunk_group_id"], trunk);
}

async fn unassigning_a_number_from_its_trunk_is_204_and_billing_continues() {
    let t = TestApp::spawn().await;
    let alice = alice_with_a_number(&t).await;
    let trunk = t.trunk(&alice, "Main").await;
    let path = format!("{}/numbers/{}/assign", alice.base_cap(), enc(&blr(1)));
    t.post(&path, &alice.auth(), json!({"trunk_group_id": trunk}))
        .await;
    let before = t.admin_number(&blr(1)).await;

    let (status, body) = t.delete(&path, &alice.auth()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);

    let after = t.admin_number(&blr(1)).await;
    assert_eq!(after["trunk_group_id"], Value::Null);
    assert_eq!(after["account_id"], "MA_ALICE");
    assert_eq!(after["state"], "active");
    assert_eq!(after["next_billing_date"], before["next_billing_date"]);

    // It may be routed again, to the same trunk or another.
    let (status, _) = t
        .post(&path, &alice.auth(), json!({"trunk_group_id": trunk}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn unassigning_a_number_that_is_on_no_trunk_is_404() {
    let t = TestApp::spawn().await;
    let alice = alice_with_a_number(&t).await;
    let not_found = json!({"error": "Number not found", "message": "The phone number could not be found or is not assigned to any trunk."});

    // Alice's number on no trunk, and a number she does not hold.
    for e164 in [blr(1), blr(2)] {
        let (status, body) = t
            .delete(
                &format!("{}/numbers/{}/assign", alice.base(), enc(&e164)),
                &alice.auth(),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{e164}");
        assert_eq!(body, not_found, "{e164}");
    }
}

async fn unassigning_a_malformed_number_from_a_trunk_is_400() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    for (raw, message) in [
        ("%2B1234567890", COUNTRY),
        ("+1234567890", COUNTRY),
        ("not-a-number", FORMAT),
        ("%2B91%2080", FORMAT),
    ] {
        let (status, body) = t
            .delete(
                &format!("{}/numbers/{raw}/assign", alice.base()),
                &alice.auth(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}");
        assert_eq!(
            body,
            json!({"error": "invalid request", "message": message}),
            "{raw}"
        );
    }
}

// ---- Sub-account assignment ------------------------------------------------------------------

async fn family(t: &TestApp, admin: bool) -> (Acct, Acct) {
    let parent = if admin {
        t.admin_master("MA_PARENT", "10000").await
    } else {
        t.master("MA_PARENT", "10000").await
    };
    let sub = t.sub(&parent, "SA_CHILD").await;
    t.stock(&blr(1), "100", "300").await;
    t.buy(&parent, &blr(1)).await;
    (parent, sub)
}

async fn assign_sub(t: &TestApp, parent: &Acct, e164: &str, sub: &str) -> (StatusCode, Value) {
    t.post(
        &format!("{}/numbers/{}/assign-subaccount", parent.base(), enc(e164)),
        &parent.auth(),
        json!({"sub_account_id": sub}),
    )
    .await
}

fn unassign_path(parent: &Acct, e164: &str, query: &str) -> String {
    format!(
        "{}/numbers/{}/assign-subaccount{query}",
        parent.base(),
        enc(e164)
    )
}

async fn assigning_a_did_to_a_sub_account_is_204_and_hands_it_over() {
    let t = TestApp::spawn().await;
    let (parent, sub) = family(&t, false).await;

    let (status, body) = assign_sub(&t, &parent, &blr(1), "SA_CHILD").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);

    let mine = t.owned(&sub).await;
    assert_eq!(e164s(&mine), [blr(1)]);
    assert_eq!(mine["items"][0]["account_id"], "SA_CHILD");
    assert_eq!(t.owned(&parent).await["items"][0]["account_id"], "SA_CHILD");
    // The parent still pays.
    assert_eq!(
        t.admin_number(&blr(1)).await["billing_account_id"],
        "MA_PARENT"
    );
}

async fn assigning_to_a_sub_account_or_a_number_the_caller_does_not_have_is_404() {
    let t = TestApp::spawn().await;
    let (parent, _sub) = family(&t, false).await;
    let stranger = t.master("MA_OTHER", "10000").await;
    t.sub(&stranger, "SA_OTHER").await;
    t.stock(&blr(2), "0", "1").await;
    t.stock(&blr(3), "0", "1").await;
    t.buy(&stranger, &blr(3)).await;
    let not_found = json!({"error": "not_found", "message": "number or sub-account not found"});

    for (e164, sub) in [
        (blr(1), "SA_NOBODY"),
        (blr(1), "SA_OTHER"),
        (blr(1), "MA_PARENT"),
        (blr(1), "not an id"),
        (blr(2), "SA_CHILD"),
        (blr(3), "SA_CHILD"),
        (blr(4), "SA_CHILD"),
    ] {
        let (status, body) = assign_sub(&t, &parent, &e164, sub).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{e164} → {sub}");
        assert_eq!(body, not_found, "{e164} → {sub}");
    }
    assert_eq!(t.admin_number(&blr(1)).await["account_id"], "MA_PARENT");
}

async fn assigning_a_did_that_is_already_on_a_sub_account_is_409() {
    let t = TestApp::spawn().await;
    let (parent, _sub) = family(&t, false).await;
    t.sub(&parent, "SA_SECOND").await;
    assert_eq!(
        assign_sub(&t, &parent, &blr(1), "SA_CHILD").await.0,
        StatusCode::NO_CONTENT
    );

    for target in ["SA_SECOND", "SA_CHILD"] {
        let (status, body) = assign_sub(&t, &parent, &blr(1), target).await;
        assert_eq!(status, StatusCode::CONFLICT, "{target}");
        assert_eq!(
            body,
            json!({"error": "conflict", "message": "number already assigned to a sub-account"})
        );
    }
    assert_eq!(t.admin_number(&blr(1)).await["account_id"], "SA_CHILD");
}

async fn unassigning_a_never_used_did_from_a_sub_account_is_immediate() {
    let t = TestApp::spawn().await;
    let (parent, sub) = family(&t, false).await;
    assign_sub(&t, &parent, &blr(1), "SA_CHILD").await;

    let (status, body) = t
        .delete(&unassign_path(&parent, &blr(1), ""), &parent.auth())
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null);
    assert_eq!(t.admin_number(&blr(1)).await["account_id"], "MA_PARENT");
    assert_eq!(t.owned(&sub).await["total"], 0);
    assert_eq!(t.audit(&blr(1)).await["did_assignment_audit"], json!([]));
}

async fn unassigning_within_15_days_of_the_last_call_is_409_until_the_cool_off_ends() {
    let t = TestApp::spawn().await;
    let (parent, _sub) = family(&t, false).await;
    assign_sub(&t, &parent, &blr(1), "SA_CHILD").await;
    // 2026-05-31T10:00:00Z, one day before the clock's 2026-06-01T10:00:00Z.
    t.report_call(&blr(1), t.now() - Duration::days(1)).await;
    let path = unassign_path(&parent, &blr(1), "");

    let (status, body) = t.delete(&path, &parent.auth()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({
            "error": "did_cool_off_in_effect",
            "cool_off_until": "2026-06-15T10:00:00Z",
            "cool_off_remaining_seconds": 1_209_600,
        })
    );
    assert_eq!(t.admin_number(&blr(1)).await["account_id"], "SA_CHILD");

    t.advance(Duration::days(14) - Duration::seconds(1));
    let (status, body) = t.delete(&path, &parent.auth()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["cool_off_until"], "2026-06-15T10:00:00Z");
    assert_eq!(body["cool_off_remaining_seconds"], 1);

    // Exactly 15 days after the call.
    t.advance(Duration::seconds(1));
    let (status, body) = t.delete(&path, &parent.auth()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(t.admin_number(&blr(1)).await["account_id"], "MA_PARENT");
    assert_eq!(t.audit(&blr(1)).await["did_assignment_audit"], json!([]));
}

async fn the_cool_off_end_is_never_shown_earlier_than_it_is() {
    let t = TestApp::spawn().await;
    let (parent, _sub) = family(&t, false).await;
    assign_sub(&t, &parent, &blr(1), "SA_CHILD").await;
    // A call ending a quarter of a second past the minute: the cool-off ends at
    // 2026-06-15T10:00:00.25Z, so the whole second to show is 10:00:01.
    t.report_call(
        &blr(1),
        t.now() - Duration::days(1) + Duration::milliseconds(250),
    )
    .await;
    let path = unassign_path(&parent, &blr(1), "");

    let (status, body) = t.delete(&path, &parent.auth()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({
            "error": "did_cool_off_in_effect",
            "cool_off_until": "2026-06-15T10:00:01Z",
            "cool_off_remaining_seconds": 1_209_601,
        })
    );

    t.advance(Duration::days(14));
    let (status, body) = t.delete(&path, &parent.auth()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["cool_off_until"], "2026-06-15T10:00:01Z");
    assert_eq!(body["cool_off_remaining_seconds"], 1);

    // Retrying at the time shown succeeds.
    t.advance(Duration::seconds(1));
    let (status, body) = t.delete(&path, &parent.auth()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn a_call_more_than_15_days_ago_does_not_hold_the_did() {
    let t = TestApp::spawn().await;
    let (parent, _sub) = family(&t, false).await;
    assign_sub(&t, &parent, &blr(1), "SA_CHILD").await;
    t.report_call(&blr(1), t.now() - Duration::days(15) - Duration::seconds(1))
        .await;

    let (status, body) = t
        .delete(&unassign_path(&parent, &blr(1), ""), &parent.auth())
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn force_from_a_customer_role_account_is_403_and_changes_nothing() {
    let t = TestApp::spawn().await;
    let (parent, _sub) = family(&t, false).await;
    assign_sub(&t, &parent, &blr(1), "SA_CHILD").await;
    t.report_call(&blr(1), t.now() - Duration::days(1)).await;
    let number_before = t.admin_number(&blr(1)).await;
    let audit_before = t.audit(&blr(1)).await;

    for q in ["?force=true", "?force=True"] {
        let (status, body) = t
            .delete(&unassign_path(&parent, &blr(1), q), &parent.auth())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{q}");
        assert_eq!(
            body,
            json!({"error": "forbidden", "message": "force=true requires an admin-role account"}),
            "{q}"
        );
    }
    assert_eq!(t.admin_number(&blr(1)).await, number_before);
    assert_eq!(t.audit(&blr(1)).await, audit_before);
}

async fn force_from_an_admin_role_account_bypasses_the_cool_off_and_writes_an_audit_row() {
    let t = TestApp::spawn().await;
    let (parent, _sub) = family(&t, true).await;
    assign_sub(&t, &parent, &blr(1), "SA_CHILD").await;
    let call = t.now() - Duration::days(1);
    t.report_call(&blr(1), call).await;
    t.advance(Duration::hours(2));

    let (status, body) = t
        .delete(
            &unassign_path(&parent, &blr(1), "?force=True"),
            &parent.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(t.admin_number(&blr(1)).await["account_id"], "MA_PARENT");

    let audit = t.audit(&blr(1)).await;
    let rows = audit["did_assignment_audit"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["action"], "force_unassign_subaccount");
    assert_eq!(row["from_account_id"], "SA_CHILD");
    assert_eq!(row["to_account_id"], "MA_PARENT");
    assert_eq!(row["actor_auth_id"], "MA_PARENT");
    assert_eq!(row["last_call_at"], micros(call));
    assert_eq!(row["cool_off_until"], micros(call + Duration::days(15)));
    assert_eq!(row["created_at"], micros(t.now()));
    assert_eq!(
        actions(&audit),
        [
            "stocked",
            "purchased",
            "assigned_to_sub_account",
            "force_unassigned_from_sub_account"
        ]
    );
}

async fn force_on_a_did_outside_any_cool_off_still_writes_an_audit_row() {
    let t = TestApp::spawn().await;
    let (parent, _sub) = family(&t, true).await;
    assign_sub(&t, &parent, &blr(1), "SA_CHILD").await;

    let (status, _) = t
        .delete(
            &unassign_path(&parent, &blr(1), "?force=true"),
            &parent.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let audit = t.audit(&blr(1)).await;
    let rows = audit["did_assignment_audit"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["last_call_at"], Value::Null);
    assert_eq!(rows[0]["cool_off_until"], Value::Null);
}

async fn unassigning_a_did_that_is_on_no_sub_account_is_404() {
    let t = TestApp::spawn().await;
    let (parent, _sub) = family(&t, true).await;
    for e164 in [blr(1), blr(2)] {
        for q in ["", "?force=true"] {
            let (status, body) = t
                .delete(&unassign_path(&parent, &e164, q), &parent.auth())
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{e164}{q}");
            assert_eq!(
                body,
                json!({"error": "not_found", "message": "number or sub-account not found"}),
                "{e164}{q}"
            );
        }
    }
    assert_eq!(t.audit(&blr(1)).await["did_assignment_audit"], json!([]));
}

async fn a_sub_account_cannot_move_dids_between_itself_and_its_parent() {
    let t = TestApp::spawn().await;
    let (parent, sub) = family(&t, false).await;
    assign_sub(&t, &parent, &blr(1), "SA_CHILD").await;

    let (status, _) = t
        .delete(
            &format!("{}/numbers/{}/assign-subaccount", sub.base(), enc(&blr(1))),
            &sub.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t
        .post(
            &format!("{}/numbers/{}/assign-subaccount", sub.base(), enc(&blr(1))),
            &sub.auth(),
            json!({"sub_account_id": "SA_CHILD"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(t.admin_number(&blr(1)).await["account_id"], "SA_CHILD");
}

async fn a_bad_force_value_is_400() {
    let t = TestApp::spawn().await;
    let (parent, _sub) = family(&t, true).await;
    assign_sub(&t, &parent, &blr(1), "SA_CHILD").await;
    let (status, body) = t
        .raw(
            Method::DELETE,
            &unassign_path(&parent, &blr(1), "?force=perhaps"),
            &parent.auth(),
            None,
            "",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid request", "message": "force must be true or false"})
    );
    assert_eq!(t.admin_number(&blr(1)).await["account_id"], "SA_CHILD");
}

// ---- One number ------------------------------------------------------------------------------

async fn a_number_is_shown_to_its_holder_and_to_the_master_account_paying_for_it_only() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "10000").await;
    let sub = t.sub(&parent, "SA_CHILD").await;
    let stranger = t.master("MA_OTHER", "0").await;
    t.stock(&blr(1), "0", "1").await;
    t.stock(&blr(2), "0", "1").await;
    let bought = t.buy(&sub, &blr(1)).await;

    for who in [&sub, &parent] {
        let (status, body) = t
            .get(
                &format!("{}/numbers/{}", who.base(), enc(&blr(1))),
                &who.auth(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}", who.id);
        assert_eq!(body, bought, "{}", who.id);
    }
    // A stranger, and anyone for a number in inventory.
    for (who, e164) in [(&stranger, blr(1)), (&parent, blr(2))] {
        let (status, body) = t
            .get(
                &format!("{}/numbers/{}", who.base(), enc(&e164)),
                &who.auth(),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{} {e164}", who.id);
        assert_eq!(
            body,
            json!({"error": "not_found", "message": "number not found"})
        );
    }
}

async fn a_release_keeps_the_numbers_last_call_for_the_next_cool_off() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "10000").await;
    t.sub(&parent, "SA_CHILD").await;
    t.stock(&blr(1), "0", "1").await;
    t.buy(&parent, &blr(1)).await;
    assert_eq!(
        assign_sub(&t, &parent, &blr(1), "SA_CHILD").await.0,
        StatusCode::NO_CONTENT
    );
    let call = t.now() - Duration::hours(1);
    t.report_call(&blr(1), call).await;

    // The cool-off governs taking a DID back, not giving it up ...
    let (status, _) = t
        .delete(
            &format!("{}/numbers/{}", parent.base(), enc(&blr(1))),
            &parent.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["last_call_at"], micros(call));
    // ... but a number used within 15 days does not reach another customer sooner (seed 004):
    // it ages in quarantine until the last call's cool-off ends, whatever the policy.
    assert_eq!(n["state"], "quarantined");
    assert_eq!(n["quarantine_until"], micros(call + Duration::days(15)));
    let other = t.master("MA_OTHER", "10000").await;
    assert!(!t.inventory(&other).await.contains(&blr(1)));
    let (status, body) = t
        .post(
            &format!("{}/numbers/purchase-from-inventory", other.base()),
            &other.auth(),
            json!({"e164": blr(1)}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // When the cool-off ends the number is purchasable, whether or not the scheduler ran.
    t.advance(Duration::days(15));
    assert_eq!(t.buy(&other, &blr(1)).await["account_id"], "MA_OTHER");
}

on_every_backend!(
    a_master_accounts_list_includes_its_sub_accounts_numbers_unless_told_otherwise,
    the_owned_list_searches_and_pages_in_the_documented_envelope,
    inventory_numbers_are_not_in_anyones_owned_list,
    releasing_a_number_is_204_and_returns_it_to_inventory_with_billing_stopped,
    a_release_path_may_spell_the_number_encoded_raw_or_bare_in_either_casing_and_slashed,
    releasing_a_number_the_account_does_not_own_is_403_and_changes_nothing,
    releasing_a_malformed_number_is_400,
    a_master_account_may_release_a_number_its_sub_account_holds_but_not_the_reverse,
    assigning_a_number_to_a_trunk_is_204_and_the_list_shows_the_trunk,
    assigning_a_number_that_is_already_on_a_trunk_is_400,
    assigning_a_number_the_account_does_not_hold_to_a_trunk_is_404_number_not_found,
    assigning_a_number_to_a_trunk_that_is_not_the_accounts_is_404,
    a_master_account_routes_its_sub_accounts_number_through_its_own_trunk,
    unassigning_a_number_from_its_trunk_is_204_and_billing_continues,
    unassigning_a_number_that_is_on_no_trunk_is_404,
    unassigning_a_malformed_number_from_a_trunk_is_400,
    assigning_a_did_to_a_sub_account_is_204_and_hands_it_over,
    assigning_to_a_sub_account_or_a_number_the_caller_does_not_have_is_404,
    assigning_a_did_that_is_already_on_a_sub_account_is_409,
    unassigning_a_never_used_did_from_a_sub_account_is_immediate,
    unassigning_within_15_days_of_the_last_call_is_409_until_the_cool_off_ends,
    the_cool_off_end_is_never_shown_earlier_than_it_is,
    a_call_more_than_15_days_ago_does_not_hold_the_did,
    force_from_a_customer_role_account_is_403_and_changes_nothing,
    force_from_an_admin_role_account_bypasses_the_cool_off_and_writes_an_audit_row,
    force_on_a_did_outside_any_cool_off_still_writes_an_audit_row,
    unassigning_a_did_that_is_on_no_sub_account_is_404,
    a_sub_account_cannot_move_dids_between_itself_and_its_parent,
    a_bad_force_value_is_400,
    a_number_is_shown_to_its_holder_and_to_the_master_account_paying_for_it_only,
    a_release_keeps_the_numbers_last_call_for_the_next_cool_off,
);
