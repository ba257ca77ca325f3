//! Rate limits: a credential past its quota (its account's `rate_limit`, else the operator's
//! default) and an address past its failed authentications are answered `429` in each face's
//! own error shape, with `Retry-After` and the `RateLimit-*` fields.

#[macro_use]
mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use common::{Resp, TestApp};
use didpool::limits::RateLimits;
use didpool_core::credential::CredentialKind;
use serde_json::json;

/// Requests sent before the test gives up waiting for a `429`: far more than any quota here
/// allows in the time they take.
const BOUND: usize = 200;

/// A GET from `address` with these headers.
async fn get_from(t: &TestApp, address: [u8; 4], path: &str, headers: &[(&str, String)]) -> Resp {
    let mut req = Request::builder().method(Method::GET).uri(path);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let mut req = req.body(Body::empty()).expect("a valid request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((address, 40000))));
    t.send(req).await
}

/// Sends the same request until it is refused with `429` (at most [`BOUND`] times); returns how
/// many were answered before, and the refusal.
async fn until_refused(t: &TestApp, path: &str, headers: &[(&str, String)]) -> (usize, Resp) {
    for answered in 0..BOUND {
        let r = get_from(t, [127, 0, 0, 1], path, headers).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            return (answered, r);
        }
        assert!(r.status.is_success(), "{path}: {} {}", r.status, r.body);
    }
    panic!("{path}: no 429 after {BOUND} requests");
}

