//! The OpenAPI 3.1 document of every face and the admin API, assembled from the annotations next to
//! the handlers (`#[utoipa::path]`) and the DTOs (`ToSchema`). Served at `/openapi.json`, rendered
//! at `/docs`, printed by `didpool openapi`; the committed `openapi.json` is checked against it by
//! a test.

#![allow(dead_code)] // the schema-only types below are never built

use serde_json::Value;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder,
};
use utoipa::{OpenApi, ToSchema};

/// A number's capabilities.
#[derive(ToSchema)]
#[schema(as = Capabilities)]
pub struct CapabilitiesSchema {
    voice: bool,
    sms: bool,
    mms: bool,
    fax: bool,
}

/// A sub-account's permissions.
#[derive(ToSchema)]
#[schema(as = Permissions)]
pub struct PermissionsSchema {
    calls: bool,
    cdr: bool,
}

/// Vobiz's error body: `{"error": "<code>", "message": "…"}`; 401 and 403 nest it
/// (`{"error": {"code": 401, "message": "Invalid token"}}`), cancel-release answers only `error`,
/// and the cool-off 409 is `{"error": "did_cool_off_in_effect", "cool_off_until", "cool_off_remaining_seconds"}`.
#[derive(ToSchema)]
#[schema(as = VobizError)]
pub struct VobizErrorBody {
    error: VobizErrorCode,
    /// Absent from cancel-release's errors, from 401/403 (nested) and from the cool-off 409.
    #[schema(nullable = false)]
    message: Option<String>,
    /// The cool-off 409 only: when the number may move again (RFC 3339, whole seconds).
    #[schema(nullable = false)]
    cool_off_until: Option<String>,
    /// The cool-off 409 only.
    #[schema(nullable = false)]
    cool_off_remaining_seconds: Option<i64>,
}

/// A code string, or `{"code", "message"}` for 401/403.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum VobizErrorCode {
    Code(String),
    Nested(VobizNestedError),
}

/// The nested error of a 401 or 403: `{"code": 401, "message": "Invalid token"}`.
#[derive(ToSchema)]
pub struct VobizNestedError {
    code: u16,
    message: String,
}

/// Agni's error envelope: `{"success": false, "message": …, "data": null}`.
#[derive(ToSchema)]
#[schema(as = AgniError)]
pub struct AgniErrorBody {
    /// Always `false`.
    success: bool,
    message: String,
    /// Always `null`.
    #[schema(schema_with = null_schema, required = true)]
    data: Option<Value>,
}

fn null_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Null)
        .build()
}

/// Diga's app error: `{"status": "error", "error_code": …, "message": …}`.
#[derive(ToSchema)]
#[schema(as = DigaError)]
pub struct DigaErrorBody {
    status: String,
    error_code: String,
    message: String,
}

/// One pydantic validation issue.
#[derive(ToSchema)]
pub struct DigaValidationIssue {
    #[serde(rename = "type")]
    kind: String,
    /// Where: `["body", "nickname"]`, `["query", "limit"]`, `["body", 12]`.
    loc: Vec<DigaLoc>,
    msg: String,
    /// The value refused (any JSON).
    input: Value,
    /// Details of the rule, e.g. `{"ge": 1}`; only for some types.
    #[schema(value_type = Option<Object>, nullable = false)]
    ctx: Option<Value>,
}

/// A step of an issue's location: a name or an index.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum DigaLoc {
    Name(String),
    Index(u64),
}

/// FastAPI's bodies without an app error: `422 {"detail": [issue…]}`, or `{"detail": "Not Found"}`.
#[derive(ToSchema)]
#[schema(as = DigaDetail)]
pub struct DigaDetailBody {
    detail: DigaDetailValue,
}

/// The list of issues (422), or a message.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum DigaDetailValue {
    Issues(Vec<DigaValidationIssue>),
    Message(String),
}

/// Any of Diga's error bodies: an app error, or FastAPI's `detail`.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum DigaAnyError {
    App(DigaErrorBody),
    Detail(DigaDetailBody),
}

/// A broken invariant found by `didpool check` (`didpool_core::store::Violation`).
#[derive(ToSchema)]
#[schema(as = Violation)]
pub struct ViolationSchema {
    /// Which invariant, e.g. `ledger_equals_balance`.
    rule: String,
    /// The row it concerns: an account id or a number.
    subject: String,
    detail: String,
}

