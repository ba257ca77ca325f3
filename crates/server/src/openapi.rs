//! The OpenAPI 3.1 document of every face and the admin API, assembled from the annotations next to
//! the handlers (`#[utoipa::path]`) and the DTOs (`ToSchema`). Served at `/openapi.json`, rendered
//! at `/docs`, printed by `didpool openapi`; the committed `openapi.json` is checked against it by
//! a test.

#![allow(dead_code)] // the schema-only types below are never built

use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{InfoBuilder, OpenApi as Document};
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
    /// A code string, or `{"code", "message"}` for 401/403.
    error: Value,
    message: Option<String>,
    cool_off_until: Option<String>,
    cool_off_remaining_seconds: Option<i64>,
}

/// Agni's error envelope: `{"success": false, "message": …, "data": null}`.
#[derive(ToSchema)]
#[schema(as = AgniError)]
pub struct AgniErrorBody {
    success: bool,
    message: String,
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
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
    loc: Vec<Value>,
    msg: String,
    input: Value,
    #[schema(value_type = Option<Object>)]
    ctx: Option<Value>,
}

/// FastAPI's bodies without an app error: `422 {"detail": [issue…]}`, or `{"detail": "Not Found"}`.
#[derive(ToSchema)]
#[schema(as = DigaDetail)]
pub struct DigaDetailBody {
    /// The list of issues (422), or a message.
    detail: Value,
}

/// Any of Diga's error bodies: an app error, or FastAPI's `detail`.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum DigaAnyError {
    App(DigaErrorBody),
    Detail(DigaDetailBody),
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
    paths(healthz, readyz),
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
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
fn readyz() {}

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
    doc.tags = Some(
        [
            ("vobiz", "The Vobiz-compatible API: `/api/v1/Account/{auth_id}/…` (also `/account/`), sub-accounts, `auth/me`."),
            ("agni", "The Agni-compatible API (Ravan AI `PhoneService`) under `/api/v1/phone-numbers`."),
            ("diga", "The Diga-compatible API (Phones) under `/v1/phone`."),
            ("admin", "The operator's admin API under `/admin/v1`."),
            ("health", "Liveness and readiness."),
        ]
        .into_iter()
        .map(|(name, d)| TagBuilder::new().name(name).description(Some(d)).build())
        .collect(),
    );
    doc
}

/// The document as served and committed: pretty JSON with a trailing newline.
pub fn json() -> String {
    let mut s = serde_json::to_string_pretty(&document()).expect("the document serializes");
    s.push('\n');
    s
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