fn assert_rate_headers(r: &Resp, limit: &str, window: &str) {
    let h = |name: &str| {
        r.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let retry: u64 = h("retry-after").parse().expect("whole seconds");
    assert!(retry >= 1);
    assert_eq!(h("ratelimit-limit"), limit);
    assert_eq!(h("ratelimit-remaining"), "0");
    assert_eq!(h("ratelimit-reset"), retry.to_string());
    assert_eq!(h("ratelimit-policy"), format!("{limit};w={window}"));
}

async fn a_sub_account_whose_rate_limit_is_5_gets_429_with_the_ratelimit_headers() {
    let t = TestApp::spawn().await.with_limits(RateLimits::new(1000, 0));
    let parent = t.master("MA_RATEPARENT", "100").await;
    let (status, body) = t
        .post(
            &format!("/api/v1/accounts/{}/sub-accounts/", parent.id),
            &parent.auth(),
            json!({"name": "Throttled", "rate_limit": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sub = common::Acct {
        id: body["auth_credentials"]["auth_id"]
            .as_str()
            .unwrap()
            .to_owned(),
        token: body["auth_credentials"]["auth_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    };

    let path = format!("{}/numbers", sub.base());
    let (answered, refused) = until_refused(&t, &path, &sub.auth()).await;
    assert!(answered >= 5, "its quota of 5 is served first ({answered})");
    assert!(answered < BOUND);
    assert_eq!(
        refused.body["error"], "too_many_requests",
        "{}",
        refused.body
    );
    assert_rate_headers(&refused, "5", "1");

    // The parent's own credential has the default quota, untouched by its sub-account's.
    let r = get_from(
        &t,
        [127, 0, 0, 1],
        &format!("{}/numbers", parent.base()),
        &parent.auth(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn agni_and_diga_keys_get_the_operators_default_quota_in_their_own_shapes() {
    let t = TestApp::spawn().await.with_limits(RateLimits::new(3, 0));
    let acct = t.master("MA_RATEKEYS", "100").await;

    let (_, agni) = t.key(&acct, CredentialKind::Agni, None).await;
    let (answered, refused) =
        until_refused(&t, "/api/v1/phone-numbers", &[("X-Api-Key", agni)]).await;
    assert!(answered >= 3, "{answered}");
    assert_eq!(refused.body["success"], false, "{}", refused.body);
    assert_eq!(refused.body["data"], serde_json::Value::Null);
    assert_rate_headers(&refused, "3", "1");

    let (_, diga) = t.key(&acct, CredentialKind::Diga, None).await;
    let (answered, refused) = until_refused(
        &t,
        "/v1/phone/",
        &[("Authorization", format!("Bearer {diga}"))],
    )
    .await;
    assert!(answered >= 3, "{answered}");
    assert_eq!(refused.body["status"], "error", "{}", refused.body);
    assert_eq!(refused.body["error_code"], "RATE_LIMIT_EXCEEDED");
    assert_rate_headers(&refused, "3", "1");
}

async fn many_wrong_tokens_from_one_address_get_429_even_for_a_right_one_then() {
    // The default of --auth-failures-per-minute.
    let t = TestApp::spawn().await.with_limits(RateLimits::new(0, 30));
    let acct = t.master("MA_GUESSED", "100").await;
    let path = format!("{}/numbers", acct.base());
    let wrong = |n: usize| {
        vec![
            ("X-Auth-ID", acct.id.clone()),
            ("X-Auth-Token", format!("guess-{n}")),
        ]
    };
    let attacker = [10, 0, 0, 7];
    let mut unauthorized = 0;
    let refused = loop {
        let r = get_from(&t, attacker, &path, &wrong(unauthorized)).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            break r;
        }
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        unauthorized += 1;
        assert!(unauthorized <= BOUND, "no 429 after {BOUND} wrong tokens");
    };
    assert!(
        unauthorized >= 30,
        "the quota is 30 failures a minute ({unauthorized})"
    );
    assert_eq!(
        refused.body["error"], "too_many_requests",
        "{}",
        refused.body
    );
    assert_rate_headers(&refused, "30", "60");

    // From then on the address is refused before its credentials are checked: a right token
    // is not told apart from a wrong one, on every face.
    let r = get_from(&t, attacker, &path, &acct.auth()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let r = get_from(
        &t,
        attacker,
        "/api/v1/phone-numbers",
        &[("X-Api-Key", "k".into())],
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body["success"], false);
    let r = get_from(
        &t,
        attacker,
        "/v1/phone/",
        &[("Authorization", "Bearer k".into())],
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body["error_code"], "RATE_LIMIT_EXCEEDED");
    let r = get_from(&t, attacker, "/admin/v1/check", &TestApp::admin_auth()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body["error"], "too_many_requests");
    assert_rate_headers(&r, "30", "60");

    // Another address is not affected.
    let r = get_from(&t, [10, 0, 0, 8], &path, &acct.auth()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn wrong_operator_tokens_are_throttled_per_address_too() {
    let t = TestApp::spawn().await.with_limits(RateLimits::new(0, 2));
    let wrong = [("Authorization", "Bearer nope".to_owned())];
    for _ in 0..2 {
        let r = get_from(&t, [10, 0, 0, 9], "/admin/v1/check", &wrong).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    let r = get_from(&t, [10, 0, 0, 9], "/admin/v1/check", &wrong).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body["error"], "too_many_requests");
    assert_rate_headers(&r, "2", "60");
}

/// A `method` request from `address` with these headers.
async fn send_from(
    t: &TestApp,
    method: Method,
    address: [u8; 4],
    path: &str,
    headers: &[(&str, String)],
) -> Resp {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let mut req = req.body(Body::empty()).expect("a valid request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((address, 40000))));
    t.send(req).await
}

/// The `Idempotency-Key` layer checks a keyed request's credentials before its route does: the
/// request still draws once from its quota, and a failure counts once.
async fn a_keyed_request_is_counted_once() {
    let t = TestApp::spawn().await.with_limits(RateLimits::new(2, 2));
    let acct = t.master("MA_RATEKEYED", "100").await;
    let (_, agni) = t.key(&acct, CredentialKind::Agni, None).await;
    for n in 0..2 {
        let r = send_from(
            &t,
            Method::DELETE,
            [10, 0, 0, 7],
            "/api/v1/phone-numbers/+14155550100/release",
            &[
                ("X-Api-Key", agni.clone()),
                ("Idempotency-Key", format!("release-{n}")),
            ],
        )
        .await;
        assert_ne!(
            r.status,
            StatusCode::TOO_MANY_REQUESTS,
            "request {n}: {}",
            r.body
        );
    }
    let wrong = [
        ("Authorization", "Bearer nope".to_owned()),
        ("Idempotency-Key", "k".to_owned()),
    ];
    for n in 0..2 {
        let r = send_from(
            &t,
            Method::POST,
            [10, 0, 0, 8],
            "/admin/v1/accounts",
            &wrong,
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "failure {n}: {}",
            r.body
        );
    }
    let r = send_from(
        &t,
        Method::POST,
        [10, 0, 0, 8],
        "/admin/v1/accounts",
        &wrong,
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
}

/// The operator gives a master account its own rate: its credentials get that quota, not the
/// default; a negative one is refused.
async fn a_master_accounts_own_rate_limit_replaces_the_default() {
    let t = TestApp::spawn().await.with_limits(RateLimits::new(1000, 0));
    let admin = [("Authorization", format!("Bearer {}", common::ADMIN_TOKEN))];
    let (status, body) = t
        .post(
            "/admin/v1/accounts",
            &admin,
            json!({"name": "Slow Co", "id": "MA_RATEOWN", "rate_limit": 4}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let acct = common::Acct {
        id: "MA_RATEOWN".into(),
        token: body["auth_token"].as_str().unwrap().to_owned(),
    };
    let (answered, refused) =
        until_refused(&t, &format!("{}/numbers", acct.base()), &acct.auth()).await;
    assert!(answered >= 4, "{answered}");
    assert_rate_headers(&refused, "4", "1");

    let (status, body) = t
        .post(
            "/admin/v1/accounts",
            &admin,
            json!({"name": "Bad Co", "rate_limit": -1}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// The SIP edge's key is guessed no faster than any other credential.
async fn wrong_edge_keys_are_throttled_per_address_too() {
    let t = TestApp::spawn().await.with_limits(RateLimits::new(0, 2));
    let wrong = [("Authorization", "Bearer edge_wrong".to_owned())];
    let path = "/routing/v1/numbers/%2B14155550100";
    for _ in 0..2 {
        let r = get_from(&t, [10, 0, 0, 11], path, &wrong).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    let r = get_from(&t, [10, 0, 0, 11], path, &wrong).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body["error"], "too_many_requests");
    assert_rate_headers(&r, "2", "60");
}

on_every_backend!(
    wrong_edge_keys_are_throttled_per_address_too,
    a_master_accounts_own_rate_limit_replaces_the_default,
    a_keyed_request_is_counted_once,
    a_sub_account_whose_rate_limit_is_5_gets_429_with_the_ratelimit_headers,
    agni_and_diga_keys_get_the_operators_default_quota_in_their_own_shapes,
    many_wrong_tokens_from_one_address_get_429_even_for_a_right_one_then,
    wrong_operator_tokens_are_throttled_per_address_too,
);