/// The admin API's error body: `{"error": "<code>", "message": "…"}`.
#[derive(ToSchema)]
#[schema(as = AdminError)]
pub struct AdminErrorBody {
    error: String,
    message: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "didpool",
        description = "A self-hostable phone-number (DID) lifecycle service: a Vobiz-compatible API, an Agni-compatible API, a Diga-compatible API and the operator's admin API over one engine."
    ),
    paths(healthz, readyz, metrics),
    components(schemas(
        VobizErrorBody,
        AgniErrorBody,
        DigaErrorBody,
        DigaValidationIssue,
        DigaDetailBody,
        DigaAnyError,
        AdminErrorBody
    ))
)]
struct Base;

/// `GET /healthz`.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "healthz", summary = "Liveness",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
fn healthz() {}

/// `GET /readyz`.
#[utoipa::path(get, path = "/readyz", tag = "health", operation_id = "readyz", summary = "Readiness",
    responses((status = 200, description = "`ok`: the store can take writes", body = String, content_type = "text/plain"),
        (status = 503, description = "the store cannot take writes now (PostgreSQL unreachable, the SQLite file removed, replaced or unwritable); with `Retry-After`", body = AdminErrorBody)))]
fn readyz() {}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "health", operation_id = "metrics", summary = "Prometheus metrics",
    description = "Every metric in the Prometheus text exposition format (the README's Metrics table lists didpool's own). Not authenticated, like the health checks: expose the port to the scraper, not to the world.",
    responses((status = 200, description = "The text exposition format, version 0.0.4 (`Content-Type: text/plain; version=0.0.4`)", body = String, content_type = "text/plain")))]
fn metrics() {}

/// The whole document.
pub fn document() -> Document {
    let mut doc = Base::openapi();
    doc.info = InfoBuilder::new()
        .title("didpool")
        .version(env!("CARGO_PKG_VERSION"))
        .description(doc.info.description.clone())
        .license(doc.info.license.clone())
        .build();
    doc.merge(crate::faces::vobiz::VobizApi::openapi());
    doc.merge(crate::faces::agni::AgniApi::openapi());
    doc.merge(crate::faces::diga::DigaApi::openapi());
    doc.merge(crate::faces::admin::AdminApi::openapi());
    doc.merge(crate::faces::edge::EdgeApi::openapi());
    document_internal_errors(&mut doc);
    document_body_limit(&mut doc);
    document_links(&mut doc);
    document_vobiz_bearer(&mut doc);
    document_idempotency_keys(&mut doc);
    document_lowercase_account_paths(&mut doc);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "vobiz_auth_id",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Auth-ID",
            "your MA_… or SA_… id (HTTP Basic with the same pair works too)",
        ))),
    );
    components.add_security_scheme(
        "vobiz_auth_token",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Auth-Token"))),
    );
    components.add_security_scheme(
        "vobiz_bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "a Vobiz access token (30 minutes; from a sub-account's creation or `POST /api/v1/auth/refresh`); at the refresh route, a refresh token",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        "agni_api_key",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Api-Key",
            "an Agni key (`didpool key create --kind agni`)",
        ))),
    );
    components.add_security_scheme(
        "diga_bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("a Diga key (`didpool key create --kind diga`)"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "admin_bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("the operator's token (`--admin-token`)"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "edge_bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "a SIP edge's key (`didpool key create MA_… --kind edge`)",
                ))
                .build(),
        ),
    );
    doc.tags = Some(
        [
            ("vobiz", "The Vobiz-compatible API: `/api/v1/Account/{auth_id}/…` (also `/account/`), sub-accounts, `auth/me`."),
            ("agni", "The Agni-compatible API (Ravan AI `PhoneService`) under `/api/v1/phone-numbers`."),
            ("diga", "The Diga-compatible API (Phones) under `/v1/phone`."),
            ("admin", "The operator's admin API under `/admin/v1`."),
            ("routing", "The SIP edge's API under `/routing/v1`: where a call to a number goes, and the calls the edge carried."),
            ("health", "Liveness and readiness."),
        ]
        .into_iter()
        .map(|(name, d)| TagBuilder::new().name(name).description(Some(d)).build())
        .collect(),
    );
    doc
}

/// The error schema of the face an operation belongs to (by its tag).
fn face_error_schema(op: &Operation) -> Option<&'static str> {
    match op.tags.as_ref().and_then(|t| t.first()).map(String::as_str) {
        Some("vobiz") => Some("VobizError"),
        Some("agni") => Some("AgniError"),
        Some("diga") => Some("DigaError"),
        Some("admin") | Some("routing") => Some("AdminError"),
        _ => None,
    }
}

/// Documents `status` with the face's error body on `op`, unless the handler already does.
fn document_face_error(op: &mut Operation, status: &str, description: &str) {
    let Some(schema) = face_error_schema(op) else {
        return;
    };
    op.responses
        .responses
        .entry(status.into())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(schema)))
                        .build(),
                )
                .build()
                .into()
        });
}

