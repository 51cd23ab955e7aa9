//! Every request kyc-core builds is an operation of the document: its method and path, its
//! path and query parameters (names and values), its headers (the bearer token exactly where the
//! document asks for security, the idempotency key where it declares one) and its body (media
//! type, and the JSON or the multipart part the schema describes).

use kyc_core::{
    AccessToken, CancelSession, CleanValidations, Company, Config, Country,
    CreateAdditionalSession, CreateKybSession, CreateSession, Credentials, Date, DocumentType,
    Endpoint, Environment, GetReport, GetSession, IdempotencyKey, OutgoingBody, Partner,
    PartnerType, PersonalData, RequestToken, RevokeToken, SearchSessions, SessionStatus, Sort,
    TermsData, UploadFile,
};
use serde_json::Value;

use crate::schema::Validator;
use crate::{document, find_operation, parameters, percent_decode};

/// A request as kyc-core builds it.
struct Wire {
    what: &'static str,
    request: http::Request<Vec<u8>>,
}

fn wire<E>(what: &'static str, config: &Config, endpoint: &E) -> Wire
where
    E: Endpoint,
{
    let token = AccessToken::new("eyJhbGciOi.test.token");
    let key = IdempotencyKey::from_random_bytes([7; 16]);
    let request = kyc_core::build_request(
        config,
        endpoint,
        E::AUTHENTICATED.then_some(&token),
        E::CREATES.then_some(&key),
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    let (parts, body) = request.into_parts();
    let body: OutgoingBody = body.into();
    let bytes = body
        .into_vec(None)
        .unwrap_or_else(|_| panic!("{what}: a body in memory"));
    Wire {
        what,
        request: http::Request::from_parts(parts, bytes),
    }
}

const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0 a tiny JPEG";
const PDF: &[u8] = b"%PDF-1.4 a tiny PDF";

fn requests(config: &Config) -> Vec<Wire> {
    let credentials = Credentials::new("client-id", "client-secret");
    let mut person = PersonalData::default();
    person.full_name = Some("Ana Souza".into());
    person.birthdate = Some("1990-01-31".into());
    person.fiscal_id = Some("123.456.789-10".into());
    let mut company = Company::new("cmp-1");
    company.fiscal_id = Some("29.086.892/0001-77".into());
    let terms = TermsData::accepted("1", "2022-05-13T19:47:13.340Z");
    let documented_kyb: Value = serde_json::from_str(include_str!(
        "../../../crates/kyc-core/tests/data/requests/documented_create_kyb.json"
    ))
    .unwrap();
    let kyb: CreateKybSession = serde_json::from_value(documented_kyb["body"].clone()).unwrap();
    let built_kyb = CreateKybSession::new(company, Country::Arg)
        .partner(
            Partner::new("usr-partner-1", PartnerType::LegalRepresentativeMain)
                .person(person.clone()),
        )
        .terms_data(terms.clone());
    let search = SearchSessions::new()
        .status(SessionStatus::Validated)
        .status(SessionStatus::NotValidated)
        .user_id("usr-1")
        .created_from(Date::new(2024, 1, 1).unwrap())
        .created_to(Date::new(2024, 12, 31).unwrap())
        .filter("country", "ARG")
        .filter("flow_type", "kyc-accounts")
        .sort(Sort::desc("created_at"))
        .sort(Sort::asc("status"))
        .page_size(50)
        .page_number(2);
    vec![
        wire(
            "token",
            config,
            &RequestToken {
                credentials: &credentials,
            },
        ),
        wire(
            "revoke",
            config,
            &RevokeToken {
                credentials: &credentials,
            },
        ),
        wire(
            "create (KYC)",
            config,
            &CreateSession::new("usr-1", Country::Bra)
                .personal_data(person.clone())
                .terms_data(terms),
        ),
        wire(
            "create (KYC, bare)",
            config,
            &CreateSession::new("usr-1", Country::Arg),
        ),
        wire("create (KYB, Pomelo's example)", config, &kyb),
        wire("create (KYB, built)", config, &built_kyb),
        wire(
            "create (additional)",
            config,
            &CreateAdditionalSession::new("cmp-1", "usr-2", Country::Bra).personal_data(person),
        ),
        wire(
            "upload",
            config,
            &UploadFile::from_bytes("iss-1", "usr-1", DocumentType::Selfie, "me.jpg", JPEG)
                .country(Country::Arg),
        ),
        wire(
            "upload (KYB)",
            config,
            &UploadFile::from_bytes("iss-2", "cmp-1", DocumentType::CompanyDocument, "", PDF)
                .kyb(true),
        ),
        wire("get", config, &GetSession::new("iss-1")),
        wire("cancel", config, &CancelSession::new("iss-1")),
        wire("report", config, &GetReport::new("iss-1")),
        wire("search", config, &search),
        wire("search (no filter)", config, &SearchSessions::new()),
        wire("clean (user)", config, &CleanValidations::user_id("usr-1")),
        wire(
            "clean (document)",
            config,
            &CleanValidations::document_number("30123456"),
        ),
    ]
}

/// `name=value` pairs of a query, values still percent-encoded.
fn query_pairs(query: &str) -> Vec<(String, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), value)
        })
        .collect()
}

