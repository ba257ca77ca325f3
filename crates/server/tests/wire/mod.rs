//! Wire fidelity: every answer of a provider face (Vobiz, Agni, Diga) that a test receives is
//! checked against the documented object — the response schema of its operation in the OpenAPI
//! document didpool publishes, made exact: every object refuses properties it does not declare
//! (`additionalProperties: false`, as the providers' own generated clients do with
//! `extra="forbid"`), and the fields the document marks required must be there. So a field
//! added to an answer without being documented, or a documented one left out, fails the test
//! that saw it, whatever that test asserts.
//!
//! An answer whose status the operation does not document is checked against the face's error
//! body (a success must be documented); routes no operation matches (unknown paths) are checked
//! against the face's error body too. The SIP edge's API (`/routing/v1`) is checked the same
//! way; the admin API is the operator's own and is not checked.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::{Map, Value};

/// Which face a path belongs to, by prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Face {
    Vobiz,
    Agni,
    Diga,
    Routing,
}

impl Face {
    fn of(path: &str) -> Option<Face> {
        if path.starts_with("/api/v1/phone-numbers") {
            Some(Face::Agni)
        } else if path.starts_with("/api/v1/") {
            Some(Face::Vobiz)
        } else if path == "/v1" || path.starts_with("/v1/") {
            Some(Face::Diga)
        } else if path.starts_with("/routing/v1/") {
            Some(Face::Routing)
        } else {
            None
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Face::Vobiz => "vobiz",
            Face::Agni => "agni",
            Face::Diga => "diga",
            Face::Routing => "routing",
        }
    }

    /// Any error body of the face.
    fn error_schema(self) -> &'static str {
        match self {
            Face::Vobiz => "VobizError",
            Face::Agni => "AgniError",
            Face::Diga => "DigaAnyError",
            Face::Routing => "AdminError",
        }
    }
}

/// One documented operation: its path template split in segments, and its responses.
struct Operation {
    method: String,
    segments: Vec<Option<String>>,
    face: Face,
    id: String,
    /// Status → the exact schema of its JSON body (`None`: documented without a body).
    responses: HashMap<String, Option<Validator>>,
}

struct Wire {
    operations: Vec<Operation>,
    errors: HashMap<&'static str, Validator>,
}

fn wire() -> &'static Wire {
    static WIRE: OnceLock<Wire> = OnceLock::new();
    WIRE.get_or_init(|| {
        let doc: Value =
            serde_json::from_str(&didpool::openapi::json()).expect("the document is JSON");
        let components = doc["components"]["schemas"]
            .as_object()
            .expect("components.schemas")
            .clone();
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let Some(face) = Face::of(path) else {
                continue;
            };
            for (method, op) in item.as_object().expect("a path item") {
                let tagged = op["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == face.tag()));
                assert!(
                    tagged,
                    "{method} {path} is under the {face:?} face's prefix"
                );
                let responses = op["responses"]
                    .as_object()
                    .expect("responses")
                    .iter()
                    .map(|(status, r)| {
                        let schema = r["content"]["application/json"]["schema"].clone();
                        let validator = (!schema.is_null()).then(|| exact(&schema, &components));
                        (status.clone(), validator)
                    })
                    .collect();
                operations.push(Operation {
                    method: method.to_uppercase(),
                    segments: segments(path)
                        .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_owned()))
                        .collect(),
                    face,
                    id: op["operationId"].as_str().unwrap_or_default().to_owned(),
                    responses,
                });
            }
        }
        let errors = [Face::Vobiz, Face::Agni, Face::Diga, Face::Routing]
            .into_iter()
            .map(|f| {
                let name = f.error_schema();
                let schema = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
                (name, exact(&schema, &components))
            })
            .collect();
        Wire { operations, errors }
    })
}

/// A path's segments, without a trailing slash (routes answer with and without one).
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_end_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
}

