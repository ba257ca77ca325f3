//! The Vobiz face: authentication, the path's `auth_id`, tolerance of what real clients send,
//! and the rule that a refused request changes nothing.

#[macro_use]
mod common;

use axum::http::{Method, StatusCode};
use chrono::Duration;
use common::{blr, enc, Acct, TestApp};
use serde_json::{json, Value};

/// One request of every route, as `who` would send it for `path_id`'s account.
fn every_route(path_id: &str) -> Vec<(Method, String, Option<Value>)> {
    let a = format!("/api/v1/account/{path_id}");
    let n = enc(&blr(1));
    let trunk = "00000000-0000-4000-8000-000000000000";
    vec![
        (Method::GET, format!("{a}/numbers"), None),
        (Method::GET, format!("{a}/inventory/numbers"), None),
        (
            Method::POST,
            format!("{a}/numbers/purchase-from-inventory"),
            Some(json!({"e164": blr(1)})),
        ),
        (Method::GET, format!("{a}/numbers/{n}"), None),
        (Method::DELETE, format!("{a}/numbers/{n}"), None),
        (
            Method::POST,
            format!("{a}/numbers/{n}/assign"),
            Some(json!({"trunk_group_id": trunk})),
        ),
        (Method::DELETE, format!("{a}/numbers/{n}/assign"), None),
        (
            Method::POST,
            format!("{a}/numbers/{n}/assign-subaccount"),
            Some(json!({"sub_account_id": "SA_X"})),
        ),
        (
            Method::DELETE,
            format!("{a}/numbers/{n}/assign-subaccount"),
            None,
        ),
        (Method::GET, format!("{a}/trunks"), None),
        (
            Method::POST,
            format!("{a}/trunks"),
            Some(json!({"name": "T"})),
        ),
        (Method::GET, format!("{a}/trunks/{trunk}"), None),
        (
            Method::PUT,
            format!("{a}/trunks/{trunk}"),
            Some(json!({"name": "T"})),
        ),
        (Method::DELETE, format!("{a}/trunks/{trunk}"), None),
        (Method::GET, format!("{a}/balance/INR"), None),
        (Method::GET, format!("{a}/transactions"), None),
        (
            Method::GET,
            format!("/api/v1/Account/{path_id}/numbers"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/accounts/{path_id}/sub-accounts/"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/accounts/{path_id}/sub-accounts/"),
            Some(json!({"name": "S"})),
        ),
        (
            Method::GET,
            format!("/api/v1/accounts/{path_id}/sub-accounts/SA_X"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/accounts/{path_id}/sub-accounts/SA_X"),
            Some(json!({"name": "S"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/accounts/{path_id}/sub-accounts/SA_X"),
            None,
        ),
    ]
}

fn invalid_token() -> Value {
    json!({"error": {"code": 401, "message": "Invalid token"}})
}

async fn every_route_without_valid_credentials_is_401_invalid_token() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    let bob = t.master("MA_BOB", "1000").await;
    t.stock(&blr(1), "0", "1").await;

    let bad_credentials: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("none", vec![]),
        (
            "a wrong token",
            vec![
                ("X-Auth-ID", alice.id.clone()),
                ("X-Auth-Token", "nope".into()),
            ],
        ),
        (
            "another account's token",
            vec![
                ("X-Auth-ID", alice.id.clone()),
                ("X-Auth-Token", bob.token.clone()),
            ],
        ),
        (
            "an unknown auth id",
            vec![
                ("X-Auth-ID", "MA_NOBODY".into()),
                ("X-Auth-Token", alice.token.clone()),
            ],
        ),
        (
            "a malformed auth id",
            vec![
                ("X-Auth-ID", "alice".into()),
                ("X-Auth-Token", alice.token.clone()),
            ],
        ),
        ("only the auth id", vec![("X-Auth-ID", alice.id.clone())]),
        (
            "only the token",
            vec![("X-Auth-Token", alice.token.clone())],
        ),
        // Documented: the auth token is not a Bearer token.
        (
            "the token as Bearer",
            vec![("Authorization", format!("Bearer {}", alice.token))],
        ),
        (
            "a wrong Basic pair",
            Acct {
                id: alice.id.clone(),
                token: "nope".into(),
            }
            .basic(),
        ),
        (
            "a malformed Basic header",
            vec![("Authorization", "Basic !!!".into())],
        ),
    ];
    let mut routes = every_route(&alice.id);
    routes.push((Method::GET, "/api/v1/auth/me".into(), None));
    for (what, headers) in &bad_credentials {
        for (method, path, body) in &routes {
            let (status, got) = t.call(method.clone(), path, headers, body.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {method} {path}");
            assert_eq!(got, invalid_token(), "{what}: {method} {path}");
        }
    }
    assert_eq!(t.inventory(&alice).await, [blr(1)]);
    let (_, trunks) = t
        .get(&format!("{}/trunks", alice.base()), &alice.auth())
        .await;
    assert_eq!(trunks["meta"]["total"], 0);
}

async fn every_route_under_another_accounts_auth_id_is_403_account_id_mismatch() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    let bob = t.master("MA_BOB", "1000").await;
    let sub = t.sub(&bob, "SA_BOBS").await;
    t.stock(&blr(1), "0", "1").await;
    let mismatch = json!({"error": {"code": 403, "message": "Access denied: account ID mismatch"}});

    for (who, path_id) in [
        (&alice, "MA_BOB"),
        (&bob, "SA_BOBS"),
        (&sub, "MA_BOB"),
        (&alice, "ma_alice"),
    ] {
        for (method, path, body) in every_route(path_id) {
            let (status, got) = t.call(method.clone(), &path, &who.auth(), body).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{} → {method} {path}",
                who.id
            );
            assert_eq!(got, mismatch, "{} → {method} {path}", who.id);
        }
    }
    assert_eq!(t.inventory(&alice).await, [blr(1)]);
    assert_eq!(t.balance(&bob).await, 1000.0);
}

async fn http_basic_auth_works_like_the_x_auth_headers() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    t.stock(&blr(1), "0", "1").await;

    let (status, me) = t.get("/api/v1/auth/me", &alice.basic()).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["auth_id"], "MA_ALICE");

    let (status, body) = t
        .post(
            &format!("{}/numbers/purchase-from-inventory", alice.base()),
            &alice.basic(),
            json!({"e164": blr(1)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = t
        .get(&format!("{}/transactions", alice.base()), &alice.basic())
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn valid_x_auth_headers_win_over_an_extra_bearer_header() {
    // The generated (Fern) SDK sends X-Auth-ID, X-Auth-Token and a Bearer header together.
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    let mut headers = alice.auth();
    headers.push(("Authorization", "Bearer some-access-token".into()));
    let (status, me) = t.get("/api/v1/auth/me", &headers).await;
    assert_eq!(status, StatusCode::OK, "{me}");
}

async fn unknown_query_parameters_and_json_fields_are_ignored() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    t.stock(&blr(1), "0", "1").await;

    let (status, body) = t
        .get(
            &format!(
                "{}/inventory/numbers?country=IN&foo=bar&from_date=2020-01-01&limit=1",
                alice.base()
            ),
            &alice.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 1);

    let (status, body) = t
        .post(
            &format!("{}/numbers/purchase-from-inventory", alice.base()),
            &alice.auth(),
            json!({"e164": blr(1), "currency": "INR", "extra": {"nested": [1, 2]}, "app_id": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = t
        .post(
            &format!("{}/trunks?verbose=1", alice.base()),
            &alice.auth(),
            json!({"name": "T1", "inbound_uri": "sip:a@example.com", "outbound_uri": "sip:b@example.com", "username": "u", "password": "p"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body) = t
        .post(
            &format!("/api/v1/accounts/{}/sub-accounts/", alice.id),
            &alice.auth(),
            json!({"name": "S", "kyc_mode": "personal_use", "business_type": "llp", "password": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, _) = t.get("/api/v1/auth/me?x=y", &alice.auth()).await;
    assert_eq!(status, StatusCode::OK);
}

async fn an_unknown_route_is_404_not_found() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    for path in [
        "/api/v1/account/MA_ALICE/nope",
        "/api/v2/auth/me",
        "/api/v1/ACCOUNT/MA_ALICE/numbers",
    ] {
        let (status, body) = t.get(path, &alice.auth()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            body,
            json!({"error": "not_found", "message": "no such route"}),
            "{path}"
        );
    }
}

async fn every_response_carries_a_request_id() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    let req = axum::http::Request::get("/api/v1/auth/me")
        .header("X-Auth-ID", &alice.id)
        .header("X-Auth-Token", &alice.token)
        .header("x-request-id", "req-123")
        .body(axum::body::Body::empty())
        .unwrap();
    let r = t.send(req).await;
    assert_eq!(r.headers["x-request-id"], "req-123");
    let req = axum::http::Request::get("/api/v1/auth/me")
        .body(axum::body::Body::empty())
        .unwrap();
    let r = t.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!r.headers["x-request-id"].is_empty());
}

/// A request that must be refused: what it is, who sends it, how, and the expected status.
type Refused<'a> = (&'a str, &'a Acct, Method, String, Option<Value>, StatusCode);

/// What a refused request must leave alone: the number, both balances and ledgers, the trail.
async fn world(t: &TestApp, alice: &Acct, bob: &Acct) -> Value {
    let (_, alice_ledger) = t
        .get(&format!("{}/transactions", alice.base()), &alice.auth())
        .await;
    let (_, bob_ledger) = t
        .get(&format!("{}/transactions", bob.base()), &bob.auth())
        .await;
    let (_, trunks) = t
        .get(&format!("{}/trunks", alice.base()), &alice.auth())
        .await;
    json!({
        "numbers": [t.admin_number(&blr(1)).await, t.admin_number(&blr(2)).await],
        "audit": [t.audit(&blr(1)).await, t.audit(&blr(2)).await],
        "ledgers": [alice_ledger, bob_ledger],
        "trunks": trunks,
        "inventory": t.inventory(alice).await,
    })
}

async fn a_refused_request_never_changes_anything() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let sub = t.sub(&alice, "SA_CHILD").await;
    let bob = t.master("MA_BOB", "50").await;
    t.stock(&blr(1), "100", "300").await;
    t.stock(&blr(2), "100", "300").await;
    t.buy(&alice, &blr(1)).await;
    let trunk = t.trunk(&alice, "Main").await;
    let bobs_trunk = t.trunk(&bob, "Bob's").await;
    let n = enc(&blr(1));
    let a = alice.base();
    assert_eq!(
        t.post(
            &format!("{a}/numbers/{n}/assign"),
            &alice.auth(),
            json!({"trunk_group_id": trunk})
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.post(
            &format!("{a}/numbers/{n}/assign-subaccount"),
            &alice.auth(),
            json!({"sub_account_id": sub.id})
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    t.report_call(&blr(1), t.now() - Duration::days(2)).await;
    t.advance(Duration::hours(1));
    let before = world(&t, &alice, &bob).await;

    let b = bob.base();
    let refused: Vec<Refused> = vec![
        (
            "release by a stranger",
            &bob,
            Method::DELETE,
            format!("{b}/numbers/{n}"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "purchase of an owned number",
            &bob,
            Method::POST,
            format!("{b}/numbers/purchase-from-inventory"),
            Some(json!({"e164": blr(1)})),
            StatusCode::NOT_FOUND,
        ),
        (
            "purchase beyond the balance",
            &bob,
            Method::POST,
            format!("{b}/numbers/purchase-from-inventory"),
            Some(json!({"e164": blr(2)})),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
        (
            "purchase in the wrong currency",
            &alice,
            Method::POST,
            format!("{a}/numbers/purchase-from-inventory"),
            Some(json!({"e164": blr(2), "currency": "USD"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "second trunk assignment",
            &alice,
            Method::POST,
            format!("{a}/numbers/{n}/assign"),
            Some(json!({"trunk_group_id": trunk})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "assignment to a stranger's trunk",
            &bob,
            Method::POST,
            format!("{b}/numbers/{n}/assign"),
            Some(json!({"trunk_group_id": bobs_trunk})),
            StatusCode::NOT_FOUND,
        ),
        (
            "unassignment by a stranger",
            &bob,
            Method::DELETE,
            format!("{b}/numbers/{n}/assign"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "hand-over to an unknown sub-account",
            &alice,
            Method::POST,
            format!("{a}/numbers/{n}/assign-subaccount"),
            Some(json!({"sub_account_id": "SA_NOBODY"})),
            StatusCode::NOT_FOUND,
        ),
        (
            "hand-over of a DID already handed over",
            &alice,
            Method::POST,
            format!("{a}/numbers/{n}/assign-subaccount"),
            Some(json!({"sub_account_id": sub.id})),
            StatusCode::CONFLICT,
        ),
        (
            "take-back in the cool-off",
            &alice,
            Method::DELETE,
            format!("{a}/numbers/{n}/assign-subaccount"),
            None,
            StatusCode::CONFLICT,
        ),
        (
            "forced take-back by a customer",
            &alice,
            Method::DELETE,
            format!("{a}/numbers/{n}/assign-subaccount?force=true"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "deletion of a sub-account holding the DID",
            &alice,
            Method::DELETE,
            format!("/api/v1/accounts/{}/sub-accounts/{}", alice.id, sub.id),
            None,
            StatusCode::CONFLICT,
        ),
        (
            "deletion of a stranger's trunk",
            &alice,
            Method::DELETE,
            format!("{a}/trunks/{bobs_trunk}"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "a trunk update out of range",
            &alice,
            Method::PUT,
            format!("{a}/trunks/{trunk}"),
            Some(json!({"name": "x", "cps_limit": 500})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a trunk without a name",
            &alice,
            Method::POST,
            format!("{a}/trunks"),
            Some(json!({"cps_limit": 3})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a release under another auth id",
            &alice,
            Method::DELETE,
            format!("{b}/numbers/{n}"),
            None,
            StatusCode::FORBIDDEN,
        ),
    ];
    for (what, who, method, path, body, expected) in refused {
        let (status, got) = t.call(method, &path, &who.auth(), body).await;
        assert_eq!(status, expected, "{what}: {got}");
        let (status, _) = t.delete(&format!("{a}/numbers/{n}"), &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            world(&t, &alice, &bob).await,
            before,
            "{what} changed something"
        );
    }
}

async fn a_method_a_route_does_not_take_is_405_with_a_json_error_and_the_allowed_methods() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "0").await;
    for (path, headers, allow) in [
        (
            format!("{}/trunks", alice.base()),
            alice.auth(),
            "GET,HEAD,POST",
        ),
        (
            format!("{}/numbers/purchase-from-inventory", alice.base()),
            alice.auth(),
            "POST",
        ),
        (
            "/admin/v1/accounts".to_owned(),
            TestApp::admin_auth(),
            "POST",
        ),
    ] {
        let mut req = axum::http::Request::patch(&path);
        for (k, v) in &headers {
            req = req.header(*k, v);
        }
        let r = t.send(req.body(axum::body::Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(r.headers["allow"], allow, "{path}");
        assert_eq!(
            r.body,
            json!({"error": "method_not_allowed", "message": "this route does not take that method"}),
            "{path}"
        );
    }
}

on_every_backend!(
    every_route_without_valid_credentials_is_401_invalid_token,
    every_route_under_another_accounts_auth_id_is_403_account_id_mismatch,
    http_basic_auth_works_like_the_x_auth_headers,
    valid_x_auth_headers_win_over_an_extra_bearer_header,
    unknown_query_parameters_and_json_fields_are_ignored,
    an_unknown_route_is_404_not_found,
    every_response_carries_a_request_id,
    a_refused_request_never_changes_anything,
    a_method_a_route_does_not_take_is_405_with_a_json_error_and_the_allowed_methods,
);