/// Every operation of a face, whatever its handler, can meet a database failure: a 500 with the
/// face's error body.
fn document_internal_errors(doc: &mut Document) {
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            document_face_error(op, "500", "internal error (the database failed)");
        }
    }
}

/// Every operation that takes a body refuses one over 64 KiB (`crate::app::BODY_LIMIT`) with a
/// 413 in the face's shape, whichever extractor reads it (or none: a declared length over it is
/// refused unread).
fn document_body_limit(doc: &mut Document) {
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            if op.request_body.is_some() {
                document_face_error(
                    op,
                    "413",
                    "body over 64 KiB (refused unread when Content-Length says so; the connection is closed)",
                );
            }
        }
    }
}

/// Every mutating operation of every face and the admin API takes an `Idempotency-Key`
/// (`crate::idempotency`), but the refresh of a Vobiz access token, whose credential is the
/// refresh token in hand.
fn document_idempotency_keys(doc: &mut Document) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, Required, Type};
    for (path, item) in doc.paths.paths.iter_mut() {
        if path == "/api/v1/auth/refresh" {
            continue;
        }
        let mutating = [
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in mutating.into_iter().flatten() {
            let key = ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Makes a retry safe (as Stripe's): the first answer to this key (1 to 255 printable ASCII characters, from the same credential, on the same method and path) is kept and replayed for 24 h by default (`--idempotency-retention`) with `Idempotent-Replayed: true`; the same key with another query or body is a 422; a retry while the first request runs waits for its answer, at most 10 s, then is a 409; an empty or longer key is a 400. Answers of 5xx are not kept.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(crate::idempotency::MAX_KEY_LEN)),
                ))
                .build();
            op.parameters.get_or_insert_with(Vec::new).push(key);
            document_face_error(
                op,
                "400",
                "bad input (an empty or too long Idempotency-Key included)",
            );
            document_face_error(
                op,
                "409",
                "a request with this Idempotency-Key is still running",
            );
            document_face_error(
                op,
                "422",
                "this Idempotency-Key was used with another request",
            );
        }
    }
}

/// Every Vobiz route that takes the auth headers also takes an access token as
/// `Authorization: Bearer` (one more security alternative).
fn document_vobiz_bearer(doc: &mut Document) {
    use utoipa::openapi::security::SecurityRequirement;
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            let Some(security) = op.security.as_mut() else {
                continue;
            };
            let takes_headers = serde_json::to_value(&*security)
                .is_ok_and(|v| v.to_string().contains("vobiz_auth_token"));
            if takes_headers {
                security.push(SecurityRequirement::new(
                    "vobiz_bearer",
                    Vec::<String>::new(),
                ));
            }
        }
    }
}

/// Where an answer's ids lead: the operations `to` that take them from `from`'s `status` answer,
/// as `(parameter, runtime expression)`. Clients follow them, and so does schemathesis' stateful
/// phase.
struct LinkSpec {
    from: &'static str,
    status: &'static str,
    to: &'static [&'static str],
    params: &'static [(&'static str, &'static str)],
}

const LINKS: &[LinkSpec] = {
    const AUTH_ID: (&str, &str) = ("auth_id", "$request.path.auth_id");
    &[
        LinkSpec {
            from: "vobiz_purchase",
            status: "200",
            to: &[
                "vobiz_get_number",
                "vobiz_release",
                "vobiz_cancel_release",
                "vobiz_assign_trunk",
                "vobiz_unassign_trunk",
                "vobiz_assign_sub_account",
                "vobiz_unassign_sub_account",
            ],
            params: &[AUTH_ID, ("e164", "$response.body#/number/e164")],
        },
        LinkSpec {
            from: "vobiz_create_trunk",
            status: "201",
            to: &[
                "vobiz_get_trunk",
                "vobiz_update_trunk",
                "vobiz_delete_trunk",
            ],
            params: &[AUTH_ID, ("trunk_id", "$response.body#/trunk_id")],
        },
        LinkSpec {
            from: "vobiz_create_sub_account",
            status: "201",
            to: &[
                "vobiz_get_sub_account",
                "vobiz_update_sub_account",
                "vobiz_delete_sub_account",
            ],
            params: &[
                AUTH_ID,
                ("sub_auth_id", "$response.body#/sub_account/auth_id"),
            ],
        },
        LinkSpec {
            from: "agni_buy",
            status: "200",
            to: &["agni_release"],
            params: &[("phone_number", "$response.body#/data/phone_number")],
        },
        LinkSpec {
            from: "agni_add_twilio",
            status: "200",
            to: &["agni_release"],
            params: &[("phone_number", "$response.body#/data/phone_number")],
        },
        LinkSpec {
            from: "diga_import",
            status: "200",
            to: &[
                "diga_get_phone",
                "diga_update",
                "diga_update_sip_config",
                "diga_release",
            ],
            params: &[("phone_id", "$response.body#/id")],
        },
        LinkSpec {
            from: "admin_create_account",
            status: "201",
            to: &[
                "admin_get_account",
                "admin_top_up",
                "admin_create_key",
                "admin_set_verification",
            ],
            params: &[("id", "$response.body#/auth_id")],
        },
        LinkSpec {
            from: "admin_create_key",
            status: "201",
            to: &["admin_revoke_key"],
            params: &[("id", "$response.body#/id")],
        },
    ]
};

