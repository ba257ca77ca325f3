//! The OpenAPI document: the committed `openapi.json` is the generated one, it is served at
//! `/openapi.json`, and `/docs` renders every operation of it.

#[allow(unused_macros)]
#[macro_use]
mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{blr, wire, TestApp};
use serde_json::{json, Value};

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");

#[test]
fn committed_openapi_json_matches_the_code() {
    let generated: Value = serde_json::from_str(&didpool::openapi::json()).unwrap();
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    let committed: Value = serde_json::from_str(&committed).unwrap_or(Value::Null);
    if generated != committed {
        let a = serde_json::to_string_pretty(&generated).unwrap();
        let b = serde_json::to_string_pretty(&committed).unwrap();
        let first = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or_else(|| a.lines().count().min(b.lines().count()));
        panic!(
            "openapi.json is out of date with the code (first difference at line {}: generated \
             {:?}, committed {:?}).\nRegenerate it from the repository root with:\n\n    \
             cargo run -- openapi > openapi.json\n",
            first + 1,
            a.lines().nth(first).unwrap_or("<end>"),
            b.lines().nth(first).unwrap_or("<end>"),
        );
    }
}

#[test]
fn every_route_of_every_face_is_documented() {
    let doc: Value = serde_json::from_str(&didpool::openapi::json()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in [
        ("get", "/api/v1/Account/{auth_id}/inventory/numbers"),
        (
            "post",
            "/api/v1/Account/{auth_id}/numbers/purchase-from-inventory",
        ),
        (
            "delete",
            "/api/v1/Account/{auth_id}/numbers/{e164}/assign-subaccount",
        ),
        (
            "put",
            "/api/v1/accounts/{auth_id}/sub-accounts/{sub_auth_id}",
        ),
        ("get", "/api/v1/Account/{auth_id}/transactions"),
        ("post", "/api/v1/phone-numbers/buy"),
        ("delete", "/api/v1/phone-numbers/{phone_number}/release"),
        ("get", "/v1/phone/"),
        ("patch", "/v1/phone/{phone_id}/sip-config"),
        ("post", "/admin/v1/accounts"),
        ("get", "/admin/v1/accounts/{id}/keys"),
        ("post", "/admin/v1/accounts/{id}/auth-token/rotate"),
        ("post", "/admin/v1/scheduler/run"),
        ("get", "/api/v1/Account/{auth_id}/numbers/{e164}/health"),
        ("get", "/routing/v1/numbers/{e164}"),
        ("post", "/routing/v1/calls"),
        ("get", "/admin/v1/events"),
        ("post", "/admin/v1/events/{id}/redeliver"),
        ("post", "/admin/v1/webhook-endpoints"),
        ("patch", "/admin/v1/webhook-endpoints/{id}"),
        ("post", "/admin/v1/webhook-endpoints/{id}/rotate-secret"),
        ("put", "/admin/v1/numbers/{e164}/release-lock"),
        ("delete", "/admin/v1/numbers/{e164}/release-lock"),
        ("post", "/admin/v1/jobs"),
        ("get", "/admin/v1/jobs"),
        ("get", "/admin/v1/jobs/{id}"),
        ("post", "/admin/v1/jobs/{id}/cancel"),
    ] {
        let op = &paths[path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert!(
            !op["security"].as_array().unwrap().is_empty(),
            "{method} {path}"
        );
        // Every documented error has a schema.
        for (status, r) in op["responses"].as_object().unwrap() {
            if status.starts_with('4') && status != "404" || status == "500" {
                assert!(
                    r["content"].is_object(),
                    "{method} {path} {status} has no body"
                );
            }
        }
    }
    let ops: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(ops, 96, "operations documented (18 Vobiz ones twice)");
    // The event catalogue is in the document, type by type.
    let types = &doc["components"]["schemas"]["EventObject"]["properties"]["type"]["enum"];
    assert_eq!(
        types.as_array().map(Vec::len),
        Some(didpool_core::webhook::EVENT_TYPES.len()),
        "{types}"
    );
    // The lowercase spelling the router also serves is documented, each with its own id.
    for (path, item) in paths {
        let Some(rest) = path.strip_prefix("/api/v1/Account/") else {
            continue;
        };
        let twin = &paths[&format!("/api/v1/account/{rest}")];
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert_eq!(twin[method]["operationId"], format!("{id}_lc"), "{path}");
            assert_eq!(twin[method]["responses"], op["responses"], "{path}");
        }
    }
    // Every answer of every operation has a schema, errors included (a 500 everywhere: the
    // database may fail), and no 2xx body is a bare object.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            if !["/healthz", "/readyz", "/metrics"].contains(&path.as_str()) {
                assert!(responses.contains_key("500"), "{method} {path}: no 500");
            }
            for (status, r) in responses {
                // No body by definition (304: the client's copy stands).
                if status == "204" || status == "304" {
                    continue;
                }
                let schema = &r["content"]["application/json"]["schema"];
                let schema = if schema.is_null() {
                    &r["content"]["text/plain"]["schema"]
                } else {
                    schema
                };
                assert!(schema.is_object(), "{method} {path} {status}: no schema");
                assert!(
                    schema["type"] != "object" || schema.get("properties").is_some(),
                    "{method} {path} {status}: a bare object"
                );
            }
        }
    }
    // Links name their target as OpenAPI spells it, and the target takes those parameters.
    let ops: Vec<&Value> = paths
        .values()
        .flat_map(|p| p.as_object().unwrap().values())
        .collect();
    let mut links = 0;
    for op in &ops {
        for r in op["responses"].as_object().unwrap().values() {
            for link in r["links"].as_object().into_iter().flat_map(|l| l.values()) {
                let target = ops
                    .iter()
                    .find(|o| o["operationId"] == link["operationId"])
                    .unwrap_or_else(|| panic!("{link}: no such operation"));
                for name in link["parameters"].as_object().unwrap().keys() {
                    assert!(
                        target["parameters"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|p| p["name"] == *name),
                        "{link}: {name}"
                    );
                }
                links += 1;
            }
        }
    }
    assert!(links >= 20, "{links} links");
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for s in [
        "vobiz_auth_id",
        "vobiz_auth_token",
        "agni_api_key",
        "diga_bearer",
        "admin_bearer",
    ] {
        assert!(schemes.contains_key(s), "{s}");
    }
}