/// A query value as the parameter's schema sees it: a list split at its literal commas (style
/// `form`, `explode: false`), numbers as numbers.
fn typed(validator: &Validator<'_>, schema: &Value, raw: &str) -> Value {
    let schema = validator.resolve(schema);
    let scalar = |raw: &str, schema: &Value| {
        let text = percent_decode(raw);
        match validator.resolve(schema)["type"].as_str() {
            Some("integer") => text.parse::<i64>().map_or(Value::String(text), Value::from),
            _ => Value::String(text),
        }
    };
    if schema["type"] == "array" {
        Value::Array(
            raw.split(',')
                .map(|r| scalar(r, &schema["items"]))
                .collect(),
        )
    } else {
        scalar(raw, schema)
    }
}

fn problems_of(doc: &Value, wire: &Wire) -> Vec<String> {
    let validator = Validator::lenient(doc);
    let request = &wire.request;
    let uri = request.uri();
    let Some(found) = find_operation(doc, request.method().as_str(), uri.path()) else {
        return vec![format!(
            "{} {} is no operation",
            request.method(),
            uri.path()
        )];
    };
    let mut problems = Vec::new();
    let params = parameters(doc, &found.template, found.operation);
    let declared = |location: &str, name: &str| {
        params
            .iter()
            .find(|p| {
                p["in"] == location
                    && p["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .copied()
    };
    for (name, value) in &found.path_values {
        match declared("path", name) {
            Some(p) => {
                problems.extend(validator.errors(&p["schema"], &Value::String(value.clone())))
            }
            None => problems.push(format!("path parameter {name} is not declared")),
        }
    }
    let mut sent = Vec::new();
    for (name, raw) in query_pairs(uri.query().unwrap_or_default()) {
        match declared("query", &name) {
            Some(p) => {
                let value = typed(&validator, &p["schema"], raw);
                problems.extend(
                    validator
                        .errors(&p["schema"], &value)
                        .into_iter()
                        .map(|e| format!("{name}: {e}")),
                );
            }
            None => problems.push(format!("query parameter {name} is not declared")),
        }
        sent.push(name);
    }
    let headers = request.headers();
    let secured = found.operation["security"]
        .as_array()
        .is_some_and(|s| !s.is_empty());
    if headers.contains_key("authorization") != secured {
        problems.push(format!(
            "Authorization sent: {}, security asked: {secured}",
            headers.contains_key("authorization")
        ));
    }
    if let Some(key) = headers.get("x-idempotency-key") {
        match declared("header", "x-idempotency-key") {
            Some(p) => problems.extend(validator.errors(
                &p["schema"],
                &Value::String(key.to_str().unwrap().to_owned()),
            )),
            None => problems.push("x-idempotency-key is not declared".to_owned()),
        }
    }
    let body = request.body();
    let content = &found.operation["requestBody"]["content"];
    match headers.get("content-type").map(|v| v.to_str().unwrap()) {
        None if body.is_empty() && content.is_null() => {}
        None => problems.push("a body without Content-Type, or none where one is asked".to_owned()),
        Some(content_type) => {
            let essence = content_type.split(';').next().unwrap().trim();
            let media = &content[essence];
            if media.is_null() {
                problems.push(format!("{essence} is not a media type the operation takes"));
            } else if essence == "application/json" {
                let json: Value = serde_json::from_slice(body).unwrap();
                problems.extend(validator.errors(&media["schema"], &json));
            } else {
                problems.extend(multipart_problems(&validator, media, body));
            }
        }
    }
    problems
}

/// The part kyc-core sends against the multipart schema and its encoding.
fn multipart_problems(validator: &Validator<'_>, media: &Value, body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let head = &text[..text.find("\r\n\r\n").unwrap()];
    let name = head
        .split("name=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default();
    let part_type = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .unwrap_or_default();
    let schema = validator.resolve(&media["schema"]);
    let mut problems = Vec::new();
    if schema["properties"].get(name).is_none() {
        problems.push(format!("part `{name}` is not in the schema"));
    }
    for required in schema["required"].as_array().into_iter().flatten() {
        if required != name {
            problems.push(format!("required part {required} is not sent"));
        }
    }
    let allowed = media["encoding"][name]["contentType"]
        .as_str()
        .unwrap_or_default();
    if !allowed.split(", ").any(|t| t == part_type) {
        problems.push(format!("part type {part_type} is not one of {allowed}"));
    }
    if !head.contains("filename=\"") {
        problems.push("the part has no filename".to_owned());
    }
    problems
}

#[test]
fn every_request_kyc_core_builds_is_an_operation_of_the_document_as_described() {
    let doc = document();
    let config = Config::builder(Environment::Sandbox)
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let wires = requests(&config);
    let mut reached = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for wire in &wires {
        let request = &wire.request;
        if let Some(found) = find_operation(&doc, request.method().as_str(), request.uri().path()) {
            reached.insert(found.operation["operationId"].as_str().unwrap().to_owned());
        }
        let problems = problems_of(&doc, wire);
        if !problems.is_empty() {
            failures.push(format!("{}: {problems:#?}", wire.what));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every operation of the document is one kyc-core sends.
    let operations: std::collections::BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(reached, operations);
}

#[test]
fn a_request_off_the_document_is_caught() {
    // The checks above are not vacuous: a path the document does not have, a query parameter it
    // does not declare, a body that breaks its schema.
    let doc = document();
    let singular = Config::builder(Environment::Sandbox)
        .base_url("http://127.0.0.1:9")
        .get_session_path("/identity/v1/session/{session_id}")
        .build()
        .unwrap();
    let moved = wire("get, singular", &singular, &GetSession::new("iss-1"));
    assert!(!problems_of(&doc, &moved).is_empty());
    let config = Config::builder(Environment::Sandbox)
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let odd = wire(
        "search, unknown filter",
        &config,
        &SearchSessions::new().filter("planet", "mars"),
    );
    assert_eq!(
        problems_of(&doc, &odd),
        ["query parameter filter[planet] is not declared"]
    );
    let mut bad = wire(
        "create",
        &config,
        &CreateSession::new("usr-1", Country::Arg),
    );
    *bad.request.body_mut() = br#"{"flow_type": "kyc-accounts", "country": "ARG", "integration_method": "API", "data": {"user_id": ""}}"#.to_vec();
    assert_eq!(problems_of(&doc, &bad).len(), 1);
}
