//! What a URL, a query and a body may carry, pinned on every face: one decoding of the path and
//! the query (a bad escape is the face's own error, and never skips the account check), a `+`
//! encoded twice is no number, a raw `+` in a number filter is a prefix, Agni's available numbers
//! page through the whole stock, the number validation rule (`strict` or `e164`), and oversized
//! bodies refused in each face's shape, unread when their length says so.

#[allow(unused_macros)]
#[macro_use]
mod common;

use std::str::FromStr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use common::{blr, enc, Acct, Resp, TestApp};
use didpool_core::credential::CredentialKind;
use didpool_core::engine::By;
use didpool_core::lifecycle::Command;
use didpool_core::money::{Currency, Decimal};
use didpool_core::number::NewNumber;
use didpool_core::{Capabilities, NumberValidation, E164};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_every_backend!(
    a_path_account_that_does_not_decode_is_refused_and_changes_nothing,
    a_bad_escape_anywhere_is_the_faces_own_json_error_after_its_auth,
    a_plus_encoded_twice_is_not_a_number_on_any_face_nor_any_method,
    a_raw_plus_in_a_number_filter_is_a_prefix_of_the_e164,
    agni_available_numbers_pages_through_the_whole_stock,
    a_number_the_metadata_does_not_know_is_refused_for_its_country_on_every_face,
    under_e164_validation_made_up_numbers_work_on_every_face_and_the_import,
    the_cli_import_follows_the_number_validation_flag_or_its_environment_variable,
    an_oversized_body_is_each_faces_413_with_connection_close,
    a_declared_oversized_body_is_refused_unread,
    a_declared_oversized_body_is_refused_before_100_continue_on_a_real_socket,
);

const A_BAD_ESCAPE: [&str; 3] = ["%FF", "%C0%AF", "%G1"];