/// The schema with every `$ref` replaced by what it names, and every object that lists its
/// properties closed to any other.
fn exact(schema: &Value, components: &Map<String, Value>) -> Validator {
    let inlined = inline(schema, components, 0);
    jsonschema::draft202012::new(&inlined)
        .unwrap_or_else(|e| panic!("a schema of the document does not compile: {e}\n{inlined}"))
}

fn inline(schema: &Value, components: &Map<String, Value>, depth: usize) -> Value {
    assert!(depth < 32, "a schema refers to itself: {schema}");
    match schema {
        Value::Object(o) => {
            if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                let name = r
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("an unexpected reference {r}"));
                let target = components
                    .get(name)
                    .unwrap_or_else(|| panic!("{r} names no schema"));
                return inline(target, components, depth + 1);
            }
            let mut out: Map<String, Value> = o
                .iter()
                .map(|(k, v)| {
                    // `properties` maps names to schemas; every other keyword's value is a schema,
                    // a list of them, or plain data that `inline` leaves as it is.
                    let v = if k == "properties" {
                        Value::Object(
                            v.as_object()
                                .expect("properties is an object")
                                .iter()
                                .map(|(name, s)| (name.clone(), inline(s, components, depth + 1)))
                                .collect(),
                        )
                    } else {
                        inline(v, components, depth + 1)
                    };
                    (k.clone(), v)
                })
                .collect();
            if out.contains_key("properties") && !out.contains_key("additionalProperties") {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|s| inline(s, components, depth + 1))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The documented operation `method path` is, if any: literal segments beat parameters.
fn operation(method: &str, path: &str) -> Option<&'static Operation> {
    let wanted: Vec<&str> = segments(path).collect();
    wire()
        .operations
        .iter()
        .filter(|op| op.method.eq_ignore_ascii_case(method) && op.segments.len() == wanted.len())
        .filter(|op| {
            op.segments
                .iter()
                .zip(&wanted)
                .all(|(s, w)| s.as_deref().is_none_or(|s| s == *w))
        })
        .max_by_key(|op| op.segments.iter().filter(|s| s.is_some()).count())
}

fn fail(what: &str, method: &str, uri: &str, status: u16, body: &Value, errors: &[String]) -> ! {
    panic!(
        "wire fidelity: {method} {uri} answered {status} with {what}:\n  {}\nbody: {body}",
        errors.join("\n  ")
    )
}

fn validate(v: &Validator, method: &str, uri: &str, status: u16, body: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{} (at {})", e, e.instance_path()))
        .collect();
    if !errors.is_empty() {
        fail(what, method, uri, status, body, &errors);
    }
}

/// Checks one answer: `body` as the harness parsed it (`Null` when empty, a string when it was
/// not JSON). Panics, naming every difference, when it is not the documented object.
pub fn check(method: &str, uri: &str, status: u16, body: &Value) {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    let Some(face) = Face::of(path) else {
        return;
    };
    // Redirects (Diga's trailing slash) carry no body to check.
    if (300..400).contains(&status) {
        return;
    }
    let wire = wire();
    let error = &wire.errors[face.error_schema()];
    let Some(op) = operation(method, path) else {
        if status >= 400 {
            validate(
                error,
                method,
                uri,
                status,
                body,
                "an error body that is not the face's",
            );
        }
        return;
    };
    match op.responses.get(&status.to_string()) {
        Some(Some(schema)) => validate(
            schema,
            method,
            uri,
            status,
            body,
            &format!("a body that is not the one `{}` documents", op.id),
        ),
        Some(None) if body.is_null() => {}
        Some(None) => fail(
            &format!("a body `{}` documents none for", op.id),
            method,
            uri,
            status,
            body,
            &[],
        ),
        None if status >= 400 => validate(
            error,
            method,
            uri,
            status,
            body,
            &format!(
                "an undocumented error of `{}` that is not the face's",
                op.id
            ),
        ),
        None => fail(
            &format!("a status `{}` does not document", op.id),
            method,
            uri,
            status,
            body,
            &[],
        ),
    }
}
