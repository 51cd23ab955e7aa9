//! docs/openapi.json, the description of Pomelo's Identity API as this project understands it,
//! held to the code that defines the wire (issue #27):
//!
//! - every path item, operation, parameter, response and member says where it comes from
//!   (`x-kyc-basis`), and every example validates against its schema;
//! - every request kyc-core builds (`kyc_core::build_request`) is an operation of the document,
//!   with its parameters, headers and body as the document describes them (`core.rs`);
//! - the simulator's answers to every operation, successes and refusals, and its webhooks are as
//!   the document describes them, member for member (`simulator.rs`), and it serves the document.
//!
//! kyc-mock's unit tests hold the document to its route table (`crates/kyc-mock/src/openapi.rs`);
//! Schemathesis checks the simulator against it from outside (`scripts/interop.sh`).

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod core;
mod schema;
mod simulator;

use serde_json::Value;

use crate::schema::Validator;

const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

fn document() -> Value {
    serde_json::from_str(kyc_mock::OPENAPI).expect("docs/openapi.json is JSON")
}

/// An operation of the document that a request's method and path reach.
struct Operation<'a> {
    /// The path template, e.g. `/identity/v1/sessions/{session_id}`.
    template: String,
    operation: &'a Value,
    /// The path's parameter values, decoded.
    path_values: Vec<(String, String)>,
}

/// The operation `method` (any case) and `path` (percent-encoded) reach, if any.
fn find_operation<'a>(doc: &'a Value, method: &str, path: &str) -> Option<Operation<'a>> {
    let method = method.to_lowercase();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for (template, item) in doc["paths"].as_object()? {
        let pattern: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut values = Vec::new();
        let fits = pattern.iter().zip(&segments).all(|(p, s)| {
            match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => {
                    values.push((name.to_owned(), percent_decode(s)));
                    !s.is_empty()
                }
                None => p == s,
            }
        });
        if let (true, Some(operation)) = (fits, item.get(&method)) {
            return Some(Operation {
                template: template.clone(),
                operation,
                path_values: values,
            });
        }
    }
    None
}

/// The parameters of an operation (its path item's, then its own), references resolved.
fn parameters<'a>(doc: &'a Value, template: &str, operation: &'a Value) -> Vec<&'a Value> {
    let validator = Validator::lenient(doc);
    let shared = doc["paths"][template]["parameters"].as_array();
    let own = operation["parameters"].as_array();
    shared
        .into_iter()
        .flatten()
        .chain(own.into_iter().flatten())
        .map(|p| validator.resolve(p))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap() * 16 + hex(l).unwrap()) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

/// What `x-kyc-basis` must say, or why it does not.
fn basis_problem(basis: &Value) -> Option<String> {
    let text = |name: &str| basis[name].as_str().filter(|t| !t.trim().is_empty());
    let source = text("source");
    match basis["basis"].as_str() {
        None => Some("no x-kyc-basis".to_owned()),
        Some("documented") if !source.is_some_and(|s| s.contains('§')) => {
            Some("documented, without the reference's section (§)".to_owned())
        }
        Some("inferred") if source.is_none() => Some("inferred, from no source".to_owned()),
        Some("choice") if text("override").is_none() => {
            Some("a choice without the override that changes it".to_owned())
        }
        Some("documented" | "inferred" | "choice") => match basis.get("decision") {
            Some(d) if !d.as_u64().is_some_and(|d| (1..=10).contains(&d)) => Some(format!(
                "decision {d} is not one of docs/wire-conventions.md's"
            )),
            _ => None,
        },
        Some(other) => Some(format!(
            "basis `{other}` is not documented, inferred or choice"
        )),
    }
}

