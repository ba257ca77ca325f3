//! Property tests (a bounded fuzzer) for the parsers that take untrusted text: numbers in paths
//! and bodies, account, trunk and phone ids, pagination and other query parameters, on every face.
//! Whatever arrives, the answer is never a 5xx and never a panic, and what parses round-trips.

#[allow(unused_macros)]
#[macro_use]
mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, Uri};
use common::{Acct, TestApp, ADMIN_TOKEN};
use didpool::http::Params;
use didpool_core::{AccountId, E164};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Characters kept raw in a path segment; `%` stays raw too, so broken escapes get through.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

const QUERY: &AsciiSet = &SEGMENT.add(b'&').add(b'=').add(b'+');

/// Text shaped like what the parsers expect, and not.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[+]?[0-9]{0,20}",
        "(%2B|%2b|\\+)?[0-9]{1,16}",
        "(MA_|SA_)[A-Z0-9]{0,12}",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "-?[0-9]{1,25}(\\.[0-9]+)?",
        "(true|True|false|FALSE|1|0|yes)",
        "%[0-9A-Fa-f]?[G-Zg-z]?.{0,4}",
        ".{0,24}",
    ]
}

fn enc(s: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(s, set).to_string()
}

/// `?k=v&…` from the parameters a route reads, each maybe absent, maybe repeated.
fn query(names: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::collection::vec((proptest::sample::select(names), text()), 0..4).prop_map(|kv| {
        kv.iter()
            .map(|(k, v)| format!("{k}={}", enc(v, QUERY)))
            .collect::<Vec<_>>()
            .join("&")
    })
}

struct World {
    t: TestApp,
    vobiz: Acct,
    agni: String,
    diga: String,
}

async fn world() -> World {
    let t = TestApp::spawn().await;
    let vobiz = t.master("MA_FUZZ", "1000").await;
    t.stock("+918041100001", "1", "1").await;
    let admin = [("Authorization", format!("Bearer {ADMIN_TOKEN}"))];
    let mut keys = Vec::new();
    for kind in ["agni", "diga"] {
        let (status, body) = t
            .post(
                "/admin/v1/accounts/MA_FUZZ/keys",
                &admin,
                json!({ "kind": kind }),
            )
            .await;
        assert!(status.is_success(), "{body}");
        keys.push(body["key"].as_str().unwrap().to_owned());
    }
    World {
        t,
        vobiz,
        diga: keys.pop().unwrap(),
        agni: keys.pop().unwrap(),
    }
}

/// Every route with its path parameters and the query parameters it reads.
const ROUTES: &[(&str, &str, &[&str])] = &[
    (
        "GET",
        "/api/v1/Account/{a}/numbers",
        &["page", "per_page", "include_subaccounts", "search"],
    ),
    (
        "GET",
        "/api/v1/account/{a}/inventory/numbers",
        &["country", "search", "exclude", "page", "per_page"],
    ),
    ("GET", "/api/v1/Account/{a}/numbers/{n}", &[]),
    ("DELETE", "/api/v1/Account/{a}/numbers/{n}", &[]),
    (
        "POST",
        "/api/v1/Account/{a}/numbers/{n}/cancel-release",
        &[],
    ),
    ("DELETE", "/api/v1/Account/{a}/numbers/{n}/assign", &[]),
    (
        "DELETE",
        "/api/v1/account/{a}/numbers/{n}/assign-subaccount",
        &["force"],
    ),
    (
        "GET",
        "/api/v1/Account/{a}/trunks",
        &["limit", "offset", "page", "size"],
    ),
    ("GET", "/api/v1/Account/{a}/trunks/{n}", &[]),
    ("DELETE", "/api/v1/Account/{a}/trunks/{n}", &[]),
    (
        "GET",
        "/api/v1/accounts/{a}/sub-accounts",
        &["page", "size", "active_only"],
    ),
    ("GET", "/api/v1/accounts/{a}/sub-accounts/{n}", &[]),
    ("DELETE", "/api/v1/accounts/{a}/sub-accounts/{n}", &[]),
    ("GET", "/api/v1/Account/{a}/balance/{n}", &[]),
    (
        "GET",
        "/api/v1/Account/{a}/transactions",
        &[
            "page",
            "per_page",
            "type",
            "reference_type",
            "from_date",
            "to_date",
        ],
    ),
    (
        "GET",
        "/api/v1/phone-numbers/available-numbers/{n}",
        &["page_size", "limit", "offset", "page", "region"],
    ),
    (
        "GET",
        "/api/v1/phone-numbers/",
        &["region", "iso_country", "is_active", "limit", "offset"],
    ),
    ("DELETE", "/api/v1/phone-numbers/{n}/release", &[]),
    (
        "GET",
        "/v1/phone/",
        &[
            "after",
            "before",
            "page",
            "limit",
            "order",
            "status",
            "inbound_agent_id",
            "outbound_agent_id",
            "start_assigned_at",
            "end_assigned_at",
        ],
    ),
    ("GET", "/v1/phone/{n}", &[]),
    ("DELETE", "/v1/phone/{n}", &[]),
    ("GET", "/admin/v1/accounts/{n}", &[]),
    ("GET", "/admin/v1/numbers/{n}", &[]),
    ("GET", "/admin/v1/numbers/{n}/audit", &[]),
    ("POST", "/admin/v1/numbers/{n}/checkout", &[]),
];