#[tokio::test]
async fn the_document_and_its_page_are_served() {
    let app = TestApp::spawn().await;
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    let r = app.send(get("/openapi.json")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    let served: Value = serde_json::from_slice(&r.raw).unwrap();
    assert_eq!(
        served,
        serde_json::from_str::<Value>(&didpool::openapi::json()).unwrap()
    );

    let r = app.send(get("/docs")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = String::from_utf8(r.raw).unwrap();
    assert!(!html.contains("<script"), "the page is self-contained");
    for path in served["paths"].as_object().unwrap().values() {
        for op in path.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            assert!(
                html.contains(&format!("id=\"{id}\"")),
                "{id} is on the page"
            );
        }
    }
}

/// Whether the wire check refuses `body` as the answer `status` of `method uri`.
fn refused(method: &str, uri: &str, status: u16, body: &Value) -> bool {
    std::panic::catch_unwind(|| wire::check(method, uri, status, body)).is_err()
}

/// The wire check every HTTP suite runs on every answer refuses a field the documented object
/// does not have, and one it requires that is missing: the faults a strict generated client
/// found (inventory items with `trunk_group_id`/`source`/`released_at`, `meta.total_count`,
/// `auth/me`'s `parent_auth_id`, a number without `region`, a transaction without `reference`).
async fn the_wire_check_refuses_a_field_too_many_or_too_few() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "1000").await;
    t.stock(&blr(1), "1", "1").await;
    t.stock(&blr(2), "1", "1").await;
    t.buy(&alice, &blr(1)).await;
    t.trunk(&alice, "edge").await;
    let get = |path: String| {
        let headers = alice.auth();
        let t = &t;
        async move {
            let (status, body) = t.get(&path, &headers).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            (path, body)
        }
    };
    type Case = (String, Value, fn(&mut Value));
    let cases: Vec<Case> = vec![
        {
            let (p, b) = get(format!("{}/inventory/numbers", alice.base())).await;
            (p, b, |b| b["items"][0]["released_at"] = Value::Null)
        },
        {
            let (p, b) = get(format!("{}/inventory/numbers", alice.base())).await;
            (p, b, |b| b["items"][0]["source"] = json!("inventory"))
        },
        {
            let (p, b) = get(format!("{}/numbers", alice.base())).await;
            (p, b, |b| {
                b["items"][0].as_object_mut().unwrap().remove("region");
            })
        },
        {
            let (p, b) = get(format!("{}/trunks", alice.base())).await;
            (p, b, |b| b["meta"]["total_count"] = json!(1))
        },
        {
            let (p, b) = get("/api/v1/auth/me".to_owned()).await;
            (p, b, |b| b["parent_auth_id"] = Value::Null)
        },
        {
            let (p, b) = get(format!("{}/transactions", alice.base())).await;
            (p, b, |b| {
                b["transactions"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("reference");
            })
        },
    ];
    for (path, body, break_it) in cases {
        assert!(!refused("GET", &path, 200, &body), "{path}: {body}");
        let mut broken = body.clone();
        break_it(&mut broken);
        assert!(refused("GET", &path, 200, &broken), "{path}: {broken}");
    }
    // An undocumented success is refused; an undocumented error must be the face's error body.
    assert!(refused("GET", "/api/v1/auth/me", 202, &json!({})));
    assert!(refused(
        "GET",
        "/api/v1/auth/me",
        418,
        &json!({"detail": "teapot"})
    ));
    assert!(!refused(
        "GET",
        "/api/v1/auth/me",
        418,
        &json!({"error": "teapot", "message": "short and stout"})
    ));
    // The same on the other faces.
    assert!(refused(
        "GET",
        "/v1/phone/",
        200,
        &json!({"data": [], "has_more": false, "first_id": null, "last_id": null, "current_page": null, "total_pages": null, "total": 0})
    ));
    assert!(refused(
        "DELETE",
        "/api/v1/phone-numbers/+14155552671/release",
        404,
        &json!({"success": false, "message": "gone", "data": null, "code": 404})
    ));
}

on_every_backend!(the_wire_check_refuses_a_field_too_many_or_too_few);
