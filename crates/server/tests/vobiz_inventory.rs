//! The Vobiz face: the inventory list and purchase from inventory.

#[macro_use]
mod common;

use axum::http::{Method, StatusCode};
use common::{blr, e164s, Snap, TestApp};
use serde_json::json;

const MUMBAI: &str = "+912226000001";
const SAN_FRANCISCO: &str = "+14155552671";
const LONDON: &str = "+442079460000";

async fn the_inventory_lists_only_numbers_nobody_owns() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    for i in 1..=3 {
        t.stock(&blr(i), "100", "300").await;
    }
    t.buy(&alice, &blr(2)).await;

    let (status, body) = t
        .get(
            &format!("{}/inventory/numbers", alice.base()),
            &alice.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(e164s(&body), [blr(1), blr(3)]);
    assert_eq!(body["total"], 2);
    insta::assert_json_snapshot!("the_inventory_lists_only_numbers_nobody_owns", Snap(&body), { ".items[].id" => "[uuid]" });
}

async fn the_inventory_filters_by_country_in_any_case() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    for n in [blr(1), SAN_FRANCISCO.into(), LONDON.into()] {
        t.stock(&n, "0", "1").await;
    }
    let list = |q: &'static str| {
        let t = &t;
        let alice = alice.clone();
        async move {
            t.get(
                &format!("{}/inventory/numbers?{q}", alice.base()),
                &alice.auth(),
            )
            .await
        }
    };

    let (status, body) = list("country=US").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(e164s(&body), [SAN_FRANCISCO]);
    assert_eq!(body["total"], 1);

    let (_, body) = list("country=in").await;
    assert_eq!(e164s(&body), [blr(1)]);

    let (status, body) = list("country=INDIA").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid request", "message": "country must be an ISO 3166 alpha-2 code, such as IN"})
    );
}

async fn the_inventory_search_matches_a_substring_with_an_encoded_or_a_raw_plus() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    for n in [blr(1), blr(2), MUMBAI.into(), SAN_FRANCISCO.into()] {
        t.stock(&n, "0", "1").await;
    }
    let path = |q: &str| format!("{}/inventory/numbers?{q}", alice.base());

    let (status, body) = t.get(&path("search=%2B9180"), &alice.auth()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(e164s(&body), [blr(1), blr(2)]);
    assert_eq!(body["total"], 2);

    // A raw `+` in a query string decodes as a space; the search still means the digits.
    let (status, body) = t.get(&path("search=+9180"), &alice.auth()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(e164s(&body), [blr(1), blr(2)]);

    // Documented: `search=80` matches `+918065…`; any substring, not only a prefix.
    let (_, body) = t.get(&path("search=2600"), &alice.auth()).await;
    assert_eq!(e164s(&body), [MUMBAI]);
    let (_, body) = t.get(&path("search=41100002"), &alice.auth()).await;
    assert_eq!(e164s(&body), [blr(2)]);

    let (status, body) = t.get(&path("search=abc"), &alice.auth()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid request");
}

async fn the_inventory_excludes_prefixes_given_comma_separated_or_repeated_with_or_without_plus() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    for n in [blr(1), MUMBAI.into(), SAN_FRANCISCO.into(), LONDON.into()] {
        t.stock(&n, "0", "1").await;
    }
    let path = |q: &str| format!("{}/inventory/numbers?{q}", alice.base());

    let (status, body) = t.get(&path("exclude=%2B9122,1"), &alice.auth()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(e164s(&body), [LONDON, &blr(1)]);
    assert_eq!(body["total"], 2);

    let (_, body) = t
        .get(
            &path("exclude=9122&exclude=%2B44&exclude=9122"),
            &alice.auth(),
        )
        .await;
    assert_eq!(e164s(&body), [SAN_FRANCISCO, &blr(1)]);
    assert_eq!(body["total"], 2);

    // ANDed with the other filters, so it beats `search`.
    let (_, body) = t
        .get(&path("search=%2B91&exclude=%2B9180"), &alice.auth())
        .await;
    assert_eq!(e164s(&body), [MUMBAI]);
    assert_eq!(body["total"], 1);

    let (status, body) = t.get(&path("exclude=91x"), &alice.auth()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid request");
}

async fn the_inventory_pages_with_page_and_per_page_clamped_to_100() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    for i in 1..=5 {
        t.stock(&blr(i), "0", "1").await;
    }
    let path = |q: &str| format!("{}/inventory/numbers?{q}", alice.base());

    let (_, body) = t.get(&path(""), &alice.auth()).await;
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

    let (_, body) = t.get(&path("page=3&per_page=2"), &alice.auth()).await;
    assert_eq!(e164s(&body), [blr(5)]);

    let (_, body) = t.get(&path("page=9&per_page=2"), &alice.auth()).await;
    assert_eq!(e164s(&body), Vec::<String>::new());
    assert_eq!(body["total"], 5);

    let (_, body) = t.get(&path("per_page=500"), &alice.auth()).await;
    assert_eq!(body["per_page"], 100);
    assert_eq!(e164s(&body).len(), 5);

    for bad in ["page=0", "per_page=0", "page=two"] {
        let (status, body) = t.get(&path(bad), &alice.auth()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"], "invalid request", "{bad}");
    }
}

async fn purchasing_a_number_returns_it_active_owned_and_billed() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    t.stock(&blr(1), "100", "300").await;

    let (status, body) = t
        .post(
            &format!("{}/numbers/purchase-from-inventory", alice.base_cap()),
            &alice.auth(),
            json!({"e164": blr(1), "currency": "INR"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Number purchased successfully");
    assert_eq!(body["number"]["account_id"], "MA_ALICE");
    assert_eq!(body["number"]["status"], "active");
    assert_eq!(body["number"]["source"], "purchased");
    assert_eq!(
        body["number"]["purchased_at"],
        "2026-06-01T10:00:00.000000Z"
    );
    assert_eq!(
        body["number"]["next_billing_date"],
        "2026-07-01T10:00:00.000000Z"
    );
    insta::assert_json_snapshot!("purchasing_a_number_returns_it_active_owned_and_billed", Snap(&body), { ".number.id" => "[uuid]" });

    // setup_fee + monthly_fee, debited at once.
    assert_eq!(t.balance(&alice).await, 600.0);
    let (_, tx) = t
        .get(
            &format!("{}/transactions?type=debit", alice.base()),
            &alice.auth(),
        )
        .await;
    let debits: Vec<_> = tx["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["reference_type"].clone(),
                e["amount"].clone(),
                e["reference"].clone(),
            )
        })
        .collect();
    assert_eq!(
        debits,
        [
            (
                json!("did_rental"),
                json!(300.0),
                json!(format!("did:{}", blr(1)))
            ),
            (
                json!("did_purchase"),
                json!(100.0),
                json!(format!("did:{}", blr(1)))
            ),
        ]
    );
    assert_eq!(tx["summary"]["total_debit"], 400.0);

    // Owned now, gone from inventory.
    assert_eq!(e164s(&t.owned(&alice).await), [blr(1)]);
    assert!(t.inventory(&alice).await.is_empty());
}

async fn a_sub_account_purchase_lands_on_the_sub_account_and_bills_the_parent() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "1000").await;
    let sub = t.sub(&parent, "SA_CHILD").await;
    t.stock(&blr(1), "100", "300").await;

    let number = t.buy(&sub, &blr(1)).await;
    assert_eq!(number["account_id"], "SA_CHILD");

    assert_eq!(t.balance(&parent).await, 600.0);
    let (status, _) = t
        .get(&format!("{}/balance/INR", sub.base()), &sub.auth())
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the parent's money is not the sub-account's to see"
    );

    let admin = t.admin_number(&blr(1)).await;
    assert_eq!(admin["account_id"], "SA_CHILD");
    assert_eq!(admin["billing_account_id"], "MA_PARENT");
    assert_eq!(e164s(&t.owned(&sub).await), [blr(1)]);
    assert_eq!(e164s(&t.owned(&parent).await), [blr(1)]);
}