fn document_links(doc: &mut Document) {
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            let id = op.operation_id.clone().unwrap_or_default();
            for LinkSpec {
                from,
                status,
                to: targets,
                params,
            } in LINKS
            {
                if *from != id {
                    continue;
                }
                let Some(RefOr::T(response)) = op.responses.responses.get_mut(*status) else {
                    panic!("{id} has no {status} answer to link from");
                };
                for target in *targets {
                    let link = params
                        .iter()
                        .fold(LinkBuilder::new().operation_id(*target), |l, (k, v)| {
                            l.parameter(*k, *v)
                        })
                        .build();
                    response.links.insert((*target).to_owned(), link.into());
                }
            }
        }
    }
}

/// The Vobiz routes answer under `/Account/` and `/account/` (clients send both): each
/// `/Account/` operation is listed again under the lowercase spelling, with its own id (`…_lc`).
fn document_lowercase_account_paths(doc: &mut Document) {
    const UPPER: &str = "/api/v1/Account/";
    let paths = std::mem::take(&mut doc.paths.paths);
    for (path, item) in paths {
        let lower = path
            .strip_prefix(UPPER)
            .map(|rest| (format!("/api/v1/account/{rest}"), item.clone()));
        doc.paths.paths.insert(path, item);
        if let Some((path, mut item)) = lower {
            for op in operations(&mut item) {
                if let Some(id) = &op.operation_id {
                    let note = format!("`{id}` with the lowercase `account` spelling of the path.");
                    op.description = Some(match op.description.take() {
                        Some(d) => format!("{note}\n\n{d}"),
                        None => note,
                    });
                    op.operation_id = Some(format!("{id}_lc"));
                }
            }
            doc.paths.paths.insert(path, item);
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// The document as served and committed: pretty JSON with a trailing newline.
pub fn json() -> String {
    let mut v = serde_json::to_value(document()).expect("the document serializes");
    camel_case_links(&mut v);
    let mut s = serde_json::to_string_pretty(&v).expect("the document serializes");
    s.push('\n');
    s
}

/// utoipa 5.5 writes a Link's fields in snake case (`operation_id`); OpenAPI spells them
/// `operationId`, `operationRef`, `requestBody`, and tools ignore the link otherwise.
fn camel_case_links(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let links = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("responses").and_then(Value::as_object_mut))
        .flat_map(|responses| responses.values_mut())
        .filter_map(|r| r.get_mut("links").and_then(Value::as_object_mut))
        .flat_map(|links| links.values_mut())
        .filter_map(Value::as_object_mut);
    for link in links {
        *link = std::mem::take(link)
            .into_iter()
            .map(|(k, v)| match k.as_str() {
                "operation_id" => ("operationId".to_owned(), v),
                "operation_ref" => ("operationRef".to_owned(), v),
                "request_body" => ("requestBody".to_owned(), v),
                _ => (k, v),
            })
            .collect();
    }
}

/// `GET /openapi.json`.
pub async fn serve_json() -> impl axum::response::IntoResponse {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        JSON.get_or_init(json).clone(),
    )
}

/// `GET /docs`: a self-contained page (no script, no CDN) rendering the document.
pub async fn serve_docs() -> axum::response::Html<String> {
    static HTML: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    axum::response::Html(HTML.get_or_init(|| docs_html(&document())).clone())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A schema in one line: `Name`, `[Name]`, `string`, `{…}`.
fn schema_text(s: &Value) -> String {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    if let Some(items) = s.get("items") {
        return format!("[{}]", schema_text(items));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(v)) = s.get(key) {
            return v.iter().map(schema_text).collect::<Vec<_>>().join(" | ");
        }
    }
    match s.get("type") {
        Some(Value::String(t)) => esc(t),
        Some(Value::Array(v)) => esc(&v
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | ")),
        _ => "any".into(),
    }
}

fn body_text(content: Option<&Value>) -> String {
    content
        .and_then(Value::as_object)
        .map(|c| {
            c.iter()
                .map(|(mime, m)| {
                    format!(
                        "<code>{}</code> {}",
                        esc(mime),
                        m.get("schema").map(schema_text).unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

/// The reference page: operations grouped by tag, then the schemas.
pub fn docs_html(doc: &Document) -> String {
    let v = serde_json::to_value(doc).expect("the document serializes");
    let mut out = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>didpool API reference</title>\n<style>body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;line-height:1.4}code{background:#f3f3f3;padding:0 .2em}.op{border:1px solid #ddd;border-radius:4px;margin:.6em 0;padding:.4em .8em}.m{font-weight:bold;text-transform:uppercase;display:inline-block;width:4.5em}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.1em .5em;text-align:left;vertical-align:top}</style></head><body>\n",
    );
    let info = &v["info"];
    out += &format!(
        "<h1>{} {}</h1><p>{}</p><p>The machine-readable document: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI {}).</p>\n",
        esc(info["title"].as_str().unwrap_or("")),
        esc(info["version"].as_str().unwrap_or("")),
        esc(info["description"].as_str().unwrap_or("")),
        esc(v["openapi"].as_str().unwrap_or("")),
    );
    let empty = serde_json::Map::new();
    let paths = v["paths"].as_object().unwrap_or(&empty);
    for tag in v["tags"].as_array().into_iter().flatten() {
        let name = tag["name"].as_str().unwrap_or("");
        out += &format!(
            "<h2 id=\"tag-{0}\">{0}</h2><p>{1}</p>\n",
            esc(name),
            esc(tag["description"].as_str().unwrap_or(""))
        );
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap_or(&empty) {
                let tagged = op["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == name));
                if !tagged {
                    continue;
                }
                out += &format!(
                    "<div class=\"op\" id=\"{}\"><span class=\"m\">{}</span> <code>{}</code> — {}\n",
                    esc(op["operationId"].as_str().unwrap_or("")),
                    esc(method),
                    esc(path),
                    esc(op["summary"].as_str().unwrap_or(""))
                );
                if let Some(d) = op["description"].as_str() {
                    out += &format!("<p>{}</p>", esc(d));
                }
                if let Some(sec) = op["security"].as_array() {
                    let names: Vec<String> = sec
                        .iter()
                        .filter_map(Value::as_object)
                        .flat_map(|o| o.keys().map(|k| format!("<code>{}</code>", esc(k))))
                        .collect();
                    out += &format!("<p>Auth: {}</p>", names.join(" + "));
                }
                if let Some(params) = op["parameters"].as_array() {
                    out += "<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th><th></th></tr>";
                    for p in params {
                        out += &format!(
                            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            esc(p["name"].as_str().unwrap_or("")),
                            esc(p["in"].as_str().unwrap_or("")),
                            schema_text(&p["schema"]),
                            p["required"].as_bool().unwrap_or(false),
                            esc(p["description"].as_str().unwrap_or(""))
                        );
                    }
                    out += "</table>";
                }
                if let Some(body) = op.get("requestBody") {
                    out += &format!("<p>Body: {}</p>", body_text(body.get("content")));
                }
                out += "<table><tr><th>status</th><th></th><th>body</th></tr>";
                for (status, r) in op["responses"].as_object().unwrap_or(&empty) {
                    out += &format!(
                        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(status),
                        esc(r["description"].as_str().unwrap_or("")),
                        body_text(r.get("content"))
                    );
                }
                out += "</table></div>\n";
            }
        }
    }
    out += "<h2>Schemas</h2>\n";
    for (name, s) in v["components"]["schemas"].as_object().unwrap_or(&empty) {
        out += &format!("<h3 id=\"schema-{0}\">{0}</h3>", esc(name));
        if let Some(d) = s["description"].as_str() {
            out += &format!("<p>{}</p>", esc(d));
        }
        let required: Vec<&str> = s["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = s["properties"].as_object() {
            out += "<table><tr><th>field</th><th>type</th><th>required</th><th></th></tr>";
            for (field, p) in props {
                out += &format!(
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(field),
                    schema_text(p),
                    required.contains(&field.as_str()),
                    esc(p["description"].as_str().unwrap_or(""))
                );
            }
            out += "</table>";
        } else {
            out += &format!("<p>{}</p>", schema_text(s));
        }
    }
    out += "</body></html>\n";
    out
}