/// Routes that take a JSON body, and the fields they read.
const BODIES: &[(&str, &str, &[&str])] = &[
    (
        "POST",
        "/api/v1/Account/{a}/numbers/purchase-from-inventory",
        &["e164", "currency"],
    ),
    (
        "POST",
        "/api/v1/Account/{a}/numbers/{n}/assign",
        &["trunk_group_id"],
    ),
    (
        "POST",
        "/api/v1/account/{a}/numbers/{n}/assign-subaccount",
        &["sub_account_id"],
    ),
    (
        "POST",
        "/api/v1/Account/{a}/trunks",
        &[
            "name",
            "trunk_type",
            "max_concurrent_calls",
            "cps_limit",
            "transport",
        ],
    ),
    (
        "POST",
        "/api/v1/accounts/{a}/sub-accounts",
        &["name", "email", "rate_limit", "permissions", "enabled"],
    ),
    (
        "POST",
        "/api/v1/phone-numbers/buy",
        &["phone_number", "price", "per_minute_price_inbound"],
    ),
    (
        "POST",
        "/api/v1/phone-numbers/add-twilio",
        &["phone_number", "number_sid", "friendly_name"],
    ),
    (
        "POST",
        "/v1/phone/import",
        &[
            "phone_number",
            "nickname",
            "inbound_config",
            "outbound_config",
        ],
    ),
    (
        "PATCH",
        "/v1/phone/{n}",
        &["nickname", "inbound_version_id", "outbound_version_id"],
    ),
    (
        "PATCH",
        "/v1/phone/{n}/sip-config",
        &["inbound_config", "outbound_config"],
    ),
    (
        "POST",
        "/admin/v1/accounts/{n}/top-up",
        &["amount", "description"],
    ),
    ("POST", "/admin/v1/calls", &["e164", "at"]),
    (
        "POST",
        "/admin/v1/numbers/{n}/reserve",
        &["account", "expires_at", "ttl_seconds"],
    ),
    (
        "POST",
        "/admin/v1/accounts",
        &["name", "role", "balance", "currency", "id"],
    ),
];

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        Just(json!({"media_encryption": "allow", "allowed_addresses": ["x"]})),
        Just(json!([1, "2"])),
    ]
}

impl World {
    fn auth(&self, path: &str) -> Vec<(&'static str, String)> {
        if path.starts_with("/api/v1/phone-numbers") {
            vec![("X-Api-Key", self.agni.clone())]
        } else if path.starts_with("/v1/") {
            vec![("Authorization", format!("Bearer {}", self.diga))]
        } else if path.starts_with("/admin/") {
            vec![("Authorization", format!("Bearer {ADMIN_TOKEN}"))]
        } else {
            self.vobiz.auth()
        }
    }

    /// Sends it; a 5xx, or a panic in a handler, fails the property.
    async fn check(&self, method: &str, path: String, body: Option<String>) -> Result<(), String> {
        let Ok(uri) = path.parse::<Uri>() else {
            return Ok(()); // not a request a client could send
        };
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(uri);
        for (k, v) in self.auth(&path) {
            req = req.header(k, v);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let r = self.t.send(req).await;
        if r.status.is_server_error() {
            return Err(format!("{method} {path}: {} {}", r.status, r.body));
        }
        Ok(())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("DIDPOOL_FUZZ_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[test]
fn paths_and_queries_of_every_face_never_answer_5xx() {
    let rt = runtime();
    let w = rt.block_on(world());
    proptest!(config(), |(
        route in proptest::sample::select(ROUTES),
        own in any::<bool>(),
        a in text(),
        n in text(),
        q in query(&["page", "per_page", "limit", "offset", "size", "page_size", "search", "exclude",
                     "country", "iso_country", "include_subaccounts", "is_active", "active_only",
                     "force", "after", "before", "order", "status", "from_date", "to_date",
                     "start_assigned_at", "end_assigned_at", "type", "region"]),
    )| {
        let (method, template, _) = route;
        let a = if own { "MA_FUZZ".to_owned() } else { enc(&a, SEGMENT) };
        let path = template.replace("{a}", &a).replace("{n}", &enc(&n, SEGMENT));
        let path = format!("{path}?{q}");
        rt.block_on(w.check(method, path, None)).map_err(TestCaseError::fail)?;
    });
}

#[test]
fn json_bodies_of_every_face_never_answer_5xx() {
    let rt = runtime();
    let w = rt.block_on(world());
    proptest!(config(), |(
        route in proptest::sample::select(BODIES),
        n in text(),
        fields in proptest::collection::vec((0usize..8, json_value()), 0..5),
        raw in proptest::option::weighted(0.1, ".{0,40}"),
    )| {
        let (method, template, names) = route;
        let path = template.replace("{a}", "MA_FUZZ").replace("{n}", &enc(&n, SEGMENT));
        let body = raw.unwrap_or_else(|| {
            let mut m = serde_json::Map::new();
            for (i, v) in fields {
                let name = names.get(i).copied().unwrap_or("unknown");
                m.insert(name.to_owned(), v);
            }
            Value::Object(m).to_string()
        });
        rt.block_on(w.check(method, path, Some(body))).map_err(TestCaseError::fail)?;
    });
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn e164_parses_only_what_it_prints(s in text()) {
        if let Ok(e) = E164::parse(&s) {
            let printed = e.to_string();
            prop_assert!(printed.starts_with('+'));
            prop_assert!(printed[1..].bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(E164::parse(&printed).unwrap(), e);
        }
    }

    #[test]
    fn account_ids_parse_only_what_they_print(s in text()) {
        if let Ok(id) = AccountId::parse(&s) {
            prop_assert_eq!(AccountId::parse(id.as_str()).unwrap(), id);
        }
    }

    #[test]
    fn query_parameters_never_panic_and_numbers_respect_their_minimum(
        q in query(&["page", "per_page", "flag"]), min in 0u32..3,
    ) {
        let p = Params::parse(&q);
        let _ = p.bool("flag");
        if let Ok(Some(n)) = p.number("page", min) {
            prop_assert!(n >= min);
        }
    }
}