async fn purchasing_a_number_that_is_not_in_inventory_is_404() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    let bob = t.master("MA_BOB", "1000").await;
    t.stock(&blr(1), "100", "300").await;
    t.buy(&bob, &blr(1)).await;

    let not_found = json!({"error": "not_found", "message": "number not found in inventory"});
    for e164 in [blr(1), blr(2)] {
        let (status, body) = t
            .post(
                &format!("{}/numbers/purchase-from-inventory", alice.base()),
                &alice.auth(),
                json!({"e164": e164}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{e164}");
        assert_eq!(body, not_found, "{e164}");
    }
    assert_eq!(t.balance(&alice).await, 1000.0);
    assert_eq!(t.admin_number(&blr(1)).await["account_id"], "MA_BOB");
}

async fn a_purchase_the_balance_cannot_cover_is_500_and_leaves_the_number_in_inventory() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "399.99").await;
    t.stock(&blr(1), "100", "300").await;
    let (_, ledger_before) = t
        .get(&format!("{}/transactions", alice.base()), &alice.auth())
        .await;

    let (status, body) = t
        .post(
            &format!("{}/numbers/purchase-from-inventory", alice.base()),
            &alice.auth(),
            json!({"e164": blr(1)}),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body,
        json!({"error": "internal_server_error", "message": "failed to purchase number"})
    );

    assert_eq!(t.inventory(&alice).await, [blr(1)]);
    assert_eq!(t.balance(&alice).await, 399.99);
    let (_, ledger_after) = t
        .get(&format!("{}/transactions", alice.base()), &alice.auth())
        .await;
    assert_eq!(ledger_after, ledger_before);
    let audit = t.audit(&blr(1)).await;
    let actions: Vec<_> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].clone())
        .collect();
    assert_eq!(actions, [json!("stocked")]);
}

async fn a_purchase_the_balance_covers_exactly_succeeds() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "400").await;
    t.stock(&blr(1), "100", "300").await;
    t.buy(&alice, &blr(1)).await;
    assert_eq!(t.balance(&alice).await, 0.0);
}