/// Every place that must say where it comes from: path items, operations, parameters, responses,
/// headers, schemas of components and every member of every schema (`properties`), with the
/// JSON pointer it stands at.
fn marked_places(value: &Value, at: &str, kind: &str, out: &mut Vec<(String, Value)>) {
    let Some(object) = value.as_object() else {
        if let Some(items) = value.as_array() {
            for (i, item) in items.iter().enumerate() {
                let kind = if kind == "parameters" {
                    "parameter"
                } else {
                    ""
                };
                marked_places(item, &format!("{at}/{i}"), kind, out);
            }
        }
        return;
    };
    let marked = matches!(
        kind,
        "path item" | "operation" | "parameter" | "response" | "header" | "member" | "schema"
    ) && !object.contains_key("$ref");
    if marked {
        out.push((format!("{at} ({kind})"), value["x-kyc-basis"].clone()));
    }
    for (key, child) in object {
        let child_at = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
        let child_kind = match (kind, key.as_str()) {
            // Extensions; but in a map of names (headers, members), a name like `x-request-id`.
            (k, name)
                if name.starts_with("x-")
                    && !matches!(k, "headers" | "component headers" | "properties") =>
            {
                continue;
            }
            ("paths" | "webhooks", _) => "path item",
            ("path item", k) if METHODS.contains(&k) => "operation",
            ("responses", _) | ("component responses", _) => "response",
            ("properties", _) => "member",
            ("component schemas", _) => "schema",
            ("component parameters", _) => "parameter",
            ("headers", _) | ("component headers", _) => "header",
            ("components", "schemas") => "component schemas",
            ("components", "parameters") => "component parameters",
            ("components", "responses") => "component responses",
            ("components", "headers") => "component headers",
            (_, "paths" | "webhooks" | "components" | "properties" | "responses" | "headers") => {
                key
            }
            (_, "parameters") => "parameters",
            _ => "",
        };
        marked_places(child, &child_at, child_kind, out);
    }
}

#[test]
fn every_path_parameter_response_and_member_says_where_it_comes_from() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut places = Vec::new();
    marked_places(&doc, "#", "", &mut places);
    let problems: Vec<String> = places
        .iter()
        .filter_map(|(at, basis)| basis_problem(basis).map(|p| format!("{at}: {p}")))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The walk reached what it should: 9 operations, 2 webhooks, over a hundred members.
    let count = |kind: &str| places.iter().filter(|(at, _)| at.ends_with(kind)).count();
    assert_eq!(count("(operation)"), 11, "9 operations and 2 webhooks");
    assert!(count("(member)") > 150, "{} members", count("(member)"));
    assert!(
        count("(parameter)") >= 16,
        "{} parameters",
        count("(parameter)")
    );
    // Each basis is used, and every choice the reference's decisions cover names its decision.
    for basis in ["documented", "inferred", "choice"] {
        assert!(
            places.iter().any(|(_, b)| b["basis"] == basis),
            "no {basis}"
        );
    }
}

#[test]
fn every_example_of_the_document_fits_its_schema() {
    let doc = document();
    let validator = Validator::lenient(&doc);
    let mut checked = 0;
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        if let Some(example) = schema.get("example") {
            let errors = validator.errors(schema, example);
            assert!(errors.is_empty(), "{name}: {errors:#?}");
            checked += 1;
        }
    }
    assert!(checked >= 5, "{checked} examples");
    // The validator refuses what breaks a schema (it is no rubber stamp).
    let create = &doc["components"]["schemas"]["CreateKycSession"];
    let mut wrong = create["example"].clone();
    wrong["country"] = "ZZZ".into();
    wrong["data"]["surprise"] = true.into();
    assert_eq!(validator.errors(create, &wrong).len(), 2);
}

#[test]
fn the_simulator_serves_the_document_byte_for_byte() {
    let file = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json"),
    )
    .unwrap();
    assert_eq!(kyc_mock::OPENAPI, file);
    let server = kyc_mock::MockServer::start(kyc_mock::MockConfig::new()).unwrap();
    assert_eq!(
        server.openapi_url(),
        format!("{}/openapi.json", server.base_url())
    );
    let agent = simulator::agent();
    let mut response = agent.get(server.openapi_url()).call().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.body_mut().read_to_string().unwrap(), file);
    let refused = agent.post(server.openapi_url()).send(&b""[..]).unwrap();
    assert_eq!(refused.status(), 405);
    // Outside the API: not recorded, not counted.
    assert!(server.requests().is_empty());
    assert_eq!(server.stats().requests, 0);
}