fn json_content(r: &Resp) -> bool {
    r.headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

async fn send(
    t: &TestApp,
    method: Method,
    path: &str,
    auth: &[(&str, String)],
    body: Option<Value>,
) -> Resp {
    t.request(method, path, auth, body).await
}

fn agni(key: &str) -> Vec<(&'static str, String)> {
    vec![("X-Api-Key", key.to_owned())]
}

fn diga(key: &str) -> Vec<(&'static str, String)> {
    vec![("Authorization", format!("Bearer {key}"))]
}

/// Loads `csv` (header and rows) through the admin API's inventory import.
async fn import(t: &TestApp, csv: &str) -> Value {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/admin/v1/inventory")
        .header("Authorization", format!("Bearer {}", common::ADMIN_TOKEN))
        .header(header::CONTENT_TYPE, "text/csv")
        .body(Body::from(format!(
            "e164,country,region,setup_fee,monthly_fee,currency\n{csv}"
        )))
        .unwrap();
    let r = t.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn trunks(t: &TestApp, who: &Acct) -> Value {
    let (status, body) = t.get(&format!("{}/trunks", who.base()), &who.auth()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["meta"]["total"].clone()
}

/// Found by review: `{auth_id}` was compared with the caller's only when it decoded, so
/// `…/Account/{other}%FF/numbers/purchase-from-inventory` bought a number for the caller and
/// `…/trunks` created a trunk. Every Vobiz route that names an account, with the account another's
/// or the caller's own, refused with 400 before anything is read or written.
async fn a_path_account_that_does_not_decode_is_refused_and_changes_nothing() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let bob = t.master("MA_BOB", "10000").await;
    t.stock(&blr(1), "10", "100").await;
    let routes: [(Method, &str, Option<Value>); 9] = [
        (
            Method::POST,
            "/api/v1/Account/{a}/numbers/purchase-from-inventory",
            Some(json!({"e164": blr(1)})),
        ),
        (
            Method::POST,
            "/api/v1/account/{a}/trunks",
            Some(json!({"name": "T"})),
        ),
        (
            Method::POST,
            "/api/v1/accounts/{a}/sub-accounts",
            Some(json!({"name": "S"})),
        ),
        (Method::GET, "/api/v1/Account/{a}/numbers", None),
        (Method::GET, "/api/v1/account/{a}/inventory/numbers", None),
        (Method::GET, "/api/v1/Account/{a}/balance/INR", None),
        (Method::GET, "/api/v1/Account/{a}/transactions", None),
        (
            Method::DELETE,
            "/api/v1/Account/{a}/numbers/%2B918041100001",
            None,
        ),
        (Method::GET, "/api/v1/accounts/{a}/sub-accounts", None),
    ];
    for (method, template, body) in routes {
        for account in [&bob.id, &alice.id] {
            for escape in A_BAD_ESCAPE {
                let path = template.replace("{a}", &format!("{account}{escape}"));
                let r = send(&t, method.clone(), &path, &alice.auth(), body.clone()).await;
                assert_eq!(
                    r.status,
                    StatusCode::BAD_REQUEST,
                    "{method} {path}: {}",
                    r.body
                );
                assert_eq!(r.body["error"], "invalid request", "{path}");
                assert!(json_content(&r), "{path}");
            }
        }
    }
    assert_eq!(t.inventory(&alice).await, [blr(1)]);
    assert_eq!(t.balance(&alice).await, 10000.0);
    assert_eq!(t.balance(&bob).await, 10000.0);
    assert_eq!(trunks(&t, &alice).await, 0);
    assert_eq!(trunks(&t, &bob).await, 0);
    let (_, subs) = t
        .get(
            &format!("/api/v1/accounts/{}/sub-accounts", alice.id),
            &alice.auth(),
        )
        .await;
    assert_eq!(subs["sub_accounts"], json!([]), "{subs}");
    t.assert_sound().await;
}

/// Found by review: elsewhere a bad escape was axum's `text/plain` "Invalid URL…". Each face now
/// answers its own JSON error, after its own auth (a caller without credentials learns nothing
/// of the URL): Vobiz, Agni and the admin API a 400; Diga, as FastAPI, its 422 validation error.
async fn a_bad_escape_anywhere_is_the_faces_own_json_error_after_its_auth() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let (_, agni_key) = t.key(&alice, CredentialKind::Agni, None).await;
    let (_, diga_key) = t.key(&alice, CredentialKind::Diga, None).await;
    let admin = TestApp::admin_auth();
    for escape in A_BAD_ESCAPE {
        let a = &alice.id;
        let vobiz = [
            (
                Method::GET,
                format!("/api/v1/Account/{a}/numbers/{escape}918041100001"),
            ),
            (
                Method::DELETE,
                format!("/api/v1/Account/{a}/numbers/%2B91{escape}/assign"),
            ),
            (Method::GET, format!("/api/v1/Account/{a}/trunks/{escape}")),
            (
                Method::DELETE,
                format!("/api/v1/Account/{a}/trunks/x{escape}"),
            ),
            (
                Method::GET,
                format!("/api/v1/Account/{a}/balance/IN{escape}"),
            ),
            (
                Method::GET,
                format!("/api/v1/accounts/{a}/sub-accounts/SA_{escape}"),
            ),
            (
                Method::GET,
                format!("/api/v1/Account/{a}/numbers?search={escape}"),
            ),
            (
                Method::GET,
                format!("/api/v1/Account/{a}/inventory/numbers?country=I{escape}"),
            ),
        ];
        for (method, path) in vobiz {
            let r = send(&t, method.clone(), &path, &alice.auth(), None).await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{method} {path}: {}",
                r.body
            );
            assert_eq!(r.body["error"], "invalid request", "{path}");
            assert!(json_content(&r), "{path}");
            let r = send(&t, method.clone(), &path, &[], None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        }
        let agni_paths = [
            (
                Method::DELETE,
                format!("/api/v1/phone-numbers/{escape}14155552671/release"),
            ),
            (
                Method::GET,
                format!("/api/v1/phone-numbers/available-numbers/U{escape}"),
            ),
            (
                Method::GET,
                format!("/api/v1/phone-numbers/?region={escape}"),
            ),
            (
                Method::GET,
                format!("/api/v1/phone-numbers/available-numbers/US?region=C{escape}"),
            ),
        ];
        for (method, path) in agni_paths {
            let r = send(&t, method.clone(), &path, &agni(&agni_key), None).await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{method} {path}: {}",
                r.body
            );
            assert_eq!(r.body["success"], false, "{path}");
            assert_eq!(r.body["data"], Value::Null, "{path}");
            assert!(
                r.body["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("The URL is not valid")),
                "{path}: {}",
                r.body
            );
            assert!(json_content(&r), "{path}");
            let r = send(&t, method.clone(), &path, &[], None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        }
        for (method, path) in [
            (
                Method::GET,
                format!("/admin/v1/numbers/{escape}918041100001"),
            ),
            (Method::GET, format!("/admin/v1/accounts/MA_{escape}")),
            (
                Method::POST,
                format!("/admin/v1/numbers/%2B{escape}/checkout"),
            ),
        ] {
            let r = send(&t, method.clone(), &path, &admin, None).await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{method} {path}: {}",
                r.body
            );
            assert_eq!(r.body["error"], "invalid_request", "{path}");
            assert!(json_content(&r), "{path}");
            let r = send(&t, method.clone(), &path, &[], None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        }
        // Diga decodes as FastAPI does (what does not decode becomes U+FFFD): never a phone id.
        for method in [Method::GET, Method::DELETE] {
            let path = format!("/v1/phone/{escape}");
            let r = send(&t, method.clone(), &path, &diga(&diga_key), None).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}: {}",
                r.body
            );
            assert_eq!(r.body["detail"][0]["type"], "uuid_parsing", "{path}");
            assert_eq!(r.body["detail"][0]["loc"][0], "path", "{path}");
            assert!(json_content(&r), "{path}");
            let r = send(&t, method.clone(), &path, &[], None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        }
    }
}

/// Found by review: the Vobiz face decoded `%252B…` a second time and took it as `+`, even to
/// release, while Agni and the admin API refused it. The rule, on every face: one decoding, so
/// `%252B91…` is the text `%2B91…`, not a number (400); `%2B91…` and a raw `+91…` are the number.
async fn a_plus_encoded_twice_is_not_a_number_on_any_face_nor_any_method() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let (_, agni_key) = t.key(&alice, CredentialKind::Agni, None).await;
    t.stock(&blr(1), "0", "1").await;
    t.buy(&alice, &blr(1)).await;
    let twice = blr(1).replacen('+', "%252B", 1);
    let bad = json!({"error": "invalid request", "message": "The phone number format is invalid. Ensure it is URL-encoded correctly."});
    for (method, suffix) in [
        (Method::GET, ""),
        (Method::DELETE, ""),
        (Method::POST, "/cancel-release"),
        (Method::DELETE, "/assign"),
        (Method::DELETE, "/assign-subaccount"),
    ] {
        for base in [alice.base(), alice.base_cap()] {
            let path = format!("{base}/numbers/{twice}{suffix}");
            let body = (method == Method::POST).then(|| json!({}));
            let r = send(&t, method.clone(), &path, &alice.auth(), body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{method} {path}");
            assert_eq!(r.body, bad, "{method} {path}");
        }
    }
    let r = send(
        &t,
        Method::DELETE,
        &format!("/api/v1/phone-numbers/{twice}/release"),
        &agni(&agni_key),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = send(
        &t,
        Method::GET,
        &format!("/admin/v1/numbers/{twice}"),
        &TestApp::admin_auth(),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(t.admin_number(&blr(1)).await["state"], "active");

    // Encoded once, or raw: the number.
    for once in [enc(&blr(1)), blr(1)] {
        let (status, body) = t
            .get(&format!("{}/numbers/{once}", alice.base()), &alice.auth())
            .await;
        assert_eq!(status, StatusCode::OK, "{once}: {body}");
    }
}

/// Found by review: `search=+9180` arrives form-decoded as `" 9180"`; the Vobiz face trimmed it
/// and searched the digits `9180` anywhere, listing numbers the client did not ask for. A leading
/// space in a number filter is the `+`: a prefix of the E.164, country code included.
async fn a_raw_plus_in_a_number_filter_is_a_prefix_of_the_e164() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    // 9180 at the start of one, inside the other.
    let us = "+14155559180";
    t.stock(&blr(1), "0", "1").await;
    t.stock(us, "0", "1").await;
    let list = |path: String| {
        let t = &t;
        let alice = &alice;
        async move {
            let (status, body) = t.get(&path, &alice.auth()).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            common::e164s(&body)
        }
    };
    let inv = format!("{}/inventory/numbers", alice.base());
    assert_eq!(list(format!("{inv}?search=+9180")).await, [blr(1)]);
    assert_eq!(list(format!("{inv}?search=%2B9180")).await, [blr(1)]);
    assert_eq!(list(format!("{inv}?search=9180")).await.len(), 2);
    assert_eq!(list(format!("{inv}?exclude=+9180")).await, [us]);
    assert_eq!(
        list(format!("{inv}?exclude=+1,+9180")).await,
        Vec::<String>::new()
    );
    // A space anywhere else is no number.
    let (status, _) = t.get(&format!("{inv}?search=91+80"), &alice.auth()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    t.buy(&alice, &blr(1)).await;
    t.buy(&alice, us).await;
    let owned = format!("{}/numbers", alice.base());
    assert_eq!(list(format!("{owned}?search=+9180")).await, [blr(1)]);
    assert_eq!(list(format!("{owned}?search=+1415")).await, [us]);

    // A time's offset is no number filter: a raw `+` there is refused, saying how to send it.
    let tx = format!("{}/transactions", alice.base());
    let (status, body) = t
        .get(
            &format!("{tx}?from_date=2026-06-01T00:00:00+05:30"),
            &alice.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "from_date must be YYYY-MM-DD or an RFC 3339 time (send the + of an offset as %2B)"
    );
    let (status, body) = t
        .get(
            &format!("{tx}?from_date=2026-06-01T00:00:00%2B05:30"),
            &alice.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Stocks `count` US numbers, `+1415555` and four digits, in one command.
async fn stock_us(t: &TestApp, count: u32) -> Vec<String> {
    let numbers: Vec<NewNumber> = (0..count)
        .map(|i| NewNumber {
            e164: E164::parse(&format!("+1415555{i:04}")).expect("a valid number"),
            country: "US".into(),
            region: Some("California".into()),
            capabilities: Capabilities::VOICE,
            provider: String::new(),
            setup_fee: Decimal::ZERO,
            monthly_fee: Decimal::from_str("1.15").unwrap(),
            currency: Currency::parse("USD").unwrap(),
        })
        .collect();
    let mut all: Vec<String> = numbers.iter().map(|n| n.e164.to_string()).collect();
    t.engine
        .run(&By::operator(None), Command::AddInventory { numbers })
        .await
        .expect("stocked");
    all.sort();
    all
}

/// Found by review: Agni's available-numbers search read `page_size` only and stopped at 100, so
/// an Agni client never saw most of the stock. It pages with `limit` (or `page_size`, R12's name)
/// and `offset` (reference §1.5), or `page`; a page shorter than asked for is the last.
async fn agni_available_numbers_pages_through_the_whole_stock() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let (_, key) = t.key(&alice, CredentialKind::Agni, None).await;
    let all = stock_us(&t, 130).await;
    let page = |query: &str| {
        let t = &t;
        let key = key.clone();
        let uri = format!("/api/v1/phone-numbers/available-numbers/US/?{query}");
        async move {
            let r = send(t, Method::GET, &uri, &agni(&key), None).await;
            assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.body);
            r.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["phone_number"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page("").await, all[..20]);
    assert_eq!(page("limit=500").await, all[..100]);
    let mut seen = page("limit=100").await;
    seen.extend(page("limit=100&offset=100").await);
    assert_eq!(seen, all);
    let mut seen = Vec::new();
    for n in 1..=3 {
        seen.extend(page(&format!("page_size=50&page={n}")).await);
    }
    assert_eq!(seen, all);
    assert_eq!(page("page=7&limit=20").await, all[120..]);
    assert_eq!(page("offset=125&page_size=10").await, all[125..]);
    assert_eq!(page("offset=130").await, Vec::<String>::new());
    for (query, message) in [
        ("page=2&offset=20", "Give offset or page, not both"),
        (
            "limit=10&page_size=10",
            "Give limit or page_size, not both (they are the same)",
        ),
        ("page=0", "page must be a whole number of at least 1"),
        ("page=4294967296", "page must be at most 4294967295"),
        ("offset=-1", "offset must be a whole number of at least 0"),
    ] {
        let uri = format!("/api/v1/phone-numbers/available-numbers/US/?{query}");
        let r = send(&t, Method::GET, &uri, &agni(&key), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(
            r.body,
            json!({"success": false, "message": message, "data": null}),
            "{uri}"
        );
    }
}

/// Found by review: a well-formed number libphonenumber's data does not know (an unassigned NANP
/// area code, an old-format Lagos landline) was refused with a message about its format. Under
/// strict validation (`serve`'s default) every face and the import say what is wrong.
async fn a_number_the_metadata_does_not_know_is_refused_for_its_country_on_every_face() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let (_, agni_key) = t.key(&alice, CredentialKind::Agni, None).await;
    let (_, diga_key) = t.key(&alice, CredentialKind::Diga, None).await;
    for unknown in ["+12005550100", "+23412345678"] {
        let (status, body) = t
            .post(
                &format!("{}/numbers/purchase-from-inventory", alice.base()),
                &alice.auth(),
                json!({"e164": unknown}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"error": "invalid request", "message": "e164 is not a valid number for its country"})
        );
        let (status, body) = t
            .delete(
                &format!("{}/numbers/{}", alice.base(), enc(unknown)),
                &alice.auth(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"error": "invalid request", "message": "The phone number is not a valid number for its country."})
        );
        let agni_error = json!({"success": false, "message": "phone_number is not a valid number for its country", "data": null});
        for (path, body) in [
            (
                "/api/v1/phone-numbers/buy",
                json!({"phone_number": unknown, "price": 1}),
            ),
            (
                "/api/v1/phone-numbers/add-twilio",
                json!({"phone_number": unknown, "number_sid": "PN1"}),
            ),
        ] {
            let r = send(&t, Method::POST, path, &agni(&agni_key), Some(body)).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
            assert_eq!(r.body, agni_error, "{path}");
        }
        let r = send(
            &t,
            Method::DELETE,
            &format!("/api/v1/phone-numbers/{}/release", enc(unknown)),
            &agni(&agni_key),
            None,
        )
        .await;
        assert_eq!(r.body, agni_error);
        let r = send(
            &t,
            Method::POST,
            "/v1/phone/import",
            &diga(&diga_key),
            Some(json!({"phone_number": unknown})),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            r.body,
            json!({"status": "error", "error_code": "NOT_VALID_FIELD",
                   "message": format!("Phone number {unknown} is not a valid number for its country")})
        );
        let r = send(
            &t,
            Method::GET,
            &format!("/admin/v1/numbers/{}", enc(unknown)),
            &TestApp::admin_auth(),
            None,
        )
        .await;
        assert_eq!(
            r.body,
            json!({"error": "invalid_request", "message": "not a valid number for its country"})
        );
        let report = import(&t, &format!("{unknown},US,,1,1,INR\n")).await;
        assert_eq!(report["imported"], 0);
        assert_eq!(
            report["errors"][0]["error"],
            "not a valid number for its country"
        );
    }
    // A malformed number still says so.
    let (_, body) = t
        .delete(
            &format!("{}/numbers/%2B1200x555", alice.base()),
            &alice.auth(),
        )
        .await;
    assert_eq!(
        body["message"],
        "The phone number format is invalid. Ensure it is URL-encoded correctly."
    );
    t.assert_sound().await;
}

/// Under `--number-validation e164` (the default of `--sandbox` and `--demo`) a number is `+` and
/// 8–15 digits, so the seeds' own example numbers work: seed 002 unassigns `%2B1234567890`. One
/// rule for every face and the CSV import; a malformed number is still refused.
async fn under_e164_validation_made_up_numbers_work_on_every_face_and_the_import() {
    for t in [
        TestApp::spawn_validating(NumberValidation::E164).await,
        TestApp::spawn_sandbox().await,
    ] {
        assert_eq!(t.engine.number_validation(), NumberValidation::E164);
        let alice = t.master("MA_ALICE", "10000").await;
        let (_, agni_key) = t.key(&alice, CredentialKind::Agni, None).await;
        let (_, diga_key) = t.key(&alice, CredentialKind::Diga, None).await;
        let report = import(&t, "+1234567890,US,,1,1,INR\n+12005550100,US,,1,1,INR\n").await;
        assert_eq!(report["imported"], 2, "{report}");

        // Seed 002: route the seed's number to a trunk, then unassign it at the seed's path.
        t.buy(&alice, "+1234567890").await;
        let trunk = t.trunk(&alice, "Seed").await;
        let (status, body) = t
            .post(
                &format!("{}/numbers/%2B1234567890/assign", alice.base()),
                &alice.auth(),
                json!({"trunk_group_id": trunk}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let (status, body) = t
            .delete(
                &format!("/api/v1/account/{}/numbers/%2B1234567890/assign", alice.id),
                &alice.auth(),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

        let r = send(
            &t,
            Method::POST,
            "/api/v1/phone-numbers/buy",
            &agni(&agni_key),
            Some(json!({"phone_number": "+12005550100", "price": 1})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = send(
            &t,
            Method::POST,
            "/api/v1/phone-numbers/add-twilio",
            &agni(&agni_key),
            Some(json!({"phone_number": "+12005550101", "number_sid": "PN1"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = send(
            &t,
            Method::POST,
            "/v1/phone/import",
            &diga(&diga_key),
            Some(json!({"phone_number": "+23412345678"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let (status, body) = t
            .delete(
                &format!("{}/numbers/%2B1234567890", alice.base()),
                &alice.auth(),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

        // Still E.164: a `+` and 8 to 15 digits.
        for bad in ["+1234567", "+01234567890", "+1234567890123456"] {
            let (status, body) = t
                .post(
                    &format!("{}/numbers/purchase-from-inventory", alice.base()),
                    &alice.auth(),
                    json!({"e164": bad}),
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(
                body["message"],
                "e164 must be a valid phone number in E.164 form, such as +919876543210"
            );
        }
        t.assert_sound().await;
    }
}

/// `didpool inventory import FILE --json` on the test's database, with `flags` before the
/// command and `env` set: whether it succeeded, and its report.
async fn cli_import(t: &TestApp, csv: &str, flags: &[&str], env: Option<&str>) -> (bool, Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("numbers.csv");
    std::fs::write(&file, csv).unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_didpool"));
    command
        .args(["--database-url", t.database_url()])
        .args(flags)
        .args(["inventory", "import", "--json"])
        .arg(&file)
        .env("DIDPOOL_LOG", "error")
        .env_remove("DIDPOOL_NUMBER_VALIDATION");
    if let Some(rule) = env {
        command.env("DIDPOOL_NUMBER_VALIDATION", rule);
    }
    let out = command.output().await.expect("didpool runs");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

/// The command line's import takes the same rule: strict unless `--number-validation e164` (or
/// `DIDPOOL_NUMBER_VALIDATION=e164`) says otherwise.
async fn the_cli_import_follows_the_number_validation_flag_or_its_environment_variable() {
    let t = TestApp::spawn().await;
    let (ok, report) = cli_import(&t, "+1234567890,US,,1,1,INR\n", &[], None).await;
    assert!(!ok);
    assert_eq!(
        report["errors"][0]["error"],
        "not a valid number for its country"
    );
    let (ok, report) = cli_import(
        &t,
        "+1234567890,US,,1,1,INR\n",
        &["--number-validation", "e164"],
        None,
    )
    .await;
    assert!(ok, "{report}");
    assert_eq!(report["imported"], 1);
    let (ok, report) = cli_import(&t, "+12005550100,US,,1,1,INR\n", &[], Some("e164")).await;
    assert!(ok, "{report}");
    assert_eq!(report["imported"], 1);
    let alice = t.master("MA_ALICE", "0").await;
    assert_eq!(t.inventory(&alice).await, ["+12005550100", "+1234567890"]);
}

/// A request to one face: its method, path and credentials, and the 413 body it gets.
struct Oversized {
    method: Method,
    path: String,
    auth: Vec<(&'static str, String)>,
    expected: Value,
}

/// A body over the limit for each face (and two Vobiz routes).
fn oversized_cases(alice: &Acct, agni_key: &str, diga_key: &str) -> Vec<Oversized> {
    let case =
        |method: Method, path: String, auth: Vec<(&'static str, String)>, expected: Value| {
            Oversized {
                method,
                path,
                auth,
                expected,
            }
        };
    vec![
        case(
            Method::POST,
            format!("{}/numbers/purchase-from-inventory", alice.base()),
            alice.auth(),
            json!({"error": "payload_too_large", "message": "the body is over 65536 bytes"}),
        ),
        case(
            Method::POST,
            format!("{}/trunks", alice.base()),
            alice.auth(),
            json!({"error": "payload_too_large", "message": "the body is over 65536 bytes"}),
        ),
        case(
            Method::POST,
            "/api/v1/phone-numbers/buy".to_owned(),
            agni(agni_key),
            json!({"success": false, "message": "The body could not be read (at most 65536 bytes)", "data": null}),
        ),
        case(
            Method::POST,
            "/v1/phone/import".to_owned(),
            diga(diga_key),
            json!({"status": "error", "error_code": "PAYLOAD_TOO_LARGE", "message": "The body is over 65536 bytes"}),
        ),
        case(
            Method::POST,
            "/admin/v1/accounts".to_owned(),
            TestApp::admin_auth(),
            json!({"error": "payload_too_large", "message": "the body is over 65536 bytes"}),
        ),
    ]
}

fn closes(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONNECTION)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
}

/// Found by review: an oversized body was a 400 on Vobiz and a plain-text 413 on Diga. Each face
/// answers `413` in its own shape, and `Connection: close`: the server stopped reading.
async fn an_oversized_body_is_each_faces_413_with_connection_close() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let (_, agni_key) = t.key(&alice, CredentialKind::Agni, None).await;
    let (_, diga_key) = t.key(&alice, CredentialKind::Diga, None).await;
    t.stock(&blr(1), "0", "1").await;
    let big = json!({"e164": blr(1), "name": "T", "phone_number": blr(1), "price": 1,
                     "padding": "x".repeat(didpool::app::BODY_LIMIT)})
    .to_string();
    for Oversized {
        method,
        path,
        auth,
        expected,
    } in oversized_cases(&alice, &agni_key, &diga_key)
    {
        // Streamed (no Content-Length): refused once reading passes the limit.
        let chunks: Vec<Result<String, std::io::Error>> = big
            .as_bytes()
            .chunks(4096)
            .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
            .collect();
        let mut req = Request::builder()
            .method(method.clone())
            .uri(&path)
            .header(header::CONTENT_TYPE, "application/json");
        for (k, v) in &auth {
            req = req.header(*k, v);
        }
        let req = req
            .body(Body::from_stream(futures::stream::iter(chunks)))
            .unwrap();
        let r = t.send(req).await;
        assert_eq!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{path}: {}",
            r.body
        );
        assert_eq!(r.body, expected, "{path}");
        assert!(json_content(&r), "{path}");
        assert!(closes(&r.headers), "{path}: {:?}", r.headers);
    }
    assert_eq!(t.inventory(&alice).await, [blr(1)]);
    assert_eq!(trunks(&t, &alice).await, 0);
    t.assert_sound().await;
}

/// A body whose `Content-Length` is over the limit is refused without reading a byte of it: here
/// the body would never end, and the answer still comes.
async fn a_declared_oversized_body_is_refused_unread() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let (_, agni_key) = t.key(&alice, CredentialKind::Agni, None).await;
    let (_, diga_key) = t.key(&alice, CredentialKind::Diga, None).await;
    for Oversized {
        method,
        path,
        auth,
        expected,
    } in oversized_cases(&alice, &agni_key, &diga_key)
    {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(&path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                header::CONTENT_LENGTH,
                (didpool::app::BODY_LIMIT + 1).to_string(),
            );
        for (k, v) in &auth {
            req = req.header(*k, v);
        }
        let never = futures::stream::pending::<Result<Vec<u8>, std::io::Error>>();
        let req = req.body(Body::from_stream(never)).unwrap();
        let r = tokio::time::timeout(Duration::from_secs(10), t.send(req))
            .await
            .unwrap_or_else(|_| panic!("{path}: the body was read"));
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(r.body, expected, "{path}");
        assert!(closes(&r.headers), "{path}");
    }
}

/// The same over a real socket: a client that sends `Expect: 100-continue` with a declared body
/// over the limit gets the 413 instead of the go-ahead, and the connection is closed. (A body
/// under the limit gets `100 Continue` first: the test can tell the difference.)
async fn a_declared_oversized_body_is_refused_before_100_continue_on_a_real_socket() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = t.app.clone();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
        )
        .await
    });
    let head = |length: usize| {
        format!(
            "POST /api/v1/account/{}/trunks HTTP/1.1\r\nHost: {addr}\r\nX-Auth-ID: {}\r\n\
             X-Auth-Token: {}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\
             Expect: 100-continue\r\n\r\n",
            alice.id, alice.id, alice.token
        )
    };

    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head(10 * 1024 * 1024).as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 413"), "{answer}");
    assert!(!answer.contains("100 continue"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");

    let small = r#"{"name": "T"}"#;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head(small.len()).as_bytes()).await.unwrap();
    let mut first = [0u8; 25];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut first))
        .await
        .expect("the go-ahead")
        .unwrap();
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    server.abort();
}