async fn a_purchase_of_a_malformed_number_is_400() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    let format = "e164 must be a valid phone number in E.164 form, such as +919876543210";
    // Well formed, but no number of its country (strict validation, the default).
    let country = "e164 is not a valid number for its country";
    for (e164, message) in [
        ("+1234567890", country),
        ("abc", format),
        ("", format),
        ("+91 80 4110 0001", format),
    ] {
        let (status, body) = t
            .post(
                &format!("{}/numbers/purchase-from-inventory", alice.base()),
                &alice.auth(),
                json!({"e164": e164}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e164:?}");
        assert_eq!(
            body,
            json!({"error": "invalid request", "message": message}),
            "{e164:?}"
        );
    }
}

async fn a_purchase_in_another_currency_than_the_numbers_is_400() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    t.stock(&blr(1), "100", "300").await;
    let (status, body) = t
        .post(
            &format!("{}/numbers/purchase-from-inventory", alice.base()),
            &alice.auth(),
            json!({"e164": blr(1), "currency": "USD"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid request");
    assert_eq!(t.inventory(&alice).await, [blr(1)]);
    assert_eq!(t.balance(&alice).await, 1000.0);
}

async fn purchase_bodies_that_are_not_the_documented_json_are_400_invalid_request_or_413() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    t.stock(&blr(1), "100", "300").await;
    let path = format!("{}/numbers/purchase-from-inventory", alice.base());
    let huge = format!(
        r#"{{"e164":"{}","pad":"{}"}}"#,
        blr(1),
        "x".repeat(65 * 1024)
    );

    let cases: Vec<(&str, Option<&str>, String, Option<&str>)> = vec![
        (
            "malformed JSON",
            Some("application/json"),
            "{\"e164\":".into(),
            None,
        ),
        (
            "no body and no content type",
            None,
            String::new(),
            Some("expected a JSON body with Content-Type: application/json"),
        ),
        (
            "an empty JSON body",
            Some("application/json"),
            String::new(),
            None,
        ),
        (
            "the wrong content type",
            Some("text/plain"),
            format!(r#"{{"e164":"{}"}}"#, blr(1)),
            Some("expected a JSON body with Content-Type: application/json"),
        ),
        ("a JSON array", Some("application/json"), "[]".into(), None),
        ("no e164 field", Some("application/json"), "{}".into(), None),
        (
            "e164 of the wrong type",
            Some("application/json"),
            r#"{"e164": 918041100001}"#.into(),
            None,
        ),
    ];
    for (what, content_type, body, message) in cases {
        let (status, got) = t
            .raw(Method::POST, &path, &alice.auth(), content_type, body)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {got}");
        assert_eq!(got["error"], "invalid request", "{what}: {got}");
        assert!(
            got["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {got}"
        );
        if let Some(m) = message {
            assert_eq!(got["message"], m, "{what}");
        }
    }
    // Over the limit it is not a bad request but too large: 413 (`wire_fidelity.rs` has every face).
    let (status, got) = t
        .raw(
            Method::POST,
            &path,
            &alice.auth(),
            Some("application/json"),
            huge,
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        got,
        json!({"error": "payload_too_large", "message": "the body is over 65536 bytes"})
    );
    // Nothing was bought.
    assert_eq!(t.inventory(&alice).await, [blr(1)]);
    assert_eq!(t.balance(&alice).await, 1000.0);
}

on_every_backend!(
    a_thousand_excluded_prefixes_are_a_400_not_a_500,
    the_inventory_lists_only_numbers_nobody_owns,
    the_inventory_filters_by_country_in_any_case,
    the_inventory_search_matches_a_substring_with_an_encoded_or_a_raw_plus,
    the_inventory_excludes_prefixes_given_comma_separated_or_repeated_with_or_without_plus,
    the_inventory_pages_with_page_and_per_page_clamped_to_100,
    purchasing_a_number_returns_it_active_owned_and_billed,
    a_sub_account_purchase_lands_on_the_sub_account_and_bills_the_parent,
    purchasing_a_number_that_is_not_in_inventory_is_404,
    a_purchase_the_balance_cannot_cover_is_500_and_leaves_the_number_in_inventory,
    a_purchase_the_balance_covers_exactly_succeeds,
    a_purchase_of_a_malformed_number_is_400,
    a_purchase_in_another_currency_than_the_numbers_is_400,
    purchase_bodies_that_are_not_the_documented_json_are_400_invalid_request_or_413,
);

/// SQLite refused a statement with ~1,000 prefixes left out (a 500); the list takes at most 100.
async fn a_thousand_excluded_prefixes_are_a_400_not_a_500() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    t.stock(&blr(1), "0", "1").await;
    let prefixes = |n: usize| {
        (0..n)
            .map(|i| format!("%2B9{i}"))
            .collect::<Vec<_>>()
            .join("%2C")
    };
    let path = |q: String| format!("{}/inventory/numbers?exclude={q}", alice.base());
    let (status, body) = t.get(&path(prefixes(100)), &alice.auth()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for n in [101, 997, 3000] {
        let (status, body) = t.get(&path(prefixes(n)), &alice.auth()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{n}: {body}");
        assert_eq!(
            body,
            json!({"error": "invalid request", "message": "exclude takes at most 100 prefixes"})
        );
    }
}
